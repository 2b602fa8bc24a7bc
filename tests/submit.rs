//! `iamgate submit`, the real binary, against a fake iamgate server (and a fake GitHub Actions
//! token endpoint) run in the test: what it sends, how it retries, what it prints and exits with.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a test failure"
)]

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use predicates::prelude::*;

const HEAD: &str = "1111111111111111111111111111111111111111";
const MERGE: &str = "2222222222222222222222222222222222222222";
const GITHUB_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.github-job-token.sig";
const REQUEST_TOKEN: &str = "actions-runtime-request-token";
const GITLAB_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.gitlab-job-token.sig";
const PREVIEW: &str = "examples/risky-preview.json";

/// A request as the fake server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn gunzipped(&self) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&self.body[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    }
}

#[derive(Debug, Default)]
struct Log {
    seen: Mutex<Vec<Seen>>,
    /// Replies to `POST /api/v1/previews`, in order; then 202 for PRs 12 and 14.
    replies: Mutex<VecDeque<(u16, &'static str)>>,
}

/// The fake server: `GET /token` is GitHub Actions' token endpoint, anything else the iamgate
/// server's submission endpoint. Every request is recorded.
struct Fake {
    base: String,
    log: Arc<Log>,
    _runtime: tokio::runtime::Runtime,
}

async fn handle(
    State(log): State<Arc<Log>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = reqwest::Url::parse(&format!("http://fake{uri}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let path = uri.path().to_owned();
    log.seen.lock().unwrap().push(Seen {
        method,
        path: path.clone(),
        query,
        headers,
        body,
    });
    if path == "/token" {
        return axum::Json(serde_json::json!({ "count": 1, "value": GITHUB_JWT })).into_response();
    }
    let (status, body) = log
        .replies
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((202, r#"{"accepted": true, "pull_requests": [12, 14]}"#));
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body,
    )
        .into_response()
}

impl Fake {
    fn start(replies: &[(u16, &'static str)]) -> Fake {
        let log = Arc::new(Log::default());
        log.replies.lock().unwrap().extend(replies.iter().copied());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::disable())
            .with_state(log.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
        Fake {
            base,
            log,
            _runtime: runtime,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.seen.lock().unwrap().clone()
    }

    fn submissions(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path != "/token")
            .collect()
    }
}

/// The binary with an empty environment but fast retries.
fn submit() -> Command {
    let mut cmd = Command::cargo_bin("iamgate").unwrap();
    cmd.env_clear()
        .env("IAMGATE_SUBMIT_RETRY_BASE_MS", "1")
        .arg("submit");
    cmd
}

/// A GitLab job: a given token and the merge request's source SHA.
fn gitlab_job() -> Command {
    let mut cmd = submit();
    cmd.env("GITLAB_CI", "true")
        .env("IAMGATE_ID_TOKEN", GITLAB_JWT)
        .env("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", HEAD)
        .env("CI_COMMIT_SHA", MERGE);
    cmd
}

fn assert_submission(seen: &Seen, stack: &str, commit: &str, token: &str, body: &[u8]) {
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/api/v1/previews");
    assert_eq!(seen.query("stack"), Some(stack), "{:?}", seen.query);
    assert_eq!(seen.query("commit"), Some(commit), "{:?}", seen.query);
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(seen.header("content-encoding"), Some("gzip"));
    assert_eq!(
        seen.header("content-length"),
        Some(seen.body.len().to_string().as_str()),
        "the compressed length is declared"
    );
    assert!(seen.gunzipped() == body, "the gunzipped body is the input");
}

#[test]
fn a_github_actions_job_requests_its_token_and_sends_the_pull_request_head() {
    let fake = Fake::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        format!(r#"{{"action":"opened","number":12,"pull_request":{{"number":12,"head":{{"sha":"{HEAD}"}}}}}}"#),
    )
    .unwrap();
    let out = submit()
        .args([
            PREVIEW,
            "--server",
            &format!("{}/", fake.base),
            "--stack",
            "prod",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/token?api-version=2.0", fake.base),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_SHA", MERGE)
        .assert()
        .success()
        .stdout(format!(
            "accepted: preview of stack prod at {HEAD}; pull requests: 12, 14\n"
        ));
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let token = &seen[0];
    assert_eq!(token.method, Method::GET);
    assert_eq!(token.path, "/token");
    assert_eq!(
        token.query,
        [
            ("api-version".to_owned(), "2.0".to_owned()),
            ("audience".to_owned(), "iamgate".to_owned())
        ]
    );
    assert_eq!(
        token.header("authorization"),
        Some(format!("bearer {REQUEST_TOKEN}").as_str())
    );
    let preview = std::fs::read(PREVIEW).unwrap();
    assert_submission(&seen[1], "prod", HEAD, GITHUB_JWT, &preview);
    assert_eq!(seen[1].header("content-type"), Some("application/json"));
    assert_eq!(seen[1].query("failed"), None);
    let output = out.get_output();
    for text in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(text);
        assert!(
            !text.contains(GITHUB_JWT) && !text.contains(REQUEST_TOKEN),
            "a token was printed: {text}"
        );
    }
}

#[test]
fn the_audience_flag_reaches_github_actions() {
    let fake = Fake::start(&[]);
    submit()
        .args([PREVIEW, "--server", &fake.base, "--stack", "prod"])
        .args([
            "--commit",
            HEAD,
            "--audience",
            "https://iamgate.example.com",
        ])
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/token", fake.base),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
        .assert()
        .success();
    let seen = fake.seen();
    assert_eq!(
        seen[0].query("audience"),
        Some("https://iamgate.example.com")
    );
    assert_eq!(seen[1].query("commit"), Some(HEAD));
}

#[test]
fn a_gitlab_job_sends_a_failed_preview_with_its_given_token() {
    let fake = Fake::start(&[(202, r#"{"accepted": true, "pull_requests": [7]}"#)]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("preview.log");
    let text = "error: Preview failed: 1 error occurred:\n\t* AccessDenied\n";
    std::fs::write(&log, text).unwrap();
    gitlab_job()
        .arg(&log)
        .args(["--server", &fake.base, "--stack", "group/prod", "--failed"])
        .assert()
        .success()
        .stdout(format!(
            "accepted: failed preview of stack group/prod at {HEAD}; pull request: 7\n"
        ))
        .stderr(predicate::str::contains(GITLAB_JWT).not());
    let seen = fake.seen();
    assert_eq!(seen.len(), 1, "no token request outside GitHub Actions");
    assert_submission(&seen[0], "group/prod", HEAD, GITLAB_JWT, text.as_bytes());
    assert_eq!(seen[0].query("failed"), Some("true"));
    assert!(
        seen[0]
            .header("content-type")
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        seen[0].headers
    );
}

#[test]
fn server_errors_are_retried_and_each_try_sends_the_whole_file() {
    let fake = Fake::start(&[
        (503, r#"{"error": "store unavailable"}"#),
        (503, "<html>Service Unavailable</html>"),
    ]);
    gitlab_job()
        .args([PREVIEW, "--server", &fake.base, "--stack", "prod"])
        .assert()
        .success()
        .stdout(predicate::str::contains("pull requests: 12, 14"))
        .stderr(
            predicate::str::contains("store unavailable")
                .and(predicate::str::contains("<html>Service Unavailable</html>")),
        );
    let preview = std::fs::read(PREVIEW).unwrap();
    let submissions = fake.submissions();
    assert_eq!(submissions.len(), 3);
    for seen in &submissions {
        assert_submission(seen, "prod", HEAD, GITLAB_JWT, &preview);
    }
}

#[test]
fn a_refusal_is_final_its_status_and_reason_shown() {
    let fake = Fake::start(&[(
        409,
        r#"{"error": "1111111 is not the head of an open pull request"}"#,
    )]);
    gitlab_job()
        .args([PREVIEW, "--server", &fake.base, "--stack", "prod"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains("409 Conflict").and(predicate::str::contains(
                "is not the head of an open pull request",
            )),
        );
    assert_eq!(fake.submissions().len(), 1, "a 4xx is not retried");
}

#[test]
fn a_non_json_refusal_shows_the_start_of_its_body() {
    let body: &'static str =
        Box::leak(format!("<html>{}</html>", "z".repeat(1000)).into_boxed_str());
    let fake = Fake::start(&[(413, body)]);
    let out = gitlab_job()
        .args([PREVIEW, "--server", &fake.base, "--stack", "prod"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("413 Payload Too Large: <html>zzz"));
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    // 200 characters of the body ("<html>" and 194 z), then the cut mark.
    assert!(
        stderr.contains(&format!("<html>{}…\n", "z".repeat(194))) && !stderr.contains("</html>"),
        "the body is cut at 200 characters: {stderr}"
    );
}

#[test]
fn five_server_errors_give_up_with_the_last_reason() {
    let fake = Fake::start(&[
        (500, r#"{"error": "one"}"#),
        (502, r#"{"error": "two"}"#),
        (503, r#"{"error": "three"}"#),
        (500, r#"{"error": "four"}"#),
        (500, r#"{"error": "five"}"#),
        (202, r#"{"accepted": true, "pull_requests": [1]}"#),
    ]);
    gitlab_job()
        .args([PREVIEW, "--server", &fake.base, "--stack", "prod"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "failed 5 times; the last time: 500 Internal Server Error: five",
        ));
    assert_eq!(fake.submissions().len(), 5);
}

#[test]
fn an_unreachable_server_is_retried_then_fails() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    gitlab_job()
        .args([PREVIEW, "--stack", "prod", "--server"])
        .arg(format!("http://127.0.0.1:{port}"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "sending the preview failed 5 times",
        ));
}

#[test]
fn an_unreadable_preview_exits_3_naming_the_file_and_sends_nothing() {
    let fake = Fake::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    gitlab_job()
        .arg(&missing)
        .args(["--server", &fake.base, "--stack", "prod"])
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains(missing.display().to_string())
                .and(predicate::str::contains("No such file")),
        );
    // A directory opens but cannot be read.
    gitlab_job()
        .arg(dir.path())
        .args(["--server", &fake.base, "--stack", "prod"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(dir.path().display().to_string()));
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "").unwrap();
    gitlab_job()
        .arg(&empty)
        .args(["--server", &fake.base, "--stack", "prod"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("is empty").and(predicate::str::contains("--failed")));
    assert!(fake.seen().is_empty());
}

#[test]
fn stdin_is_read_once_and_resent_on_a_retry() {
    let fake = Fake::start(&[(503, r#"{"error": "busy"}"#)]);
    let preview = std::fs::read(PREVIEW).unwrap();
    gitlab_job()
        .args(["-", "--server", &fake.base, "--stack", "prod"])
        .write_stdin(preview.clone())
        .assert()
        .success();
    let submissions = fake.submissions();
    assert_eq!(submissions.len(), 2);
    for seen in &submissions {
        assert_submission(seen, "prod", HEAD, GITLAB_JWT, &preview);
    }
}

/// About `size` bytes of preview-like JSON lines that do not compress to nothing.
fn big_preview(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 128);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut i = 0u64;
    while out.len() < size {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let line = format!(
            "{{\"sequence\":{i},\"resourcePreEvent\":{{\"urn\":\"urn:pulumi:prod::app::aws:iam/role:Role::r{i}\",\"id\":\"{state:016x}{:016x}\"}}}}\n",
            state.rotate_left(17)
        );
        out.extend_from_slice(line.as_bytes());
        i += 1;
    }
    out
}

#[test]
fn a_20_mb_preview_streams_and_arrives_intact() {
    let fake = Fake::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    let preview = big_preview(20 * 1024 * 1024);
    std::fs::write(&path, &preview).unwrap();
    gitlab_job()
        .arg(&path)
        .args(["--server", &fake.base, "--stack", "prod"])
        .assert()
        .success();
    let submissions = fake.submissions();
    assert_eq!(submissions.len(), 1);
    assert!(
        submissions[0].body.len() > 1024 * 1024,
        "a body of several MB on the wire: {}",
        submissions[0].body.len()
    );
    assert_submission(&submissions[0], "prod", HEAD, GITLAB_JWT, &preview);
}

#[test]
fn without_a_token_or_a_commit_it_says_what_to_set() {
    let fake = Fake::start(&[]);
    submit()
        .args([
            PREVIEW, "--server", &fake.base, "--stack", "prod", "--commit", HEAD,
        ])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("permissions: id-token: write").and(predicate::str::contains(
                "id_tokens: IAMGATE_ID_TOKEN: aud: iamgate",
            )),
        );
    submit()
        .args([PREVIEW, "--server", &fake.base, "--stack", "prod"])
        .env("IAMGATE_ID_TOKEN", GITLAB_JWT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--commit SHA"));
    assert!(fake.seen().is_empty());
}

#[test]
fn a_bad_server_or_commit_is_a_usage_error() {
    for args in [
        ["--server", "iamgate.example.com", "--commit", HEAD],
        ["--server", "ftp://iamgate.example.com", "--commit", HEAD],
        [
            "--server",
            "https://iamgate.example.com",
            "--commit",
            "abc1234",
        ],
    ] {
        gitlab_job()
            .args([PREVIEW, "--stack", "prod"])
            .args(args)
            .assert()
            .code(2);
    }
}
