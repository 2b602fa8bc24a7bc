//! Previews from CI over the real router: `POST /api/v1/previews` with an ID token from the
//! fake OIDC issuer, checked against the fake forge at submission time, stored, and analyzed
//! as a preview run here; and each refusal of the contract.

use std::io::Write;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::support::app::{CONFIG, Forge, Options, REPO, TestApp, fixture};
use crate::support::fake_oidc::{FakeIssuer, now};

use crate::approvals::{ADMIN_ATTACH, NEEDS_SECURITY};

crate::both_forges!(
    iamgate_submit_in_an_emulated_ci_job_gates_the_pull_request,
    a_ci_preview_is_accepted_once_and_gates_the_pull_request,
    a_submission_before_the_pull_request_s_webhook_is_used,
    submissions_are_refused_for_each_reason_of_the_contract,
);

fn ci_config() -> String {
    CONFIG.replace(
        "    stack: acme/prod\n",
        "    stack: acme/prod\n    preview: ci\n",
    )
}

/// The server, with the fake issuer trusted as the forge's CI issuer.
async fn start<F: Forge>(issuer: &FakeIssuer) -> TestApp<F> {
    let key = if F::FORGE == "github" {
        "github_issuer"
    } else {
        "gitlab_issuer"
    };
    let extra: &'static str =
        Box::leak(format!("[ci]\n{key} = \"{}\"\n", issuer.url).into_boxed_str());
    TestApp::<F>::start_with(Options {
        extra,
        ..Options::default()
    })
    .await
}

/// The claims of the forge's CI job on pull request 7, whose `sha` is `sha`.
fn claims<F: Forge>(issuer: &FakeIssuer, sha: &str) -> Value {
    if F::FORGE == "github" {
        return issuer.github_claims(REPO, 7, sha);
    }
    let now = now();
    json!({
        "iss": issuer.url, "aud": "iamgate",
        "jti": format!("gl-{sha}-{}", now),
        "iat": now, "exp": now + 300,
        "project_path": REPO,
        "ref_path": "refs/merge-requests/7/head",
        "sha": sha, "pipeline_id": "991", "job_id": "12345",
        "ci_config_ref_uri": format!("gitlab.example.com/{REPO}//.gitlab-ci.yml@refs/heads/main"),
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn submission(token: Option<&str>, query: &str, body: Vec<u8>) -> Request<Body> {
    let mut request = Request::post(format!("/api/v1/previews?{query}"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::from(gzip(&body))).unwrap()
}

fn preview() -> Vec<u8> {
    std::fs::read(fixture(ADMIN_ATTACH)).unwrap()
}

async fn a_ci_preview_is_accepted_once_and_gates_the_pull_request<F: Forge>() {
    let issuer = FakeIssuer::start().await;
    let s = start::<F>(&issuer).await;
    let head = s.enroll_with(7, "h1", &ci_config());
    s.open(7).await;
    s.settle().await;
    assert_eq!(s.status(&head).1, "waiting for the preview of prod from CI");

    let token = issuer.sign(&claims::<F>(&issuer, &head));
    let (status, reply) = s
        .request(submission(
            Some(&token),
            &format!("stack=prod&commit={head}"),
            preview(),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(reply, json!({ "accepted": true, "pull_requests": [7] }));
    s.settle().await;
    assert_eq!(
        s.status(&head),
        ("pending".to_owned(), NEEDS_SECURITY.to_owned())
    );
    assert!(s.the_comment(7).contains("was submitted by CI"));
    assert!(s.pulumi().invocations().is_empty(), "nothing run here");
    // The audit trail names the run that submitted what was analyzed.
    let audit = s.audit().await;
    let analyses: Vec<&Vec<String>> = audit
        .iter()
        .filter_map(|e| match &e.event {
            iamgate::audit::AuditEvent::Analysis { submitted_by, .. } => Some(submitted_by),
            _ => None,
        })
        .collect();
    let expected_run = if F::FORGE == "github" {
        "prod: GitHub Actions run 4242 (attempt 1) of acme/infra/.github/workflows/iamgate.yml@refs/heads/main"
    } else {
        "prod: GitLab CI job 12345 of pipeline 991 (gitlab.example.com/acme/infra//.gitlab-ci.yml@refs/heads/main)"
    };
    // The first analysis waited for CI; the second analyzed the submission.
    assert_eq!(analyses.len(), 2, "{audit:#?}");
    assert!(analyses[0].is_empty());
    assert_eq!(analyses[1], &vec![expected_run.to_owned()]);
    s.assert_chain_verifies().await;

    // The same token again: accepted once only.
    let (status, reply) = s
        .request(submission(
            Some(&token),
            &format!("stack=prod&commit={head}"),
            preview(),
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("already used"),
        "{reply}"
    );
}

async fn a_submission_before_the_pull_request_s_webhook_is_used<F: Forge>() {
    let issuer = FakeIssuer::start().await;
    let s = start::<F>(&issuer).await;
    // The pull request exists on the forge, but iamgate has not had its webhook yet.
    let head = s.enroll_with(7, "h1", &ci_config());
    let token = issuer.sign(&claims::<F>(&issuer, &head));
    let (status, reply) = s
        .request(submission(
            Some(&token),
            &format!("stack=prod&commit={head}"),
            preview(),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    s.settle().await;
    assert_eq!(
        s.status(&head),
        ("pending".to_owned(), NEEDS_SECURITY.to_owned())
    );
    // The webhook arriving later finds the preview.
    s.open(7).await;
    s.settle().await;
    assert_eq!(s.status(&head).1, NEEDS_SECURITY);
}

async fn submissions_are_refused_for_each_reason_of_the_contract<F: Forge>() {
    let issuer = FakeIssuer::start().await;
    let s = start::<F>(&issuer).await;
    let head = s.enroll_with(7, "h1", &ci_config());
    let query = format!("stack=prod&commit={head}");
    let refused = |request: Request<Body>| {
        let s = &s;
        async move { s.request(request).await }
    };

    let (status, reply) = refused(submission(None, &query, preview())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{reply}");
    let wrong_aud = issuer.sign(&{
        let mut c = claims::<F>(&issuer, &head);
        c["aud"] = json!("sts.amazonaws.com");
        c
    });
    assert_eq!(
        refused(submission(Some(&wrong_aud), &query, preview()))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let other = FakeIssuer::start().await;
    let foreign = other.sign(&{
        let mut c = claims::<F>(&other, &head);
        c["iss"] = json!(other.url);
        c
    });
    assert_eq!(
        refused(submission(Some(&foreign), &query, preview()))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // Expired more than the minute of skew ago.
    let expired = issuer.sign(&{
        let mut c = claims::<F>(&issuer, &head);
        c["exp"] = json!(now() - 120);
        c
    });
    let (status, reply) = refused(submission(Some(&expired), &query, preview())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("refused"),
        "{reply}"
    );

    // Bad parameters.
    let token = || issuer.sign(&claims::<F>(&issuer, &head));
    let (status, reply) = refused(submission(
        Some(&token()),
        "stack=prod&commit=abc",
        preview(),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    // A commit that heads no open pull request: nothing changes.
    let elsewhere = "9".repeat(40);
    let mut c = claims::<F>(&issuer, &elsewhere);
    c["sha"] = json!(elsewhere);
    let (status, reply) = refused(submission(
        Some(&issuer.sign(&c)),
        &format!("stack=prod&commit={elsewhere}"),
        preview(),
    ))
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    // A stack that is not `preview: ci`, or not there at all.
    let (status, reply) = refused(submission(
        Some(&token()),
        &format!("stack=staging&commit={head}"),
        preview(),
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    // A token whose job ran for another commit and another pull request.
    let mut c = claims::<F>(&issuer, &"8".repeat(40));
    c["ref"] = json!("refs/pull/99/merge");
    c["ref_path"] = json!("refs/merge-requests/99/head");
    let (status, reply) = refused(submission(Some(&issuer.sign(&c)), &query, preview())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    // A workflow `ci.workflows` does not allow.
    s.base_file(
        ".iamgate.yml",
        &format!(
            "{}ci:\n  workflows: [\"acme/infra/.github/workflows/other.yml@refs/heads/main\"]\n",
            ci_config()
        ),
    );
    let (status, reply) = refused(submission(Some(&token()), &query, preview())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("ci.workflows"),
        "{reply}"
    );
    // Over the body limit.
    let huge = vec![b' '; 2 * 1024 * 1024];
    let request = Request::post(format!("/api/v1/previews?{query}"))
        .header("authorization", format!("Bearer {}", token()))
        .body(Body::from(huge))
        .unwrap();
    assert_eq!(refused(request).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    s.settle().await;
    assert!(
        s.fake
            .statuses(&head)
            .iter()
            .all(|(_, d)| d != NEEDS_SECURITY),
        "nothing was accepted"
    );
}

/// `iamgate submit` run as a process in an emulated CI job (GitHub Actions: the runtime's token
/// endpoint and the event file; GitLab CI: `IAMGATE_ID_TOKEN` and the merge request's variables)
/// against the real server over HTTP: the pull request is gated on the submitted preview.
async fn iamgate_submit_in_an_emulated_ci_job_gates_the_pull_request<F: Forge>() {
    let issuer = FakeIssuer::start().await;
    let s = start::<F>(&issuer).await;
    let head = s.enroll_with(7, "h1", &ci_config());
    s.open(7).await;
    s.settle().await;
    let server = s.serve_http().await;
    let dir = tempfile::tempdir().unwrap();
    let preview_path = dir.path().join("preview.json");
    std::fs::write(&preview_path, preview()).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_iamgate"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("IAMGATE_SUBMIT_RETRY_BASE_MS", "1")
        .args([
            "submit",
            preview_path.to_str().unwrap(),
            "--server",
            &server,
            "--stack",
            "prod",
        ]);
    if F::FORGE == "github" {
        let mut claims = claims::<F>(&issuer, &head);
        claims.as_object_mut().unwrap().remove("aud");
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            json!({ "action": "synchronize", "pull_request": { "number": 7, "head": { "sha": head } } })
                .to_string(),
        )
        .unwrap();
        command
            .env("GITHUB_ACTIONS", "true")
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                issuer.actions_token_url(claims),
            )
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                crate::support::fake_oidc::ACTIONS_REQUEST_TOKEN,
            )
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_SHA", "0".repeat(40));
    } else {
        command
            .env("GITLAB_CI", "true")
            .env(
                "IAMGATE_ID_TOKEN",
                issuer.sign(&claims::<F>(&issuer, &head)),
            )
            .env("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", &head)
            .env("CI_COMMIT_SHA", "0".repeat(40));
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stdout.contains('7'),
        "names the pull request it updated: {stdout}"
    );
    if F::FORGE == "github" {
        assert_eq!(issuer.asked_audiences(), ["iamgate"]);
    }
    s.settle().await;
    assert_eq!(
        s.status(&head),
        ("pending".to_owned(), NEEDS_SECURITY.to_owned())
    );
    assert!(s.the_comment(7).contains("was submitted by CI"));
}
