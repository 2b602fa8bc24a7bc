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
    STATUS_CONTEXT, ShownStatus, symbolic_link,
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
    #[serde(default)]
    project_id: Option<u64>,
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
pub(crate) struct StatusJson {
    #[serde(default)]
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub pipeline_id: Option<u64>,
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    #[serde(default)]
    pub author: Option<UserJson>,
}

/// Where a status of a merge request's head goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusTarget {
    /// The commit the status is posted on: the head, or the merge commit of a merged-results
    /// or merge-train pipeline made from the head.
    pub sha: String,
    pub pipeline: Option<u64>,
    pub git_ref: Option<String>,
    /// The project (a fork) whose pipeline GitLab judges instead: no status of iamgate's can
    /// reach it.
    pub judged_elsewhere: Option<u64>,
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
        let mrs = self
            .list_whole::<MrIidJson>(
                &path,
                "open_pull_requests",
                "the branch has more opened merge requests",
                "iamgate cannot check each of them again",
            )
            .await?;
        Ok(mrs
            .into_iter()
            // A fork's branch of the same name is another branch.
            .filter(|mr| role == BranchRole::Base || mr.source_project_id == mr.project_id)
            .map(|mr| PrNumber(mr.iid))
            .collect())
    }

    /// The opened merge requests whose head is `sha`:
    /// `GET /projects/:id/repository/commits/:sha/merge_requests`, filtered here.
    pub(crate) async fn open_pull_requests_at(
        &self,
        repo: &RepoRef,
        sha: &Sha,
    ) -> ForgeResult<Vec<PrNumber>> {
        #[derive(Deserialize)]
        struct AssociatedJson {
            iid: u64,
            state: String,
            #[serde(default)]
            sha: Option<String>,
        }
        let path = format!(
            "{}/repository/commits/{}/merge_requests?per_page=100",
            repo_project_path(repo)?,
            sha_param(sha)?
        );
        let mrs = self
            .list_whole::<AssociatedJson>(
                &path,
                "open_pull_requests_at",
                "the commit is in more merge requests",
                "iamgate cannot tell which it heads",
            )
            .await?;
        Ok(mrs
            .into_iter()
            .filter(|mr| {
                mr.state == "opened"
                    && mr
                        .sha
                        .as_deref()
                        .is_some_and(|head| head.eq_ignore_ascii_case(sha.as_str()))
            })
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
        let judged_in_fork = mr
            .head_pipeline
            .as_ref()
            .and_then(|p| p.project_id)
            .is_some_and(|id| id != mr.target_project_id);
        let unheld = judged_in_fork.then(|| self.unheld_note(&head_repo));
        Ok(PullRequest {
            head: Sha(head),
            base: Sha(base),
            base_ref: mr.target_branch,
            head_repo,
            author: Login(mr.author.map_or_else(|| "ghost".to_owned(), |u| u.username)),
            open: mr.state == "opened",
            merged: mr.state == "merged",
            draft: mr.draft || mr.work_in_progress,
            unheld,
        })
    }

    /// What the comment says of a merge request whose head pipeline runs in its fork.
    fn unheld_note(&self, fork: &RepoName) -> String {
        let mut note = format!(
            "This merge request's pipeline runs in its fork ({fork}): GitLab judges *Pipelines must succeed* on that \
             pipeline, where iamgate cannot post its status, so the `iamgate` status does not block this merge."
        );
        if self.options().approve_merge_requests {
            note.push_str(
                " iamgate's approval does, where the project's approval rules require iamgate's account (Premium).",
            );
        } else {
            note.push_str(
                " To make it block, a maintainer can run the merge request's pipeline in this project (its Pipelines \
                 tab → Run pipeline), where iamgate posts its status; on Premium, an approval rule can require \
                 iamgate's approval (`[gitlab] approve_merge_requests`, see iamgate's GitLab guide).",
            );
        }
        note
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
        let bytes = match self.call(&request, "file_at", true).await {
            Ok(response) => response.body.to_vec(),
            Err(error) if error.kind == ForgeErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        // GitLab's raw file of a link is the link's own text (the path it names): the entry's
        // mode in the repository tree tells a link (`120000`).
        if self.is_link(pr, path, sha).await? {
            return Err(symbolic_link(request.operation(), path));
        }
        Ok(Some(bytes))
    }

    /// Whether `path` at commit `sha` is a symbolic link, from its directory's listing
    /// (`GET /projects/:id/repository/tree?path=&ref=`: mode `120000`). GitLab's raw file API
    /// does not follow a link on the way, so only the file's own entry matters.
    async fn is_link(&self, pr: &PrRef, path: &str, sha: &Sha) -> ForgeResult<bool> {
        #[derive(Deserialize)]
        struct EntryJson {
            name: String,
            mode: String,
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let mut listing = format!(
            "{}/repository/tree?ref={}&per_page=100",
            project_path(pr)?,
            sha_param(sha)?
        );
        if !dir.is_empty() {
            listing.push_str(&format!("&path={}", encode_component(dir)));
        }
        let (entries, complete) = self.list_all::<EntryJson>(&listing, "file_mode").await?;
        Ok(match entries.iter().find(|e| e.name == name) {
            Some(entry) => entry.mode == "120000",
            // A directory too large to list whole cannot vouch for the file: fail closed.
            None => !complete,
        })
    }

    /// Where a status of `sha` belongs: the commit, pipeline and ref of [`StatusTarget`].
    ///
    /// GitLab attaches a status to one pipeline of one project and judges "Pipelines must
    /// succeed" on the merge request's head pipeline, so (GitLab's documentation of the commit
    /// status API and of merge request pipelines):
    /// - the head pipeline when it is this project's and of this commit (branch and merge
    ///   request pipelines, fork merge requests whose pipelines run in this project);
    /// - a merged-results or merge-train pipeline (`refs/merge-requests/<iid>/merge` or
    ///   `/train`) of the merge request while its head is `sha`: that pipeline runs on a merge
    ///   commit GitLab made, and the status goes onto that commit;
    /// - else the commit's newest pipeline in this project (the merge request's CI not yet
    ///   linked); the newest of the commit alone could be a tag's or another branch's;
    /// - without any pipeline, GitLab makes an external one on `ref`: the source branch, or
    ///   for a fork (whose branch is not a ref of this project) the merge request's own
    ///   `refs/merge-requests/<iid>/head`. Left to GitLab, it would take the first branch that
    ///   contains the commit, or answer 404 "References for commit".
    ///
    /// A head pipeline in another project (a fork's own CI) cannot carry iamgate's status:
    /// [`StatusTarget::judged_elsewhere`] says so.
    async fn status_target(
        &self,
        pr: &PrRef,
        project: &str,
        sha: &str,
    ) -> ForgeResult<StatusTarget> {
        let (mr, _) = self.get_mr(pr).await?;
        let iid = pr.number.0;
        let mut target = StatusTarget {
            sha: sha.to_owned(),
            pipeline: None,
            git_ref: None,
            judged_elsewhere: None,
        };
        if let Some(head) = &mr.head_pipeline {
            let ours = head.project_id.is_none_or(|id| id == mr.target_project_id);
            let merge_ref = head.name.as_deref().is_some_and(|r| {
                r == format!("refs/merge-requests/{iid}/merge")
                    || r == format!("refs/merge-requests/{iid}/train")
            });
            if !ours {
                target.judged_elsewhere = head.project_id;
            } else if head.sha.as_deref() == Some(sha) {
                target.pipeline = Some(head.id);
                target.git_ref.clone_from(&head.name);
                return Ok(target);
            } else if merge_ref
                && mr.sha.as_deref() == Some(sha)
                && let Some(merge_sha) = head.sha.clone()
            {
                target.sha = sha_param(&Sha(merge_sha))?.to_owned();
                target.pipeline = Some(head.id);
                target.git_ref.clone_from(&head.name);
                return Ok(target);
            }
        }
        let pipelines = ApiRequest::get(format!(
            "{project}/pipelines?sha={sha}&order_by=id&sort=desc&per_page=1"
        ));
        let response = self.call(&pipelines, "pipelines", true).await?;
        let newest = parse_json::<Vec<PipelineJson>>(&response, &pipelines)?
            .into_iter()
            .next();
        match newest {
            Some(pipeline) => {
                target.pipeline = Some(pipeline.id);
                target.git_ref = pipeline.name;
            }
            None if mr.source_project_id == Some(mr.target_project_id) => {
                target.git_ref = mr.source_branch;
            }
            None => target.git_ref = Some(format!("refs/merge-requests/{iid}/head")),
        }
        Ok(target)
    }

    pub(crate) async fn set_status(
        &self,
        pr: &PrRef,
        sha: &Sha,
        status: &CommitStatus,
    ) -> ForgeResult<()> {
        let project = project_path(pr)?;
        let sha = sha_param(sha)?;
        let target = self.status_target(pr, &project, sha).await?;
        if let Some(fork) = target.judged_elsewhere {
            tracing::info!(repo = %pr.repo, mr = pr.number.0, fork, "the merge request's head pipeline runs in its fork: the status cannot block it there");
        }
        self.post_status(pr, &project, &target, status).await
    }

    /// Posts `status` into `target`, replacing a pending status whose text must change.
    async fn post_status(
        &self,
        pr: &PrRef,
        project: &str,
        target: &StatusTarget,
        status: &CommitStatus,
    ) -> ForgeResult<()> {
        let sha = target.sha.as_str();
        let mut body = json!({
            "state": status_state(status.state),
            "name": STATUS_CONTEXT,
            "description": truncate_chars(&status.description, STATUS_DESCRIPTION_LIMIT),
        });
        if let Some(url) = &status.target_url {
            body["target_url"] = json!(url);
        }
        if let Some(id) = target.pipeline {
            body["pipeline_id"] = json!(id);
        }
        if let Some(git_ref) = &target.git_ref {
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
                let shown = self.latest_status(project, target).await?;
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
            // A status on a protected ref needs the rights to update its pipelines: GitLab
            // checks the token's user may push or merge to the ref, not only Developer access.
            Err(mut error) if error.kind == ForgeErrorKind::Forbidden => {
                let on = target
                    .git_ref
                    .as_deref()
                    .unwrap_or("the merge request's ref");
                error.message = format!(
                    "GitLab refused the `iamgate` status on {on} ({}). On a protected branch the token's user needs \
                     the right to push or merge to it (Settings → Repository → Protected branches), not only \
                     Developer access; without it iamgate cannot hold or release this merge request",
                    error.message
                );
                Err(error)
            }
            Err(error) => Err(error),
        }
    }

    /// The newest `iamgate` status where a status of head `sha` goes, and whether the token's
    /// user posted it.
    pub(crate) async fn shown_status(
        &self,
        pr: &PrRef,
        sha: &Sha,
    ) -> ForgeResult<Option<ShownStatus>> {
        let project = project_path(pr)?;
        let sha = sha_param(sha)?;
        let target = self.status_target(pr, &project, sha).await?;
        let Some(shown) = self.latest_status(&project, &target).await? else {
            return Ok(None);
        };
        let me = self.me().await?;
        let (author, ours) = match shown.author {
            Some(user) => {
                let ours = user.id == me.id;
                (Login(user.username), ours)
            }
            None => (Login::from("ghost"), false),
        };
        Ok(Some(ShownStatus {
            id: shown.id,
            state: match shown.status.as_deref() {
                Some("pending") => Some(GateState::Pending),
                Some("success") => Some(GateState::Success),
                Some("failed") => Some(GateState::Failure),
                _ => None,
            },
            description: shown.description.unwrap_or_default(),
            author,
            ours,
        }))
    }

    /// The newest `iamgate` status in `target`'s pipeline (on its ref), if any: a commit's
    /// statuses span every pipeline and ref of the commit, so they are matched on both (older
    /// GitLab ignores the `pipeline_id` filter and lists oldest first: the newest is the one
    /// with the largest id).
    async fn latest_status(
        &self,
        project: &str,
        target: &StatusTarget,
    ) -> ForgeResult<Option<StatusJson>> {
        let mut path = format!(
            "{project}/repository/commits/{}/statuses?name={STATUS_CONTEXT}&per_page=100",
            target.sha
        );
        if let Some(id) = target.pipeline {
            path.push_str(&format!("&pipeline_id={id}"));
        }
        if let Some(git_ref) = &target.git_ref {
            path.push_str(&format!("&ref={}", encode_component(git_ref)));
        }
        let (statuses, _complete) = self.list_all::<StatusJson>(&path, "get_status").await?;
        Ok(statuses
            .into_iter()
            .filter(|s| s.name.as_deref().is_none_or(|n| n == STATUS_CONTEXT))
            .filter(|s| {
                target.pipeline.is_none()
                    || s.pipeline_id.is_none()
                    || s.pipeline_id == target.pipeline
            })
            .filter(|s| {
                target.git_ref.is_none() || s.git_ref.is_none() || s.git_ref == target.git_ref
            })
            .max_by_key(|s| s.id))
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
        // `reviewer_ids` replaces the reviewers: keep those already asked, after the required
        // ones. GitLab Free keeps only the first reviewer of the list (silently, 200 OK), so the
        // required come first: an earlier optional reviewer gives way to them.
        let (mr, _) = self.get_mr(pr).await?;
        let existing: Vec<u64> = mr.reviewers.iter().map(|r| r.id).collect();
        if wanted.iter().all(|id| existing.contains(id)) {
            return Ok(());
        }
        let mut ids = wanted.clone();
        for id in existing {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let request =
            ApiRequest::with_body(Method::PUT, mr_path(pr)?, json!({ "reviewer_ids": ids }));
        // Setting the same reviewers twice changes nothing: safe to retry.
        let response = self.call(&request, "request_reviewers", true).await?;
        // What GitLab kept: on Free one reviewer, the first.
        if let Ok(updated) = parse_json::<MrJson>(&response, &request) {
            let kept: Vec<u64> = updated.reviewers.iter().map(|r| r.id).collect();
            let dropped = wanted.iter().filter(|id| !kept.contains(id)).count();
            if dropped > 0 {
                tracing::info!(repo = %pr.repo, mr = pr.number.0, dropped, "GitLab kept fewer reviewers than asked (one per merge request on Free): the note names every required reviewer");
            }
        }
        Ok(())
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
