use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::*;
use crate::webhook::testing::FakeStore;
use crate::webhook::verify::github_signature_for;

const SECRET: &str = "server-test-secret-0123456789";

fn state(store: FakeStore) -> AppState {
    AppState {
        store: Arc::new(store),
        github_secret: Some(Secret::new(SECRET)),
        notify: Arc::new(Notify::new()),
        metrics: metrics::handle(),
        max_body_bytes: 1 << 20,
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
    assert!(!text.contains(SECRET));
}

#[tokio::test]
async fn unknown_paths_and_gitlab_are_not_served_yet() {
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

#[tokio::test]
async fn serve_answers_over_tcp_and_stops_on_shutdown() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state(FakeStore::default()), async {
        let _ = stopped.await;
    }));

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
