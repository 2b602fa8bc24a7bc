//! GitLab's side of the retry policy ([`crate::forge::retry`]): which responses are transient
//! (5xx), rate limited (429 with `Retry-After` or `RateLimit-Reset`) or final, and how GitLab
//! words its errors.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use crate::forge::http::body_excerpt;
use crate::forge::retry::{Dialect, Verdict, header, retry_after, until_reset};

/// The wait when a 429 names none.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// How GitLab's responses are read by the shared retry loop.
pub(crate) const GITLAB: Dialect = Dialect {
    name: "gitlab",
    classify: |response, now| classify(response.status, &response.headers, now),
    error_message,
};

/// Classifies a GitLab response at time `now`.
pub(crate) fn classify(status: u16, headers: &HeaderMap, now: SystemTime) -> Verdict {
    match status {
        200..=299 => Verdict::Success,
        429 => Verdict::RateLimited(rate_limit_wait(headers, now)),
        500..=599 => Verdict::Transient,
        _ => Verdict::Rejected,
    }
}

/// `Retry-After` (seconds), else `RateLimit-Reset` (epoch seconds), else a minute.
fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Duration {
    if let Some(wait) = retry_after(headers) {
        return wait;
    }
    if let Some(reset) = header(headers, "ratelimit-reset").and_then(|v| v.parse::<u64>().ok()) {
        return until_reset(reset, now);
    }
    DEFAULT_RATE_LIMIT_WAIT
}

/// GitLab's error (`message` as text or as field → errors, or `error`), or the start of the body.
pub(crate) fn error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let text = match (value.get("message"), value.get("error")) {
            (Some(serde_json::Value::String(m)), _) => Some(m.clone()),
            (Some(serde_json::Value::Object(fields)), _) => Some(
                fields
                    .iter()
                    .map(|(field, errors)| match errors {
                        serde_json::Value::Array(list) => format!(
                            "{field} {}",
                            list.iter()
                                .filter_map(|e| e.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        other => format!("{field} {other}"),
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            (Some(other), _) => Some(other.to_string()),
            (None, Some(serde_json::Value::String(e))) => Some(e.clone()),
            _ => None,
        };
        if let Some(text) = text {
            return text;
        }
    }
    body_excerpt(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::http::headers;
    use std::time::UNIX_EPOCH;

    const NOW: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn statuses_classify() {
        let none = HeaderMap::new();
        assert_eq!(classify(200, &none, now()), Verdict::Success);
        assert_eq!(classify(201, &none, now()), Verdict::Success);
        assert_eq!(
            classify(302, &none, now()),
            Verdict::Rejected,
            "no redirects"
        );
        assert_eq!(classify(502, &none, now()), Verdict::Transient);
        assert_eq!(classify(404, &none, now()), Verdict::Rejected);
        assert_eq!(classify(403, &none, now()), Verdict::Rejected);
        assert_eq!(
            classify(429, &none, now()),
            Verdict::RateLimited(DEFAULT_RATE_LIMIT_WAIT)
        );
    }

    #[test]
    fn rate_limits_name_their_wait() {
        assert_eq!(
            classify(429, &headers(&[("retry-after", "7")]), now()),
            Verdict::RateLimited(Duration::from_secs(7))
        );
        assert_eq!(
            classify(
                429,
                &headers(&[("ratelimit-reset", &(NOW + 30).to_string())]),
                now()
            ),
            Verdict::RateLimited(Duration::from_secs(31))
        );
        assert_eq!(
            classify(429, &headers(&[("retry-after", "0")]), now()),
            Verdict::RateLimited(Duration::from_secs(1))
        );
    }

    #[test]
    fn error_messages_come_from_gitlab_json_or_the_body() {
        assert_eq!(
            error_message(br#"{"message":"404 Project Not Found"}"#),
            "404 Project Not Found"
        );
        assert_eq!(
            error_message(
                br#"{"message":{"note":["is too long (maximum is 1000000 characters)"]}}"#
            ),
            "note is too long (maximum is 1000000 characters)"
        );
        assert_eq!(
            error_message(br#"{"error":"invalid_token"}"#),
            "invalid_token"
        );
        assert_eq!(error_message(b""), "empty response");
        assert_eq!(error_message(b"<html>502</html>"), "<html>502</html>");
    }
}
