//! Real IAM policies that nobody on this project wrote, through the whole engine in every form a
//! Pulumi program carries them, against the contract's invariants (PRODUCT.md, JSON report):
//!
//! - the same grant reads the same level and score however it is carried (inline in the role,
//!   a `RolePolicy`, a standalone `Policy` plus an attachment, an AWS managed policy by ARN) and
//!   in either preview form (the digest and the event stream);
//! - a level is never below the severity of its worst new finding;
//! - nothing scores above full administrator access (100, and only `*` on `*` reaches it);
//! - a reformat-only change scores 0;
//! - the designed paths of the iam-vulnerable lab read high or above, its designed false
//!   positives below high.
//!
//! The corpus: every AWS managed policy of the embedded table (`data/aws-managed-policies.tsv`),
//! the iam-vulnerable lab's policies and the install policies of EKS controllers
//! (`tests/fixtures/real-policies`, with their sources).

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;
use serde_json::{Value, json};

use iamgate::engine::iam::managed;
use iamgate::engine::risk::{Confidence, RiskConfig, Scope, Severity};
use iamgate::engine::{Analysis, Level, Risk, analyze, preview};

const UNKNOWN: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const PROJECT: &str = "urn:pulumi:dev::corpus::";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

const ROLE: &str = "aws:iam/role:Role";
const POLICY: &str = "aws:iam/policy:Policy";
const ROLE_POLICY: &str = "aws:iam/rolePolicy:RolePolicy";
const ATTACHMENT: &str = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";

/// One real policy document, with the managed ARN it is known by, if it is an AWS one.
struct Case {
    label: String,
    document: Value,
    managed_arn: Option<String>,
    /// The iam-vulnerable lab's own verdict: "path", "no-path", or none.
    expect: Option<String>,
}

fn urn(type_: &str, name: &str) -> String {
    format!("{PROJECT}{type_}::{name}")
}

/// A resource state, the same in both forms (the stream adds `parent` and empty outputs).
fn state(type_: &str, name: &str, inputs: Value, deps: &Value) -> Value {
    let mut s = json!({"urn": urn(type_, name), "type": type_, "custom": true, "inputs": inputs});
    if deps.as_object().is_some_and(|d| !d.is_empty()) {
        s["propertyDependencies"] = deps.clone();
    }
    s
}

fn role_inputs(inline: Option<&str>, managed: Option<&str>) -> Value {
    let mut inputs = json!({"name": "app", "assumeRolePolicy": TRUST});
    if let Some(doc) = inline {
        inputs["inlinePolicies"] = json!([{"name": "real", "policy": doc}]);
    }
    if let Some(arn) = managed {
        inputs["managedPolicyArns"] = json!([arn]);
    }
    inputs
}

/// A create step: (type, name, inputs, propertyDependencies).
type Create = (&'static str, &'static str, Value, Value);

fn digest(creates: &[Create]) -> String {
    let steps: Vec<Value> = creates
        .iter()
        .map(|(t, n, inputs, deps)| {
            json!({"op": "create", "urn": urn(t, n), "newState": state(t, n, inputs.clone(), deps)})
        })
        .collect();
    json!({ "steps": steps }).to_string()
}

/// The same creates as the engine's event stream writes them: no `propertyDependencies`.
fn stream(creates: &[Create]) -> String {
    let mut lines = vec![json!({"sequence": 0, "timestamp": 0, "preludeEvent": {"config": {}}})];
    for (i, (t, n, inputs, _)) in creates.iter().enumerate() {
        let mut new = state(t, n, inputs.clone(), &json!({}));
        new["parent"] = json!(format!("{PROJECT}pulumi:pulumi:Stack::corpus-dev"));
        new["outputs"] = json!({});
        new["id"] = json!("");
        new["provider"] = json!("");
        lines.push(
            json!({"sequence": i + 1, "timestamp": 0, "resourcePreEvent": {
            "metadata": {"op": "create", "urn": urn(t, n), "type": t, "old": null, "new": new,
                         "detailedDiff": null, "provider": ""},
            "planning": true}}),
        );
    }
    lines.push(json!({"sequence": creates.len() + 1, "timestamp": 0, "cancelEvent": {}}));
    lines
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The forms of one document: label and preview text.
fn forms(case: &Case) -> Vec<(&'static str, String)> {
    let doc = case.document.to_string();
    let role_deps = json!({"role": [urn(ROLE, "app")]});
    let attached = [
        (ROLE, "app", role_inputs(None, None), json!({})),
        (
            POLICY,
            "real",
            json!({"name": "real", "policy": doc}),
            json!({}),
        ),
        (
            ATTACHMENT,
            "real-attach",
            // The role's name is known (an input); the policy's ARN is computed on create.
            json!({"role": "app", "policyArn": UNKNOWN}),
            json!({"role": [urn(ROLE, "app")], "policyArn": [urn(POLICY, "real")]}),
        ),
    ];
    let mut out = vec![
        (
            "inline",
            digest(&[(ROLE, "app", role_inputs(Some(&doc), None), json!({}))]),
        ),
        (
            "role-policy",
            digest(&[
                (ROLE, "app", role_inputs(None, None), json!({})),
                (
                    ROLE_POLICY,
                    "real",
                    json!({"name": "real", "role": "app", "policy": doc}),
                    role_deps.clone(),
                ),
            ]),
        ),
        ("policy+attachment digest", digest(&attached)),
        ("policy+attachment stream", stream(&attached)),
    ];
    if let Some(arn) = &case.managed_arn {
        out.push((
            "managed: managedPolicyArns",
            digest(&[(ROLE, "app", role_inputs(None, Some(arn)), json!({}))]),
        ));
        out.push((
            "managed: attachment",
            digest(&[
                (ROLE, "app", role_inputs(None, None), json!({})),
                (
                    ATTACHMENT,
                    "managed-attach",
                    json!({"role": "app", "policyArn": arn}),
                    role_deps,
                ),
            ]),
        ));
    }
    out
}

/// The document reformatted: keys in reverse order, every single Action/Resource as a list,
/// pretty-printed. The same grants.
fn reformatted(doc: &Value) -> String {
    fn reorder(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map.iter().rev() {
                    let v = match (k.as_str(), v) {
                        ("Action" | "NotAction" | "Resource" | "NotResource", Value::String(s)) => {
                            json!([s])
                        }
                        _ => reorder(v),
                    };
                    out.insert(k.clone(), v);
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(reorder).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string_pretty(&reorder(doc)).unwrap_or_else(|e| panic!("{e}"))
}

fn reformat_twin(case: &Case) -> String {
    let (old, new) = (case.document.to_string(), reformatted(&case.document));
    let step = json!({
        "op": "update",
        "urn": urn(ROLE, "app"),
        "oldState": state(ROLE, "app", role_inputs(Some(&old), None), &json!({})),
        "newState": state(ROLE, "app", role_inputs(Some(&new), None), &json!({})),
        "diffReasons": ["inlinePolicies"],
    });
    json!({ "steps": [step] }).to_string()
}

fn run(text: &str) -> Analysis {
    let p = preview::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    analyze(&p, &RiskConfig::default())
}

fn level_of(severity: Severity) -> Level {
    match severity {
        Severity::Info => Level::None,
        Severity::Low => Level::Low,
        Severity::Medium => Level::Medium,
        Severity::High => Level::High,
        Severity::Critical => Level::Critical,
    }
}

/// A new grant of every action on every resource with no condition: the top of the scale.
/// (`*` on `*` under a condition that does not limit it, as AWSMcpServiceActionsFullAccess's
/// `aws:IsMcpServiceAction`, is critical but not the top.)
fn full_admin(a: &Analysis) -> bool {
    a.findings.iter().any(|r| {
        r.new
            && r.finding.rule_id == "AWS-WC-001"
            && r.finding.severity == Severity::Critical
            && r.finding.scope == Scope::All
            && r.finding.confidence == Confidence::Direct
    })
}

/// What went wrong with one case, if anything.
fn check(case: &Case) -> Result<Risk, String> {
    let mut risks: Vec<(&str, Risk)> = Vec::new();
    for (form, text) in forms(case) {
        let a = run(&text);
        let worst = a
            .findings
            .iter()
            .filter(|r| r.new)
            .map(|r| r.finding.severity)
            .max()
            .unwrap_or(Severity::Info);
        if a.risk.level < level_of(worst) {
            return Err(format!(
                "{form}: level {} below its worst new finding ({worst})",
                a.risk.level
            ));
        }
        if full_admin(&a) != (a.risk.score == 100) || a.risk.score > 100 {
            return Err(format!(
                "{form}: score {} but full admin: {}",
                a.risk.score,
                full_admin(&a)
            ));
        }
        if form.starts_with("policy+attachment") {
            let policy_urn = urn(POLICY, "real");
            // Lint findings belong on the document where it is written; grants on the role.
            let on_policy = |r: &&iamgate::engine::Reported| {
                r.finding.subject == policy_urn
                    && !r.finding.rule_id.starts_with("AWS-LINT")
                    && !r.finding.rule_id.starts_with("AWS-UNK")
            };
            if let Some(r) = a.findings.iter().find(on_policy) {
                return Err(format!(
                    "{form}: {} reported on the attached policy itself, not once on the role",
                    r.finding.rule_id
                ));
            }
        }
        risks.push((form, a.risk));
    }
    // The same level everywhere, and the same score wherever the document is the program's own:
    // an AWS managed policy's text is not linted (a problem in it is AWS's, not the PR's).
    let (first_form, first) = risks[0];
    let differs = |form: &str, r: &Risk| {
        r.level != first.level || (!form.starts_with("managed") && r.score != first.score)
    };
    if let Some((form, risk)) = risks.iter().find(|(form, r)| differs(form, r)) {
        return Err(format!(
            "{first_form} reads {} {} but {form} reads {} {}",
            first.level, first.score, risk.level, risk.score
        ));
    }
    let twin = run(&reformat_twin(case));
    if twin.risk != Risk::NONE || twin.findings.iter().any(|r| r.new) {
        return Err(format!("the reformat-only twin reads {:?}", twin.risk));
    }
    match case.expect.as_deref() {
        Some("path") if first.level < Level::High => Err(format!(
            "a designed escalation path reads {} {}",
            first.level, first.score
        )),
        Some("no-path") if first.level >= Level::High => Err(format!(
            "a designed false positive reads {} {}",
            first.level, first.score
        )),
        _ => Ok(first),
    }
}

fn fixture(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real-policies")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn policies(v: &Value) -> &[Value] {
    v["policies"]
        .as_array()
        .unwrap_or_else(|| panic!("no `policies` list"))
}

/// One case per policy.
fn fixture_cases(file: &str) -> Vec<Case> {
    policies(&fixture(file))
        .iter()
        .map(|p| Case {
            label: format!("{file}: {}", p["name"].as_str().unwrap_or("?")),
            document: p["document"].clone(),
            managed_arn: None,
            expect: p["expect"].as_str().map(str::to_owned),
        })
        .collect()
}

/// One case per role of the lab, with the statements of every policy the lab attaches to it in
/// one document (the lab's fn1 and fp2 are verdicts on two policies together).
fn lab_cases() -> Vec<Case> {
    let lab = fixture("iam-vulnerable.json");
    let mut roles: BTreeMap<&str, (Vec<Value>, Option<String>)> = BTreeMap::new();
    for p in policies(&lab) {
        let expect = p["expect"].as_str().filter(|e| *e != "none-designed");
        let statements = match &p["document"]["Statement"] {
            Value::Array(s) => s.clone(),
            one => vec![one.clone()],
        };
        for role in p["attached_to"].as_array().into_iter().flatten() {
            let Some(role) = role.as_str().filter(|r| r.starts_with("role/")) else {
                continue;
            };
            let entry = roles.entry(role).or_default();
            entry.0.extend(statements.iter().cloned());
            assert!(
                entry.1.is_none() || entry.1.as_deref() == expect,
                "{role}: policies with different verdicts"
            );
            entry.1 = expect.map(str::to_owned);
        }
    }
    roles
        .into_iter()
        .map(|(role, (statements, expect))| Case {
            label: format!("iam-vulnerable: {role}"),
            document: json!({"Version": "2012-10-17", "Statement": statements}),
            managed_arn: None,
            expect,
        })
        .collect()
}

fn managed_cases() -> Vec<Case> {
    managed::policies()
        .map(|m| Case {
            label: m.arn.to_owned(),
            document: serde_json::from_str(m.document).unwrap_or_else(|e| panic!("{}: {e}", m.arn)),
            managed_arn: Some(m.arn.to_owned()),
            expect: None,
        })
        .collect()
}

/// Runs every case, and fails with all the broken ones at once.
fn check_all(cases: &[Case]) -> BTreeMap<Level, usize> {
    assert!(!cases.is_empty());
    let results: Vec<(&Case, Result<Risk, String>)> =
        cases.par_iter().map(|c| (c, check(c))).collect();
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(c, r)| r.as_ref().err().map(|e| format!("{}: {e}", c.label)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases break the invariants:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let mut levels = BTreeMap::new();
    for (_, r) in &results {
        if let Ok(risk) = r {
            *levels.entry(risk.level).or_insert(0) += 1;
        }
    }
    levels
}

fn level_of_managed(name: &str) -> Risk {
    let m = managed::policies()
        .find(|m| m.arn.rsplit('/').next() == Some(name))
        .unwrap_or_else(|| panic!("{name} is not in the table"));
    let case = Case {
        label: name.to_owned(),
        document: serde_json::from_str(m.document).unwrap_or_else(|e| panic!("{name}: {e}")),
        managed_arn: Some(m.arn.to_owned()),
        expect: None,
    };
    check(&case).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_aws_managed_policy_keeps_the_invariants_in_every_form() {
    let cases = managed_cases();
    assert!(cases.len() >= 1500, "{} managed policies", cases.len());
    let levels = check_all(&cases);
    eprintln!("AWS managed policies by level: {levels:?}");
}

#[test]
fn the_iam_vulnerable_lab_keeps_the_invariants_and_its_verdicts() {
    let cases = lab_cases();
    let paths = cases
        .iter()
        .filter(|c| c.expect.as_deref() == Some("path"))
        .count();
    assert!(paths >= 30, "{paths} roles with a designed path");
    let levels = check_all(&cases);
    eprintln!("iam-vulnerable by level: {levels:?}");
}

#[test]
fn eks_controller_install_policies_keep_the_invariants() {
    let levels = check_all(&fixture_cases("eks-controllers.json"));
    eprintln!("EKS controllers by level: {levels:?}");
}

#[test]
fn full_administrator_access_is_the_top_of_the_scale() {
    let admin = level_of_managed("AdministratorAccess");
    assert_eq!(admin.score, 100);
    for name in [
        "ReadOnlyAccess",
        "SecurityAudit",
        "PowerUserAccess",
        "IAMFullAccess",
    ] {
        let other = level_of_managed(name);
        assert!(other.score < admin.score, "{name}: {other:?}");
    }
}
