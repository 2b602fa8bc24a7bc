//! Previews submitted by CI jobs (`preview: ci`): who a submission comes from, proven by the CI
//! job's OIDC ID token (`oidc`: the issuer's keys, the token's signature and claims) and what
//! its claims say about the job (`claims`: repository, commit, pull request ref, workflow).
//! Decides nothing about pull requests (the submission endpoint does, against the forge).

pub mod claims;
pub mod oidc;
pub mod submission;

pub use claims::{CiClaims, CiKind};
pub use oidc::{OidcError, Verifier};
