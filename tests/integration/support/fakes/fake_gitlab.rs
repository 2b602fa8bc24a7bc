//! A fake GitLab for tests: an axum server on 127.0.0.1 serving `/api/v4` from a state model
//! (users, projects by path and id, files per SHA and archives built from them, branch tips,
//! merge requests with head/base/author/state/source project, diffs, notes with author and system flag, award
//! emoji, pipelines and commit statuses, approvals, groups and project members with access
//! levels and states) behind a mutex, after the fake GitHub. It checks what GitLab checks (the
//! `PRIVATE-TOKEN`, note and status limits, status transitions, one award per user and name),
//! paginates like GitLab (`per_page` ≤ 100, `x-next-page`), and can inject faults.
//! Test support only: it never talks to a real GitLab.
#![allow(dead_code, reason = "shared test support: each test uses a part of it")]

use super::fake_http;
mod routes;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;
use std::time::SystemTime;

/// The token the fake's bot user (`iamgate-bot`) authenticates with.
pub const TOKEN: &str = "glpat-fake-iamgate-token";
pub const BOT_USERNAME: &str = "iamgate-bot";
/// GitLab's note limit.
pub const NOTE_LIMIT: usize = 1_000_000;
/// The status description limit the fake enforces.
pub const STATUS_DESCRIPTION_LIMIT: usize = 255;
/// The award emoji names the fake knows.
pub const EMOJI: [&str; 6] = [
    "eyes",
    "thumbsup",
    "thumbsdown",
    "confused",
    "tada",
    "rocket",
];

/// A merge request to create: `MrSpec::new(head, base)` then the builder methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrSpec {
    pub head: String,
    /// The target branch's tip when the diff was made (`diff_refs.start_sha`).
    pub base: String,
    /// The merge base (`diff_refs.base_sha`); the base when `None`.
    pub merge_base: Option<String>,
    pub target_branch: String,
    pub source_branch: String,
    pub author: String,
    /// The source project's path when it is a fork.
    pub source_project: Option<String>,
    /// `opened`, `closed`, `merged`, `locked`.
    pub state: String,
    pub draft: bool,
}

impl MrSpec {
    pub fn new(head: &str, base: &str) -> Self {
        MrSpec {
            head: head.to_owned(),
            base: base.to_owned(),
            merge_base: None,
            target_branch: "main".to_owned(),
            source_branch: "feature".to_owned(),
            author: "dev".to_owned(),
            source_project: None,
            state: "opened".to_owned(),
            draft: false,
        }
    }
    pub fn author(mut self, username: &str) -> Self {
        self.author = username.to_owned();
        self
    }
    pub fn target_branch(mut self, name: &str) -> Self {
        self.target_branch = name.to_owned();
        self
    }
    pub fn merge_base(mut self, sha: &str) -> Self {
        self.merge_base = Some(sha.to_owned());
        self
    }
    /// The MR comes from a fork at `project` (created if missing).
    pub fn fork(mut self, project: &str) -> Self {
        self.source_project = Some(project.to_owned());
        self
    }
    pub fn draft(mut self) -> Self {
        self.draft = true;
        self
    }
    pub fn state(mut self, state: &str) -> Self {
        self.state = state.to_owned();
        self
    }
}

/// One entry of an MR's diffs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeDiff {
    pub old_path: String,
    pub new_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeNote {
    pub id: u64,
    pub author: String,
    pub body: String,
    pub system: bool,
    /// Visible to project members only.
    pub internal: bool,
    /// When it was made, RFC 3339.
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeAward {
    pub id: u64,
    pub note_id: u64,
    pub name: String,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStatus {
    pub id: u64,
    pub state: String,
    pub name: String,
    pub description: String,
    pub target_url: Option<String>,
    pub pipeline_id: Option<u64>,
    pub git_ref: Option<String>,
    pub author: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path (`/api/v4` removed, percent-encoding kept) and query.
    pub path: String,
    pub status: u16,
    pub had_token: bool,
}

/// A failure to inject with [`FakeGitLab::fail_next`](fake_http::FakeServer::fail_next).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Error500,
    Error502,
    /// The request is applied, then answered 502: the caller cannot know it worked.
    Error502AfterApplying,
    /// 429 with `Retry-After` and `RateLimit-*` headers.
    RateLimited {
        retry_after_secs: u64,
    },
    /// 429 with `RateLimit-Reset` only, this many seconds ahead.
    RateLimitedUntilReset {
        reset_in_secs: u64,
    },
}

#[derive(Debug, Clone)]
struct User {
    id: u64,
    username: String,
    /// `active`, `blocked`, `deactivated`.
    state: String,
    bot: bool,
}

#[derive(Debug, Clone)]
struct Member {
    access_level: u32,
    /// `active` or `awaiting`.
    membership_state: String,
}

#[derive(Debug, Default)]
struct Project {
    id: u64,
    path: String,
    files: HashMap<String, BTreeMap<String, Vec<u8>>>,
    /// Symbolic links among `files`, per commit.
    links: HashMap<String, BTreeSet<String>>,
    mrs: BTreeMap<u64, Mr>,
    statuses: HashMap<String, Vec<FakeStatus>>,
    /// (id, sha, ref)
    pipelines: Vec<(u64, String, String)>,
    /// Merged-results and merge-train pipelines: pipeline id → the merge request head they
    /// were made from (GitLab's `source_sha`).
    merge_sources: HashMap<u64, String>,
    /// Protected branches: name → the users allowed to push or merge to it.
    protected: HashMap<String, Vec<u64>>,
    members: HashMap<u64, Member>,
    /// Branches a test set explicitly: name → tip, `None` for a branch deleted with
    /// [`FakeGitLab::delete_branch`]. Other branches follow the opened merge requests
    /// ([`Project::branch_tip`]).
    branches: BTreeMap<String, Option<String>>,
}

impl Project {
    /// The commit branch `name` points at: the tip set with [`FakeGitLab::branch`] if any (none
    /// after [`FakeGitLab::delete_branch`]), else the `base` (`diff_refs.start_sha`) of the most
    /// recently created opened merge request that targets `name`, else none (404).
    fn branch_tip(&self, name: &str) -> Option<String> {
        if let Some(explicit) = self.branches.get(name) {
            return explicit.clone();
        }
        self.mrs
            .values()
            .filter(|mr| mr.spec.state == "opened" && mr.spec.target_branch == name)
            .max_by_key(|mr| mr.id)
            .map(|mr| mr.spec.base.clone())
    }
}

/// The branch the fake reports as the project's default (`"default": true`).
pub const DEFAULT_BRANCH: &str = "main";

#[derive(Debug, Clone)]
struct Mr {
    /// Global and increasing: also the creation order (GitLab lists newest first).
    id: u64,
    spec: MrSpec,
    diffs: Vec<FakeDiff>,
    /// The diff went over the limits: `changes_count` gets a `+` and only this many are listed.
    overflow_at: Option<usize>,
    /// GitLab has not computed the diff yet (`changes_count` and `diff_refs` null).
    diff_pending: bool,
    /// The diff is pending for this many more reads of the merge request, then computed.
    diff_pending_reads: usize,
    notes: Vec<FakeNote>,
    awards: Vec<FakeAward>,
    reviewers: Vec<u64>,
    /// (user id, approved at)
    approvals: Vec<(u64, SystemTime)>,
}

#[derive(Debug, Default)]
struct Group {
    id: u64,
    members: HashMap<u64, Member>,
}

#[derive(Debug)]
pub struct State {
    url: String,
    tokens: HashMap<String, u64>,
    users: Vec<User>,
    projects: BTreeMap<String, Project>,
    groups: BTreeMap<String, Group>,
    /// Answers 404 on `/diffs` (GitLab before 15.7).
    legacy_diffs: bool,
    /// GitLab Free: a merge request keeps one reviewer, the first of `reviewer_ids`.
    free_tier: bool,
    next_id: u64,
    faults: fake_http::Faults<Fault>,
    log: Vec<RequestRecord>,
}

impl State {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn user_id(&mut self, username: &str) -> u64 {
        if let Some(user) = self
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
        {
            return user.id;
        }
        let id = self.next_id();
        self.users.push(User {
            id,
            username: username.to_owned(),
            state: "active".to_owned(),
            bot: false,
        });
        id
    }

    fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The username of user `id` (empty if there is none).
    fn username(&self, id: u64) -> String {
        self.user(id)
            .map(|u| u.username.clone())
            .unwrap_or_default()
    }

    fn project(&mut self, path: &str) -> &mut Project {
        let next_id = &mut self.next_id;
        self.projects.entry(path.to_owned()).or_insert_with(|| {
            *next_id += 1;
            let (id, path) = (*next_id, path.to_owned());
            Project {
                id,
                path,
                ..Project::default()
            }
        })
    }

    fn mr(&mut self, project: &str, iid: u64) -> &mut Mr {
        match self.project(project).mrs.get_mut(&iid) {
            Some(mr) => mr,
            None => panic!("fake GitLab: no merge request {project}!{iid}; create it with mr()"),
        }
    }

    fn group(&mut self, path: &str) -> &mut Group {
        let next_id = &mut self.next_id;
        self.groups.entry(path.to_owned()).or_insert_with(|| {
            *next_id += 1;
            let (id, members) = (*next_id, HashMap::new());
            Group { id, members }
        })
    }
}

impl fake_http::Commits for State {
    fn files_at(&mut self, project: &str, sha: &str) -> &mut BTreeMap<String, Vec<u8>> {
        let project = self.project(project);
        project.files.entry(sha.to_owned()).or_default()
    }
    fn links_at(&mut self, project: &str, sha: &str) -> &mut BTreeSet<String> {
        self.project(project)
            .links
            .entry(sha.to_owned())
            .or_default()
    }
}

fake_http::fake_state!(State, Fault, RequestRecord);

type Shared = fake_http::Shared<State>;

pub type FakeGitLab = fake_http::FakeServer<State>;

impl FakeGitLab {
    /// A fake instance at `http://127.0.0.1:PORT` (API under `/api/v4`) with the bot user.
    pub async fn start() -> Self {
        let state = |[url]: [String; 1]| {
            let mut state = State {
                url,
                tokens: HashMap::new(),
                users: Vec::new(),
                projects: BTreeMap::new(),
                groups: BTreeMap::new(),
                legacy_diffs: false,
                free_tier: false,
                next_id: 100,
                faults: fake_http::Faults::default(),
                log: Vec::new(),
            };
            let bot = state.user_id(BOT_USERNAME);
            state.tokens.insert(TOKEN.to_owned(), bot);
            state
        };
        Self::serve("fake GitLab", state, [routes::router]).await
    }

    /// The instance URL, to use as `[gitlab] url`.
    pub fn url(&self) -> String {
        self.lock().url.clone()
    }
    pub fn token(&self) -> &'static str {
        TOKEN
    }
    pub fn bot_username(&self) -> &'static str {
        BOT_USERNAME
    }

    // ---- builders ----

    /// A user (created active if new); returns the id.
    pub fn user(&self, username: &str) -> u64 {
        self.lock().user_id(username)
    }
    /// Renames a user (their id, memberships and approvals stay theirs); the old name is then
    /// free for another account. Notes keep the name they were written under.
    pub fn rename_user(&self, username: &str, new_name: &str) -> &Self {
        let mut guard = self.lock();
        let id = guard.user_id(username);
        if let Some(user) = guard.users.iter_mut().find(|u| u.id == id) {
            user.username = new_name.to_owned();
        }
        self
    }
    /// Sets a user's state: `active`, `blocked`, `deactivated`.
    pub fn user_state(&self, username: &str, state: &str) -> &Self {
        let mut guard = self.lock();
        let id = guard.user_id(username);
        if let Some(user) = guard.users.iter_mut().find(|u| u.id == id) {
            user.state = state.to_owned();
        }
        self
    }
    /// A bot user (e.g. a project access token's user).
    pub fn bot_user(&self, username: &str) -> u64 {
        let mut guard = self.lock();
        let id = guard.user_id(username);
        if let Some(user) = guard.users.iter_mut().find(|u| u.id == id) {
            user.bot = true;
        }
        id
    }
    /// A project (created if new); returns its id.
    pub fn project(&self, path: &str) -> u64 {
        self.lock().project(path).id
    }
    /// Deletes a project (e.g. a fork gone after its MR was opened).
    pub fn delete_project(&self, path: &str) -> &Self {
        self.lock().projects.remove(path);
        self
    }
    /// A merge request (replacing one with that iid). Until a test sets its target branch with
    /// [`FakeGitLab::branch`], the branch points at the `base` of its most recently created
    /// opened merge request.
    pub fn mr(&self, project: &str, iid: u64, spec: MrSpec) -> &Self {
        let mut state = self.lock();
        state.user_id(&spec.author);
        if let Some(fork) = &spec.source_project {
            state.project(fork);
        }
        let id = state.next_id();
        state.project(project).mrs.insert(
            iid,
            Mr {
                id,
                spec,
                diffs: Vec::new(),
                overflow_at: None,
                diff_pending: false,
                diff_pending_reads: 0,
                notes: Vec::new(),
                awards: Vec::new(),
                reviewers: Vec::new(),
                approvals: Vec::new(),
            },
        );
        self
    }
    /// Points branch `name` at `sha` (`GET /projects/:id/repository/branches/:name`), whatever
    /// the merge requests say.
    pub fn branch(&self, project: &str, name: &str, sha: &str) -> &Self {
        self.lock()
            .project(project)
            .branches
            .insert(name.to_owned(), Some(sha.to_owned()));
        self
    }
    /// Deletes branch `name`: it answers 404 even while merge requests target it.
    pub fn delete_branch(&self, project: &str, name: &str) -> &Self {
        self.lock()
            .project(project)
            .branches
            .insert(name.to_owned(), None);
        self
    }
    /// Sets the files an MR changes (added or modified).
    pub fn mr_files<P: Into<String>>(
        &self,
        project: &str,
        iid: u64,
        paths: impl IntoIterator<Item = P>,
    ) -> &Self {
        let diffs = paths
            .into_iter()
            .map(|p| {
                let p = p.into();
                FakeDiff {
                    old_path: p.clone(),
                    new_path: p,
                }
            })
            .collect();
        self.lock().mr(project, iid).diffs = diffs;
        self
    }
    pub fn mr_rename(&self, project: &str, iid: u64, from: &str, to: &str) -> &Self {
        self.lock().mr(project, iid).diffs.push(FakeDiff {
            old_path: from.to_owned(),
            new_path: to.to_owned(),
        });
        self
    }
    /// The MR's diff went over the instance limits after `listed` files.
    pub fn mr_overflow(&self, project: &str, iid: u64, listed: usize) -> &Self {
        self.lock().mr(project, iid).overflow_at = Some(listed);
        self
    }
    /// GitLab has not computed the MR's diff yet (or has, with `false`).
    pub fn mr_diff_pending(&self, project: &str, iid: u64, pending: bool) -> &Self {
        self.lock().mr(project, iid).diff_pending = pending;
        self
    }
    /// GitLab computes the diff while the merge request is read `reads` times: those reads show
    /// it pending, the next ones computed.
    pub fn mr_diff_pending_for(&self, project: &str, iid: u64, reads: usize) -> &Self {
        self.lock().mr(project, iid).diff_pending_reads = reads;
        self
    }
    pub fn update_mr(&self, project: &str, iid: u64, change: impl FnOnce(&mut MrSpec)) -> &Self {
        change(&mut self.lock().mr(project, iid).spec);
        self
    }
    /// `/diffs` answers 404, as before GitLab 15.7 (`/changes` still works).
    pub fn legacy_diffs(&self) -> &Self {
        self.lock().legacy_diffs = true;
        self
    }
    /// A note on an MR by `username`; returns its id.
    pub fn note(&self, project: &str, iid: u64, username: &str, body: &str) -> u64 {
        self.add_note(project, iid, username, body, false)
    }
    /// A system note ("added 1 commit", ...) attributed to `username`.
    pub fn system_note(&self, project: &str, iid: u64, username: &str, body: &str) -> u64 {
        self.add_note(project, iid, username, body, true)
    }
    fn add_note(&self, project: &str, iid: u64, username: &str, body: &str, system: bool) -> u64 {
        let mut state = self.lock();
        state.user_id(username);
        let id = state.next_id();
        state.mr(project, iid).notes.push(FakeNote {
            id,
            author: username.to_owned(),
            body: body.to_owned(),
            system,
            internal: false,
            created_at: fake_http::now_ms_timestamp(),
        });
        id
    }
    /// An internal note (members only) by `username`.
    pub fn internal_note(&self, project: &str, iid: u64, username: &str, body: &str) -> u64 {
        let id = self.note(project, iid, username, body);
        self.with_note(project, iid, id, |n| n.internal = true);
        id
    }
    /// Note `id` now reads `body` (an edit; no event delivered).
    pub fn edit_note(&self, project: &str, iid: u64, id: u64, body: &str) -> &Self {
        self.with_note(project, iid, id, |n| n.body = body.to_owned());
        self
    }
    /// Note `id` is deleted (no event delivered).
    pub fn delete_note(&self, project: &str, iid: u64, id: u64) -> &Self {
        self.lock().mr(project, iid).notes.retain(|n| n.id != id);
        self
    }
    fn with_note(&self, project: &str, iid: u64, id: u64, change: impl FnOnce(&mut FakeNote)) {
        let mut state = self.lock();
        let note = state
            .mr(project, iid)
            .notes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("fake GitLab: no note {id}"));
        change(note);
    }
    /// `username` approves the MR (once; approving again changes nothing).
    pub fn approve(&self, project: &str, iid: u64, username: &str) -> &Self {
        let mut state = self.lock();
        let id = state.user_id(username);
        let mr = state.mr(project, iid);
        if !mr.approvals.iter().any(|(u, _)| *u == id) {
            mr.approvals.push((id, SystemTime::now()));
        }
        self
    }
    pub fn unapprove(&self, project: &str, iid: u64, username: &str) -> &Self {
        let mut state = self.lock();
        let id = state.user_id(username);
        state.mr(project, iid).approvals.retain(|(u, _)| *u != id);
        self
    }
    /// A direct project member with a numeric access level (10 guest … 50 owner).
    pub fn project_member(&self, project: &str, username: &str, access_level: u32) -> &Self {
        let mut state = self.lock();
        let id = state.user_id(username);
        state.project(project).members.insert(
            id,
            Member {
                access_level,
                membership_state: "active".to_owned(),
            },
        );
        self
    }
    /// A group (created if new); returns its id.
    pub fn group(&self, path: &str) -> u64 {
        self.lock().group(path).id
    }
    /// A direct, active group member (subgroups inherit it).
    pub fn group_member(&self, group: &str, username: &str, access_level: u32) -> &Self {
        self.group_member_in_state(group, username, access_level, "active")
    }
    /// A member whose seat awaits approval (`membership_state: awaiting`).
    pub fn awaiting_group_member(&self, group: &str, username: &str) -> &Self {
        self.group_member_in_state(group, username, 30, "awaiting")
    }
    fn group_member_in_state(
        &self,
        group: &str,
        username: &str,
        access_level: u32,
        membership_state: &str,
    ) -> &Self {
        let mut state = self.lock();
        let id = state.user_id(username);
        state.group(group).members.insert(
            id,
            Member {
                access_level,
                membership_state: membership_state.to_owned(),
            },
        );
        self
    }
    /// `username` is no longer a member of `group`.
    pub fn remove_group_member(&self, group: &str, username: &str) -> &Self {
        let mut state = self.lock();
        let id = state.user_id(username);
        state.group(group).members.remove(&id);
        self
    }
    /// A merged-results (`merge`) or merge-train (`train`) pipeline of merge request `iid`:
    /// it runs on `merge_sha`, a commit GitLab made by merging `head` into the target branch.
    pub fn merge_pipeline(
        &self,
        project: &str,
        iid: u64,
        kind: &str,
        head: &str,
        merge_sha: &str,
    ) -> u64 {
        let id = self.pipeline(
            project,
            merge_sha,
            &format!("refs/merge-requests/{iid}/{kind}"),
        );
        self.lock()
            .project(project)
            .merge_sources
            .insert(id, head.to_owned());
        id
    }
    /// GitLab Free: merge requests keep one reviewer (the first asked).
    pub fn free_tier(&self) -> &Self {
        self.lock().free_tier = true;
        self
    }
    /// Protects `branch`: statuses of its pipelines need a user allowed to push or merge to it.
    pub fn protect_branch(&self, project: &str, branch: &str, allowed: &[&str]) -> &Self {
        let mut state = self.lock();
        let ids = allowed.iter().map(|u| state.user_id(u)).collect();
        state
            .project(project)
            .protected
            .insert(branch.to_owned(), ids);
        self
    }
    /// `username` posts a commit status through the API, as any Developer can (the name is
    /// free: anyone can post one called `iamgate`).
    pub fn post_status_as(
        &self,
        username: &str,
        project: &str,
        sha: &str,
        pipeline_id: Option<u64>,
        state_name: &str,
        description: &str,
    ) {
        let mut state = self.lock();
        let me = state.user_id(username);
        let mut body =
            json!({ "state": state_name, "name": "iamgate", "description": description });
        if let Some(id) = pipeline_id {
            body["pipeline_id"] = json!(id);
        }
        routes::post_status(&mut state, me, project, sha, &body);
    }
    pub fn pipeline(&self, project: &str, sha: &str, git_ref: &str) -> u64 {
        let mut state = self.lock();
        let id = state.next_id();
        state
            .project(project)
            .pipelines
            .push((id, sha.to_owned(), git_ref.to_owned()));
        id
    }

    // ---- inspection ----

    /// `/projects/group%2Fproject`, as API paths (and fault prefixes) spell a project.
    pub fn project_api_path(project: &str) -> String {
        format!("/projects/{}", project.replace('/', "%2F"))
    }
    /// The commit branch `name` points at now, as `GET .../repository/branches/:name` answers.
    pub fn branch_tip(&self, project: &str, name: &str) -> Option<String> {
        self.lock()
            .projects
            .get(project)
            .and_then(|p| p.branch_tip(name))
    }
    pub fn mr_spec(&self, project: &str, iid: u64) -> MrSpec {
        self.lock().mr(project, iid).spec.clone()
    }
    pub fn notes(&self, project: &str, iid: u64) -> Vec<FakeNote> {
        self.lock().mr(project, iid).notes.clone()
    }
    pub fn awards(&self, project: &str, iid: u64, note_id: u64) -> Vec<FakeAward> {
        self.lock()
            .mr(project, iid)
            .awards
            .iter()
            .filter(|a| a.note_id == note_id)
            .cloned()
            .collect()
    }
    /// Every status posted on a commit, oldest first.
    pub fn statuses(&self, project: &str, sha: &str) -> Vec<FakeStatus> {
        self.lock()
            .projects
            .get(project)
            .and_then(|p| p.statuses.get(sha))
            .cloned()
            .unwrap_or_default()
    }
    pub fn latest_status(&self, project: &str, sha: &str) -> Option<FakeStatus> {
        self.statuses(project, sha)
            .into_iter()
            .rev()
            .find(|s| s.name == "iamgate")
    }
    /// Who approves merge request `iid` now, by username.
    pub fn approvers(&self, project: &str, iid: u64) -> Vec<String> {
        let mut state = self.lock();
        let ids: Vec<u64> = state
            .mr(project, iid)
            .approvals
            .iter()
            .map(|(id, _)| *id)
            .collect();
        ids.iter()
            .filter_map(|id| state.user(*id).map(|u| u.username.clone()))
            .collect()
    }
    pub fn reviewers(&self, project: &str, iid: u64) -> Vec<String> {
        let mut state = self.lock();
        let ids = state.mr(project, iid).reviewers.clone();
        ids.iter()
            .filter_map(|id| state.user(*id).map(|u| u.username.clone()))
            .collect()
    }
}
