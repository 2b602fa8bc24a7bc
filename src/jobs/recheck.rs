//! Analyzing the open pull requests of a branch again: those that target it after a push that
//! may have changed `.iamgate.yml` there (guardrails tightened on the base branch hold back pull
//! requests that were green under the old ones; the config is read at the base branch's tip:
//! see `jobs::repo_config`), and those that come from it after a new CI pipeline started (GitLab: the
//! `iamgate` status must be in the pipeline "Pipelines must succeed" judges: a status check,
//! which analyzes only a head not decided yet). Each is its own job, coalesced with any pending
//! one.

use tracing::info;

use super::ctx::JobCtx;
use crate::event::{BranchRole, RepoRef};
use crate::queue::JobFailure;
use crate::store::JobKind;

/// Enqueues an analysis of every open pull request with `branch` of `repo` in `role`.
pub async fn run(
    ctx: &JobCtx,
    repo: &RepoRef,
    branch: &str,
    role: BranchRole,
) -> Result<(), JobFailure> {
    let forge = ctx.forges.forge(repo).await?;
    let open = forge.open_pull_requests(repo, branch, role).await?;
    info!(repo = %repo, branch, ?role, open = open.len(), "analyzing the branch's open pull requests again");
    for number in open {
        let pr = repo.pr(number);
        let job = match role {
            BranchRole::Base => JobKind::AnalyzePr { pr },
            BranchRole::Head => JobKind::CheckStatus { pr },
        };
        ctx.store.enqueue(job).await?;
    }
    Ok(())
}
