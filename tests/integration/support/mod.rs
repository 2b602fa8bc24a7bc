//! Shared test support: the scenario app over one fake-forge abstraction, the fake forges, the
//! fake pulumi.

pub mod app;
pub mod fake_oidc;
pub mod fake_pulumi;
pub mod fakes;
pub mod github;
pub mod gitlab;

pub use fakes::{fake_github, fake_gitlab};
