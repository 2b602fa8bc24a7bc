//! iamgate: a merge gate for IAM changes in Pulumi repositories.
//!
//! The library holds everything; the binary (`src/main.rs`) only dispatches. The pure core is
//! [`engine`] (preview → IAM → diff → risk → report); [`cli`] wires it to files and exit codes.

pub mod app;
pub mod audit;
pub mod calendar;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod event;
pub mod forge;
pub mod gate;
pub mod jobs;
pub mod publish;
pub mod pulumi;
pub mod queue;
pub mod server;
pub mod store;
pub mod webhook;
