//! iamgate: a merge gate for IAM changes in Pulumi repositories.
//!
//! The library holds everything; the binary (`src/main.rs`) only dispatches. The pure core is
//! [`engine`] (preview → IAM → diff → risk → report); [`cli`] wires it to files and exit codes.

pub mod cli;
pub mod config;
pub mod engine;
