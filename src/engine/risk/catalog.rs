//! The rule catalog: every family's rules in one list, looked up by id. `iamgate rules` and
//! `docs/rules.md` are generated from it.

use std::sync::OnceLock;

use super::Rule;
use super::rules::{self, families};
use crate::engine::iam::unmodeled::{self, Cloud, Removal};

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
    out.push_str(&unanalyzed_types());
    out
}

/// The section of `docs/rules.md` that lists the table of `iam::unmodeled`, per cloud.
fn unanalyzed_types() -> String {
    let mut out = String::from(UNANALYZED_INTRO);
    for cloud in Cloud::ALL {
        let rule = rules::unanalyzed::rule(cloud);
        out.push_str(&format!(
            "\n### {} ([{}](#{}))\n\n| pattern | deleting it | what these resources are |\n| --- | --- | --- |\n",
            cloud.as_str(),
            rule.id,
            rule.id.to_ascii_lowercase()
        ));
        for row in unmodeled::TABLE.iter().filter(|r| r.cloud == cloud) {
            let when = row
                .property
                .map(|p| format!(", when `{p}` is set or changes"))
                .unwrap_or_default();
            let removal = match (row.removal, row.property) {
                (Removal::Governs, _) => "may lift a guardrail: new risk",
                (Removal::Grants, None) => "removes access: an improvement",
                (Removal::Grants, Some(_)) => {
                    "removes the policy with its resource: an improvement"
                }
            };
            out.push_str(&format!(
                "| `{}`{when} | {removal} | {} |\n",
                row.pattern(),
                row.what
            ));
        }
    }
    out
}

const UNANALYZED_INTRO: &str = "
## Unanalyzed resource types

A resource that grants or governs access but whose type iamgate does not model yet is never passed
over as \"no IAM change\": a step that changes it is reported with the `unanalyzed` rule of its
cloud, medium by default (so that review is required; `risk.severity` and `risk.disable` apply as
to any rule). The resource is listed in the report's `resources` with its op, and its inputs before
and after (unknown values as `<unknown until apply>`, secrets as `<secret>`) are its diff and
enter the change's fingerprint, so that an approval does not survive a change of them.

Types are matched on the Pulumi type token `<package>:<module>:<Type>`. A module matches with any
`/...` after it (`aws:ssoadmin` covers `aws:ssoadmin/permissionSet:PermissionSet`,
`azure-native:authorization` covers `azure-native:authorization/v20220401:RoleAssignment`,
`kubernetes:rbac.authorization.k8s.io` covers `kubernetes:rbac.authorization.k8s.io/v1:Role`);
`*` is any module or any type; `*Name` is any type whose name ends so, ignoring case
(`gcp:projects/iAMMember:IAMMember`, `gcp:cloudrun/iamMember:IamMember`); `{a, b}` is either. The
first matching row decides. A type iamgate models is analyzed by its rules and never reported
here, whatever a row matches: modeling a type later only needs its row removed.

Which steps count is decided as for the modeled types: `create`, `update`, `replace`, the
replacement halves, `delete`, `discard` and unknown ops change the resource; `same`, `read`,
`refresh` and `import` do not (an import brings a resource that already exists, as it is, under
the program: the preview fails when its inputs differ). A row \"when `x` is set or changes\" counts a
step only when that input is set, changed or removed, and shows only that input.

**Deletions.** Removing access never raises the score, but removing a guardrail does (as with
`AWS-GR-001`, a permissions boundary removed). Rows whose resources only grant access (role
assignments, bindings, members, shares) report a deletion as risk the change removes: listed under
the improvements, not scored. Rows whose resources can restrict access (SCPs and other
organization policies, deny policies, permissions boundaries, policies that may hold a Deny,
policy assignments and exemptions) report a deletion as new risk: what iamgate cannot read may be
a guardrail. A policy carried as an input of its resource goes with the resource: deleting the
resource removes access; removing the input from a resource that stays is a change like any
other.
";

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
