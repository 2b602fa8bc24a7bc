use serde_json::{Value, json};

use super::*;
use crate::engine::iam::normalize::parse_document;
use crate::engine::iam::{Principal, PrincipalKind, ResourceKind, ResourcePolicy};
use crate::engine::risk::{Category, RiskConfig};

const URN: &str = "urn:pulumi:prod::app::aws:iam/policy:Policy::app";

fn standalone(doc: Document) -> IamState {
    IamState {
        standalone_policies: vec![Sourced {
            urn: URN.into(),
            label: "policy".into(),
            value: doc,
        }],
        ..IamState::default()
    }
}

fn known(statements: Value) -> IamState {
    standalone(parse_document(
        &json!({"Version": "2012-10-17", "Statement": statements}),
    ))
}

fn run(state: &IamState) -> Vec<Finding> {
    let config = RiskConfig::default();
    let mut out = Vec::new();
    check(state, EvalCtx { config: &config }, &mut out);
    out
}

fn ids(findings: &[Finding]) -> Vec<(&str, Severity)> {
    let mut v: Vec<_> = findings.iter().map(|f| (f.rule_id, f.severity)).collect();
    v.sort();
    v
}

#[test]
fn clean_policy_has_no_findings() {
    let f = run(&known(json!([
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:Put*"], "Resource": "arn:aws:s3:::logs/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::logs"},
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    ])));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn unknown_document_is_unknown_value_never_silent() {
    let f = run(&standalone(Document::Unknown));
    assert_eq!(ids(&f), vec![("AWS-UNK-001", Severity::Medium)]);
    assert_eq!(f[0].category, Category::UnknownValue);
    // It could grant anything: a direct grant, so the change reads medium (docs/scoring.md).
    assert_eq!(f[0].confidence, Confidence::Direct);
    assert_eq!(f[0].resource, URN);
    assert!(
        f[0].message
            .contains("unknown until apply: review the program source"),
        "{}",
        f[0].message
    );
}

#[test]
fn secret_document_is_low_unknown_value() {
    let f = run(&standalone(Document::Secret));
    assert_eq!(ids(&f), vec![("AWS-UNK-003", Severity::Low)]);
    assert_eq!(f[0].category, Category::UnknownValue);
}

#[test]
fn malformed_document_is_low() {
    let f = run(&standalone(parse_text_doc("{\"Version\": \"2012-10-17\"")));
    assert_eq!(ids(&f), vec![("AWS-LINT-MALFORMED", Severity::Low)]);
    assert_eq!(f[0].category, Category::Malformed);
    assert!(f[0].message.contains("not a valid policy document"));
}

fn parse_text_doc(text: &str) -> Document {
    crate::engine::iam::normalize::parse_text(text)
}

#[test]
fn each_problem_is_reported_and_deny_problems_are_medium() {
    let state = known(json!([
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condtion": {}}
    ]));
    let f = run(&state);
    assert_eq!(ids(&f), vec![("AWS-LINT-MALFORMED", Severity::Low)]);
    assert!(
        f[0].evidence.starts_with("policy: Statement[1]"),
        "{}",
        f[0].evidence
    );

    let mut policy = Policy {
        version: "2012-10-17".into(),
        statements: vec![],
        problems: vec![],
    };
    policy
        .problems
        .push("Statement[0] (Deny statement): unknown element `Condtion`".into());
    let f = run(&standalone(Document::Known(policy.into())));
    assert_eq!(ids(&f), vec![("AWS-LINT-MALFORMED", Severity::Medium)]);
}

#[test]
fn unknown_action_and_prefix_are_low() {
    let f = run(&known(json!([{"Effect": "Allow",
        "Action": ["s3:GetObjects", "s4:GetObject", "s3:Frobnicate*", "s3GetObject", "s3:GetObject"],
        "Resource": "*"}])));
    // Names that are not in the database keep normalize's spelling (compared ignoring case).
    let got: Vec<(&str, String)> = {
        let mut v: Vec<_> = f
            .iter()
            .map(|f| (f.rule_id, f.evidence.to_ascii_lowercase()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        got,
        vec![
            (
                "AWS-LINT-UNKNOWN-ACTION",
                "policy: s3:frobnicate*".to_owned()
            ),
            (
                "AWS-LINT-UNKNOWN-ACTION",
                "policy: s3:getobjects".to_owned()
            ),
            ("AWS-LINT-UNKNOWN-ACTION", "policy: s3getobject".to_owned()),
            ("AWS-LINT-UNKNOWN-PREFIX", "policy: s4:getobject".to_owned()),
        ]
    );
    assert!(
        f.iter()
            .all(|f| f.severity == Severity::Low && f.category == Category::Malformed)
    );
    // Wildcards in the prefix that match something are fine.
    assert!(
        run(&known(
            json!([{"Effect": "Allow", "Action": ["s3*:Get*", "*:GetObject"], "Resource": "*"}])
        ))
        .is_empty()
    );
}

/// An action some AWS managed policy names that the action database does not know: with a known
/// service prefix (`prefix_known`) or not.
fn newer_than_the_database(prefix_known: bool) -> String {
    let mut names: Vec<String> = crate::engine::iam::managed::policies()
        .filter_map(|p| {
            parse_document(&serde_json::from_str(p.document).ok()?)
                .known()
                .cloned()
        })
        .flat_map(|policy| policy.statements)
        .flat_map(|s| s.action.names().clone())
        .filter(|a| !conditions::has_wildcard(a) && db().expand(a).is_empty())
        .filter(|a| {
            a.split_once(':')
                .is_some_and(|(service, _)| db().has_service(service) == prefix_known)
        })
        .collect();
    names.sort();
    names.into_iter().next().unwrap_or_else(|| {
        panic!("the action database knows every action of the AWS managed policies (prefix known: {prefix_known}): pick another case")
    })
}

#[test]
fn names_aws_managed_policies_use_are_one_info_finding_not_typos() {
    let (action, service) = (
        newer_than_the_database(true),
        newer_than_the_database(false),
    );
    let f = run(&known(json!([{"Effect": "Allow",
        "Action": [action, service, "s3:GetObjects"], "Resource": "*"}])));
    assert_eq!(
        ids(&f),
        [
            ("AWS-LINT-UNKNOWN-ACTION", Severity::Info),
            ("AWS-LINT-UNKNOWN-ACTION", Severity::Low)
        ],
        "{f:?}"
    );
    let newer = f
        .iter()
        .find(|f| f.severity == Severity::Info)
        .expect("info");
    assert_eq!(
        newer.evidence,
        "policy: names newer than the action database"
    );
    for name in [&action, &service] {
        assert!(
            newer.message.contains(name.as_str()),
            "{name}: {}",
            newer.message
        );
    }
    assert!(
        newer.message.starts_with("2 action names")
            && newer.message.contains("AWS managed policies use them"),
        "{}",
        newer.message
    );
    let typo = f
        .iter()
        .find(|f| f.severity == Severity::Low)
        .expect("typo");
    assert_eq!(typo.evidence.to_ascii_lowercase(), "policy: s3:getobjects");
}

#[test]
fn resource_mismatch_is_info_and_medium_in_a_deny() {
    let f = run(&known(
        json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs"}]),
    ));
    assert_eq!(
        ids(&f),
        vec![("AWS-LINT-RESOURCE-MISMATCH", Severity::Info)]
    );
    assert_eq!(f[0].evidence, "policy: s3:GetObject on arn:aws:s3:::logs");
    let f = run(&known(
        json!([{"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::logs"}]),
    ));
    assert_eq!(
        ids(&f),
        vec![("AWS-LINT-RESOURCE-MISMATCH", Severity::Medium)]
    );
    // One matching Resource is enough.
    let f = run(&known(
        json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"]}]),
    ));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn unknown_values_inside_a_document_are_reported_per_element() {
    let unknown = crate::engine::preview::UNKNOWN;
    let f = run(&known(json!([
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": unknown},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpce": unknown}}}
    ])));
    let mut got: Vec<_> = f
        .iter()
        .map(|f| (f.rule_id, f.evidence.as_str(), f.severity))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "AWS-UNK-002",
                "policy: Condition aws:sourcevpce",
                Severity::Medium
            ),
            ("AWS-UNK-002", "policy: Resource", Severity::Medium),
        ]
    );
    assert!(f.iter().all(|f| f.category == Category::UnknownValue && f.message.contains("cannot be judged")));
    // An unknown principal in a resource policy.
    let state = IamState {
        resource_policies: vec![ResourcePolicy {
            urn: "urn:q".into(),
            kind: ResourceKind::SqsQueue,
            target: "q".into(),
            document: Sourced {
                urn: "urn:q".into(),
                label: "policy".into(),
                value: parse_document(&json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": unknown}, "Action": "sqs:SendMessage", "Resource": "*"}]})),
            },
        }],
        ..IamState::default()
    };
    let f = run(&state);
    assert_eq!(ids(&f), vec![("AWS-UNK-002", Severity::Medium)]);
    assert_eq!(f[0].evidence, "policy: Principal");
    assert!(f[0].message.contains("SQS queue `q`"), "{}", f[0].message);
}

#[test]
fn shared_documents_are_linted_once_and_trust_policies_too() {
    let doc = Sourced {
        urn: URN.into(),
        label: "policy".into(),
        value: Document::Unknown,
    };
    let role = |name: &str| Principal {
        kind: PrincipalKind::Role,
        name: name.into(),
        urn: Some(format!("urn:role:{name}")),
        trust: Some(Sourced {
            urn: format!("urn:role:{name}"),
            label: "assumeRolePolicy".into(),
            value: Document::Secret,
        }),
        policies: vec![doc.clone()],
        managed_arns: vec![],
        boundary: None,
        groups: vec![],
    };
    let state = IamState {
        principals: vec![role("a"), role("b")],
        standalone_policies: vec![doc.clone()],
        ..IamState::default()
    };
    let f = run(&state);
    assert_eq!(
        ids(&f),
        vec![
            ("AWS-UNK-001", Severity::Medium),
            ("AWS-UNK-003", Severity::Low),
            ("AWS-UNK-003", Severity::Low)
        ]
    );
}

#[test]
fn malformed_after_valid_is_broken_only_on_change() {
    let valid = known(json!([{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]));
    let broken = standalone(Document::Malformed("the policy is not valid JSON".into()));
    let config = RiskConfig::default();
    let ctx = EvalCtx { config: &config };
    let mut out = Vec::new();
    check_change(&valid, &broken, ctx, &mut out);
    assert_eq!(ids(&out), vec![("AWS-LINT-BROKEN", Severity::Medium)]);
    out.clear();
    check_change(&broken, &broken, ctx, &mut out);
    assert!(out.is_empty());
    check_change(&IamState::default(), &broken, ctx, &mut out);
    assert!(out.is_empty());
}

fn resource_policy(kind: ResourceKind, statements: Value) -> IamState {
    IamState {
        resource_policies: vec![ResourcePolicy {
            urn: "urn:fn".into(),
            kind,
            target: "handler".into(),
            document: Sourced {
                urn: "urn:fn".into(),
                label: "resource policy".into(),
                value: parse_document(&json!({"Version": "2012-10-17", "Statement": statements})),
            },
        }],
        ..IamState::default()
    }
}

#[test]
fn resource_policy_resource_is_bounded_by_its_resource() {
    let unknown = crate::engine::preview::UNKNOWN;
    // A Lambda permission rebuilt by extraction names the function, not an ARN: no mismatch.
    let f = run(&resource_policy(
        ResourceKind::LambdaFunction,
        json!([{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction",
                "Resource": "handler", "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads"}}}]),
    ));
    assert!(f.is_empty(), "{f:?}");
    // The function being created: its name is unknown, but the grant is still on that function.
    let f = run(&resource_policy(
        ResourceKind::LambdaFunction,
        json!([{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction",
                "Resource": unknown, "Condition": {"ArnLike": {"aws:SourceArn": unknown}}}]),
    ));
    let got: Vec<_> = f.iter().map(|f| (f.rule_id, f.evidence.as_str())).collect();
    assert_eq!(
        got,
        vec![("AWS-UNK-002", "resource policy: Condition aws:sourcearn")]
    );
    assert!(
        f[0].message
            .contains("resource policy of Lambda function `handler`"),
        "{}",
        f[0].message
    );
}

#[test]
fn an_unreadable_property_is_high_and_keyed_by_its_digest() {
    let state = |digest: &str| IamState {
        unreadable: vec![crate::engine::iam::Unreadable {
            urn: URN.into(),
            property: "policies".into(),
            reason: "it nests deeper than the 128 levels iamgate reads".into(),
            digest: digest.into(),
        }],
        ..IamState::default()
    };
    let f = run(&state("0123456789abcdef"));
    assert_eq!(ids(&f), vec![("AWS-LINT-UNREADABLE", Severity::High)]);
    assert_eq!(f[0].category, Category::Malformed);
    assert_eq!(f[0].confidence, Confidence::Direct);
    assert!(f[0].message.contains("`policies`"), "{}", f[0].message);
    let other = run(&state("fedcba9876543210"));
    assert_ne!(
        f[0].key(),
        other[0].key(),
        "another text is another finding"
    );
}
