//! The preview cache: the outcome of `pulumi preview` for one stack of one pull request at one
//! head commit, so that events that do not change the code (a review, an approval command, a
//! base-branch config edit) recompute the gate in milliseconds instead of previewing again.
//! `/iamgate rerun` forgets a head's entries. With SQLite (one replica) it is files beside the
//! store, written to a temporary file and renamed, so a crash never leaves a half-written one;
//! with PostgreSQL it is the `preview_cache` table, shared by every replica, so that whichever
//! replica gets an event recomputes from the preview another ran, and a rerun on any replica
//! forgets the entries for all.

use std::io::{Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::config::repo::StackConfig;
use crate::event::{PrRef, Sha};

/// Part of every entry's name: entries of an earlier format (before 2, outputs were not masked)
/// are never read, and expire as any other.
const ENTRY_FORMAT: &str = "2";

/// What a preview produced, as far as the analysis is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviewRun {
    /// `pulumi preview --json` succeeded with this output.
    Output(Vec<u8>),
    /// It failed; the reason is the text shown in the comment.
    Failed(String),
}

/// A directory of cached preview outcomes.
#[derive(Debug, Clone)]
pub struct PreviewCache {
    dir: PathBuf,
    /// The database of several replicas: entries live there, not in `dir`.
    shared: Option<sqlx::PgPool>,
}

impl PreviewCache {
    /// Entries in files under `dir` (one replica).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PreviewCache {
            dir: dir.into(),
            shared: None,
        }
    }

    /// Entries in the `preview_cache` table of the PostgreSQL store all replicas share.
    pub fn shared(pool: sqlx::PgPool) -> Self {
        PreviewCache {
            dir: PathBuf::new(),
            shared: Some(pool),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// [`PreviewCache::get`] off the async runtime (entries are gzip files of up to the
    /// preview output cap).
    pub async fn load(&self, pr: &PrRef, stack: &StackConfig, head: &Sha) -> Option<PreviewRun> {
        if let Some(pool) = &self.shared {
            return match self.get_shared(pool, pr, stack, head).await {
                Ok(found) => found,
                Err(error) => {
                    tracing::warn!(%error, "reading the preview cache failed; previewing again");
                    None
                }
            };
        }
        let (cache, pr, stack, head) = (self.clone(), pr.clone(), stack.clone(), head.clone());
        tokio::task::spawn_blocking(move || cache.get(&pr, &stack, &head))
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "reading the preview cache failed; previewing again");
                None
            })
    }

    /// [`PreviewCache::put`] off the async runtime.
    pub async fn save(&self, pr: &PrRef, stack: &StackConfig, head: &Sha, outcome: PreviewRun) {
        if let Some(pool) = &self.shared {
            if let Err(error) = self.put_shared(pool, pr, stack, head, &outcome).await {
                tracing::warn!(%error, "writing the preview cache failed");
            }
            return;
        }
        let (cache, pr, stack, head) = (self.clone(), pr.clone(), stack.clone(), head.clone());
        if let Err(error) =
            tokio::task::spawn_blocking(move || cache.put(&pr, &stack, &head, &outcome)).await
        {
            tracing::warn!(%error, "writing the preview cache failed");
        }
    }

    /// The cached outcome, if any. An unreadable entry is treated as missing (and logged).
    pub fn get(&self, pr: &PrRef, stack: &StackConfig, head: &Sha) -> Option<PreviewRun> {
        let base = self.entry(pr, stack, head);
        if let Ok(reason) = std::fs::read_to_string(base.with_extension("failed")) {
            return Some(PreviewRun::Failed(reason));
        }
        let file = std::fs::File::open(base.with_extension("json.gz")).ok()?;
        let mut out = Vec::new();
        match GzDecoder::new(file).read_to_end(&mut out) {
            Ok(_) => Some(PreviewRun::Output(out)),
            Err(error) => {
                tracing::warn!(%error, "unreadable preview cache entry; previewing again");
                None
            }
        }
    }

    /// Stores an outcome (best effort: a cache that cannot be written only costs time).
    pub fn put(&self, pr: &PrRef, stack: &StackConfig, head: &Sha, outcome: &PreviewRun) {
        if let Err(error) = self.try_put(pr, stack, head, outcome) {
            tracing::warn!(%error, dir = %self.dir.display(), "cannot write the preview cache");
        }
    }

    fn try_put(
        &self,
        pr: &PrRef,
        stack: &StackConfig,
        head: &Sha,
        outcome: &PreviewRun,
    ) -> std::io::Result<()> {
        // Owner only, like the store: entries (0600, as temp files are made) hold preview output.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let base = self.entry(pr, stack, head);
        let (path, bytes) = match outcome {
            PreviewRun::Failed(reason) => {
                (base.with_extension("failed"), reason.as_bytes().to_vec())
            }
            PreviewRun::Output(output) => {
                let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
                gz.write_all(output)?;
                (base.with_extension("json.gz"), gz.finish()?)
            }
        };
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(&bytes)?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Forgets every stack's outcome at `head` of `pr` (for `/iamgate rerun`). Fails only when
    /// the shared cache cannot be reached (the rerun must not then go on from what it holds).
    pub async fn forget(
        &self,
        pr: &PrRef,
        stacks: &[StackConfig],
        head: &Sha,
    ) -> crate::store::StoreResult<()> {
        if let Some(pool) = &self.shared {
            let keys: Vec<String> = stacks
                .iter()
                .map(|stack| self.key(pr, stack, head))
                .collect();
            sqlx::query("DELETE FROM preview_cache WHERE key = ANY($1)")
                .bind(&keys)
                .execute(pool)
                .await?;
            return Ok(());
        }
        self.forget_files(pr, stacks, head);
        Ok(())
    }

    fn forget_files(&self, pr: &PrRef, stacks: &[StackConfig], head: &Sha) {
        for stack in stacks {
            let base = self.entry(pr, stack, head);
            for ext in ["failed", "json.gz"] {
                let _ = std::fs::remove_file(base.with_extension(ext));
            }
        }
    }

    /// Removes entries older than `age`; returns how many (files only: the shared table is
    /// pruned with the rest of the store).
    pub fn prune(&self, age: Duration) -> usize {
        if self.shared.is_some() {
            return 0;
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d >= age));
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    async fn get_shared(
        &self,
        pool: &sqlx::PgPool,
        pr: &PrRef,
        stack: &StackConfig,
        head: &Sha,
    ) -> crate::store::StoreResult<Option<PreviewRun>> {
        let row: Option<(Option<String>, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT failed, output FROM preview_cache WHERE key = $1")
                .bind(self.key(pr, stack, head))
                .fetch_optional(pool)
                .await?;
        Ok(match row {
            None => None,
            Some((Some(reason), _)) => Some(PreviewRun::Failed(reason)),
            Some((None, Some(gz))) => {
                let mut out = Vec::new();
                match GzDecoder::new(gz.as_slice()).read_to_end(&mut out) {
                    Ok(_) => Some(PreviewRun::Output(out)),
                    Err(error) => {
                        tracing::warn!(%error, "unreadable preview cache entry; previewing again");
                        None
                    }
                }
            }
            Some((None, None)) => None,
        })
    }

    async fn put_shared(
        &self,
        pool: &sqlx::PgPool,
        pr: &PrRef,
        stack: &StackConfig,
        head: &Sha,
        outcome: &PreviewRun,
    ) -> crate::store::StoreResult<()> {
        let (failed, output) = match outcome {
            PreviewRun::Failed(reason) => (Some(reason.clone()), None),
            PreviewRun::Output(output) => {
                let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
                let io = |e: std::io::Error| crate::store::StoreError::Corrupt(e.to_string());
                gz.write_all(output).map_err(io)?;
                (None, Some(gz.finish().map_err(io)?))
            }
        };
        sqlx::query(
            "INSERT INTO preview_cache (key, failed, output, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET failed = excluded.failed, output = excluded.output, \
             at = excluded.at",
        )
        .bind(self.key(pr, stack, head))
        .bind(failed)
        .bind(output)
        .bind(crate::store::rows::now_ms())
        .execute(pool)
        .await?;
        Ok(())
    }

    /// The entry's key: a hash of everything that decides the preview (the PR, the stack's
    /// directory and name, the head commit).
    fn key(&self, pr: &PrRef, stack: &StackConfig, head: &Sha) -> String {
        let mut h = Sha256::new();
        for part in [
            ENTRY_FORMAT,
            pr.key().as_str(),
            &stack.dir,
            &stack.stack,
            head.as_str(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// The entry's path without extension.
    fn entry(&self, pr: &PrRef, stack: &StackConfig, head: &Sha) -> PathBuf {
        self.dir.join(self.key(pr, stack, head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ForgeKind, PrNumber, RepoName};

    fn pr() -> PrRef {
        PrRef {
            forge: ForgeKind::GitHub,
            installation: Some(1),
            repo: RepoName::from("acme/infra"),
            number: PrNumber(7),
        }
    }

    fn stack(name: &str) -> StackConfig {
        StackConfig {
            name: name.into(),
            dir: "infra".into(),
            stack: format!("acme/{name}"),
            paths: vec![],
            preview: Default::default(),
        }
    }

    #[test]
    fn outcomes_round_trip_per_stack_and_head_and_can_be_forgotten() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cache = PreviewCache::new(dir.path().join("previews"));
        let (prod, dev) = (stack("prod"), stack("dev"));
        let (h1, h2) = (Sha::from("h1"), Sha::from("h2"));
        assert_eq!(cache.get(&pr(), &prod, &h1), None);
        cache.put(
            &pr(),
            &prod,
            &h1,
            &PreviewRun::Output(b"{\"steps\":[]}".to_vec()),
        );
        cache.put(&pr(), &dev, &h1, &PreviewRun::Failed("exit 255".into()));
        assert_eq!(
            cache.get(&pr(), &prod, &h1),
            Some(PreviewRun::Output(b"{\"steps\":[]}".to_vec()))
        );
        assert_eq!(
            cache.get(&pr(), &dev, &h1),
            Some(PreviewRun::Failed("exit 255".into()))
        );
        assert_eq!(cache.get(&pr(), &prod, &h2), None, "another head");
        cache.forget_files(&pr(), &[prod.clone(), dev.clone()], &h1);
        assert_eq!(cache.get(&pr(), &prod, &h1), None);
        assert_eq!(cache.get(&pr(), &dev, &h1), None);
    }

    #[test]
    fn a_corrupt_entry_is_a_miss_and_old_entries_are_pruned() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cache = PreviewCache::new(dir.path());
        let prod = stack("prod");
        let head = Sha::from("h1");
        cache.put(&pr(), &prod, &head, &PreviewRun::Output(b"x".to_vec()));
        let entry = cache.entry(&pr(), &prod, &head).with_extension("json.gz");
        std::fs::write(&entry, b"not gzip").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cache.get(&pr(), &prod, &head), None);
        assert_eq!(
            cache.prune(Duration::from_secs(3600)),
            0,
            "fresh entries stay"
        );
        assert_eq!(cache.prune(Duration::ZERO), 1);
    }
}
