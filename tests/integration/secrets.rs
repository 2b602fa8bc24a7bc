//! A program that prints a preview credential (a `[pulumi.env]` value) where pulumi reports
//! diagnostics — stdout, not stderr — as is, base64-encoded or URL-encoded: none of it reaches
//! the comment, whether the preview failed or succeeded; nor one in a resource's inputs, which
//! reaches neither the comment nor anything iamgate keeps (store, preview cache).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::support::app::{Forge, PULUMI_TOKEN, STACK, TestApp, fixture};

const ADMIN_ATTACH: &str = "corpus/admin-attach.preview.json";

crate::both_forges!(
    a_credential_in_a_failed_previews_diagnostics_is_masked,
    a_credential_in_a_successful_previews_diagnostics_is_masked,
    a_credential_in_resource_inputs_is_masked_in_the_comment_the_store_and_the_cache,
);

/// The token in every form a program might print it.
fn leaks() -> String {
    format!(
        "auth failed for {PULUMI_TOKEN}; basic {}; url ?token={}",
        STANDARD.encode(format!("user:{PULUMI_TOKEN}")),
        PULUMI_TOKEN
    )
}

fn assert_masked(body: &str) {
    let encoded = STANDARD.encode(format!("user:{PULUMI_TOKEN}"));
    for leak in [PULUMI_TOKEN, &encoded[8..28], "0c5e1d2a9b8f7e6d5c4b"] {
        assert!(!body.contains(leak), "{leak:?} leaked:\n{body}");
    }
    assert!(
        body.contains(r"auth failed for \*\*\*; basic dXNlcjp\*\*\*"),
        "{body}"
    );
}

async fn a_credential_in_a_failed_previews_diagnostics_is_masked<F: Forge>() {
    let s = TestApp::<F>::start().await;
    s.enroll(7, "h1");
    let stdout = serde_json::json!({
        "steps": [],
        "diagnostics": [{ "urn": "", "message": leaks(), "severity": "error" }]
    });
    s.pulumi().fail(STACK, 255, "", &stdout.to_string());
    s.open(7).await;
    s.settle().await;

    let body = s.the_comment(7);
    assert!(
        body.contains("pulumi preview failed (exit code 255)"),
        "{body}"
    );
    assert_masked(&body);
}

async fn a_credential_in_a_successful_previews_diagnostics_is_masked<F: Forge>() {
    let s = TestApp::<F>::start().await;
    s.enroll(7, "h1");
    let mut preview: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture(ADMIN_ATTACH)).unwrap()).unwrap();
    preview["diagnostics"] =
        serde_json::json!([{ "urn": "", "message": leaks(), "severity": "error" }]);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), preview.to_string()).unwrap();
    s.pulumi().replay(STACK, file.path());
    s.open(7).await;
    s.settle().await;

    let body = s.the_comment(7);
    assert!(body.contains("AWS-MP-001"), "analyzed: {body}");
    assert_masked(&body);
}

async fn a_credential_in_resource_inputs_is_masked_in_the_comment_the_store_and_the_cache<
    F: Forge,
>() {
    let s = TestApp::<F>::start().await;
    s.enroll(7, "h1");
    // The program names the user after the credential (as a careless `${token}` would).
    let text = std::fs::read_to_string(fixture(ADMIN_ATTACH))
        .unwrap()
        .replace(
            "\"user\": \"ops\"",
            &format!("\"user\": \"ops-{PULUMI_TOKEN}\""),
        );
    assert!(text.contains(PULUMI_TOKEN), "the fixture changed");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    s.pulumi().replay(STACK, file.path());
    s.open(7).await;
    s.settle().await;

    let body = s.the_comment(7);
    assert!(body.contains("AWS-MP-001"), "analyzed: {body}");
    assert!(
        body.contains("ops-\\*\\*\\*") || body.contains("ops-***"),
        "{body}"
    );
    assert!(
        !body.contains(PULUMI_TOKEN),
        "leaked into the comment:\n{body}"
    );
    assert_eq!(
        s.kept_files_containing(PULUMI_TOKEN),
        Vec::<std::path::PathBuf>::new(),
        "leaked into what iamgate keeps"
    );
    assert!(
        !s.kept_files_containing("AdministratorAccess").is_empty(),
        "the search would find what is kept"
    );
}
