//! Downloads a commit's archive: `GET /projects/…/repository/archive.tar.gz?sha=…` with the
//! token (redirects never followed), the body streamed to disk and cut off past the size limit.
//! Does not unpack (see `pulumi`).

use std::path::Path;

use reqwest::Method;

use super::client::{GitLabClient, project_path, sha_param};
use super::retry::GITLAB;
use super::transport::{ApiRequest, transport_failure};
use crate::event::{PrRef, Sha};
use crate::forge::ForgeResult;
use crate::forge::http::{ApiResponse, Failure, receive_archive};
use crate::forge::retry::{self, Call};

impl GitLabClient {
    pub(crate) async fn download_archive(
        &self,
        pr: &PrRef,
        sha: &Sha,
        dest: &Path,
        max_bytes: u64,
    ) -> ForgeResult<()> {
        let path = format!(
            "{}/repository/archive.tar.gz?sha={}",
            project_path(pr)?,
            sha_param(sha)?
        );
        let call = Call {
            operation: ApiRequest::get(path.clone()).operation(),
            op: "download_archive",
            idempotent: true,
        };
        retry::run_download(self.policy(), &GITLAB, &call, dest, || {
            Box::pin(self.download_once(&call, &path, dest, max_bytes))
        })
        .await
    }

    async fn download_once(
        &self,
        call: &Call,
        path: &str,
        dest: &Path,
        max_bytes: u64,
    ) -> Result<ApiResponse, Failure> {
        let response = self
            .transport()
            .builder(Method::GET, path)
            .send()
            .await
            .map_err(transport_failure)?;
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
