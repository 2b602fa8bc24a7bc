//! Configuration: the repository config (`.iamgate.yml`) and its problems. Parse raw, then
//! validate, collecting every problem with its key path.

pub mod problems;
pub mod repo;

pub use problems::{Problem, Problems};
pub use repo::RepoConfig;
