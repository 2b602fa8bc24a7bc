//! Configuration: the repository config (`.iamgate.yml`), the server config (TOML + env) and
//! their problems. Parse raw, then validate, collecting every problem with its key path.

pub mod problems;
pub mod repo;
pub mod server;
mod yaml_lines;

pub use problems::{Problem, Problems};
pub use repo::RepoConfig;
pub use server::{Secret, ServerConfig, TeamMembership};
