//! HTTP to the GitHub API, one try at a time: octocrab (base URI, API-version header, timeouts,
//! its retries off) for API calls, reqwest for archive downloads. Requests are addressed by
//! path and query only, so every request, page two included, goes to the configured base URL with
//! the bearer token we attach; responses are decoded into our own structs. Decides nothing about
//! retries or which token to use.

use std::fmt;
use std::time::Duration;

use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH};
use axum::http::{HeaderValue, Method, Request};
use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;

use super::setup::GitHubSetupError;
use crate::config::Secret;
use crate::forge::ForgeResult;
pub(crate) use crate::forge::http::{ApiResponse, Failure};
use crate::forge::http::{
    CONNECT_TIMEOUT, MAX_API_BODY, http_client, operation, parse_json_of, percent_encode,
    response_too_large,
};
use crate::forge::retry::RetryPolicy;

/// GitHub's JSON media type.
pub(crate) const JSON: &str = "application/vnd.github+json";
/// The API version we speak (octocrab sends it with every request it builds).
pub(crate) const API_VERSION: &str = "2022-11-28";

/// A request relative to the API base URL.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub method: Method,
    /// Path and query, starting with `/` (e.g. `/repos/o/r/pulls/1`).
    pub path: String,
    pub body: Option<serde_json::Value>,
    pub accept: &'static str,
}

impl ApiRequest {
    pub(crate) fn get(path: String) -> Self {
        ApiRequest {
            method: Method::GET,
            path,
            body: None,
            accept: JSON,
        }
    }

    pub(crate) fn with_body(method: Method, path: String, body: serde_json::Value) -> Self {
        ApiRequest {
            method,
            path,
            body: Some(body),
            accept: JSON,
        }
    }

    /// `GET /repos/o/r/pulls/1`, for errors and logs (the query is left out).
    pub(crate) fn operation(&self) -> String {
        operation(&self.method, &self.path)
    }
}

/// The HTTP clients and the API base URL.
pub(crate) struct Transport {
    crab: Octocrab,
    pub(crate) http: reqwest::Client,
    /// The API base URL without a trailing slash, e.g. `https://api.github.com`.
    pub(crate) api_url: String,
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
    pub(crate) fn new(api_url: &str, policy: &RetryPolicy) -> Result<Self, GitHubSetupError> {
        let api_url = api_url.trim_end_matches('/').to_owned();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(GitHubSetupError::ApiUrl(format!(
                "{api_url:?} is not an http(s) URL"
            )));
        }
        let crab = Octocrab::builder()
            .base_uri(api_url.as_str())
            .map_err(|e| GitHubSetupError::ApiUrl(format!("{api_url:?}: {e}")))?
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(policy.request_timeout))
            .build()
            .map_err(|e| GitHubSetupError::Client(e.to_string()))?;
        let http = http_client(policy.request_timeout)
            .map_err(|e| GitHubSetupError::Client(e.to_string()))?;
        Ok(Transport {
            crab,
            http,
            api_url,
            timeout: policy.request_timeout,
        })
    }

    /// Sends `request` once with `token` as bearer credential and reads the whole response.
    pub(crate) async fn send(
        &self,
        request: &ApiRequest,
        token: &Secret,
    ) -> Result<ApiResponse, Failure> {
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| Failure::Transport("the token is not a valid header value".to_owned()))?;
        authorization.set_sensitive(true);
        let builder = Request::builder()
            .method(request.method.clone())
            .uri(request.path.as_str())
            .header(ACCEPT, request.accept)
            .header(AUTHORIZATION, authorization);
        let built = self
            .crab
            .build_request(builder, request.body.as_ref())
            .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))?;
        let response = tokio::time::timeout(self.timeout, self.crab.execute(built))
            .await
            .map_err(|_| Failure::Transport(format!("no response within {:?}", self.timeout)))?
            .map_err(|e| Failure::Transport(format!("request failed: {e}")))?;
        let (parts, body) = response.into_parts();
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if declared.is_some_and(|len| len > MAX_API_BODY) {
            return Err(response_too_large(
                request.operation(),
                parts.status.as_u16(),
            ));
        }
        let body = tokio::time::timeout(
            self.timeout,
            axum::body::to_bytes(axum::body::Body::new(body), MAX_API_BODY),
        )
        .await
        .map_err(|_| {
            Failure::Transport(format!("response body not read within {:?}", self.timeout))
        })?
        .map_err(|e| Failure::Transport(format!("cannot read the response body: {e}")))?;
        Ok(ApiResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}

/// Decodes a JSON response into our own minimal struct (unknown fields ignored).
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    response: &ApiResponse,
    request: &ApiRequest,
) -> ForgeResult<T> {
    parse_json_of("GitHub", response, || request.operation())
}

/// Percent-encodes a path for a URL, keeping `/` and RFC 3986 unreserved characters.
pub(crate) fn encode_path(path: &str) -> String {
    percent_encode(path, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_but_slashes_kept() {
        assert_eq!(
            encode_path("infra/Pulumi.prod.yaml"),
            "infra/Pulumi.prod.yaml"
        );
        assert_eq!(encode_path("a dir/x#1?.ts"), "a%20dir/x%231%3F.ts");
        assert_eq!(encode_path("é"), "%C3%A9");
    }

    #[test]
    fn operations_leave_out_the_query() {
        let request = ApiRequest::get("/repos/o/r/contents/x?ref=abc".to_owned());
        assert_eq!(request.operation(), "GET /repos/o/r/contents/x");
    }

    #[tokio::test]
    async fn transport_rejects_an_unusable_base_url() {
        for bad in [
            "not a url at all",
            "api.github.com",
            "ftp://example.com",
            "https://exa mple.com",
        ] {
            assert!(
                Transport::new(bad, &RetryPolicy::default()).is_err(),
                "{bad}"
            );
        }
        let transport =
            Transport::new("https://ghe.example.com/api/v3/", &RetryPolicy::default()).unwrap();
        assert_eq!(transport.api_url, "https://ghe.example.com/api/v3");
    }
}
