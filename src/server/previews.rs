//! `POST /api/v1/previews?stack=<name>&commit=<sha>[&failed=true]`: a CI job's preview, with its
//! OIDC ID token as `Authorization: Bearer`. The body is read within `[server] max_body_bytes`
//! and the budget of unverified bytes (as webhooks are), gunzipped when `Content-Encoding: gzip`
//! (at most four times the limit, so a small bomb cannot fill memory), then handed to
//! [`crate::ci::submission`]. Replies are JSON: `202 {"accepted": true, "pull_requests": [...]}`,
//! else `{"error": "<reason>"}` with 400, 401, 403, 409, 413 or 503. Logs never carry the token
//! or the body.

use std::io::Read;
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_ENCODING};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::body::{self, BodyError, BodyLimits};
use crate::ci::submission::{Refusal, Submission};

/// A CI job uploads tens of MB over whatever link its runner has: more time than a webhook.
const BODY_TIMEOUT: Duration = Duration::from_secs(120);
/// The most a gzipped body may grow to, as a multiple of `[server] max_body_bytes`.
const GUNZIP_FACTOR: usize = 4;

/// The metric every submission counts in, by `outcome`.
pub const SUBMISSIONS_METRIC: &str = "iamgate_ci_submissions_total";

/// The handler.
pub async fn submit(State(app): State<AppState>, request: Request) -> Response {
    let Some(submissions) = app.ci.clone() else {
        return error(
            StatusCode::NOT_FOUND,
            "not_configured",
            "previews from CI are not configured",
        );
    };
    let (parts, body) = request.into_parts();
    let query = parse_query(&parts.uri);
    let (stack, commit, failed) = match query {
        Ok(found) => found,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    let token = bearer(&parts.headers);
    let limits = BodyLimits {
        max_bytes: app.max_body_bytes,
        timeout: BODY_TIMEOUT,
        permit_wait: body::PERMIT_WAIT,
        drain_refused: true,
    };
    let raw = match body::read(body, limits, &app.edge.bodies).await {
        Ok(raw) => raw,
        Err(BodyError::TooLarge) => {
            let message = format!("body over the limit of {} bytes", app.max_body_bytes);
            return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", &message);
        }
        Err(BodyError::Busy) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many bodies being received at once; try again",
            );
        }
        Err(BodyError::TimedOut) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the body was not received in time",
            );
        }
        Err(BodyError::Broken(message)) => {
            return error(StatusCode::BAD_REQUEST, "bad_request", &message);
        }
    };
    let gzipped = parts
        .headers
        .get(CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let encoding_other = parts.headers.get(CONTENT_ENCODING).is_some_and(|v| {
        !v.as_bytes().eq_ignore_ascii_case(b"gzip")
            && !v.as_bytes().eq_ignore_ascii_case(b"identity")
    });
    if encoding_other {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "unsupported Content-Encoding: send the body as is or gzipped",
        );
    }
    let body = if gzipped {
        let cap = app.max_body_bytes.saturating_mul(GUNZIP_FACTOR);
        match gunzip(&raw, cap) {
            Ok(bytes) => bytes,
            Err(Gunzip::TooLarge) => {
                let message = format!("the body gunzips to more than {cap} bytes");
                return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", &message);
            }
            Err(Gunzip::Broken(e)) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    &format!("the body is not gzip: {e}"),
                );
            }
        }
    } else {
        raw.to_vec()
    };
    drop(raw);
    let submission = Submission {
        token,
        stack: &stack,
        commit: &commit,
        failed,
        body,
    };
    match submissions.submit(submission).await {
        Ok(accepted) => {
            count("accepted");
            (
                StatusCode::ACCEPTED,
                Json(json!({ "accepted": true, "pull_requests": accepted.pull_requests })),
            )
                .into_response()
        }
        Err(refusal) => {
            let (code, outcome, message) = match refusal {
                Refusal::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m),
                Refusal::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m),
                Refusal::Conflict(m) => (StatusCode::CONFLICT, "not_a_head", m),
                Refusal::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
            };
            tracing::warn!(stack, commit, reason = %message, "preview from CI refused");
            error(code, outcome, &message)
        }
    }
}

/// `stack`, `commit` (a full SHA, 40 or 64 hex digits) and `failed` (`true`/`false`).
fn parse_query(uri: &axum::http::Uri) -> Result<(String, String, bool), String> {
    let (mut stack, mut commit, mut failed) = (None, None, false);
    let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| format!("the query is not readable: {e}"))?
        .0;
    for (key, value) in pairs {
        match key.as_str() {
            "stack" => stack = Some(value),
            "commit" => commit = Some(value),
            "failed" => {
                failed = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    other => {
                        return Err(format!("failed: expected true or false, found {other:?}"));
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown parameter {other:?}: expected stack, commit, failed"
                ));
            }
        }
    }
    let stack = stack
        .filter(|s| !s.trim().is_empty())
        .ok_or("missing `stack`: the stack's name in .iamgate.yml")?;
    let commit = commit.ok_or("missing `commit`: the head SHA the preview is of")?;
    if !matches!(commit.len(), 40 | 64) || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "commit: expected a full commit SHA, found {commit:?}"
        ));
    }
    Ok((stack, commit.to_ascii_lowercase(), failed))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

enum Gunzip {
    TooLarge,
    Broken(std::io::Error),
}

fn gunzip(bytes: &[u8], cap: usize) -> Result<Vec<u8>, Gunzip> {
    let mut out = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(Gunzip::Broken)?;
    if out.len() > cap {
        return Err(Gunzip::TooLarge);
    }
    Ok(out)
}

fn count(outcome: &'static str) {
    metrics::counter!(SUBMISSIONS_METRIC, "outcome" => outcome).increment(1);
}

fn error(code: StatusCode, outcome: &'static str, message: &str) -> Response {
    count(outcome);
    (code, Json(json!({ "error": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_a_stack_and_a_full_commit() {
        let sha = "a".repeat(40);
        let parse =
            |query: &str| parse_query(&format!("/api/v1/previews?{query}").parse().unwrap());
        assert_eq!(
            parse(&format!(
                "stack=prod&commit={}&failed=true",
                sha.to_uppercase()
            )),
            Ok(("prod".to_owned(), sha.clone(), true))
        );
        assert_eq!(
            parse(&format!("stack=prod%20eu&commit={sha}")),
            Ok(("prod eu".to_owned(), sha.clone(), false))
        );
        for bad in [
            format!("commit={sha}"),
            "stack=prod&commit=abc123".to_owned(),
            format!("stack=prod&commit={sha}&failed=maybe"),
            format!("stack=prod&commit={sha}&repo=acme/other"),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_gzip_bomb_is_cut_at_the_cap() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![b'{'; 1_000_000]).unwrap();
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 10_000);
        assert!(matches!(gunzip(&bomb, 100_000), Err(Gunzip::TooLarge)));
        assert_eq!(
            gunzip(&bomb, 2_000_000).ok().map(|b| b.len()),
            Some(1_000_000)
        );
        assert!(matches!(gunzip(b"not gzip", 10), Err(Gunzip::Broken(_))));
    }

    #[test]
    fn only_a_bearer_token_is_taken() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(AUTHORIZATION, "Bearer abc.def.ghi".parse().unwrap());
        assert_eq!(bearer(&headers), Some("abc.def.ghi"));
        headers.insert(AUTHORIZATION, "Basic dXNlcjpwYXNz".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
