use serde_json::{Value, json};

use super::*;
use crate::engine::iam::Sourced;
use crate::engine::iam::normalize::parse_document;
use crate::engine::risk::{Category, RiskConfig};

const URN: &str = "urn:pulumi:prod::app::aws:s3/bucketPolicy:BucketPolicy::logs";

fn state(kind: ResourceKind, doc: Value) -> IamState {
    IamState {
        resource_policies: vec![ResourcePolicy {
            urn: URN.into(),
            kind,
            target: "logs".into(),
            document: Sourced {
                urn: URN.into(),
                label: "policy".into(),
                value: parse_document(&doc),
            },
        }],
        ..IamState::default()
    }
}

fn bucket(statements: Value) -> IamState {
    state(
        ResourceKind::S3Bucket,
        json!({"Version": "2012-10-17", "Statement": statements}),
    )
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

fn public(action: Value, condition: Option<Value>) -> IamState {
    let mut s = json!({"Effect": "Allow", "Principal": "*", "Action": action, "Resource": "arn:aws:s3:::logs/*"});
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    bucket(json!([s]))
}

#[test]
fn public_read_is_high() {
    let f = run(&public(json!("s3:GetObject"), None));
    assert_eq!(ids(&f), vec![("AWS-PUB-002", Severity::High)]);
    assert_eq!(f[0].category, Category::PublicExposure);
    assert_eq!(f[0].exposure, Exposure::Public);
    assert_eq!(f[0].scope, Scope::Wildcard);
    assert_eq!(f[0].resource, URN);
    assert_eq!(f[0].evidence, "AWS:* s3:GetObject");
    assert!(
        f[0].message.contains("S3 bucket `logs`") && f[0].message.contains("s3:GetObject"),
        "{}",
        f[0].message
    );
}

#[test]
fn public_write_is_critical() {
    let f = run(&public(json!(["s3:GetObject", "s3:PutObject"]), None));
    assert_eq!(ids(&f), vec![("AWS-PUB-001", Severity::Critical)]);
    let f = run(&public(json!("s3:*"), None));
    assert_eq!(ids(&f), vec![("AWS-PUB-001", Severity::Critical)]);
}

#[test]
fn limiting_condition_suppresses_public_findings() {
    for cond in [
        json!({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c"}}),
        json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
        json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
    ] {
        let f = run(&public(json!("s3:PutObject"), Some(cond.clone())));
        assert!(f.is_empty(), "{cond}: {f:?}");
    }
    // IfExists is met by a request without the key: an anonymous caller, or one outside any
    // organization, has no aws:PrincipalOrgID (IAM User Guide, "Condition operators",
    // "...IfExists condition operators"). Still public.
    let f = run(&public(
        json!("s3:PutObject"),
        Some(json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})),
    ));
    assert_eq!(ids(&f), vec![("AWS-PUB-001", Severity::Critical)]);
    // A condition that limits nothing keeps it public.
    let f = run(&public(
        json!("s3:PutObject"),
        Some(json!({"Bool": {"aws:SecureTransport": "true"}})),
    ));
    assert_eq!(ids(&f), vec![("AWS-PUB-001", Severity::Critical)]);
    let f = run(&public(
        json!("s3:PutObject"),
        Some(json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})),
    ));
    assert_eq!(ids(&f), vec![("AWS-PUB-001", Severity::Critical)]);
}

#[test]
fn unknown_condition_or_principal_is_not_judged_public() {
    let unknown = crate::engine::preview::UNKNOWN;
    let f = run(&public(
        json!("s3:PutObject"),
        Some(json!({"StringEquals": {"aws:SourceVpce": unknown}})),
    ));
    assert!(f.is_empty(), "{f:?}");
    let f = run(&bucket(
        json!([{"Effect": "Allow", "Principal": {"AWS": unknown}, "Action": "s3:PutObject", "Resource": "*"}]),
    ));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn allow_with_not_principal_is_public() {
    let f = run(&bucket(
        json!([{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"}]),
    ));
    assert_eq!(ids(&f), vec![("AWS-PUB-002", Severity::High)]);
}

#[test]
fn deny_and_named_principals_are_not_public() {
    let f = run(&bucket(
        json!([{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::logs/*"}]),
    ));
    assert!(
        f.iter()
            .all(|f| f.rule_id != "AWS-PUB-001" && f.rule_id != "AWS-PUB-002")
    );
    let config = RiskConfig {
        trusted_accounts: ["111122223333".to_owned()].into(),
        ..RiskConfig::default()
    };
    let f = run_with(
        &bucket(
            json!([{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "s3:PutObject", "Resource": "*"}]),
        ),
        &config,
    );
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn service_principal_needs_a_source_condition() {
    let lambda = |condition: Option<Value>| {
        let mut s = json!({"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction"});
        if let Some(c) = condition {
            s["Condition"] = c;
        }
        state(
            ResourceKind::LambdaFunction,
            json!({"Version": "2012-10-17", "Statement": [s]}),
        )
    };
    let f = run(&lambda(None));
    assert_eq!(ids(&f), vec![("AWS-PUB-003", Severity::Medium)]);
    assert_eq!(f[0].evidence, "Service:s3.amazonaws.com");
    let f = run(&lambda(Some(
        json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads"}}),
    )));
    assert!(f.is_empty(), "{f:?}");
    // The source ARN of a resource being created is unknown until apply: still a source condition.
    let f = run(&lambda(Some(
        json!({"ArnLike": {"AWS:SourceArn": crate::engine::preview::UNKNOWN}}),
    )));
    assert!(f.is_empty(), "{f:?}");
    let f = run(&lambda(Some(
        json!({"StringEquals": {"aws:SourceAccount": "111122223333"}}),
    )));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn external_account_principal_is_cross_account_unless_trusted() {
    let doc = json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:role/reader"},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"}]);
    let f = run(&bucket(doc.clone()));
    assert_eq!(ids(&f), vec![("AWS-PUB-004", Severity::Medium)]);
    assert_eq!(f[0].category, Category::CrossAccount);
    assert_eq!(f[0].exposure, Exposure::External);
    let config = RiskConfig {
        trusted_accounts: ["999988887777".to_owned()].into(),
        ..RiskConfig::default()
    };
    assert!(run_with(&bucket(doc), &config).is_empty());
}

#[test]
fn deny_put_bucket_policy_to_everyone_is_a_lockout() {
    let f = run(&bucket(
        json!([{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"]}]),
    ));
    assert_eq!(ids(&f), vec![("AWS-PUB-006", Severity::Low)]);
    // With a condition (the usual deny-insecure-transport) it is not.
    let f = run(&bucket(
        json!([{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]),
    ));
    assert!(f.is_empty(), "{f:?}");
    // Denying only reads is not.
    let f = run(&bucket(
        json!([{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"}]),
    ));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn public_sqs_send_is_critical_and_kms_key_policy_scope_is_all() {
    let f = run(&state(
        ResourceKind::SqsQueue,
        json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:eu-west-1:111122223333:q"}]}),
    ));
    assert_eq!(ids(&f), vec![("AWS-PUB-001", Severity::Critical)]);
    assert_eq!(f[0].scope, Scope::Pinned);
    let f = run(&state(
        ResourceKind::KmsKey,
        json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}]}),
    ));
    assert_eq!(ids(&f), vec![("AWS-PUB-001", Severity::Critical)]);
    assert_eq!(f[0].scope, Scope::All);
}
