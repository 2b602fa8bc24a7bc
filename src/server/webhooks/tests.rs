use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::config::Secret;
use crate::event::{Event, PrAction, PrNumber};
use crate::server::{AppState, Edge, EdgeLimits, metrics, router};
use crate::store::{JobKind, Store};
use crate::webhook::testing::FakeStore;
use crate::webhook::verify::github_signature_for;

const SECRET: &str = "test-webhook-secret-0123456789";

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/webhooks/github/",
            $name
        ))
        .as_slice()
    };
}

struct App {
    store: Arc<FakeStore>,
    notify: Arc<Notify>,
    state: AppState,
}

fn app_with(store: FakeStore, max_body_bytes: usize) -> App {
    let store = Arc::new(store);
    let notify = Arc::new(Notify::new());
    let state = AppState {
        store: Arc::clone(&store) as Arc<dyn Store>,
        github_secret: Some(Secret::new(SECRET)),
        gitlab_secret: None,
        gitlab_signing_token: None,
        notify: Arc::clone(&notify),
        metrics: metrics::handle(),
        max_body_bytes,
        preview_problem: None,
        membership: Arc::default(),
        ci: None,
        edge: Edge::new(EdgeLimits::with_body_bytes(4 * max_body_bytes)),
    };
    App {
        store,
        notify,
        state,
    }
}

fn app() -> App {
    app_with(FakeStore::default(), 25 * 1024 * 1024)
}

/// A delivery as GitHub sends it, signed with `SECRET` unless a signature is given.
fn delivery(event: &str, id: &str, body: &[u8], signature: Option<&str>) -> Request<Body> {
    let signature = signature.map_or_else(
        || github_signature_for(&Secret::new(SECRET), body),
        str::to_owned,
    );
    Request::post("/webhooks/github")
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", id)
        .header("x-hub-signature-256", signature)
        .body(Body::from(body.to_vec()))
        .expect("request")
}

async fn send(app: &App, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = router(app.state.clone())
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
async fn a_signed_pull_request_is_stored_with_one_job_and_queued() {
    let app = app();
    let body = fixture!("pull_request.opened.5.json");
    let (status, json) = send(&app, delivery("pull_request", "guid-1", body, None)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(json, serde_json::json!({"status": "queued"}));

    let deliveries = app.store.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].id.as_str(), "guid-1");
    assert_eq!(deliveries[0].forge, "github");
    assert_eq!(deliveries[0].event_name, "pull_request");
    let Event::PullRequest {
        pr,
        action,
        head,
        pushed_by: None,
    } = &deliveries[0].event
    else {
        panic!("expected a PR event: {:?}", deliveries[0].event);
    };
    assert_eq!(*action, PrAction::Opened);
    assert_eq!(pr.repo.as_str(), "gagbo/ouro-closures");
    assert_eq!(pr.number, PrNumber(2));
    assert_eq!(pr.installation, Some(7777777));
    assert_eq!(head.as_str(), "36afaef2afdf0ce794d7e4663e7f327664aaa4d7");
    assert_eq!(
        app.store.jobs(),
        vec![JobKind::AnalyzePr { pr: pr.clone() }]
    );
    tokio::time::timeout(std::time::Duration::from_secs(1), app.notify.notified())
        .await
        .expect("the worker was poked");
}

#[tokio::test]
async fn bad_signatures_are_refused_before_anything_is_stored() {
    let app = app();
    let body = fixture!("pull_request.opened.5.json");
    let other = github_signature_for(&Secret::new("another-secret-0123456789"), body);
    let good = github_signature_for(&Secret::new(SECRET), body);
    let non_hex = format!("sha256={}", "g".repeat(64));
    let wrong_prefix = good.replacen("sha256=", "sha1=", 1);
    for signature in [other.as_str(), non_hex.as_str(), wrong_prefix.as_str(), ""] {
        let (status, json) = send(
            &app,
            delivery("pull_request", "guid-2", body, Some(signature)),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{signature}");
        assert_eq!(json["status"], "error");
    }
    let mut missing = delivery("pull_request", "guid-2", body, None);
    missing.headers_mut().remove("x-hub-signature-256");
    let (status, _) = send(&app, missing).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A valid signature over other bytes does not carry over.
    let tampered = delivery(
        "pull_request",
        "guid-2",
        b"{\"action\":\"opened\"}",
        Some(&good),
    );
    assert_eq!(send(&app, tampered).await.0, StatusCode::UNAUTHORIZED);

    assert!(app.store.deliveries().is_empty());
    assert!(app.store.jobs().is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_not_stored() {
    let app = app_with(FakeStore::default(), 1024);
    let body = fixture!("pull_request.opened.5.json");
    assert!(body.len() > 1024);
    let (status, _) = send(&app, delivery("pull_request", "guid-3", body, None)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Also when the sender announces the length (refused before the body is read).
    let mut request = delivery("pull_request", "guid-3", body, None);
    request.headers_mut().insert(
        "content-length",
        body.len().to_string().parse().expect("value"),
    );
    let (status, _) = send(&app, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(app.store.deliveries().is_empty());
    // Under the limit the same route still works.
    let (status, _) = send(&app, delivery("ping", "guid-3b", br#"{"zen":"x"}"#, None)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn ping_is_acknowledged_without_a_job() {
    let app = app();
    let (status, _) = send(
        &app,
        delivery("ping", "guid-4", fixture!("ping.none.1.json"), None),
    )
    .await;
    assert!(status.is_success());
    assert_eq!(app.store.deliveries()[0].event, Event::Ping);
    assert!(app.store.jobs().is_empty());
    let poked =
        tokio::time::timeout(std::time::Duration::from_millis(50), app.notify.notified()).await;
    assert!(poked.is_err(), "no job, no poke");
}

#[tokio::test]
async fn unknown_actions_and_events_are_acknowledged_and_ignored() {
    let app = app();
    let mut body: serde_json::Value =
        serde_json::from_slice(fixture!("pull_request.opened.5.json")).expect("json");
    body["action"] = "stacked".into();
    let body = serde_json::to_vec(&body).expect("json");
    let (status, _) = send(&app, delivery("pull_request", "guid-5", &body, None)).await;
    assert!(status.is_success());
    let (status, _) = send(
        &app,
        delivery(
            "issue_comment",
            "guid-6",
            fixture!("issue_comment.created.6.json"),
            None,
        ),
    )
    .await;
    assert!(status.is_success());
    let events: Vec<Event> = app
        .store
        .deliveries()
        .into_iter()
        .map(|d| d.event)
        .collect();
    assert_eq!(
        events,
        vec![
            Event::Ignored {
                event: "pull_request".into(),
                action: Some("stacked".into())
            },
            Event::Ignored {
                event: "issue_comment".into(),
                action: Some("created".into())
            },
        ]
    );
    assert!(app.store.jobs().is_empty());
}

#[tokio::test]
async fn a_redelivery_is_a_duplicate_and_adds_no_job() {
    let app = app();
    let body = fixture!("pull_request.synchronize.2.json");
    let (first, _) = send(&app, delivery("pull_request", "guid-7", body, None)).await;
    let (second, json) = send(&app, delivery("pull_request", "guid-7", body, None)).await;
    assert_eq!(first, StatusCode::ACCEPTED);
    assert_eq!(second, StatusCode::OK);
    assert_eq!(json, serde_json::json!({"status": "duplicate"}));
    assert_eq!(app.store.deliveries().len(), 1);
    assert_eq!(app.store.jobs().len(), 1);
}

#[tokio::test]
async fn a_store_failure_is_503_so_github_can_redeliver() {
    let app = app_with(FakeStore::failing(), 25 * 1024 * 1024);
    let body = fixture!("pull_request.opened.5.json");
    let (status, json) = send(&app, delivery("pull_request", "guid-8", body, None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json["status"], "error");
}

#[tokio::test]
async fn verified_but_unusable_requests_are_400_and_not_stored() {
    let app = app();
    let body = fixture!("pull_request.opened.5.json");
    let mut no_event = delivery("pull_request", "guid-9", body, None);
    no_event.headers_mut().remove("x-github-event");
    assert_eq!(send(&app, no_event).await.0, StatusCode::BAD_REQUEST);
    let mut no_id = delivery("pull_request", "guid-9", body, None);
    no_id.headers_mut().remove("x-github-delivery");
    assert_eq!(send(&app, no_id).await.0, StatusCode::BAD_REQUEST);
    let odd_id = delivery("pull_request", "guid 9 forged=log", body, None);
    assert_eq!(send(&app, odd_id).await.0, StatusCode::BAD_REQUEST);

    let no_head = br#"{"action":"opened","number":3,"repository":{"full_name":"a/b"}}"#;
    let (status, json) = send(&app, delivery("pull_request", "guid-9", no_head, None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("pull_request.head.sha")),
        "{json}"
    );
    let (status, _) = send(
        &app,
        delivery("pull_request", "guid-9", b"payload=%7B%7D", None),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(app.store.deliveries().is_empty());
}

#[tokio::test]
async fn without_github_configured_there_is_no_github_route() {
    let mut app = app();
    app.state.github_secret = None;
    let body = fixture!("ping.none.1.json");
    let (status, _) = send(&app, delivery("ping", "guid-10", body, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(app.store.deliveries().is_empty());
}

#[tokio::test]
async fn deliveries_are_counted_by_event_and_outcome() {
    let app = app();
    // An edited comment is stored and asks for nothing.
    let body = fixture!("issue_comment.edited.3.json");
    send(&app, delivery("issue_comment", "guid-11", body, None)).await;
    send(
        &app,
        delivery("issue_comment", "guid-11", body, Some("sha256=00")),
    )
    .await;
    let text = app.state.metrics.render();
    let line = |outcome: &str| {
        text.lines().any(|l| {
            l.starts_with("iamgate_deliveries_total{")
                && l.contains("event=\"issue_comment\"")
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
    };
    assert!(line("stored"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("iamgate_deliveries_total{")
                && l.contains("event=\"unverified\"")
                && l.contains("outcome=\"unauthorized\"")),
        "{text}"
    );
    assert!(!text.contains(SECRET));
}
