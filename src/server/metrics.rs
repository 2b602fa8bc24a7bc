//! `GET /metrics`: the Prometheus text of everything recorded through the `metrics` crate
//! (deliveries here; jobs, forge calls and previews elsewhere), plus the queue depth read from
//! the store at scrape time. The recorder is installed once per process.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;

/// The gauge of jobs per state (`pending`, `running`, `dead`), refreshed at every scrape.
pub const QUEUE_METRIC: &str = "iamgate_queue_jobs";

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
    app.metrics.run_upkeep();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        app.metrics.render(),
    )
        .into_response()
}
