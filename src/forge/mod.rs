//! The forge interface: everything iamgate asks of GitHub or GitLab, behind one trait because
//! there are two forges (tests use the real clients against fake HTTP servers, not mocks).
//! Errors carry a retry class so the job layer decides how to retry.

pub mod github;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

use crate::event::{Login, PrRef, RepoName, Sha};

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
    pub draft: bool,
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

/// A commit status state, as the contract names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusState {
    Pending,
    Success,
    Failure,
}

impl StatusState {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Pending => "pending",
            StatusState::Success => "success",
            StatusState::Failure => "failure",
        }
    }
}

/// The `iamgate` commit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    pub state: StatusState,
    /// At most 140 characters (the forge rejects longer ones).
    pub description: String,
    pub target_url: Option<String>,
}

/// The status context iamgate owns.
pub const STATUS_CONTEXT: &str = "iamgate";

/// A comment id on the forge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommentId(pub u64);

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

/// A failed forge call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct ForgeError {
    /// What was attempted, e.g. `GET /repos/o/r/pulls/1`.
    pub operation: String,
    pub message: String,
    pub retry: RetryClass,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
}

pub type ForgeResult<T> = Result<T, ForgeError>;

/// What iamgate needs from a forge for one repository installation.
#[async_trait]
pub trait Forge: Send + Sync + std::fmt::Debug {
    /// The pull request as it is now (head, base, author, state).
    async fn pull_request(&self, pr: &PrRef) -> ForgeResult<PullRequest>;

    /// Every changed file of the pull request (paginated to the end).
    async fn changed_files(&self, pr: &PrRef) -> ForgeResult<ChangedFiles>;

    /// A file's bytes at a commit, `None` when it does not exist there.
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

    async fn update_comment(&self, pr: &PrRef, id: CommentId, body: &str) -> ForgeResult<()>;

    /// Sets the `iamgate` status on a commit.
    async fn set_status(&self, pr: &PrRef, sha: &Sha, status: &CommitStatus) -> ForgeResult<()>;

    /// Asks users and teams (`org/slug` on GitHub) to review.
    async fn request_reviewers(
        &self,
        pr: &PrRef,
        users: &[Login],
        teams: &[String],
    ) -> ForgeResult<()>;

    /// The largest comment body the forge accepts, in characters.
    fn comment_limit(&self) -> usize;
}
