//! The GitLab client: the token's user, the retried call and `x-next-page` listing every
//! request goes through, how projects, merge requests and commits are addressed, and `Forge`
//! for merge requests (the calls themselves live in `pull_requests`, `comments` and `access`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::transport::{
    self, ApiRequest, ApiResponse, GITLAB, MAX_PAGES, Transport, encode_component,
};
use crate::event::{BranchRole, ForgeKind, Login, PrNumber, PrRef, RepoRef, Sha, UserRef};
use crate::forge::http::parse_json_of;
pub(crate) use crate::forge::http::{invalid, truncate_chars};
use crate::forge::retry::RetryPolicy;
use crate::forge::retry::{self, Call};
use crate::forge::{
    ChangedFiles, CommentId, CommitStatus, Forge, ForgeResult, PullRequest, Reaction,
    RepoPermission, Review,
};

/// GitLab's limit on note bodies, in characters.
pub const COMMENT_LIMIT: usize = 1_000_000;
/// GitLab's limit on commit status descriptions, in characters.
pub const STATUS_DESCRIPTION_LIMIT: usize = 255;
/// Stands for the source project of a merge request whose fork is gone or hidden from the
/// token: never equal to a real project path, so such a merge request counts as a fork.
pub const UNKNOWN_FORK: &str = "(unknown fork)";

/// Why a [`GitLabClient`] cannot be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum GitLabSetupError {
    #[error("gitlab.url: {0}")]
    Url(String),
    #[error("gitlab.token: {0}")]
    Token(String),
    #[error("cannot build the GitLab HTTP client: {0}")]
    Client(String),
}

/// A GitLab instance as one token's user. Cheap to clone.
#[derive(Clone)]
pub struct GitLabClient {
    inner: Arc<Inner>,
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
        })
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
            match transport::next_page(&response.headers) {
                Some(page) => request = ApiRequest::get(format!("{path}{separator}page={page}")),
                None => return Ok((items, true)),
            }
        }
        tracing::warn!(operation = %request.operation(), pages = MAX_PAGES, "stopped paging at the page cap");
        Ok((items, false))
    }

    /// The id of the user named `login`, `None` when there is none.
    pub(crate) async fn user_id(&self, login: &Login) -> ForgeResult<Option<u64>> {
        #[derive(Deserialize)]
        struct UserJson {
            id: u64,
            username: String,
        }
        let request = ApiRequest::get(format!(
            "/users?username={}",
            encode_component(login.as_str())
        ));
        let response = self.call(&request, "user_lookup", true).await?;
        let users: Vec<UserJson> = parse_json(&response, &request)?;
        Ok(users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(login.as_str()))
            .map(|u| u.id))
    }

    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.inner.policy
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }
}

/// Decodes a JSON response into our own minimal struct (unknown fields ignored).
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    response: &ApiResponse,
    request: &ApiRequest,
) -> ForgeResult<T> {
    parse_json_of("GitLab", response, || request.operation())
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
        self.fetch_merge_request(pr).await
    }

    async fn changed_files(&self, pr: &PrRef) -> ForgeResult<ChangedFiles> {
        self.fetch_changed_files(pr).await
    }

    async fn branch_tip(&self, repo: &RepoRef, branch: &str) -> ForgeResult<Option<Sha>> {
        self.fetch_branch_tip(repo, branch).await
    }

    async fn open_pull_requests(
        &self,
        repo: &RepoRef,
        branch: &str,
        role: BranchRole,
    ) -> ForgeResult<Vec<PrNumber>> {
        self.list_open_merge_requests(repo, branch, role).await
    }

    async fn file_at(&self, pr: &PrRef, path: &str, sha: &Sha) -> ForgeResult<Option<Vec<u8>>> {
        self.fetch_file(pr, path, sha).await
    }

    async fn download_archive(
        &self,
        pr: &PrRef,
        sha: &Sha,
        dest: &Path,
        max_bytes: u64,
    ) -> ForgeResult<()> {
        self.fetch_archive(pr, sha, dest, max_bytes).await
    }

    async fn find_own_comment(&self, pr: &PrRef, marker: &str) -> ForgeResult<Option<CommentId>> {
        self.find_marked_note(pr, marker).await
    }

    async fn create_comment(&self, pr: &PrRef, body: &str) -> ForgeResult<CommentId> {
        self.create_note_without_duplicates(pr, body).await
    }

    async fn update_comment(&self, pr: &PrRef, id: CommentId, body: &str) -> ForgeResult<()> {
        self.edit_note(pr, id, body).await
    }

    async fn set_status(&self, pr: &PrRef, sha: &Sha, status: &CommitStatus) -> ForgeResult<()> {
        self.post_status(pr, sha, status).await
    }

    async fn request_reviewers(
        &self,
        pr: &PrRef,
        users: &[Login],
        teams: &[String],
    ) -> ForgeResult<()> {
        self.add_reviewers(pr, users, teams).await
    }

    async fn reviews(&self, pr: &PrRef) -> ForgeResult<Vec<Review>> {
        self.list_approvals(pr).await
    }

    async fn is_team_member(
        &self,
        _pr: &PrRef,
        team: &str,
        user: UserRef<'_>,
    ) -> ForgeResult<bool> {
        self.group_membership(team, user).await
    }

    async fn collaborator_permission(
        &self,
        pr: &PrRef,
        user: UserRef<'_>,
    ) -> ForgeResult<RepoPermission> {
        self.project_permission(pr, user).await
    }

    async fn react(&self, pr: &PrRef, comment: CommentId, reaction: Reaction) -> ForgeResult<()> {
        self.award_emoji(pr, comment, reaction).await
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
