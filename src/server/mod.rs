//! The HTTP edge: the router (webhooks, health, metrics), its shared state, and `serve` with
//! graceful shutdown on SIGTERM/SIGINT. It reads requests and answers them; what a delivery
//! means is `webhook`'s, running jobs is `queue`'s, and building all of it is `app`'s.

pub mod health;
pub mod metrics;
pub mod webhooks;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::{Secret, ServerConfig};
use crate::store::Store;
use webhooks::{github_webhook, gitlab_webhook};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The GitHub App's webhook secret; `None` when GitHub is not configured (no route then).
    pub github_secret: Option<Secret>,
    /// GitLab's webhook secret (`X-Gitlab-Token`); `None` when GitLab is not configured (no
    /// route then).
    pub gitlab_secret: Option<Secret>,
    /// GitLab's webhook signing token (`whsec_…`), when configured: deliveries must then also
    /// carry a valid `webhook-signature`.
    pub gitlab_signing_token: Option<Secret>,
    /// Poked after a fresh delivery with jobs, so an idle worker starts at once.
    pub notify: Arc<Notify>,
    /// The process-wide Prometheus handle (`server::metrics::handle()`).
    pub metrics: PrometheusHandle,
    /// Bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// Why previews cannot run (the sandbox is asked for and cannot be set up): `/readyz` says
    /// so. `None` when previews can run.
    pub preview_problem: Option<Arc<str>>,
}

impl AppState {
    /// The state for `config`, with the process-wide metrics handle.
    pub fn new(config: &ServerConfig, store: Arc<dyn Store>, notify: Arc<Notify>) -> Self {
        AppState {
            store,
            github_secret: config.github.as_ref().map(|g| g.webhook_secret.clone()),
            gitlab_secret: config.gitlab.as_ref().map(|g| g.webhook_secret.clone()),
            gitlab_signing_token: config.gitlab.as_ref().and_then(|g| g.signing_token.clone()),
            notify,
            metrics: metrics::handle(),
            max_body_bytes: config.server.max_body_bytes,
            preview_problem: None,
        }
    }
}

/// The routes: `POST /webhooks/github` (when GitHub is configured), `POST /webhooks/gitlab`
/// (when GitLab is configured), `GET /healthz`, `GET /readyz`, `GET /metrics`.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::render));
    if state.github_secret.is_some() {
        router = router.route(
            "/webhooks/github",
            post(github_webhook).layer(DefaultBodyLimit::max(state.max_body_bytes)),
        );
    }
    if state.gitlab_secret.is_some() {
        router = router.route(
            "/webhooks/gitlab",
            post(gitlab_webhook).layer(DefaultBodyLimit::max(state.max_body_bytes)),
        );
    }
    router.with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish (a delivery being stored is acknowledged or not, never half-done).
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on the first SIGTERM or SIGINT (Ctrl-C). If a handler cannot be installed, that
/// signal is logged and never fires (the other still does).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

#[cfg(test)]
mod tests;
