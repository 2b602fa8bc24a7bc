//! The rule catalog: every family's rules in one list, looked up by id. `iamgate rules` and
//! `docs/rules.md` are generated from it.

use std::sync::OnceLock;

use super::Rule;
use super::rules::families;

/// Every rule, in display order.
pub fn all() -> &'static [Rule] {
    static ALL: OnceLock<Vec<Rule>> = OnceLock::new();
    ALL.get_or_init(|| families().into_iter().flatten().copied().collect())
}

/// The rule with this id (case-sensitive, e.g. `AWS-PE-009`).
pub fn rule(id: &str) -> Option<&'static Rule> {
    all().iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn ids_are_unique_and_texts_complete() {
        let mut seen = BTreeSet::new();
        for r in all() {
            assert!(seen.insert(r.id), "duplicate rule id {}", r.id);
            for (what, text) in [
                ("title", r.title),
                ("rationale", r.rationale),
                ("example", r.example),
                ("remediation", r.remediation),
            ] {
                assert!(!text.trim().is_empty(), "{} has an empty {what}", r.id);
            }
        }
    }
}
