//! The gate step of the PR flow: the change as the gate sees it, its fingerprint (approvals and
//! review requests bind to it), the reviews it triggers, the approvals that count
//! (`jobs::approvals`), and the decision.

use sha2::{Digest, Sha256};

use super::{Analyzed, PrRun};
use crate::config::repo::{self, RepoConfig, StackConfig};
use crate::engine::StackOutcome;
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
}

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
    let fingerprint = fingerprint(&analyzed.stacks);
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
    })
}

/// The fingerprint of the whole change across stacks.
fn fingerprint(stacks: &[(&StackConfig, StackOutcome)]) -> String {
    let mut h = Sha256::new();
    for (s, o) in stacks {
        h.update(s.name.as_bytes());
        h.update(b"\0");
        match o {
            StackOutcome::Analyzed(a) => h.update(a.fingerprint.0.as_bytes()),
            StackOutcome::Failed { .. } => h.update(b"failed"),
            StackOutcome::NotRun { .. } => h.update(b"not-run"),
        }
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}
