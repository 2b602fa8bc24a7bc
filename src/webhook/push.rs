//! What GitHub's `push` and GitLab's `Push Hook` share: the commits of a push with the paths
//! each touched, and whether one touched the repository config.

use serde::Deserialize;

/// A commit of a push, with the paths it touched (GitHub lists up to 5,000 of each kind
/// per commit; GitLab lists the paths of the newest 20 commits).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PushedCommit {
    added: Vec<String>,
    removed: Vec<String>,
    modified: Vec<String>,
}

impl PushedCommit {
    pub(crate) fn touches(&self, path: &str) -> bool {
        [&self.added, &self.removed, &self.modified]
            .iter()
            .any(|paths| paths.iter().any(|p| p == path))
    }

    /// A list of paths as long as the forge lists: there may be more.
    pub(crate) fn may_be_cut(&self, cap: usize) -> bool {
        [&self.added, &self.removed, &self.modified]
            .iter()
            .any(|paths| paths.len() >= cap)
    }
}
