//! Shared test support: fake forges, the fake pulumi, and the server harness.

pub mod fake_github;
pub mod fake_gitlab;
pub mod fake_pulumi;
pub mod gitlab_server;
pub mod harness;
pub mod server;
pub mod tar_gz;
