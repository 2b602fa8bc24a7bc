//! The publishing step of the PR flow: the comment (each stack's report, the gate's review
//! state, the notes), the `iamgate` status and the review requests, each remembered in the pull
//! request's kept state as soon as it is done, and audited; and, when iamgate cannot decide, a
//! comment saying why with a failure status.

use super::gate::{COMMIT_BOUND_NOTE, Verdict};
use super::{Analyzed, PrRun, audit, shared};
use crate::config::Problems;
use crate::engine::report::markdown::{self, Section};
use crate::forge::Forge;
use crate::gate::{Decision, GateState, Reviewer, Reviews};
use crate::publish::{self, KeptState, comment};
use crate::queue::JobFailure;

const NO_STACK_NOTE: &str =
    "No Pulumi stack of .iamgate.yml is affected by this pull request any more.";

/// Publishes the result: the status alone when no stack is touched and there is no comment to
/// keep current; else the comment, the status and the review requests.
pub(super) async fn publish(
    run: PrRun<'_>,
    analyzed: &Analyzed<'_>,
    verdict: &Verdict,
    mut notes: Vec<String>,
    kept: &mut KeptState,
) -> Result<(), JobFailure> {
    let (forge, pr_ref) = (run.forge, run.pr_ref);
    if analyzed.stacks.is_empty() && !analyzed.config_changed {
        if publish::existing_comment(forge, pr_ref, &kept.state)
            .await?
            .is_none()
        {
            return status(run, &verdict.decision, kept).await;
        }
        notes.push(NO_STACK_NOTE.to_owned());
    }
    if let Some(note) = unrequested_teams_note(forge, &verdict.reviews) {
        notes.push(note);
    }
    if verdict.commit_bound {
        notes.push(COMMIT_BOUND_NOTE.to_owned());
    }
    let sections: Vec<Section<'_>> = analyzed
        .stacks
        .iter()
        .map(|(stack, outcome)| Section {
            name: Some(stack.name.clone()),
            outcome: outcome.as_ref(),
        })
        .collect();
    let reviews = &verdict.reviews;
    let show_reviews = !reviews.requirements.is_empty()
        || !reviews.dropped.is_empty()
        || reviews.overridden.is_some();
    let comment = comment::build(sections, show_reviews.then_some(reviews), notes);
    let body = markdown::render(&comment, publish::comment_budget(forge));
    publish::upsert_comment(forge, pr_ref, &body, &mut kept.state).await?;
    kept.save(run.ctx.store.as_ref(), pr_ref).await?;
    status(run, &verdict.decision, kept).await?;
    publish::request_reviews_once(
        forge,
        pr_ref,
        run.pr,
        &reviews.requirements,
        &verdict.fingerprint,
        &mut kept.state,
    )
    .await?;
    Ok(kept.save(run.ctx.store.as_ref(), pr_ref).await?)
}

/// Sets the status of the head — this pull request's decision combined with those of the other
/// open pull requests that share the head (`shared`) — audits it and remembers both.
async fn status(
    run: PrRun<'_>,
    decision: &Decision,
    kept: &mut KeptState,
) -> Result<(), JobFailure> {
    let mut shown = shared::record(run, decision).await?;
    publish::status(run.forge, run.pr_ref, &run.pr.head, &shown).await?;
    // Another pull request of the same head may have decided meanwhile and posted what it saw
    // before this decision was recorded: read again, and post again when that changed it.
    let again = shared::combined(run, decision).await?;
    if again != shown {
        publish::status(run.forge, run.pr_ref, &run.pr.head, &again).await?;
        shown = again;
    }
    audit::status(kept, run, &shown);
    Ok(kept.save(run.ctx.store.as_ref(), run.pr_ref).await?)
}

/// The base branch's `.iamgate.yml` is broken: iamgate cannot decide.
pub(super) async fn broken_config(run: PrRun<'_>, problems: &Problems) -> Result<(), JobFailure> {
    let reason = format!(
        "The .iamgate.yml on the base branch is invalid, so iamgate cannot decide (it fails closed). \
         Fix it on the base branch; `iamgate check-config .iamgate.yml` lists the same problems:\n{problems}"
    );
    failure(run, &reason, "invalid .iamgate.yml on the base branch").await
}

/// A comment saying why iamgate cannot decide, and a failure status (`status_text`, clipped to
/// the forge's 140 characters).
pub(super) async fn failure(
    run: PrRun<'_>,
    reason: &str,
    status_text: &str,
) -> Result<(), JobFailure> {
    let comment = markdown::Comment {
        sections: vec![Section {
            name: None,
            outcome: crate::engine::StackOutcome::Failed {
                reason: reason.to_owned(),
            },
        }],
        ..markdown::Comment::default()
    };
    let body = markdown::render(&comment, publish::comment_budget(run.forge));
    let mut kept = KeptState::load(run.ctx.store.as_ref(), run.pr_ref).await?;
    publish::upsert_comment(run.forge, run.pr_ref, &body, &mut kept.state).await?;
    kept.save(run.ctx.store.as_ref(), run.pr_ref).await?;
    let decision = Decision::new(GateState::Failure, status_text);
    status(run, &decision, &mut kept).await
}

/// On a forge that cannot ask a team to review (GitLab groups), the teams whose approvals are
/// still missing are named in the comment instead, so that nobody waits for a request that never
/// comes.
fn unrequested_teams_note(forge: &dyn Forge, reviews: &Reviews) -> Option<String> {
    if forge.can_request_teams() {
        return None;
    }
    let mut teams: Vec<&str> = reviews
        .requirements
        .iter()
        .filter(|r| r.missing() > 0)
        .flat_map(|r| r.from.iter())
        .filter_map(|who| match who {
            Reviewer::Team(team) => Some(team.as_str()),
            Reviewer::User(_) => None,
        })
        .collect();
    teams.sort_unstable();
    teams.dedup();
    (!teams.is_empty()).then(|| {
        format!(
            "This forge cannot ask a group to review, so iamgate did not: approvals are still needed from members of {}. \
             They can approve the merge request or comment /iamgate approve.",
            teams.join(", ")
        )
    })
}
