//! The rules, one module per family. Each family exports `RULES` (its catalog entries) and
//! `check` (its evaluation over one state).

pub mod escalation;
pub mod exposure;
pub mod guardrail;
pub mod lint;
pub mod managed;
pub mod resource_policy;
pub mod trust;
pub mod wildcard;

use super::{EvalCtx, Finding, Rule};
use crate::engine::iam::IamState;

/// Every family's catalog entries, in display order.
pub fn families() -> [&'static [Rule]; 8] {
    [
        wildcard::RULES,
        escalation::RULES,
        exposure::RULES,
        managed::RULES,
        trust::RULES,
        resource_policy::RULES,
        guardrail::RULES,
        lint::RULES,
    ]
}

pub fn check_all(state: &IamState, ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    wildcard::check(state, ctx, out);
    escalation::check(state, ctx, out);
    exposure::check(state, ctx, out);
    managed::check(state, ctx, out);
    trust::check(state, ctx, out);
    resource_policy::check(state, ctx, out);
    lint::check(state, ctx, out);
}
