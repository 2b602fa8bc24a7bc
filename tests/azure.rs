//! Azure and Entra ID through the real binary: `iamgate analyze --format json` on fixture
//! previews of `tests/fixtures/azure/` (see SOURCES.md there).
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a test failure"
)]

use assert_cmd::Command;
use serde_json::Value;

fn analyze(fixture: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args([
            "analyze",
            &format!("tests/fixtures/azure/{fixture}"),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (rule id, reported severity, new, resource name) of every finding.
fn findings(report: &Value) -> Vec<(String, String, bool, String)> {
    let mut f: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
                f["new"].as_bool().unwrap(),
                f["resource"]
                    .as_str()
                    .unwrap()
                    .rsplit("::")
                    .next()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    f.sort();
    f
}

fn has(report: &Value, rule: &str, severity: &str, resource: &str) -> bool {
    findings(report)
        .iter()
        .any(|(r, s, new, name)| r == rule && s == severity && *new && name == resource)
}

#[test]
fn owner_of_a_subscription_is_full_admin_and_scores_100() {
    let report = analyze("owner-subscription.preview.json");
    assert_eq!(report["risk"]["level"], "critical");
    assert_eq!(report["risk"]["score"], 100);
    assert_eq!(
        findings(&report),
        [(
            "AZURE-ADM-001".to_owned(),
            "critical".to_owned(),
            true,
            "ci-owner".to_owned()
        )]
    );
}

#[test]
fn moving_a_grant_from_the_classic_to_the_native_provider_scores_zero() {
    let report = analyze("form-change.preview.json");
    assert_eq!(report["risk"]["score"], 0);
    assert_eq!(report["risk"]["level"], "none");
    let f = findings(&report);
    assert!(f.iter().all(|(_, _, new, _)| !new), "nothing is new: {f:?}");
    assert!(
        f.iter().any(|(r, _, _, _)| r == "AZURE-ADM-001"),
        "the grant is still seen: {f:?}"
    );
}

#[test]
fn entra_id_storage_and_conditions() {
    let report = analyze("entra-and-storage.preview.json");
    // Global Administrator is the tenant's full administrator.
    assert_eq!(report["risk"]["level"], "critical");
    for (rule, severity, resource) in [
        ("AZURE-DIR-001", "critical", "ops-global-admin"),
        ("AZURE-APP-001", "critical", "ci-role-management"),
        ("AZURE-APP-002", "high", "ci-applications"),
        // RBAC Administrator under a condition: conditioned, one band down.
        ("AZURE-PE-001", "high", "ci-rbac-admin"),
        // A custom role with `Microsoft.Authorization/*`, assigned at the subscription.
        ("AZURE-PE-001", "critical", "deployer-access"),
        ("AZURE-PE-002", "high", "deployer-access"),
        ("AZURE-RD-002", "low", "access-manager"),
        // Public container (pinned: one band down), public blobs, an account that allows it.
        ("AZURE-PUB-001", "high", "exports"),
        ("AZURE-PUB-001", "medium", "images"),
        ("AZURE-PUB-002", "low", "assets"),
        ("AZURE-CE-001", "low", "ci-secret"),
        ("AZURE-CE-001", "low", "ci-cert"),
        ("AZURE-CE-002", "low", "ci-github"),
        ("AZURE-UNK-001", "medium", "app-identity"),
        // A custom `*` role created alongside, assigned by its (unknown) id: read through the
        // dependency.
        ("AZURE-ADM-001", "critical", "break-glass-ops"),
        ("AZURE-RD-001", "low", "break-glass"),
        // Eligible through PIM: conditioned, one band down.
        ("AZURE-ADM-001", "high", "oncall-owner"),
        ("AZURE-CE-002", "low", "deployer-github"),
        ("AZURE-ADM-002", "high", "platform-admins-contributor"),
    ] {
        assert!(
            has(&report, rule, severity, resource),
            "{rule} {severity} on {resource} missing from {:#?}",
            findings(&report)
        );
    }
    // The group and the user added to it both manage every resource.
    let contributors: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == "AZURE-ADM-002")
        .filter_map(|f| f["subject"].as_str())
        .collect();
    assert_eq!(contributors.len(), 2, "group and member: {contributors:?}");
    assert!(contributors.contains(&"8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f"));
    // Every type of the fixture is modeled: none is reported as unanalyzed.
    assert!(
        !findings(&report)
            .iter()
            .any(|(r, _, _, _)| r.contains("UNANALYZED")),
        "{:#?}",
        findings(&report)
    );
}

/// The comment a reviewer reads for an Owner assignment at a subscription, as Markdown.
#[test]
fn the_comment_for_owner_at_a_subscription() {
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args([
            "analyze",
            "tests/fixtures/azure/owner-subscription.preview.json",
            "--format",
            "markdown",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // The version line changes with every release: the rest is what is reviewed.
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("<sub>iamgate "))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!("owner-subscription.md", text);
}
