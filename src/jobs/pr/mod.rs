//! The pull request flow, one step per file in the order it runs: the governing config
//! (`jobs::repo_config`), the stacks the changed files touch (`gate::requirements`), each
//! stack's outcome at the head (`previews`: the preview source, then the analysis), the gate
//! (`gate`: fingerprint, requirements, approvals, decision), the audit records (`audit`), and
//! publishing (`publishing`: one comment, the `iamgate` status, review requests) — never for a
//! head that is no longer current. The status is the commit's (`shared`): combined with the
//! other open pull requests of the same head.
//!
//! The flow runs in the queue's fast lane until it finds a stack whose preview of the head is not
//! cached: then the job moves to the preview lane and runs again there, previews included, so
//! that a gate decision from cached previews (a review, a vote) never waits behind previews.
//! When the queue gives the job up, the pull request is told (`gave_up`).

mod audit;
mod gate;
mod gave_up;
mod merged;
mod previews;
mod publishing;
mod shared;
mod status_check;

use tracing::info;

use super::ctx::JobCtx;
use super::repo_config::{self, Governing};
use crate::config::repo::{self, StackConfig};
use crate::engine::StackOutcome;
use crate::event::PrRef;
use crate::forge::{Forge, PullRequest};
use crate::gate::requirements::selected_stacks;
use crate::publish::KeptState;
use crate::queue::{Handled, JobFailure};
use crate::store::Lane;

pub use gave_up::gave_up;
pub use status_check::check_status;

/// One run of the flow: the job's context and the pull request it is about, as read at the start.
#[derive(Debug, Clone, Copy)]
struct PrRun<'a> {
    ctx: &'a JobCtx,
    forge: &'a dyn Forge,
    pr_ref: &'a PrRef,
    pr: &'a PullRequest,
    /// The queue lane the job runs in: only the preview lane runs previews.
    lane: Lane,
}

/// What the pull request changes, once every selected stack has its outcome.
#[derive(Debug)]
struct Analyzed<'c> {
    stacks: Vec<(&'c StackConfig, StackOutcome)>,
    changed_paths: Vec<String>,
    /// The pull request edits `.iamgate.yml` itself.
    config_changed: bool,
    /// The CI runs that submitted previews of its stacks (`stack: run`).
    submitted_by: Vec<String>,
}

const TOO_MANY_FILES: &str = "This pull request changes more files than the forge can list, so iamgate cannot tell which \
                              stacks it touches. Split it into smaller pull requests.";

/// Runs the flow for one pull request at its newest head, in the queue lane `lane`: in the fast
/// lane, a head whose previews are not all cached moves the job to the preview lane.
pub async fn run(ctx: &JobCtx, pr_ref: &PrRef, lane: Lane) -> Result<Handled, JobFailure> {
    let forge = ctx.forges.forge(&pr_ref.repo_ref()).await?;
    let pr = forge.pull_request(pr_ref).await?;
    if !pr.open {
        if pr.merged {
            merged::report_unless_success(ctx, forge.as_ref(), pr_ref, &pr).await?;
        }
        info!(pr = %pr_ref, "pull request is closed: it no longer holds back its head's status");
        return done(shared::release(ctx, pr_ref).await);
    }
    // From now on a command binds to this head (or a later one), never to an older one.
    ctx.store.record_head(pr_ref, pr.head.as_str()).await?;
    let run = PrRun {
        ctx,
        forge: forge.as_ref(),
        pr_ref,
        pr: &pr,
        lane,
    };
    shared::pending_if_retargeted(run).await?;
    let config = match repo_config::governing(run.forge, pr_ref, &pr).await? {
        Governing::NotEnrolled => {
            info!(pr = %pr_ref, "no .iamgate.yml on the base branch: repository not enrolled");
            return done(shared::release(ctx, pr_ref).await);
        }
        Governing::Invalid(problems) => {
            return done(publishing::broken_config(run, &problems).await);
        }
        Governing::Valid(config) => config,
    };
    let files = forge.changed_files(pr_ref).await?;
    if files.truncated {
        let status = "too many changed files to analyze";
        return done(publishing::failure(run, TOO_MANY_FILES, status).await);
    }
    let mut notes = Vec::new();
    notes.extend(pr.unheld.clone());
    let config_changed = files.paths.iter().any(|p| p == repo::FILE_PATH);
    if config_changed {
        notes.push(repo_config::change_note(run.forge, pr_ref, &pr.head).await?);
    }
    let selected = selected_stacks(&config, &files.paths);
    let mut submitted_by = Vec::new();
    let Some(stacks) =
        previews::outcomes(run, &config, &selected, &mut notes, &mut submitted_by).await?
    else {
        info!(pr = %pr_ref, sha = %pr.head, "a preview of this head is needed: moving to the preview lane");
        return Ok(Handled::MoveTo(Lane::Preview));
    };
    if !still_current(run).await? {
        return Ok(Handled::Done);
    }
    let change = Analyzed {
        stacks,
        changed_paths: files.paths,
        config_changed,
        submitted_by,
    };
    let mut kept = KeptState::load(ctx.store.as_ref(), pr_ref).await?;
    let verdict = gate::decide(run, &config, &change, &mut kept).await?;
    audit::analysis(
        &mut kept,
        run,
        &change.stacks,
        &verdict.fingerprint,
        &change.submitted_by,
    );
    kept.save(ctx.store.as_ref(), pr_ref).await?;
    done(publishing::publish(run, &change, &verdict, notes, &mut kept).await)
}

/// A step that ends the flow ends the job.
fn done(ended: Result<(), JobFailure>) -> Result<Handled, JobFailure> {
    ended.map(|()| Handled::Done)
}

/// A newer head makes this result stale: its own job publishes instead.
async fn still_current(run: PrRun<'_>) -> Result<bool, JobFailure> {
    let current = run.forge.pull_request(run.pr_ref).await?;
    let same = current.head == run.pr.head && current.open;
    if !same {
        info!(pr = %run.pr_ref, sha = %run.pr.head, newer = %current.head, "head moved or PR closed; result discarded");
    }
    Ok(same)
}
