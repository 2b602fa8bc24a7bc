//! Merge requests: the MR itself (head, base, fork), its changed files (`/diffs`, falling back
//! to the older `/changes`), files at a commit, branch tips and the open merge requests of a
//! branch, the `iamgate` commit status and reviewers. Decodes into the forge's types; decides
//! nothing.

use std::collections::HashSet;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::{
    GitLabClient, STATUS_DESCRIPTION_LIMIT, UNKNOWN_FORK, mr_path, project_path, repo_project_path,
    sha_param,
};
use super::transport::{ApiRequest, encode_component, parse_json};
use crate::event::{BranchRole, Login, PrNumber, PrRef, RepoName, RepoRef, Sha};
use crate::forge::http::{plain_file_path, truncate_chars};
use crate::forge::{
    ChangedFiles, CommitStatus, ForgeError, ForgeErrorKind, ForgeResult, PullRequest, RetryClass,
    STATUS_CONTEXT,
};
use crate::gate::GateState;

#[derive(Deserialize)]
pub(crate) struct MrJson {
    state: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    work_in_progress: bool,
    sha: Option<String>,
    target_branch: String,
    #[serde(default)]
    source_branch: Option<String>,
    source_project_id: Option<u64>,
    target_project_id: u64,
    author: Option<UserJson>,
    diff_refs: Option<DiffRefs>,
    changes_count: Option<String>,
    #[serde(default)]
    reviewers: Vec<UserJson>,
    /// The pipeline GitLab judges for "Pipelines must succeed" (the merge request's newest).
    #[serde(default)]
    head_pipeline: Option<HeadPipelineJson>,
}

#[derive(Deserialize)]
pub(crate) struct HeadPipelineJson {
    id: u64,
    sha: Option<String>,
    #[serde(rename = "ref")]
    name: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct UserJson {
    pub id: u64,
    pub username: String,
}

#[derive(Deserialize)]
struct DiffRefs {
    base_sha: Option<String>,
    start_sha: Option<String>,
}

#[derive(Deserialize)]
struct ProjectJson {
    path_with_namespace: String,
}

#[derive(Deserialize)]
struct DiffJson {
    old_path: String,
    new_path: String,
}

#[derive(Deserialize)]
struct ChangesJson {
    #[serde(default)]
    changes: Vec<DiffJson>,
    #[serde(default)]
    overflow: bool,
}

/// A commit status as GitLab lists it (the fields iamgate reads).
#[derive(Deserialize)]
struct StatusJson {
    description: Option<String>,
}

#[derive(Deserialize)]
struct PipelineJson {
    id: u64,
    #[serde(rename = "ref")]
    name: Option<String>,
}

/// GitLab's status `state` for ours.
pub(crate) fn status_state(state: GateState) -> &'static str {
    match state {
        GateState::Pending => "pending",
        GateState::Success => "success",
        GateState::Failure => "failed",
    }
}

/// Not ready yet (GitLab computes MR diffs asynchronously): the job layer retries.
fn not_ready(operation: String, message: &str) -> ForgeError {
    ForgeError {
        operation,
        message: message.to_owned(),
        kind: ForgeErrorKind::NotReady,
        retry: RetryClass::Retry,
        status: None,
    }
}

impl GitLabClient {
    /// The commit branch `branch` points at, `None` when there is no such branch.
    pub(crate) async fn branch_tip(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<Option<Sha>> {
        #[derive(Deserialize)]
        struct BranchJson {
            commit: CommitJson,
        }
        #[derive(Deserialize)]
        struct CommitJson {
            id: String,
        }
        let branch = plain_file_path("GET branch", branch)?;
        let request = ApiRequest::get(format!(
            "{}/repository/branches/{}",
            repo_project_path(repo)?,
            encode_component(branch)
        ));
        match self.call(&request, "branch_tip", true).await {
            Ok(response) => {
                let found: BranchJson = parse_json(&response, &request)?;
                Ok(Some(Sha(found.commit.id)))
            }
            Err(error) if error.kind == ForgeErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The iids of the opened merge requests that target `branch` ([`BranchRole::Base`]) or come
    /// from it in this project ([`BranchRole::Head`]).
    pub(crate) async fn open_pull_requests(
        &self,
        repo: &RepoRef,
        branch: &str,
        role: BranchRole,
    ) -> ForgeResult<Vec<PrNumber>> {
        #[derive(Deserialize)]
        struct MrIidJson {
            iid: u64,
            #[serde(default)]
            source_project_id: Option<u64>,
            #[serde(default)]
            project_id: Option<u64>,
        }
        let branch = plain_file_path("GET merge requests", branch)?;
        let filter = match role {
            BranchRole::Base => "target_branch",
            BranchRole::Head => "source_branch",
        };
        let path = format!(
            "{}/merge_requests?state=opened&{filter}={}&per_page=100",
            repo_project_path(repo)?,
            encode_component(branch)
        );
        let (mrs, _complete) = self
            .list_all::<MrIidJson>(&path, "open_pull_requests")
            .await?;
        Ok(mrs
            .into_iter()
            // A fork's branch of the same name is another branch.
            .filter(|mr| role == BranchRole::Base || mr.source_project_id == mr.project_id)
            .map(|mr| PrNumber(mr.iid))
            .collect())
    }

    pub(crate) async fn get_mr(&self, pr: &PrRef) -> ForgeResult<(MrJson, ApiRequest)> {
        let request = ApiRequest::get(mr_path(pr)?);
        let response = self.call(&request, "pull_request", true).await?;
        let mr = parse_json::<MrJson>(&response, &request)?;
        Ok((mr, request))
    }

    /// The merge request once GitLab has computed its diff. GitLab computes it asynchronously
    /// after a push: until then the merge request has no `diff_refs` and a null
    /// `changes_count`. It is read again after the call's backoff, up to the policy's tries (as
    /// Atlantis polls), and returned as it is after that; the callers then fail with a
    /// retryable error and the job tries again later.
    async fn get_mr_with_diff(&self, pr: &PrRef) -> ForgeResult<(MrJson, ApiRequest)> {
        let mut attempt = 1;
        loop {
            let (mr, request) = self.get_mr(pr).await?;
            let computed = mr.changes_count.is_some() && mr.diff_refs.is_some();
            if computed || attempt >= self.policy().max_attempts {
                return Ok((mr, request));
            }
            let wait = self.policy().backoff(attempt);
            tracing::debug!(pr = %pr, ?wait, "merge request diff not computed yet");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    pub(crate) async fn pull_request(&self, pr: &PrRef) -> ForgeResult<PullRequest> {
        let (mr, request) = self.get_mr_with_diff(pr).await?;
        let head = mr.sha.filter(|s| !s.is_empty()).ok_or_else(|| {
            not_ready(request.operation(), "the merge request has no head SHA yet")
        })?;
        // The target branch's tip when the diff was made (`start_sha`), like GitHub's
        // `base.sha`: configuration is read there, never at an old merge base the author chose.
        let base = mr
            .diff_refs
            .and_then(|refs| refs.start_sha.or(refs.base_sha))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                not_ready(
                    request.operation(),
                    "GitLab has not computed the merge request's diff yet",
                )
            })?;
        let head_repo = match mr.source_project_id {
            Some(id) if id == mr.target_project_id => pr.repo.clone(),
            Some(id) => self.project_name(id).await?,
            None => RepoName::from(UNKNOWN_FORK),
        };
        Ok(PullRequest {
            head: Sha(head),
            base: Sha(base),
            base_ref: mr.target_branch,
            head_repo,
            author: Login(mr.author.map_or_else(|| "ghost".to_owned(), |u| u.username)),
            open: mr.state == "opened",
            draft: mr.draft || mr.work_in_progress,
        })
    }

    /// The full path of project `id`; [`UNKNOWN_FORK`] when it is gone or hidden.
    async fn project_name(&self, id: u64) -> ForgeResult<RepoName> {
        let request = ApiRequest::get(format!("/projects/{id}"));
        match self.call(&request, "project", true).await {
            Ok(response) => parse_json::<ProjectJson>(&response, &request)
                .map(|p| RepoName(p.path_with_namespace)),
            Err(error)
                if matches!(
                    error.kind,
                    ForgeErrorKind::Forbidden | ForgeErrorKind::NotFound
                ) =>
            {
                Ok(RepoName::from(UNKNOWN_FORK))
            }
            Err(error) => Err(error),
        }
    }

    pub(crate) async fn changed_files(&self, pr: &PrRef) -> ForgeResult<ChangedFiles> {
        let (mr, request) = self.get_mr_with_diff(pr).await?;
        // `changes_count` is null until GitLab has computed the diff, and ends in `+` when the
        // diff went over the instance's limits (then the listing is cut short).
        let count = mr.changes_count.ok_or_else(|| {
            not_ready(
                request.operation(),
                "GitLab has not computed the merge request's diff yet",
            )
        })?;
        let overflow = count.trim().ends_with('+');
        let expected = count.trim().trim_end_matches('+').parse::<usize>().ok();
        let path = format!("{}/diffs?per_page=100", mr_path(pr)?);
        let (diffs, complete) = match self.list_all::<DiffJson>(&path, "changed_files").await {
            Ok(listed) => listed,
            // `/diffs` is GitLab 15.7+: older instances have `/changes`.
            Err(error) if error.kind == ForgeErrorKind::NotFound => {
                let request = ApiRequest::get(format!("{}/changes", mr_path(pr)?));
                let response = self.call(&request, "changed_files", true).await?;
                let changes: ChangesJson = parse_json(&response, &request)?;
                (changes.changes, !changes.overflow)
            }
            Err(error) => return Err(error),
        };
        let mut seen = HashSet::new();
        let mut paths = Vec::new();
        for diff in &diffs {
            for path in [&diff.new_path, &diff.old_path] {
                if seen.insert(path.as_str()) {
                    paths.push(path.clone());
                }
            }
        }
        let short = expected.is_some_and(|n| diffs.len() < n);
        Ok(ChangedFiles {
            paths,
            truncated: !complete || overflow || short,
        })
    }

    pub(crate) async fn file_at(
        &self,
        pr: &PrRef,
        path: &str,
        sha: &Sha,
    ) -> ForgeResult<Option<Vec<u8>>> {
        let path = plain_file_path("GET repository file", path)?;
        let request = ApiRequest::get(format!(
            "{}/repository/files/{}/raw?ref={}",
            project_path(pr)?,
            encode_component(path),
            sha_param(sha)?
        ));
        match self.call(&request, "file_at", true).await {
            Ok(response) => Ok(Some(response.body.to_vec())),
            Err(error) if error.kind == ForgeErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Where a status of `sha` belongs: the pipeline `(id, ref)`, or, when the commit has none
    /// yet, no pipeline and the merge request's source branch as the ref of the external
    /// pipeline GitLab then creates (left to GitLab, it takes the first branch that contains
    /// the commit, which may not be the merge request's).
    async fn pipeline_for_status(
        &self,
        pr: &PrRef,
        project: &str,
        sha: &str,
    ) -> ForgeResult<(Option<u64>, Option<String>)> {
        let (mr, _) = self.get_mr(pr).await?;
        if let Some(head) = mr.head_pipeline
            && head.sha.as_deref() == Some(sha)
        {
            return Ok((Some(head.id), head.name));
        }
        let pipelines = ApiRequest::get(format!(
            "{project}/pipelines?sha={sha}&order_by=id&sort=desc&per_page=1"
        ));
        let response = self.call(&pipelines, "pipelines", true).await?;
        let newest = parse_json::<Vec<PipelineJson>>(&response, &pipelines)?
            .into_iter()
            .next();
        Ok(match newest {
            Some(pipeline) => (Some(pipeline.id), pipeline.name),
            None if mr.source_project_id == Some(mr.target_project_id) => (None, mr.source_branch),
            None => (None, None),
        })
    }

    pub(crate) async fn set_status(
        &self,
        pr: &PrRef,
        sha: &Sha,
        status: &CommitStatus,
    ) -> ForgeResult<()> {
        let project = project_path(pr)?;
        let sha = sha_param(sha)?;
        let mut body = json!({
            "state": status_state(status.state),
            "name": STATUS_CONTEXT,
            "description": truncate_chars(&status.description, STATUS_DESCRIPTION_LIMIT),
        });
        if let Some(url) = &status.target_url {
            body["target_url"] = json!(url);
        }
        // Attach to the pipeline "Pipelines must succeed" judges: the merge request's head
        // pipeline when it is of this commit, else the commit's newest pipeline (the MR's CI
        // not yet linked); without any, GitLab makes an external pipeline. The newest pipeline
        // of the commit alone could be another ref's (a tag, another branch at the same commit).
        let (pipeline, git_ref) = self.pipeline_for_status(pr, &project, sha).await?;
        if let Some(id) = pipeline {
            body["pipeline_id"] = json!(id);
        }
        if let Some(git_ref) = git_ref {
            body["ref"] = json!(git_ref);
        }
        let request = ApiRequest::with_body(
            Method::POST,
            format!("{project}/statuses/{sha}"),
            body.clone(),
        );
        // Posting the same status twice leaves the same state: safe to retry.
        match self.call(&request, "set_status", true).await {
            Ok(_) => Ok(()),
            // GitLab refuses a transition into the state the status is already in: `pending`
            // again keeps the old text. When the text must change (e.g. from "analyzing" to
            // what is needed), end the pending status as `canceled` (not success: merges stay
            // blocked) and start a new one; GitLab starts a new status once the last is over.
            Err(error)
                if error.kind == ForgeErrorKind::BadRequest
                    && error.message.contains("Cannot transition") =>
            {
                let wanted = truncate_chars(&status.description, STATUS_DESCRIPTION_LIMIT);
                let shown = self.latest_status(&project, sha).await?;
                if status.state != GateState::Pending
                    || shown
                        .as_ref()
                        .is_some_and(|s| s.description.as_deref() == Some(wanted.as_str()))
                {
                    tracing::debug!(repo = %pr.repo, sha, message = %error.message, "status already as wanted");
                    return Ok(());
                }
                // The old status ends with its own text ("analyzing the IAM change"), so the
                // pipeline's history reads as what happened.
                let mut cancel = body;
                cancel["state"] = json!("canceled");
                if let Some(old) = shown.and_then(|s| s.description) {
                    cancel["description"] = json!(old);
                }
                let cancel = ApiRequest::with_body(
                    Method::POST,
                    format!("{project}/statuses/{sha}"),
                    cancel,
                );
                self.call(&cancel, "set_status", true).await?;
                match self.call(&request, "set_status", true).await {
                    Ok(_) => Ok(()),
                    Err(error)
                        if error.kind == ForgeErrorKind::BadRequest
                            && error.message.contains("Cannot transition") =>
                    {
                        Ok(())
                    }
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// The newest `iamgate` status of a commit, if any.
    async fn latest_status(&self, project: &str, sha: &str) -> ForgeResult<Option<StatusJson>> {
        let request = ApiRequest::get(format!(
            "{project}/repository/commits/{sha}/statuses?name={STATUS_CONTEXT}&order_by=id&sort=desc&per_page=1"
        ));
        let response = self.call(&request, "get_status", true).await?;
        Ok(parse_json::<Vec<StatusJson>>(&response, &request)?
            .into_iter()
            .next())
    }

    pub(crate) async fn request_reviewers(
        &self,
        pr: &PrRef,
        users: &[Login],
        teams: &[String],
    ) -> ForgeResult<()> {
        if !teams.is_empty() {
            tracing::debug!(repo = %pr.repo, mr = pr.number.0, ?teams, "GitLab cannot ask a group to review, skipped");
        }
        if users.is_empty() {
            return Ok(());
        }
        let mut wanted = Vec::new();
        for login in users {
            match self.user_id(login).await? {
                Some(id) => wanted.push(id),
                None => {
                    tracing::warn!(repo = %pr.repo, mr = pr.number.0, user = %login, "no such GitLab user, not asked to review");
                }
            }
        }
        // `reviewer_ids` replaces the reviewers: keep those already asked.
        let (mr, _) = self.get_mr(pr).await?;
        let mut ids: Vec<u64> = mr.reviewers.iter().map(|r| r.id).collect();
        let before = ids.len();
        for id in wanted {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.len() == before {
            return Ok(());
        }
        let request =
            ApiRequest::with_body(Method::PUT, mr_path(pr)?, json!({ "reviewer_ids": ids }));
        // Setting the same reviewers twice changes nothing: safe to retry.
        self.call(&request, "request_reviewers", true)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_states_use_gitlab_names() {
        assert_eq!(status_state(GateState::Pending), "pending");
        assert_eq!(status_state(GateState::Success), "success");
        assert_eq!(status_state(GateState::Failure), "failed");
    }
}
