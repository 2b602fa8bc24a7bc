use serde_json::{Value, json};

use super::*;
use crate::engine::iam::model::Sourced;
use crate::engine::iam::normalize::parse_text;
use crate::engine::risk::Severity;
use crate::engine::risk::effective::testing::*;

fn findings_for(docs: &[Value]) -> Vec<Finding> {
    run(check, &state(vec![role("app", docs)]))
}

fn fires(docs: &[Value], rule_id: &str) -> bool {
    !of(&findings_for(docs), rule_id).is_empty()
}

#[test]
fn every_example_fires_its_rule() {
    for rule in RULES {
        let doc: Value =
            serde_json::from_str(rule.example).unwrap_or_else(|e| panic!("{}: {e}", rule.id));
        assert!(parse_text(rule.example).known().is_some(), "{}", rule.id);
        assert!(
            fires(&[doc], rule.id),
            "the example of {} does not fire it",
            rule.id
        );
    }
}

#[test]
fn wc001_full_admin_is_critical_and_reported_once() {
    let found = findings_for(&[allow(&["*"], &["*"])]);
    let f = one(&found, "AWS-WC-001");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.category, crate::engine::risk::Category::AdminAccess);
    assert_eq!(f.subject, "role/app");
    assert_eq!(f.evidence, "*");
    assert!(
        f.message.contains("role `app`") && f.message.contains("inline policy p0"),
        "{}",
        f.message
    );
    // The statement that makes it admin is not reported again as `Action: "*"`, nor the
    // permissions admin implies.
    for implied in ["AWS-WC-002", "AWS-WC-004", "AWS-WC-008", "AWS-WC-009"] {
        assert!(
            of(&found, implied).is_empty(),
            "{implied} fired for an admin: {found:#?}"
        );
    }
}

#[test]
fn wc001_not_for_admin_minus_an_unconditional_deny_or_behind_a_limiting_condition() {
    assert!(!fires(
        &[allow(&["*"], &["*"]), deny(&["iam:*"])],
        "AWS-WC-001"
    ));
    let limited = allow_if(
        &["*"],
        &["*"],
        json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    );
    assert!(!fires(&[limited], "AWS-WC-001"));
}

#[test]
fn wc001_reports_administrator_access_attached_by_arn_like_any_admin_grant() {
    // AWS-MP-001 is context only: the admin access itself is reported here, whatever carries it.
    let mut p = role("app", &[allow(&["*"], &["*"])]);
    p.managed_arns.push(Sourced {
        urn: "urn:pulumi:dev::app::aws:iam/rolePolicyAttachment:RolePolicyAttachment::admin".into(),
        label: "attached policy".into(),
        value: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
    });
    let found = run(check, &state(vec![p]));
    assert_eq!(one(&found, "AWS-WC-001").severity, Severity::Critical);
    assert!(
        of(&found, "AWS-WC-004").is_empty(),
        "still an admin: implied rules stay quiet"
    );
}

#[test]
fn wc002_action_star_on_specific_resources() {
    let found = findings_for(&[allow(&["*"], &["arn:aws:s3:::app-data/*"])]);
    let f = one(&found, "AWS-WC-002");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.scope, Scope::Wildcard);
    assert_eq!(f.evidence, "Action=*;Resource=arn:aws:s3:::app-data/*");
    assert!(!fires(
        &[allow(&["s3:*"], &["arn:aws:s3:::app-data/*"])],
        "AWS-WC-002"
    ));
}

#[test]
fn wc003_service_wildcards_by_service() {
    let found = findings_for(&[allow(&["iam:*", "s3:*"], &["*"])]);
    let wc = of(&found, "AWS-WC-003");
    assert_eq!(wc.len(), 2, "{wc:#?}");
    let iam = wc.iter().find(|f| f.evidence == "iam:*").expect("iam:*");
    let s3 = wc.iter().find(|f| f.evidence == "s3:*").expect("s3:*");
    assert_eq!(iam.severity, Severity::High);
    assert_eq!(s3.severity, Severity::Medium);
    assert_eq!(s3.scope, Scope::All);
    // Pinned resources keep the finding but with a narrow scope.
    let pinned = findings_for(&[allow(&["s3:*"], &["arn:aws:s3:::app-data"])]);
    assert_eq!(one(&pinned, "AWS-WC-003").scope, Scope::Pinned);
    assert!(!fires(
        &[allow(&["s3:Get*", "s3:List*"], &["*"])],
        "AWS-WC-003"
    ));
    assert!(!fires(&[allow(&["nosuchservice:*"], &["*"])], "AWS-WC-003"));
}

#[test]
fn wc004_restrictable_writes_on_star() {
    let found = findings_for(&[allow(
        &["s3:PutObject", "s3:GetObject", "ec2:DescribeInstances"],
        &["*"],
    )]);
    let f = one(&found, "AWS-WC-004");
    assert_eq!(f.evidence, "s3:PutObject");
    assert_eq!(f.scope, Scope::All);
    assert!(of(&found, "AWS-WC-005").is_empty());
    // Pinned, limited by a condition, or a write that only accepts `*`: no finding.
    assert!(!fires(
        &[allow(&["s3:PutObject"], &["arn:aws:s3:::app-data/*"])],
        "AWS-WC-004"
    ));
    let limited = allow_if(
        &["s3:PutObject"],
        &["*"],
        json!({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}),
    );
    assert!(!fires(&[limited], "AWS-WC-004"));
    assert!(!fires(&[allow(&["s3:CreateJob"], &["*"])], "AWS-WC-004"));
    // A weak condition does not constrain.
    let weak = allow_if(
        &["s3:PutObject"],
        &["*"],
        json!({"Bool": {"aws:SecureTransport": "true"}}),
    );
    assert_eq!(
        one(&findings_for(&[weak]), "AWS-WC-004").scope,
        Scope::Wildcard
    );
}

#[test]
fn wc004_evidence_collapses_a_whole_service() {
    let found = findings_for(&[allow(&["s3:*"], &["*"])]);
    assert_eq!(one(&found, "AWS-WC-004").evidence, "s3:*");
}

#[test]
fn wc005_wildcard_arns_that_cover_everything() {
    let found = findings_for(&[allow(&["s3:PutObject"], &["arn:aws:s3:::*"])]);
    assert_eq!(one(&found, "AWS-WC-005").evidence, "s3:PutObject");
    assert!(of(&found, "AWS-WC-004").is_empty());
    assert!(!fires(
        &[allow(&["s3:PutObject"], &["arn:aws:s3:::app-*"])],
        "AWS-WC-005"
    ));
}

#[test]
fn wc006_not_action_names_what_stays_allowed() {
    let fn4 = statements(
        json!([{"Effect": "Allow", "NotAction": ["iam:Update*", "iam:Create*", "iam:Attach*"], "Resource": "*"}]),
    );
    let found = findings_for(&[fn4]);
    let f = one(&found, "AWS-WC-006");
    assert_eq!(f.severity, Severity::High);
    // Patterns are in the normalizer's canonical casing.
    assert_eq!(
        f.evidence.to_ascii_lowercase(),
        "notaction=iam:attach*,iam:create*,iam:update*;resource=*"
    );
    assert!(
        f.message.contains("ssm:SendCommand") && f.message.contains("iam:PassRole"),
        "{}",
        f.message
    );
    assert!(!f.message.contains("iam:CreateAccessKey"), "{}", f.message);
    let deny_not_action =
        statements(json!([{"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}]));
    assert!(!fires(
        &[allow(&["s3:GetObject"], &["*"]), deny_not_action],
        "AWS-WC-006"
    ));
}

#[test]
fn wc007_allow_with_not_resource() {
    let doc = statements(
        json!([{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::audit/*"}]),
    );
    let f = one(&findings_for(&[doc]), "AWS-WC-007").clone();
    assert_eq!(
        f.evidence,
        "Action=s3:GetObject;NotResource=arn:aws:s3:::audit/*"
    );
    let deny_doc = statements(
        json!([{"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::public/*"}]),
    );
    assert!(!fires(
        &[
            allow(&["s3:GetObject"], &["arn:aws:s3:::public/*"]),
            deny_doc
        ],
        "AWS-WC-007"
    ));
}

#[test]
fn wc008_pass_role_on_every_role() {
    for resource in [
        "*",
        "arn:aws:iam::*:role/*",
        "arn:aws:iam::111122223333:role/*",
    ] {
        let found = findings_for(&[allow(&["iam:PassRole"], &[resource])]);
        let f = one(&found, "AWS-WC-008");
        assert_eq!(f.confidence, Confidence::Partial, "{resource}");
        assert_eq!(
            f.category,
            crate::engine::risk::Category::PrivilegeEscalation
        );
    }
    let to_service = allow_if(
        &["iam:PassRole"],
        &["*"],
        json!({"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
    );
    assert!(!fires(&[to_service], "AWS-WC-008"));
    // A value that matches every service names none (IAM User Guide, "IAM and AWS STS condition
    // context keys", iam:PassedToService; "String condition operators", StringLike).
    for any in ["*", "*.amazonaws.com"] {
        let every_service = allow_if(
            &["iam:PassRole"],
            &["*"],
            json!({"StringLike": {"iam:PassedToService": any}}),
        );
        assert_eq!(
            one(&findings_for(&[every_service]), "AWS-WC-008").scope,
            Scope::All,
            "{any}"
        );
    }
    // A negated test names no service either.
    let all_but_lambda = allow_if(
        &["iam:PassRole"],
        &["*"],
        json!({"StringNotEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
    );
    assert!(fires(&[all_but_lambda], "AWS-WC-008"));
    assert!(!fires(
        &[allow(
            &["iam:PassRole"],
            &["arn:aws:iam::111122223333:role/app-task"]
        )],
        "AWS-WC-008"
    ));
    assert!(!fires(
        &[allow(
            &["iam:PassRole"],
            &["arn:aws:iam::111122223333:role/app-*"]
        )],
        "AWS-WC-008"
    ));
}

#[test]
fn wc009_tagging_on_every_resource() {
    let found = findings_for(&[allow(&["iam:TagRole", "iam:TagUser"], &["*"])]);
    let f = one(&found, "AWS-WC-009");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.evidence, "iam:TagRole,iam:TagUser");
    assert!(!fires(
        &[allow(
            &["iam:TagRole"],
            &["arn:aws:iam::111122223333:role/app"]
        )],
        "AWS-WC-009"
    ));
}

#[test]
fn wc010_for_all_values_with_single_valued_keys() {
    let single = allow_if(
        &["ec2:RunInstances"],
        &["*"],
        json!({"ForAllValues:StringEquals": {"aws:RequestedRegion": "eu-west-1"}}),
    );
    let f = one(&findings_for(&[single]), "AWS-WC-010").clone();
    assert_eq!(
        f.evidence,
        "Allow ForAllValues:StringEquals aws:requestedregion"
    );
    let deny_doc = statements(json!([{"Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"ForAllValues:StringNotEquals": {"aws:PrincipalTag/team": "ops"}}}]));
    assert!(
        fires(&[deny_doc], "AWS-WC-010"),
        "a broken Deny guard is reported too"
    );
    let multi = allow_if(
        &["ec2:CreateTags"],
        &["*"],
        json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}),
    );
    assert!(!fires(&[multi], "AWS-WC-010"));
    let plain = allow_if(
        &["ec2:RunInstances"],
        &["*"],
        json!({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}),
    );
    assert!(!fires(&[plain], "AWS-WC-010"));
}

#[test]
fn wc011_mfa_checks_that_keys_pass() {
    let null = statements(
        json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
        "Condition": {"Null": {"aws:MultiFactorAuthPresent": "false"}}}]),
    );
    assert!(fires(&[null], "AWS-WC-011"));
    let good_deny = statements(json!([{"Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]));
    assert!(!fires(&[good_deny], "AWS-WC-011"));
    let good_allow = allow_if(
        &["s3:GetObject"],
        &["*"],
        json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
    );
    assert!(!fires(&[good_allow], "AWS-WC-011"));
}

#[test]
fn structure_rules_run_on_standalone_policies() {
    let mut st = state(Vec::new());
    st.standalone_policies
        .push(standalone("ops", &allow(&["*"], &["arn:aws:s3:::b/*"])));
    let found = run(check, &st);
    let f = one(&found, "AWS-WC-002");
    assert_eq!(f.subject, "urn:pulumi:dev::app::aws:iam/policy:Policy::ops");
    assert_eq!(
        f.resource,
        "urn:pulumi:dev::app::aws:iam/policy:Policy::ops"
    );
}
