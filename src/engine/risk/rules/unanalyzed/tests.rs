use super::*;
use crate::engine::iam::unmodeled::lookup;
use crate::engine::preview::Op;
use crate::engine::risk::{Category, Severity};

fn step(type_: &str, op: Op, change: Change) -> UnanalyzedStep {
    UnanalyzedStep {
        urn: format!("urn:pulumi:dev::app::{type_}::x"),
        type_: type_.to_owned(),
        op,
        row: lookup(type_).unwrap_or_else(|| panic!("{type_} is not in the table")),
        change,
    }
}

fn run(steps: &[UnanalyzedStep]) -> (Vec<Finding>, Vec<Finding>) {
    let (mut before, mut change) = (Vec::new(), Vec::new());
    check(steps, &mut before, &mut change);
    (before, change)
}

#[test]
fn each_cloud_has_its_rule_at_medium() {
    for (type_, id) in [
        ("aws:eks/accessEntry:AccessEntry", "AWS-UNANALYZED-001"),
        ("gcp:iam/denyPolicy:DenyPolicy", "GCP-UNANALYZED-001"),
        (
            "azuread:index/appRoleAssignment:AppRoleAssignment",
            "AZURE-UNANALYZED-001",
        ),
        (
            "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
            "K8S-UNANALYZED-001",
        ),
    ] {
        let (before, change) = run(&[step(type_, Op::Create, Change::Writes)]);
        assert!(before.is_empty());
        assert_eq!(change.len(), 1, "{type_}");
        let f = &change[0];
        assert_eq!(f.rule_id, id, "{type_}");
        assert_eq!(
            (f.category, f.severity),
            (Category::Unanalyzed, Severity::Medium)
        );
        assert_eq!(f.resource, f.subject);
        assert_eq!(f.evidence, type_);
        assert!(f.message.contains(&format!("`{type_}`")), "{}", f.message);
        assert!(
            f.message.contains("this create is not analyzed"),
            "{}",
            f.message
        );
    }
}

#[test]
fn a_deletion_is_new_risk_only_for_a_type_that_can_restrict_access() {
    let (before, change) = run(&[
        step(
            "aws:organizations/policyAttachment:PolicyAttachment",
            Op::Delete,
            Change::Removes,
        ),
        step(
            "gcp:storage/bucketAccessControl:BucketAccessControl",
            Op::Delete,
            Change::Removes,
        ),
    ]);
    assert_eq!(change.len(), 1);
    assert!(
        change[0].message.contains("may lift a guardrail"),
        "{}",
        change[0].message
    );
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].rule_id, "GCP-UNANALYZED-001");
    assert!(
        before[0]
            .message
            .contains("removes it and the access it granted")
    );
}

#[test]
fn a_policy_input_names_the_input() {
    let (_, change) = run(&[step("aws:sqs/queue:Queue", Op::Update, Change::Writes)]);
    assert_eq!(change[0].evidence, "aws:sqs/queue:Queue.policy");
    assert!(
        change[0]
            .message
            .contains("the `policy` input of `aws:sqs/queue:Queue`"),
        "{}",
        change[0].message
    );
    // Deleting the queue deletes its policy with what it protects.
    let (before, change) = run(&[step("aws:sqs/queue:Queue", Op::Delete, Change::Removes)]);
    assert!(change.is_empty());
    assert_eq!(before.len(), 1);
}
