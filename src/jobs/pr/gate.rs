//! The gate step of the PR flow: the change as the gate sees it, its fingerprint (approvals and
//! review requests bind to it), the reviews it triggers, the approvals that count
//! (`jobs::approvals`), and the decision.

use sha2::{Digest, Sha256};

use super::{Analyzed, PrRun};
use crate::config::repo::{self, RepoConfig, StackConfig};
use crate::engine::StackOutcome;
use crate::engine::risk::Category;
use crate::gate::{Change, Decision, Reviews, decide_reviews, triggered};
use crate::jobs::approvals;
use crate::publish::KeptState;
use crate::queue::JobFailure;

/// What the gate decided, and what it decided on.
#[derive(Debug)]
pub(super) struct Verdict {
    pub decision: Decision,
    pub reviews: Reviews,
    /// The fingerprint of the whole change across stacks.
    pub fingerprint: String,
    /// Part of the IAM change is only known at deploy time, so the fingerprint names the commit:
    /// approvals and overrides count for this commit only (the comment says why).
    pub commit_bound: bool,
}

/// What the comment says when approvals are bound to the commit.
pub(super) const COMMIT_BOUND_NOTE: &str = "Part of this IAM change is computed at deploy time (unknown in the preview), so iamgate cannot tell \
                                            whether a later push changes what it grants: approvals and overrides count for this commit only, \
                                            and a new push needs them again.";

/// Records the fingerprint of this head, gathers the approvals of the triggered reviews and
/// decides.
pub(super) async fn decide(
    run: PrRun<'_>,
    config: &RepoConfig,
    analyzed: &Analyzed<'_>,
    kept: &mut KeptState,
) -> Result<Verdict, JobFailure> {
    let change = Change {
        stacks: analyzed
            .stacks
            .iter()
            .map(|(stack, outcome)| (*stack, outcome.as_ref()))
            .collect(),
        changed_paths: &analyzed.changed_paths,
        config_changed: analyzed.config_changed,
    };
    let commit_bound = analyzed
        .stacks
        .iter()
        .any(|(_, outcome)| computed_at_deploy(outcome));
    let fingerprint = fingerprint(&analyzed.stacks, run.pr.head.as_str());
    if !analyzed.stacks.is_empty() {
        run.ctx
            .store
            .put_fingerprint(run.pr_ref, run.pr.head.as_str(), &fingerprint)
            .await?;
    }
    let triggered_reviews: Vec<&repo::ReviewRule> = triggered(config, &change)
        .iter()
        .map(|t| t.review)
        .collect();
    let reviews = approvals::gather(
        run.ctx,
        run.forge,
        run.pr_ref,
        run.pr,
        config,
        &triggered_reviews,
        kept,
    )
    .await?;
    let decision = decide_reviews(&change, &reviews);
    Ok(Verdict {
        decision,
        reviews,
        fingerprint,
        commit_bound,
    })
}

/// The fingerprint of the whole change across stacks, which approvals and overrides bind to. A
/// stack whose IAM is not fully known — computed at deploy time, or not analyzed at all (failed,
/// or not run: a fork) — binds them to the commit `head`: the same placeholder would otherwise
/// stand for whatever any later push computes.
fn fingerprint(stacks: &[(&StackConfig, StackOutcome)], head: &str) -> String {
    let mut h = Sha256::new();
    for (s, o) in stacks {
        h.update(s.name.as_bytes());
        h.update(b"\0");
        match o {
            StackOutcome::Analyzed(a) => h.update(a.fingerprint.0.as_bytes()),
            StackOutcome::Failed { .. } => h.update(b"failed"),
            StackOutcome::NotRun { .. } => h.update(b"not-run"),
        }
        if !matches!(o, StackOutcome::Analyzed(_)) || computed_at_deploy(o) {
            h.update(b"\0commit ");
            h.update(head.as_bytes());
        }
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Whether a changed resource's IAM is only known at deploy time: an `unknown-value` finding that
/// the change brings, or one on a resource it changes.
fn computed_at_deploy(outcome: &StackOutcome) -> bool {
    let StackOutcome::Analyzed(analysis) = outcome else {
        return false;
    };
    analysis.findings.iter().any(|reported| {
        reported.finding.category == Category::UnknownValue
            && (reported.new
                || analysis
                    .resources
                    .iter()
                    .any(|r| r.urn == reported.finding.resource))
    })
}
