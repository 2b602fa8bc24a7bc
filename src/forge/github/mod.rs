//! The GitHub App client: `Forge` over GitHub's REST API with octocrab as transport (its retries
//! off), App JWT and cached installation tokens, our own retry policy, pagination that keeps
//! every page authenticated, and a hand-followed tarball redirect. Never logs a token or the key.
//!
//! [`GitHubApp`] is the App; [`GitHubApp::installation`] (or [`GitHubApp::client_for`], which
//! reads the installation from `PrRef::installation`) gives the [`GitHubClient`] for one
//! installation, and that client is the `Forge`.

mod access;
mod app;
mod archive;
mod auth;
mod client;
mod comments;
mod pagination;
mod pull_requests;
mod retry;
mod reviews;
mod session;
mod setup;
mod statuses;
mod transport;

pub use crate::forge::retry::RetryPolicy;
pub use app::GitHubApp;
pub use client::{
    COMMENT_LIMIT, DELETED_FORK, GitHubClient, MAX_LISTED_FILES, STATUS_DESCRIPTION_LIMIT,
};
pub use setup::GitHubSetupError;
