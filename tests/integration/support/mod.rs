//! Shared test support: the scenario app over one fake-forge abstraction, the fake forges, the
//! fake pulumi.

pub mod app;
pub mod fake_github;
pub mod fake_gitlab;
pub mod fake_pulumi;
pub mod github;
pub mod gitlab;
pub mod tar_gz;
