//! The disk limit of a run: how much a run may add to the directories it can write (its
//! workspace, HOME and the repository's caches). No unprivileged mechanism caps a directory's
//! size, so the directories are measured before the run and then every few seconds while it
//! runs; the run is killed once it has grown past the limit. A single file cannot outgrow the
//! limit between two measurements (the sandbox's `RLIMIT_FSIZE` is the same size), but many files
//! can for up to one period.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the directories are measured while a run goes on.
pub(super) const PERIOD: Duration = Duration::from_secs(2);

/// The directories one run may write and how much they may grow.
#[derive(Debug, Clone)]
pub(super) struct DiskWatch {
    dirs: Vec<PathBuf>,
    limit: u64,
    baseline: u64,
    period: Duration,
}

impl DiskWatch {
    /// Measures `dirs` now: the run may add `limit` bytes to them; measured every `period`.
    pub(super) async fn start(dirs: Vec<PathBuf>, limit: u64, period: Duration) -> DiskWatch {
        let (dirs, baseline) = measure(dirs).await;
        DiskWatch {
            dirs,
            limit,
            baseline,
            period,
        }
    }

    /// Resolves when the directories have grown past the limit; pends forever otherwise.
    pub(super) async fn exceeded(self) {
        let mut dirs = self.dirs;
        loop {
            tokio::time::sleep(self.period).await;
            let (back, used) = measure(dirs).await;
            dirs = back;
            if used.saturating_sub(self.baseline) > self.limit {
                return;
            }
        }
    }
}

/// The bytes on disk under `dirs`, off the async threads.
async fn measure(dirs: Vec<PathBuf>) -> (Vec<PathBuf>, u64) {
    tokio::task::spawn_blocking(move || {
        let used = usage(&dirs);
        (dirs, used)
    })
    .await
    .unwrap_or_else(|_| (Vec::new(), 0))
}

/// The blocks allocated under `dirs` (so sparse files count for what they hold), each inode once
/// (hard links, as pnpm makes, are not counted twice). Symbolic links are not followed; what
/// cannot be read counts as nothing.
pub(super) fn usage(dirs: &[PathBuf]) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0u64;
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(path) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        total = total.saturating_add(meta.blocks().saturating_mul(512));
        if meta.is_dir()
            && let Ok(entries) = fs::read_dir(&path)
        {
            stack.extend(entries.flatten().map(|entry| entry.path()));
        }
    }
    total
}

/// `dirs` that exist, once each.
pub(super) fn existing(dirs: &[&Path]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        if dir.is_dir() && !out.iter().any(|known| dir.starts_with(known)) {
            out.retain(|known| !known.starts_with(dir));
            out.push(dir.to_path_buf());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_what_is_written_and_hard_links_once() {
        let dir = tempfile::tempdir().unwrap();
        let before = usage(&[dir.path().to_path_buf()]);
        fs::write(dir.path().join("a"), vec![7u8; 1 << 20]).unwrap();
        fs::hard_link(dir.path().join("a"), dir.path().join("b")).unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/c"), vec![7u8; 1 << 20]).unwrap();
        std::os::unix::fs::symlink("/usr", dir.path().join("link")).unwrap();
        let grown = usage(&[dir.path().to_path_buf()]) - before;
        assert!(
            (2 << 20..(2 << 20) + (64 << 10)).contains(&grown),
            "grew by {grown}"
        );
    }

    #[test]
    fn nested_directories_are_measured_once() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("inner");
        fs::create_dir(&inner).unwrap();
        let missing = dir.path().join("missing");
        assert_eq!(
            existing(&[&inner, dir.path(), &missing, dir.path()]),
            [dir.path().to_path_buf()]
        );
    }

    #[tokio::test]
    async fn the_watch_fires_once_the_directories_grew_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("before"), vec![1u8; 4 << 20]).unwrap();
        let period = Duration::from_millis(20);
        let watch = DiskWatch::start(vec![dir.path().to_path_buf()], 1 << 20, period).await;
        let mut fired = std::pin::pin!(watch.exceeded());
        fs::write(dir.path().join("small"), vec![1u8; 512 << 10]).unwrap();
        tokio::select! {
            () = &mut fired => panic!("fired below the limit (what was there before counts not)"),
            () = tokio::time::sleep(period * 10) => {}
        }
        fs::write(dir.path().join("big"), vec![1u8; 1 << 20]).unwrap();
        tokio::time::timeout(Duration::from_secs(10), fired)
            .await
            .expect("the watch did not fire");
    }
}
