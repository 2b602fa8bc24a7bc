//! The GitHub App client: `Forge` over GitHub's REST API with octocrab as transport (its retries
//! off), App JWT and cached installation tokens, our own retry policy, pagination that keeps
//! every page authenticated, and a hand-followed tarball redirect. Never logs a token or the key.
//!
//! [`GitHubApp`] is the App; [`GitHubApp::installation`] gives a [`GitHubClient`] for one
//! installation. `GitHubApp` itself is also a `Forge` that picks the installation from
//! `PrRef::installation`, for a job context that serves every installation.

mod access;
mod app;
mod archive;
mod auth;
mod client;
mod comments;
mod pagination;
mod retry;
mod transport;

use std::path::Path;

use async_trait::async_trait;

pub use app::{GitHubApp, GitHubSetupError};
pub use client::{
    COMMENT_LIMIT, DELETED_FORK, GitHubClient, MAX_LISTED_FILES, STATUS_DESCRIPTION_LIMIT,
};
pub use retry::RetryPolicy;

use crate::event::{BranchRole, Login, PrNumber, PrRef, RepoRef, Sha, UserRef};
use crate::forge::{
    ChangedFiles, CommentId, CommitStatus, Forge, ForgeError, ForgeResult, PullRequest, Reaction,
    RepoPermission, RetryClass, Review,
};

impl GitHubApp {
    /// The client for the installation a pull request was delivered through.
    pub fn client_for(&self, pr: &PrRef) -> ForgeResult<GitHubClient> {
        self.client_for_repo(&pr.repo_ref())
    }

    /// The client of the installation `repo` was addressed through.
    pub fn client_for_repo(&self, repo: &RepoRef) -> ForgeResult<GitHubClient> {
        repo.installation
            .map(|id| self.installation(id))
            .ok_or_else(|| ForgeError {
                operation: format!("address {repo}"),
                message: "the repository carries no GitHub App installation id".to_owned(),
                retry: RetryClass::GiveUp,
                status: None,
            })
    }
}

#[async_trait]
impl Forge for GitHubApp {
    async fn pull_request(&self, pr: &PrRef) -> ForgeResult<PullRequest> {
        self.client_for(pr)?.pull_request(pr).await
    }

    async fn changed_files(&self, pr: &PrRef) -> ForgeResult<ChangedFiles> {
        self.client_for(pr)?.changed_files(pr).await
    }

    async fn branch_tip(&self, repo: &RepoRef, branch: &str) -> ForgeResult<Option<Sha>> {
        self.client_for_repo(repo)?.branch_tip(repo, branch).await
    }

    async fn open_pull_requests(
        &self,
        repo: &RepoRef,
        branch: &str,
        role: BranchRole,
    ) -> ForgeResult<Vec<PrNumber>> {
        self.client_for_repo(repo)?
            .open_pull_requests(repo, branch, role)
            .await
    }

    async fn file_at(&self, pr: &PrRef, path: &str, sha: &Sha) -> ForgeResult<Option<Vec<u8>>> {
        self.client_for(pr)?.file_at(pr, path, sha).await
    }

    async fn download_archive(
        &self,
        pr: &PrRef,
        sha: &Sha,
        dest: &Path,
        max_bytes: u64,
    ) -> ForgeResult<()> {
        self.client_for(pr)?
            .download_archive(pr, sha, dest, max_bytes)
            .await
    }

    async fn find_own_comment(&self, pr: &PrRef, marker: &str) -> ForgeResult<Option<CommentId>> {
        self.client_for(pr)?.find_own_comment(pr, marker).await
    }

    async fn create_comment(&self, pr: &PrRef, body: &str) -> ForgeResult<CommentId> {
        self.client_for(pr)?.create_comment(pr, body).await
    }

    async fn update_comment(&self, pr: &PrRef, id: CommentId, body: &str) -> ForgeResult<()> {
        self.client_for(pr)?.update_comment(pr, id, body).await
    }

    async fn set_status(&self, pr: &PrRef, sha: &Sha, status: &CommitStatus) -> ForgeResult<()> {
        self.client_for(pr)?.set_status(pr, sha, status).await
    }

    async fn request_reviewers(
        &self,
        pr: &PrRef,
        users: &[Login],
        teams: &[String],
    ) -> ForgeResult<()> {
        self.client_for(pr)?
            .request_reviewers(pr, users, teams)
            .await
    }

    async fn reviews(&self, pr: &PrRef) -> ForgeResult<Vec<Review>> {
        self.client_for(pr)?.reviews(pr).await
    }

    async fn is_team_member(&self, pr: &PrRef, team: &str, user: UserRef<'_>) -> ForgeResult<bool> {
        self.client_for(pr)?.is_team_member(pr, team, user).await
    }

    async fn collaborator_permission(
        &self,
        pr: &PrRef,
        user: UserRef<'_>,
    ) -> ForgeResult<RepoPermission> {
        self.client_for(pr)?.collaborator_permission(pr, user).await
    }

    async fn react(&self, pr: &PrRef, comment: CommentId, reaction: Reaction) -> ForgeResult<()> {
        self.client_for(pr)?.react(pr, comment, reaction).await
    }

    fn comment_limit(&self) -> usize {
        COMMENT_LIMIT
    }

    fn can_request_teams(&self) -> bool {
        true
    }
}
