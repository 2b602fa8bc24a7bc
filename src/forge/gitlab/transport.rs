//! HTTP to the GitLab API: one try at a time with reqwest (the `PRIVATE-TOKEN` header marked
//! sensitive, redirects never followed so that the token cannot leave the configured origin),
//! GitLab's side of the shared retry loop ([`crate::forge::retry`]: 429 with
//! `Retry-After`/`RateLimit-Reset`, 5xx, transport failures), and offset pagination by
//! `x-next-page`. Knows no endpoint.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, HeaderMap, HeaderValue};

use super::client::GitLabSetupError;
pub(crate) use crate::forge::http::{ApiResponse, Failure};
use crate::forge::http::{
    MAX_API_BODY, body_excerpt, http_client, operation, percent_encode, response_too_large,
};
use crate::forge::retry::{Dialect, RetryPolicy, Verdict, header, retry_after, until_reset};
/// The wait when a 429 names none.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// The most pages read for one listing (5,000 notes per MR are 50 pages of 100).
pub(crate) const MAX_PAGES: usize = 200;

/// A request relative to the API base URL (`…/api/v4`).
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub method: Method,
    /// Path and query, starting with `/` (e.g. `/projects/acme%2Finfra/merge_requests/1`).
    pub path: String,
    pub body: Option<serde_json::Value>,
}

impl ApiRequest {
    pub(crate) fn get(path: String) -> Self {
        ApiRequest {
            method: Method::GET,
            path,
            body: None,
        }
    }

    pub(crate) fn with_body(method: Method, path: String, body: serde_json::Value) -> Self {
        ApiRequest {
            method,
            path,
            body: Some(body),
        }
    }

    /// `GET /projects/…`, for errors and logs (the query is left out).
    pub(crate) fn operation(&self) -> String {
        operation(&self.method, &self.path)
    }
}

/// The HTTP client, the API base URL and the token.
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    /// E.g. `https://gitlab.com/api/v4`, no trailing slash.
    pub(crate) api_url: String,
    /// The `PRIVATE-TOKEN` value, marked sensitive (its `Debug` prints `Sensitive`).
    token: HeaderValue,
    timeout: Duration,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// `base_url` is the instance (`https://gitlab.com`, `https://host/gitlab`); an URL already
    /// ending in `/api/v4` is taken as is.
    pub(crate) fn new(
        base_url: &str,
        token: &str,
        policy: &RetryPolicy,
    ) -> Result<Self, GitLabSetupError> {
        let base = base_url.trim().trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(GitLabSetupError::Url(format!(
                "{base:?} is not an http(s) URL"
            )));
        }
        let parsed = reqwest::Url::parse(base)
            .map_err(|e| GitLabSetupError::Url(format!("{base:?}: {e}")))?;
        if parsed.host_str().is_none_or(str::is_empty)
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            return Err(GitLabSetupError::Url(format!(
                "{base:?} is not a plain instance URL"
            )));
        }
        let api_url = if base.ends_with("/api/v4") {
            base.to_owned()
        } else {
            format!("{base}/api/v4")
        };
        let token = token.trim();
        if token.is_empty() {
            return Err(GitLabSetupError::Token("the token is empty".to_owned()));
        }
        let mut token = HeaderValue::from_str(token).map_err(|_| {
            GitLabSetupError::Token("the token is not a valid header value".to_owned())
        })?;
        token.set_sensitive(true);
        let http = http_client(policy.request_timeout)
            .map_err(|e| GitLabSetupError::Client(e.to_string()))?;
        Ok(Transport {
            http,
            api_url,
            token,
            timeout: policy.request_timeout,
        })
    }

    /// A request to `path` (path and query under the API URL) carrying the token.
    pub(crate) fn builder(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.api_url))
            .header("PRIVATE-TOKEN", self.token.clone())
    }

    /// Sends `request` once and reads the whole response.
    pub(crate) async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Failure> {
        let mut builder = self
            .builder(request.method.clone(), &request.path)
            .header(ACCEPT, "application/json");
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let mut response = tokio::time::timeout(self.timeout, builder.send())
            .await
            .map_err(|_| Failure::Transport(format!("no response within {:?}", self.timeout)))?
            .map_err(transport_failure)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if declared.is_some_and(|len| len > MAX_API_BODY) {
            return Err(response_too_large(request.operation(), status));
        }
        let body = tokio::time::timeout(self.timeout, read_body(&mut response, MAX_API_BODY))
            .await
            .map_err(|_| {
                Failure::Transport(format!("response body not read within {:?}", self.timeout))
            })?;
        match body {
            Ok(Some(body)) => Ok(ApiResponse {
                status,
                headers,
                body,
            }),
            Ok(None) => Err(response_too_large(request.operation(), status)),
            Err(e) => Err(Failure::Transport(format!(
                "cannot read the response body: {}",
                e.without_url()
            ))),
        }
    }
}

/// The body, `None` when it grows past `cap`.
async fn read_body(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Option<Bytes>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > cap {
            return Ok(None);
        }
    }
    Ok(Some(Bytes::from(body)))
}

/// A reqwest failure as a transport failure; the URL is left out of the message.
pub(crate) fn transport_failure(error: reqwest::Error) -> Failure {
    Failure::Transport(format!("request failed: {}", error.without_url()))
}

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

/// The next page number from `x-next-page` (empty on the last page).
pub(crate) fn next_page(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so `/` becomes `%2F`, as
/// GitLab wants in project ids, file paths and query values).
pub(crate) fn encode_component(text: &str) -> String {
    percent_encode(text, false)
}

/// `2024-02-29T12:00:00.000Z` or `…+00:00`-style UTC timestamps; `None` for anything else.
pub(crate) fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (
        date_parts.next()??,
        date_parts.next()??,
        date_parts.next()??,
    );
    let time = time.split_once('.').map_or(time, |(whole, _)| whole);
    let mut time_parts = time.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (
        time_parts.next()??,
        time_parts.next()??,
        time_parts.next()??,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0..=60).contains(&second)
    {
        return None;
    }
    // H. Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(seconds)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn components_encode_slashes() {
        assert_eq!(
            encode_component("group/sub/project"),
            "group%2Fsub%2Fproject"
        );
        assert_eq!(
            encode_component("infra/Pulumi.prod.yaml"),
            "infra%2FPulumi.prod.yaml"
        );
        assert_eq!(encode_component("a b#?"), "a%20b%23%3F");
        assert_eq!(encode_component("é"), "%C3%A9");
    }

    #[test]
    fn next_pages_come_from_x_next_page() {
        assert_eq!(next_page(&headers(&[("x-next-page", "3")])), Some(3));
        assert_eq!(next_page(&headers(&[("x-next-page", "")])), None);
        assert_eq!(next_page(&HeaderMap::new()), None);
    }

    #[test]
    fn timestamps_parse_as_utc() {
        let at =
            |s: &str| parse_timestamp(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(at("2024-02-29T12:00:00.000Z"), Some(1_709_208_000));
        assert_eq!(at("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        assert_eq!(at("2024-02-29T12:00:00.123+00:00"), Some(1_709_208_000));
        assert_eq!(at("2024-02-29T12:00:00+02:00"), None);
        assert_eq!(at("yesterday"), None);
    }

    #[tokio::test]
    async fn instance_urls_become_api_urls() {
        let p = RetryPolicy::default();
        let api = |url: &str| Transport::new(url, "glpat-x", &p).map(|t| t.api_url);
        assert_eq!(
            api("https://gitlab.com").unwrap(),
            "https://gitlab.com/api/v4"
        );
        assert_eq!(
            api("https://gitlab.com/").unwrap(),
            "https://gitlab.com/api/v4"
        );
        assert_eq!(
            api("https://git.example.com/gitlab/api/v4/").unwrap(),
            "https://git.example.com/gitlab/api/v4"
        );
        for bad in [
            "gitlab.com",
            "ftp://gitlab.com",
            "https://",
            "https://h/x?y=1",
        ] {
            assert!(api(bad).is_err(), "{bad}");
        }
        assert!(Transport::new("https://gitlab.com", " ", &p).is_err());
        assert!(Transport::new("https://gitlab.com", "a\nb", &p).is_err());
    }

    #[tokio::test]
    async fn the_token_never_shows_in_debug() {
        let transport = Transport::new(
            "https://gitlab.com",
            "glpat-secret",
            &RetryPolicy::default(),
        )
        .unwrap();
        assert!(!format!("{transport:?}").contains("glpat-secret"));
        assert!(!format!("{:?}", transport.token).contains("glpat-secret"));
    }
}
