//! Google Cloud IAM through the real binary: `iamgate analyze --format json` on previews shaped
//! like pulumi-gcp's (`tests/fixtures/gcp/`, written by its `generate.py`; type tokens and
//! inputs of @pulumi/gcp 9.37.0).
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a test failure"
)]

use std::process::Command;

use serde_json::Value;

fn analyze(fixture: &str, config: Option<&str>) -> Value {
    let path = format!(
        "{}/tests/fixtures/gcp/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iamgate"));
    cmd.args(["analyze", &path, "--format", "json"]);
    if let Some(text) = config {
        let cfg = dir.path().join(".iamgate.yml");
        std::fs::write(&cfg, text).unwrap();
        cmd.arg("--config").arg(&cfg);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{fixture}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (rule id, severity, new, subject) of every finding.
fn findings(report: &Value) -> Vec<(String, String, bool, String)> {
    let mut f: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
                f["new"].as_bool().unwrap_or(false),
                f["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    f.sort();
    f
}

fn has(report: &Value, rule: &str, severity: &str, new: bool, subject: &str) -> bool {
    findings(report)
        .iter()
        .any(|(r, s, n, who)| r == rule && s == severity && *n == new && who == subject)
}

fn level(report: &Value) -> (&str, u64) {
    (
        report["risk"]["level"].as_str().unwrap(),
        report["risk"]["score"].as_u64().unwrap(),
    )
}

#[test]
fn owner_of_a_project_is_full_admin_and_scores_100() {
    let r = analyze("creates.preview.json", None);
    assert_eq!(level(&r), ("critical", 100), "{:#?}", findings(&r));
    assert!(has(
        &r,
        "GCP-ADM-001",
        "critical",
        true,
        "user:dev@acme.com"
    ));
    // A custom role is judged by its permissions: setIamPolicy on the project.
    assert!(has(
        &r,
        "GCP-PE-001",
        "critical",
        true,
        "serviceAccount:ci@acme-prod.iam.gserviceaccount.com"
    ));
    // A public bucket reads data (critical, one band lower on one bucket); a public Cloud Run
    // invoker is how public services are served.
    let public: Vec<String> = findings(&r)
        .into_iter()
        .filter(|f| f.0 == "GCP-PUB-001")
        .map(|f| f.1)
        .collect();
    assert_eq!(public, ["high", "low"], "{:#?}", findings(&r));
    assert!(
        findings(&r)
            .iter()
            .any(|f| f.0 == "GCP-CE-001" && f.1 == "medium" && f.2)
    );
    // No GCP type of the preview is left unanalyzed.
    assert!(
        !findings(&r).iter().any(|f| f.0 == "GCP-UNANALYZED-001"),
        "{:#?}",
        findings(&r)
    );
}

#[test]
fn moving_grants_into_an_iam_policy_scores_zero() {
    let r = analyze("form-change.preview.json", None);
    assert_eq!(level(&r), ("none", 0), "{:#?}", findings(&r));
    let f = findings(&r);
    assert!(f.iter().all(|x| !x.2), "nothing is new: {f:#?}");
    // The path is still seen, in the before and after states alike.
    assert!(has(&r, "GCP-PE-003", "high", false, "user:dev@acme.com"));
    assert!(has(
        &r,
        "GCP-XA-001",
        "medium",
        false,
        "user:contractor@gmail.com"
    ));
}

#[test]
fn a_second_binding_that_completes_an_escalation_path_is_new() {
    let r = analyze("escalation.preview.json", None);
    assert_eq!(level(&r).0, "medium", "{:#?}", findings(&r));
    // actAs on one account with Cloud Run Admin on the project: high, one band lower (pinned).
    assert!(has(&r, "GCP-PE-003", "medium", true, "user:dev@acme.com"));
    // Token Creator on one account, under an expiry condition: two bands lower.
    assert!(has(&r, "GCP-PE-002", "low", true, "user:dev@acme.com"));
    // What the developer held before is not new.
    assert!(has(&r, "GCP-PM-001", "medium", false, "user:dev@acme.com"));
}

#[test]
fn unknown_members_and_malformed_policies_are_reported() {
    let r = analyze("unknown-malformed.preview.json", None);
    let f = findings(&r);
    assert!(f.iter().any(|x| x.0 == "GCP-UNK-001" && x.2), "{f:#?}");
    assert!(
        f.iter()
            .any(|x| x.0 == "GCP-MAL-001" && x.1 == "high" && x.2),
        "{f:#?}"
    );
    // Editor granted to an account unknown until apply is still judged.
    assert!(f.iter().any(|x| x.0 == "GCP-ADM-002" && x.2), "{f:#?}");
    // A secret accessor on one secret is expected access: no data exfiltration finding.
    assert!(!f.iter().any(|x| x.0 == "GCP-DE-001"), "{f:#?}");
    assert_eq!(level(&r).0, "critical");
}

#[test]
fn trusted_domains_decide_who_is_external() {
    let r = analyze("external.preview.json", None);
    assert!(!findings(&r).iter().any(|f| f.0 == "GCP-XA-001"));
    let config = "version: 1\nstacks:\n  - { name: prod, dir: infra, stack: acme/prod }\nrisk:\n  trusted_domains: [acme.com]\n";
    let r = analyze("external.preview.json", Some(config));
    assert!(
        has(&r, "GCP-XA-001", "high", true, "user:ops@partner.io"),
        "{:#?}",
        findings(&r)
    );
    assert!(
        !findings(&r)
            .iter()
            .any(|f| f.0 == "GCP-XA-001" && f.3 == "group:staff@acme.com")
    );
    assert_eq!(level(&r).0, "high");
}

#[test]
fn owner_under_an_expiry_condition_is_not_full_admin() {
    let r = analyze("conditional-owner.preview.json", None);
    assert_eq!(level(&r).0, "high", "{:#?}", findings(&r));
    assert!(level(&r).1 < 80);
    assert_eq!(
        findings(&r),
        [(
            "GCP-ADM-001".to_owned(),
            "high".to_owned(),
            true,
            "group:oncall@acme.com".to_owned()
        )]
    );
}

#[test]
fn impersonating_an_owner_account_is_a_critical_takeover() {
    let r = analyze("takeover.preview.json", None);
    assert!(
        has(&r, "GCP-PE-007", "critical", true, "user:dev@acme.com"),
        "{:#?}",
        findings(&r)
    );
    // The account's own Owner grant is not new.
    assert!(has(
        &r,
        "GCP-ADM-001",
        "critical",
        false,
        "serviceAccount:deployer@acme-prod.iam.gserviceaccount.com"
    ));
    assert_eq!(level(&r).0, "critical");
    assert!(level(&r).1 < 100, "only a direct Owner grant is full admin");
}

#[test]
fn version_names_the_predefined_role_table() {
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Google Cloud predefined roles: iam-dataset 2073fa5 ("),
        "{text}"
    );
}

/// The comment a reviewer reads for the escalation split over two bindings, as Markdown.
#[test]
fn the_comment_for_an_escalation_across_bindings() {
    let path = format!(
        "{}/tests/fixtures/gcp/escalation.preview.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args(["analyze", &path, "--format", "markdown"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // The version line changes with every release: the rest is what is reviewed.
    let text: String = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("<sub>iamgate "))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!("escalation.md", text);
}
