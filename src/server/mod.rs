//! The HTTP edge: the router (webhooks, health, metrics), its shared state, what clients may
//! hold of it (connections, time, body bytes: [`Edge`]), and `serve` with graceful shutdown on
//! SIGTERM/SIGINT. It reads requests and answers them; what a delivery means is `webhook`'s,
//! running jobs is `queue`'s, and building all of it is `app`'s.

pub mod body;
pub mod connections;
pub mod health;
pub mod metrics;
pub mod previews;
pub mod webhooks;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};

use crate::config::server::{
    DEFAULT_HEADER_READ_TIMEOUT_SECS, DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT_SECS,
    HttpConfig,
};
use crate::config::{Secret, ServerConfig};
use crate::forge::MembershipCache;
use crate::store::Store;
use body::BodyBudget;
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
    /// What clients may hold: connections, time, unverified body bytes.
    pub edge: Edge,
    /// The jobs' membership cache: a membership webhook clears it.
    pub membership: Arc<MembershipCache>,
    /// Previews from CI (`POST /api/v1/previews`); `None`: no route.
    pub ci: Option<Arc<crate::ci::submission::Submissions>>,
}

/// The `[server]` limits on what clients may hold of the server.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    /// Open connections at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// The time to send a request's headers; also how long an idle keep-alive connection is
    /// kept (hyper waits for the next request's headers with the same timer).
    pub header_read_timeout: Duration,
    /// A request's whole time, from its headers to the end of its response.
    pub request_timeout: Duration,
    /// The bytes of unverified request bodies held at once.
    pub max_body_bytes_in_flight: usize,
}

impl EdgeLimits {
    pub fn new(config: &HttpConfig) -> EdgeLimits {
        EdgeLimits {
            max_connections: config.max_connections,
            header_read_timeout: config.header_read_timeout,
            request_timeout: config.request_timeout,
            max_body_bytes_in_flight: config.max_body_bytes_in_flight,
        }
    }

    /// The defaults of the config, with `max_body_bytes_in_flight` bytes of bodies.
    pub fn with_body_bytes(max_body_bytes_in_flight: usize) -> EdgeLimits {
        EdgeLimits {
            max_connections: usize::try_from(DEFAULT_MAX_CONNECTIONS).unwrap_or(usize::MAX),
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            max_body_bytes_in_flight,
        }
    }
}

/// The edge's limits and what is held against them now (shared by clones).
#[derive(Debug, Clone)]
pub struct Edge {
    pub limits: EdgeLimits,
    /// One permit per open connection.
    connections: Arc<Semaphore>,
    /// The bytes of bodies being read or held before their signature is checked.
    pub bodies: BodyBudget,
}

impl Edge {
    pub fn new(limits: EdgeLimits) -> Edge {
        Edge {
            limits,
            connections: Arc::new(Semaphore::new(
                limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
            )),
            bodies: BodyBudget::new(limits.max_body_bytes_in_flight),
        }
    }

    /// The connections open now.
    pub fn open_connections(&self) -> usize {
        self.limits
            .max_connections
            .clamp(1, Semaphore::MAX_PERMITS)
            .saturating_sub(self.connections.available_permits())
    }
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
            edge: Edge::new(EdgeLimits::new(&config.server)),
            membership: Arc::new(MembershipCache::default()),
            ci: None,
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
        router = router.route("/webhooks/github", post(github_webhook));
    }
    if state.gitlab_secret.is_some() {
        router = router.route("/webhooks/gitlab", post(gitlab_webhook));
    }
    if state.ci.is_some() {
        router = router.route("/api/v1/previews", post(previews::submit));
    }
    router.with_state(state)
}

/// Serves `router(state)` on `listener` within `state.edge`'s limits until `shutdown` resolves,
/// then stops accepting and lets in-flight requests finish (a delivery being stored is
/// acknowledged or not, never half-done), each within the request timeout.
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let edge = state.edge.clone();
    connections::serve(listener, router(state), edge, shutdown).await
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
