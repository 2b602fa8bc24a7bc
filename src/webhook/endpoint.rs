//! `POST /webhooks/github`: body limit and read timeout, then the signature over the raw bytes
//! (401, nothing stored), then the event and delivery headers (400), then decoding (400 with the
//! reason), then intake: 202 `queued` once stored, 200 `duplicate` for a redelivery, 503 when
//! the store fails (nothing acknowledged). Logs carry `delivery_id`, `event`, `repo`, `pr`;
//! never a secret, a signature or the body.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument;
use tracing::field::Empty;

use super::{github, intake, verify};
use crate::event::{DeliveryId, Event};
use crate::server::AppState;
use crate::store::{NewDelivery, Recorded};

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
pub const EVENT_HEADER: &str = "x-github-event";
pub const DELIVERY_HEADER: &str = "x-github-delivery";

/// A sender that trickles its body longer than this is cut off (GitHub gives us 10 s in all).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(8);
/// Past this the store is too slow to answer within GitHub's 10 s: 503, GitHub may redeliver.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(8);

/// The metric every delivery counts in, by `event` and `outcome`.
pub const DELIVERIES_METRIC: &str = "iamgate_deliveries_total";

/// The handler of `POST /webhooks/github`.
pub async fn github_webhook(State(app): State<AppState>, request: Request) -> Response {
    let Some(secret) = app.github_secret.clone() else {
        return reply(
            "none",
            "not_configured",
            StatusCode::NOT_FOUND,
            "error",
            "GitHub is not configured",
        );
    };
    let headers = request.headers().clone();
    let body = match tokio::time::timeout(BODY_TIMEOUT, Bytes::from_request(request, &())).await {
        Ok(Ok(body)) => body,
        Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::warn!(
                limit = app.max_body_bytes,
                "webhook refused: body over the limit"
            );
            let message = format!("body over the limit of {} bytes", app.max_body_bytes);
            return reply(
                "unverified",
                "too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "error",
                &message,
            );
        }
        Ok(Err(rejection)) => {
            let message = rejection.body_text();
            return reply(
                "unverified",
                "bad_request",
                StatusCode::BAD_REQUEST,
                "error",
                &message,
            );
        }
        Err(_) => {
            tracing::warn!("webhook refused: the body was not received in time");
            let message = "the body was not received in time";
            return reply(
                "unverified",
                "timeout",
                StatusCode::REQUEST_TIMEOUT,
                "error",
                message,
            );
        }
    };
    let signature = headers.get(SIGNATURE_HEADER).map(|v| v.as_bytes());
    if let Err(e) = verify::github_signature(&secret, signature, &body) {
        tracing::warn!(reason = %e, "webhook refused: signature");
        return reply(
            "unverified",
            "unauthorized",
            StatusCode::UNAUTHORIZED,
            "error",
            &e.to_string(),
        );
    }
    let (event_name, delivery_id) = match required_headers(&headers) {
        Ok(found) => found,
        Err(message) => {
            tracing::warn!(reason = message, "webhook refused: headers");
            return reply(
                "unknown",
                "bad_request",
                StatusCode::BAD_REQUEST,
                "error",
                message,
            );
        }
    };
    let span = tracing::info_span!(
        "webhook",
        delivery_id = %delivery_id,
        event = %event_name,
        repo = Empty,
        pr = Empty,
    );
    verified(app, event_name, delivery_id, body)
        .instrument(span)
        .await
}

/// The verified part: decode, then store before acknowledging.
async fn verified(app: AppState, event_name: String, id: DeliveryId, body: Bytes) -> Response {
    let event = match github::decode(&event_name, &body) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(reason = %e, "webhook refused: undecodable body");
            return reply(
                &event_name,
                "bad_request",
                StatusCode::BAD_REQUEST,
                "error",
                &e.to_string(),
            );
        }
    };
    if let Event::PullRequest { pr, .. } = &event {
        let span = tracing::Span::current();
        span.record("repo", pr.repo.as_str());
        span.record("pr", pr.number.0);
    }
    let outcome = match (&event, intake::jobs_for(&event).is_empty()) {
        (_, false) => "queued",
        (Event::Ignored { .. }, true) => "ignored",
        (_, true) => "stored",
    };
    let delivery = NewDelivery {
        id,
        forge: "github".to_owned(),
        event_name: event_name.clone(),
        event,
    };
    let accepted = tokio::time::timeout(
        STORE_TIMEOUT,
        intake::accept(app.store.as_ref(), &app.notify, delivery),
    )
    .await;
    match accepted {
        Ok(Ok(Recorded::Fresh)) => {
            tracing::info!(outcome, "webhook delivery stored");
            reply(&event_name, outcome, StatusCode::ACCEPTED, "queued", "")
        }
        Ok(Ok(Recorded::Duplicate)) => {
            tracing::info!("webhook delivery seen before: nothing done");
            reply(&event_name, "duplicate", StatusCode::OK, "duplicate", "")
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "webhook delivery not stored: store failed");
            let message = "the delivery could not be stored; redeliver it later";
            reply(
                &event_name,
                "store_error",
                StatusCode::SERVICE_UNAVAILABLE,
                "error",
                message,
            )
        }
        Err(_) => {
            tracing::error!("webhook delivery not stored: store timed out");
            let message = "the delivery could not be stored in time; redeliver it later";
            reply(
                &event_name,
                "store_error",
                StatusCode::SERVICE_UNAVAILABLE,
                "error",
                message,
            )
        }
    }
}

/// `X-GitHub-Event` and `X-GitHub-Delivery`, checked to be short and plain (they go to logs,
/// metric labels and the store).
fn required_headers(headers: &HeaderMap) -> Result<(String, DeliveryId), &'static str> {
    let event = headers
        .get(EVENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_token(v, |c| c.is_ascii_lowercase() || c == '_'))
        .ok_or("missing or invalid X-GitHub-Event header")?;
    let delivery = headers
        .get(DELIVERY_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_token(v, |c| c.is_ascii_alphanumeric() || c == '-'))
        .ok_or("missing or invalid X-GitHub-Delivery header")?;
    Ok((event.to_owned(), DeliveryId::from(delivery)))
}

fn is_token(value: &str, allowed: impl Fn(char) -> bool) -> bool {
    !value.is_empty() && value.len() <= 100 && value.chars().all(allowed)
}

/// Counts the delivery and answers `{"status": ...}` (with `error` when there is a message).
fn reply(
    event: &str,
    outcome: &'static str,
    code: StatusCode,
    status: &str,
    message: &str,
) -> Response {
    metrics::counter!(DELIVERIES_METRIC, "event" => event.to_owned(), "outcome" => outcome)
        .increment(1);
    let body = if message.is_empty() {
        json!({ "status": status })
    } else {
        json!({ "status": status, "error": message })
    };
    (code, Json(body)).into_response()
}

#[cfg(test)]
mod tests;
