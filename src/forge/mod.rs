//! The forge interface: everything iamgate asks of GitHub or GitLab, behind one trait because
//! there are two forges (tests use the real clients against fake HTTP servers, not mocks).
//! Errors carry a kind that callers match (not found, forbidden, rate limited, ...) and a retry
//! class so the job layer decides how to retry. What both clients do the same way lives here
//! once: the retry policy and loop (`retry`, where a failed response gets its kind), iamgate's
//! own comments (`comments`) and the HTTP plumbing (`http`); each forge's module keeps its auth,
//! pagination, rate-limit headers and error wording.

pub(crate) mod comments;
pub mod github;
pub mod gitlab;
pub(crate) mod http;
pub mod membership;
pub mod retry;

use std::path::Path;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::event::{Actor, BranchRole, Login, PrNumber, PrRef, RepoName, RepoRef, Sha, UserRef};
use crate::gate::GateState;
// The ids and review states of events and of forge calls are the same values: one type each.
pub use crate::event::{CommentId, ReviewId, ReviewState};

pub use membership::{DEFAULT_MEMBERSHIP_TTL, MembershipCache};

/// A pull request as the forge reports it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub head: Sha,
    pub base: Sha,
    /// The base branch name.
    pub base_ref: String,
    /// The repository the head commit lives in (differs from the base repo for forks).
    pub head_repo: RepoName,
    pub author: Login,
    pub open: bool,
    /// Closed by a merge (GitHub `merged`, GitLab state `merged`).
    pub merged: bool,
    pub draft: bool,
    /// Set when the forge judges the merge somewhere iamgate's status cannot reach (GitLab: a
    /// fork merge request whose pipeline runs in the fork): what the comment says about it.
    pub unheld: Option<String>,
}

impl PullRequest {
    pub fn is_fork(&self, base_repo: &RepoName) -> bool {
        &self.head_repo != base_repo
    }
}

/// The files a pull request changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangedFiles {
    /// Paths relative to the repository root, including the old path of renames.
    pub paths: Vec<String>,
    /// The forge stopped listing (GitHub caps at 3,000 files): decisions must fail closed.
    pub truncated: bool,
}

/// The `iamgate` commit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    pub state: GateState,
    /// At most 140 characters (the forge rejects longer ones).
    pub description: String,
    pub target_url: Option<String>,
}

/// The `iamgate` status a commit shows where the forge judges the merge, and who posted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownStatus {
    /// The forge's id of the status (GitLab) or `0` (GitHub statuses have ids too, unused).
    pub id: u64,
    /// The state as a verdict; `None` for states iamgate posts only in passing (`canceled`,
    /// `running`) or does not know.
    pub state: Option<GateState>,
    pub description: String,
    /// Who posted it.
    pub author: Login,
    /// Posted by iamgate's own account (the App, the token's user).
    pub ours: bool,
}

/// The status context iamgate owns.
pub const STATUS_CONTEXT: &str = "iamgate";

/// A comment on a pull request as the forge shows it now: what a command is acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownComment {
    pub author: Actor,
    pub body: String,
    /// When it was made (Unix milliseconds); `None` when the forge does not say.
    pub created_ms: Option<i64>,
    /// Visible to project members only (GitLab internal notes): replies must be too.
    pub internal: bool,
}

/// A submitted review of a pull request (GitLab: an approval of a merge request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub id: ReviewId,
    /// Who reviewed, and whether a person (only a [`crate::event::ActorKind::User`] may grant).
    pub author: Actor,
    /// [`ReviewState::Approved`], [`ReviewState::ChangesRequested`],
    /// [`ReviewState::Commented`] or [`ReviewState::Dismissed`]: [`Forge::reviews`] leaves out
    /// drafts (`Pending`) and states it does not know (`Other`).
    pub state: ReviewState,
    /// The commit the review was given on; `None` when the forge does not say (GitLab approvals
    /// are not bound to a commit).
    pub commit: Option<Sha>,
    /// When it was submitted; `None` when the forge does not say.
    pub submitted_at: Option<SystemTime>,
}

/// A reaction iamgate puts on a comment (GitHub reaction content / GitLab award emoji).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reaction {
    /// Seen, working on it (GitHub `eyes`, GitLab `eyes`).
    Eyes,
    /// Done (GitHub `+1`, GitLab `thumbsup`).
    PlusOne,
    /// Refused or not understood (GitHub `confused`, GitLab `confused`).
    Confused,
}

/// What a user may do in a repository, coarsest first so that levels compare with `>=`.
/// GitHub's `maintain` counts as [`RepoPermission::Write`] and `triage` as
/// [`RepoPermission::Read`]; GitLab's guest/reporter are read, developer/maintainer write, owner
/// admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepoPermission {
    None,
    Read,
    Write,
    Admin,
}

/// How a failed forge call may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Transient (5xx, transport): retry with backoff.
    Retry,
    /// Rate limited: retry after this long.
    RetryAfter(Duration),
    /// Permanent (4xx other than rate limits): do not retry.
    GiveUp,
}

/// What went wrong in a failed forge call, in the same words on both forges: what callers match
/// (never an HTTP status). A response's kind is read from its status once, where each client's
/// responses are classified ([`retry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForgeErrorKind {
    /// 400: the forge refused the request as malformed (GitLab's validation failures).
    BadRequest,
    /// 401: the credentials were refused.
    Unauthorized,
    /// 403, not a rate limit: the credentials may not do this.
    Forbidden,
    /// 404: no such thing, or one the credentials cannot see.
    NotFound,
    /// 409: the request conflicts with the resource's state.
    Conflict,
    /// 422: the forge could not process the request (GitHub's validation failures).
    Unprocessable,
    /// Rate limited (429, or GitHub's 403 once a limit is used up).
    RateLimited,
    /// 5xx: the forge failed.
    Server,
    /// Another status the forge answered with (e.g. a redirect where none is followed).
    OtherStatus,
    /// No response, or not all of it: the connection, a timeout, or reading the body failed.
    Transport,
    /// A response iamgate cannot use: not the JSON expected, an unknown value, a bad redirect.
    InvalidResponse,
    /// Over iamgate's limits: a response, an archive or a listing larger than it reads.
    TooLarge,
    /// Refused before it was sent: a malformed name, path or address, a body over the forge's
    /// limit.
    InvalidRequest,
    /// The forge has not finished computing what was asked (GitLab's merge request diff).
    NotReady,
    /// The file asked for is a symbolic link ([`Forge::file_at`]): iamgate reads files only as
    /// regular files, on both forges (GitHub follows a link within the repository, GitLab
    /// returns the link's own text).
    SymbolicLink,
    /// This server is not set up for the repository's forge.
    NotConfigured,
    /// iamgate's own part failed: signing the App JWT, writing an archive to disk.
    Local,
}

/// A failed forge call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct ForgeError {
    /// What was attempted, e.g. `GET /repos/o/r/pulls/1`.
    pub operation: String,
    pub message: String,
    /// What went wrong: what callers match.
    pub kind: ForgeErrorKind,
    pub retry: RetryClass,
    /// The HTTP status, when there was a response (for messages and logs; match [`Self::kind`]).
    pub status: Option<u16>,
}

pub type ForgeResult<T> = Result<T, ForgeError>;

/// The error for a file that is a symbolic link, in the same words on both forges.
pub(crate) fn symbolic_link(operation: String, path: &str) -> ForgeError {
    ForgeError {
        operation,
        message: format!(
            "{path} is a symbolic link: iamgate reads it only as a regular file (a link could name any file, \
             and GitHub and GitLab resolve links differently); replace the link with the file itself"
        ),
        kind: ForgeErrorKind::SymbolicLink,
        retry: RetryClass::GiveUp,
        status: None,
    }
}

/// What iamgate needs from a forge for one repository installation.
#[async_trait]
pub trait Forge: Send + Sync + std::fmt::Debug {
    /// The pull request as it is now (head, base, author, state).
    async fn pull_request(&self, pr: &PrRef) -> ForgeResult<PullRequest>;

    /// Every changed file of the pull request (paginated to the end).
    async fn changed_files(&self, pr: &PrRef) -> ForgeResult<ChangedFiles>;

    /// The accounts that authored or committed the pull request's commits, where the forge
    /// links commits to accounts (GitHub). GitLab names commit authors by e-mail only, which a
    /// project token cannot map to accounts: none (its pushers are known from the webhooks).
    async fn commit_authors(&self, pr: &PrRef) -> ForgeResult<Vec<Login>>;

    /// The commit a branch points at now, `None` when there is no such branch.
    async fn branch_tip(&self, repo: &RepoRef, branch: &str) -> ForgeResult<Option<Sha>>;

    /// The open pull requests with `branch` as their base or head (all pages); heads in the
    /// repository itself, not in forks.
    async fn open_pull_requests(
        &self,
        repo: &RepoRef,
        branch: &str,
        role: BranchRole,
    ) -> ForgeResult<Vec<PrNumber>>;

    /// The open pull requests whose head is `sha` now, asked of the forge (not of iamgate's
    /// own records, which may lag behind: CI can finish before the pull request's webhook is
    /// handled).
    async fn open_pull_requests_at(&self, repo: &RepoRef, sha: &Sha) -> ForgeResult<Vec<PrNumber>>;

    /// A file's bytes at a commit, `None` when it does not exist there; an error of kind
    /// [`ForgeErrorKind::SymbolicLink`] when it is a symbolic link (or lies under one).
    async fn file_at(&self, pr: &PrRef, path: &str, sha: &Sha) -> ForgeResult<Option<Vec<u8>>>;

    /// Downloads the repository archive (tar.gz) of a commit to `dest`, failing when it is larger
    /// than `max_bytes`.
    async fn download_archive(
        &self,
        pr: &PrRef,
        sha: &Sha,
        dest: &Path,
        max_bytes: u64,
    ) -> ForgeResult<()>;

    /// The id of iamgate's own comment carrying `marker`, searching every page.
    async fn find_own_comment(&self, pr: &PrRef, marker: &str) -> ForgeResult<Option<CommentId>>;

    async fn create_comment(&self, pr: &PrRef, body: &str) -> ForgeResult<CommentId>;

    /// Comment `id` of the pull request as the forge shows it now; `None` when it does not exist
    /// (deleted) or belongs to another pull request.
    async fn comment(&self, pr: &PrRef, id: CommentId) -> ForgeResult<Option<ShownComment>>;

    /// A comment visible to project members only (GitLab's internal notes), for replies to
    /// internal notes. A forge without internal comments (GitHub) posts none: `None`.
    async fn create_internal_comment(
        &self,
        pr: &PrRef,
        body: &str,
    ) -> ForgeResult<Option<CommentId>>;

    async fn update_comment(&self, pr: &PrRef, id: CommentId, body: &str) -> ForgeResult<()>;

    /// Sets the `iamgate` status on a commit.
    async fn set_status(&self, pr: &PrRef, sha: &Sha, status: &CommitStatus) -> ForgeResult<()>;

    /// The newest `iamgate` status of the pull request's head `sha`, where the forge judges the
    /// merge (GitLab: in the pipeline a status of `sha` goes to); `None` when there is none.
    /// Anyone who can post statuses can post one under that name: [`ShownStatus::ours`] tells.
    async fn shown_status(&self, pr: &PrRef, sha: &Sha) -> ForgeResult<Option<ShownStatus>>;

    /// Where the forge can require an approval by iamgate's own account (GitLab approval rules,
    /// with `[gitlab] approve_merge_requests`): approves head `sha` when `verdict` is success and
    /// withdraws iamgate's approval otherwise. Elsewhere nothing.
    async fn sign_off(&self, pr: &PrRef, sha: &Sha, verdict: GateState) -> ForgeResult<()>;

    /// Asks users and teams (`org/slug` on GitHub) to review.
    async fn request_reviewers(
        &self,
        pr: &PrRef,
        users: &[Login],
        teams: &[String],
    ) -> ForgeResult<()>;

    /// Every submitted review of the pull request, oldest first (all pages). Drafts the App
    /// cannot see are absent; a review by a deleted account is left out.
    async fn reviews(&self, pr: &PrRef) -> ForgeResult<Vec<Review>>;

    /// Whether `user` is an active member of `team` (GitHub `org/slug`, child teams included;
    /// GitLab a group path). A pending invitation is not membership (`false`). A team the forge
    /// does not show is an error naming the team (kind [`ForgeErrorKind::NotFound`]), not
    /// `false`, so that a misconfigured team or a missing permission is not read as "nobody
    /// qualifies": GitHub answers 404 alike for a non-member and for a team it does not show,
    /// so its client asks for the team after a 404. (GitLab's client still reads a 404 for a
    /// group as `false`.) Any other failure is an error too, never `false`, so that a decision
    /// fails closed. GitLab asks by the user's id when it is known.
    async fn is_team_member(&self, pr: &PrRef, team: &str, user: UserRef<'_>) -> ForgeResult<bool>;

    /// The access `user` has to the pull request's repository (`None` for strangers).
    async fn collaborator_permission(
        &self,
        pr: &PrRef,
        user: UserRef<'_>,
    ) -> ForgeResult<RepoPermission>;

    /// Puts `reaction` on a comment of the pull request as iamgate; reacting twice is harmless.
    async fn react(&self, pr: &PrRef, comment: CommentId, reaction: Reaction) -> ForgeResult<()>;

    /// The largest comment body the forge accepts, in characters.
    fn comment_limit(&self) -> usize;

    /// Whether [`Forge::request_reviewers`] can ask a team (GitHub) rather than only users
    /// (GitLab cannot ask a group): when not, the comment names the teams instead.
    fn can_request_teams(&self) -> bool;
}
