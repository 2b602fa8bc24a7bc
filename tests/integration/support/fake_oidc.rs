//! A fake OIDC issuer, as GitHub Actions' and GitLab's are seen by a relying party: a discovery
//! document (`/.well-known/openid-configuration`, naming the issuer and its `jwks_uri`) and the
//! key set, with key rotation, a counter of key fetches, and a discovery document that points
//! its keys elsewhere. It signs ID tokens with the test-only keys of
//! `tests/fixtures/keys/oidc-issuer-*` (RS256).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const KEY_1: &str = include_str!("../../fixtures/keys/oidc-issuer-1.private-key.pem");
const KEY_2: &str = include_str!("../../fixtures/keys/oidc-issuer-2.private-key.pem");
const JWK_1: &str = include_str!("../../fixtures/keys/oidc-issuer-1.jwk.json");
const JWK_2: &str = include_str!("../../fixtures/keys/oidc-issuer-2.jwk.json");

/// The key ids of the two test keys.
pub const KID_1: &str = "test-key-1";
pub const KID_2: &str = "test-key-2";

#[derive(Debug, Default)]
struct Issuer {
    url: String,
    /// The keys published (JWKs).
    keys: Vec<Value>,
    /// How many times the key set was fetched.
    fetches: usize,
    /// A `jwks_uri` to publish instead of the issuer's own.
    jwks_uri: Option<String>,
    /// What the Actions token endpoint hands out: the claims, signed when asked.
    actions_claims: Option<Value>,
    /// The audiences the Actions token endpoint was asked for.
    asked_audiences: Vec<String>,
}

type Shared = Arc<Mutex<Issuer>>;

/// A running fake issuer on loopback.
pub struct FakeIssuer {
    pub url: String,
    state: Shared,
}

impl FakeIssuer {
    /// An issuer publishing key 1.
    pub async fn start() -> Self {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks", get(jwks))
            .route("/actions/token", get(actions_token))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        {
            let mut issuer = state.lock().unwrap();
            issuer.url = url.clone();
            issuer.keys = vec![serde_json::from_str(JWK_1).unwrap()];
        }
        FakeIssuer { url, state }
    }

    /// Publishes key 2 instead of key 1 (a rotation).
    pub fn rotate(&self) {
        self.state.lock().unwrap().keys = vec![serde_json::from_str(JWK_2).unwrap()];
    }

    /// Publishes `jwks_uri` as where its keys are.
    pub fn point_keys_at(&self, jwks_uri: &str) {
        self.state.lock().unwrap().jwks_uri = Some(jwks_uri.to_owned());
    }

    /// The runtime's ID token endpoint of a GitHub Actions job (`ACTIONS_ID_TOKEN_REQUEST_URL`,
    /// with the request token [`ACTIONS_REQUEST_TOKEN`]) hands out `claims`, signed, with the
    /// audience asked for.
    pub fn actions_token_url(&self, claims: Value) -> String {
        self.state.lock().unwrap().actions_claims = Some(claims);
        format!("{}/actions/token?api-version=2.0", self.url)
    }

    /// The audiences the Actions token endpoint was asked for.
    pub fn asked_audiences(&self) -> Vec<String> {
        self.state.lock().unwrap().asked_audiences.clone()
    }

    /// How many times the key set was fetched.
    pub fn key_fetches(&self) -> usize {
        self.state.lock().unwrap().fetches
    }

    /// A token with `claims`, signed with key `kid` (1 or 2) and labelled `label_kid`.
    pub fn sign_as(&self, kid: &str, label_kid: &str, claims: &Value) -> String {
        let pem = if kid == KID_2 { KEY_2 } else { KEY_1 };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(label_kid.to_owned());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    /// A token with `claims`, signed with key 1.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(KID_1, KID_1, claims)
    }

    /// Claims of a GitHub Actions job of `repository` on pull request `pr` whose `sha` claim
    /// is `sha`, for audience `iamgate`, valid for five minutes.
    pub fn github_claims(&self, repository: &str, pr: u64, sha: &str) -> Value {
        let now = now();
        json!({
            "iss": self.url,
            "aud": "iamgate",
            "sub": format!("repo:{repository}:pull_request"),
            "jti": format!("jti-{}", rand_suffix()),
            "iat": now, "nbf": now - 5, "exp": now + 300,
            "repository": repository,
            "ref": format!("refs/pull/{pr}/merge"),
            "sha": sha,
            "event_name": "pull_request",
            "workflow_ref": format!("{repository}/.github/workflows/iamgate.yml@refs/pull/{pr}/merge"),
            "job_workflow_ref": format!("{repository}/.github/workflows/iamgate.yml@refs/heads/main"),
            "run_id": "4242", "run_attempt": "1",
        })
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

async fn discovery(State(state): State<Shared>) -> Json<Value> {
    let issuer = state.lock().unwrap();
    let jwks_uri = issuer
        .jwks_uri
        .clone()
        .unwrap_or_else(|| format!("{}/.well-known/jwks", issuer.url));
    Json(json!({
        "issuer": issuer.url,
        "jwks_uri": jwks_uri,
        "subject_types_supported": ["public"],
        "response_types_supported": ["id_token"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

/// The request token of the emulated Actions runtime.
pub const ACTIONS_REQUEST_TOKEN: &str = "actions-runtime-request-token";

async fn actions_token(
    State(state): State<Shared>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Value>, axum::http::StatusCode> {
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(&format!("bearer {ACTIONS_REQUEST_TOKEN}")));
    if !authorized {
        return Err(axum::http::StatusCode::UNAUTHORIZED);
    }
    let audience = query.get("audience").cloned().unwrap_or_default();
    let mut issuer = state.lock().unwrap();
    issuer.asked_audiences.push(audience.clone());
    let mut claims = issuer
        .actions_claims
        .clone()
        .ok_or(axum::http::StatusCode::NOT_FOUND)?;
    claims["aud"] = json!(audience);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID_1.to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(KEY_1.as_bytes()).unwrap(),
    )
    .unwrap();
    Ok(Json(json!({ "count": 1, "value": token })))
}

async fn jwks(State(state): State<Shared>) -> Json<Value> {
    let mut issuer = state.lock().unwrap();
    issuer.fetches += 1;
    Json(json!({ "keys": issuer.keys }))
}
