//! The integration test binary: scenario files per capability over shared support (fake
//! GitHub, fake GitLab, fake pulumi, and the forge-generic harness the scenarios run on). Test
//! support code unwraps freely: a failure there is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: panics are test failures"
)]

mod approvals;
mod attacks;
mod ci_previews;
mod crash;
mod edge;
mod github_client;
mod gitlab_client;
mod gitlab_scenarios;
mod install;
mod limits;
mod oidc;
mod queue;
mod replicas;
mod repositories;
mod sandbox;
mod scenarios;
mod secrets;
mod support;
mod tampering;
