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

    /// Whether the commit lists no path at all: GitHub leaves the lists of very large commits
    /// empty, so nobody can tell it did not touch the config (an empty commit reads the same,
    /// and costs one recheck).
    pub(crate) fn lists_nothing(&self) -> bool {
        [&self.added, &self.removed, &self.modified]
            .iter()
            .all(|paths| paths.is_empty())
    }

    /// Whether the commit may have touched `path`: it lists it, lists nothing, or lists as many
    /// paths of one kind as the forge's `cap`.
    pub(crate) fn may_touch(&self, path: &str, cap: usize) -> bool {
        self.touches(path) || self.lists_nothing() || self.may_be_cut(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(added: &[&str], modified: &[&str]) -> PushedCommit {
        PushedCommit {
            added: added.iter().map(|p| (*p).to_owned()).collect(),
            removed: Vec::new(),
            modified: modified.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn a_commit_may_touch_a_path_it_lists_or_when_it_lists_nothing_or_too_much() {
        assert!(commit(&[], &[".iamgate.yml"]).may_touch(".iamgate.yml", 5000));
        assert!(!commit(&["a.ts"], &["b.ts"]).may_touch(".iamgate.yml", 5000));
        assert!(
            commit(&[], &[]).may_touch(".iamgate.yml", 5000),
            "GitHub's very large commits list no path"
        );
        assert!(commit(&["a", "b"], &[]).may_touch(".iamgate.yml", 2), "cut");
    }
}
