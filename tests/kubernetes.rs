//! Kubernetes RBAC through the whole engine and the CLI, on previews shaped like a
//! pulumi-kubernetes program's (tests/fixtures/kubernetes, written by its generate.py): what a
//! widening PR reports, that moving grants between forms reports nothing new, and that unreadable
//! or unknown objects are reported, never passed over.

use std::path::Path;
use std::process::Command;

use iamgate::engine::report::{json, markdown};
use iamgate::engine::risk::RiskConfig;
use iamgate::engine::{Analysis, Level, analyze, preview};

fn path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kubernetes")
        .join(name)
}

fn run(name: &str) -> Analysis {
    let bytes = std::fs::read(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let p = preview::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    analyze(&p, &RiskConfig::default())
}

/// (rule, subject) of the new findings, sorted.
fn new(a: &Analysis) -> Vec<(&'static str, String)> {
    let mut v: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.new)
        .map(|f| (f.finding.rule_id, f.finding.subject.clone()))
        .collect();
    v.sort();
    v
}

#[test]
fn a_widened_deployer_an_aggregation_and_a_public_binding_are_each_reported() {
    let a = run("escalation.preview.json");
    let got = new(&a);
    let has = |rule: &str, subject: &str| got.iter().any(|(r, s)| *r == rule && s == subject);
    // The CI account's role gained workload creation and secret reads, cluster-wide: its
    // unchanged binding carries them. Reading secrets is reported once, on every authenticated
    // user (below), whom the same change gives it: the account is one of them.
    assert!(has("K8S-PE-003", "ServiceAccount/build/ci"), "{got:#?}");
    assert!(!has("K8S-DE-001", "ServiceAccount/build/ci"), "{got:#?}");
    // A wildcard role aggregated into view (and so edit and admin).
    assert!(has("K8S-AGG-001", "ClusterRole/crd-viewer"), "{got:#?}");
    assert!(has("K8S-WC-001", "ClusterRole/crd-viewer"), "{got:#?}");
    // view for every authenticated user, and the secrets list it now carries, as public.
    assert!(has("K8S-PUB-001", "Group/system:authenticated"), "{got:#?}");
    assert!(has("K8S-DE-001", "Group/system:authenticated"), "{got:#?}");
    // exec in one namespace; one named secret, pinned.
    assert!(has("K8S-PE-006", "Group/payments-oncall"), "{got:#?}");
    let pinned = a
        .findings
        .iter()
        .find(|f| f.finding.rule_id == "K8S-DE-001" && f.finding.subject == "Group/payments-oncall")
        .expect("the named secret is reported");
    assert_eq!(pinned.finding.scope, iamgate::engine::risk::Scope::Pinned);
    // Nothing the change did not touch is new: the deployer's old rights were there before.
    assert!(
        !a.findings
            .iter()
            .any(|f| f.new && f.finding.rule_id == "K8S-PM-001"),
        "{got:#?}"
    );
    assert_eq!(a.risk.level, Level::Critical, "{:?}", a.risk);
    assert!(a.risk.score < 100, "no one is made cluster administrator");
    // The diff shows the rules as a reviewer reads them.
    let deployer = a
        .resources
        .iter()
        .find(|r| r.urn.ends_with("ClusterRole::ci-deployer"))
        .expect("the widened role is listed");
    assert!(
        deployer.diff.contains("+    \"list core/secrets\""),
        "{}",
        deployer.diff
    );
    insta::assert_snapshot!(
        "escalation.md",
        markdown::render(&markdown::Comment::for_analysis(&a), usize::MAX)
    );
    insta::assert_snapshot!("escalation.json", json::render(&a));
}

#[test]
fn moving_grants_between_bindings_roles_and_list_forms_is_not_new_risk() {
    let a = run("reform.preview.json");
    assert_eq!(new(&a), [], "{:#?}", a.findings);
    assert_eq!((a.risk.score, a.risk.level), (0, Level::None));
    // The changes are still listed for review, and the grants are still seen after.
    assert_eq!(
        a.resources.len(),
        5,
        "{:#?}",
        a.resources.iter().map(|r| &r.urn).collect::<Vec<_>>()
    );
    assert!(
        a.findings
            .iter()
            .any(|f| f.finding.rule_id == "K8S-ADM-001" && f.finding.subject == "Group/platform"),
        "{:#?}",
        a.findings
    );
    assert!(
        a.findings
            .iter()
            .any(|f| f.finding.rule_id == "K8S-DE-001"
                && f.finding.subject == "ServiceAccount/build/ci"),
        "{:#?}",
        a.findings
    );
}

#[test]
fn unreadable_rules_and_unknown_subjects_are_reported() {
    let a = run("broken.preview.json");
    let got = new(&a);
    let rules: Vec<&str> = got.iter().map(|(r, _)| *r).collect();
    assert!(rules.contains(&"K8S-MAL-001"), "{got:#?}");
    assert!(rules.contains(&"K8S-UNK-001"), "{got:#?}");
    assert!(!rules.iter().any(|r| r.starts_with("AWS-")), "{got:#?}");
    assert!(a.risk.level >= Level::High, "{:?}", a.risk);
}

#[test]
fn the_cli_gates_on_kubernetes_findings_and_writes_sarif() {
    let bin = env!("CARGO_BIN_EXE_iamgate");
    let out = Command::new(bin)
        .args(["analyze", "--format", "json", "--fail-on", "high"])
        .arg(path("escalation.preview.json"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["risk"]["level"], "critical");
    assert_eq!(
        out.status.code(),
        Some(4),
        "--fail-on high fails on critical"
    );
    let out = Command::new(bin)
        .args(["analyze", "--format", "sarif"])
        .arg(path("escalation.preview.json"))
        .output()
        .unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["ruleId"].as_str())
        .collect();
    assert!(ids.contains(&"K8S-PE-003"), "{ids:?}");
    // Disabling a rule in the repository config takes it out.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".iamgate.yml"),
        "version: 1\nstacks:\n  - name: prod\n    dir: infra\n    stack: acme/prod\nrisk:\n  disable: [K8S-PUB-001]\n  severity: {K8S-PE-003: low}\n",
    )
    .unwrap();
    let out = Command::new(bin)
        .args(["analyze", "--format", "json", "--config"])
        .arg(dir.path().join(".iamgate.yml"))
        .arg(path("escalation.preview.json"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.iter().any(|f| f["rule_id"] == "K8S-PUB-001"));
    assert!(
        findings
            .iter()
            .filter(|f| f["rule_id"] == "K8S-PE-003")
            .all(|f| f["severity"] == "low"),
        "{findings:#?}"
    );
}
