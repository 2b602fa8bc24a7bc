//! Test helpers for the identity-policy rules: principals and states built by hand from policy
//! JSON, and a runner for one rule family.

use serde_json::{Value, json};

use crate::engine::iam::model::{IamState, Principal, PrincipalKind, Sourced};
use crate::engine::iam::normalize::parse_document;
use crate::engine::risk::{EvalCtx, Finding, RiskConfig};

/// A one-statement Allow policy.
pub fn allow(actions: &[&str], resources: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]})
}

/// A one-statement Allow policy with a Condition.
pub fn allow_if(actions: &[&str], resources: &[&str], condition: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resources, "Condition": condition}]})
}

/// A one-statement Deny policy on `*`.
pub fn deny(actions: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": actions, "Resource": "*"}]})
}

/// A policy from its statements.
pub fn statements(statements: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A trust policy letting `principal` (e.g. `{"Service": "lambda.amazonaws.com"}`) assume.
pub fn trust(principal: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})
}

pub fn urn_of(kind: PrincipalKind, name: &str) -> String {
    format!(
        "urn:pulumi:dev::app::aws:iam/{0}:{0}::{name}",
        kind.as_str()
    )
}

/// A principal in the preview with one inline policy per document.
pub fn principal(kind: PrincipalKind, name: &str, docs: &[Value]) -> Principal {
    Principal {
        kind,
        name: name.to_owned(),
        urn: Some(urn_of(kind, name)),
        trust: None,
        policies: docs
            .iter()
            .enumerate()
            .map(|(i, d)| Sourced {
                urn: format!("urn:pulumi:dev::app::aws:iam/rolePolicy:RolePolicy::{name}-p{i}"),
                label: format!("inline policy p{i}"),
                value: parse_document(d),
            })
            .collect(),
        managed_arns: Vec::new(),
        boundary: None,
        groups: Vec::new(),
    }
}

pub fn role(name: &str, docs: &[Value]) -> Principal {
    principal(PrincipalKind::Role, name, docs)
}

/// A role with a trust policy.
pub fn trusted_role(name: &str, trust_doc: Value, docs: &[Value]) -> Principal {
    let mut p = role(name, docs);
    p.trust = Some(Sourced {
        urn: urn_of(PrincipalKind::Role, name),
        label: "trust policy".into(),
        value: parse_document(&trust_doc),
    });
    p
}

pub fn state(principals: Vec<Principal>) -> IamState {
    IamState {
        principals,
        ..IamState::default()
    }
}

/// A standalone customer managed policy.
pub fn standalone(name: &str, doc: &Value) -> Sourced<crate::engine::iam::policy::Document> {
    Sourced {
        urn: format!("urn:pulumi:dev::app::aws:iam/policy:Policy::{name}"),
        label: format!("policy {name}"),
        value: parse_document(doc),
    }
}

/// Runs one family's `check` with the default configuration.
pub fn run(check: fn(&IamState, EvalCtx<'_>, &mut Vec<Finding>), state: &IamState) -> Vec<Finding> {
    let config = RiskConfig::default();
    let mut out = Vec::new();
    check(state, EvalCtx { config: &config }, &mut out);
    out
}

/// The findings of one rule.
pub fn of<'a>(findings: &'a [Finding], rule_id: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule_id == rule_id).collect()
}

/// The one finding of a rule; panics with the list when there is not exactly one.
pub fn one<'a>(findings: &'a [Finding], rule_id: &str) -> &'a Finding {
    let hits = of(findings, rule_id);
    assert_eq!(hits.len(), 1, "expected one {rule_id}, got {findings:#?}");
    hits[0]
}
