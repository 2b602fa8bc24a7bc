//! The reference for the webhook acknowledgement benchmark (bench/webhook/run.sh): bare axum on
//! the same machine, answering `POST /webhooks/github` with 200 after reading the body, doing
//! nothing else (no signature check, no store). iamgate's edge is measured against it.
//!
//! usage: cargo run --release --example bare_axum -- 127.0.0.1:18182

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18182".to_owned());
    let app = Router::new().route(
        "/webhooks/github",
        post(|body: Bytes| async move { if body.is_empty() { "empty" } else { "" } }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("bare axum listening on {addr}");
    axum::serve(listener, app).await
}
