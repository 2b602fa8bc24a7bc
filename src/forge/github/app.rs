//! The GitHub App, the public handle on it: built from its configuration, it names itself (id,
//! slug, bot login) and gives the [`GitHubClient`] of an installation, the one that does the
//! `Forge` calls. Credentials, tokens and the retried call are the shared `session`.

use std::fmt;
use std::sync::Arc;

use super::client::GitHubClient;
use super::session::Session;
use super::setup::GitHubSetupError;
use crate::event::{Login, PrRef, RepoRef};
use crate::forge::retry::RetryPolicy;
use crate::forge::{ForgeError, ForgeErrorKind, ForgeResult, RetryClass};

/// A GitHub App installed on some accounts. Cheap to clone; clients share its token cache.
#[derive(Clone)]
pub struct GitHubApp {
    session: Arc<Session>,
}

impl fmt::Debug for GitHubApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubApp")
            .field("app_id", &self.session.app_id)
            .field("api_url", &self.session.transport.api_url)
            .finish_non_exhaustive()
    }
}

impl GitHubApp {
    /// An App with the default [`RetryPolicy`]. `api_url` is `https://api.github.com` or, for
    /// GitHub Enterprise Server, `https://HOST/api/v3`. Call it inside a Tokio runtime (octocrab
    /// starts a background task).
    pub fn new(
        app_id: u64,
        private_key_pem: &[u8],
        api_url: &str,
    ) -> Result<Self, GitHubSetupError> {
        Self::with_retry_policy(app_id, private_key_pem, api_url, RetryPolicy::default())
    }

    pub fn with_retry_policy(
        app_id: u64,
        private_key_pem: &[u8],
        api_url: &str,
        policy: RetryPolicy,
    ) -> Result<Self, GitHubSetupError> {
        Ok(GitHubApp {
            session: Session::new(app_id, private_key_pem, api_url, policy)?,
        })
    }

    pub fn app_id(&self) -> u64 {
        self.session.app_id
    }

    /// A client acting as the App's installation `id` (from the webhook's `installation.id`).
    pub fn installation(&self, id: u64) -> GitHubClient {
        GitHubClient::new(Arc::clone(&self.session), id)
    }

    /// The client for the installation a pull request was delivered through.
    pub fn client_for(&self, pr: &PrRef) -> ForgeResult<GitHubClient> {
        self.client_for_repo(&pr.repo_ref())
    }

    /// The client of the installation `repo` was addressed through.
    pub fn client_for_repo(&self, repo: &RepoRef) -> ForgeResult<GitHubClient> {
        repo.installation
            .map(|id| self.installation(id))
            .ok_or_else(|| ForgeError {
                operation: format!("address {repo}"),
                message: "the repository carries no GitHub App installation id".to_owned(),
                kind: ForgeErrorKind::InvalidRequest,
                retry: RetryClass::GiveUp,
                status: None,
            })
    }

    /// The App's installation on `repo` (`owner/name`), `None` when it is not installed there.
    pub async fn installation_for(
        &self,
        repo: &crate::event::RepoName,
    ) -> ForgeResult<Option<u64>> {
        let path = super::client::repo_path(repo)?;
        self.session.repo_installation(&path).await
    }

    /// The App's slug, read once from `GET /app`.
    pub async fn slug(&self) -> ForgeResult<String> {
        self.session.slug().await
    }

    /// The login the App comments as: `<slug>[bot]`.
    pub async fn bot_login(&self) -> ForgeResult<Login> {
        self.session.bot_login().await
    }
}
