//! After a push that may have changed `.iamgate.yml` on a branch: every open pull request that
//! targets the branch is analyzed again, so that guardrails tightened on the base branch hold
//! back pull requests that were green under the old ones (the config is read at the base
//! branch's tip: see `analyze_pr`). Each analysis is its own job, coalesced with any pending one.

use tracing::info;

use super::ctx::JobCtx;
use crate::event::RepoRef;
use crate::queue::JobFailure;
use crate::store::JobKind;

/// Enqueues an analysis of every open pull request targeting `branch` of `repo`.
pub async fn run(ctx: &JobCtx, repo: &RepoRef, branch: &str) -> Result<(), JobFailure> {
    let forge = ctx.forges.forge(repo).await?;
    let open = forge.open_pull_requests(repo, branch).await?;
    info!(repo = %repo, branch, open = open.len(), "base branch config may have changed; analyzing its open pull requests again");
    for number in open {
        ctx.store
            .enqueue(JobKind::AnalyzePr {
                pr: repo.pr(number),
            })
            .await?;
    }
    Ok(())
}
