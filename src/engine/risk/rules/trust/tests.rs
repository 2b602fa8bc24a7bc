use serde_json::{Value, json};

use super::*;
use crate::engine::iam::normalize::parse_document;
use crate::engine::risk::{Category, RiskConfig};

const URN: &str = "urn:pulumi:prod::app::aws:iam/role:Role::deploy";
const GH: &str = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com";

fn role(trust: Value) -> IamState {
    IamState {
        principals: vec![Principal {
            kind: PrincipalKind::Role,
            name: "deploy".into(),
            urn: Some(URN.into()),
            trust: Some(Sourced {
                urn: URN.into(),
                label: "assumeRolePolicy".into(),
                value: parse_document(&trust),
            }),
            policies: vec![],
            managed_arns: vec![],
            boundary: None,
            groups: vec![],
        }],
        ..IamState::default()
    }
}

fn statement(principal: Value, action: &str, condition: Option<Value>) -> Value {
    let mut s = json!({"Effect": "Allow", "Principal": principal, "Action": action});
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    json!({"Version": "2012-10-17", "Statement": [s]})
}

fn run_with(state: &IamState, config: &RiskConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    check(state, EvalCtx { config }, &mut out);
    out
}

fn run(state: &IamState) -> Vec<Finding> {
    run_with(state, &RiskConfig::default())
}

fn ids(findings: &[Finding]) -> Vec<(&str, Severity)> {
    let mut v: Vec<_> = findings.iter().map(|f| (f.rule_id, f.severity)).collect();
    v.sort();
    v
}

fn github(condition: Option<Value>) -> Vec<Finding> {
    run(&role(statement(
        json!({"Federated": GH}),
        "sts:AssumeRoleWithWebIdentity",
        condition,
    )))
}

#[test]
fn any_principal_without_condition_is_critical() {
    let f = run(&role(statement(
        json!({"AWS": "*"}),
        "sts:AssumeRole",
        None,
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-001", Severity::Critical)]);
    assert_eq!(f[0].exposure, Exposure::Public);
    assert_eq!(f[0].resource, URN);
    assert_eq!(f[0].subject, "role/deploy");
    assert_eq!(f[0].evidence, "AWS:*");
    assert!(f[0].message.contains("deploy"), "{}", f[0].message);
    // `Principal: "*"` and the any-account root ARN are the same thing.
    let f = run(&role(statement(json!("*"), "sts:AssumeRole", None)));
    assert_eq!(ids(&f), vec![("AWS-TR-001", Severity::Critical)]);
    let f = run(&role(statement(
        json!({"AWS": "arn:aws:iam::*:root"}),
        "sts:*",
        None,
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-001", Severity::Critical)]);
}

#[test]
fn any_principal_with_org_condition_is_medium_but_org_wildcard_stays_high() {
    let f = run(&role(statement(
        json!({"AWS": "*"}),
        "sts:AssumeRole",
        Some(json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})),
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-002", Severity::Medium)]);
    assert_eq!(f[0].confidence, Confidence::Conditioned);
    assert_eq!(f[0].evidence, "AWS:* [aws:principalorgid]");

    let f = run(&role(statement(
        json!({"AWS": "*"}),
        "sts:AssumeRole",
        Some(json!({"StringLike": {"aws:PrincipalOrgID": "o-*"}})),
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-002", Severity::High)]);

    let f = run(&role(statement(
        json!({"AWS": "*"}),
        "sts:AssumeRole",
        Some(json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-002", Severity::High)]);
}

#[test]
fn unknown_condition_value_is_not_taken_as_limiting() {
    let f = run(&role(statement(
        json!({"AWS": "*"}),
        "sts:AssumeRole",
        Some(json!({"StringEquals": {"aws:PrincipalOrgID": crate::engine::preview::UNKNOWN}})),
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-002", Severity::High)]);
    assert_eq!(f[0].confidence, Confidence::Partial);
    assert!(f[0].message.contains("unknown until apply"));
}

#[test]
fn external_account_root_fires_cross_account_rules_and_trusted_account_does_not() {
    let state = role(statement(
        json!({"AWS": "999988887777"}),
        "sts:AssumeRole",
        None,
    ));
    let f = run(&state);
    assert_eq!(
        ids(&f),
        vec![
            ("AWS-TR-003", Severity::Medium),
            ("AWS-TR-004", Severity::High),
            ("AWS-TR-005", Severity::High)
        ]
    );
    assert!(
        f.iter()
            .all(|f| f.exposure == Exposure::External && f.category == Category::CrossAccount)
    );
    assert!(
        f.iter()
            .all(|f| f.evidence.starts_with("AWS:arn:aws:iam::999988887777:root"))
    );

    let config = RiskConfig {
        trusted_accounts: ["999988887777".to_owned()].into(),
        ..RiskConfig::default()
    };
    let f = run_with(&state, &config);
    assert_eq!(ids(&f), vec![("AWS-TR-004", Severity::Medium)]);
    assert_eq!(f[0].exposure, Exposure::Internal);
}

#[test]
fn external_role_with_external_id_only_fires_tr003() {
    let f = run(&role(statement(
        json!({"AWS": "arn:aws:iam::999988887777:role/vendor"}),
        "sts:AssumeRole",
        Some(json!({"StringEquals": {"sts:ExternalId": "s3cr3t"}})),
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-003", Severity::Medium)]);
    // The same without ExternalId adds TR-005; a wildcard ExternalId is no ExternalId.
    let f = run(&role(statement(
        json!({"AWS": "arn:aws:iam::999988887777:role/vendor"}),
        "sts:AssumeRole",
        Some(json!({"StringLike": {"sts:ExternalId": "*"}})),
    )));
    assert_eq!(
        ids(&f),
        vec![
            ("AWS-TR-003", Severity::Medium),
            ("AWS-TR-005", Severity::High)
        ]
    );
}

#[test]
fn github_without_sub_is_critical() {
    let f = github(None);
    assert_eq!(ids(&f), vec![("AWS-TR-006", Severity::Critical)]);
    assert_eq!(f[0].exposure, Exposure::External);
    let f = github(Some(
        json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}),
    ));
    assert_eq!(ids(&f), vec![("AWS-TR-006", Severity::Critical)]);
    // A sub tested only with a negated operator pins nothing.
    let f = github(Some(
        json!({"StringNotLike": {"token.actions.githubusercontent.com:sub": "repo:evil/*"}}),
    ));
    assert_eq!(ids(&f), vec![("AWS-TR-006", Severity::Critical)]);
}

#[test]
fn github_with_pinned_sub_is_clean_and_wildcard_sub_is_medium() {
    let f = github(Some(json!({"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main"}})));
    assert!(f.is_empty(), "{f:?}");

    let f = github(Some(
        json!({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"}}),
    ));
    assert_eq!(ids(&f), vec![("AWS-TR-008", Severity::Medium)]);
    assert!(f[0].message.contains("repo:acme/*"));
    // The same text under StringEquals is literal, not a wildcard.
    let f = github(Some(
        json!({"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:acme/*"}}),
    ));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn github_sub_that_does_not_pin_a_repository_is_critical() {
    for sub in [
        "*",
        "repo:*",
        "repo:*/app:*",
        "repo:ac*/app",
        "environment:prod",
        "ref:refs/heads/main",
        "acme",
    ] {
        let f = github(Some(
            json!({"StringLike": {"token.actions.githubusercontent.com:sub": sub}}),
        ));
        assert_eq!(
            ids(&f),
            vec![("AWS-TR-006", Severity::Critical)],
            "sub {sub}"
        );
    }
    // One bad value among several is enough: values are OR-ed.
    let f = github(Some(
        json!({"StringLike": {"token.actions.githubusercontent.com:sub": ["repo:acme/app:*", "*"]}}),
    ));
    assert_eq!(ids(&f), vec![("AWS-TR-006", Severity::Critical)]);
    // Enterprise-slug key and dotted owner are recognised.
    let f = github(Some(
        json!({"StringEquals": {"token.actions.githubusercontent.com/acme:sub": "repo:acme.corp/app:ref:refs/heads/main"}}),
    ));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn eks_and_other_oidc_need_their_pinning_keys() {
    let eks = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC";
    let f = run(&role(statement(
        json!({"Federated": eks}),
        "sts:AssumeRoleWithWebIdentity",
        None,
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-007", Severity::High)]);
    let f = run(&role(statement(
        json!({"Federated": eks}),
        "sts:AssumeRoleWithWebIdentity",
        Some(
            json!({"StringEquals": {"oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:ci:runner"}}),
        ),
    )));
    assert!(f.is_empty(), "{f:?}");
    let f = run(&role(statement(
        json!({"Federated": eks}),
        "sts:AssumeRoleWithWebIdentity",
        Some(
            json!({"StringLike": {"oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:ci:*"}}),
        ),
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-008", Severity::Medium)]);

    let f = run(&role(statement(
        json!({"Federated": "cognito-identity.amazonaws.com"}),
        "sts:AssumeRoleWithWebIdentity",
        None,
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-007", Severity::High)]);
    let f = run(&role(statement(
        json!({"Federated": "cognito-identity.amazonaws.com"}),
        "sts:AssumeRoleWithWebIdentity",
        Some(json!({"StringEquals": {"cognito-identity.amazonaws.com:aud": "eu-west-1:1234"}})),
    )));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn saml_needs_aud() {
    let saml = "arn:aws:iam::111122223333:saml-provider/corp";
    let f = run(&role(statement(
        json!({"Federated": saml}),
        "sts:AssumeRoleWithSAML",
        None,
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-009", Severity::Medium)]);
    let f = run(&role(statement(
        json!({"Federated": saml}),
        "sts:AssumeRoleWithSAML",
        Some(json!({"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}})),
    )));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn not_principal_fires_tr010() {
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "sts:AssumeRole"}]});
    let f = run(&role(doc));
    assert_eq!(ids(&f), vec![("AWS-TR-010", Severity::High)]);
    assert_eq!(f[0].exposure, Exposure::Public);
    let f = run(&role(statement(
        json!({"AWS": "arn:aws:iam::111122223333:user/bob"}),
        "sts:AssumeRole",
        None,
    )));
    assert!(f.iter().all(|f| f.rule_id != "AWS-TR-010"));
}

#[test]
fn compute_service_is_info_and_other_services_are_silent() {
    let f = run(&role(statement(
        json!({"Service": "lambda.amazonaws.com"}),
        "sts:AssumeRole",
        None,
    )));
    assert_eq!(ids(&f), vec![("AWS-TR-011", Severity::Info)]);
    assert_eq!(f[0].exposure, Exposure::Service);
    let f = run(&role(statement(
        json!({"Service": "cloudformation.amazonaws.com"}),
        "sts:AssumeRole",
        None,
    )));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn deny_statements_and_other_actions_do_not_grant_assumption() {
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]});
    assert!(run(&role(doc)).is_empty());
    assert!(
        run(&role(statement(
            json!({"AWS": "*"}),
            "sts:TagSession",
            None
        )))
        .is_empty()
    );
    // NotAction that leaves AssumeRole allowed does grant it.
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "NotAction": "sts:TagSession"}]});
    assert_eq!(
        ids(&run(&role(doc))),
        vec![("AWS-TR-001", Severity::Critical)]
    );
}

#[test]
fn unknown_trust_document_and_unknown_principal_are_left_to_lint() {
    let mut state = role(statement(json!({"AWS": "*"}), "sts:AssumeRole", None));
    if let Some(t) = state.principals[0].trust.as_mut() {
        t.value = Document::Unknown;
    }
    assert!(run(&state).is_empty());
    let f = run(&role(statement(
        json!({"AWS": crate::engine::preview::UNKNOWN}),
        "sts:AssumeRole",
        None,
    )));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn users_are_not_checked() {
    let mut state = role(statement(json!({"AWS": "*"}), "sts:AssumeRole", None));
    state.principals[0].kind = PrincipalKind::User;
    assert!(run(&state).is_empty());
}

#[test]
fn federated_evidence_keeps_only_the_provider_keys() {
    let f = github(Some(json!({
        "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"},
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
        "IpAddress": {"aws:SourceIp": "203.0.113.0/24"}
    })));
    assert_eq!(ids(&f), vec![("AWS-TR-008", Severity::Medium)]);
    assert_eq!(
        f[0].evidence,
        format!(
            "Federated:{GH} [token.actions.githubusercontent.com:aud,token.actions.githubusercontent.com:sub]"
        )
    );
}
