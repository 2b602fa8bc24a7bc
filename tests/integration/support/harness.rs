//! The forge-generic scenario harness: [`ForgeHarness`], the operations the scenarios use on
//! either forge (enrol a PR/MR, push, deliver events, approve, comment, read the report, the
//! replies, the reactions and the `iamgate` status, inject faults, set up team/group
//! membership), implemented by the GitHub harness ([`Server`]) and the GitLab harness
//! ([`GitLabServer`]). Scenario bodies written once as `async fn name<F: ForgeHarness>()` run on
//! both forges through [`crate::both_forges`].
//!
//! Statuses are read in the contract's words: GitLab's `failed` is `failure` (mapped once, in
//! [`super::gitlab_server::contract_state`]). Where the forges differ by nature, the trait says
//! so in a constant ([`ForgeHarness::ASKS_TEAMS`], [`ForgeHarness::KEEPS_SAME_STATE_TEXT`]).
#![allow(dead_code, reason = "shared test support: each test uses a part of it")]
#![allow(async_fn_in_trait, reason = "test support: no Send bound is needed")]

use axum::http::StatusCode;
use iamgate::app::Service;
use iamgate::audit::{AuditEntry, AuditEvent, GateState};
use iamgate::queue::RunSummary;
use iamgate::store::{QueueStats, Store};

use super::fake_github::{self, PrSpec};
use super::fake_gitlab::{self, FakeGitLab, MrSpec};
use super::fake_pulumi::FakePulumi;
use super::gitlab_server::{DEVELOPER, GitLabServer, MR_HOOK, PROJECT};
use super::server::{BASE, Options, REPO, Server, sha};

/// Runs each generic scenario `name::<F>()` on both forges: `github::name` and `gitlab::name`.
#[macro_export]
macro_rules! both_forges {
    ($($name:ident),* $(,)?) => {
        mod github {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name::<$crate::support::server::Server>().await;
                }
            )*
        }
        mod gitlab {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name::<$crate::support::gitlab_server::GitLabServer>().await;
                }
            )*
        }
    };
}

/// A fault to inject on a forge call, in forge-neutral words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    /// 500.
    Error500,
    /// 502.
    Error502,
    /// The call takes effect, then 502 (the client cannot tell it landed).
    Error502AfterApplying,
    /// The forge's rate limit (GitHub's secondary limit, GitLab's 429 with `Retry-After`).
    RateLimited,
}

/// A comment (GitHub) or note (GitLab) on a PR/MR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub author: String,
    pub body: String,
}

/// What the scenarios do with a forge. PR numbers are GitLab MR iids; "comment" is a GitLab
/// note; "approve" is an approving review on GitHub and an MR approval on GitLab; a team is
/// `org/slug` on GitHub and a group full path on GitLab.
pub trait ForgeHarness: Sized {
    /// `github` or `gitlab`.
    const FORGE: &'static str;
    /// Whether a review request can name a team (GitHub) or only users (GitLab).
    const ASKS_TEAMS: bool;
    /// Whether the forge refuses a status in the state it already has, so the first text of a
    /// run of one state stays shown (GitLab).
    const KEEPS_SAME_STATE_TEXT: bool;

    async fn start_with(options: Options) -> Self;
    async fn start() -> Self {
        Self::start_with(Options::default()).await
    }
    fn pulumi(&self) -> &FakePulumi;
    fn service(&self) -> &Service;

    // ---- set-up ----

    /// PR `number` at head `head_tag` on the enrolled repository (see the harnesses).
    fn enroll(&self, number: u64, head_tag: &str) -> String;
    /// [`ForgeHarness::enroll`] with `config` as `.iamgate.yml` on the base and the head.
    fn enroll_with(&self, number: u64, head_tag: &str, config: &str) -> String;
    /// PR `number` at head `head_tag` of a repository without `.iamgate.yml`.
    fn unenrolled(&self, number: u64, head_tag: &str) -> String;
    /// The files of head commit `head`: `.iamgate.yml` with `config`, the `infra/` project.
    fn head_commit(&self, head: &str, config: &str);
    /// A file on the base commit.
    fn base_file(&self, path: &str, contents: &str);
    /// The files PR `number` changes.
    fn changed_files(&self, number: u64, files: &[&str]);
    /// PR `number` comes from the fork `fork`.
    fn make_fork(&self, number: u64, fork: &str);
    /// PR `number` is closed (no event delivered).
    fn close(&self, number: u64);
    /// `login` is an active member of `team`.
    fn add_member(&self, team: &str, login: &str);
    /// `login` is invited to `team` but not yet a member.
    fn invite_member(&self, team: &str, login: &str);

    // ---- events ----

    async fn open(&self, number: u64);
    async fn reopen(&self, number: u64);
    /// Moves PR `number` to a new head `head_tag` and delivers the push; returns the new head.
    async fn push(&self, number: u64, head_tag: &str) -> String;
    /// A new commit `tag` on the base branch `main` whose `.iamgate.yml` is `config`: the branch
    /// moves to it and the forge's push event is delivered, listing the commit with `touched`
    /// as its modified paths. Returns the commit.
    async fn push_to_base(&self, tag: &str, config: &str, touched: &[&str]) -> String;
    /// The base branch `main` is deleted (pull requests still name it as their base).
    fn delete_base_branch(&self);
    /// Delivers an event for PR `number` that moves no commit (GitHub's `ready_for_review`,
    /// GitLab's `update` hook without `oldrev`).
    async fn deliver_edit(&self, number: u64);
    /// The opening event's payload for PR `number` as the fake has it now.
    fn open_payload(&self, number: u64) -> Vec<u8>;
    /// [`ForgeHarness::open_payload`] with a description of `bytes` bytes.
    fn oversized_open_payload(&self, number: u64, bytes: usize) -> Vec<u8>;
    fn delivery_id(&self) -> String;
    /// An authentic opening event `body` with delivery id (idempotency key) `id`.
    async fn deliver_open_as(&self, id: &str, body: Vec<u8>) -> StatusCode;
    /// `login` approves PR `number`'s current head; returns what [`ForgeHarness::withdraw`]
    /// needs.
    async fn approve(&self, number: u64, login: &str) -> u64;
    /// The approval `approval` by `login` is withdrawn (review dismissed, approval revoked).
    async fn withdraw(&self, number: u64, login: &str, approval: u64);
    /// `login` writes a comment: stored, its creation delivered. Returns its id.
    async fn comment(&self, number: u64, login: &str, body: &str) -> u64;
    /// A person's comment stored on the forge with no event delivered. Returns its id.
    fn add_person_comment(&self, number: u64, login: &str, body: &str) -> u64;
    /// Delivers the creation of comment `id` again (a new delivery id).
    async fn redeliver_comment(&self, number: u64, id: u64, login: &str, body: &str);

    // ---- what the forge shows ----

    fn bot(&self) -> String;
    /// Every comment on PR `number`, oldest first.
    fn comments(&self, number: u64) -> Vec<Comment>;
    /// iamgate's replies to comment `id`, oldest first.
    fn replies(&self, number: u64, id: u64) -> Vec<String>;
    /// The reactions (award emoji) iamgate put on comment `id`.
    fn reactions(&self, number: u64, id: u64) -> Vec<String>;
    /// The `iamgate` statuses on `sha`, oldest first, in the contract's states.
    fn statuses(&self, sha: &str) -> Vec<(String, String)>;
    /// The review requests on PR `number`: `(teams, users)`.
    fn review_requests(&self, number: u64) -> (Vec<String>, Vec<String>);
    /// How many times reviewers were asked on PR `number`.
    fn review_request_calls(&self, number: u64) -> usize;
    /// How many comments were created (POSTs) on PR `number`.
    fn comment_posts(&self, number: u64) -> usize;
    /// How many times the config was looked up.
    fn config_lookups(&self) -> usize;
    /// How many head archives were downloaded.
    fn archive_downloads(&self) -> usize;
    /// How many times `login`'s membership of `team` was asked of the forge.
    fn membership_lookups(&self, team: &str, login: &str) -> usize;

    /// How many calls the forge received.
    fn forge_calls(&self) -> usize;

    // ---- faults ----

    /// The API path (prefix) where comments on PR `number` are created.
    fn comments_path(&self, number: u64) -> String;
    /// The API path prefix where commit statuses are created.
    fn statuses_path(&self) -> String;
    /// The next `count` `method` calls under `path`, after `skip` that pass, fail with `fault`.
    fn fail(&self, method: &str, path: &str, skip: usize, count: usize, fault: Fail);
    /// The response codes of every call under `path`, oldest first.
    fn responses(&self, path: &str) -> Vec<u16>;

    // ---- shared, from the above ----

    /// The only comment on PR `number`, asserting there is exactly one, iamgate's, with one
    /// marker.
    fn the_comment(&self, number: u64) -> String {
        let comments = self.comments(number);
        assert_eq!(
            comments.len(),
            1,
            "exactly one comment expected: {comments:#?}"
        );
        assert_eq!(comments[0].author, self.bot());
        assert_eq!(
            comments[0].body.matches(super::server::MARKER).count(),
            1,
            "exactly one marker: {}",
            comments[0].body
        );
        comments[0].body.clone()
    }

    /// iamgate's one report on PR `number`, asserting there is exactly one.
    fn report(&self, number: u64) -> String {
        let bot = self.bot();
        let reports: Vec<String> = self
            .comments(number)
            .into_iter()
            .filter(|c| c.author == bot && c.body.contains(super::server::MARKER))
            .map(|c| c.body)
            .collect();
        assert_eq!(
            reports.len(),
            1,
            "exactly one report expected: {reports:#?}"
        );
        assert_eq!(
            reports[0].matches(super::server::MARKER).count(),
            1,
            "{}",
            reports[0]
        );
        reports[0].clone()
    }

    /// iamgate's one reply to comment `id`, asserting there is exactly one.
    fn reply(&self, number: u64, id: u64) -> String {
        let replies = self.replies(number, id);
        assert_eq!(
            replies.len(),
            1,
            "exactly one reply to {id} expected: {replies:#?}"
        );
        replies[0].clone()
    }

    /// The newest `iamgate` status on `sha`, asserting there is one.
    fn status(&self, sha: &str) -> (String, String) {
        self.statuses(sha)
            .pop()
            .unwrap_or_else(|| panic!("no iamgate status on {sha}"))
    }

    /// The statuses the forge shows for this sequence of decisions: the same on GitHub; on
    /// GitLab a run of one state keeps its first text.
    fn shown(&self, decided: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (state, description) in decided {
            if Self::KEEPS_SAME_STATE_TEXT
                && let Some((last_state, last_text)) = out.last()
                && last_state == state
            {
                // GitLab refuses a status into the state it is in. A new pending text is shown
                // by ending the old status as `canceled` (with its own text) and starting a new
                // pending one; other states keep their first text.
                if *state == "pending" && last_text != description {
                    let ended = last_text.clone();
                    out.push(("canceled".to_owned(), ended));
                    out.push(((*state).to_owned(), (*description).to_owned()));
                }
                continue;
            }
            out.push(((*state).to_owned(), (*description).to_owned()));
        }
        out
    }

    /// Asserts the gate on `sha` is `state` with `description`: the newest status says so; on a
    /// forge that keeps the first text of a run of one state, the status shows that run's first
    /// text and the audit trail's newest decision on `sha` is `description`.
    async fn assert_gate(&self, sha: &str, state: &str, description: &str) {
        let audit = if Self::KEEPS_SAME_STATE_TEXT {
            self.audit().await
        } else {
            Vec::new()
        };
        assert_gate_shown(
            Self::KEEPS_SAME_STATE_TEXT,
            &self.statuses(sha),
            &audit,
            (sha, state, description),
        );
    }

    /// Runs the worker until no job is pending or running.
    async fn settle(&self) -> RunSummary {
        super::server::settle(self.service()).await
    }

    /// Jobs pending, running and dead.
    async fn queue(&self) -> QueueStats {
        self.service().store().queue_stats().await.unwrap()
    }

    /// Every audit record, oldest first, decoded.
    async fn audit(&self) -> Vec<AuditEntry> {
        super::server::audit_of(self.service()).await
    }

    /// Asserts the audit chain verifies and holds every record.
    async fn assert_chain_verifies(&self) {
        let chain = self.service().store().audit_chain().await.unwrap();
        let count = chain.records.len() as u64;
        let verified = iamgate::audit::verify(&chain).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verified.count, count);
    }
}

/// [`ForgeHarness::assert_gate`] over what was read: `statuses` on `sha` (oldest first, in the
/// contract's states) and, on a forge that keeps the first text of a run of one state, the
/// `audit` trail (oldest first). `gate` is `(sha, state, description)`.
pub fn assert_gate_shown(
    keeps_same_state_text: bool,
    statuses: &[(String, String)],
    audit: &[AuditEntry],
    gate: (&str, &str, &str),
) {
    let (sha, state, description) = gate;
    let newest = statuses
        .last()
        .unwrap_or_else(|| panic!("no iamgate status on {sha}"));
    if !keeps_same_state_text || newest.1 == description {
        assert_eq!(
            (newest.0.as_str(), newest.1.as_str()),
            (state, description),
            "{statuses:#?}"
        );
        return;
    }
    assert_eq!(newest.0, state, "{statuses:#?}");
    let run_start = statuses
        .iter()
        .rposition(|(s, _)| s != state)
        .map_or(0, |i| i + 1);
    assert_eq!(
        newest.1, statuses[run_start].1,
        "the shown text is the first of its run: {statuses:#?}"
    );
    let decided = audit
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            AuditEvent::StatusChange { state, description }
                if e.head_sha.as_ref().map(|h| h.as_str()) == Some(sha) =>
            {
                Some((*state, description.clone()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no status decision on {sha}: {audit:#?}"));
    assert_eq!(
        decided,
        (gate_state(state), description.to_owned()),
        "the decision on {sha}"
    );
}

fn gate_state(state: &str) -> GateState {
    match state {
        "pending" => GateState::Pending,
        "success" => GateState::Success,
        "failure" => GateState::Failure,
        other => panic!("not a contract state: {other}"),
    }
}

fn split_team(team: &str) -> (&str, &str) {
    team.split_once('/')
        .unwrap_or_else(|| panic!("a team is org/slug: {team}"))
}

impl ForgeHarness for Server {
    const FORGE: &'static str = "github";
    const ASKS_TEAMS: bool = true;
    const KEEPS_SAME_STATE_TEXT: bool = false;

    async fn start_with(options: Options) -> Self {
        Server::start_with(options).await
    }
    fn pulumi(&self) -> &FakePulumi {
        &self.pulumi
    }
    fn service(&self) -> &Service {
        &self.service
    }

    fn enroll(&self, number: u64, head_tag: &str) -> String {
        self.enrolled_pr(number, head_tag)
    }
    fn enroll_with(&self, number: u64, head_tag: &str, config: &str) -> String {
        self.enrolled_pr_with(number, head_tag, config)
    }
    fn unenrolled(&self, number: u64, head_tag: &str) -> String {
        let head = sha(head_tag);
        self.fake
            .archive(REPO, &head, &[("infra/index.ts", "export const x = 1;\n")])
            .pr(REPO, number, PrSpec::new(&head, BASE))
            .pr_files(REPO, number, ["infra/index.ts"]);
        head
    }
    fn head_commit(&self, head: &str, config: &str) {
        Server::head_commit(self, head, config);
    }
    fn base_file(&self, path: &str, contents: &str) {
        self.fake.file(REPO, BASE, path, contents);
    }
    fn changed_files(&self, number: u64, files: &[&str]) {
        self.fake.pr_files(REPO, number, files.iter().copied());
    }
    fn make_fork(&self, number: u64, fork: &str) {
        self.fake
            .update_pr(REPO, number, |pr| *pr = pr.clone().fork(fork));
    }
    fn close(&self, number: u64) {
        self.fake.update_pr(REPO, number, |pr| pr.open = false);
    }
    fn add_member(&self, team: &str, login: &str) {
        let (org, slug) = split_team(team);
        self.ensure_team(org, slug);
        self.fake.add_team_member(org, slug, login);
    }
    fn invite_member(&self, team: &str, login: &str) {
        let (org, slug) = split_team(team);
        self.ensure_team(org, slug);
        self.fake.pending_team_member(org, slug, login);
    }

    async fn open(&self, number: u64) {
        self.deliver_pr("opened", number).await;
    }
    async fn reopen(&self, number: u64) {
        self.deliver_pr("reopened", number).await;
    }
    async fn push(&self, number: u64, head_tag: &str) -> String {
        let head = Server::push(self, number, head_tag);
        self.deliver_pr("synchronize", number).await;
        head
    }
    fn delete_base_branch(&self) {
        self.fake.delete_branch(REPO, "main");
    }
    async fn push_to_base(&self, tag: &str, config: &str, touched: &[&str]) -> String {
        let commit = sha(tag);
        self.fake
            .file(REPO, &commit, ".iamgate.yml", config)
            .branch(REPO, "main", &commit);
        let body = serde_json::json!({
            "ref": "refs/heads/main",
            "before": BASE,
            "after": commit,
            "created": false,
            "deleted": false,
            "forced": false,
            "commits": [{ "id": commit, "message": "guardrails", "added": [], "removed": [], "modified": touched }],
            "repository": { "full_name": REPO, "name": REPO.split('/').nth(1), "owner": { "login": REPO.split('/').next() } },
            "installation": { "id": self.fake.installation_id() },
            "sender": { "login": "lead", "id": fake_github::user_id("lead"), "type": "User" }
        });
        let status = self
            .deliver("push", serde_json::to_vec(&body).unwrap())
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "push to main");
        commit
    }
    async fn deliver_edit(&self, number: u64) {
        self.deliver_pr("ready_for_review", number).await;
    }
    fn open_payload(&self, number: u64) -> Vec<u8> {
        self.pr_payload("opened", number)
    }
    fn oversized_open_payload(&self, number: u64, bytes: usize) -> Vec<u8> {
        let mut payload: serde_json::Value =
            serde_json::from_slice(&self.pr_payload("opened", number)).unwrap();
        payload["pull_request"]["body"] = serde_json::json!("x".repeat(bytes));
        serde_json::to_vec(&payload).unwrap()
    }
    fn delivery_id(&self) -> String {
        Server::delivery_id(self)
    }
    async fn deliver_open_as(&self, id: &str, body: Vec<u8>) -> StatusCode {
        self.deliver_as("pull_request", id, body).await
    }
    async fn approve(&self, number: u64, login: &str) -> u64 {
        self.submit_review(number, login, "APPROVED").await
    }
    async fn withdraw(&self, number: u64, _login: &str, approval: u64) {
        self.dismiss_review(number, approval).await;
    }
    async fn comment(&self, number: u64, login: &str, body: &str) -> u64 {
        Server::comment(self, number, login, body).await
    }
    fn add_person_comment(&self, number: u64, login: &str, body: &str) -> u64 {
        self.fake.add_user_comment(REPO, number, login, body)
    }
    async fn redeliver_comment(&self, number: u64, id: u64, login: &str, body: &str) {
        self.deliver_comment(number, id, login, body, "created")
            .await;
    }

    fn bot(&self) -> String {
        self.fake.bot_login()
    }
    fn comments(&self, number: u64) -> Vec<Comment> {
        self.fake
            .comments(REPO, number)
            .into_iter()
            .map(|c| Comment {
                author: c.author,
                body: c.body,
            })
            .collect()
    }
    fn replies(&self, number: u64, id: u64) -> Vec<String> {
        Server::replies(self, number, id)
    }
    fn reactions(&self, _number: u64, id: u64) -> Vec<String> {
        Server::reactions(self, id)
    }
    fn statuses(&self, sha: &str) -> Vec<(String, String)> {
        Server::statuses(self, sha)
    }
    fn review_requests(&self, number: u64) -> (Vec<String>, Vec<String>) {
        let asked = self.fake.review_requests(REPO, number);
        (asked.teams, asked.users)
    }
    fn review_request_calls(&self, number: u64) -> usize {
        self.fake.count_requests(
            "POST",
            &format!("/repos/{REPO}/pulls/{number}/requested_reviewers"),
        )
    }
    fn comment_posts(&self, number: u64) -> usize {
        self.fake
            .count_requests("POST", &self.comments_path(number))
    }
    fn config_lookups(&self) -> usize {
        self.fake
            .count_requests("GET", &format!("/repos/{REPO}/contents/.iamgate.yml"))
    }
    fn archive_downloads(&self) -> usize {
        self.fake
            .count_requests("GET", &format!("/repos/{REPO}/tarball"))
    }
    fn membership_lookups(&self, team: &str, login: &str) -> usize {
        let (org, slug) = split_team(team);
        self.fake.count_requests(
            "GET",
            &format!("/orgs/{org}/teams/{slug}/memberships/{login}"),
        )
    }

    fn forge_calls(&self) -> usize {
        self.fake.requests().len()
    }

    fn comments_path(&self, number: u64) -> String {
        format!("/repos/{REPO}/issues/{number}/comments")
    }
    fn statuses_path(&self) -> String {
        format!("/repos/{REPO}/statuses/")
    }
    fn fail(&self, method: &str, path: &str, skip: usize, count: usize, fault: Fail) {
        let fault = match fault {
            Fail::Error500 => fake_github::Fault::Error500,
            Fail::Error502 => fake_github::Fault::Error502,
            Fail::Error502AfterApplying => fake_github::Fault::Error502AfterApplying,
            Fail::RateLimited => fake_github::Fault::SecondaryRateLimit,
        };
        if skip == 0 {
            self.fake.fail_next(method, path, count, fault);
        } else {
            self.fake.fail_after(method, path, skip, count, fault);
        }
    }
    fn responses(&self, path: &str) -> Vec<u16> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with(path))
            .map(|r| r.status)
            .collect()
    }
}

impl Server {
    /// Creates team `org/slug` (empty) unless the fake has it.
    fn ensure_team(&self, org: &str, slug: &str) {
        // `team()` replaces a team: only create a missing one.
        if !self.fake.has_team(org, slug) {
            self.fake.team(org, slug, &[]);
        }
    }
}

impl ForgeHarness for GitLabServer {
    const FORGE: &'static str = "gitlab";
    const ASKS_TEAMS: bool = false;
    const KEEPS_SAME_STATE_TEXT: bool = true;

    async fn start_with(options: Options) -> Self {
        GitLabServer::start_with(options).await
    }
    fn pulumi(&self) -> &FakePulumi {
        &self.pulumi
    }
    fn service(&self) -> &Service {
        &self.service
    }

    fn enroll(&self, number: u64, head_tag: &str) -> String {
        self.enrolled_mr(number, head_tag)
    }
    fn enroll_with(&self, number: u64, head_tag: &str, config: &str) -> String {
        self.enrolled_mr_with(number, head_tag, config)
    }
    fn unenrolled(&self, number: u64, head_tag: &str) -> String {
        let head = sha(head_tag);
        self.fake
            .archive(
                PROJECT,
                &head,
                &[("infra/index.ts", "export const x = 1;\n")],
            )
            .mr(PROJECT, number, MrSpec::new(&head, BASE))
            .mr_files(PROJECT, number, ["infra/index.ts"]);
        head
    }
    fn head_commit(&self, head: &str, config: &str) {
        GitLabServer::head_commit(self, head, config);
    }
    fn base_file(&self, path: &str, contents: &str) {
        self.fake.file(PROJECT, BASE, path, contents);
    }
    fn changed_files(&self, number: u64, files: &[&str]) {
        self.fake.mr_files(PROJECT, number, files.iter().copied());
    }
    fn make_fork(&self, number: u64, fork: &str) {
        self.fake
            .update_mr(PROJECT, number, |mr| *mr = mr.clone().fork(fork));
        self.fake.project(fork);
    }
    fn close(&self, number: u64) {
        self.fake
            .update_mr(PROJECT, number, |mr| mr.state = "closed".to_owned());
    }
    fn add_member(&self, team: &str, login: &str) {
        self.fake.group_member(team, login, DEVELOPER);
    }
    fn invite_member(&self, team: &str, login: &str) {
        self.fake.awaiting_group_member(team, login);
    }

    async fn open(&self, number: u64) {
        self.deliver_mr("open", number).await;
    }
    async fn reopen(&self, number: u64) {
        self.deliver_mr("reopen", number).await;
    }
    fn delete_base_branch(&self) {
        self.fake.delete_branch(PROJECT, "main");
    }
    async fn push_to_base(&self, tag: &str, config: &str, touched: &[&str]) -> String {
        let commit = sha(tag);
        self.fake
            .file(PROJECT, &commit, ".iamgate.yml", config)
            .branch(PROJECT, "main", &commit);
        let lead = self.fake.user("lead");
        let body = serde_json::json!({
            "object_kind": "push",
            "event_name": "push",
            "before": BASE,
            "after": commit,
            "ref": "refs/heads/main",
            "checkout_sha": commit,
            "user_id": lead,
            "user_username": "lead",
            "project_id": self.fake.project(PROJECT),
            "project": { "id": self.fake.project(PROJECT), "path_with_namespace": PROJECT, "default_branch": "main" },
            "commits": [{ "id": commit, "message": "guardrails", "added": [], "modified": touched, "removed": [] }],
            "total_commits_count": 1
        });
        let status = self
            .deliver("Push Hook", serde_json::to_vec(&body).unwrap())
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "Push Hook to main");
        commit
    }
    async fn push(&self, number: u64, head_tag: &str) -> String {
        let (old, head) = GitLabServer::push(self, number, head_tag);
        self.deliver_push(number, &old).await;
        head
    }
    async fn deliver_edit(&self, number: u64) {
        self.deliver_mr("update", number).await;
    }
    fn open_payload(&self, number: u64) -> Vec<u8> {
        self.mr_payload("open", number)
    }
    fn oversized_open_payload(&self, number: u64, bytes: usize) -> Vec<u8> {
        let mut payload: serde_json::Value =
            serde_json::from_slice(&self.mr_payload("open", number)).unwrap();
        payload["object_attributes"]["description"] = serde_json::json!("x".repeat(bytes));
        serde_json::to_vec(&payload).unwrap()
    }
    fn delivery_id(&self) -> String {
        GitLabServer::delivery_id(self)
    }
    async fn deliver_open_as(&self, id: &str, body: Vec<u8>) -> StatusCode {
        self.deliver_as(MR_HOOK, id, body).await
    }
    async fn approve(&self, number: u64, login: &str) -> u64 {
        GitLabServer::approve(self, number, login).await;
        0
    }
    async fn withdraw(&self, number: u64, login: &str, _approval: u64) {
        self.unapprove(number, login).await;
    }
    async fn comment(&self, number: u64, login: &str, body: &str) -> u64 {
        self.note(number, login, body).await
    }
    fn add_person_comment(&self, number: u64, login: &str, body: &str) -> u64 {
        self.fake.note(PROJECT, number, login, body)
    }
    async fn redeliver_comment(&self, number: u64, id: u64, login: &str, body: &str) {
        self.deliver_note(number, id, login, body, false, "create")
            .await;
    }

    fn bot(&self) -> String {
        self.fake.bot_username().to_owned()
    }
    fn comments(&self, number: u64) -> Vec<Comment> {
        self.fake
            .notes(PROJECT, number)
            .into_iter()
            .map(|n| {
                assert!(!n.system || n.author != self.fake.bot_username());
                Comment {
                    author: n.author,
                    body: n.body,
                }
            })
            .collect()
    }
    fn replies(&self, number: u64, id: u64) -> Vec<String> {
        GitLabServer::replies(self, number, id)
    }
    fn reactions(&self, number: u64, id: u64) -> Vec<String> {
        self.awards(number, id)
    }
    fn statuses(&self, sha: &str) -> Vec<(String, String)> {
        GitLabServer::statuses(self, sha)
    }
    fn review_requests(&self, number: u64) -> (Vec<String>, Vec<String>) {
        (Vec::new(), self.fake.reviewers(PROJECT, number))
    }
    fn review_request_calls(&self, number: u64) -> usize {
        let path = self.api(&format!("/merge_requests/{number}"));
        self.fake
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path == path)
            .count()
    }
    fn comment_posts(&self, number: u64) -> usize {
        self.fake
            .count_requests("POST", &self.comments_path(number))
    }
    fn config_lookups(&self) -> usize {
        self.fake
            .count_requests("GET", &self.api("/repository/files/"))
    }
    fn archive_downloads(&self) -> usize {
        self.fake
            .count_requests("GET", &self.api("/repository/archive"))
    }
    fn membership_lookups(&self, team: &str, login: &str) -> usize {
        let group = FakeGitLab::project_api_path(team).replacen("/projects/", "/groups/", 1);
        let id = self.fake.user(login);
        self.fake
            .count_requests("GET", &format!("{group}/members/all/{id}"))
    }

    fn forge_calls(&self) -> usize {
        self.fake.requests().len()
    }

    fn comments_path(&self, number: u64) -> String {
        self.api(&format!("/merge_requests/{number}/notes"))
    }
    fn statuses_path(&self) -> String {
        self.api("/statuses/")
    }
    fn fail(&self, method: &str, path: &str, skip: usize, count: usize, fault: Fail) {
        let fault = match fault {
            Fail::Error500 => fake_gitlab::Fault::Error500,
            Fail::Error502 => fake_gitlab::Fault::Error502,
            Fail::Error502AfterApplying => fake_gitlab::Fault::Error502AfterApplying,
            Fail::RateLimited => fake_gitlab::Fault::RateLimited {
                retry_after_secs: 1,
            },
        };
        if skip == 0 {
            self.fake.fail_next(method, path, count, fault);
        } else {
            self.fake.fail_after(method, path, skip, count, fault);
        }
    }
    fn responses(&self, path: &str) -> Vec<u16> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with(path))
            .map(|r| r.status)
            .collect()
    }
}
