//! When the queue gives up a pull request's job (dead-lettered after `[worker] max_attempts`, or
//! after a failure that retrying cannot fix), the pull request is told: a `failure` status on its
//! current head and the comment saying what failed. Without it the head would keep whatever
//! status it had (possibly an earlier `success` that nothing backs any more) and nobody would
//! know. Best effort: when the forge itself is what keeps failing, the worker logs it and counts
//! it (`iamgate_dead_letter_notices_total{outcome="failed"}`). The next run that succeeds
//! replaces both.

use tracing::info;

use super::{PrRun, publishing};
use crate::event::PrRef;
use crate::forge::{Forge, PullRequest};
use crate::jobs::ctx::JobCtx;
use crate::jobs::repo_config::{self, Governing};
use crate::queue::JobFailure;
use crate::store::Lane;

/// The status's description, before the reason (clipped to the forge's 140 characters).
const STATUS_PREFIX: &str = "iamgate could not analyze this pull request: ";

/// Tells pull request `pr_ref` that job `job` was given up for `reason`.
pub async fn gave_up(
    ctx: &JobCtx,
    pr_ref: &PrRef,
    job: i64,
    reason: &str,
) -> Result<(), JobFailure> {
    let forge = ctx.forges.forge(&pr_ref.repo_ref()).await?;
    let pr = forge.pull_request(pr_ref).await?;
    if !pr.open {
        info!(pr = %pr_ref, job, "the given-up job's pull request is closed: nothing to tell");
        return Ok(());
    }
    if !gated(ctx, forge.as_ref(), pr_ref, &pr).await? {
        info!(pr = %pr_ref, job, "the given-up job's repository is not enrolled: nothing to tell");
        return Ok(());
    }
    let run = PrRun {
        ctx,
        forge: forge.as_ref(),
        pr_ref,
        pr: &pr,
        lane: Lane::Fast,
    };
    let status = format!("{STATUS_PREFIX}{reason}");
    publishing::failure(run, &explanation(job, reason), &status).await
}

/// Whether iamgate gates the pull request: its base branch has a `.iamgate.yml`, or, when that
/// cannot be read (perhaps what failed all along), iamgate decided or commented on it before.
async fn gated(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    pr: &PullRequest,
) -> Result<bool, JobFailure> {
    match repo_config::governing(forge, pr_ref, pr).await {
        Ok(Governing::NotEnrolled) => Ok(false),
        Ok(Governing::Valid(_) | Governing::Invalid(_)) => Ok(true),
        Err(_) => Ok(ctx.store.pr_gate(pr_ref).await?.is_some()
            || ctx.store.pr_state(pr_ref).await?.comment_id.is_some()),
    }
}

/// What the comment says: what failed, that the gate stays closed, and how to try again.
fn explanation(job: i64, reason: &str) -> String {
    format!(
        "iamgate could not analyze this pull request: it gave up after repeated failures, so the gate stays closed \
         until an analysis succeeds. Push a commit or comment `/iamgate rerun` to try again; if it keeps failing, \
         the iamgate administrators will find job {job} in the server's log.\n\nWhat failed: {reason}"
    )
}
