//! IAM: the policy model, its canonical form, the AWS action database, well-known managed
//! policies, the extraction of every policy-bearing property of a preview into per-principal
//! and per-resource views, and the table of IAM-relevant types not modeled. Pure: no I/O.

pub mod actions;
pub mod azure_roles;
pub mod extract;
pub mod gcp_roles;
pub mod grants;
pub mod managed;
pub mod model;
pub mod normalize;
pub mod policy;
pub mod unmodeled;

pub use model::*;
pub use policy::{Document, Effect, NameSpec, Policy, PrincipalSpec, Statement};
