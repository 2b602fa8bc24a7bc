//! Downloads a commit's tarball: `GET /repos/o/r/tarball/{sha}` answers 302 to codeload; the
//! redirect is followed by hand so that the token goes only to the API's own origin, and the
//! body is streamed to disk and cut off past the size limit. Does not unpack (see `pulumi`).

use std::path::Path;

use axum::http::header::{ACCEPT, LOCATION};

use super::client::{GitHubClient, encode_segment, repo_path};
use super::retry::GITHUB;
use super::transport::{API_VERSION, ApiResponse, Failure, JSON};
use crate::config::Secret;
use crate::event::{PrRef, Sha};
use crate::forge::http::receive_archive;
use crate::forge::retry::{self, Call};
use crate::forge::{ForgeError, ForgeErrorKind, ForgeResult, RetryClass};

impl GitHubClient {
    pub(crate) async fn download_archive(
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
        retry::run_download(&self.session.policy, &GITHUB, &call, dest, || {
            Box::pin(self.download_once(&call, &path, dest, max_bytes))
        })
        .await
    }

    /// `GET {path}` on the API with the installation token, redirects not followed.
    async fn request_archive(&self, path: &str) -> Result<(Secret, reqwest::Response), Failure> {
        let token = self
            .session
            .installation_token(self.installation)
            .await
            .map_err(Failure::Final)?;
        let url = format!("{}{path}", self.session.transport.api_url);
        let response = self
            .session
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
            self.session.forget_token(self.installation);
            (token, response) = self.request_archive(path).await?;
        }
        let http = &self.session.transport.http;
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
        receive_archive(
            response,
            &call.operation,
            dest,
            max_bytes,
            transport_failure,
        )
        .await
    }
}

fn transport_failure(error: reqwest::Error) -> Failure {
    // reqwest's message names the URL, which for codeload carries a short-lived signed token.
    let error = error.without_url();
    Failure::Transport(format!("download failed: {error}"))
}

fn failed(call: &Call, message: &str, status: u16) -> ForgeError {
    ForgeError {
        operation: call.operation.clone(),
        message: message.to_owned(),
        kind: ForgeErrorKind::InvalidResponse,
        retry: RetryClass::GiveUp,
        status: Some(status),
    }
}
