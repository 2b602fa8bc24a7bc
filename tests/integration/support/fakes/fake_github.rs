//! A fake GitHub for tests: an axum server on 127.0.0.1 holding a state model (repositories,
//! files at a SHA, branch tips, pull requests, comments, reactions, statuses, review requests,
//! reviews, teams and their memberships, collaborator permissions) behind a mutex,
//! after rust-lang/bors' GitHub mock. It checks what GitHub checks (App JWT against the public
//! key, installation tokens, comment and status limits, pagination, the tarball redirect to a
//! second "codeload" listener that must not receive the token) and can inject faults. It keeps
//! GitHub's documented caps (a pull request's commit listing stops at 250 commits; comparing two
//! commits lists 250 unless paged), hides teams the installation may not see behind the same
//! 404 as missing ones, and can make a listing endless (every page links a next one), so that a
//! client's page cap is reached without thousands of items.
//! Test support only: it never talks to the real GitHub.
#![allow(dead_code, reason = "shared test support: each test uses a part of it")]

mod codec;
use super::fake_http;
mod routes;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

/// The fake App's key pair (test-only keys, see tests/fixtures/keys/README.md).
pub const PRIVATE_KEY_PEM: &str = include_str!("../../../fixtures/keys/test-app.private-key.pem");
pub const PUBLIC_KEY_PEM: &str = include_str!("../../../fixtures/keys/test-app.public-key.pem");
/// An unrelated key: JWTs signed with it are refused.
pub const OTHER_PRIVATE_KEY_PEM: &str =
    include_str!("../../../fixtures/keys/other-app.private-key.pem");

pub const APP_ID: u64 = 4242;
pub const APP_SLUG: &str = "iamgate";
/// The account id the fake gives `login` (GitHub ids are per account; names are
/// case-insensitive): the same in webhook payloads and API answers, distinct per login.
pub fn user_id(login: &str) -> u64 {
    // FNV-1a of the lower-cased login, kept positive and below 2^31 like real ids.
    let hash = login
        .to_ascii_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    hash % 2_000_000_000 + 1
}

/// The installation every fake knows.
pub const INSTALLATION_ID: u64 = 1;

/// Where a pull request's head commit lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadRepo {
    /// The base repository itself.
    Same,
    /// A fork, `owner/name`.
    Fork(String),
    /// A fork that was deleted: GitHub reports `head.repo: null`.
    Deleted,
}

/// A pull request to create. `PrSpec::new(head, base)` then the builder methods, or a literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrSpec {
    pub head: String,
    pub base: String,
    pub base_ref: String,
    pub author: String,
    pub head_repo: HeadRepo,
    pub draft: bool,
    pub open: bool,
}

impl PrSpec {
    pub fn new(head: &str, base: &str) -> Self {
        PrSpec {
            head: head.to_owned(),
            base: base.to_owned(),
            base_ref: "main".to_owned(),
            author: "dev".to_owned(),
            head_repo: HeadRepo::Same,
            draft: false,
            open: true,
        }
    }
    pub fn base_ref(mut self, name: &str) -> Self {
        self.base_ref = name.to_owned();
        self
    }
    pub fn author(mut self, login: &str) -> Self {
        self.author = login.to_owned();
        self
    }
    pub fn fork(mut self, repo: &str) -> Self {
        self.head_repo = HeadRepo::Fork(repo.to_owned());
        self
    }
    pub fn deleted_fork(mut self) -> Self {
        self.head_repo = HeadRepo::Deleted;
        self
    }
    pub fn draft(mut self) -> Self {
        self.draft = true;
        self
    }
    pub fn closed(mut self) -> Self {
        self.open = false;
        self
    }
}

/// One entry of a pull request's file list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    pub filename: String,
    pub previous_filename: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    pub id: u64,
    pub author: String,
    /// `Bot` for the App's comments, `User` for people.
    pub author_type: String,
    pub body: String,
    /// When it was made, RFC 3339.
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStatus {
    pub state: String,
    pub context: String,
    pub description: String,
    pub target_url: Option<String>,
    pub creator: String,
}

/// A review as stored. GitHub lists reviews oldest first and hides `PENDING` ones from everyone
/// but their author (never the App).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeReview {
    pub id: u64,
    pub login: String,
    /// Upper case, as the REST API writes it: `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`,
    /// `DISMISSED`, `PENDING`.
    pub state: String,
    pub commit_id: String,
    pub submitted_at: std::time::SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeReaction {
    pub id: u64,
    pub comment_id: u64,
    /// GitHub's `content`: `+1`, `-1`, `laugh`, `confused`, `heart`, `hooray`, `rocket`, `eyes`.
    pub content: String,
    pub user: String,
}

/// The reaction contents GitHub accepts.
pub const REACTION_CONTENTS: [&str; 8] = [
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewRequests {
    pub users: Vec<String>,
    pub teams: Vec<String>,
}

/// Which listener served a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Api,
    Codeload,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub host: Host,
    pub method: String,
    /// Path (API prefix removed) and query.
    pub path: String,
    pub status: u16,
    pub had_authorization: bool,
}

/// A failure to inject with [`FakeGitHub::fail_next`](fake_http::FakeServer::fail_next).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Error500,
    Error502,
    /// The request is applied, then answered 502: the caller cannot know it worked.
    Error502AfterApplying,
    /// 403 with `retry-after: 1` and GitHub's secondary-limit message.
    SecondaryRateLimit,
    /// 403 with `x-ratelimit-remaining: 0` and a reset this many seconds ahead.
    PrimaryRateLimit {
        reset_in_secs: u64,
    },
}

#[derive(Debug, Default)]
struct Repo {
    files: HashMap<String, BTreeMap<String, Vec<u8>>>,
    /// Symbolic links among `files`, per commit.
    links: HashMap<String, BTreeSet<String>>,
    known_shas: HashSet<String>,
    pulls: BTreeMap<u64, Pull>,
    comments: Vec<StoredComment>,
    reactions: Vec<FakeReaction>,
    statuses: HashMap<String, Vec<FakeStatus>>,
    collaborators: HashSet<String>,
    /// Lower-cased login → GitHub role (`admin`, `maintain`, `write`, `triage`, `read`).
    permissions: HashMap<String, String>,
    /// Branches a test set explicitly: name → tip, `None` for a branch deleted with
    /// [`FakeGitHub::delete_branch`]. Other branches follow the open pull requests
    /// ([`Repo::branch_tip`]).
    branches: BTreeMap<String, Option<String>>,
}

impl Repo {
    /// The commit branch `name` points at: the tip set with [`FakeGitHub::branch`] if any (none
    /// after [`FakeGitHub::delete_branch`]), else the base SHA of the most recently created open
    /// pull request whose base ref is `name`, else none (404).
    fn branch_tip(&self, name: &str) -> Option<String> {
        if let Some(explicit) = self.branches.get(name) {
            return explicit.clone();
        }
        self.pulls
            .values()
            .filter(|p| p.spec.open && p.spec.base_ref == name)
            .max_by_key(|p| p.created)
            .map(|p| p.spec.base.clone())
    }
}

#[derive(Debug, Clone)]
struct Pull {
    spec: PrSpec,
    /// Creation order ([`FakeGitHub::pr`] calls): GitHub lists pull requests newest first.
    created: u64,
    files: Vec<ChangedFile>,
    review_requests: ReviewRequests,
    reviews: Vec<FakeReview>,
    /// The accounts linked to each commit: (author, committer); the opener's one commit when
    /// nobody pushed more.
    commits: Vec<(String, String)>,
}

/// A team's people; logins compare case-insensitively, as on GitHub.
#[derive(Debug, Clone, Default)]
struct Team {
    active: Vec<String>,
    /// Invited, not yet accepted: GitHub answers `state: pending`.
    pending: Vec<String>,
    /// The team exists but GitHub does not show it to the App's installation (a secret team,
    /// or an organization the App's access does not reach): every question about it, its
    /// members included, answers 404 as for a team that does not exist.
    hidden: bool,
}

impl Team {
    fn state_of(&self, login: &str) -> Option<&'static str> {
        let has = |list: &[String]| list.iter().any(|m| m.eq_ignore_ascii_case(login));
        if has(&self.active) {
            Some("active")
        } else if has(&self.pending) {
            Some("pending")
        } else {
            None
        }
    }
}

#[derive(Debug)]
struct StoredComment {
    issue: u64,
    comment: FakeComment,
}

#[derive(Debug)]
struct Token {
    installation: u64,
    expires_at: std::time::SystemTime,
}

#[derive(Debug)]
pub struct State {
    api_url: String,
    prefix: String,
    codeload_url: String,
    installations: HashSet<u64>,
    tokens: HashMap<String, Token>,
    token_lifetime: Duration,
    tickets: HashMap<String, (String, String)>,
    repos: BTreeMap<String, Repo>,
    teams: BTreeMap<(String, String), Team>,
    /// Whether the App was granted organization Members: read (team memberships need it).
    members_permission: bool,
    /// API paths (without query) whose listings never end: every page links a next one, as if
    /// the listing were longer than any page cap.
    endless: HashSet<String>,
    next_id: u64,
    /// Counts [`FakeGitHub::pr`] calls (apart from `next_id`, so that ids stay as they were).
    pulls_created: u64,
    faults: fake_http::Faults<Fault>,
    log: Vec<RequestRecord>,
}

impl State {
    fn repo(&mut self, name: &str) -> &mut Repo {
        self.repos.entry(name.to_owned()).or_default()
    }

    fn pull(&mut self, repo: &str, number: u64) -> &mut Pull {
        match self.repo(repo).pulls.get_mut(&number) {
            Some(pull) => pull,
            None => panic!("fake GitHub: no pull request {repo}#{number}; create it with pr()"),
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

impl fake_http::Commits for State {
    fn files_at(&mut self, repo: &str, sha: &str) -> &mut BTreeMap<String, Vec<u8>> {
        let repo = self.repo(repo);
        repo.known_shas.insert(sha.to_owned());
        repo.files.entry(sha.to_owned()).or_default()
    }
    fn links_at(&mut self, repo: &str, sha: &str) -> &mut BTreeSet<String> {
        self.repo(repo).links.entry(sha.to_owned()).or_default()
    }
}

fake_http::fake_state!(State, Fault, RequestRecord);

type Shared = fake_http::Shared<State>;

pub type FakeGitHub = fake_http::FakeServer<State>;

impl FakeGitHub {
    /// A fake at `http://127.0.0.1:PORT` (like api.github.com).
    pub async fn start() -> Self {
        Self::start_with_prefix("").await
    }

    /// A fake at `http://127.0.0.1:PORT/api/v3` (like GitHub Enterprise Server).
    pub async fn start_enterprise() -> Self {
        Self::start_with_prefix("/api/v3").await
    }

    async fn start_with_prefix(prefix: &str) -> Self {
        let state = |[api_url, codeload_url]: [String; 2]| State {
            api_url: format!("{api_url}{prefix}"),
            prefix: prefix.to_owned(),
            codeload_url,
            installations: HashSet::from([INSTALLATION_ID]),
            tokens: HashMap::new(),
            token_lifetime: Duration::from_secs(3600),
            tickets: HashMap::new(),
            repos: BTreeMap::new(),
            teams: BTreeMap::new(),
            members_permission: true,
            endless: HashSet::new(),
            next_id: 1000,
            pulls_created: 0,
            faults: fake_http::Faults::default(),
            log: Vec::new(),
        };
        let routers = [routes::api_router, routes::codeload_router];
        Self::serve("fake GitHub", state, routers).await
    }

    /// The API base URL, to use as `api_url`.
    pub fn url(&self) -> String {
        self.lock().api_url.clone()
    }
    pub fn codeload_url(&self) -> String {
        self.lock().codeload_url.clone()
    }
    pub fn app_id(&self) -> u64 {
        APP_ID
    }
    pub fn private_key_pem(&self) -> Vec<u8> {
        PRIVATE_KEY_PEM.as_bytes().to_vec()
    }
    pub fn app_slug(&self) -> &'static str {
        APP_SLUG
    }
    /// The login the App comments as.
    pub fn bot_login(&self) -> String {
        format!("{APP_SLUG}[bot]")
    }
    pub fn installation_id(&self) -> u64 {
        INSTALLATION_ID
    }

    // ---- builders ----

    pub fn installation(&self, id: u64) -> &Self {
        self.lock().installations.insert(id);
        self
    }
    /// How long minted tokens live (default one hour).
    pub fn token_lifetime(&self, lifetime: Duration) -> &Self {
        self.lock().token_lifetime = lifetime;
        self
    }
    /// Makes every issued token invalid (GitHub answers 401 until a new one is minted).
    pub fn revoke_tokens(&self) -> &Self {
        self.lock().tokens.clear();
        self
    }
    pub fn repo(&self, repo: &str) -> &Self {
        self.lock().repo(repo);
        self
    }
    /// A pull request (replacing one with that number). Until a test sets its base branch with
    /// [`FakeGitHub::branch`], the branch points at the base SHA of its most recently created
    /// open pull request.
    pub fn pr(&self, repo: &str, number: u64, spec: PrSpec) -> &Self {
        let mut state = self.lock();
        state.pulls_created += 1;
        let created = state.pulls_created;
        let repo = state.repo(repo);
        repo.known_shas
            .extend([spec.head.clone(), spec.base.clone()]);
        repo.pulls.insert(
            number,
            Pull {
                commits: vec![(spec.author.clone(), spec.author.clone())],
                spec,
                created,
                files: Vec::new(),
                review_requests: ReviewRequests::default(),
                reviews: Vec::new(),
            },
        );
        self
    }
    /// Points branch `name` at `sha` (`GET /repos/{repo}/git/ref/heads/{name}`), whatever the
    /// pull requests say.
    pub fn branch(&self, repo: &str, name: &str, sha: &str) -> &Self {
        let mut state = self.lock();
        let repo = state.repo(repo);
        repo.known_shas.insert(sha.to_owned());
        repo.branches.insert(name.to_owned(), Some(sha.to_owned()));
        self
    }
    /// Deletes branch `name`: its ref answers 404 even while pull requests target it.
    pub fn delete_branch(&self, repo: &str, name: &str) -> &Self {
        self.lock()
            .repo(repo)
            .branches
            .insert(name.to_owned(), None);
        self
    }
    /// Sets the files a pull request changes (added or modified).
    pub fn pr_files<P: Into<String>>(
        &self,
        repo: &str,
        number: u64,
        paths: impl IntoIterator<Item = P>,
    ) -> &Self {
        let files = paths
            .into_iter()
            .map(|p| ChangedFile {
                filename: p.into(),
                previous_filename: None,
            })
            .collect();
        self.lock().pull(repo, number).files = files;
        self
    }
    pub fn pr_rename(&self, repo: &str, number: u64, from: &str, to: &str) -> &Self {
        let file = ChangedFile {
            filename: to.to_owned(),
            previous_filename: Some(from.to_owned()),
        };
        self.lock().pull(repo, number).files.push(file);
        self
    }
    pub fn push(&self, repo: &str, number: u64, new_head: &str) -> &Self {
        let mut state = self.lock();
        state.repo(repo).known_shas.insert(new_head.to_owned());
        state.pull(repo, number).spec.head = new_head.to_owned();
        self
    }
    /// A commit authored and committed by `login` is added to PR `number` (with [`Self::push`]).
    pub fn commit_by(&self, repo: &str, number: u64, login: &str) -> &Self {
        self.commits_by(repo, number, [login])
    }
    /// A commit per login, in order, authored and committed by it, added to PR `number`.
    pub fn commits_by<L: AsRef<str>>(
        &self,
        repo: &str,
        number: u64,
        logins: impl IntoIterator<Item = L>,
    ) -> &Self {
        let mut state = self.lock();
        let commits = &mut state.pull(repo, number).commits;
        for login in logins {
            let login = login.as_ref().to_owned();
            commits.push((login.clone(), login));
        }
        self
    }
    /// Changes a pull request (close, mark ready, retarget, ...).
    pub fn update_pr(&self, repo: &str, number: u64, change: impl FnOnce(&mut PrSpec)) -> &Self {
        let mut state = self.lock();
        change(&mut state.pull(repo, number).spec);
        let spec = state.pull(repo, number).spec.clone();
        state.repo(repo).known_shas.extend([spec.head, spec.base]);
        self
    }
    /// A user who can be asked to review (write access).
    pub fn collaborator(&self, repo: &str, login: &str) -> &Self {
        self.permission(repo, login, "write")
    }
    /// A collaborator with a GitHub role: `admin`, `maintain`, `write`, `triage` or `read`.
    pub fn permission(&self, repo: &str, login: &str, role: &str) -> &Self {
        assert!(
            ["admin", "maintain", "write", "triage", "read"].contains(&role),
            "fake GitHub: unknown role {role:?}"
        );
        let mut state = self.lock();
        let repo = state.repo(repo);
        repo.collaborators.insert(login.to_owned());
        repo.permissions
            .insert(login.to_ascii_lowercase(), role.to_owned());
        self
    }
    pub fn has_team(&self, org: &str, slug: &str) -> bool {
        self.lock()
            .teams
            .contains_key(&(org.to_owned(), slug.to_owned()))
    }
    /// A team and its active members (replaces an existing team of that name).
    pub fn team(&self, org: &str, slug: &str, members: &[&str]) -> &Self {
        let team = Team {
            active: members.iter().map(|m| (*m).to_owned()).collect(),
            pending: Vec::new(),
            hidden: false,
        };
        self.lock()
            .teams
            .insert((org.to_owned(), slug.to_owned()), team);
        self
    }
    /// A team with members that GitHub does not show the App's installation (a secret team):
    /// it and its memberships answer 404, as if it did not exist.
    pub fn hidden_team(&self, org: &str, slug: &str, members: &[&str]) -> &Self {
        self.team(org, slug, members)
            .team_mut(org, slug, |team| team.hidden = true)
    }
    fn team_mut(&self, org: &str, slug: &str, change: impl FnOnce(&mut Team)) -> &Self {
        let mut state = self.lock();
        let Some(team) = state.teams.get_mut(&(org.to_owned(), slug.to_owned())) else {
            panic!("fake GitHub: no team {org}/{slug}; create it with team()");
        };
        change(team);
        self
    }
    /// Adds an active member to an existing team (a pending invitation becomes active).
    pub fn add_team_member(&self, org: &str, slug: &str, login: &str) -> &Self {
        self.team_mut(org, slug, |team| {
            team.pending.retain(|m| !m.eq_ignore_ascii_case(login));
            if team.state_of(login).is_none() {
                team.active.push(login.to_owned());
            }
        })
    }
    /// Invites a user to an existing team: GitHub reports the membership as `pending`.
    pub fn pending_team_member(&self, org: &str, slug: &str, login: &str) -> &Self {
        self.team_mut(org, slug, |team| {
            if team.state_of(login).is_none() {
                team.pending.push(login.to_owned());
            }
        })
    }
    /// Removes a user (active or pending) from a team.
    pub fn remove_team_member(&self, org: &str, slug: &str, login: &str) -> &Self {
        self.team_mut(org, slug, |team| {
            team.active.retain(|m| !m.eq_ignore_ascii_case(login));
            team.pending.retain(|m| !m.eq_ignore_ascii_case(login));
        })
    }
    /// The App lacks organization Members: read; teams and team memberships answer 403.
    pub fn without_members_permission(&self) -> &Self {
        self.lock().members_permission = false;
        self
    }
    /// A review submitted on a pull request; returns its id. `state` as the REST API writes it
    /// (`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `PENDING`; any case), `commit_id` the SHA
    /// reviewed.
    pub fn review(
        &self,
        repo: &str,
        number: u64,
        login: &str,
        state: &str,
        commit_id: &str,
    ) -> u64 {
        let state = state.to_ascii_uppercase();
        assert!(
            ["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "PENDING"].contains(&state.as_str()),
            "fake GitHub: a review is submitted as APPROVED, CHANGES_REQUESTED, COMMENTED or PENDING, not {state:?}"
        );
        let mut guard = self.lock();
        let id = guard.next_id();
        guard.repo(repo).known_shas.insert(commit_id.to_owned());
        guard.pull(repo, number).reviews.push(FakeReview {
            id,
            login: login.to_owned(),
            state,
            commit_id: commit_id.to_owned(),
            submitted_at: std::time::SystemTime::now(),
        });
        id
    }
    /// Dismisses a review (as a maintainer would): its state becomes `DISMISSED`.
    pub fn dismiss_review(&self, repo: &str, number: u64, review_id: u64) -> &Self {
        let mut state = self.lock();
        let Some(review) = state
            .pull(repo, number)
            .reviews
            .iter_mut()
            .find(|r| r.id == review_id)
        else {
            panic!("fake GitHub: no review {review_id} on {repo}#{number}");
        };
        assert_ne!(
            review.state, "PENDING",
            "fake GitHub: a pending review cannot be dismissed"
        );
        review.state = "DISMISSED".to_owned();
        self
    }
    pub fn add_user_comment(&self, repo: &str, number: u64, login: &str, body: &str) -> u64 {
        self.add_user_comment_at(repo, number, login, body, fake_http::now_ms_timestamp())
    }
    /// A person's comment made (and last updated) at `created_at`, RFC 3339.
    pub fn add_user_comment_at(
        &self,
        repo: &str,
        number: u64,
        login: &str,
        body: &str,
        created_at: String,
    ) -> u64 {
        let mut state = self.lock();
        let id = state.next_id();
        let comment = FakeComment {
            id,
            author: login.to_owned(),
            author_type: "User".to_owned(),
            body: body.to_owned(),
            created_at,
        };
        state.repo(repo).comments.push(StoredComment {
            issue: number,
            comment,
        });
        id
    }
    /// The listing at API path `path` (no query, e.g. `/repos/acme/infra/issues/7/comments`)
    /// never ends: each of its pages links a next one, past the items too, as a listing longer
    /// than any client's page cap would.
    pub fn endless_listing(&self, path: &str) -> &Self {
        self.lock().endless.insert(path.to_owned());
        self
    }
    /// Comment `id` now reads `body` (an edit; no event delivered).
    pub fn edit_comment(&self, repo: &str, id: u64, body: &str) -> &Self {
        let mut state = self.lock();
        let stored = state
            .repo(repo)
            .comments
            .iter_mut()
            .find(|c| c.comment.id == id)
            .unwrap_or_else(|| panic!("fake GitHub: no comment {id}"));
        stored.comment.body = body.to_owned();
        self
    }
    /// Comment `id` is deleted (no event delivered).
    pub fn delete_comment(&self, repo: &str, id: u64) -> &Self {
        self.lock()
            .repo(repo)
            .comments
            .retain(|c| c.comment.id != id);
        self
    }

    // ---- inspection ----

    /// The commit branch `name` points at now, as `GET .../git/ref/heads/{name}` answers it.
    pub fn branch_tip(&self, repo: &str, name: &str) -> Option<String> {
        self.lock().repos.get(repo).and_then(|r| r.branch_tip(name))
    }
    /// A pull request as it stands now (head, base, fork, ...).
    pub fn pull(&self, repo: &str, number: u64) -> PrSpec {
        self.lock().pull(repo, number).spec.clone()
    }

    pub fn comments(&self, repo: &str, number: u64) -> Vec<FakeComment> {
        let state = self.lock();
        let Some(repo) = state.repos.get(repo) else {
            return Vec::new();
        };
        repo.comments
            .iter()
            .filter(|c| c.issue == number)
            .map(|c| c.comment.clone())
            .collect()
    }
    /// Every status posted on a commit, oldest first.
    pub fn statuses(&self, repo: &str, sha: &str) -> Vec<FakeStatus> {
        let state = self.lock();
        state
            .repos
            .get(repo)
            .and_then(|r| r.statuses.get(sha))
            .cloned()
            .unwrap_or_default()
    }
    /// The newest status with context `iamgate` on a commit.
    pub fn latest_status(&self, repo: &str, sha: &str) -> Option<FakeStatus> {
        self.statuses(repo, sha)
            .into_iter()
            .rev()
            .find(|s| s.context == "iamgate")
    }
    pub fn review_requests(&self, repo: &str, number: u64) -> ReviewRequests {
        self.lock().pull(repo, number).review_requests.clone()
    }
    /// Every review of a pull request, oldest first, pending ones included.
    pub fn reviews(&self, repo: &str, number: u64) -> Vec<FakeReview> {
        self.lock().pull(repo, number).reviews.clone()
    }
    pub fn reactions(&self, repo: &str, comment_id: u64) -> Vec<FakeReaction> {
        let state = self.lock();
        state.repos.get(repo).map_or_else(Vec::new, |r| {
            r.reactions
                .iter()
                .filter(|x| x.comment_id == comment_id)
                .cloned()
                .collect()
        })
    }
    pub fn tokens_minted(&self) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|r| {
                r.method == "POST" && r.path.starts_with("/app/installations/") && r.status == 201
            })
            .count()
    }
}
