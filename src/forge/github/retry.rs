//! GitHub's side of the retry policy ([`crate::forge::retry`]): which responses are transient,
//! rate limited (primary limits with `x-ratelimit-reset`, secondary limits with or without
//! `retry-after`) or final, and how GitHub words its errors. octocrab's own retries are off.

use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;

use crate::forge::http::body_excerpt;
use crate::forge::retry::{Dialect, Verdict, header, retry_after, until_reset};

/// GitHub's advice when a secondary limit names no wait.
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// How GitHub's responses are read by the shared retry loop.
pub(crate) const GITHUB: Dialect = Dialect {
    name: "github",
    classify: |response, now| classify(response.status, &response.headers, &response.body, now),
    error_message,
};

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
    if let Some(wait) = retry_after(headers) {
        return Some(wait);
    }
    if header(headers, "x-ratelimit-remaining") == Some("0") {
        let reset = header(headers, "x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
        return Some(reset.map_or(SECONDARY_LIMIT_WAIT, |reset| until_reset(reset, now)));
    }
    let message = String::from_utf8_lossy(body).to_lowercase();
    let secondary = message.contains("secondary rate limit") || message.contains("abuse detection");
    (secondary || status == 429).then_some(SECONDARY_LIMIT_WAIT)
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
