//! Verifying a CI job's OIDC ID token: the issuer must be one the server config trusts
//! (`[ci] github_issuer`, `gitlab_issuer`, compared exactly with the token's `iss`); its keys
//! come from its discovery document (`<issuer>/.well-known/openid-configuration` → `jwks_uri`,
//! on the issuer's own origin), cached, and fetched again for a key id not in the cache at most
//! once a minute per issuer (so a flood of tokens with made-up key ids cannot make iamgate hammer
//! the issuer). Only asymmetric algorithms, and only the one the key is for (never `none`, never
//! HMAC: a JWKS entry of kind `oct` is ignored); `exp` and `nbf` with at most a minute of clock
//! skew; `aud` must be `[ci] audience`; a `jti` is required (the caller records it, so a token
//! is accepted once).
//!
//! What it trusts: the issuer's TLS and keys. What it does not: anything in the token before
//! its signature is checked (the issuer named in it only chooses which trusted issuer's keys to
//! try).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::claims::{CiClaims, CiKind};
use crate::config::server::CiConfig;

/// How long fetched keys are used before they are fetched again.
const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// The least time between two fetches of one issuer's keys.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(60);
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// The largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Why a token was refused, in words for the `401` reply (never echoing the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    #[error("the token is signed with {0}: only the issuer's asymmetric algorithms are accepted")]
    Algorithm(String),
    #[error("the token names no key (`kid`)")]
    NoKeyId,
    #[error(
        "the token's issuer {0:?} is not one this server trusts ([ci] github_issuer, gitlab_issuer)"
    )]
    UnknownIssuer(String),
    #[error("the issuer {issuer} has no key {kid:?}")]
    UnknownKey { issuer: String, kid: String },
    #[error("the issuer's key {0:?} is not usable for the token's algorithm")]
    KeyMismatch(String),
    #[error("the issuer's keys could not be fetched: {0}")]
    Keys(String),
    #[error("the token was refused: {0}")]
    Invalid(String),
    #[error("the token has no `jti`: it could not be accepted only once")]
    NoTokenId,
}

/// A token that verified: which CI, and its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub kind: CiKind,
    pub claims: CiClaims,
}

#[derive(Debug, Clone)]
struct TrustedIssuer {
    url: String,
    kind: CiKind,
}

#[derive(Debug, Default)]
struct IssuerKeys {
    keys: Option<JwkSet>,
    fetched: Option<Instant>,
}

/// Verifies CI ID tokens against the trusted issuers' keys. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Verifier {
    http: reqwest::Client,
    refetch_every: Duration,
    audience: String,
    issuers: Vec<TrustedIssuer>,
    keys: Mutex<HashMap<String, IssuerKeys>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct IssuerOnly {
    #[serde(default)]
    iss: String,
}

impl Verifier {
    /// A verifier for the `[ci]` config's audience and issuers.
    pub fn new(config: &CiConfig) -> reqwest::Result<Self> {
        let mut issuers = vec![TrustedIssuer {
            url: config.github_issuer.clone(),
            kind: CiKind::GitHubActions,
        }];
        if let Some(url) = &config.gitlab_issuer {
            issuers.push(TrustedIssuer {
                url: url.clone(),
                kind: CiKind::GitLabCi,
            });
        }
        Ok(Verifier {
            http: crate::forge::http::http_client(Duration::from_secs(10))?,
            audience: config.audience.clone(),
            issuers,
            keys: Mutex::new(HashMap::new()),
            refetch_every: REFETCH_AT_MOST_EVERY,
        })
    }

    /// The same verifier, fetching an issuer's keys again at most once per `interval` (a
    /// minute by default).
    pub fn with_refetch_interval(self, interval: Duration) -> Self {
        Verifier {
            refetch_every: interval,
            ..self
        }
    }

    /// Verifies `token`: signature, issuer, audience, time, `jti`.
    pub async fn verify(&self, token: &str) -> Result<Verified, OidcError> {
        let header = decode_header(token).map_err(|e| OidcError::Malformed(e.to_string()))?;
        if !is_asymmetric(header.alg) {
            return Err(OidcError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.clone().ok_or(OidcError::NoKeyId)?;
        // Only to choose which trusted issuer's keys to try: checked again once verified.
        let named = jsonwebtoken::dangerous::insecure_decode::<IssuerOnly>(token)
            .map_err(|e| OidcError::Malformed(e.to_string()))?
            .claims
            .iss;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.url == named)
            .ok_or_else(|| OidcError::UnknownIssuer(named.clone()))?;
        let jwk = self.key(issuer, &kid).await?;
        let key = decoding_key(&jwk, header.alg, &kid)?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&issuer.url]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = decode::<CiClaims>(token, &key, &validation)
            .map_err(|e| OidcError::Invalid(e.to_string()))?;
        if data.claims.jti.as_deref().is_none_or(str::is_empty) {
            return Err(OidcError::NoTokenId);
        }
        Ok(Verified {
            kind: issuer.kind,
            claims: data.claims,
        })
    }

    /// Key `kid` of `issuer`: from the cache, else fetched (at most once a minute).
    async fn key(&self, issuer: &TrustedIssuer, kid: &str) -> Result<Jwk, OidcError> {
        let mut cache = self.keys.lock().await;
        let entry = cache.entry(issuer.url.clone()).or_default();
        let fresh = entry.fetched.is_some_and(|at| at.elapsed() < KEYS_MAX_AGE);
        if fresh && let Some(found) = entry.keys.as_ref().and_then(|k| k.find(kid)) {
            return Ok(found.clone());
        }
        let may_fetch = entry
            .fetched
            .is_none_or(|at| at.elapsed() >= self.refetch_every);
        if may_fetch {
            entry.fetched = Some(Instant::now());
            match self.fetch_keys(&issuer.url).await {
                Ok(keys) => entry.keys = Some(keys),
                Err(error) => {
                    // Keys that stopped being fetchable still verify until they age out.
                    if entry.keys.is_none() {
                        entry.fetched = None;
                        return Err(error);
                    }
                    tracing::warn!(issuer = %issuer.url, %error, "could not fetch the issuer's keys again");
                }
            }
        }
        entry
            .keys
            .as_ref()
            .and_then(|k| k.find(kid))
            .cloned()
            .ok_or_else(|| OidcError::UnknownKey {
                issuer: issuer.url.clone(),
                kid: kid.to_owned(),
            })
    }

    async fn fetch_keys(&self, issuer: &str) -> Result<JwkSet, OidcError> {
        let discovery: Discovery = self
            .get_json(&format!("{issuer}/.well-known/openid-configuration"))
            .await?;
        if discovery.issuer.trim_end_matches('/') != issuer {
            return Err(OidcError::Keys(format!(
                "the discovery document names issuer {:?}, not {issuer}",
                discovery.issuer
            )));
        }
        if origin(&discovery.jwks_uri) != origin(issuer) {
            return Err(OidcError::Keys(format!(
                "the discovery document's jwks_uri {} is not on the issuer's origin",
                discovery.jwks_uri
            )));
        }
        self.get_json(&discovery.jwks_uri).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let fail = |what: String| OidcError::Keys(format!("GET {url}: {what}"));
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("HTTP {}", response.status().as_u16())));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(fail("too large".to_owned()));
        }
        let bytes = response.bytes().await.map_err(|e| fail(e.to_string()))?;
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(fail("too large".to_owned()));
        }
        serde_json::from_slice(&bytes).map_err(|e| fail(format!("not the JSON expected: {e}")))
    }
}

/// The algorithms of public-key signatures; never `none` (not even an algorithm here) or HMAC.
fn is_asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The decoding key of `jwk` for `alg`: the key's kind must fit the algorithm, and a key that
/// names its algorithm must name this one.
fn decoding_key(jwk: &Jwk, alg: Algorithm, kid: &str) -> Result<DecodingKey, OidcError> {
    let mismatch = || OidcError::KeyMismatch(kid.to_owned());
    let fits = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(_) => {
            matches!(alg, Algorithm::ES256 | Algorithm::ES384)
        }
        AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
        // A shared secret: never a CI issuer's key.
        AlgorithmParameters::OctetKey(_) => false,
    };
    if !fits {
        return Err(mismatch());
    }
    if let Some(named) = &jwk.common.key_algorithm
        && format!("{named:?}") != format!("{alg:?}")
    {
        return Err(mismatch());
    }
    DecodingKey::from_jwk(jwk).map_err(|_| mismatch())
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_is_never_asymmetric() {
        assert!(!is_asymmetric(Algorithm::HS256));
        assert!(!is_asymmetric(Algorithm::HS512));
        assert!(is_asymmetric(Algorithm::RS256));
        assert!(is_asymmetric(Algorithm::ES256));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin("https://token.actions.githubusercontent.com/.well-known/jwks"),
            origin("https://token.actions.githubusercontent.com")
        );
        assert_ne!(
            origin("https://evil.example/jwks"),
            origin("https://token.actions.githubusercontent.com")
        );
        assert_ne!(
            origin("http://gitlab.example.com/oauth/discovery/keys"),
            origin("https://gitlab.example.com")
        );
        assert_ne!(
            origin("https://gitlab.example.com:8443/keys"),
            origin("https://gitlab.example.com")
        );
    }

    #[test]
    fn a_shared_secret_key_is_never_used() {
        let oct: Jwk = serde_json::from_str(r#"{"kty":"oct","kid":"k","k":"c2VjcmV0"}"#).unwrap();
        assert!(matches!(
            decoding_key(&oct, Algorithm::RS256, "k"),
            Err(OidcError::KeyMismatch(_))
        ));
    }

    #[test]
    fn a_key_naming_another_algorithm_is_not_used() {
        let jwk: Jwk = serde_json::from_str(include_str!(
            "../../tests/fixtures/keys/oidc-issuer-1.jwk.json"
        ))
        .unwrap();
        assert!(decoding_key(&jwk, Algorithm::RS256, "test-key-1").is_ok());
        assert!(decoding_key(&jwk, Algorithm::RS512, "test-key-1").is_err());
        assert!(decoding_key(&jwk, Algorithm::ES256, "test-key-1").is_err());
    }
}
