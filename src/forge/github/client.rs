//! `Forge` for one GitHub App installation: the client, the authenticated call and `Link`
//! listing every request goes through, and how repositories and commits are addressed. Each
//! `Forge` method is the client's method of the same name, in the file of its concern:
//! `pull_requests` (pull requests, files, branches, statuses, review requests), `archive`,
//! `comments` (comments and reactions), `reviews` and `access` (membership, permissions).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::pagination::{MAX_PAGES, next_page};
use super::session::Session;
use super::transport::{ApiRequest, ApiResponse, encode_path, parse_json};
use crate::event::{BranchRole, Login, PrNumber, PrRef, RepoName, RepoRef, Sha, UserRef};
use crate::forge::http::invalid;
use crate::forge::{
    ChangedFiles, CommentId, CommitStatus, Forge, ForgeError, ForgeErrorKind, ForgeResult,
    PullRequest, Reaction, RepoPermission, RetryClass, Review, ShownComment, ShownStatus,
};
use crate::gate::GateState;

/// GitHub lists at most this many files of a pull request.
pub const MAX_LISTED_FILES: usize = 3000;
/// GitHub's limit on comment bodies, in characters.
pub const COMMENT_LIMIT: usize = 65_536;
/// GitHub's limit on status descriptions, in characters.
pub const STATUS_DESCRIPTION_LIMIT: usize = 140;
/// Stands for the head repository of a pull request whose fork was deleted: never equal to a
/// real `owner/name`, so such a pull request counts as a fork.
pub const DELETED_FORK: &str = "(deleted fork)";

/// The App acting as one installation. Cheap to clone.
#[derive(Clone)]
pub struct GitHubClient {
    pub(crate) session: Arc<Session>,
    pub(crate) installation: u64,
}

impl std::fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubClient")
            .field("installation", &self.installation)
            .field("api_url", &self.session.transport.api_url)
            .finish()
    }
}

/// A user as GitHub shows one in pull requests, comments and reviews.
#[derive(Deserialize)]
pub(crate) struct UserJson {
    pub login: String,
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl GitHubClient {
    pub(crate) fn new(session: Arc<Session>, installation: u64) -> Self {
        GitHubClient {
            session,
            installation,
        }
    }

    pub fn installation_id(&self) -> u64 {
        self.installation
    }

    /// One authenticated, retried call as this installation.
    pub(crate) async fn call(
        &self,
        request: &ApiRequest,
        op: &'static str,
        idempotent: bool,
    ) -> ForgeResult<ApiResponse> {
        self.session
            .call(self.installation, request, op, idempotent)
            .await
    }

    /// Every item of a paginated listing, following `Link: rel="next"`; `false` when the page
    /// cap stopped it early.
    pub(crate) async fn list_all<T: serde::de::DeserializeOwned>(
        &self,
        first: String,
        op: &'static str,
    ) -> ForgeResult<(Vec<T>, bool)> {
        let mut items = Vec::new();
        let mut request = ApiRequest::get(first);
        for _ in 0..MAX_PAGES {
            let response = self.call(&request, op, true).await?;
            items.extend(parse_json::<Vec<T>>(&response, &request)?);
            match next_page(&response.headers) {
                Some(next) => request = ApiRequest::get(next),
                None => return Ok((items, true)),
            }
        }
        tracing::warn!(operation = %request.operation(), pages = MAX_PAGES, "stopped paging at the page cap");
        Ok((items, false))
    }

    /// Every item of a paginated listing that a decision must see whole, or, when the page cap
    /// stopped it, a `TooLarge` error (never retried) saying what part of a listing is missing
    /// and what iamgate does not do without it: `why` completes "... than iamgate reads (N
    /// pages of 100), so ...".
    pub(crate) async fn list_whole<T: serde::de::DeserializeOwned>(
        &self,
        first: String,
        op: &'static str,
        what: &str,
        why: &str,
    ) -> ForgeResult<Vec<T>> {
        let operation = ApiRequest::get(first.clone()).operation();
        match self.list_all(first, op).await? {
            (items, true) => Ok(items),
            (_, false) => Err(listing_too_large(operation, what, why)),
        }
    }
}

#[async_trait]
impl Forge for GitHubClient {
    async fn pull_request(&self, pr: &PrRef) -> ForgeResult<PullRequest> {
        GitHubClient::pull_request(self, pr).await
    }

    async fn changed_files(&self, pr: &PrRef) -> ForgeResult<ChangedFiles> {
        GitHubClient::changed_files(self, pr).await
    }

    async fn branch_tip(&self, repo: &RepoRef, branch: &str) -> ForgeResult<Option<Sha>> {
        GitHubClient::branch_tip(self, repo, branch).await
    }

    async fn open_pull_requests(
        &self,
        repo: &RepoRef,
        branch: &str,
        role: BranchRole,
    ) -> ForgeResult<Vec<PrNumber>> {
        GitHubClient::open_pull_requests(self, repo, branch, role).await
    }

    async fn open_pull_requests_at(&self, repo: &RepoRef, sha: &Sha) -> ForgeResult<Vec<PrNumber>> {
        GitHubClient::open_pull_requests_at(self, repo, sha).await
    }

    async fn file_at(&self, pr: &PrRef, path: &str, sha: &Sha) -> ForgeResult<Option<Vec<u8>>> {
        GitHubClient::file_at(self, pr, path, sha).await
    }

    async fn download_archive(
        &self,
        pr: &PrRef,
        sha: &Sha,
        dest: &Path,
        max_bytes: u64,
    ) -> ForgeResult<()> {
        GitHubClient::download_archive(self, pr, sha, dest, max_bytes).await
    }

    async fn find_own_comment(&self, pr: &PrRef, marker: &str) -> ForgeResult<Option<CommentId>> {
        GitHubClient::find_own_comment(self, pr, marker).await
    }

    async fn commit_authors(&self, pr: &PrRef) -> ForgeResult<Vec<Login>> {
        GitHubClient::commit_authors(self, pr).await
    }

    async fn comment(&self, pr: &PrRef, id: CommentId) -> ForgeResult<Option<ShownComment>> {
        GitHubClient::comment(self, pr, id).await
    }

    async fn create_internal_comment(
        &self,
        _pr: &PrRef,
        _body: &str,
    ) -> ForgeResult<Option<CommentId>> {
        // GitHub has no comments that only members see.
        Ok(None)
    }

    async fn create_comment(&self, pr: &PrRef, body: &str) -> ForgeResult<CommentId> {
        GitHubClient::create_comment(self, pr, body).await
    }

    async fn update_comment(&self, pr: &PrRef, id: CommentId, body: &str) -> ForgeResult<()> {
        GitHubClient::update_comment(self, pr, id, body).await
    }

    async fn set_status(&self, pr: &PrRef, sha: &Sha, status: &CommitStatus) -> ForgeResult<()> {
        GitHubClient::set_status(self, pr, sha, status).await
    }

    async fn shown_status(&self, pr: &PrRef, sha: &Sha) -> ForgeResult<Option<ShownStatus>> {
        GitHubClient::shown_status(self, pr, sha).await
    }

    /// GitHub's branch protection requires the `iamgate` status itself (with the App as its
    /// expected source): no approval of iamgate's is needed.
    async fn sign_off(&self, _pr: &PrRef, _sha: &Sha, _verdict: GateState) -> ForgeResult<()> {
        Ok(())
    }

    async fn request_reviewers(
        &self,
        pr: &PrRef,
        users: &[Login],
        teams: &[String],
    ) -> ForgeResult<()> {
        GitHubClient::request_reviewers(self, pr, users, teams).await
    }

    async fn reviews(&self, pr: &PrRef) -> ForgeResult<Vec<Review>> {
        GitHubClient::reviews(self, pr).await
    }

    async fn is_team_member(&self, pr: &PrRef, team: &str, user: UserRef<'_>) -> ForgeResult<bool> {
        GitHubClient::is_team_member(self, pr, team, user).await
    }

    async fn collaborator_permission(
        &self,
        pr: &PrRef,
        user: UserRef<'_>,
    ) -> ForgeResult<RepoPermission> {
        GitHubClient::collaborator_permission(self, pr, user).await
    }

    async fn react(&self, pr: &PrRef, comment: CommentId, reaction: Reaction) -> ForgeResult<()> {
        GitHubClient::react(self, pr, comment, reaction).await
    }

    fn comment_limit(&self) -> usize {
        COMMENT_LIMIT
    }

    fn can_request_teams(&self) -> bool {
        true
    }
}

/// The error of a listing cut at the page cap: `what` has more items than iamgate reads, so
/// `why`.
pub(crate) fn listing_too_large(operation: String, what: &str, why: &str) -> ForgeError {
    ForgeError {
        operation,
        message: format!("{what} than iamgate reads ({MAX_PAGES} pages of 100), so {why}"),
        kind: ForgeErrorKind::TooLarge,
        retry: RetryClass::GiveUp,
        status: None,
    }
}

/// `/repos/owner/name`, refusing names that are not a plain `owner/name`.
pub(crate) fn repo_path(repo: &RepoName) -> ForgeResult<String> {
    let (owner, name) = split_repo(repo)?;
    Ok(format!("/repos/{owner}/{name}"))
}

/// A name usable as one URL path segment as is: letters, digits, `-`, `_`, `.`, not `.`/`..`.
pub(crate) fn plain_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The owner and the name of a plain `owner/name`.
pub(crate) fn split_repo(repo: &RepoName) -> ForgeResult<(&str, &str)> {
    match repo.as_str().split_once('/') {
        Some((owner, name)) if plain_segment(owner) && plain_segment(name) => Ok((owner, name)),
        _ => Err(invalid(
            "address the repository",
            &format!("not an owner/name repository: {:?}", repo.as_str()),
        )),
    }
}

/// One path segment (a SHA or ref), percent-encoded; `/` is not allowed.
pub(crate) fn encode_segment(segment: &str) -> ForgeResult<String> {
    if segment.is_empty() || segment.contains('/') {
        return Err(invalid(
            "address the commit",
            &format!("not a commit: {segment:?}"),
        ));
    }
    Ok(encode_path(segment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_must_be_plain() {
        assert_eq!(
            repo_path(&RepoName::from("acme/infra.v2")).unwrap(),
            "/repos/acme/infra.v2"
        );
        for bad in [
            "acme",
            "acme/../x",
            "../acme",
            "acme/infra?x=1",
            "acme/in fra",
            "/infra",
            "acme/..",
        ] {
            assert!(repo_path(&RepoName::from(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn commit_segments_cannot_escape_the_path() {
        assert_eq!(encode_segment("abc123").unwrap(), "abc123");
        assert!(encode_segment("main/../x").is_err());
        assert!(encode_segment("").is_err());
        assert_eq!(encode_segment("a?b").unwrap(), "a%3Fb");
    }
}
