//! The corpus: every real preview and every hand-designed one (tests/fixtures/corpus, written by
//! its generate.py) through the whole engine. Each has explicit expectations, and the JSON and
//! Markdown reports are snapshot-tested so that any change in output is reviewed.

use std::path::Path;

use iamgate::engine::report::{json, markdown};
use iamgate::engine::risk::{Category, RiskConfig};
use iamgate::engine::{Analysis, Level, analyze, preview};

fn run(path: &str) -> Analysis {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let bytes = std::fs::read(&full).unwrap_or_else(|e| panic!("{path}: {e}"));
    let p = preview::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
    analyze(&p, &RiskConfig::default())
}

fn new_rules(a: &Analysis) -> Vec<&'static str> {
    a.findings
        .iter()
        .filter(|f| f.new)
        .map(|f| f.finding.rule_id)
        .collect()
}

fn has_new(a: &Analysis, rule: &str, subject_part: &str) -> bool {
    a.findings
        .iter()
        .any(|f| f.new && f.finding.rule_id == rule && f.finding.subject.contains(subject_part))
}

fn snapshot(name: &str, a: &Analysis) {
    insta::assert_snapshot!(format!("{name}.json"), json::render(a));
    insta::assert_snapshot!(
        format!("{name}.md"),
        markdown::render(&markdown::Comment::for_analysis(a), usize::MAX)
    );
}

#[test]
fn every_op_is_handled() {
    let a = run("tests/fixtures/corpus/ops.preview.json");
    let ops: Vec<&str> = a.resources.iter().map(|r| r.op.as_str()).collect();
    assert_eq!(
        ops,
        ["create", "update", "delete", "replace"],
        "same, read and import change nothing"
    );
    assert!(
        has_new(&a, "AWS-TR-005", "replaced-b"),
        "{:?}",
        new_rules(&a)
    );
    assert!(
        a.improvements
            .iter()
            .any(|i| i.finding.rule_id == "AWS-WC-001"),
        "deleting an admin role is an improvement"
    );
    snapshot("ops", &a);
}

#[test]
fn a_reformatted_policy_is_no_change() {
    let a = run("tests/fixtures/corpus/reformat-only.preview.json");
    assert!(a.resources.is_empty());
    assert_eq!((a.risk.score, a.risk.level), (0, Level::None));
    snapshot("reformat-only", &a);
}

#[test]
fn administrator_access_on_a_user_is_critical() {
    let a = run("tests/fixtures/corpus/admin-attach.preview.json");
    assert!(has_new(&a, "AWS-MP-001", "user/ops"), "{:?}", new_rules(&a));
    assert_eq!(a.risk.level, Level::Critical);
    snapshot("admin-attach", &a);
}

#[test]
fn completing_an_escalation_path_is_new_risk() {
    let a = run("tests/fixtures/corpus/privesc-completed.preview.json");
    assert!(
        has_new(&a, "AWS-PE-009", "role/worker"),
        "{:?}",
        new_rules(&a)
    );
    assert_eq!(a.risk.level, Level::Critical);
    snapshot("privesc-completed", &a);
}

#[test]
fn narrowing_scores_zero_and_lists_improvements() {
    let a = run("tests/fixtures/corpus/narrowing.preview.json");
    assert_eq!((a.risk.score, a.risk.level), (0, Level::None));
    assert!(new_rules(&a).is_empty());
    assert!(
        a.improvements
            .iter()
            .any(|i| i.finding.rule_id == "AWS-WC-003")
    );
    assert_eq!(
        a.resources.len(),
        1,
        "the narrowed policy is still a change to review"
    );
    snapshot("narrowing", &a);
}

#[test]
fn public_resource_policies_of_every_kind() {
    let a = run("tests/fixtures/corpus/resource-policies.preview.json");
    assert!(
        has_new(&a, "AWS-PUB-001", "QueuePolicy::jobs"),
        "{:?}",
        new_rules(&a)
    );
    assert!(has_new(&a, "AWS-PUB-002", "RepositoryPolicy::images"));
    assert!(has_new(&a, "AWS-PUB-003", "Permission::hook"));
    assert!(has_new(&a, "AWS-PUB-004", "TopicPolicy::alerts"));
    assert!(
        !a.findings
            .iter()
            .any(|f| f.finding.rule_id.starts_with("AWS-PUB")
                && f.finding.subject.contains("BucketPolicy::site")),
        "a VPC endpoint condition limits the public statement"
    );
    snapshot("resource-policies", &a);
}

#[test]
fn trust_policies() {
    let a = run("tests/fixtures/corpus/trust.preview.json");
    assert!(
        has_new(&a, "AWS-TR-001", "role/anyone"),
        "{:?}",
        new_rules(&a)
    );
    assert!(has_new(&a, "AWS-TR-006", "role/gha-any"));
    assert!(
        !has_new(&a, "AWS-TR-006", "role/gha-pinned"),
        "a pinned sub is safe"
    );
    assert!(has_new(&a, "AWS-TR-005", "role/vendor"));
    assert!(
        !has_new(&a, "AWS-TR-005", "role/vendor-safe"),
        "an ExternalId condition is present"
    );
    snapshot("trust", &a);
}

#[test]
fn unknown_and_secret_policies_are_reported_not_guessed() {
    let a = run("tests/fixtures/corpus/unknown-secret.preview.json");
    let rules = new_rules(&a);
    assert!(rules.contains(&"AWS-UNK-001"), "{rules:?}");
    assert!(rules.contains(&"AWS-UNK-003"), "{rules:?}");
    assert!(
        !rules
            .iter()
            .any(|r| r.starts_with("AWS-WC") || r.starts_with("AWS-PE")),
        "{rules:?}"
    );
    assert!(a.risk.level > Level::None, "unknown is never harmless");
    snapshot("unknown-secret", &a);
}

#[test]
fn aws_native_resources() {
    let a = run("tests/fixtures/corpus/aws-native.preview.json");
    assert!(
        has_new(&a, "AWS-PE-005", "role/builder"),
        "{:?}",
        new_rules(&a)
    );
    assert!(has_new(&a, "AWS-PUB-001", "BucketPolicy::logs"));
    snapshot("aws-native", &a);
}

#[test]
fn removed_guardrails() {
    let a = run("tests/fixtures/corpus/guardrails.preview.json");
    for rule in ["AWS-GR-001", "AWS-GR-002", "AWS-PUB-005"] {
        assert!(
            new_rules(&a).contains(&rule),
            "{rule} in {:?}",
            new_rules(&a)
        );
    }
    snapshot("guardrails", &a);
}

#[test]
fn malformed_policies_and_unknown_actions() {
    let a = run("tests/fixtures/corpus/malformed.preview.json");
    for rule in [
        "AWS-LINT-MALFORMED",
        "AWS-LINT-UNKNOWN-ACTION",
        "AWS-LINT-UNKNOWN-PREFIX",
    ] {
        assert!(
            new_rules(&a).contains(&rule),
            "{rule} in {:?}",
            new_rules(&a)
        );
    }
    snapshot("malformed", &a);
}

#[test]
fn an_sso_permission_set_with_administrator_access_needs_review() {
    let a = run("tests/fixtures/corpus/sso-admin.preview.json");
    assert_eq!(
        new_rules(&a),
        ["AWS-UNANALYZED-001", "AWS-UNANALYZED-001"],
        "never \"no IAM change\""
    );
    assert!(
        a.findings
            .iter()
            .all(|f| f.finding.category == Category::Unanalyzed)
    );
    assert!(a.risk.level >= Level::Medium, "{:?}", a.risk);
    let ops: Vec<(&str, &str)> = a
        .resources
        .iter()
        .map(|r| (r.type_.as_str(), r.op.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("aws:ssoadmin/permissionSet:PermissionSet", "create"),
            (
                "aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment",
                "create"
            )
        ]
    );
    assert!(
        a.resources[1]
            .diff
            .contains("arn:aws:iam::aws:policy/AdministratorAccess"),
        "the reviewer sees what is attached: {}",
        a.resources[1].diff
    );
    snapshot("sso-admin", &a);
}

#[test]
fn iam_of_every_cloud_that_iamgate_does_not_model_is_unanalyzed() {
    let a = run("tests/fixtures/corpus/unanalyzed.preview.json");
    let on = |name: &str| -> Vec<(&str, bool)> {
        a.findings
            .iter()
            .chain(&a.improvements)
            .filter(|f| f.finding.resource.ends_with(&format!("::{name}")))
            .map(|f| (f.finding.rule_id, f.new))
            .collect()
    };
    for (name, rule) in [
        ("admins", "AWS-UNANALYZED-001"),
        ("admins-admin", "AWS-UNANALYZED-001"),
        ("admins-prod", "AWS-UNANALYZED-001"),
        ("vendor", "AWS-UNANALYZED-001"),
        ("vendor-admin", "AWS-UNANALYZED-001"),
        ("deny-leave-org", "AWS-UNANALYZED-001"),
        ("events", "AWS-UNANALYZED-001"),
        // Kubernetes RBAC, Google Cloud IAM and Azure RBAC are modeled: judged by their rules,
        // not passed to a human unread.
        ("ci-admin", "K8S-ADM-001"),
        ("contractor-owner", "GCP-ADM-001"),
        ("ops-owner", "AZURE-ADM-001"),
    ] {
        assert_eq!(on(name), [(rule, true)], "{name}");
    }
    // A deleted binding removes access: listed, not scored.
    let removed = on("old-deployer");
    assert!(removed.contains(&("K8S-DE-001", false)), "{removed:?}");
    assert!(removed.iter().all(|(_, new)| !new), "{removed:?}");
    assert!(
        a.improvements
            .iter()
            .any(|i| i.finding.resource.ends_with("::old-deployer"))
    );
    // Unchanged, not IAM, or IAM-irrelevant change of a queue: nothing.
    for name in ["readers", "jobs", "web"] {
        assert!(on(name).is_empty(), "{name}");
        assert!(
            !a.resources
                .iter()
                .any(|r| r.urn.ends_with(&format!("::{name}"))),
            "{name}"
        );
    }
    assert_eq!(a.resources.len(), 11);
    assert!(a.risk.level >= Level::Medium);

    // The stream form reads the same.
    let stream = run("tests/fixtures/corpus/unanalyzed.events.ndjson");
    assert_eq!(json::render(&stream), json::render(&a));
    snapshot("unanalyzed", &a);
}

#[test]
fn inputs_nested_too_deep_are_reported_and_the_rest_is_analyzed() {
    let a = run("tests/fixtures/corpus/deep-nesting.preview.json");
    // AWS classic: the deep policy is a string, a document AWS rejects.
    assert!(
        has_new(&a, "AWS-LINT-MALFORMED", "aws:iam/role:Role::deep-inline"),
        "{:?}",
        new_rules(&a)
    );
    // aws-native: the inputs themselves nest too deep; the role's other properties are read.
    assert!(
        has_new(
            &a,
            "AWS-LINT-UNREADABLE",
            "aws-native:iam:Role::deep-native"
        ),
        "{:?}",
        new_rules(&a)
    );
    assert!(
        has_new(&a, "AWS-MP-005", "deep-native"),
        "{:?}",
        new_rules(&a)
    );
    // The plain policy on the same role is analyzed as usual.
    assert!(
        has_new(&a, "AWS-WC-003", "role/deep-inline"),
        "{:?}",
        new_rules(&a)
    );
    assert_eq!(a.resources.len(), 3);
    assert!(a.risk.level >= Level::High);
    snapshot("deep-nesting", &a);
}

#[test]
fn users_inherit_group_policies() {
    let a = run("tests/fixtures/corpus/groups-and-keys.preview.json");
    assert!(has_new(&a, "AWS-PE-018", "user/bob"), "{:?}", new_rules(&a));
    assert!(new_rules(&a).contains(&"AWS-GR-003"), "a new access key");
    snapshot("groups-and-keys", &a);
}

#[test]
fn a_replacement_in_the_event_stream_is_one_change() {
    let a = run("tests/fixtures/corpus/replace-stream.events.ndjson");
    assert_eq!(a.resources.len(), 1);
    assert_eq!(a.resources[0].op.as_str(), "replace");
    assert!(
        has_new(&a, "AWS-WC-003", "role/svc-v2"),
        "{:?}",
        new_rules(&a)
    );
    snapshot("replace-stream", &a);
}

#[test]
fn real_previews_analyze_with_sensible_findings() {
    let creates = run("tests/fixtures/previews/stratify-aws-lambda-iam-creates.preview.json");
    assert_eq!(creates.resources.len(), 11);
    assert!(
        new_rules(&creates).contains(&"AWS-MP-005"),
        "{:?}",
        new_rules(&creates)
    );
    snapshot("stratify-creates", &creates);

    let deletes = run("tests/fixtures/previews/stratify-aws-lambda-iam-deletes.preview.json");
    assert_eq!(
        (deletes.risk.score, deletes.risk.level),
        (0, Level::None),
        "deleting access is never risk"
    );
    assert!(!deletes.improvements.is_empty());
    snapshot("stratify-deletes", &deletes);

    for unchanged in [
        "tests/fixtures/previews/stratify-aws-lambda-iam-update-show-sames.preview.json",
        "tests/fixtures/previews/pulumi-display-eks-iam-preview.events.ndjson",
        "tests/fixtures/previews/pitfall-aws-s3-tags-update-secret.preview.json",
        "tests/fixtures/previews/pulumi-display-ec2-replace-preview.events.ndjson",
        "tests/fixtures/previews/pulumi-display-secret-delete-replaced-up.events.ndjson",
        "tests/fixtures/previews/pulumi-lifecycletest-unknowns-preview.events.ndjson",
    ] {
        let a = run(unchanged);
        assert!(a.resources.is_empty(), "{unchanged}: {:?}", a.resources);
        assert_eq!(a.risk.level, Level::None, "{unchanged}");
    }

    let eks = run("tests/fixtures/previews/pulumi-display-eks-iam-creates-up.events.ndjson");
    assert_eq!(eks.resources.len(), 3, "role and two attachments");
    snapshot("eks-creates", &eks);
}

#[test]
fn the_readme_example() {
    let a = run("examples/risky-preview.json");
    assert_eq!(a.risk.level, Level::Critical);
    snapshot("readme-example", &a);
}
