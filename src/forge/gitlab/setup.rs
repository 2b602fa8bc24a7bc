//! Why a GitLab client cannot be built from its configuration: an unusable instance URL or
//! token, an HTTP client that cannot be built. Startup errors only; a failed call is a
//! [`crate::forge::ForgeError`].

/// Why a [`super::GitLabClient`] cannot be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum GitLabSetupError {
    #[error("gitlab.url: {0}")]
    Url(String),
    #[error("gitlab.token: {0}")]
    Token(String),
    #[error("cannot build the GitLab HTTP client: {0}")]
    Client(String),
}
