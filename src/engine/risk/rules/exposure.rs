//! Rules: exposure.

use crate::engine::iam::IamState;
use crate::engine::risk::{EvalCtx, Finding, Rule};

pub const RULES: &[Rule] = &[];

pub fn check(_state: &IamState, _ctx: EvalCtx<'_>, _out: &mut Vec<Finding>) {}
