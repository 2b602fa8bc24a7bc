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

/// `docs/rules.md`: the whole catalog with rationale, example and remediation, generated so that
/// the docs cannot drift from the code (a test compares them).
pub fn markdown() -> String {
    let mut out = String::from(
        "# iamgate rules\n\n<!-- Generated from the rule catalog (src/engine/risk/rules). Do not edit: run\n     `UPDATE_DOCS=1 cargo test --test docs` to regenerate. -->\n\n",
    );
    out.push_str("Each rule has an id, a category, a default severity (see `.iamgate.yml` `risk.severity` to\n");
    out.push_str("override it, `risk.disable` to turn it off), and the text below. `iamgate rules` lists them;\n");
    out.push_str("`/iamgate explain <rule-id>` shows one in a pull request.\n\n");
    out.push_str("| id | category | severity | description |\n| --- | --- | --- | --- |\n");
    for r in all() {
        let anchor = r.id.to_ascii_lowercase();
        out.push_str(&format!(
            "| [{}](#{anchor}) | {} | {} | {} |\n",
            r.id, r.category, r.severity, r.title
        ));
    }
    for r in all() {
        out.push_str(&format!(
            "\n## {}\n\n{}\n\n- Category: `{}`\n- Default severity: `{}`\n\n**Why it matters.** {}\n\n**Example.**\n\n```json\n{}\n```\n\n**How to fix.** {}\n",
            r.id,
            r.title,
            r.category,
            r.severity,
            r.rationale,
            r.example.trim(),
            r.remediation
        ));
    }
    out
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
