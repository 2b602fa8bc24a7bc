//! Rules: guardrails removed by the change (evaluated on the before and after states together).

use crate::engine::iam::IamState;
use crate::engine::risk::{EvalCtx, Finding, Rule};

pub const RULES: &[Rule] = &[];

/// Findings about what the change removes: they are always new.
pub fn check_change(_before: &IamState, _after: &IamState, _ctx: EvalCtx<'_>, _out: &mut Vec<Finding>) {}
