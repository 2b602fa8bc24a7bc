//! The rules, one module per family. Each family exports `RULES` (its catalog entries) and
//! `check` (its evaluation over one state; `unanalyzed` over the steps no reader models).

pub mod azure;
pub mod escalation;
pub mod exposure;
pub mod gcp;
pub mod guardrail;
pub mod kubernetes;
pub mod lint;
pub mod managed;
pub mod resource_policy;
pub mod trust;
pub mod unanalyzed;
pub mod wildcard;

use super::effective::each_view;
use super::{EvalCtx, Finding, Rule};
use crate::engine::iam::IamState;

/// The `malformed` findings of one cloud's resources: one per property its reader (or the
/// preview parser) could not read, reported with that cloud's `rule`.
pub fn report_unreadable(
    state: &IamState,
    cloud: crate::engine::iam::unmodeled::Cloud,
    rule: &Rule,
    out: &mut Vec<Finding>,
) {
    lint::unreadable_findings(state, cloud, rule, out);
}

/// The finding of `rule` about long-lived credentials of a binding cloud (a key, a password, a
/// token secret): about its owner, pinned to it, a workload identity.
pub fn credential_finding(
    c: &crate::engine::iam::Sourced<crate::engine::iam::grants::Credential>,
    rule: &Rule,
    severity: super::Severity,
    message: String,
) -> Finding {
    Finding {
        rule_id: rule.id,
        category: rule.category,
        severity,
        resource: c.urn.clone(),
        subject: c.value.owner.clone(),
        evidence: c.value.kind.clone(),
        message,
        scope: super::Scope::Pinned,
        exposure: super::Exposure::Service,
        confidence: super::Confidence::Direct,
    }
}

/// Every family's catalog entries, in display order.
pub fn families() -> [&'static [Rule]; 12] {
    [
        wildcard::RULES,
        escalation::RULES,
        exposure::RULES,
        managed::RULES,
        trust::RULES,
        resource_policy::RULES,
        guardrail::RULES,
        lint::RULES,
        gcp::RULES,
        azure::RULES,
        kubernetes::RULES,
        unanalyzed::RULES,
    ]
}

/// Every family over one state, in catalog order. The effective permissions of each of the
/// state's subjects are computed once, for the three families that read them, and dropped
/// before the next subject's: only one is held at a time.
pub fn check_all(state: &IamState, ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    let trusting = escalation::trusting_in(state);
    for view in each_view(state) {
        let one = std::slice::from_ref(&view);
        wildcard::check_views(one, ctx, out);
        escalation::check_views_with(one, &trusting, out);
        exposure::check_views(one, ctx, out);
    }
    managed::check(state, ctx, out);
    trust::check(state, ctx, out);
    resource_policy::check(state, ctx, out);
    lint::check(state, ctx, out);
    gcp::check(state, ctx, out);
    azure::check(state, ctx, out);
    kubernetes::check(state, ctx, out);
}
