//! `analyze` end to end on small previews: what must never pass as "no IAM change" (types
//! iamgate does not model, inputs it cannot read), and that the rest of the preview is still
//! analyzed.

use serde_json::{Value, json};

use super::risk::{Category, RiskConfig, Severity};
use super::{Analysis, Level, analyze, preview};

fn urn(type_: &str, name: &str) -> String {
    format!("urn:pulumi:dev::app::{type_}::{name}")
}

fn state(type_: &str, name: &str, inputs: Value) -> Value {
    json!({"urn": urn(type_, name), "type": type_, "custom": true, "inputs": inputs})
}

/// One digest step; `old`/`new` are inputs.
fn step(op: &str, type_: &str, name: &str, old: Option<Value>, new: Option<Value>) -> Value {
    let mut s = json!({"op": op, "urn": urn(type_, name)});
    if let Some(old) = old {
        s["oldState"] = state(type_, name, old);
    }
    if let Some(new) = new {
        s["newState"] = state(type_, name, new);
    }
    s
}

fn run_text(text: &str, config: &RiskConfig) -> Analysis {
    let p = preview::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    analyze(&p, config)
}

fn run(steps: Vec<Value>) -> Analysis {
    run_text(
        &json!({ "steps": steps }).to_string(),
        &RiskConfig::default(),
    )
}

fn new_rules(a: &Analysis) -> Vec<&'static str> {
    a.findings
        .iter()
        .filter(|f| f.new)
        .map(|f| f.finding.rule_id)
        .collect()
}

const PERMISSION_SET: &str = "aws:ssoadmin/permissionSet:PermissionSet";
const ACL: &str = "gcp:storage/bucketAccessControl:BucketAccessControl";
const EKS_ACCESS: &str = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation";

fn permission_set() -> Value {
    json!({"instanceArn": "arn:aws:sso:::instance/ssoins-1", "name": "Admins"})
}

#[test]
fn a_permission_set_alone_is_unanalyzed_at_medium() {
    let a = run(vec![step(
        "create",
        PERMISSION_SET,
        "admins",
        None,
        Some(permission_set()),
    )]);
    assert_eq!(new_rules(&a), ["AWS-UNANALYZED-001"]);
    let f = &a.findings[0].finding;
    assert_eq!(
        (f.category, f.severity),
        (Category::Unanalyzed, Severity::Medium)
    );
    assert!(f.message.contains(PERMISSION_SET), "{}", f.message);
    assert!(a.risk.level >= Level::Medium, "{:?}", a.risk);
    assert_eq!(a.resources.len(), 1);
    assert_eq!(a.resources[0].op.as_str(), "create");
    assert_eq!(a.resources[0].risk.level, Level::Medium);
    assert!(
        a.resources[0].diff.contains("\"name\": \"Admins\""),
        "{}",
        a.resources[0].diff
    );
}

#[test]
fn a_same_step_of_an_unmodeled_type_is_nothing() {
    let a = run(vec![step(
        "same",
        PERMISSION_SET,
        "admins",
        Some(permission_set()),
        Some(permission_set()),
    )]);
    assert!(
        a.findings.is_empty() && a.improvements.is_empty(),
        "{:?}",
        a.findings
    );
    assert!(a.resources.is_empty());
    assert_eq!(a.risk.level, Level::None);
}

#[test]
fn bucket_acls_and_eks_access_policies_are_unanalyzed() {
    let a = run(vec![
        step(
            "create",
            ACL,
            "public",
            None,
            Some(json!({"bucket": "b", "role": "OWNER", "entity": "allUsers"})),
        ),
        step(
            "create",
            EKS_ACCESS,
            "ci-admin",
            None,
            Some(
                json!({"clusterName": "prod", "principalArn": "arn:aws:iam::111122223333:role/ci", "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", "accessScope": {"type": "cluster"}}),
            ),
        ),
    ]);
    let mut rules = new_rules(&a);
    rules.sort_unstable();
    assert_eq!(rules, ["AWS-UNANALYZED-001", "GCP-UNANALYZED-001"]);
    assert!(a.risk.level >= Level::Medium);
    assert_eq!(a.resources.len(), 2);
}

#[test]
fn deleting_a_guardrail_is_new_risk_and_deleting_a_binding_removes_access() {
    let scp = step(
        "delete",
        "aws:organizations/policy:Policy",
        "deny-all-but",
        Some(json!({"name": "deny", "type": "SERVICE_CONTROL_POLICY", "content": "{}"})),
        None,
    );
    let binding = step(
        "delete",
        ACL,
        "old",
        Some(json!({"bucket": "b", "role": "READER", "entity": "user-a@example.com"})),
        None,
    );
    let a = run(vec![binding.clone()]);
    assert!(new_rules(&a).is_empty(), "{:?}", a.findings);
    assert_eq!((a.risk.score, a.risk.level), (0, Level::None));
    assert_eq!(a.improvements.len(), 1);
    assert_eq!(a.improvements[0].finding.rule_id, "GCP-UNANALYZED-001");
    assert_eq!(a.resources.len(), 1, "the deletion is still listed");
    assert_eq!(a.resources[0].op.as_str(), "delete");

    let a = run(vec![scp, binding]);
    assert_eq!(new_rules(&a), ["AWS-UNANALYZED-001"]);
    assert!(
        a.findings[0]
            .finding
            .message
            .contains("may lift a guardrail")
    );
    assert!(a.risk.level >= Level::Medium);
    assert_eq!(a.resources.len(), 2);
}

#[test]
fn the_risk_config_applies_to_unanalyzed_rules() {
    let text =
        json!({"steps": [step("create", PERMISSION_SET, "admins", None, Some(permission_set()))]})
            .to_string();
    let mut config = RiskConfig::default();
    config
        .severity
        .insert("AWS-UNANALYZED-001".into(), Severity::High);
    let a = run_text(&text, &config);
    assert_eq!(a.findings[0].finding.severity, Severity::High);
    assert_eq!(a.risk.level, Level::High);

    config.disable.insert("AWS-UNANALYZED-001".into());
    let a = run_text(&text, &config);
    assert!(a.findings.is_empty());
    assert_eq!(
        a.resources.len(),
        1,
        "disabling the rule does not hide the change"
    );
}

/// `{"a": {"a": ... "x" ...}}`, `depth` objects deep.
fn nested(depth: usize) -> Value {
    (0..depth).fold(json!("x"), |leaf, _| json!({ "a": leaf }))
}

/// A policy document whose Condition nests `depth` levels deep.
fn deep_policy(depth: usize) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
           "Condition": {"StringEquals": nested(depth)}}]})
}

fn other_role() -> Value {
    step(
        "create",
        "aws:iam/rolePolicy:RolePolicy",
        "other",
        None,
        Some(
            json!({"role": "other", "name": "all", "policy": json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}).to_string()}),
        ),
    )
}

#[test]
fn a_role_inline_policy_nested_200_levels_deep_is_malformed_not_absent() {
    // AWS classic: the policy is a JSON string in the inputs.
    let role = || {
        let inline = json!([{"name": "p", "policy": deep_policy(200).to_string()}]);
        let inputs = json!({"name": "deep", "inlinePolicies": inline});
        step("create", "aws:iam/role:Role", "deep", None, Some(inputs))
    };
    let a = run(vec![role(), other_role()]);
    let f = a
        .findings
        .iter()
        .find(|f| f.finding.resource.ends_with("::deep"))
        .unwrap_or_else(|| panic!("{:?}", new_rules(&a)));
    assert_eq!(f.finding.rule_id, "AWS-LINT-MALFORMED");
    assert_eq!(f.finding.category, Category::Malformed);
    assert!(f.new);
    assert!(
        f.finding
            .message
            .contains("nests deeper than the 128 levels"),
        "{}",
        f.finding.message
    );
    assert!(a.resources.iter().any(|r| r.urn.ends_with("::deep")));
    // The rest of the preview is analyzed as usual.
    assert!(new_rules(&a).contains(&"AWS-WC-001"), "{:?}", new_rules(&a));
    assert_eq!(a.risk.level, Level::Critical);

    let alone = run(vec![role()]);
    assert!(alone.risk.level > Level::None, "{:?}", alone.risk);
}

#[test]
fn inputs_nested_200_levels_deep_are_unreadable_at_high_and_the_rest_is_read() {
    // aws-native: the policy is an object inside the inputs, so the inputs nest too deep.
    let role = step(
        "create",
        "aws-native:iam:Role",
        "deep",
        None,
        Some(json!({"roleName": "deep",
                    "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
                    "policies": [{"policyName": "p", "policyDocument": deep_policy(200)}]})),
    );
    let a = run(vec![role, other_role()]);
    let unreadable: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.finding.rule_id == "AWS-LINT-UNREADABLE")
        .collect();
    assert_eq!(unreadable.len(), 1, "{:?}", new_rules(&a));
    let f = unreadable[0];
    assert!(f.new);
    assert_eq!(
        (f.finding.category, f.finding.severity),
        (Category::Malformed, Severity::High)
    );
    assert!(f.finding.resource.ends_with("aws-native:iam:Role::deep"));
    assert!(
        f.finding.message.contains("`policies`"),
        "{}",
        f.finding.message
    );
    // What could be read of the role still is: its managed policy.
    assert!(new_rules(&a).contains(&"AWS-MP-001"), "{:?}", new_rules(&a));
    let resource = a
        .resources
        .iter()
        .find(|r| r.urn.ends_with("::deep"))
        .unwrap_or_else(|| panic!("{:?}", a.resources));
    assert!(
        resource.diff.contains("\"unreadable\": \"policies\""),
        "{}",
        resource.diff
    );

    // Alone, an unreadable property is enough for a high level.
    let lone = step(
        "create",
        "aws-native:iam:Role",
        "deep",
        None,
        Some(
            json!({"roleName": "deep", "policies": [{"policyName": "p", "policyDocument": deep_policy(200)}]}),
        ),
    );
    let a = run(vec![lone]);
    assert_eq!(new_rules(&a), ["AWS-LINT-UNREADABLE"]);
    assert_eq!(a.risk.level, Level::High);
}

#[test]
fn an_unreadable_value_that_stays_the_same_is_not_new_and_one_that_changes_is() {
    const NATIVE_ROLE: &str = "aws-native:iam:Role";
    let old = json!({"roleName": "deep", "tags": nested(200)});
    let a = run(vec![step(
        "same",
        NATIVE_ROLE,
        "deep",
        Some(old.clone()),
        Some(old.clone()),
    )]);
    assert_eq!(a.findings.len(), 1);
    assert!(!a.findings[0].new, "unchanged: reported, not new");
    assert_eq!(a.risk.level, Level::None);

    // The same shape with another text: a change that cannot be judged.
    let new = json!({"roleName": "deep", "tags": nested(201)});
    let a = run(vec![step(
        "update",
        NATIVE_ROLE,
        "deep",
        Some(old),
        Some(new),
    )]);
    assert_eq!(new_rules(&a), ["AWS-LINT-UNREADABLE"]);
    assert_eq!(a.resources.len(), 1);
}

#[test]
fn a_policy_that_is_not_json_is_malformed_not_absent() {
    let a = run(vec![step(
        "create",
        "aws:iam/rolePolicy:RolePolicy",
        "broken",
        None,
        Some(
            json!({"role": "app", "name": "broken", "policy": "{\"Version\": \"2012-10-17\", \"Statement\": ["}),
        ),
    )]);
    assert_eq!(new_rules(&a), ["AWS-LINT-MALFORMED"]);
    assert_eq!(a.findings[0].finding.category, Category::Malformed);
    assert!(a.risk.level > Level::None);
    assert_eq!(a.resources.len(), 1);
}

#[test]
fn inline_policies_of_the_wrong_shape_are_reported() {
    let role = |name: &str, inline: Value| {
        step(
            "create",
            "aws:iam/role:Role",
            name,
            None,
            Some(json!({"name": name, "inlinePolicies": inline})),
        )
    };
    let a = run(vec![
        role("unknown", json!(preview::UNKNOWN)),
        role("not-a-list", json!({"name": "p", "policy": "{}"})),
        role("bad-entry", json!([42])),
    ]);
    let on = |name: &str| -> Vec<&str> {
        a.findings
            .iter()
            .filter(|f| f.finding.resource.ends_with(&format!("::{name}")))
            .map(|f| f.finding.rule_id)
            .collect()
    };
    assert_eq!(
        on("unknown"),
        ["AWS-UNK-001"],
        "an unknown list is unknown, never empty"
    );
    assert_eq!(on("not-a-list"), ["AWS-LINT-MALFORMED"]);
    assert_eq!(on("bad-entry"), ["AWS-LINT-MALFORMED"]);
}

/// A role and, besides it, whatever carries its policy.
fn role_with(inputs: Value, carriers: Vec<Value>) -> Analysis {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let mut role_inputs = json!({"name": "app", "assumeRolePolicy": trust.to_string()});
    if let (Some(role), Some(extra)) = (role_inputs.as_object_mut(), inputs.as_object()) {
        role.extend(extra.clone());
    }
    let mut steps = vec![step(
        "create",
        "aws:iam/role:Role",
        "app",
        None,
        Some(role_inputs),
    )];
    steps.extend(carriers);
    run(steps)
}

/// The new findings that score: rule, severity, evidence (not the context findings).
fn scoring(a: &Analysis) -> Vec<(&'static str, Severity, String)> {
    let mut out: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.new && f.finding.severity > Severity::Info)
        .map(|f| {
            (
                f.finding.rule_id,
                f.finding.severity,
                f.finding.evidence.clone(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The role with the AWS managed policy `arn` attached by ARN (three ways, two partitions) reads
/// the same as the role with the policy's document inline: same level, score, scoring findings.
fn assert_reads_like_inline(arn: &str) -> Analysis {
    let document = crate::engine::iam::managed::lookup(arn)
        .unwrap_or_else(|| panic!("{arn} is not in the table"))
        .document;
    let inline = role_with(
        json!({"inlinePolicies": [{"name": "copy", "policy": document}]}),
        vec![],
    );
    let by_arn = role_with(json!({"managedPolicyArns": [arn]}), vec![]);
    let gov = role_with(
        json!({"managedPolicyArns": [arn.replace("arn:aws:", "arn:aws-us-gov:")]}),
        vec![],
    );
    let attachment = role_with(
        json!({}),
        vec![step(
            "create",
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "app-managed",
            None,
            Some(json!({"role": "app", "policyArn": arn})),
        )],
    );
    assert!(!scoring(&inline).is_empty(), "{arn}");
    for (how, a) in [
        ("managedPolicyArns", &by_arn),
        ("managedPolicyArns, aws-us-gov", &gov),
        ("RolePolicyAttachment", &attachment),
    ] {
        assert_eq!(
            a.risk.level, inline.risk.level,
            "{arn} {how}: {:?}",
            a.findings
        );
        assert_eq!(a.risk.score, inline.risk.score, "{arn} {how}");
        assert_eq!(scoring(a), scoring(&inline), "{arn} {how}");
        assert!(
            !new_rules(a).contains(&"AWS-MP-006"),
            "{arn} {how}: the table knows it"
        );
    }
    inline
}

#[test]
fn a_managed_policy_by_arn_reads_like_its_document_inline() {
    // Read `medium` by ARN before the table held its document.
    let ssm = assert_reads_like_inline("arn:aws:iam::aws:policy/AmazonSSMFullAccess");
    assert_eq!(ssm.risk.level, Level::Critical, "{:?}", ssm.risk);
}

#[test]
fn a_managed_policy_naming_actions_newer_than_the_database_reads_like_inline() {
    let read_only = assert_reads_like_inline("arn:aws:iam::aws:policy/ReadOnlyAccess");
    // Its newer actions are one context finding, not typos worth points.
    let lint: Vec<_> = read_only
        .findings
        .iter()
        .filter(|f| f.finding.rule_id.starts_with("AWS-LINT-UNKNOWN"))
        .map(|f| f.finding.severity)
        .collect();
    assert_eq!(lint, [Severity::Info]);
}

#[test]
fn an_aws_managed_arn_the_table_does_not_know_is_unanalyzed_not_harmless() {
    let unknown = "arn:aws:iam::aws:policy/AmazonNotYetPublishedAccess";
    let a = role_with(json!({"managedPolicyArns": [unknown]}), vec![]);
    assert_eq!(
        scoring(&a),
        [("AWS-MP-006", Severity::Medium, unknown.to_owned())]
    );
    let f = a
        .findings
        .iter()
        .find(|f| f.finding.rule_id == "AWS-MP-006")
        .map(|f| &f.finding)
        .unwrap_or_else(|| panic!("{:?}", a.findings));
    assert_eq!(f.category, Category::Unanalyzed);
    // Never harmless (medium points, times the exposure of this EC2 service role).
    assert!(a.risk.level > Level::None, "{:?}", a.risk);
    // A customer managed policy the preview does not define is not an AWS managed one.
    let customer = role_with(
        json!({"managedPolicyArns": ["arn:aws:iam::111122223333:policy/AmazonNotYetPublishedAccess"]}),
        vec![],
    );
    assert!(!new_rules(&customer).contains(&"AWS-MP-006"));
}

#[test]
fn an_aws_managed_arn_is_never_a_preview_policy_of_the_same_name() {
    // A harmless customer policy named like the AWS one does not stand in for it.
    let decoy = step(
        "create",
        "aws:iam/policy:Policy",
        "decoy",
        None,
        Some(
            json!({"name": "AdministratorAccess", "policy": json!({"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}).to_string()}),
        ),
    );
    let attachment = step(
        "create",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "app-admin",
        None,
        Some(json!({"role": "app", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})),
    );
    let a = role_with(json!({}), vec![decoy, attachment]);
    assert!(new_rules(&a).contains(&"AWS-WC-001"), "{:?}", new_rules(&a));
    assert_eq!(a.risk.level, Level::Critical);
}
