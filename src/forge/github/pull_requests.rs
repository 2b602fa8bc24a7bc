//! Pull requests on GitHub: the pull request itself (head, base, fork), its changed files,
//! files at a commit, branch tips and the open pull requests of a branch, the `iamgate` commit
//! status and review requests. Decodes into the forge's types; decides nothing.

use std::collections::HashSet;

use axum::http::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::{
    DELETED_FORK, GitHubClient, MAX_LISTED_FILES, STATUS_DESCRIPTION_LIMIT, UserJson,
    encode_segment, listing_too_large, repo_path, split_repo,
};
use super::pagination::MAX_PAGES;
use super::transport::{ApiRequest, encode_path, parse_json};
use crate::event::{BranchRole, Login, PrNumber, PrRef, RepoName, RepoRef, Sha};
use crate::forge::http::{percent_encode, plain_file_path, truncate_chars};
use crate::forge::{
    ChangedFiles, CommitStatus, ForgeError, ForgeErrorKind, ForgeResult, PullRequest, RetryClass,
    STATUS_CONTEXT, symbolic_link,
};

#[derive(Deserialize)]
struct PullJson {
    state: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    merged: bool,
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

/// GitHub's listing of a pull request's commits lists at most this many, whatever the pages
/// asked (documented for "List commits on a pull request").
const PR_COMMITS_LISTED: u64 = 250;

/// What a cut listing of commits lacks, and what iamgate cannot do without it.
const MORE_COMMITS: &str = "the pull request has more commits";
const AUTHORS_UNKNOWN: &str =
    "iamgate cannot know every author of its commits, who may not approve it";

/// A commit as GitHub lists it: the accounts it links to its author and committer.
#[derive(Deserialize)]
struct CommitJson {
    #[serde(default)]
    author: Option<UserJson>,
    #[serde(default)]
    committer: Option<UserJson>,
}

/// Whether `listed` has fewer commits than the `expected` count.
fn listed_fewer(listed: &[CommitJson], expected: u64) -> bool {
    u64::try_from(listed.len()).is_ok_and(|n| n < expected)
}

/// The accounts linked to `commits`' authors and committers, once each (names ignore case),
/// without GitHub's `web-flow` committer.
fn logins_of(commits: Vec<CommitJson>) -> Vec<Login> {
    let mut logins: Vec<Login> = Vec::new();
    for user in commits
        .into_iter()
        .flat_map(|c| [c.author, c.committer])
        .flatten()
    {
        if user.login != "web-flow" && !logins.iter().any(|l| l.0.eq_ignore_ascii_case(&user.login))
        {
            logins.push(Login(user.login));
        }
    }
    logins
}

#[derive(Deserialize)]
struct PrFileJson {
    filename: String,
    previous_filename: Option<String>,
}

impl GitHubClient {
    pub(crate) async fn pull_request(&self, pr: &PrRef) -> ForgeResult<PullRequest> {
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
            merged: pull.merged,
            draft: pull.draft,
            // Branch protection judges the commit's statuses wherever the pull request comes
            // from: the status always reaches it.
            unheld: None,
        })
    }

    pub(crate) async fn changed_files(&self, pr: &PrRef) -> ForgeResult<ChangedFiles> {
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

    /// The accounts GitHub links to the authors and committers of the pull request's commits
    /// (GitHub's own `web-flow` committer left out). Every commit counts, since its author may
    /// not approve the change: GitHub's listing of a pull request's commits stops at 250
    /// whatever the pages asked, so a pull request with more (its `commits` count) has its
    /// commits read by comparing its base and head, which pages through all of them. When
    /// neither lists as many commits as the pull request has, or a listing is cut at the page
    /// cap, the answer is an error, never a part.
    pub(crate) async fn commit_authors(&self, pr: &PrRef) -> ForgeResult<Vec<Login>> {
        #[derive(Deserialize)]
        struct PullCommitsJson {
            commits: u64,
            head: ShaJson,
            base: ShaJson,
        }
        #[derive(Deserialize)]
        struct ShaJson {
            sha: String,
        }
        let repo = repo_path(&pr.repo)?;
        let request = ApiRequest::get(format!("{repo}/pulls/{}", pr.number.0));
        let response = self.call(&request, "pull_request", true).await?;
        let pull: PullCommitsJson = parse_json(&response, &request)?;
        let mut commits = Vec::new();
        if pull.commits <= PR_COMMITS_LISTED {
            let first = format!("{repo}/pulls/{}/commits?per_page=100", pr.number.0);
            commits = self
                .list_whole::<CommitJson>(first, "commit_authors", MORE_COMMITS, AUTHORS_UNKNOWN)
                .await?;
        }
        if listed_fewer(&commits, pull.commits) {
            let compared = self
                .compared_commits(pr, &pull.base.sha, &pull.head.sha)
                .await?;
            if listed_fewer(&compared, pull.commits) {
                return Err(ForgeError {
                    operation: format!("GET {repo}/compare/{}...{}", pull.base.sha, pull.head.sha),
                    message: format!(
                        "the pull request has {} commits, GitHub lists at most \
                         {PR_COMMITS_LISTED} of them and comparing its base and head listed {}, \
                         so {AUTHORS_UNKNOWN}",
                        pull.commits,
                        compared.len()
                    ),
                    kind: ForgeErrorKind::TooLarge,
                    // The pull request may have changed between the calls: asking again may
                    // find them agreeing.
                    retry: RetryClass::Retry,
                    status: None,
                });
            }
            commits.extend(compared);
        }
        Ok(logins_of(commits))
    }

    /// The commits of `base...head` (those reachable from `head` and not from `base`, as a pull
    /// request's are), every page: the comparison lists 250 commits when no page is asked for,
    /// and all of them page by page (`per_page`, `page`) up to its `total_commits`.
    async fn compared_commits(
        &self,
        pr: &PrRef,
        base: &str,
        head: &str,
    ) -> ForgeResult<Vec<CommitJson>> {
        #[derive(Deserialize)]
        struct CompareJson {
            total_commits: u64,
            #[serde(default)]
            commits: Vec<CommitJson>,
        }
        let path = format!(
            "{}/compare/{}...{}",
            repo_path(&pr.repo)?,
            encode_segment(base)?,
            encode_segment(head)?
        );
        let mut commits = Vec::new();
        for page in 1..=MAX_PAGES {
            let request = ApiRequest::get(format!("{path}?per_page=100&page={page}"));
            let response = self.call(&request, "compare_commits", true).await?;
            let compared: CompareJson = parse_json(&response, &request)?;
            let empty = compared.commits.is_empty();
            commits.extend(compared.commits);
            if empty || !listed_fewer(&commits, compared.total_commits) {
                return Ok(commits);
            }
        }
        Err(listing_too_large(
            format!("GET {path}"),
            MORE_COMMITS,
            AUTHORS_UNKNOWN,
        ))
    }

    pub(crate) async fn branch_tip(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<Option<Sha>> {
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
            Err(error) if error.kind == ForgeErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub(crate) async fn open_pull_requests(
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
        let pulls = self
            .list_whole::<PullNumberJson>(
                first,
                "open_pull_requests",
                "the branch has more open pull requests",
                "iamgate cannot recheck every one of them",
            )
            .await?;
        Ok(pulls.into_iter().map(|p| PrNumber(p.number)).collect())
    }

    /// The open pull requests whose head is `sha`: `GET /repos/{owner}/{repo}/commits/{sha}/pulls`
    /// lists those a commit is associated with (open or closed, heads or merges), filtered here.
    pub(crate) async fn open_pull_requests_at(
        &self,
        repo: &RepoRef,
        sha: &Sha,
    ) -> ForgeResult<Vec<PrNumber>> {
        #[derive(Deserialize)]
        struct AssociatedJson {
            number: u64,
            state: String,
            head: ShaOnly,
        }
        #[derive(Deserialize)]
        struct ShaOnly {
            sha: String,
        }
        let first = format!(
            "{}/commits/{}/pulls?per_page=100",
            repo_path(&repo.repo)?,
            encode_segment(sha.as_str())?
        );
        let pulls = self
            .list_whole::<AssociatedJson>(
                first,
                "open_pull_requests_at",
                "the commit is in more pull requests",
                "iamgate cannot tell which it heads",
            )
            .await?;
        Ok(pulls
            .into_iter()
            .filter(|p| p.state == "open" && p.head.sha.eq_ignore_ascii_case(sha.as_str()))
            .map(|p| PrNumber(p.number))
            .collect())
    }

    pub(crate) async fn file_at(
        &self,
        pr: &PrRef,
        path: &str,
        sha: &Sha,
    ) -> ForgeResult<Option<Vec<u8>>> {
        let path_text = plain_file_path("GET contents", path)?;
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
        let bytes = match self.call(&request, "file_at", true).await {
            Ok(response) => response.body.to_vec(),
            Err(error) if error.kind == ForgeErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        // GitHub's contents API answers a link to a file of the repository with that file's
        // content: the entry's mode in the commit's tree tells a link (`120000`).
        if self.is_link(pr, path_text, sha).await? {
            return Err(symbolic_link(request.operation(), path_text));
        }
        Ok(Some(bytes))
    }

    /// Whether `path` at commit `sha`, or a directory on its way, is a symbolic link, read from
    /// the Git trees (`GET /repos/{owner}/{repo}/git/trees/{tree_sha}`: mode `120000`), one
    /// directory at a time.
    async fn is_link(&self, pr: &PrRef, path: &str, sha: &Sha) -> ForgeResult<bool> {
        #[derive(Deserialize)]
        struct TreeJson {
            tree: Vec<EntryJson>,
            #[serde(default)]
            truncated: bool,
        }
        #[derive(Deserialize)]
        struct EntryJson {
            path: String,
            mode: String,
            sha: String,
        }
        let repo = repo_path(&pr.repo)?;
        let mut tree = encode_segment(sha.as_str())?.to_owned();
        let parts: Vec<&str> = path.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let request = ApiRequest::get(format!("{repo}/git/trees/{tree}"));
            let response = self.call(&request, "file_mode", true).await?;
            let listed: TreeJson = parse_json(&response, &request)?;
            let Some(entry) = listed.tree.iter().find(|e| e.path == *part) else {
                // A tree too large to list whole cannot vouch for the file: fail closed.
                return Ok(listed.truncated);
            };
            if entry.mode == "120000" {
                return Ok(true);
            }
            if i + 1 < parts.len() {
                tree = encode_segment(&entry.sha)?.to_owned();
            }
        }
        Ok(false)
    }

    pub(crate) async fn set_status(
        &self,
        pr: &PrRef,
        sha: &Sha,
        status: &CommitStatus,
    ) -> ForgeResult<()> {
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

    pub(crate) async fn request_reviewers(
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
            Err(error) if error.kind == ForgeErrorKind::Unprocessable => {}
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
                Err(error) if error.kind == ForgeErrorKind::Unprocessable => {
                    tracing::warn!(repo = %pr.repo, pr = pr.number.0, ?user, ?team, message = %error.message, "reviewer cannot be requested, skipped");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

/// A repository file path for `/contents/`, percent-encoded; `.`, `..` and empty segments are
/// refused so that the path cannot climb out of `/contents/` into another endpoint.
fn contents_path(path: &str) -> ForgeResult<String> {
    plain_file_path("GET contents", path).map(encode_path)
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
    fn contents_paths_cannot_climb_out() {
        assert_eq!(contents_path("/.iamgate.yml").unwrap(), ".iamgate.yml");
        assert_eq!(contents_path("infra/a b.ts").unwrap(), "infra/a%20b.ts");
        for bad in ["", "../user", "infra/../../x", "a//b", "./x", "dir/"] {
            assert!(contents_path(bad).is_err(), "{bad:?}");
        }
    }
}
