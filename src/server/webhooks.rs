//! The webhook handlers. Both run the same steps, in this order: body limit, read timeout and
//! the budget of unverified body bytes (413, 408, 503 `busy` with `Retry-After`), then the proof
//! that the forge sent it, over the raw bytes (401, nothing stored), then the event and delivery
//! headers (400), then decoding (400 with the reason), then intake: 202 `queued` once stored,
//! 200 `duplicate` for a redelivery, 503 when the store fails (nothing acknowledged). Logs carry
//! `forge`, `delivery_id`, `event`, `repo`, `pr`; never a secret, a signature or the body.
//!
//! - `POST /webhooks/github`: `X-Hub-Signature-256`; the delivery id is `X-GitHub-Delivery`.
//! - `POST /webhooks/gitlab`: `X-Gitlab-Token`, and the `webhook-signature` of the signing-token
//!   scheme when a signing token is configured. The delivery id is, first found: the signed
//!   `webhook-id` (when signatures are checked), `Idempotency-Key` (GitLab 17.4+, the same on
//!   every retry of a delivery: the dedupe key GitLab means us to use), `X-Gitlab-Event-UUID`
//!   (14.8+, one per event; a retry may get a new one), and for older GitLab `sha256-` and the
//!   body's SHA-256 (a resent delivery carries the same body).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::header::{EXPECT, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::Instrument;
use tracing::field::Empty;

use super::AppState;
use super::body::{self, BodyError, BodyLimits, Buffered};
use super::connections::RETRY_AFTER_SECS;
use crate::event::{DeliveryId, Event};
use crate::store::{NewDelivery, Recorded};
use crate::webhook::{DecodeError, github, gitlab, intake, verify};

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
pub const EVENT_HEADER: &str = "x-github-event";
pub const DELIVERY_HEADER: &str = "x-github-delivery";
pub const GITLAB_TOKEN_HEADER: &str = "x-gitlab-token";
pub const GITLAB_EVENT_HEADER: &str = "x-gitlab-event";
pub const GITLAB_EVENT_UUID_HEADER: &str = "x-gitlab-event-uuid";
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// The signing-token scheme (Standard Webhooks): the message id (GitLab: its `Idempotency-Key`).
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";

/// A sender that trickles its body longer than this is cut off (GitHub and GitLab.com give us
/// 10 s in all).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(8);
/// Past this the store is too slow to answer within the forge's 10 s: 503, it may redeliver.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(8);

/// The metric every delivery counts in, by `forge`, `event` and `outcome`.
pub const DELIVERIES_METRIC: &str = "iamgate_deliveries_total";

/// The handler of `POST /webhooks/github`.
pub async fn github_webhook(State(app): State<AppState>, request: Request) -> Response {
    const FORGE: &str = "github";
    let Some(secret) = app.github_secret.clone() else {
        return not_configured(FORGE, "GitHub is not configured");
    };
    let (headers, body) = match read_body(&app, FORGE, request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let signature = headers.get(SIGNATURE_HEADER).map(|v| v.as_bytes());
    if let Err(e) = verify::github_signature(&secret, signature, &body) {
        return unauthorized(FORGE, e);
    }
    let (event_name, delivery_id) = match required_headers(&headers) {
        Ok(found) => found,
        Err(message) => return bad_headers(FORGE, message),
    };
    let span = delivery_span(FORGE, &delivery_id, &event_name);
    let event = github::decode(&event_name, &body);
    let delivery = Received {
        event_name,
        id: delivery_id,
        body_sha256: hex::encode(Sha256::digest(&body[..])),
    };
    verified(app, FORGE, delivery, event).instrument(span).await
}

/// The handler of `POST /webhooks/gitlab`.
pub async fn gitlab_webhook(State(app): State<AppState>, request: Request) -> Response {
    const FORGE: &str = "gitlab";
    let Some(secret) = app.gitlab_secret.clone() else {
        return not_configured(FORGE, "GitLab is not configured");
    };
    let (headers, body) = match read_body(&app, FORGE, request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let token = headers.get(GITLAB_TOKEN_HEADER).map(|v| v.as_bytes());
    if let Err(e) = verify::gitlab_token(&secret, token) {
        return unauthorized(FORGE, e);
    }
    let signed_id = match &app.gitlab_signing_token {
        None => None,
        Some(signing_token) => {
            let signed = verify::SignedHeaders {
                id: headers.get(WEBHOOK_ID_HEADER).map(|v| v.as_bytes()),
                timestamp: headers.get(WEBHOOK_TIMESTAMP_HEADER).map(|v| v.as_bytes()),
                signature: headers.get(WEBHOOK_SIGNATURE_HEADER).map(|v| v.as_bytes()),
            };
            match verify::gitlab_signature(signing_token, signed, &body, unix_now()) {
                Ok(id) => Some(DeliveryId::from(id)),
                Err(e) => return unauthorized(FORGE, e),
            }
        }
    };
    let (event_name, delivery_id) = match gitlab_headers(&headers, signed_id, &body) {
        Ok(found) => found,
        Err(message) => return bad_headers(FORGE, message),
    };
    let span = delivery_span(FORGE, &delivery_id, &event_name);
    let event = gitlab::decode(&event_name, &body);
    let delivery = Received {
        event_name,
        id: delivery_id,
        body_sha256: hex::encode(Sha256::digest(&body[..])),
    };
    verified(app, FORGE, delivery, event).instrument(span).await
}

fn not_configured(forge: &'static str, message: &str) -> Response {
    reply(
        forge,
        "none",
        "not_configured",
        StatusCode::NOT_FOUND,
        "error",
        message,
    )
}

fn unauthorized(forge: &'static str, e: verify::VerifyError) -> Response {
    tracing::warn!(forge, reason = %e, "webhook refused: not proven to come from the forge");
    reply(
        forge,
        "unverified",
        "unauthorized",
        StatusCode::UNAUTHORIZED,
        "error",
        &e.to_string(),
    )
}

fn bad_headers(forge: &'static str, message: &'static str) -> Response {
    tracing::warn!(forge, reason = message, "webhook refused: headers");
    reply(
        forge,
        "unknown",
        "bad_request",
        StatusCode::BAD_REQUEST,
        "error",
        message,
    )
}

fn delivery_span(forge: &'static str, id: &DeliveryId, event_name: &str) -> tracing::Span {
    tracing::info_span!(
        "webhook",
        forge,
        delivery_id = %id,
        event = %event_name,
        repo = Empty,
        pr = Empty,
    )
}

/// The headers and the whole body, within the size limit, the read timeout and the budget of
/// unverified body bytes (503 with `Retry-After` when the budget has no room in time).
async fn read_body(
    app: &AppState,
    forge: &'static str,
    request: Request,
) -> Result<(HeaderMap, Buffered), Response> {
    let (parts, body) = request.into_parts();
    let limits = BodyLimits {
        max_bytes: app.max_body_bytes,
        timeout: BODY_TIMEOUT,
        permit_wait: body::PERMIT_WAIT,
        drain_refused: !expects_continue(&parts.headers),
    };
    let refusal = match body::read(body, limits, &app.edge.bodies).await {
        Ok(body) => return Ok((parts.headers, body)),
        Err(refusal) => refusal,
    };
    Err(match refusal {
        BodyError::TooLarge => {
            tracing::warn!(
                forge,
                limit = app.max_body_bytes,
                "webhook refused: body over the limit"
            );
            let message = format!("body over the limit of {} bytes", app.max_body_bytes);
            reply(
                forge,
                "unverified",
                "too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "error",
                &message,
            )
        }
        BodyError::Busy => {
            tracing::warn!(
                forge,
                in_flight_limit = app.edge.bodies.capacity(),
                "webhook refused: too many bodies being received at once"
            );
            let message = "too many deliveries being received at once; redeliver it later";
            let mut response = reply(
                forge,
                "unverified",
                "busy",
                StatusCode::SERVICE_UNAVAILABLE,
                "error",
                message,
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            response
        }
        BodyError::Broken(message) => reply(
            forge,
            "unverified",
            "bad_request",
            StatusCode::BAD_REQUEST,
            "error",
            &message,
        ),
        BodyError::TimedOut => {
            tracing::warn!(forge, "webhook refused: the body was not received in time");
            let message = "the body was not received in time";
            reply(
                forge,
                "unverified",
                "timeout",
                StatusCode::REQUEST_TIMEOUT,
                "error",
                message,
            )
        }
    })
}

/// Whether the sender waits for `100 Continue` before sending its body.
fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// A verified delivery's identity: its event name, its id, and its body's hash (a replay of the
/// body under a new id is recognized by it).
struct Received {
    event_name: String,
    id: DeliveryId,
    body_sha256: String,
}

/// The verified part: the decoded event (or why not), stored before acknowledging.
async fn verified(
    app: AppState,
    forge: &'static str,
    received: Received,
    decoded: Result<Event, DecodeError>,
) -> Response {
    let Received {
        event_name,
        id,
        body_sha256,
    } = received;
    let event = match decoded {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(reason = %e, "webhook refused: undecodable body");
            return reply(
                forge,
                &event_name,
                "bad_request",
                StatusCode::BAD_REQUEST,
                "error",
                &e.to_string(),
            );
        }
    };
    if let Event::PullRequest { pr, .. } | Event::Comment { pr, .. } | Event::Review { pr, .. } =
        &event
    {
        let span = tracing::Span::current();
        span.record("repo", pr.repo.as_str());
        span.record("pr", pr.number.0);
    }
    if let Event::MembershipChanged { forge } = &event {
        // Before anything else decides: the next decision asks the forge afresh.
        tracing::info!(
            ?forge,
            "membership changed: cached membership answers forgotten"
        );
        app.membership.clear();
    }
    let outcome = match (&event, intake::jobs_for(&event).is_empty()) {
        (_, false) => "queued",
        (Event::Ignored { .. }, true) => "ignored",
        (_, true) => "stored",
    };
    let delivery = NewDelivery {
        id,
        forge: forge.to_owned(),
        event_name: event_name.clone(),
        event,
        body_sha256: Some(body_sha256),
    };
    let accepted = tokio::time::timeout(
        STORE_TIMEOUT,
        intake::accept(app.store.as_ref(), &app.notify, delivery),
    )
    .await;
    match accepted {
        Ok(Ok(Recorded::Fresh)) => {
            tracing::info!(outcome, "webhook delivery stored");
            // The body says what will happen: `queued` (a job), `stored` or `ignored`.
            reply(
                forge,
                &event_name,
                outcome,
                StatusCode::ACCEPTED,
                outcome,
                "",
            )
        }
        Ok(Ok(Recorded::Duplicate)) => {
            tracing::info!("webhook delivery seen before: nothing done");
            reply(
                forge,
                &event_name,
                "duplicate",
                StatusCode::OK,
                "duplicate",
                "",
            )
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "webhook delivery not stored: store failed");
            let message = "the delivery could not be stored; redeliver it later";
            reply(
                forge,
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
                forge,
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

/// `X-Gitlab-Event` (letters, digits and spaces, e.g. `Merge Request Hook`) and the delivery id
/// (see the module docs for which header wins and why).
fn gitlab_headers(
    headers: &HeaderMap,
    signed_id: Option<DeliveryId>,
    body: &[u8],
) -> Result<(String, DeliveryId), &'static str> {
    let event = headers
        .get(GITLAB_EVENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_token(v, |c| c.is_ascii_alphanumeric() || c == ' '))
        .ok_or("missing or invalid X-Gitlab-Event header")?;
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let header = |name: &str, message: &'static str| match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .filter(|v| is_token(v, plain))
            .map(|v| Some(DeliveryId::from(v)))
            .ok_or(message),
    };
    let id = match signed_id {
        Some(id) => id,
        None => {
            let key = header(IDEMPOTENCY_KEY_HEADER, "invalid Idempotency-Key header")?;
            let uuid = header(
                GITLAB_EVENT_UUID_HEADER,
                "invalid X-Gitlab-Event-UUID header",
            )?;
            key.or(uuid).unwrap_or_else(|| body_id(body))
        }
    };
    Ok((event.to_owned(), id))
}

/// The delivery id of a GitLab too old to send one: the body's SHA-256.
fn body_id(body: &[u8]) -> DeliveryId {
    DeliveryId(format!("sha256-{}", hex::encode(Sha256::digest(body))))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn is_token(value: &str, allowed: impl Fn(char) -> bool) -> bool {
    !value.is_empty() && value.len() <= 100 && value.chars().all(allowed)
}

/// Counts the delivery and answers `{"status": ...}` (with `error` when there is a message).
fn reply(
    forge: &'static str,
    event: &str,
    outcome: &'static str,
    code: StatusCode,
    status: &str,
    message: &str,
) -> Response {
    metrics::counter!(
        DELIVERIES_METRIC,
        "forge" => forge,
        "event" => event.to_owned(),
        "outcome" => outcome
    )
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
