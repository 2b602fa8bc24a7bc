//! Shared test support: fake forges and helpers.

pub mod fake_github;
