//! `GET /metrics`: the Prometheus text of everything recorded through the `metrics` crate
//! (deliveries here; jobs, forge calls and previews elsewhere), plus what is read at scrape
//! time: the queue depth from the store, the open connections and the unverified body bytes
//! held. The recorder is installed once per process.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;

/// The gauge of jobs per state (`pending`, `running`, `dead`), refreshed at every scrape.
pub const QUEUE_METRIC: &str = "iamgate_queue_jobs";
/// The gauge of open HTTP connections, refreshed at every scrape.
pub const CONNECTIONS_METRIC: &str = "iamgate_http_connections";
/// The gauge of body bytes held before their signature is checked, refreshed at every scrape.
pub const BODY_BYTES_METRIC: &str = "iamgate_webhook_body_bytes_in_flight";
/// The most body bytes held at once since start (at most `max_body_bytes_in_flight`).
pub const BODY_BYTES_MAX_METRIC: &str = "iamgate_webhook_body_bytes_in_flight_max";

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The process-wide Prometheus handle, installing the recorder on first use. When another
/// recorder was installed first, the handle renders only what it sees (and that is logged).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed; /metrics will be partial"
                );
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        super::webhooks::DELIVERIES_METRIC,
        "Webhook deliveries received, by event and outcome"
    );
    metrics::describe_gauge!(QUEUE_METRIC, "Jobs in the queue, by state");
    metrics::describe_gauge!(CONNECTIONS_METRIC, "Open HTTP connections");
    metrics::describe_counter!(
        super::connections::REFUSED_METRIC,
        "HTTP connections refused because [server] max_connections were open"
    );
    metrics::describe_counter!(
        super::connections::TIMEOUTS_METRIC,
        "HTTP connections closed for a timeout, by phase (header, request)"
    );
    metrics::describe_gauge!(
        BODY_BYTES_METRIC,
        "Request body bytes held before their signature is checked"
    );
    metrics::describe_gauge!(
        BODY_BYTES_MAX_METRIC,
        "The most request body bytes held at once before their signature was checked"
    );
    metrics::describe_gauge!(
        crate::store::AUDIT_RECORDS_METRIC,
        "Records in the audit chain (a count that goes down: its newest records were deleted)"
    );
}

/// Renders the metrics.
pub async fn render(State(app): State<AppState>) -> Response {
    match app.store.queue_stats().await {
        Ok(stats) => {
            for (state, count) in [
                ("pending", stats.pending),
                ("running", stats.running),
                ("dead", stats.dead),
            ] {
                metrics::gauge!(QUEUE_METRIC, "state" => state).set(count as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "queue stats unavailable for /metrics"),
    }
    metrics::gauge!(CONNECTIONS_METRIC).set(app.edge.open_connections() as f64);
    metrics::gauge!(BODY_BYTES_METRIC).set(app.edge.bodies.in_flight() as f64);
    metrics::gauge!(BODY_BYTES_MAX_METRIC).set(app.edge.bodies.peak() as f64);
    app.metrics.run_upkeep();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        app.metrics.render(),
    )
        .into_response()
}
