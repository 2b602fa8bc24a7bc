//! Running previews: the PR head's archive unpacked safely into a fresh workspace, then
//! `<command> preview --json --non-interactive --stack <stack>` in the stack's directory, with the
//! configured environment only, a timeout that kills the whole process group, a concurrency
//! limit, and capped output. The forge token never reaches the child.

pub mod runner;
pub mod workspace;

pub use runner::sandbox::Sandbox;
pub use runner::{Isolation, Place, RunError, RunLimits, RunOutput, Runner, RunnerConfig};
pub use workspace::{UnpackError, UnpackLimits, unpack};
