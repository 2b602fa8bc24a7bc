//! The webhook edge: verify the signature on the raw bytes (`verify`), decode into a typed
//! `Event` (`github`), store with its jobs before acknowledging (`intake`); `endpoint` is the
//! HTTP handler wiring them in that order. Nothing past this module sees headers or raw JSON;
//! nothing here logs a secret or a body.

pub mod endpoint;
pub mod github;
pub mod intake;
pub mod verify;

#[cfg(test)]
pub(crate) mod testing;

pub use github::{DecodeError, decode};
pub use verify::VerifyError;
