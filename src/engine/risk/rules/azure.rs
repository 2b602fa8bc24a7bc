//! Rules: Azure, over the state's `bindings`, `role_defs` and `credentials` of that cloud
//! (see `iam::grants`).

use crate::engine::iam::IamState;
use crate::engine::risk::{EvalCtx, Finding, Rule};

/// The family's catalog entries.
pub const RULES: &[Rule] = &[];

/// Runs the family over one state.
pub fn check(state: &IamState, ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    let _ = (state, ctx, out);
}
