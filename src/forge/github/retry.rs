//! Our retry policy for GitHub calls, in one place: which responses are transient, rate limited
//! or final, how long to wait, and when to hand the wait back to the job layer instead of
//! sleeping. octocrab's own retries are off. Sends nothing itself: [`run`] drives a caller's
//! attempt function.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;

use super::auth::epoch_seconds;
use super::transport::{ApiResponse, Failure};
use crate::forge::{ForgeError, RetryClass};

/// How GitHub calls are retried. The defaults suit production; tests shorten the waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per call, the first included.
    pub max_attempts: u32,
    /// The first backoff after a transient failure; doubled each time, with jitter.
    pub base_delay: Duration,
    /// The longest backoff between two tries.
    pub max_delay: Duration,
    /// A rate-limit wait up to this long is slept in place; a longer one is returned to the
    /// caller as [`RetryClass::RetryAfter`].
    pub max_inline_wait: Duration,
    /// The longest a single request may take before it counts as a transport failure.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_inline_wait: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// GitHub's advice when a secondary limit names no wait.
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// What a response means for retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Success,
    /// 5xx or a transport failure: may be retried (only safely when idempotent).
    Transient,
    /// Primary or secondary rate limit: retry after this long.
    RateLimited(Duration),
    /// Any other 4xx: retrying will not help.
    Rejected,
}

/// What to do after a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Wait(Duration),
    Fail(RetryClass),
}

/// Classifies a response (status, headers, body) at time `now`.
pub(crate) fn classify(status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Verdict {
    match status {
        0..=399 => Verdict::Success,
        403 | 429 => rate_limit_wait(status, headers, body, now)
            .map_or(Verdict::Rejected, Verdict::RateLimited),
        500..=599 => Verdict::Transient,
        _ => Verdict::Rejected,
    }
}

fn rate_limit_wait(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(seconds) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds.max(1)));
    }
    if header("x-ratelimit-remaining") == Some("0") {
        let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
        return Some(reset.map_or(SECONDARY_LIMIT_WAIT, |reset| {
            Duration::from_secs(reset.saturating_sub(epoch_seconds(now)) + 1)
        }));
    }
    let message = String::from_utf8_lossy(body).to_lowercase();
    let secondary = message.contains("secondary rate limit") || message.contains("abuse detection");
    (secondary || status == 429).then_some(SECONDARY_LIMIT_WAIT)
}

impl RetryPolicy {
    /// The step after try number `attempt` (1-based) failed with `verdict`.
    pub(crate) fn after_failure(&self, verdict: Verdict, attempt: u32, idempotent: bool) -> Step {
        let tries_left = attempt < self.max_attempts;
        match verdict {
            Verdict::Success | Verdict::Rejected => Step::Fail(RetryClass::GiveUp),
            Verdict::Transient if idempotent && tries_left => Step::Wait(self.backoff(attempt)),
            Verdict::Transient => Step::Fail(RetryClass::Retry),
            // A rate-limited request was not processed, so even a POST may be sent again.
            Verdict::RateLimited(wait) if tries_left && wait <= self.max_inline_wait => {
                Step::Wait(wait)
            }
            Verdict::RateLimited(wait) => Step::Fail(RetryClass::RetryAfter(wait)),
        }
    }

    /// Exponential backoff with jitter: between half and all of `base * 2^(attempt-1)`, capped.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let full = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let millis = u64::try_from(full.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(millis / 2..=millis))
    }
}

/// One try of a call, as a boxed future so that it can be made again.
pub(crate) type Attempt<'a> =
    Pin<Box<dyn Future<Output = Result<ApiResponse, Failure>> + Send + 'a>>;

/// What a call is, for errors, metrics and the retry decision.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// E.g. `GET /repos/o/r/pulls/1`.
    pub operation: String,
    /// The metric label, e.g. `pull_request`.
    pub op: &'static str,
    /// Whether sending it twice is harmless (GET, PATCH, POST of a status).
    pub idempotent: bool,
}

/// Runs `attempt` until it succeeds or the policy gives up; non-2xx results become errors.
pub(crate) async fn run<'a>(
    policy: &RetryPolicy,
    call: &Call,
    mut attempt: impl FnMut() -> Attempt<'a> + Send,
) -> Result<ApiResponse, ForgeError> {
    let mut number = 1;
    loop {
        metrics::counter!("iamgate_forge_calls_total", "forge" => "github", "op" => call.op)
            .increment(1);
        let (verdict, status, message) = match attempt().await {
            Ok(response) => {
                let verdict = classify(
                    response.status,
                    &response.headers,
                    &response.body,
                    SystemTime::now(),
                );
                if verdict == Verdict::Success {
                    return Ok(response);
                }
                (
                    verdict,
                    Some(response.status),
                    error_message(&response.body),
                )
            }
            Err(Failure::Transport(message)) => (Verdict::Transient, None, message),
            Err(Failure::Final(error)) => return Err(error),
        };
        let step = policy.after_failure(verdict, number, call.idempotent);
        let kind = match (verdict, step) {
            (Verdict::RateLimited(_), _) => "rate_limited",
            (_, Step::Fail(RetryClass::GiveUp)) => "give_up",
            _ => "retry",
        };
        metrics::counter!("iamgate_forge_errors_total", "forge" => "github", "op" => call.op, "kind" => kind).increment(1);
        match step {
            Step::Wait(wait) => {
                tracing::info!(operation = %call.operation, ?status, attempt = number, wait_ms = wait.as_millis() as u64, %message, "github call failed, retrying");
                tokio::time::sleep(wait).await;
                number += 1;
            }
            Step::Fail(retry) => {
                return Err(ForgeError {
                    operation: call.operation.clone(),
                    message,
                    retry,
                    status,
                });
            }
        }
    }
}

/// GitHub's error `message` (with any validation errors), or the start of the body.
pub(crate) fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body)
        && let Some(message) = parsed.message
    {
        let details: Vec<String> = parsed
            .errors
            .iter()
            .filter_map(|e| {
                e.get("message")
                    .and_then(|m| m.as_str())
                    .or_else(|| e.as_str())
                    .map(str::to_owned)
            })
            .collect();
        return if details.is_empty() {
            message
        } else {
            format!("{message}: {}", details.join("; "))
        };
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "empty response".to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::time::UNIX_EPOCH;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const NOW: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn statuses_classify() {
        let none = HeaderMap::new();
        assert_eq!(classify(200, &none, b"", now()), Verdict::Success);
        assert_eq!(classify(302, &none, b"", now()), Verdict::Success);
        assert_eq!(classify(502, &none, b"", now()), Verdict::Transient);
        assert_eq!(classify(404, &none, b"", now()), Verdict::Rejected);
        assert_eq!(classify(422, &none, b"", now()), Verdict::Rejected);
        assert_eq!(
            classify(
                403,
                &none,
                br#"{"message":"Resource not accessible by integration"}"#,
                now()
            ),
            Verdict::Rejected,
            "a plain 403 is a permission problem"
        );
    }

    #[test]
    fn rate_limits_name_their_wait() {
        let retry_after = headers(&[("retry-after", "7")]);
        assert_eq!(
            classify(403, &retry_after, b"", now()),
            Verdict::RateLimited(Duration::from_secs(7))
        );
        assert_eq!(
            classify(429, &retry_after, b"", now()),
            Verdict::RateLimited(Duration::from_secs(7))
        );
        let primary = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &(NOW + 120).to_string()),
        ]);
        assert_eq!(
            classify(403, &primary, b"", now()),
            Verdict::RateLimited(Duration::from_secs(121))
        );
        let not_exhausted = headers(&[
            ("x-ratelimit-remaining", "10"),
            ("x-ratelimit-reset", &(NOW + 120).to_string()),
        ]);
        assert_eq!(classify(403, &not_exhausted, b"", now()), Verdict::Rejected);
        let secondary = br#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#;
        assert_eq!(
            classify(403, &HeaderMap::new(), secondary, now()),
            Verdict::RateLimited(Duration::from_secs(60))
        );
        assert_eq!(
            classify(429, &HeaderMap::new(), b"", now()),
            Verdict::RateLimited(Duration::from_secs(60))
        );
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(250),
            max_inline_wait: Duration::from_secs(5),
            request_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn transient_failures_are_retried_only_when_idempotent() {
        let p = policy();
        assert!(matches!(
            p.after_failure(Verdict::Transient, 1, true),
            Step::Wait(_)
        ));
        assert_eq!(
            p.after_failure(Verdict::Transient, 1, false),
            Step::Fail(RetryClass::Retry)
        );
        assert_eq!(
            p.after_failure(Verdict::Transient, 3, true),
            Step::Fail(RetryClass::Retry),
            "tries exhausted"
        );
        assert_eq!(
            p.after_failure(Verdict::Rejected, 1, true),
            Step::Fail(RetryClass::GiveUp)
        );
    }

    #[test]
    fn long_rate_limits_go_back_to_the_caller() {
        let p = policy();
        assert_eq!(
            p.after_failure(Verdict::RateLimited(Duration::from_secs(2)), 1, false),
            Step::Wait(Duration::from_secs(2))
        );
        let long = Duration::from_secs(3600);
        assert_eq!(
            p.after_failure(Verdict::RateLimited(long), 1, true),
            Step::Fail(RetryClass::RetryAfter(long))
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let p = policy();
        for _ in 0..50 {
            let first = p.backoff(1);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let second = p.backoff(2);
            assert!(
                second >= Duration::from_millis(100) && second <= Duration::from_millis(200),
                "{second:?}"
            );
            assert!(p.backoff(40) <= Duration::from_millis(250));
        }
    }

    #[test]
    fn error_messages_come_from_github_json_or_the_body() {
        let body = br#"{"message":"Validation Failed","errors":[{"resource":"IssueComment","code":"custom","field":"body","message":"body is too long (maximum is 65536 characters)"}]}"#;
        assert_eq!(
            error_message(body),
            "Validation Failed: body is too long (maximum is 65536 characters)"
        );
        assert_eq!(error_message(br#"{"message":"Not Found"}"#), "Not Found");
        assert_eq!(
            error_message(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(error_message(b""), "empty response");
        assert_eq!(
            error_message("x".repeat(500).as_bytes()).chars().count(),
            201
        );
    }
}
