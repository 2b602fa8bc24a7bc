use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::*;
use crate::event::{CommentAction, Event, ForgeKind, Login, PrAction, PrNumber};
use crate::store::JobKind;
use crate::webhook::testing::FakeStore;
use crate::webhook::verify::{github_signature_for, gitlab_signature_for};

const SECRET: &str = "server-test-secret-0123456789";
const GITLAB_SECRET: &str = "gitlab-test-token-0123456789";
/// A 32-byte key, as GitLab generates them.
const SIGNING_TOKEN: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn state(store: FakeStore) -> AppState {
    AppState {
        store: Arc::new(store),
        github_secret: Some(Secret::new(SECRET)),
        gitlab_secret: None,
        gitlab_signing_token: None,
        notify: Arc::new(Notify::new()),
        metrics: metrics::handle(),
        max_body_bytes: 1 << 20,
        preview_problem: None,
        membership: Arc::default(),
        ci: None,
        edge: Edge::new(EdgeLimits::with_body_bytes(4 << 20)),
    }
}

async fn get(state: &AppState, path: &str) -> (StatusCode, String) {
    let response = router(state.clone())
        .oneshot(Request::get(path).body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn healthz_answers_even_when_the_store_is_down() {
    let (status, body) = get(&state(FakeStore::failing()), "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.trim(), "ok");
}

#[tokio::test]
async fn readyz_follows_the_store() {
    assert_eq!(
        get(&state(FakeStore::default()), "/readyz").await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&state(FakeStore::failing()), "/readyz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn readyz_fails_and_says_why_when_previews_cannot_be_sandboxed() {
    let state = AppState {
        preview_problem: Some("bubblewrap (`bwrap`) is not installed".into()),
        ..state(FakeStore::default())
    };
    let (status, body) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        "previews cannot run: bubblewrap (`bwrap`) is not installed\n"
    );
}

#[tokio::test]
async fn metrics_show_deliveries_and_the_queue() {
    let state = state(FakeStore::default());
    let body = br#"{"zen":"Keep it logically awesome."}"#;
    let delivery = Request::post("/webhooks/github")
        .header("x-github-event", "ping")
        .header("x-github-delivery", "metrics-1")
        .header(
            "x-hub-signature-256",
            github_signature_for(&Secret::new(SECRET), body),
        )
        .body(Body::from(body.to_vec()))
        .expect("request");
    let response = router(state.clone())
        .oneshot(delivery)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let (status, text) = get(&state, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.lines()
            .any(|l| l.starts_with("iamgate_deliveries_total{")
                && l.contains("event=\"ping\"")
                && l.contains("outcome=\"stored\"")),
        "{text}"
    );
    assert!(
        text.contains("iamgate_queue_jobs{state=\"pending\"}"),
        "{text}"
    );
    for gauge in [
        "iamgate_http_connections ",
        "iamgate_webhook_body_bytes_in_flight ",
        "iamgate_webhook_body_bytes_in_flight_max ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(gauge)),
            "{gauge}: {text}"
        );
    }
    assert!(!text.contains(SECRET));
}

#[tokio::test]
async fn unknown_paths_and_unconfigured_gitlab_are_not_served() {
    let state = state(FakeStore::default());
    assert_eq!(get(&state, "/nope").await.0, StatusCode::NOT_FOUND);
    let response = router(state.clone())
        .oneshot(
            Request::post("/webhooks/gitlab")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // GET on the webhook is not a delivery.
    let response = router(state)
        .oneshot(
            Request::get("/webhooks/github")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// `serve` on a port of its own: its address, what stops it, and its task.
async fn serving() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state(FakeStore::default()), async {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

#[tokio::test]
async fn serve_answers_over_tcp_and_stops_on_shutdown() {
    let (addr, stop, server) = serving().await;

    let client = reqwest::Client::new();
    let response = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), reqwest::StatusCode::OK);

    stop.send(()).expect("server still running");
    let ended = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "serve returns after shutdown: {ended:?}"
    );
    assert!(
        client
            .get(format!("http://{addr}/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_err(),
        "nothing listens any more"
    );
}

#[tokio::test]
async fn on_shutdown_idle_connections_close_and_a_request_in_flight_is_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (addr, stop, server) = serving().await;

    // A keep-alive connection, idle after its first answer (the header timeout is 10 s).
    let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = idle.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);

    // A delivery whose body is half sent.
    let body = br#"{"zen":"Design for failure."}"#;
    let signature = github_signature_for(&Secret::new(SECRET), body);
    let mut in_flight = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /webhooks/github HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\
         x-github-event: ping\r\nx-github-delivery: drain-1\r\nx-hub-signature-256: {signature}\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.expect("write");
    in_flight.write_all(&body[..10]).await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;

    stop.send(()).expect("server still running");
    let closed = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "the idle connection is closed at once: {closed:?}"
    );
    assert!(!server.is_finished(), "waits for the request in flight");
    in_flight.write_all(&body[10..]).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), in_flight.read_to_end(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    let ended = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "serve returns: {ended:?}");
}

// --- POST /webhooks/gitlab ---

macro_rules! gitlab_fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/webhooks/gitlab/",
            $name
        ))
        .as_slice()
    };
}

/// The state with GitLab configured (and GitHub too), the store kept for inspection.
fn gitlab_state(max_body_bytes: usize) -> (AppState, Arc<FakeStore>) {
    let store = Arc::new(FakeStore::default());
    let state = AppState {
        store: Arc::clone(&store) as Arc<dyn Store>,
        github_secret: Some(Secret::new(SECRET)),
        gitlab_secret: Some(Secret::new(GITLAB_SECRET)),
        gitlab_signing_token: None,
        notify: Arc::new(Notify::new()),
        metrics: metrics::handle(),
        max_body_bytes,
        preview_problem: None,
        membership: Arc::default(),
        ci: None,
        edge: Edge::new(EdgeLimits::with_body_bytes(4 * max_body_bytes)),
    };
    (state, store)
}

/// A delivery as GitLab 17.4+ sends it, with the right token unless one is given.
fn gitlab_delivery(event: &str, key: &str, body: &[u8], token: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/webhooks/gitlab")
        .header("content-type", "application/json")
        .header("x-gitlab-event", event)
        .header("x-gitlab-event-uuid", format!("event-{key}"))
        .header(
            "x-gitlab-webhook-uuid",
            "4e7c4a4b-7a8c-4e0e-9b6b-1d1f1b0c0a0a",
        )
        .header("x-gitlab-instance", "https://gitlab.example.com")
        .header("idempotency-key", key);
    if let Some(token) = token.or(Some(GITLAB_SECRET)).filter(|t| !t.is_empty()) {
        request = request.header("x-gitlab-token", token);
    }
    request.body(Body::from(body.to_vec())).expect("request")
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

#[tokio::test]
async fn a_gitlab_merge_request_with_the_right_token_is_stored_with_a_job() {
    let (state, store) = gitlab_state(1 << 20);
    let body = gitlab_fixture!("merge_request.update.1.json");
    let (status, json) = send(
        &state,
        gitlab_delivery("Merge Request Hook", "key-1", body, None),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(json, serde_json::json!({"status": "queued"}));
    let deliveries = store.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].id.as_str(), "key-1", "the Idempotency-Key");
    assert_eq!(deliveries[0].forge, "gitlab");
    assert_eq!(deliveries[0].event_name, "Merge Request Hook");
    let Event::PullRequest {
        pr,
        action,
        head,
        pushed_by,
    } = &deliveries[0].event
    else {
        panic!("a PR event: {:?}", deliveries[0].event);
    };
    assert_eq!(*action, PrAction::Synchronize);
    assert_eq!(pushed_by.as_ref().map(Login::as_str), Some("quan.hoang"));
    assert_eq!(pr.forge, ForgeKind::GitLab);
    assert_eq!(pr.installation, None);
    assert_eq!(pr.repo.as_str(), "quan.hoang/atlantis-example");
    assert_eq!(pr.number, PrNumber(3));
    assert_eq!(head.as_str(), "5ff66a1f7404deee915b50998c340e96d995f048");
    assert_eq!(store.jobs(), vec![JobKind::AnalyzePr { pr: pr.clone() }]);
    tokio::time::timeout(Duration::from_secs(1), state.notify.notified())
        .await
        .expect("the worker was poked");
}

#[tokio::test]
async fn a_gitlab_note_with_a_command_becomes_a_command_job() {
    let (state, store) = gitlab_state(1 << 20);
    let mut body: serde_json::Value =
        serde_json::from_slice(gitlab_fixture!("note.noaction.1.json")).expect("json");
    body["object_attributes"]["note"] = "Looks fine.\n/iamgate approve reviewed".into();
    let body = serde_json::to_vec(&body).expect("json");
    let (status, _) = send(&state, gitlab_delivery("Note Hook", "key-2", &body, None)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let jobs = store.jobs();
    assert!(
        matches!(&jobs[..], [JobKind::Command { pr, comment, author, .. }]
            if pr.forge == ForgeKind::GitLab
                && pr.number == PrNumber(2)
                && comment.0 == 96056916
                && author.as_str() == "lkysow"),
        "{jobs:?}"
    );
}

#[tokio::test]
async fn a_bad_or_missing_gitlab_token_is_401_and_nothing_is_stored() {
    let (state, store) = gitlab_state(1 << 20);
    let body = gitlab_fixture!("merge_request.open.1.json");
    for token in [
        "gitlab-test-token-012345678",   // one character short
        "gitlab-test-token-01234567890", // one character more
        "GITLAB-TEST-TOKEN-0123456789",
        SECRET, // GitHub's secret is not GitLab's
        "",     // no header at all
    ] {
        let (status, json) = send(
            &state,
            gitlab_delivery("Merge Request Hook", "key-3", body, Some(token)),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(json["status"], "error");
        assert!(!json.to_string().contains(GITLAB_SECRET));
    }
    // A GitHub signature does not open the GitLab route.
    let mut signed = gitlab_delivery("Merge Request Hook", "key-3", body, Some(""));
    signed.headers_mut().insert(
        "x-hub-signature-256",
        github_signature_for(&Secret::new(SECRET), body)
            .parse()
            .expect("value"),
    );
    assert_eq!(send(&state, signed).await.0, StatusCode::UNAUTHORIZED);
    assert!(store.deliveries().is_empty());
    assert!(store.jobs().is_empty());
}

#[tokio::test]
async fn a_gitlab_body_over_the_limit_is_413_and_not_stored() {
    let (state, store) = gitlab_state(1024);
    let body = gitlab_fixture!("merge_request.open.2.json");
    assert!(body.len() > 1024);
    let (status, _) = send(
        &state,
        gitlab_delivery("Merge Request Hook", "key-4", body, None),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Over the limit, even the token is not looked at.
    let (status, _) = send(
        &state,
        gitlab_delivery(
            "Merge Request Hook",
            "key-4",
            body,
            Some("wrong-token-0123456789"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(store.deliveries().is_empty());
}

#[tokio::test]
async fn a_gitlab_redelivery_with_the_same_idempotency_key_acts_once() {
    let (state, store) = gitlab_state(1 << 20);
    let body = gitlab_fixture!("merge_request.open.1.json");
    let first = gitlab_delivery("Merge Request Hook", "key-5", body, None);
    // A retry keeps the Idempotency-Key; the event UUID may differ.
    let mut retry = gitlab_delivery("Merge Request Hook", "key-5", body, None);
    retry.headers_mut().insert(
        "x-gitlab-event-uuid",
        "another-event-uuid".parse().expect("value"),
    );
    assert_eq!(send(&state, first).await.0, StatusCode::ACCEPTED);
    let (status, json) = send(&state, retry).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, serde_json::json!({"status": "duplicate"}));
    assert_eq!(store.deliveries().len(), 1);
    assert_eq!(store.jobs().len(), 1);
}

#[tokio::test]
async fn older_gitlab_deliveries_are_keyed_by_event_uuid_then_by_body() {
    let (state, store) = gitlab_state(1 << 20);
    let body = gitlab_fixture!("merge_request.noaction.1.json");
    // GitLab 14.8 to 17.3: no Idempotency-Key.
    let mut by_uuid = gitlab_delivery("Merge Request Hook", "key-6", body, None);
    by_uuid.headers_mut().remove("idempotency-key");
    assert_eq!(send(&state, by_uuid).await.0, StatusCode::ACCEPTED);
    // Older still: no id header at all; a resend of the same body is the same delivery.
    let note = gitlab_fixture!("note.noaction.2.json");
    for expected in [StatusCode::ACCEPTED, StatusCode::OK] {
        let mut bare = gitlab_delivery("Note Hook", "unused", note, None);
        for name in ["idempotency-key", "x-gitlab-event-uuid"] {
            bare.headers_mut().remove(name);
        }
        assert_eq!(send(&state, bare).await.0, expected);
    }
    let ids: Vec<String> = store.deliveries().into_iter().map(|d| d.id.0).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], "event-key-6");
    assert!(
        ids[1].starts_with("sha256-") && ids[1].len() == "sha256-".len() + 64,
        "{ids:?}"
    );
    // A malformed id or a missing event name is refused (after the token check).
    let odd = gitlab_delivery("Merge Request Hook", "key 7 forged=log", body, None);
    assert_eq!(send(&state, odd).await.0, StatusCode::BAD_REQUEST);
    let mut nameless = gitlab_delivery("Merge Request Hook", "key-7", body, None);
    nameless.headers_mut().remove("x-gitlab-event");
    assert_eq!(send(&state, nameless).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(store.deliveries().len(), 2);
}

#[tokio::test]
async fn gitlab_system_notes_and_unknown_hooks_are_acknowledged_and_ignored() {
    let (state, store) = gitlab_state(1 << 20);
    let mut system: serde_json::Value =
        serde_json::from_slice(gitlab_fixture!("note.create.1.json")).expect("json");
    system["object_attributes"]["system"] = true.into();
    system["object_attributes"]["note"] = "added 1 commit\n\n/iamgate approve".into();
    let system = serde_json::to_vec(&system).expect("json");
    let (status, json) = send(&state, gitlab_delivery("Note Hook", "key-8", &system, None)).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(json["status"], "ignored", "the body says nothing will run");
    let job = br#"{"object_kind":"build","ref":"main"}"#;
    let (status, _) = send(&state, gitlab_delivery("Job Hook", "key-9", job, None)).await;
    assert!(status.is_success(), "{status}");
    let events: Vec<Event> = store.deliveries().into_iter().map(|d| d.event).collect();
    assert_eq!(
        events,
        vec![
            Event::Ignored {
                event: "Note Hook".into(),
                action: Some("create".into()),
            },
            Event::Ignored {
                event: "Job Hook".into(),
                action: None,
            },
        ]
    );
    assert!(store.jobs().is_empty());
    let text = state.metrics.render();
    assert!(
        text.lines()
            .any(|l| l.starts_with("iamgate_deliveries_total{")
                && l.contains("forge=\"gitlab\"")
                && l.contains("event=\"Note Hook\"")
                && l.contains("outcome=\"ignored\"")),
        "{text}"
    );
    assert!(!text.contains(GITLAB_SECRET));
}

#[tokio::test]
async fn an_edited_gitlab_note_is_stored_but_runs_no_command() {
    let (state, store) = gitlab_state(1 << 20);
    let mut body: serde_json::Value =
        serde_json::from_slice(gitlab_fixture!("note.create.1.json")).expect("json");
    body["object_attributes"]["action"] = "update".into();
    body["object_attributes"]["note"] = "/iamgate approve".into();
    let body = serde_json::to_vec(&body).expect("json");
    let (status, _) = send(&state, gitlab_delivery("Note Hook", "key-10", &body, None)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(matches!(
        &store.deliveries()[0].event,
        Event::Comment {
            action: CommentAction::Edited,
            ..
        }
    ));
    assert!(store.jobs().is_empty());
}

#[tokio::test]
async fn with_a_signing_token_gitlab_deliveries_must_be_signed_and_fresh() {
    let (mut state, store) = gitlab_state(1 << 20);
    state.gitlab_signing_token = Some(Secret::new(SIGNING_TOKEN));
    let body = gitlab_fixture!("merge_request.open.2.json");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let signed = |id: &str, timestamp: i64, signature: Option<String>| {
        let signature = signature.unwrap_or_else(|| {
            gitlab_signature_for(&Secret::new(SIGNING_TOKEN), id, timestamp, body)
        });
        let mut request = gitlab_delivery("Merge Request Hook", id, body, None);
        let headers = request.headers_mut();
        headers.insert("webhook-id", id.parse().expect("value"));
        headers.insert(
            "webhook-timestamp",
            timestamp.to_string().parse().expect("value"),
        );
        headers.insert("webhook-signature", signature.parse().expect("value"));
        request
    };
    let (status, _) = send(&state, signed("signed-1", now, None)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(store.deliveries()[0].id.as_str(), "signed-1");

    let other = gitlab_signature_for(
        &Secret::new("whsec_ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="),
        "signed-2",
        now,
        body,
    );
    let refused = [
        signed("signed-2", now, Some(other)),            // another key
        signed("signed-2", now - 10 * 60, None),         // too old
        signed("signed-2", now, Some("v1,AAAA".into())), // malformed
        signed("signed-2", now, Some("v2,xyz=".into())), // no v1 entry
    ];
    for request in refused {
        assert_eq!(send(&state, request).await.0, StatusCode::UNAUTHORIZED);
    }
    // Signed, but without the token, or without the signature headers.
    let mut no_token = signed("signed-3", now, None);
    no_token.headers_mut().remove("x-gitlab-token");
    assert_eq!(send(&state, no_token).await.0, StatusCode::UNAUTHORIZED);
    let unsigned = gitlab_delivery("Merge Request Hook", "signed-4", body, None);
    assert_eq!(send(&state, unsigned).await.0, StatusCode::UNAUTHORIZED);
    // The signature covers the id: another id with the same signature fails.
    let good = gitlab_signature_for(&Secret::new(SIGNING_TOKEN), "signed-5", now, body);
    let mut moved = signed("signed-5", now, Some(good));
    moved
        .headers_mut()
        .insert("webhook-id", "signed-6".parse().expect("value"));
    assert_eq!(send(&state, moved).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(store.deliveries().len(), 1);
}

#[tokio::test]
async fn without_gitlab_configured_there_is_no_gitlab_route() {
    let (mut state, store) = gitlab_state(1 << 20);
    state.gitlab_secret = None;
    let body = gitlab_fixture!("merge_request.open.1.json");
    let (status, _) = send(
        &state,
        gitlab_delivery("Merge Request Hook", "key-11", body, None),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(store.deliveries().is_empty());
}

#[test]
fn app_state_takes_gitlab_s_secrets_from_the_config() {
    let config = crate::config::ServerConfig::parse(
        &format!(
            "[gitlab]\ntoken = \"glpat-xxxxxxxxxxxx\"\nwebhook_secret = \"{GITLAB_SECRET}\"\nsigning_token = \"{SIGNING_TOKEN}\"\n\
             [audit]\nkey = \"{}\"\n",
            "ab".repeat(32)
        ),
        Vec::new(),
    )
    .expect("valid");
    let state = AppState::new(
        &config,
        Arc::new(FakeStore::default()),
        Arc::new(Notify::new()),
    );
    assert!(state.github_secret.is_none());
    assert_eq!(
        state.gitlab_secret.as_ref().map(Secret::expose),
        Some(GITLAB_SECRET)
    );
    assert_eq!(
        state.gitlab_signing_token.as_ref().map(Secret::expose),
        Some(SIGNING_TOKEN)
    );
}

/// A TCP proxy to the PostgreSQL server that can be cut (every connection dropped, new ones
/// closed at once) and mended: the database "goes away" without touching the real server.
struct Cuttable {
    addr: std::net::SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    cut: Arc<tokio::sync::Notify>,
}

impl Cuttable {
    async fn to(upstream: String) -> Cuttable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let cut = Arc::new(tokio::sync::Notify::new());
        let (is_up, on_cut) = (Arc::clone(&up), Arc::clone(&cut));
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !is_up.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let (upstream, on_cut) = (upstream.clone(), Arc::clone(&on_cut));
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = on_cut.notified() => {}
                    }
                });
            }
        });
        Cuttable { addr, up, cut }
    }

    fn set(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            self.cut.notify_waiters();
        }
    }
}

#[tokio::test]
async fn with_postgres_away_readyz_and_webhooks_answer_503_and_both_recover_on_their_own() {
    let Some(db) = crate::store::postgres::ScratchDatabase::create().await else {
        return;
    };
    // The scratch database's host and port, reached through the proxy.
    let rest = db
        .url
        .split_once('@')
        .map_or(db.url.as_str(), |(_, rest)| rest);
    let (host, path) = rest.split_once('/').expect("url with a database");
    let proxy = Cuttable::to(host.to_owned()).await;
    let user = db
        .url
        .split_once("://")
        .and_then(|(_, r)| r.split_once('@'))
        .map_or("", |(u, _)| u);
    let url = format!("postgres://{user}@{}/{path}", proxy.addr);
    let store = crate::store::postgres::PostgresStore::open_with(
        &url,
        crate::audit::key::test_keys(),
        crate::store::postgres::PostgresOptions {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(1),
        },
    )
    .await
    .expect("open through the proxy");
    let mut app = state(FakeStore::default());
    app.store = Arc::new(store);
    let ping = |id: &str| {
        let body = format!(r#"{{"zen":"Design for failure {id}."}}"#).into_bytes();
        Request::post("/webhooks/github")
            .header("x-github-event", "ping")
            .header("x-github-delivery", id)
            .header(
                "x-hub-signature-256",
                github_signature_for(&Secret::new(SECRET), &body),
            )
            .body(Body::from(body))
            .expect("request")
    };
    assert_eq!(get(&app, "/readyz").await.0, StatusCode::OK);
    assert_eq!(send(&app, ping("before")).await.0, StatusCode::ACCEPTED);

    proxy.set(false);
    let (status, body) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, json) = send(&app, ping("during")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");

    proxy.set(true);
    let mut ready = false;
    for _ in 0..50 {
        if get(&app, "/readyz").await.0 == StatusCode::OK {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "readyz recovers once the database is back");
    // Nothing was acknowledged during the outage: its redelivery is new, the earlier one is not.
    let (status, json) = send(&app, ping("during")).await;
    assert_eq!(
        (status, json["status"].as_str()),
        (StatusCode::ACCEPTED, Some("stored")),
        "{json}"
    );
    let (status, json) = send(&app, ping("before")).await;
    assert_eq!(
        (status, json["status"].as_str()),
        (StatusCode::OK, Some("duplicate")),
        "{json}"
    );
    drop(app);
    db.drop().await;
}
