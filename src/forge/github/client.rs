//! `Forge` for one GitHub App installation: pull requests, changed files, file contents,
//! statuses and review requests, decoded into our own minimal structs (unknown fields ignored).
//! Comments and archives live in `comments` and `archive`; reviews, membership, permissions and
//! reactions in `approvals`; auth and retries in `app`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::Method;
use serde::Deserialize;
use serde_json::json;

use super::app::{AppCore, parse_json};
use super::pagination::{MAX_PAGES, next_page};
use super::transport::{ApiRequest, ApiResponse, encode_path};
use crate::event::{BranchRole, Login, PrNumber, PrRef, RepoName, RepoRef, Sha, UserRef};
use crate::forge::http::{invalid, percent_encode, plain_file_path, truncate_chars};
use crate::forge::{
    ChangedFiles, CommentId, CommitStatus, Forge, ForgeResult, PullRequest, Reaction,
    RepoPermission, Review, STATUS_CONTEXT,
};

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
    pub(crate) core: Arc<AppCore>,
    pub(crate) installation: u64,
}

impl std::fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubClient")
            .field("installation", &self.installation)
            .field("api_url", &self.core.transport.api_url)
            .finish()
    }
}

#[derive(Deserialize)]
struct PullJson {
    state: String,
    #[serde(default)]
    draft: bool,
    head: BranchJson,
    base: BranchJson,
    user: Option<UserJson>,
}

#[derive(Deserialize)]
struct BranchJson {
    sha: String,
    #[serde(rename = "ref")]
    name: String,
    repo: Option<RepoJson>,
}

#[derive(Deserialize)]
struct RepoJson {
    full_name: String,
}

#[derive(Deserialize)]
pub(crate) struct UserJson {
    pub login: String,
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Deserialize)]
struct PrFileJson {
    filename: String,
    previous_filename: Option<String>,
}

impl GitHubClient {
    pub(crate) fn new(core: Arc<AppCore>, installation: u64) -> Self {
        GitHubClient { core, installation }
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
        self.core
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

    async fn fetch_pull_request(&self, pr: &PrRef) -> ForgeResult<PullRequest> {
        let request = ApiRequest::get(format!("{}/pulls/{}", repo_path(&pr.repo)?, pr.number.0));
        let response = self.call(&request, "pull_request", true).await?;
        let pull: PullJson = parse_json(&response, &request)?;
        Ok(PullRequest {
            head: Sha(pull.head.sha),
            base: Sha(pull.base.sha),
            base_ref: pull.base.name,
            head_repo: RepoName(
                pull.head
                    .repo
                    .map_or_else(|| DELETED_FORK.to_owned(), |r| r.full_name),
            ),
            author: Login(pull.user.map_or_else(|| "ghost".to_owned(), |u| u.login)),
            open: pull.state == "open",
            draft: pull.draft,
        })
    }

    async fn fetch_changed_files(&self, pr: &PrRef) -> ForgeResult<ChangedFiles> {
        let first = format!(
            "{}/pulls/{}/files?per_page=100",
            repo_path(&pr.repo)?,
            pr.number.0
        );
        let (files, complete) = self.list_all::<PrFileJson>(first, "changed_files").await?;
        let mut seen = HashSet::new();
        let mut paths = Vec::new();
        for file in &files {
            for path in std::iter::once(&file.filename).chain(file.previous_filename.as_ref()) {
                if seen.insert(path.as_str()) {
                    paths.push(path.clone());
                }
            }
        }
        Ok(ChangedFiles {
            paths,
            truncated: !complete || files.len() >= MAX_LISTED_FILES,
        })
    }

    async fn fetch_file(&self, pr: &PrRef, path: &str, sha: &Sha) -> ForgeResult<Option<Vec<u8>>> {
        let path = contents_path(path)?;
        let request = ApiRequest {
            accept: "application/vnd.github.raw+json",
            ..ApiRequest::get(format!(
                "{}/contents/{}?ref={}",
                repo_path(&pr.repo)?,
                path,
                encode_segment(sha.as_str())?
            ))
        };
        match self.call(&request, "file_at", true).await {
            Ok(response) => Ok(Some(response.body.to_vec())),
            Err(error) if error.status == Some(404) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn post_status(&self, pr: &PrRef, sha: &Sha, status: &CommitStatus) -> ForgeResult<()> {
        let mut body = json!({
            "state": status.state.as_str(),
            "description": truncate_chars(&status.description, STATUS_DESCRIPTION_LIMIT),
            "context": STATUS_CONTEXT,
        });
        if let Some(url) = &status.target_url {
            body["target_url"] = json!(url);
        }
        let path = format!(
            "{}/statuses/{}",
            repo_path(&pr.repo)?,
            encode_segment(sha.as_str())?
        );
        // Posting the same status twice leaves the same state: safe to retry.
        self.call(
            &ApiRequest::with_body(Method::POST, path, body),
            "set_status",
            true,
        )
        .await
        .map(drop)
    }

    async fn post_review_request(
        &self,
        pr: &PrRef,
        users: &[Login],
        teams: &[String],
    ) -> ForgeResult<()> {
        let (owner, _) = split_repo(&pr.repo)?;
        let mut slugs = Vec::new();
        for team in teams {
            match team.split_once('/') {
                Some((org, slug)) if org.eq_ignore_ascii_case(owner) => slugs.push(slug.to_owned()),
                Some(_) => {
                    tracing::warn!(repo = %pr.repo, team, "team of another organization cannot review, skipped")
                }
                None => slugs.push(team.clone()),
            }
        }
        let users: Vec<String> = users.iter().map(|u| u.0.clone()).collect();
        if users.is_empty() && slugs.is_empty() {
            return Ok(());
        }
        let path = format!(
            "{}/pulls/{}/requested_reviewers",
            repo_path(&pr.repo)?,
            pr.number.0
        );
        let request = |users: &[String], teams: &[String]| {
            ApiRequest::with_body(
                Method::POST,
                path.clone(),
                json!({ "reviewers": users, "team_reviewers": teams }),
            )
        };
        // Requesting the same reviewers twice changes nothing: safe to retry.
        match self
            .call(&request(&users, &slugs), "request_reviewers", true)
            .await
        {
            Err(error) if error.status == Some(422) => {}
            other => return other.map(drop),
        }
        // GitHub refuses the whole request when one reviewer cannot be asked (the author, a
        // non-collaborator, a team without access) and does not say who: ask one at a time.
        let singles = users
            .iter()
            .map(|u| (vec![u.clone()], vec![]))
            .chain(slugs.iter().map(|t| (vec![], vec![t.clone()])));
        for (user, team) in singles {
            match self
                .call(&request(&user, &team), "request_reviewers", true)
                .await
            {
                Ok(_) => {}
                Err(error) if error.status == Some(422) => {
                    tracing::warn!(repo = %pr.repo, pr = pr.number.0, ?user, ?team, message = %error.message, "reviewer cannot be requested, skipped");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Forge for GitHubClient {
    async fn pull_request(&self, pr: &PrRef) -> ForgeResult<PullRequest> {
        self.fetch_pull_request(pr).await
    }

    async fn changed_files(&self, pr: &PrRef) -> ForgeResult<ChangedFiles> {
        self.fetch_changed_files(pr).await
    }

    async fn branch_tip(&self, repo: &RepoRef, branch: &str) -> ForgeResult<Option<Sha>> {
        #[derive(Deserialize)]
        struct RefJson {
            object: ObjectJson,
        }
        #[derive(Deserialize)]
        struct ObjectJson {
            sha: String,
        }
        let branch = plain_file_path("GET git ref", branch)?;
        let request = ApiRequest::get(format!(
            "{}/git/ref/heads/{}",
            repo_path(&repo.repo)?,
            encode_path(branch)
        ));
        match self.call(&request, "branch_tip", true).await {
            Ok(response) => {
                let found: RefJson = parse_json(&response, &request)?;
                Ok(Some(Sha(found.object.sha)))
            }
            Err(error) if error.status == Some(404) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn open_pull_requests(
        &self,
        repo: &RepoRef,
        branch: &str,
        role: BranchRole,
    ) -> ForgeResult<Vec<PrNumber>> {
        #[derive(Deserialize)]
        struct PullNumberJson {
            number: u64,
        }
        let branch = plain_file_path("GET pulls", branch)?;
        let filter = match role {
            BranchRole::Base => format!("base={}", percent_encode(branch, false)),
            // GitHub names a head `owner:branch`.
            BranchRole::Head => {
                let (owner, _) = split_repo(&repo.repo)?;
                format!(
                    "head={}",
                    percent_encode(&format!("{owner}:{branch}"), false)
                )
            }
        };
        let first = format!(
            "{}/pulls?state=open&{filter}&per_page=100",
            repo_path(&repo.repo)?
        );
        let (pulls, _complete) = self
            .list_all::<PullNumberJson>(first, "open_pull_requests")
            .await?;
        Ok(pulls.into_iter().map(|p| PrNumber(p.number)).collect())
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
        self.find_marked_comment(pr, marker).await
    }

    async fn create_comment(&self, pr: &PrRef, body: &str) -> ForgeResult<CommentId> {
        self.create_comment_without_duplicates(pr, body).await
    }

    async fn update_comment(&self, pr: &PrRef, id: CommentId, body: &str) -> ForgeResult<()> {
        self.patch_comment(pr, id, body).await
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
        self.post_review_request(pr, users, teams).await
    }

    async fn reviews(&self, pr: &PrRef) -> ForgeResult<Vec<Review>> {
        self.list_reviews(pr).await
    }

    // GitHub's membership and permission endpoints take the login (the event's, current when
    // it was delivered).
    async fn is_team_member(
        &self,
        _pr: &PrRef,
        team: &str,
        user: UserRef<'_>,
    ) -> ForgeResult<bool> {
        self.team_membership(team, user.login).await
    }

    async fn collaborator_permission(
        &self,
        pr: &PrRef,
        user: UserRef<'_>,
    ) -> ForgeResult<RepoPermission> {
        self.permission_of(pr, user.login).await
    }

    async fn react(&self, pr: &PrRef, comment: CommentId, reaction: Reaction) -> ForgeResult<()> {
        self.post_reaction(pr, comment, reaction).await
    }

    fn comment_limit(&self) -> usize {
        COMMENT_LIMIT
    }

    fn can_request_teams(&self) -> bool {
        true
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

fn split_repo(repo: &RepoName) -> ForgeResult<(&str, &str)> {
    match repo.as_str().split_once('/') {
        Some((owner, name)) if plain_segment(owner) && plain_segment(name) => Ok((owner, name)),
        _ => Err(invalid(
            "address the repository",
            &format!("not an owner/name repository: {:?}", repo.as_str()),
        )),
    }
}

/// A repository file path for `/contents/`, percent-encoded; `.`, `..` and empty segments are
/// refused so that the path cannot climb out of `/contents/` into another endpoint.
fn contents_path(path: &str) -> ForgeResult<String> {
    plain_file_path("GET contents", path).map(encode_path)
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
    fn descriptions_are_cut_on_char_boundaries() {
        assert_eq!(truncate_chars("short", 140), "short");
        let exact = "a".repeat(140);
        assert_eq!(truncate_chars(&exact, 140), exact);
        let long = "é".repeat(200);
        let cut = truncate_chars(&long, 140);
        assert_eq!(cut.chars().count(), 140);
        assert!(cut.ends_with('…') && cut.starts_with("éé"));
    }

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
    fn contents_paths_cannot_climb_out() {
        assert_eq!(contents_path("/.iamgate.yml").unwrap(), ".iamgate.yml");
        assert_eq!(contents_path("infra/a b.ts").unwrap(), "infra/a%20b.ts");
        for bad in ["", "../user", "infra/../../x", "a//b", "./x", "dir/"] {
            assert!(contents_path(bad).is_err(), "{bad:?}");
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
