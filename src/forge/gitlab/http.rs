//! HTTP to the GitLab API: one try at a time with reqwest (the `PRIVATE-TOKEN` header marked
//! sensitive, redirects never followed so that the token cannot leave the configured origin),
//! the retry loop around it (GitLab's 429 with `Retry-After`/`RateLimit-Reset`, 5xx, transport
//! failures), and offset pagination by `x-next-page`. Knows no endpoint.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, HeaderMap, HeaderValue};

use super::GitLabSetupError;
use crate::forge::github::RetryPolicy;
use crate::forge::{ForgeError, ForgeResult, RetryClass};

/// The largest API response read into memory (raw file contents included).
const MAX_API_BODY: usize = 32 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The wait when a 429 names none.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// The most pages read for one listing (5,000 notes per MR are 50 pages of 100).
pub(crate) const MAX_PAGES: usize = 200;
/// The most of an error body kept for the message.
pub(crate) const MAX_ERROR_BODY: usize = 64 * 1024;

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
        let path = self
            .path
            .split_once('?')
            .map_or(self.path.as_str(), |(path, _)| path);
        format!("{} {path}", self.method)
    }
}

/// A response, body read.
#[derive(Debug, Clone)]
pub(crate) struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A try that produced no response to classify.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Connection, timeout or body read failure: the request may or may not have been applied.
    Transport(String),
    /// Already decided (e.g. an archive was too large).
    Final(ForgeError),
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
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(policy.request_timeout)
            .user_agent(concat!("iamgate/", env!("CARGO_PKG_VERSION")))
            .build()
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
            return Err(Failure::Final(ForgeError {
                operation: request.operation(),
                message: format!("response larger than {MAX_API_BODY} bytes"),
                retry: RetryClass::GiveUp,
                status: Some(status),
            }));
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
            Ok(None) => Err(Failure::Final(ForgeError {
                operation: request.operation(),
                message: format!("response larger than {MAX_API_BODY} bytes"),
                retry: RetryClass::GiveUp,
                status: Some(status),
            })),
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

/// At most `cap` bytes of the body, for an error message; read failures end it quietly.
pub(crate) async fn read_capped(response: &mut reqwest::Response, cap: usize) -> Bytes {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= cap {
            body.truncate(cap);
            break;
        }
    }
    Bytes::from(body)
}

/// A reqwest failure as a transport failure; the URL is left out of the message.
pub(crate) fn transport_failure(error: reqwest::Error) -> Failure {
    Failure::Transport(format!("request failed: {}", error.without_url()))
}

/// What a response means for retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Success,
    /// 5xx or a transport failure: may be retried (only safely when idempotent).
    Transient,
    /// 429: retry after this long.
    RateLimited(Duration),
    /// Any other 3xx/4xx: retrying will not help.
    Rejected,
}

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
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if let Some(seconds) = header("retry-after") {
        return Duration::from_secs(seconds.max(1));
    }
    if let Some(reset) = header("ratelimit-reset") {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        return Duration::from_secs(reset.saturating_sub(now) + 1);
    }
    DEFAULT_RATE_LIMIT_WAIT
}

/// What to do after a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Wait(Duration),
    Fail(RetryClass),
}

/// The step after try number `attempt` (1-based) failed with `verdict`.
pub(crate) fn after_failure(
    policy: &RetryPolicy,
    verdict: Verdict,
    attempt: u32,
    idempotent: bool,
) -> Step {
    let tries_left = attempt < policy.max_attempts;
    match verdict {
        Verdict::Success | Verdict::Rejected => Step::Fail(RetryClass::GiveUp),
        Verdict::Transient if idempotent && tries_left => Step::Wait(policy.backoff(attempt)),
        Verdict::Transient => Step::Fail(RetryClass::Retry),
        // A rate-limited request was not processed, so even a POST may be sent again.
        Verdict::RateLimited(wait) if tries_left && wait <= policy.max_inline_wait => {
            Step::Wait(wait)
        }
        Verdict::RateLimited(wait) => Step::Fail(RetryClass::RetryAfter(wait)),
    }
}

/// One try of a call, as a boxed future so that it can be made again.
pub(crate) type Attempt<'a> =
    Pin<Box<dyn Future<Output = Result<ApiResponse, Failure>> + Send + 'a>>;

/// What a call is, for errors, metrics and the retry decision.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// E.g. `GET /projects/acme%2Finfra/merge_requests/1`.
    pub operation: String,
    /// The metric label, e.g. `pull_request`.
    pub op: &'static str,
    /// Whether sending it twice is harmless (GET, PUT, POST of a status).
    pub idempotent: bool,
}

/// Runs `attempt` until it succeeds or the policy gives up; non-2xx results become errors.
pub(crate) async fn run<'a>(
    policy: &RetryPolicy,
    call: &Call,
    mut attempt: impl FnMut() -> Attempt<'a> + Send,
) -> ForgeResult<ApiResponse> {
    let mut number = 1;
    loop {
        metrics::counter!("iamgate_forge_calls_total", "forge" => "gitlab", "op" => call.op)
            .increment(1);
        let (verdict, status, message) = match attempt().await {
            Ok(response) => {
                let verdict = classify(response.status, &response.headers, SystemTime::now());
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
        let step = after_failure(policy, verdict, number, call.idempotent);
        let kind = match (verdict, step) {
            (Verdict::RateLimited(_), _) => "rate_limited",
            (_, Step::Fail(RetryClass::GiveUp)) => "give_up",
            _ => "retry",
        };
        metrics::counter!("iamgate_forge_errors_total", "forge" => "gitlab", "op" => call.op, "kind" => kind).increment(1);
        match step {
            Step::Wait(wait) => {
                tracing::info!(operation = %call.operation, ?status, attempt = number, wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), %message, "gitlab call failed, retrying");
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
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "empty response".to_owned(),
        None => text.to_owned(),
    }
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
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
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
    fn only_idempotent_calls_are_retried_after_a_5xx() {
        let p = policy();
        assert!(matches!(
            after_failure(&p, Verdict::Transient, 1, true),
            Step::Wait(_)
        ));
        assert_eq!(
            after_failure(&p, Verdict::Transient, 1, false),
            Step::Fail(RetryClass::Retry)
        );
        assert_eq!(
            after_failure(&p, Verdict::Transient, 3, true),
            Step::Fail(RetryClass::Retry)
        );
        assert_eq!(
            after_failure(&p, Verdict::Rejected, 1, true),
            Step::Fail(RetryClass::GiveUp)
        );
        assert_eq!(
            after_failure(&p, Verdict::RateLimited(Duration::from_secs(2)), 1, false),
            Step::Wait(Duration::from_secs(2))
        );
        let long = Duration::from_secs(3600);
        assert_eq!(
            after_failure(&p, Verdict::RateLimited(long), 1, true),
            Step::Fail(RetryClass::RetryAfter(long))
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
