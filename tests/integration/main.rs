//! The integration test binary: scenario files per capability over shared support.

mod github_client;
mod support;
