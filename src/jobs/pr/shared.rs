//! A commit status belongs to the commit, not to one pull request: when several open pull
//! requests share a head (a second pull request of the same branch into another base, say), the
//! `iamgate` status says `success` only if every one of them would. Each pull request's own
//! decision is kept in the store; the status posted is combined from all of them, and read again
//! after posting, so that two pull requests deciding at once converge on the combined one. A
//! pull request that closes, or whose base is no longer gated, drops out and the others are
//! decided again; a pull request whose base branch changed goes pending at once.

use tracing::info;

use super::PrRun;
use crate::event::{ForgeKind, PrRef};
use crate::gate::{Decision, GateState, for_commit};
use crate::jobs::ctx::JobCtx;
use crate::queue::JobFailure;
use crate::store::{JobKind, PrGate};

/// Records the pull request's own decision and returns the status to post for its head.
pub(super) async fn record(run: PrRun<'_>, own: &Decision) -> Result<Decision, JobFailure> {
    let gate = PrGate {
        pr: run.pr_ref.clone(),
        sha: run.pr.head.as_str().to_owned(),
        base: run.pr.base_ref.clone(),
        state: own.state.as_str().to_owned(),
        description: own.description.clone(),
    };
    run.ctx.store.put_pr_gate(&gate).await?;
    combined(run, own).await
}

/// The status of the head: `own` combined with the decisions of the other pull requests whose
/// head it is.
pub(super) async fn combined(run: PrRun<'_>, own: &Decision) -> Result<Decision, JobFailure> {
    let gates = run
        .ctx
        .store
        .pr_gates_at(&run.pr_ref.repo_ref(), run.pr.head.as_str())
        .await?;
    let others: Vec<(String, Decision)> = gates
        .into_iter()
        .filter(|g| g.pr != *run.pr_ref)
        .map(|g| {
            // An unreadable state counts as failure: never as mergeable.
            let state = GateState::parse(&g.state).unwrap_or(GateState::Failure);
            (label(&g.pr), Decision::new(state, g.description))
        })
        .collect();
    Ok(for_commit(own, &others))
}

/// The pull request no longer takes part in its head's status (closed, or its base is not
/// gated): its decision is forgotten and the pull requests that shared its head are decided
/// again, so that a status it held back is released.
pub(super) async fn release(ctx: &JobCtx, pr_ref: &PrRef) -> Result<(), JobFailure> {
    let Some(own) = ctx.store.pr_gate(pr_ref).await? else {
        return Ok(());
    };
    ctx.store.forget_pr_gate(pr_ref).await?;
    for other in ctx.store.pr_gates_at(&pr_ref.repo_ref(), &own.sha).await? {
        info!(pr = %pr_ref, other = %other.pr, sha = %own.sha, "deciding again a pull request that shared the head");
        ctx.store
            .enqueue(JobKind::AnalyzePr { pr: other.pr })
            .await?;
    }
    Ok(())
}

/// When the base branch changed since the last decision on this head, the status goes pending
/// at once: what the old base's config allowed says nothing about the new one's.
pub(super) async fn pending_if_retargeted(run: PrRun<'_>) -> Result<(), JobFailure> {
    let Some(last) = run.ctx.store.pr_gate(run.pr_ref).await? else {
        return Ok(());
    };
    if last.base == run.pr.base_ref || last.sha != run.pr.head.as_str() {
        return Ok(());
    }
    let pending = Decision::new(
        GateState::Pending,
        format!(
            "the base branch changed to {}: analyzing again",
            run.pr.base_ref
        ),
    );
    record(run, &pending).await?;
    crate::publish::status(run.forge, run.pr_ref, &run.pr.head, &pending).await?;
    Ok(())
}

/// How a status names another pull request: `#8` (GitHub), `!8` (GitLab).
fn label(pr: &PrRef) -> String {
    match pr.forge {
        ForgeKind::GitHub => format!("#{}", pr.number.0),
        ForgeKind::GitLab => format!("!{}", pr.number.0),
    }
}
