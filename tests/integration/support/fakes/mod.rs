//! The fake forges and the HTTP plumbing they share. The demos and the `pr_flow` bench include
//! this module by path, so every file here is compiled once per binary.

pub mod fake_github;
pub mod fake_gitlab;
mod fake_http;
