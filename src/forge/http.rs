//! HTTP plumbing both forge clients share: a response with its body read, a try that produced
//! none, reading capped bodies and streaming archives to disk, and the small request helpers
//! (operation names, percent-encoding, text cuts). Knows no forge: auth headers, pagination and
//! rate-limit headers live in each forge's module.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, HeaderMap};
use tokio::io::AsyncWriteExt;

use crate::forge::{ForgeError, ForgeErrorKind, ForgeResult, RetryClass};

/// The largest API response read into memory (raw file contents included).
pub(crate) const MAX_API_BODY: usize = 32 * 1024 * 1024;
/// The longest a connection may take to open.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an error body kept for the message.
const MAX_ERROR_BODY: usize = 64 * 1024;

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
    /// Already decided (e.g. minting a token failed, or an archive was too large).
    Final(ForgeError),
}

/// The reqwest client both forges use: redirects never followed (a token cannot leave the
/// configured origin), our connect and read timeouts, our user agent.
pub(crate) fn http_client(read_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(read_timeout)
        .user_agent(concat!("iamgate/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Decodes a JSON response of `forge` (`GitHub`, `GitLab`) into our own minimal struct (unknown
/// fields ignored); `operation` names the request in the error.
pub(crate) fn parse_json_of<T: serde::de::DeserializeOwned>(
    forge: &str,
    response: &ApiResponse,
    operation: impl FnOnce() -> String,
) -> ForgeResult<T> {
    serde_json::from_slice(&response.body).map_err(|e| ForgeError {
        operation: operation(),
        message: format!("unexpected response from {forge}: {e}"),
        kind: ForgeErrorKind::InvalidResponse,
        retry: RetryClass::GiveUp,
        status: Some(response.status),
    })
}

/// The final failure of a response over [`MAX_API_BODY`]: retrying would not make it smaller.
pub(crate) fn response_too_large(operation: String, status: u16) -> Failure {
    Failure::Final(ForgeError {
        operation,
        message: format!("response larger than {MAX_API_BODY} bytes"),
        kind: ForgeErrorKind::TooLarge,
        retry: RetryClass::GiveUp,
        status: Some(status),
    })
}

/// `GET /repos/o/r/pulls/1`, for errors and logs: the method and the path, query left out.
pub(crate) fn operation(method: &Method, path: &str) -> String {
    let path = path.split_once('?').map_or(path, |(path, _)| path);
    format!("{method} {path}")
}

/// An error for a request refused before it was sent (a malformed name, a too-long body).
pub(crate) fn invalid(operation: &str, message: &str) -> ForgeError {
    ForgeError {
        operation: operation.to_owned(),
        message: message.to_owned(),
        kind: ForgeErrorKind::InvalidRequest,
        retry: RetryClass::GiveUp,
        status: None,
    }
}

/// A repository file path with any leading `/` dropped; `.`, `..` and empty segments are
/// refused (as `operation`) so that the path cannot climb out of the endpoint it is put under.
pub(crate) fn plain_file_path<'p>(operation: &str, path: &'p str) -> ForgeResult<&'p str> {
    let path = path.trim_start_matches('/');
    if path
        .split('/')
        .any(|segment| matches!(segment, "" | "." | ".."))
    {
        return Err(invalid(
            operation,
            &format!("not a plain file path: {path:?}"),
        ));
    }
    Ok(path)
}

/// At most `limit` characters, cut on a character boundary with `…` marking the cut.
pub(crate) fn truncate_chars(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Percent-encodes everything but RFC 3986 unreserved characters, and `/` too when
/// `keep_slash`.
pub(crate) fn percent_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The start of an error body that is not the forge's JSON: at most 200 characters, trimmed.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "empty response".to_owned(),
        None => text.to_owned(),
    }
}

/// At most `cap` bytes of the body, for an error message; read failures end it quietly.
async fn read_capped(response: &mut reqwest::Response, cap: usize) -> Bytes {
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

/// Takes an archive response: a failure status comes back with (at most [`MAX_ERROR_BODY`] of)
/// its body for the retry loop to classify; a success is streamed to `dest`, failing for good
/// past `max_bytes` (declared or counted) or when `dest` cannot be written, and as
/// `read_failure` says when the body cannot be read. `operation` names the call in errors.
pub(crate) async fn receive_archive(
    mut response: reqwest::Response,
    operation: &str,
    dest: &Path,
    max_bytes: u64,
    read_failure: fn(reqwest::Error) -> Failure,
) -> Result<ApiResponse, Failure> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if !response.status().is_success() {
        let body = read_capped(&mut response, MAX_ERROR_BODY).await;
        return Ok(ApiResponse {
            status,
            headers,
            body,
        });
    }
    let failed = |kind: ForgeErrorKind, message: String| {
        Failure::Final(ForgeError {
            operation: operation.to_owned(),
            message,
            kind,
            retry: RetryClass::GiveUp,
            status: Some(status),
        })
    };
    let too_large = || {
        failed(
            ForgeErrorKind::TooLarge,
            format!("archive larger than the limit of {max_bytes} bytes"),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_bytes) {
        return Err(too_large());
    }
    stream_to_file(&mut response, dest, max_bytes)
        .await
        .map_err(|error| match error {
            StreamError::TooLarge => too_large(),
            StreamError::Read(e) => read_failure(e),
            StreamError::Write(e) => failed(
                ForgeErrorKind::Local,
                format!("cannot write {}: {e}", dest.display()),
            ),
        })?;
    Ok(ApiResponse {
        status,
        headers,
        body: Bytes::new(),
    })
}

/// Why streaming a body to a file stopped.
enum StreamError {
    /// The body grew past the limit.
    TooLarge,
    Read(reqwest::Error),
    Write(std::io::Error),
}

/// Writes the body to `dest` (created or truncated), failing past `max_bytes`.
async fn stream_to_file(
    response: &mut reqwest::Response,
    dest: &Path,
    max_bytes: u64,
) -> Result<(), StreamError> {
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(StreamError::Write)?;
    let mut written: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(StreamError::Read)? {
        written += chunk.len() as u64;
        if written > max_bytes {
            return Err(StreamError::TooLarge);
        }
        file.write_all(&chunk).await.map_err(StreamError::Write)?;
    }
    file.flush().await.map_err(StreamError::Write)
}

/// A header map from name/value pairs (for the clients' unit tests).
#[cfg(test)]
pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let value = reqwest::header::HeaderValue::from_str(value)
            .unwrap_or_else(|e| panic!("header {name}: {e}"));
        map.insert(*name, value);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_unreserved_and_optionally_slashes() {
        assert_eq!(percent_encode("a dir/x#1?.ts", true), "a%20dir/x%231%3F.ts");
        assert_eq!(percent_encode("a dir/x", false), "a%20dir%2Fx");
        assert_eq!(percent_encode("é~", false), "%C3%A9~");
    }

    #[test]
    fn excerpts_are_trimmed_and_capped() {
        assert_eq!(body_excerpt(b"  <html>bad</html>\n"), "<html>bad</html>");
        assert_eq!(body_excerpt(b""), "empty response");
        assert_eq!(
            body_excerpt("x".repeat(500).as_bytes()).chars().count(),
            201
        );
    }

    #[test]
    fn descriptions_are_cut_on_char_boundaries() {
        assert_eq!(truncate_chars("short", 140), "short");
        let long = "é".repeat(200);
        let cut = truncate_chars(&long, 140);
        assert_eq!(cut.chars().count(), 140);
        assert!(cut.ends_with('…'));
    }
}
