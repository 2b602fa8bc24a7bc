//! `GET /healthz` (the process answers) and `GET /readyz` (the store answers, and previews can
//! run). Neither touches a forge: a forge outage must not make the load balancer drop deliveries.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Liveness: 200 `ok` while the process serves HTTP.
pub async fn live() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// Readiness: 200 when the store answers a ping, else 503 (deliveries would not be stored); 503
/// too when the preview sandbox cannot be set up (every preview would fail closed), saying why.
pub async fn ready(State(app): State<AppState>) -> Response {
    if let Some(problem) = &app.preview_problem {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("previews cannot run: {problem}\n"),
        )
            .into_response();
    }
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}
