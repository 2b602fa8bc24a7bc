//! The JSON report (`--format json`): exactly the contract's fields (`schema_version`, `risk`,
//! `resources[]`, `findings[]`) plus extras the contract allows (`fingerprint`, `improvements[]`,
//! per finding `title`, `subject` and `previous_severity`, and `errors`). Serde structs only; no
//! decisions, no escaping (JSON carries text as is).

use serde::Serialize;

use super::{CATALOG, Lookup};
use crate::engine::risk::{Category, Severity};
use crate::engine::{Analysis, Reported, ResourceChange, Risk};

/// The report's `schema_version`; raise it only for an incompatible change of the fixed fields.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct Report<'a> {
    schema_version: u32,
    risk: Risk,
    fingerprint: &'a str,
    resources: Vec<Resource<'a>>,
    findings: Vec<FindingOut<'a>>,
    improvements: Vec<FindingOut<'a>>,
    errors: &'a [String],
}

#[derive(Debug, Serialize)]
struct Resource<'a> {
    urn: &'a str,
    #[serde(rename = "type")]
    type_: &'a str,
    op: &'a str,
    risk: Risk,
    diff: &'a str,
}

#[derive(Debug, Serialize)]
struct FindingOut<'a> {
    rule_id: &'a str,
    category: Category,
    severity: Severity,
    resource: &'a str,
    message: &'a str,
    new: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'static str>,
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_severity: Option<Severity>,
}

/// The JSON report, pretty-printed, with a trailing newline.
pub fn render(analysis: &Analysis) -> String {
    render_with(analysis, CATALOG)
}

pub(crate) fn render_with(analysis: &Analysis, lookup: Lookup) -> String {
    let report = Report {
        schema_version: SCHEMA_VERSION,
        risk: analysis.risk,
        fingerprint: &analysis.fingerprint.0,
        resources: analysis.resources.iter().map(resource).collect(),
        findings: analysis
            .findings
            .iter()
            .map(|r| finding(r, lookup))
            .collect(),
        improvements: analysis
            .improvements
            .iter()
            .map(|r| finding(r, lookup))
            .collect(),
        errors: &analysis.errors,
    };
    let mut out = to_pretty(&report);
    out.push('\n');
    out
}

fn resource(r: &ResourceChange) -> Resource<'_> {
    Resource {
        urn: &r.urn,
        type_: &r.type_,
        op: r.op.as_str(),
        risk: r.risk,
        diff: &r.diff,
    }
}

fn finding(r: &Reported, lookup: Lookup) -> FindingOut<'_> {
    let f = &r.finding;
    FindingOut {
        rule_id: f.rule_id,
        category: f.category,
        severity: f.severity,
        resource: &f.resource,
        message: &f.message,
        new: r.new,
        title: lookup(f.rule_id).map(|rule| rule.title),
        subject: &f.subject,
        previous_severity: r.before.filter(|before| *before != f.severity),
    }
}

#[expect(
    clippy::expect_used,
    reason = "these structs hold only strings, numbers, bools and string-keyed data: serializing them cannot fail"
)]
pub(crate) fn to_pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("report structs always serialize")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::engine::report::fixture;

    fn parsed(a: &Analysis) -> Value {
        serde_json::from_str(&render_with(a, fixture::rules)).unwrap_or_default()
    }

    #[test]
    fn has_exactly_the_contract_fields_with_their_types() {
        let v = parsed(&fixture::analysis());
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["risk"]["score"], 92);
        assert_eq!(v["risk"]["level"], "critical");
        let r = &v["resources"][1];
        for key in ["urn", "type", "op", "risk", "diff"] {
            assert!(r.get(key).is_some(), "resource lacks {key}: {r}");
        }
        assert_eq!(r["type"], "aws:iam/rolePolicy:RolePolicy");
        assert_eq!(r["op"], "update");
        assert_eq!(r["risk"]["level"], "critical");
        assert!(
            r["diff"]
                .as_str()
                .unwrap_or_default()
                .contains("+      \"Action\": [\"*\"],")
        );
        let f = &v["findings"][0];
        assert_eq!(f["rule_id"], "AWS-ADM-001");
        assert_eq!(f["category"], "admin-access");
        assert_eq!(f["severity"], "critical");
        assert_eq!(f["resource"], fixture::ROLE_URN);
        assert_eq!(f["new"], true);
        assert_eq!(v["findings"][1]["new"], false);
    }

    #[test]
    fn carries_the_extras() {
        let v = parsed(&fixture::analysis());
        assert_eq!(v["fingerprint"].as_str().map(str::len), Some(64));
        assert_eq!(v["findings"][0]["title"], "Full administrator access");
        assert_eq!(v["findings"][0]["subject"], "role/deployer");
        assert_eq!(v["improvements"][0]["rule_id"], "AWS-PUB-002");
        assert_eq!(v["improvements"][0]["new"], false);
        assert_eq!(v["errors"], Value::Array(vec![]));
    }

    #[test]
    fn previous_severity_only_when_it_changed() {
        let mut a = fixture::analysis();
        a.findings[0].before = Some(Severity::Medium);
        let v = parsed(&a);
        assert_eq!(v["findings"][0]["previous_severity"], "medium");
        // Unchanged severity (pre-existing) and no before state: no field.
        assert!(v["findings"][1].get("previous_severity").is_none());
        let v = parsed(&fixture::analysis());
        assert!(v["findings"][0].get("previous_severity").is_none());
    }

    #[test]
    fn an_unknown_rule_has_no_title_and_text_is_not_markdown_escaped() {
        let mut a = fixture::analysis();
        a.findings[0].finding.rule_id = "X-NOPE";
        a.findings[0].finding.message = "<b>@alice</b> | `x`".to_owned();
        let v = parsed(&a);
        assert!(v["findings"][0].get("title").is_none());
        assert_eq!(v["findings"][0]["message"], "<b>@alice</b> | `x`");
    }

    #[test]
    fn a_preview_without_iam_changes_scores_none() {
        let mut a = fixture::analysis();
        a.risk = Risk::NONE;
        a.resources.clear();
        a.findings.clear();
        a.improvements.clear();
        a.errors = vec!["stack not found".to_owned()];
        let v = parsed(&a);
        assert_eq!(v["risk"]["score"], 0);
        assert_eq!(v["risk"]["level"], "none");
        assert_eq!(v["resources"], Value::Array(vec![]));
        assert_eq!(v["errors"][0], "stack not found");
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render_with(&fixture::analysis(), fixture::rules));
    }
}
