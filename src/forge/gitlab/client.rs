//! `Forge` for merge requests as one GitLab token's user: the client, the token's user, the
//! retried call and `x-next-page` listing every request goes through, and how projects, merge
//! requests and commits are addressed. Each `Forge` method is the client's method of the same
//! name, in the file of its concern: `pull_requests` (merge requests, files, branches,
//! statuses, reviewers), `archive`, `comments` (notes and award emoji), `reviews` (approvals)
//! and `access` (group membership, access levels).
//!
//! A merge request is addressed by a [`PrRef`] with `forge: GitLab`, no installation, the
//! project's full path as `repo` (`group/sub/project`) and the MR iid as `number`. "Teams" are
//! group full paths (`acme/security`); iamgate's own notes are those written by the token's user.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::GitLabOptions;
use super::pagination::{MAX_PAGES, next_page};
use super::retry::GITLAB;
use super::setup::GitLabSetupError;
use super::transport::{ApiRequest, ApiResponse, Transport, encode_component, parse_json};
use crate::event::{BranchRole, ForgeKind, Login, PrNumber, PrRef, RepoRef, Sha, UserRef};
use crate::forge::http::invalid;
use crate::forge::retry::{self, Call, RetryPolicy};
use crate::forge::{
    ChangedFiles, CommentId, CommitStatus, Forge, ForgeError, ForgeErrorKind, ForgeResult,
    PullRequest, Reaction, RepoPermission, RetryClass, Review, ShownComment, ShownStatus,
};
use crate::gate::GateState;

/// GitLab's limit on note bodies, in characters.
pub const COMMENT_LIMIT: usize = 1_000_000;
/// GitLab's limit on commit status descriptions, in characters.
pub const STATUS_DESCRIPTION_LIMIT: usize = 255;
/// Stands for the source project of a merge request whose fork is gone or hidden from the
/// token: never equal to a real project path, so such a merge request counts as a fork.
pub const UNKNOWN_FORK: &str = "(unknown fork)";

/// A GitLab instance as one token's user. Cheap to clone.
#[derive(Clone)]
pub struct GitLabClient {
    inner: Arc<Inner>,
    options: GitLabOptions,
}

struct Inner {
    transport: Transport,
    policy: RetryPolicy,
    me: tokio::sync::OnceCell<Me>,
}

impl fmt::Debug for GitLabClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitLabClient")
            .field("api_url", &self.inner.transport.api_url)
            .finish_non_exhaustive()
    }
}

/// The token's user: who iamgate's notes are by.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Me {
    pub id: u64,
    pub username: String,
}

impl GitLabClient {
    /// A client with the default [`RetryPolicy`]. `base_url` is the instance, e.g.
    /// `https://gitlab.com` or `https://git.example.com/gitlab` (the API is under `/api/v4`);
    /// `token` needs the `api` scope.
    pub fn new(base_url: &str, token: &str) -> Result<Self, GitLabSetupError> {
        Self::with_retry_policy(base_url, token, RetryPolicy::default())
    }

    pub fn with_retry_policy(
        base_url: &str,
        token: &str,
        policy: RetryPolicy,
    ) -> Result<Self, GitLabSetupError> {
        let transport = Transport::new(base_url, token, &policy)?;
        Ok(GitLabClient {
            inner: Arc::new(Inner {
                transport,
                policy,
                me: tokio::sync::OnceCell::new(),
            }),
            options: GitLabOptions::default(),
        })
    }

    /// The same client acting on `options` (the server config's `[gitlab]` choices).
    pub fn with_options(self, options: GitLabOptions) -> Self {
        GitLabClient { options, ..self }
    }

    pub(crate) fn options(&self) -> GitLabOptions {
        self.options
    }

    /// The API base URL, e.g. `https://gitlab.com/api/v4`.
    pub fn api_url(&self) -> &str {
        &self.inner.transport.api_url
    }

    /// The token's user, read once from `GET /user`.
    pub async fn me(&self) -> ForgeResult<Me> {
        self.inner
            .me
            .get_or_try_init(|| async {
                let request = ApiRequest::get("/user".to_owned());
                let response = self.call(&request, "user", true).await?;
                parse_json::<Me>(&response, &request)
            })
            .await
            .cloned()
    }

    /// One retried call; a non-2xx response is an error.
    pub(crate) async fn call(
        &self,
        request: &ApiRequest,
        op: &'static str,
        idempotent: bool,
    ) -> ForgeResult<ApiResponse> {
        let call = Call {
            operation: request.operation(),
            op,
            idempotent,
        };
        let transport = &self.inner.transport;
        retry::run(&self.inner.policy, &GITLAB, &call, || {
            Box::pin(transport.send(request))
        })
        .await
    }

    /// Every item of a listing, page by page along `x-next-page`; `false` when the page cap
    /// stopped it early. `path` carries its query (with `per_page`).
    pub(crate) async fn list_all<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        op: &'static str,
    ) -> ForgeResult<(Vec<T>, bool)> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut request = ApiRequest::get(path.to_owned());
        for _ in 0..MAX_PAGES {
            let response = self.call(&request, op, true).await?;
            items.extend(parse_json::<Vec<T>>(&response, &request)?);
            match next_page(&response.headers) {
                Some(page) => request = ApiRequest::get(format!("{path}{separator}page={page}")),
                None => return Ok((items, true)),
            }
        }
        tracing::warn!(operation = %request.operation(), pages = MAX_PAGES, "stopped paging at the page cap");
        Ok((items, false))
    }

    /// Every item of a listing that a decision must see whole, or, when the page cap stopped
    /// it, a `TooLarge` error (never retried): `what` has more items "than iamgate reads (N pages
    /// of 100), so `why`".
    pub(crate) async fn list_whole<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        op: &'static str,
        what: &str,
        why: &str,
    ) -> ForgeResult<Vec<T>> {
        match self.list_all(path, op).await? {
            (items, true) => Ok(items),
            (_, false) => Err(ForgeError {
                operation: ApiRequest::get(path.to_owned()).operation(),
                message: format!("{what} than iamgate reads ({MAX_PAGES} pages of 100), so {why}"),
                kind: ForgeErrorKind::TooLarge,
                retry: RetryClass::GiveUp,
                status: None,
            }),
        }
    }

    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.inner.policy
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }
}

/// A namespace or project path: `/`-separated segments of letters, digits, `-`, `_`, `.`
/// (not `.` or `..`), URL-encoded as one component (`group%2Fsub%2Fproject`).
pub(crate) fn encode_full_path(what: &str, path: &str) -> ForgeResult<String> {
    let plain = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if path.split('/').all(plain) {
        Ok(encode_component(path))
    } else {
        Err(invalid(
            &format!("address the {what}"),
            &format!("not a GitLab {what} path: {path:?}"),
        ))
    }
}

/// `/projects/group%2Fproject` for a GitLab merge request reference.
pub(crate) fn project_path(pr: &PrRef) -> ForgeResult<String> {
    repo_project_path(&pr.repo_ref())
}

/// `/projects/group%2Fproject` for a GitLab project reference.
pub(crate) fn repo_project_path(repo: &RepoRef) -> ForgeResult<String> {
    if repo.forge != ForgeKind::GitLab {
        return Err(invalid(&format!("address {repo}"), "not a GitLab project"));
    }
    Ok(format!(
        "/projects/{}",
        encode_full_path("project", repo.repo.as_str())?
    ))
}

/// `/projects/…/merge_requests/{iid}`.
pub(crate) fn mr_path(pr: &PrRef) -> ForgeResult<String> {
    Ok(format!(
        "{}/merge_requests/{}",
        project_path(pr)?,
        pr.number.0
    ))
}

/// A commit SHA as a query value or path segment: ASCII letters and digits only.
pub(crate) fn sha_param(sha: &Sha) -> ForgeResult<&str> {
    let s = sha.as_str();
    if !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(s)
    } else {
        Err(invalid(
            "address the commit",
            &format!("not a commit SHA: {s:?}"),
        ))
    }
}

#[async_trait]
impl Forge for GitLabClient {
    async fn pull_request(&self, pr: &PrRef) -> ForgeResult<PullRequest> {
        GitLabClient::pull_request(self, pr).await
    }

    async fn changed_files(&self, pr: &PrRef) -> ForgeResult<ChangedFiles> {
        GitLabClient::changed_files(self, pr).await
    }

    async fn branch_tip(&self, repo: &RepoRef, branch: &str) -> ForgeResult<Option<Sha>> {
        GitLabClient::branch_tip(self, repo, branch).await
    }

    async fn open_pull_requests(
        &self,
        repo: &RepoRef,
        branch: &str,
        role: BranchRole,
    ) -> ForgeResult<Vec<PrNumber>> {
        GitLabClient::open_pull_requests(self, repo, branch, role).await
    }

    async fn open_pull_requests_at(&self, repo: &RepoRef, sha: &Sha) -> ForgeResult<Vec<PrNumber>> {
        GitLabClient::open_pull_requests_at(self, repo, sha).await
    }

    async fn file_at(&self, pr: &PrRef, path: &str, sha: &Sha) -> ForgeResult<Option<Vec<u8>>> {
        GitLabClient::file_at(self, pr, path, sha).await
    }

    async fn download_archive(
        &self,
        pr: &PrRef,
        sha: &Sha,
        dest: &Path,
        max_bytes: u64,
    ) -> ForgeResult<()> {
        GitLabClient::download_archive(self, pr, sha, dest, max_bytes).await
    }

    async fn find_own_comment(&self, pr: &PrRef, marker: &str) -> ForgeResult<Option<CommentId>> {
        GitLabClient::find_own_comment(self, pr, marker).await
    }

    async fn commit_authors(&self, _pr: &PrRef) -> ForgeResult<Vec<Login>> {
        // GitLab's commits carry e-mail addresses, not accounts: pushers come from the webhooks.
        Ok(Vec::new())
    }

    async fn comment(&self, pr: &PrRef, id: CommentId) -> ForgeResult<Option<ShownComment>> {
        GitLabClient::comment(self, pr, id).await
    }

    async fn create_internal_comment(
        &self,
        pr: &PrRef,
        body: &str,
    ) -> ForgeResult<Option<CommentId>> {
        GitLabClient::create_internal_comment(self, pr, body)
            .await
            .map(Some)
    }

    async fn create_comment(&self, pr: &PrRef, body: &str) -> ForgeResult<CommentId> {
        GitLabClient::create_comment(self, pr, body).await
    }

    async fn update_comment(&self, pr: &PrRef, id: CommentId, body: &str) -> ForgeResult<()> {
        GitLabClient::update_comment(self, pr, id, body).await
    }

    async fn set_status(&self, pr: &PrRef, sha: &Sha, status: &CommitStatus) -> ForgeResult<()> {
        GitLabClient::set_status(self, pr, sha, status).await
    }

    async fn shown_status(&self, pr: &PrRef, sha: &Sha) -> ForgeResult<Option<ShownStatus>> {
        GitLabClient::shown_status(self, pr, sha).await
    }

    async fn sign_off(&self, pr: &PrRef, sha: &Sha, verdict: GateState) -> ForgeResult<()> {
        GitLabClient::sign_off(self, pr, sha, verdict).await
    }

    async fn request_reviewers(
        &self,
        pr: &PrRef,
        users: &[Login],
        teams: &[String],
    ) -> ForgeResult<()> {
        GitLabClient::request_reviewers(self, pr, users, teams).await
    }

    async fn reviews(&self, pr: &PrRef) -> ForgeResult<Vec<Review>> {
        GitLabClient::reviews(self, pr).await
    }

    async fn is_team_member(&self, pr: &PrRef, team: &str, user: UserRef<'_>) -> ForgeResult<bool> {
        GitLabClient::is_team_member(self, pr, team, user).await
    }

    async fn collaborator_permission(
        &self,
        pr: &PrRef,
        user: UserRef<'_>,
    ) -> ForgeResult<RepoPermission> {
        GitLabClient::collaborator_permission(self, pr, user).await
    }

    async fn react(&self, pr: &PrRef, comment: CommentId, reaction: Reaction) -> ForgeResult<()> {
        GitLabClient::react(self, pr, comment, reaction).await
    }

    fn comment_limit(&self) -> usize {
        COMMENT_LIMIT
    }

    fn can_request_teams(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{PrNumber, RepoName};

    fn pr(repo: &str) -> PrRef {
        PrRef {
            forge: ForgeKind::GitLab,
            installation: None,
            repo: RepoName::from(repo),
            number: PrNumber(3),
        }
    }

    #[test]
    fn project_paths_are_encoded_and_checked() {
        assert_eq!(
            mr_path(&pr("acme/sub.group/infra-v2")).unwrap(),
            "/projects/acme%2Fsub.group%2Finfra-v2/merge_requests/3"
        );
        for bad in [
            "",
            "acme//x",
            "acme/../x",
            "acme/in fra",
            "acme/x?y",
            "/acme/x",
            "acme/x/",
        ] {
            assert!(project_path(&pr(bad)).is_err(), "{bad}");
        }
        let github = PrRef {
            forge: ForgeKind::GitHub,
            ..pr("acme/infra")
        };
        assert!(project_path(&github).is_err());
    }

    #[test]
    fn shas_must_be_plain() {
        assert!(sha_param(&Sha::from("0123abcd")).is_ok());
        for bad in ["", "main/../x", "a b", "a&b=c"] {
            assert!(sha_param(&Sha::from(bad)).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn debug_output_leaves_out_the_token() {
        let client = GitLabClient::new("https://gitlab.example.com", "glpat-very-secret").unwrap();
        let shown = format!("{client:?}");
        assert!(shown.contains("gitlab.example.com/api/v4"), "{shown}");
        assert!(!shown.contains("glpat-very-secret"), "{shown}");
    }
}
