//! Why a GitHub App cannot be built from its configuration: a key that is not an RSA PEM, an
//! unusable API URL, an HTTP client that cannot be built. Startup errors only; a failed call is
//! a [`crate::forge::ForgeError`].

/// Why a [`super::GitHubApp`] cannot be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum GitHubSetupError {
    #[error("github.private_key_path: not an RSA private key in PEM ({0})")]
    PrivateKey(String),
    #[error("github.api_url: {0}")]
    ApiUrl(String),
    #[error("cannot build the GitHub HTTP client: {0}")]
    Client(String),
}
