//! The durable store, behind one interface (SQLite embedded by default; PostgreSQL can follow):
//! webhook deliveries (deduplicated by delivery id), the job queue (coalesced per PR, claimed
//! with expiring leases, retried, dead-lettered), per-PR publishing state, and (`previews`) the
//! on-disk cache of preview outputs per pull request, stack and head.

pub mod backing;
pub mod copy;
pub mod postgres;
pub mod previews;
pub(crate) mod rows;
pub mod sqlite;
#[cfg(test)]
mod testing;
#[cfg(test)]
pub(crate) use testing::{TestStore, on_both_backends};

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditChain, AuditEntry, AuditEvent, AuditFilter, AuditRecord};
use crate::event::{BranchRole, CommentId, DeliveryId, Event, Login, PrRef, RepoRef, Sha, UserId};

/// The gauge of records in the audit chain (its head's `seq`), set after each commit that
/// appended: a count that goes down shows the newest records were deleted.
pub const AUDIT_RECORDS_METRIC: &str = "iamgate_audit_records";

/// Rows removed by one prune of finished work (`SqliteStore::prune`, `PostgresStore::prune`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub jobs: u64,
    pub deliveries: u64,
    /// Command tickets (`command_tickets`).
    pub tickets: u64,
    /// CI previews received before the cut-off and token ids past their keeping time.
    pub ci: u64,
}

/// A stored delivery, as the edge hands it over (after signature verification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub id: DeliveryId,
    /// `github` / `gitlab`.
    pub forge: String,
    /// The forge's event name (`pull_request`, `Merge Request Hook`, ...).
    pub event_name: String,
    pub event: Event,
    /// The SHA-256 (hex) of the raw body: the same body under another delivery id is a replay,
    /// recognized as the delivery it copies. `None` when there is no body to hash.
    pub body_sha256: Option<String>,
}

/// The work a job does. Stored as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// Analyze the pull request at its newest head and publish the result. Also how the gate is
    /// recomputed after a review or a command (previews of an unchanged head come from the
    /// preview cache).
    AnalyzePr { pr: PrRef },
    /// Run the `/iamgate` commands of a newly created comment.
    Command {
        pr: PrRef,
        comment: CommentId,
        author: Login,
        /// The author's account id, when the event carried it (jobs stored before it was kept
        /// have none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author_id: Option<UserId>,
        body: String,
        /// When the comment was made (Unix milliseconds), as the webhook said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created_ms: Option<i64>,
        /// The head when the comment was made, as the webhook said (GitLab).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seen_head: Option<Sha>,
    },
    /// Analyze again every open pull request with `branch` in `role`: those that target it
    /// after `.iamgate.yml` may have changed there (tightened guardrails apply before they
    /// merge), those that come from it after a new pipeline started (GitLab: the status must be
    /// in the pipeline "Pipelines must succeed" judges).
    RecheckBranch {
        repo: RepoRef,
        branch: String,
        #[serde(default)]
        role: BranchRole,
    },
    /// Check that the pull request's head shows iamgate's own status where the forge judges the
    /// merge (GitLab: a pipeline changed state, perhaps a new one, perhaps because someone
    /// posted a status under iamgate's name): post it where it is missing, answer one posted by
    /// anyone else, and analyze only when no decision of the head is recorded yet.
    CheckStatus { pr: PrRef },
}

impl JobKind {
    /// Jobs with the same coalescing key that are still pending merge into one.
    pub fn coalesce_key(&self) -> String {
        match self {
            JobKind::AnalyzePr { pr } => format!("analyze:{}", pr.key()),
            // Every comment's commands run: never merged with another comment's.
            JobKind::Command { pr, comment, .. } => format!("command:{}:{comment}", pr.key()),
            JobKind::RecheckBranch { repo, branch, role } => {
                format!("recheck:{}:{role:?}:{branch}", repo.key())
            }
            JobKind::CheckStatus { pr } => format!("status:{}", pr.key()),
        }
    }

    /// The repository the job is about ([`RepoRef::key`]): claims are fair between repositories.
    pub fn repo_key(&self) -> String {
        match self {
            JobKind::AnalyzePr { pr }
            | JobKind::Command { pr, .. }
            | JobKind::CheckStatus { pr } => pr.repo_ref().key(),
            JobKind::RecheckBranch { repo, .. } => repo.key(),
        }
    }
}

/// Which workers run a job: each lane has its own, so that what takes seconds (commands, gate
/// decisions, rechecks: forge calls) never waits behind what takes minutes (previews). Every job
/// is enqueued in [`Lane::Fast`]; a pull request job that finds a preview missing moves itself
/// to [`Lane::Preview`] ([`Store::move_job`]), and a job enqueued onto a pending one with its
/// key stays in the lane that one is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    Fast,
    Preview,
}

impl Lane {
    pub const ALL: [Lane; 2] = [Lane::Fast, Lane::Preview];

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Fast => "fast",
            Lane::Preview => "preview",
        }
    }

    pub fn parse(s: &str) -> Option<Lane> {
        match s {
            "fast" => Some(Lane::Fast),
            "preview" => Some(Lane::Preview),
            _ => None,
        }
    }
}

impl std::fmt::Display for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a delivery was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored now, with its jobs enqueued (or coalesced into pending ones). Also the answer to
    /// a redelivery whose jobs had all been dead-lettered: those jobs are enqueued again (a
    /// manual redelivery is how an operator retries; nothing had succeeded, so nothing acts
    /// twice).
    Fresh,
    /// Seen before: nothing was done.
    Duplicate,
}

/// A job claimed by a worker, with its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: JobKind,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Proves the lease is still ours when completing or failing the job.
    pub lease: String,
    /// The lane it was claimed in.
    pub lane: Lane,
}

/// Counts for `/metrics` and `/readyz`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub pending: u64,
    pub running: u64,
    pub dead: u64,
}

/// A dead-lettered job, for operators (`/readyz` details, logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadJob {
    pub id: i64,
    /// `None` when this build cannot read the stored kind (the reason then says so).
    pub kind: Option<JobKind>,
    /// Claims it took before giving up.
    pub attempt: u32,
    /// Why it was given up.
    pub reason: String,
    /// When it was dead-lettered, Unix milliseconds.
    pub dead_at_ms: i64,
}

/// What a command vote says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandVoteKind {
    /// `/iamgate approve [reason]`.
    Approve,
    /// `/iamgate unapprove`: the user's earlier approvals (reviews included) stop counting.
    Withdraw,
    /// `/iamgate override <reason>` by a member of `overrides`.
    Override,
}

impl CommandVoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandVoteKind::Approve => "approve",
            CommandVoteKind::Withdraw => "withdraw",
            CommandVoteKind::Override => "override",
        }
    }

    pub fn parse(s: &str) -> Option<CommandVoteKind> {
        match s {
            "approve" => Some(CommandVoteKind::Approve),
            "withdraw" => Some(CommandVoteKind::Withdraw),
            "override" => Some(CommandVoteKind::Override),
            _ => None,
        }
    }
}

/// The `source` prefix of a row that records which commit an approval webhook named (stored at
/// intake, before the delivery's job runs): it binds an approval that the forge's API reports
/// without a commit (GitLab's) to the head it was given on. Not a command vote.
pub const REVIEW_HOOK: &str = "review-hook:";

/// A vote given by command, bound to the head commit it was given on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandVote {
    /// What gave it (e.g. `comment:123:0`, the comment and the command's line): adding the same
    /// source twice (a retried job) adds nothing.
    pub source: String,
    pub login: String,
    /// The voter's account id, when the comment's event carried it.
    pub user_id: Option<UserId>,
    pub kind: CommandVoteKind,
    pub head: String,
    /// The reason given (required for overrides).
    pub reason: Option<String>,
    /// When it was given, Unix milliseconds.
    pub at_ms: i64,
}

/// How many commands one person may give per repository: at most `per_minute` comments with
/// commands in any minute (by when the comments were made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandRate {
    pub per_minute: u32,
}

/// A comment with commands, as the store first saw it run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket<'a> {
    pub pr: &'a PrRef,
    pub comment: CommentId,
    /// The comment's author (compared without case).
    pub author: &'a str,
    /// When the comment was made, Unix milliseconds.
    pub at_ms: i64,
}

/// What the store knows of a comment's commands: decided once, when they first run, so that a
/// retried or redelivered job gets the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandTicket {
    /// Within its author's [`CommandRate`]: the commands run.
    pub admitted: bool,
    /// Over the rate, and the first such comment of its author in the repository within the
    /// minute before it: it gets the one reply saying so (the others get none).
    pub tell: bool,
    pub reply: ReplyState,
}

/// How far iamgate's reply to a comment got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyState {
    /// Not posted: nothing was sent.
    None,
    /// About to be posted (written before the post): it may have landed; only the forge knows.
    Posting,
    /// Posted.
    Posted,
}

impl ReplyState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyState::None => "none",
            ReplyState::Posting => "posting",
            ReplyState::Posted => "posted",
        }
    }

    pub fn parse(s: &str) -> Option<ReplyState> {
        match s {
            "none" => Some(ReplyState::None),
            "posting" => Some(ReplyState::Posting),
            "posted" => Some(ReplyState::Posted),
            _ => None,
        }
    }
}

/// Per-PR publishing state that must survive restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrState {
    /// iamgate's comment on the PR, once known.
    pub comment_id: Option<u64>,
    /// The IAM fingerprint reviewers were last requested for.
    pub review_requested_for: Option<String>,
    /// What was last audited, so that a recomputation records only what changed: the analysis
    /// (`head fingerprint`), the status (`head state description`), reviews by id, dropped
    /// approvals by `login head fingerprint`.
    #[serde(default)]
    pub audited: Audited,
}

/// One pull request's own gate decision at its head, before it is combined with those of the
/// other open pull requests that share the commit (the status belongs to the commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrGate {
    pub pr: PrRef,
    /// Its head when decided.
    pub sha: String,
    /// Its base branch when decided.
    pub base: String,
    /// `pending`, `success` or `failure`.
    pub state: String,
    pub description: String,
}

/// A preview a CI job submitted for a stack of `preview: ci` at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiPreview {
    /// [`RepoRef::key`] of the repository.
    pub repo_key: String,
    pub commit: String,
    /// The stack's name in `.iamgate.yml`.
    pub stack: String,
    /// The body is the text of a failed preview, not its JSON.
    pub failed: bool,
    pub body: Vec<u8>,
    /// Which run submitted it (`GitHub Actions run 4242 (attempt 1) of …`).
    pub source: String,
    /// When it was stored (Unix milliseconds): set by [`Store::put_ci_preview`], whatever the
    /// caller put here.
    pub received_ms: i64,
}

/// The ID token a submission came with: accepted once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiToken {
    pub issuer: String,
    pub jti: String,
    /// Until when (Unix milliseconds) the token id is kept.
    pub keep_until_ms: i64,
}

/// What [`Store::put_ci_preview`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiSubmitted {
    /// Stored (replacing an earlier submission of the same commit and stack), jobs enqueued.
    Stored,
    /// The token was used before: nothing stored.
    TokenReused,
}

/// See [`PrState::audited`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audited {
    #[serde(default)]
    pub analysis: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub reviews: std::collections::BTreeSet<u64>,
    /// Reviews whose dismissal was recorded (a dismissed review keeps its id).
    #[serde(default)]
    pub dismissed_reviews: std::collections::BTreeSet<u64>,
    /// Approving reviews recorded as approvals, by review id, with the approver: an approval
    /// that disappears from the forge's list (a revoked GitLab approval) is then recorded as
    /// withdrawn.
    #[serde(default)]
    pub approvals: std::collections::BTreeMap<u64, String>,
    #[serde(default)]
    pub drops: std::collections::BTreeSet<String>,
    /// Statuses posted under iamgate's name by someone else, already reported (`head id
    /// author`).
    #[serde(default)]
    pub foreign_statuses: std::collections::BTreeSet<String>,
    /// The merged head already reported as merged without iamgate's success.
    #[serde(default)]
    pub merged_unapproved: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Db(#[from] sqlx::Error),
    #[error("store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store: corrupt record: {0}")]
    Corrupt(String),
    #[error("store: invalid url `{0}`: expected sqlite://PATH or postgres://USER@HOST/DATABASE")]
    Url(String),
    /// A url that names its backend but says something it cannot use.
    #[error("store: invalid url {0}")]
    Config(String),
    #[error("store: cannot create `{path}`: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The write transaction this request was batched into failed as a whole.
    #[error("store: commit failed: {0}")]
    Commit(String),
    /// The store's writer task has stopped (the store is shutting down or crashed).
    #[error("store: writer stopped")]
    WriterGone,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The durable store.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Stores a delivery and enqueues its jobs in one transaction; a delivery id seen before is a
    /// `Duplicate` and changes nothing (unless all its jobs were dead-lettered: see
    /// [`Recorded::Fresh`]). When this returns, the delivery is durable. A push to a pull
    /// request also records, in the same transaction, its pusher as an author
    /// ([`Store::add_pr_author`]), duplicate or not: that only ever makes approvals stricter.
    /// Heads are not taken from webhooks ([`Store::record_head`] is the job's, from the forge).
    async fn record_delivery(
        &self,
        delivery: NewDelivery,
        jobs: Vec<JobKind>,
    ) -> StoreResult<Recorded>;

    /// Claims a due job of `lane` (any lane when `None`) whose lease is free or expired, for
    /// `lease` long: of the repository with the fewest jobs running in the lane, then of the one
    /// whose turn came longest ago, the job that has waited longest.
    async fn claim_job(
        &self,
        worker: &str,
        lease: Duration,
        lane: Option<Lane>,
    ) -> StoreResult<Option<ClaimedJob>>;

    /// Puts a claimed job back to pending in `lane`, due now, without counting the attempt (a
    /// no-op when the lease was lost). A pending job with its key takes it over instead, in the
    /// busier of the two lanes.
    async fn move_job(&self, job: &ClaimedJob, lane: Lane) -> StoreResult<()>;

    /// Marks a claimed job done (a no-op when the lease was lost).
    async fn complete_job(&self, job: &ClaimedJob) -> StoreResult<()>;

    /// Schedules a retry after `delay`, or dead-letters the job with `reason` when `delay` is None.
    async fn fail_job(
        &self,
        job: &ClaimedJob,
        reason: &str,
        delay: Option<Duration>,
    ) -> StoreResult<()>;

    /// Pushes a claimed job's lease to `lease` from now. `false` when the lease was lost (it
    /// expired and another worker claimed the job, or the job finished): stop working on it.
    async fn extend_lease(&self, job: &ClaimedJob, lease: Duration) -> StoreResult<bool>;

    /// Enqueues a job outside a delivery (e.g. a retry of publishing), coalescing as usual.
    async fn enqueue(&self, job: JobKind) -> StoreResult<()>;

    async fn pr_state(&self, pr: &PrRef) -> StoreResult<PrState>;

    async fn put_pr_state(&self, pr: &PrRef, state: &PrState) -> StoreResult<()> {
        self.put_pr_state_audited(pr, state, Vec::new()).await
    }

    /// Writes a pull request's state and appends `audit` in one transaction: the records and
    /// the bookkeeping that says they were made land together or not at all, so a retried job
    /// neither repeats nor loses one.
    async fn put_pr_state_audited(
        &self,
        pr: &PrRef,
        state: &PrState,
        audit: Vec<AuditEntry>,
    ) -> StoreResult<()>;

    async fn queue_stats(&self) -> StoreResult<QueueStats>;

    /// The most recently dead-lettered jobs, newest first.
    async fn dead_jobs(&self, limit: u32) -> StoreResult<Vec<DeadJob>>;

    /// Cheap check that the store answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    /// Appends `entry` to the audit trail as the next link of its hash chain (`seq` and
    /// `prev_hash` are taken from the chain's head inside the write, so concurrent appends never
    /// fork it) and returns the stored record. When this returns, the record is durable.
    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<AuditRecord>;

    /// [`Store::append_audit`] once per `key`: `false` (nothing appended) when an entry was
    /// appended under `key` before, so that a retried job does not record the same event twice.
    async fn append_audit_once(&self, key: &str, entry: AuditEntry) -> StoreResult<bool>;

    /// The audit records that pass `filter`, oldest first. Not verified: see
    /// [`Store::audit_chain`] and [`crate::audit::verify`].
    async fn audit_records(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;

    /// The whole audit chain and its head, read at one instant, for [`crate::audit::verify`].
    async fn audit_chain(&self) -> StoreResult<AuditChain>;

    /// Records a vote; `false` when its source was recorded before (nothing changes, nothing is
    /// appended). With `event`, a command vote: its audit record ([`backing::vote_entry`], the
    /// vote's own fields with `event`) is appended in the same transaction and the row names it.
    /// Without, a row that binds a forge approval to a commit ([`REVIEW_HOOK`], sightings): it
    /// is MACed with the audit key. Either is what makes the row count ([`Store::votes`]).
    async fn add_vote(
        &self,
        pr: &PrRef,
        vote: &CommandVote,
        event: Option<AuditEvent>,
    ) -> StoreResult<bool>;

    /// A pull request's votes that count, oldest first: each command vote backed by its keyed
    /// audit record saying what the row says, each binding row by its MAC
    /// ([`backing::check`]). A row without (written by hand, altered, or recorded before the
    /// audit key) is left out and logged.
    async fn votes(&self, pr: &PrRef) -> StoreResult<Vec<CommandVote>>;

    /// Records the IAM fingerprint of an analyzed head (approvals bind to it).
    async fn put_fingerprint(&self, pr: &PrRef, head: &str, fingerprint: &str) -> StoreResult<()>;

    /// The fingerprints of a pull request's analyzed heads, by head SHA.
    async fn fingerprints(
        &self,
        pr: &PrRef,
    ) -> StoreResult<std::collections::BTreeMap<String, String>>;

    /// Records a pull request's own gate decision at its head (replacing its previous one).
    async fn put_pr_gate(&self, gate: &PrGate) -> StoreResult<()>;

    /// A pull request's own last gate decision, if any.
    async fn pr_gate(&self, pr: &PrRef) -> StoreResult<Option<PrGate>>;

    /// The own decisions of every pull request of `repo` whose head was `sha` when decided.
    async fn pr_gates_at(&self, repo: &RepoRef, sha: &str) -> StoreResult<Vec<PrGate>>;

    /// Forgets a pull request's decision (it was closed, or is no longer gated).
    async fn forget_pr_gate(&self, pr: &PrRef) -> StoreResult<()>;

    /// Stores a CI job's preview with its token id and the jobs it asks for, in one step: a token
    /// id seen before stores nothing ([`CiSubmitted::TokenReused`]).
    async fn put_ci_preview(
        &self,
        preview: CiPreview,
        token: CiToken,
        jobs: Vec<JobKind>,
    ) -> StoreResult<CiSubmitted>;

    /// The newest preview submitted for `stack` at `commit` of the repository `repo_key`.
    async fn ci_preview(
        &self,
        repo_key: &str,
        commit: &str,
        stack: &str,
    ) -> StoreResult<Option<CiPreview>>;

    /// Records that `login` pushed commits to the pull request (an author of it from now on).
    async fn add_pr_author(&self, pr: &PrRef, login: &str) -> StoreResult<()>;

    /// The logins recorded by [`Store::add_pr_author`], lower-cased.
    async fn pr_authors(&self, pr: &PrRef) -> StoreResult<Vec<String>>;

    /// Records that `head` is the pull request's head now, unless it was seen before (the first
    /// sighting is kept: a later one never moves it).
    async fn record_head(&self, pr: &PrRef, head: &str) -> StoreResult<()>;

    /// The newest head first seen at or before `at_ms` (Unix milliseconds): the head someone
    /// acting then could see. `None` when iamgate had seen no head by then.
    async fn head_seen_at(&self, pr: &PrRef, at_ms: i64) -> StoreResult<Option<String>>;

    /// The ticket of a comment's commands: the one recorded when they first ran, else a new one,
    /// admitted when its author made fewer than `rate` admitted comments with commands in the
    /// repository within the minute before it.
    async fn command_ticket(
        &self,
        ticket: &NewTicket<'_>,
        rate: CommandRate,
    ) -> StoreResult<CommandTicket>;

    /// Records how far the reply to a comment got (see [`ReplyState`]).
    async fn set_command_reply(
        &self,
        pr: &PrRef,
        comment: CommentId,
        state: ReplyState,
    ) -> StoreResult<()>;
}
