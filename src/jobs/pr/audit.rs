//! The audit records of the PR flow: the analysis of a head (once per fingerprint) and each
//! status iamgate sets (when it differs from the last one recorded). Both are appended with the
//! next save of the pull request's kept state, so a record and its bookkeeping land together.

use super::PrRun;
use crate::audit::{AuditEntry, AuditEvent, Timestamp};
use crate::config::repo::StackConfig;
use crate::engine::StackOutcome;
use crate::gate::Decision;
use crate::publish::KeptState;

/// Records the analysis of this head once per fingerprint.
pub(super) fn analysis(
    kept: &mut KeptState,
    run: PrRun<'_>,
    stacks: &[(&StackConfig, StackOutcome)],
    fingerprint: &str,
    submitted_by: &[String],
) {
    if stacks.is_empty() {
        return;
    }
    let key = format!("{} {fingerprint}", run.pr.head);
    if kept.state.audited.analysis.as_deref() == Some(key.as_str()) {
        return;
    }
    let worst = stacks
        .iter()
        .filter_map(|(_, o)| o.analysis().map(|a| a.risk))
        .max_by_key(|r| r.score);
    let changes_iam = stacks
        .iter()
        .any(|(_, o)| !matches!(o, StackOutcome::Analyzed(a) if a.resources.is_empty()));
    let event = AuditEvent::Analysis {
        stacks: stacks.iter().map(|(s, _)| s.name.clone()).collect(),
        score: worst.map_or(0, |r| r.score),
        level: worst.map_or_else(|| "none".to_owned(), |r| r.level.to_string()),
        fingerprint: changes_iam.then(|| fingerprint.to_owned()),
        submitted_by: submitted_by.to_vec(),
    };
    kept.audit(AuditEntry::by_app(now(), run.pr_ref, event).at(run.pr.head.clone()));
    kept.state.audited.analysis = Some(key);
}

/// Records a status iamgate set, when it differs from the last one recorded.
pub(super) fn status(kept: &mut KeptState, run: PrRun<'_>, decision: &Decision) {
    let key = format!(
        "{} {} {}",
        run.pr.head,
        decision.state.as_str(),
        decision.description
    );
    if kept.state.audited.status.as_deref() == Some(key.as_str()) {
        return;
    }
    let event = AuditEvent::StatusChange {
        state: decision.state,
        description: decision.description.clone(),
    };
    kept.audit(AuditEntry::by_app(now(), run.pr_ref, event).at(run.pr.head.clone()));
    kept.state.audited.status = Some(key);
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}
