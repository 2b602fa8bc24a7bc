//! The accept loop behind [`super::serve`]: what a client may hold of the server. Each accepted
//! connection takes one of `max_connections` slots, or is answered 503 and closed at once. hyper
//! serves it over HTTP/1.1 with a header read timeout (which also closes a keep-alive connection
//! idle that long), a bounded buffer, and a watchdog that closes the connection once a request
//! has taken longer than the request timeout, response included. On shutdown the listener is
//! closed, every connection is asked to finish (idle ones close at once, a request in flight is
//! answered), and the loop returns when the last one has. What a request means is the router's.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service as _, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Edge;

/// hyper's read and write buffer per connection (its default is about 400 KiB). Request headers
/// must fit in it (larger ones get 431), and a body arrives in pieces of at most this size.
pub const CONNECTION_BUFFER_BYTES: usize = 64 * 1024;

/// Connections refused because `max_connections` were open.
pub const REFUSED_METRIC: &str = "iamgate_http_connections_refused_total";
/// Connections closed for a timeout, by `phase`: `header` (the request's headers did not
/// arrive in time) or `request` (the request outlived the request timeout).
pub const TIMEOUTS_METRIC: &str = "iamgate_http_timeouts_total";

/// Files the process needs besides its connections: the store, logs, previews' pipes, calls to
/// the forges.
const FILES_BESIDE_CONNECTIONS: u64 = 256;

/// Refused connections are logged at most this often.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);

/// The seconds a refused client is told to wait.
pub const RETRY_AFTER_SECS: u64 = 10;

/// What a connection over the cap gets before it is closed.
static REFUSAL: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body = r#"{"status":"error","error":"too many open connections; try again later"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: {RETRY_AFTER_SECS}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// Serves `router` on `listener` within `edge`'s limits until `shutdown` resolves, then drains.
pub(super) async fn serve<F>(
    listener: TcpListener,
    router: Router,
    edge: Edge,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    make_room_for(edge.limits.max_connections);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(edge.limits.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(CONNECTION_BUFFER_BYTES);
    let connections = TaskTracker::new();
    let drain = CancellationToken::new();
    let mut warned_at: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // Out of file descriptors, most likely: wait for some to close.
                tracing::error!(%error, "cannot accept a connection");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let Ok(slot) = edge.connections.clone().try_acquire_owned() else {
            refuse(&stream, &mut warned_at, edge.limits.max_connections);
            continue;
        };
        connections.spawn(connection(
            stream,
            slot,
            http.clone(),
            router.clone(),
            edge.limits.request_timeout,
            drain.clone(),
        ));
    }
    drop(listener);
    drain.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Answers 503 (best effort: the socket's buffer takes it or it is lost) and closes. Excess
/// connections are closed at once rather than left in the kernel's queue: a client learns at
/// once that it must come back, the queue stays free for the next one, and a slot that frees is
/// taken by whoever connects next.
fn refuse(stream: &TcpStream, warned_at: &mut Option<Instant>, max: usize) {
    metrics::counter!(REFUSED_METRIC).increment(1);
    // Logged at most once a minute: a flood must not flood the log too.
    if warned_at.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY) {
        *warned_at = Some(Instant::now());
        tracing::warn!(
            max_connections = max,
            "connections refused: [server] max_connections are open"
        );
    }
    let _ = stream.try_write(&REFUSAL);
}

/// One connection, holding its `slot` until it ends.
async fn connection(
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    http: http1::Builder,
    router: Router,
    request_timeout: Duration,
    drain: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    // When the request in progress started (hyper serves one request of a connection at a time).
    let (started_tx, mut started) = watch::channel(None::<Instant>);
    let app = TowerToHyperService::new(router);
    let service = service_fn(move |request: Request<Incoming>| {
        started_tx.send_replace(Some(Instant::now()));
        app.call(request)
    });
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let overdue = tokio::time::sleep(request_timeout);
    tokio::pin!(overdue);
    let mut in_request = false;
    let mut draining = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(error) = served {
                    if error.is_timeout() {
                        metrics::counter!(TIMEOUTS_METRIC, "phase" => "header").increment(1);
                    }
                    tracing::debug!(%error, "connection ended on an error");
                }
                return;
            }
            () = drain.cancelled(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            Ok(()) = started.changed() => {
                if let Some(at) = *started.borrow_and_update() {
                    overdue.as_mut().reset(at + request_timeout);
                    in_request = true;
                }
            }
            () = overdue.as_mut(), if in_request => {
                metrics::counter!(TIMEOUTS_METRIC, "phase" => "request").increment(1);
                tracing::warn!(
                    timeout = ?request_timeout,
                    "a request outlived [server] request_timeout_secs: connection closed"
                );
                return;
            }
        }
    }
}

/// Errors of one connection that the next `accept` does not share.
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// Makes room for `max_connections` open files at start: raises the soft limit on open files
/// towards the hard one when it is lower, and says so when that is still not enough (`accept`
/// would then fail before the cap is reached, and so would the store and outgoing calls).
fn make_room_for(max_connections: usize) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let wanted = u64::try_from(max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(FILES_BESIDE_CONNECTIONS);
    if soft >= wanted {
        return;
    }
    let raised = wanted.min(hard);
    if raised > soft && setrlimit(Resource::RLIMIT_NOFILE, raised, hard).is_ok() {
        tracing::info!(
            from = soft,
            to = raised,
            "raised the open files limit for [server] max_connections"
        );
        if raised >= wanted {
            return;
        }
    }
    tracing::warn!(
        max_connections,
        open_files_limit = raised.max(soft),
        "[server] max_connections is near or over the open files limit (ulimit -n): raise the \
         limit or lower max_connections"
    );
}
