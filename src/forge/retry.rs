//! Our retry policy for forge calls, in one place for both forges: how long to back off, when a
//! rate-limit wait is slept in place and when it is handed back to the job layer as
//! [`RetryClass::RetryAfter`], and the bounded loop around one call. Which responses are
//! transient, rate limited or final is each forge's own [`Dialect`]; what kind of failure a
//! failed try was ([`ForgeErrorKind`]) is read here, once for both. Sends nothing itself:
//! [`run`] drives a caller's attempt function.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

use crate::forge::http::{ApiResponse, Failure};
use crate::forge::{ForgeError, ForgeErrorKind, ForgeResult, RetryClass};

/// How forge calls are retried. The defaults suit production; tests shorten the waits.
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

/// What a response means for retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Success,
    /// 5xx or a transport failure: may be retried (only safely when idempotent).
    Transient,
    /// Rate limited: retry after this long.
    RateLimited(Duration),
    /// Any other failure: retrying will not help.
    Rejected,
}

/// What to do after a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Wait(Duration),
    Fail(RetryClass),
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

/// What one forge's responses mean: its name (the `forge` metric label and log prefix), how it
/// classifies a response at a given time, and how it words its errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    /// `github` or `gitlab`.
    pub name: &'static str,
    pub classify: fn(&ApiResponse, SystemTime) -> Verdict,
    pub error_message: fn(&[u8]) -> String,
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
    /// Whether sending it twice is harmless (GET, PUT/PATCH, POST of a status).
    pub idempotent: bool,
}

/// Runs `attempt` until it succeeds or the policy gives up; responses `dialect` does not call a
/// success become errors.
pub(crate) async fn run<'a>(
    policy: &RetryPolicy,
    dialect: &Dialect,
    call: &Call,
    mut attempt: impl FnMut() -> Attempt<'a> + Send,
) -> ForgeResult<ApiResponse> {
    let forge = dialect.name;
    let mut number = 1;
    loop {
        metrics::counter!("iamgate_forge_calls_total", "forge" => forge, "op" => call.op)
            .increment(1);
        let (verdict, status, message) = match attempt().await {
            Ok(response) => {
                let verdict = (dialect.classify)(&response, SystemTime::now());
                if verdict == Verdict::Success {
                    return Ok(response);
                }
                (
                    verdict,
                    Some(response.status),
                    (dialect.error_message)(&response.body),
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
        metrics::counter!("iamgate_forge_errors_total", "forge" => forge, "op" => call.op, "kind" => kind).increment(1);
        match step {
            Step::Wait(wait) => {
                tracing::info!(operation = %call.operation, ?status, attempt = number, wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), %message, "{forge} call failed, retrying");
                tokio::time::sleep(wait).await;
                number += 1;
            }
            Step::Fail(retry) => {
                return Err(ForgeError {
                    operation: call.operation.clone(),
                    message,
                    kind: error_kind(verdict, status),
                    retry,
                    status,
                });
            }
        }
    }
}

/// What kind of failure a failed try was: a rate limit as the forge's [`Dialect`] found it,
/// else what the status says; without a response, a transport failure.
pub(crate) fn error_kind(verdict: Verdict, status: Option<u16>) -> ForgeErrorKind {
    match (verdict, status) {
        (Verdict::RateLimited(_), _) | (_, Some(429)) => ForgeErrorKind::RateLimited,
        (_, None) => ForgeErrorKind::Transport,
        (_, Some(400)) => ForgeErrorKind::BadRequest,
        (_, Some(401)) => ForgeErrorKind::Unauthorized,
        (_, Some(403)) => ForgeErrorKind::Forbidden,
        (_, Some(404)) => ForgeErrorKind::NotFound,
        (_, Some(409)) => ForgeErrorKind::Conflict,
        (_, Some(422)) => ForgeErrorKind::Unprocessable,
        (_, Some(500..=599)) => ForgeErrorKind::Server,
        (_, Some(_)) => ForgeErrorKind::OtherStatus,
    }
}

/// Runs a download to `dest` like [`run`]; when it fails, removes whatever part of `dest` was
/// written, so that a partial archive is never left behind.
pub(crate) async fn run_download<'a>(
    policy: &RetryPolicy,
    dialect: &Dialect,
    call: &Call,
    dest: &Path,
    attempt: impl FnMut() -> Attempt<'a> + Send,
) -> ForgeResult<()> {
    let result = run(policy, dialect, call, attempt).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(dest).await;
    }
    result.map(drop)
}

/// A header's value, trimmed, when it is text.
pub(crate) fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The wait a `Retry-After` header names in seconds (at least one second).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header(headers, "retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|seconds| Duration::from_secs(seconds.max(1)))
}

/// The wait until a rate limit resets at `reset` (epoch seconds), plus a second.
pub(crate) fn until_reset(reset: u64, now: SystemTime) -> Duration {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Duration::from_secs(reset.saturating_sub(now) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            p.after_failure(Verdict::RateLimited(Duration::from_secs(2)), 3, true),
            Step::Fail(RetryClass::RetryAfter(Duration::from_secs(2))),
            "tries exhausted"
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
    fn failed_tries_get_their_kind_once() {
        let kind = |verdict, status| error_kind(verdict, status);
        let wait = Verdict::RateLimited(Duration::from_secs(1));
        assert_eq!(kind(wait, Some(403)), ForgeErrorKind::RateLimited);
        assert_eq!(
            kind(Verdict::Rejected, Some(403)),
            ForgeErrorKind::Forbidden
        );
        assert_eq!(kind(Verdict::Rejected, Some(404)), ForgeErrorKind::NotFound);
        assert_eq!(
            kind(Verdict::Rejected, Some(401)),
            ForgeErrorKind::Unauthorized
        );
        assert_eq!(
            kind(Verdict::Rejected, Some(400)),
            ForgeErrorKind::BadRequest
        );
        assert_eq!(kind(Verdict::Rejected, Some(409)), ForgeErrorKind::Conflict);
        assert_eq!(
            kind(Verdict::Rejected, Some(422)),
            ForgeErrorKind::Unprocessable
        );
        assert_eq!(
            kind(Verdict::Rejected, Some(302)),
            ForgeErrorKind::OtherStatus
        );
        assert_eq!(kind(Verdict::Transient, Some(502)), ForgeErrorKind::Server);
        assert_eq!(kind(Verdict::Transient, None), ForgeErrorKind::Transport);
    }

    #[test]
    fn rate_limit_headers_read_as_waits() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", " 0 ".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(1)));
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(until_reset(1_030, now), Duration::from_secs(31));
        assert_eq!(until_reset(10, now), Duration::from_secs(1));
    }
}
