//! The App's session with GitHub, shared by the App and all its installation clients: its
//! credentials, installation tokens (minted with the App JWT, cached per installation), its
//! slug, and the authenticated, retried call every client method goes through. Knows no
//! endpoint beyond `/app` and token minting; the `Forge` calls live in `client` and the files
//! it names.

use std::sync::Arc;
use std::time::SystemTime;

use axum::http::Method;
use serde::Deserialize;

use super::auth::{JwtSigner, TokenCache, token_expiry};
use super::retry::GITHUB;
use super::setup::GitHubSetupError;
use super::transport::{ApiRequest, ApiResponse, Failure, JSON, Transport, parse_json};
use crate::config::Secret;
use crate::event::Login;
use crate::forge::retry::{self, Call, RetryPolicy};
use crate::forge::{ForgeError, ForgeErrorKind, ForgeResult, RetryClass};

pub(crate) struct Session {
    pub(crate) app_id: u64,
    signer: JwtSigner,
    pub(crate) transport: Transport,
    tokens: TokenCache,
    /// Held while minting, so that concurrent callers mint one token, not one each.
    mint_lock: tokio::sync::Mutex<()>,
    slug: tokio::sync::OnceCell<String>,
    pub(crate) policy: RetryPolicy,
}

#[derive(Deserialize)]
struct AccessToken {
    token: Secret,
    expires_at: String,
}

#[derive(Deserialize)]
struct AppInfo {
    slug: String,
}

impl Session {
    pub(crate) fn new(
        app_id: u64,
        private_key_pem: &[u8],
        api_url: &str,
        policy: RetryPolicy,
    ) -> Result<Arc<Self>, GitHubSetupError> {
        let signer = JwtSigner::new(app_id, private_key_pem)
            .map_err(|e| GitHubSetupError::PrivateKey(e.to_string()))?;
        let transport = Transport::new(api_url, &policy)?;
        Ok(Arc::new(Session {
            app_id,
            signer,
            transport,
            tokens: TokenCache::default(),
            mint_lock: tokio::sync::Mutex::new(()),
            slug: tokio::sync::OnceCell::new(),
            policy,
        }))
    }

    /// Sends `request` as installation `id`, retried per the policy; a non-2xx response is an
    /// error.
    pub(crate) async fn call(
        &self,
        id: u64,
        request: &ApiRequest,
        op: &'static str,
        idempotent: bool,
    ) -> Result<ApiResponse, ForgeError> {
        let call = Call {
            operation: request.operation(),
            op,
            idempotent,
        };
        retry::run(&self.policy, &GITHUB, &call, || {
            Box::pin(self.attempt(id, request))
        })
        .await
    }

    async fn attempt(&self, id: u64, request: &ApiRequest) -> Result<ApiResponse, Failure> {
        let token = self.installation_token(id).await.map_err(Failure::Final)?;
        let response = self.transport.send(request, &token).await?;
        if response.status == 401 {
            // Revoked or expired early: one fresh token, once (a refused request was not applied).
            tracing::info!(
                installation = id,
                "installation token refused, minting a new one"
            );
            self.tokens.invalidate(id);
            let token = self.installation_token(id).await.map_err(Failure::Final)?;
            return self.transport.send(request, &token).await;
        }
        Ok(response)
    }

    /// Sends `request` with the App JWT, retried per the policy. Our App calls (`GET /app`,
    /// minting a token) are harmless to repeat.
    async fn call_as_app(
        &self,
        request: &ApiRequest,
        op: &'static str,
    ) -> Result<ApiResponse, ForgeError> {
        let call = Call {
            operation: request.operation(),
            op,
            idempotent: true,
        };
        retry::run(&self.policy, &GITHUB, &call, || {
            Box::pin(async move {
                let jwt = self.jwt().map_err(Failure::Final)?;
                self.transport.send(request, &jwt).await
            })
        })
        .await
    }

    fn jwt(&self) -> Result<Secret, ForgeError> {
        self.signer.sign(SystemTime::now()).map_err(|e| ForgeError {
            operation: "sign the App JWT".to_owned(),
            message: e.to_string(),
            kind: ForgeErrorKind::Local,
            retry: RetryClass::GiveUp,
            status: None,
        })
    }

    /// The cached token of installation `id`, minted when missing or about to expire.
    pub(crate) async fn installation_token(&self, id: u64) -> Result<Secret, ForgeError> {
        if let Some(token) = self.tokens.get(id, SystemTime::now()) {
            return Ok(token);
        }
        let _minting = self.mint_lock.lock().await;
        if let Some(token) = self.tokens.get(id, SystemTime::now()) {
            return Ok(token);
        }
        let request = ApiRequest {
            method: Method::POST,
            path: format!("/app/installations/{id}/access_tokens"),
            body: None,
            accept: JSON,
        };
        let minted_at = SystemTime::now();
        let response = self.call_as_app(&request, "installation_token").await?;
        let token: AccessToken = parse_json(&response, &request)?;
        self.tokens.put(
            id,
            token.token.clone(),
            token_expiry(&token.expires_at, minted_at),
        );
        tracing::debug!(installation = id, expires_at = %token.expires_at, "minted an installation token");
        Ok(token.token)
    }

    /// Forgets a token GitHub refused, so that the next call mints a new one.
    pub(crate) fn forget_token(&self, id: u64) {
        self.tokens.invalidate(id);
    }

    /// The App's slug, read once from `GET /app`.
    pub(crate) async fn slug(&self) -> ForgeResult<String> {
        self.slug
            .get_or_try_init(|| async {
                let request = ApiRequest::get("/app".to_owned());
                let response = self.call_as_app(&request, "app").await?;
                parse_json::<AppInfo>(&response, &request).map(|app| app.slug)
            })
            .await
            .cloned()
    }

    /// The App's installation on repository `owner/name` (`GET /repos/{owner}/{repo}/installation`
    /// as the App), `None` when the App is not installed there.
    pub(crate) async fn repo_installation(&self, repo_path: &str) -> ForgeResult<Option<u64>> {
        #[derive(serde::Deserialize)]
        struct InstallationJson {
            id: u64,
        }
        let request = ApiRequest::get(format!("{repo_path}/installation"));
        match self.call_as_app(&request, "repo_installation").await {
            Ok(response) => Ok(Some(
                parse_json::<InstallationJson>(&response, &request)?.id,
            )),
            Err(error) if error.kind == ForgeErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The login the App comments as: `<slug>[bot]`.
    pub(crate) async fn bot_login(&self) -> ForgeResult<Login> {
        Ok(Login(format!("{}[bot]", self.slug().await?)))
    }
}
