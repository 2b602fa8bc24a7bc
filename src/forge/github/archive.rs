//! Downloads a commit's tarball: `GET /repos/o/r/tarball/{sha}` answers 302 to codeload; the
//! redirect is followed by hand so that the token goes only to the API's own origin, and the
//! body is streamed to disk and cut off past the size limit. Does not unpack (see `pulumi`).

use std::path::Path;

use axum::http::header::{ACCEPT, CONTENT_LENGTH, LOCATION};
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::auth::Secret;
use super::client::{GitHubClient, encode_segment, repo_path};
use super::retry::{self, Call};
use super::transport::{API_VERSION, ApiResponse, Failure, JSON};
use crate::event::{PrRef, Sha};
use crate::forge::{ForgeError, ForgeResult, RetryClass};

/// The most of an error body kept for the message.
const MAX_ERROR_BODY: usize = 64 * 1024;

impl GitHubClient {
    pub(crate) async fn fetch_archive(
        &self,
        pr: &PrRef,
        sha: &Sha,
        dest: &Path,
        max_bytes: u64,
    ) -> ForgeResult<()> {
        let path = format!(
            "{}/tarball/{}",
            repo_path(&pr.repo)?,
            encode_segment(sha.as_str())?
        );
        let call = Call {
            operation: format!("GET {path}"),
            op: "download_archive",
            idempotent: true,
        };
        let result = retry::run(&self.core.policy, &call, || {
            Box::pin(self.download_once(&call, &path, dest, max_bytes))
        })
        .await;
        if result.is_err() {
            // Never leave a partial archive behind.
            let _ = tokio::fs::remove_file(dest).await;
        }
        result.map(drop)
    }

    /// `GET {path}` on the API with the installation token, redirects not followed.
    async fn request_archive(&self, path: &str) -> Result<(Secret, reqwest::Response), Failure> {
        let token = self
            .core
            .installation_token(self.installation)
            .await
            .map_err(Failure::Final)?;
        let url = format!("{}{path}", self.core.transport.api_url);
        let response = self
            .core
            .transport
            .http
            .get(&url)
            .bearer_auth(token.expose())
            .header(ACCEPT, JSON)
            .header("x-github-api-version", API_VERSION)
            .send()
            .await
            .map_err(transport_failure)?;
        Ok((token, response))
    }

    async fn download_once(
        &self,
        call: &Call,
        path: &str,
        dest: &Path,
        max_bytes: u64,
    ) -> Result<ApiResponse, Failure> {
        let (mut token, mut response) = self.request_archive(path).await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            // Revoked or expired early: one fresh token, once.
            self.core.forget_token(self.installation);
            (token, response) = self.request_archive(path).await?;
        }
        let http = &self.core.transport.http;
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let target = response.url().join(location).map_err(|e| {
                Failure::Final(failed(
                    call,
                    &format!("bad redirect location: {e}"),
                    response.status().as_u16(),
                ))
            })?;
            let mut follow = http.get(target.clone());
            if target.origin() == response.url().origin() {
                follow = follow.bearer_auth(token.expose());
            }
            response = follow.send().await.map_err(transport_failure)?;
            if response.status().is_redirection() {
                return Err(Failure::Final(failed(
                    call,
                    "redirected more than once",
                    response.status().as_u16(),
                )));
            }
        }
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
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max_bytes) {
            return Err(Failure::Final(too_large(call, max_bytes, status)));
        }
        stream_to_file(&mut response, dest, max_bytes)
            .await
            .map_err(|error| match error {
                StreamError::TooLarge => Failure::Final(too_large(call, max_bytes, status)),
                StreamError::Read(e) => transport_failure(e),
                StreamError::Write(e) => Failure::Final(failed(
                    call,
                    &format!("cannot write {}: {e}", dest.display()),
                    status,
                )),
            })?;
        Ok(ApiResponse {
            status,
            headers,
            body: Bytes::new(),
        })
    }
}

enum StreamError {
    TooLarge,
    Read(reqwest::Error),
    Write(std::io::Error),
}

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

fn transport_failure(error: reqwest::Error) -> Failure {
    // reqwest's message names the URL, which for codeload carries a short-lived signed token.
    let error = error.without_url();
    Failure::Transport(format!("download failed: {error}"))
}

fn too_large(call: &Call, max_bytes: u64, status: u16) -> ForgeError {
    failed(
        call,
        &format!("archive larger than the limit of {max_bytes} bytes"),
        status,
    )
}

fn failed(call: &Call, message: &str, status: u16) -> ForgeError {
    ForgeError {
        operation: call.operation.clone(),
        message: message.to_owned(),
        retry: RetryClass::GiveUp,
        status: Some(status),
    }
}
