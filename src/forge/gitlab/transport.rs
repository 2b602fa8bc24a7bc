//! HTTP to the GitLab API, one try at a time with reqwest (the `PRIVATE-TOKEN` header marked
//! sensitive, redirects never followed so that the token cannot leave the configured origin);
//! responses are decoded into our own structs. Knows no endpoint; decides nothing about
//! retries.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, HeaderValue};

use super::setup::GitLabSetupError;
use crate::forge::ForgeResult;
pub(crate) use crate::forge::http::{ApiResponse, Failure};
use crate::forge::http::{
    MAX_API_BODY, http_client, operation, parse_json_of, percent_encode, response_too_large,
};
use crate::forge::retry::RetryPolicy;

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

/// Decodes a JSON response into our own minimal struct (unknown fields ignored).
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    response: &ApiResponse,
    request: &ApiRequest,
) -> ForgeResult<T> {
    parse_json_of("GitLab", response, || request.operation())
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so `/` becomes `%2F`, as
/// GitLab wants in project ids, file paths and query values).
pub(crate) fn encode_component(text: &str) -> String {
    percent_encode(text, false)
}

#[cfg(test)]
mod tests {
    use super::*;

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
