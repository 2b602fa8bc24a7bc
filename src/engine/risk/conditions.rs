//! Condition analysis shared by the rules: which conditions really limit who or what a statement
//! applies to (catalog §2.6). STUB: replaced by the trust/resource-policy rules work.

use crate::engine::iam::policy::Conditions;

/// True when the conditions restrict the statement to specific principals, sources or networks
/// (positive operators on limiting keys, with non-public values).
pub fn is_limiting(conditions: &Conditions) -> bool {
    !conditions.is_empty()
}
