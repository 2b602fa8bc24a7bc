//! The rules, one module per family. Each family exports `RULES` (its catalog entries) and
//! `check` (its evaluation over one state; `unanalyzed` over the steps no reader models).

pub mod escalation;
pub mod exposure;
pub mod guardrail;
pub mod lint;
pub mod managed;
pub mod resource_policy;
pub mod trust;
pub mod unanalyzed;
pub mod wildcard;

use super::effective::each_view;
use super::{EvalCtx, Finding, Rule};
use crate::engine::iam::IamState;

/// Every family's catalog entries, in display order.
pub fn families() -> [&'static [Rule]; 9] {
    [
        wildcard::RULES,
        escalation::RULES,
        exposure::RULES,
        managed::RULES,
        trust::RULES,
        resource_policy::RULES,
        guardrail::RULES,
        lint::RULES,
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
}
