//! What a delivery means: verify the signature or token on the raw bytes (`verify`), decode into
//! a typed `Event` (`github`, `gitlab`), store with its jobs before acknowledging (`intake`).
//! The HTTP handlers that run these steps in that order are the server's (`server::webhooks`).
//! Nothing past this module sees headers or raw JSON; nothing here logs a secret or a body.

pub mod github;
pub mod gitlab;
pub mod intake;
mod push;
pub mod verify;

#[cfg(test)]
pub(crate) mod testing;

pub use github::{DecodeError, decode};
pub use verify::VerifyError;
