//! The status check: a pipeline of the pull request changed state (GitLab), so its head's
//! `iamgate` status is looked at where the forge judges the merge, without analyzing again:
//!
//! - iamgate's own status in the state of the recorded decision: nothing to do (so iamgate's own
//!   status posts, which change the pipeline's state and fire the hook, cost one read);
//! - none (a new pipeline) or iamgate's own in another state: the recorded decision is posted;
//! - one posted by anyone else under iamgate's name (any Developer can post a commit status of
//!   any name through the API): iamgate's status is posted again over it, and the pull request
//!   and the audit trail say who posted what, once per such status;
//! - no decision recorded for this head (and base): the pull request is analyzed.
//!
//! What it trusts: the forge's word on who posted a status (its author), and the store's
//! record of iamgate's own decision. It never trusts a status's state or text.

use tracing::{info, warn};

use super::{PrRun, audit, shared};
use crate::audit::{AuditEntry, AuditEvent, Timestamp};
use crate::engine::report::escape;
use crate::event::PrRef;
use crate::forge::ShownStatus;
use crate::gate::{Decision, GateState};
use crate::jobs::ctx::JobCtx;
use crate::publish::{self, KeptState};
use crate::queue::JobFailure;
use crate::store::{JobKind, Lane};

/// Checks pull request `pr_ref`'s head status (see the module's documentation).
pub async fn check_status(ctx: &JobCtx, pr_ref: &PrRef) -> Result<(), JobFailure> {
    let forge = ctx.forges.forge(&pr_ref.repo_ref()).await?;
    let pr = forge.pull_request(pr_ref).await?;
    if !pr.open {
        return Ok(());
    }
    let recorded = ctx
        .store
        .pr_gate(pr_ref)
        .await?
        .filter(|g| g.sha == pr.head.as_str() && g.base == pr.base_ref);
    let Some(own) = recorded else {
        info!(pr = %pr_ref, sha = %pr.head, "no decision recorded for this head: analyzing");
        ctx.store
            .enqueue(JobKind::AnalyzePr { pr: pr_ref.clone() })
            .await?;
        return Ok(());
    };
    let run = PrRun {
        ctx,
        forge: forge.as_ref(),
        pr_ref,
        pr: &pr,
        lane: Lane::Fast,
    };
    // An unreadable recorded state counts as failure: never as mergeable.
    let state = GateState::parse(&own.state).unwrap_or(GateState::Failure);
    let decision = shared::combined(run, &Decision::new(state, own.description)).await?;
    let shown = forge.shown_status(pr_ref, &pr.head).await?;
    match &shown {
        Some(s) if s.ours && s.state == Some(decision.state) => return Ok(()),
        Some(s) if !s.ours => {
            warn!(pr = %pr_ref, sha = %pr.head, author = %s.author, state = ?s.state, "a status named iamgate was posted by someone else: posting iamgate's own over it")
        }
        _ => {
            info!(pr = %pr_ref, sha = %pr.head, "the head does not show iamgate's decision here: posting it")
        }
    }
    publish::status(run.forge, pr_ref, &pr.head, &decision).await?;
    let mut kept = KeptState::load(ctx.store.as_ref(), pr_ref).await?;
    if let Some(foreign) = shown.filter(|s| !s.ours) {
        report_foreign(run, &foreign, &decision, &mut kept).await?;
    }
    audit::status(&mut kept, run, &decision);
    Ok(kept.save(ctx.store.as_ref(), pr_ref).await?)
}

/// Tells the pull request and the audit trail, once per status, that someone else posted a
/// status under iamgate's name.
async fn report_foreign(
    run: PrRun<'_>,
    foreign: &ShownStatus,
    decision: &Decision,
    kept: &mut KeptState,
) -> Result<(), JobFailure> {
    let key = format!("{} {} {}", run.pr.head, foreign.id, foreign.author);
    if !kept.state.audited.foreign_statuses.insert(key) {
        return Ok(());
    }
    let body = foreign_note(run.pr.head.as_str(), foreign, decision);
    run.forge.create_comment(run.pr_ref, &body).await?;
    let event = AuditEvent::ForeignStatus {
        state: foreign
            .state
            .map_or_else(|| "other".to_owned(), |s| s.as_str().to_owned()),
        description: foreign.description.clone(),
    };
    let when = Timestamp::from_system_time(std::time::SystemTime::now());
    kept.audit(
        AuditEntry::by(when, run.pr_ref, foreign.author.clone(), event).at(run.pr.head.clone()),
    );
    Ok(())
}

/// The comment about a status someone else posted under iamgate's name. The login and the
/// text are the poster's: shown as code, so they can neither mention anyone nor format.
fn foreign_note(head: &str, foreign: &ShownStatus, decision: &Decision) -> String {
    let state = foreign.state.map_or("another state", GateState::as_str);
    format!(
        "**A commit status named `iamgate` on {} was not posted by iamgate**: {} posted it ({state}: {}). \
         iamgate does not trust it and has set its own status again: **{}**, {}. \
         This is recorded in the audit trail.",
        escape::code_span(head),
        escape::code_span(foreign.author.as_str()),
        escape::code_span(&escape::clip(&foreign.description, 200)),
        decision.state.as_str(),
        escape::code_span(&decision.description),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Login;

    #[test]
    fn the_note_names_the_poster_without_mentioning_them() {
        let foreign = ShownStatus {
            id: 9,
            state: Some(GateState::Success),
            description: "all good @security-team ```".to_owned(),
            author: Login::from("mallory"),
            ours: false,
        };
        let decision = Decision::new(GateState::Pending, "needs 1 approval from acme/security");
        let note = foreign_note("abc123", &foreign, &decision);
        assert!(note.contains("`mallory`"), "{note}");
        assert!(note.contains("**pending**"), "{note}");
        assert!(!note.contains(" @security-team"), "no mention: {note}");
        assert!(
            note.contains("(success: ```` all good"),
            "the text stays inside a code span longer than its own backticks: {note}"
        );
        assert!(!note.contains('\n'), "{note}");
    }
}
