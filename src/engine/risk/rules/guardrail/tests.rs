use serde_json::{Value, json};

use super::*;
use crate::engine::iam::normalize::parse_document;
use crate::engine::iam::{AccessKey, PrincipalKind, Sourced};
use crate::engine::risk::{Category, RiskConfig};

const ROLE_URN: &str = "urn:pulumi:prod::app::aws:iam/role:Role::app";
const BOUNDARY: &str = "arn:aws:iam::111122223333:policy/boundary";

fn sourced<T>(label: &str, value: T) -> Sourced<T> {
    Sourced {
        urn: ROLE_URN.into(),
        label: label.into(),
        value,
    }
}

fn principal(boundary: Option<&str>, policies: Vec<Value>) -> Principal {
    Principal {
        kind: PrincipalKind::Role,
        name: "app".into(),
        urn: Some(ROLE_URN.into()),
        trust: None,
        policies: policies
            .iter()
            .enumerate()
            .map(|(i, p)| sourced(&format!("inlinePolicies[{i}]"), parse_document(p)))
            .collect(),
        managed_arns: vec![],
        boundary: boundary.map(|b| sourced("permissionsBoundary", b.to_owned())),
        groups: vec![],
    }
}

fn with_principal(p: Principal) -> IamState {
    IamState {
        principals: vec![p],
        ..IamState::default()
    }
}

fn run(before: &IamState, after: &IamState) -> Vec<Finding> {
    let config = RiskConfig::default();
    let mut out = Vec::new();
    check_change(before, after, EvalCtx { config: &config }, &mut out);
    out
}

fn ids(findings: &[Finding]) -> Vec<(&str, Severity)> {
    let mut v: Vec<_> = findings.iter().map(|f| (f.rule_id, f.severity)).collect();
    v.sort();
    v
}

fn policy(statements: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[test]
fn boundary_removed_or_replaced_is_high() {
    let before = with_principal(principal(Some(BOUNDARY), vec![]));
    let f = run(&before, &with_principal(principal(None, vec![])));
    assert_eq!(ids(&f), vec![("AWS-GR-001", Severity::High)]);
    assert_eq!(f[0].category, Category::GuardrailRemoved);
    assert_eq!(f[0].subject, "role/app");
    assert_eq!(f[0].resource, ROLE_URN);
    assert!(f[0].message.contains(BOUNDARY));
    let f = run(
        &before,
        &with_principal(principal(
            Some("arn:aws:iam::111122223333:policy/other"),
            vec![],
        )),
    );
    assert_eq!(ids(&f), vec![("AWS-GR-001", Severity::High)]);
    // Unchanged: nothing. Principal deleted: nothing.
    assert!(run(&before, &before).is_empty());
    assert!(run(&before, &IamState::default()).is_empty());
    // Added: nothing.
    assert!(run(&with_principal(principal(None, vec![])), &before).is_empty());
}

#[test]
fn boundary_replaced_by_unknown_is_reported_as_unknown() {
    let before = with_principal(principal(Some(BOUNDARY), vec![]));
    let unknown = crate::engine::iam::policy::UNKNOWN_TEXT;
    let f = run(&before, &with_principal(principal(Some(unknown), vec![])));
    assert_eq!(ids(&f), vec![("AWS-GR-001", Severity::Medium)]);
    assert_eq!(f[0].confidence, Confidence::Partial);
    assert!(f[0].message.contains("unknown until apply"));
}

#[test]
fn unconditional_deny_removed_or_narrowed_is_high() {
    let allow = json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"});
    let deny = json!({"Effect": "Deny", "Action": ["iam:*", "organizations:*"], "Resource": "*"});
    let before = with_principal(principal(None, vec![policy(json!([allow, deny]))]));

    let f = run(
        &before,
        &with_principal(principal(None, vec![policy(json!([allow]))])),
    );
    assert_eq!(ids(&f), vec![("AWS-GR-002", Severity::High)]);
    assert!(
        f[0].message.contains("`iam:*`") && f[0].message.contains("`organizations:*`"),
        "{}",
        f[0].message
    );

    let narrowed = json!({"Effect": "Deny", "Action": "iam:*", "Resource": "*"});
    let f = run(
        &before,
        &with_principal(principal(None, vec![policy(json!([allow, narrowed]))])),
    );
    assert_eq!(ids(&f), vec![("AWS-GR-002", Severity::High)]);
    assert!(
        f[0].message.contains("`organizations:*`") && !f[0].message.contains("`iam:*`"),
        "{}",
        f[0].message
    );

    // Moved to another policy, or widened: still covered.
    let wider = json!({"Effect": "Deny", "Action": "*", "Resource": "*"});
    let after = with_principal(principal(
        None,
        vec![policy(json!([allow])), policy(json!([wider]))],
    ));
    assert!(run(&before, &after).is_empty());
    // Gaining a condition is a narrowing.
    let conditioned = json!({"Effect": "Deny", "Action": ["iam:*", "organizations:*"], "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "admin"}}});
    let f = run(
        &before,
        &with_principal(principal(None, vec![policy(json!([allow, conditioned]))])),
    );
    assert_eq!(ids(&f), vec![("AWS-GR-002", Severity::High)]);
}

#[test]
fn deny_behind_an_unknown_policy_is_not_reported_as_removed() {
    let deny = json!({"Effect": "Deny", "Action": "iam:*", "Resource": "*"});
    let before = with_principal(principal(None, vec![policy(json!([deny]))]));
    let mut after = principal(None, vec![]);
    after.policies.push(sourced(
        "inlinePolicies[0]",
        crate::engine::iam::Document::Unknown,
    ));
    assert!(run(&before, &with_principal(after)).is_empty());
}

#[test]
fn access_key_created_or_activated() {
    let key = |active| AccessKey {
        urn: "urn:pulumi:prod::app::aws:iam/accessKey:AccessKey::ci".into(),
        user: "ci".into(),
        active,
    };
    let with = |keys: Vec<AccessKey>| IamState {
        access_keys: keys,
        ..IamState::default()
    };
    let f = run(&with(vec![]), &with(vec![key(true)]));
    assert_eq!(ids(&f), vec![("AWS-GR-003", Severity::Medium)]);
    assert_eq!(f[0].category, Category::CredentialsExposure);
    assert_eq!(f[0].subject, "user/ci");
    let f = run(&with(vec![key(false)]), &with(vec![key(true)]));
    assert_eq!(ids(&f), vec![("AWS-GR-003", Severity::Medium)]);
    assert!(run(&with(vec![key(true)]), &with(vec![key(true)])).is_empty());
    assert!(run(&with(vec![]), &with(vec![key(false)])).is_empty());
}

fn pab(urn: &str, target: &str, flag: Option<bool>) -> PublicAccessBlock {
    PublicAccessBlock {
        urn: urn.into(),
        target: target.into(),
        block_public_acls: Some(true),
        block_public_policy: flag,
        ignore_public_acls: Some(true),
        restrict_public_buckets: flag,
    }
}

fn bucket_policy(target: &str, statements: Value) -> ResourcePolicy {
    let urn = format!("urn:pulumi:prod::app::aws:s3/bucketPolicy:BucketPolicy::{target}");
    ResourcePolicy {
        urn: urn.clone(),
        kind: ResourceKind::S3Bucket,
        target: target.into(),
        document: Sourced {
            urn,
            label: "policy".into(),
            value: parse_document(&policy(statements)),
        },
    }
}

#[test]
fn public_access_block_flags_turned_off_is_high() {
    let urn = "urn:pulumi:prod::app::aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock::logs";
    let before = IamState {
        public_access_blocks: vec![pab(urn, "logs", Some(true))],
        ..IamState::default()
    };
    let after = IamState {
        public_access_blocks: vec![pab(urn, "logs", Some(false))],
        ..IamState::default()
    };
    let f = run(&before, &after);
    assert_eq!(ids(&f), vec![("AWS-PUB-005", Severity::High)]);
    assert_eq!(f[0].evidence, "block_public_policy,restrict_public_buckets");
    assert_eq!(f[0].category, Category::GuardrailRemoved);
    assert!(
        f[0].message.contains("bucket `logs` is weakened"),
        "{}",
        f[0].message
    );
    assert!(run(&before, &before).is_empty());
    // Turning flags on is not a weakening.
    assert!(run(&after, &before).is_empty());
    // Unknown until apply: reported at lower confidence.
    let unknown = IamState {
        public_access_blocks: vec![pab(urn, "logs", None)],
        ..IamState::default()
    };
    let f = run(&before, &unknown);
    assert_eq!(ids(&f), vec![("AWS-PUB-005", Severity::Medium)]);
    assert_eq!(f[0].confidence, Confidence::Partial);
}

#[test]
fn public_access_block_removed_counts_only_if_the_bucket_stays() {
    let urn = "urn:pulumi:prod::app::aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock::logs";
    let before = IamState {
        public_access_blocks: vec![pab(urn, "logs", Some(true))],
        ..IamState::default()
    };
    // Bucket deleted along with it (teardown): nothing.
    assert!(run(&before, &IamState::default()).is_empty());
    // The bucket keeps a policy: the block is gone for a live bucket.
    let after = IamState {
        resource_policies: vec![bucket_policy("logs", json!([]))],
        ..IamState::default()
    };
    let f = run(&before, &after);
    assert_eq!(ids(&f), vec![("AWS-PUB-005", Severity::High)]);
    // Account-level block removed: always.
    let account = IamState {
        public_access_blocks: vec![pab("urn:acct", "111122223333", Some(true))],
        ..IamState::default()
    };
    assert_eq!(
        ids(&run(&account, &IamState::default())),
        vec![("AWS-PUB-005", Severity::High)]
    );
    let account = IamState {
        public_access_blocks: vec![pab("urn:acct", "account", Some(true))],
        ..IamState::default()
    };
    let f = run(&account, &IamState::default());
    assert_eq!(ids(&f), vec![("AWS-PUB-005", Severity::High)]);
    assert!(
        f[0].message.contains("of the account is removed"),
        "{}",
        f[0].message
    );
}

#[test]
fn resource_policy_deny_removed_is_medium() {
    let tls = json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::logs/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
    let read = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"});
    let before = IamState {
        resource_policies: vec![bucket_policy("logs", json!([tls, read]))],
        ..IamState::default()
    };
    let after = IamState {
        resource_policies: vec![bucket_policy("logs", json!([read]))],
        ..IamState::default()
    };
    let f = run(&before, &after);
    assert_eq!(ids(&f), vec![("AWS-GR-004", Severity::Medium)]);
    assert!(f[0].message.contains("`s3:*`"), "{}", f[0].message);
    assert!(run(&before, &before).is_empty());
    // The bucket policy deleted with its bucket: nothing.
    assert!(run(&before, &IamState::default()).is_empty());
    // A changed condition is not the same guard.
    let other = json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::logs/*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}});
    let after = IamState {
        resource_policies: vec![bucket_policy("logs", json!([other, read]))],
        ..IamState::default()
    };
    assert_eq!(
        ids(&run(&before, &after)),
        vec![("AWS-GR-004", Severity::Medium)]
    );
}

#[test]
fn policy_made_malformed_is_reported_by_the_lint_change_check() {
    let deny = json!({"Effect": "Deny", "Action": "iam:*", "Resource": "*"});
    let before = with_principal(principal(None, vec![policy(json!([deny]))]));
    let mut after = principal(None, vec![]);
    after.policies.push(sourced(
        "inlinePolicies[0]",
        crate::engine::iam::Document::Malformed("not JSON".into()),
    ));
    let f = run(&before, &with_principal(after));
    assert_eq!(
        ids(&f),
        vec![
            ("AWS-GR-002", Severity::High),
            ("AWS-LINT-BROKEN", Severity::Medium)
        ]
    );
}
