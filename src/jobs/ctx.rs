//! `JobCtx`: what every job gets — the forge (per installation), the store, the preview runner
//! and the settings — instead of long argument lists.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::server::Repositories;
use crate::event::RepoRef;
use crate::forge::{Forge, ForgeResult, MembershipCache};
use crate::pulumi::{Runner, UnpackLimits};
use crate::store::previews::PreviewCache;
use crate::store::{CommandRate, Store};

/// Gives the forge client for a repository (on GitHub: its App installation).
#[async_trait]
pub trait ForgeProvider: Send + Sync + fmt::Debug {
    async fn forge(&self, repo: &RepoRef) -> ForgeResult<Arc<dyn Forge>>;
}

/// Settings jobs need from the server config.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub allow_fork_prs: bool,
    /// `[pulumi] repositories`: the only repositories previewed; `None`: all.
    pub repositories: Option<Repositories>,
    /// The largest head archive downloaded.
    pub archive_max_bytes: u64,
    pub unpack: UnpackLimits,
    /// Where per-run workspaces are created (a fresh temp dir under it per run).
    pub workspace_root: PathBuf,
    /// Preview outcomes by PR, stack and head, reused until the code changes or `rerun`.
    pub previews: PreviewCache,
    /// Under it, one directory per repository of package-manager and plugin caches, kept between
    /// installs and previews of that repository only.
    pub caches: PathBuf,
    /// `[worker] command_rate_per_minute`: comments with commands one person may make per
    /// repository and minute before they are no longer run.
    pub command_rate: CommandRate,
}

/// Everything a job needs.
#[derive(Clone)]
pub struct JobCtx {
    pub forges: Arc<dyn ForgeProvider>,
    pub store: Arc<dyn Store>,
    pub runner: Arc<Runner>,
    /// Team membership answers, shared by every job (short TTL).
    pub membership: Arc<MembershipCache>,
    pub settings: JobSettings,
}

impl fmt::Debug for JobCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobCtx")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
