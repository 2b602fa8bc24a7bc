//! The SQLite store: one file in WAL mode with `synchronous=FULL` (an acknowledged write
//! survives power loss), migrations embedded from `migrations/sqlite/`. Every write goes through one
//! group-commit writer task ([`writer`]); reads use a small pool. It stores no secret and knows
//! nothing of forges or HTTP: it is handed serialized events and job kinds.
//!
//! `sqlite::memory:` opens a throwaway database in a temporary directory, removed on drop
//! (a file, so the writer and the readers see the same data, exactly as in production).

mod audit;
mod ci;
mod gates;
mod ops;
mod tickets;
mod votes;
mod writer;

#[cfg(test)]
mod tests;

use crate::store::{CiPreview, CiSubmitted, CiToken};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

pub use crate::store::AUDIT_RECORDS_METRIC;
pub use crate::store::Pruned;
pub use audit::AuditReader;
pub use votes::VoteRow;
pub use writer::GroupCommit;

use self::tickets::TicketRow;
use self::writer::{Op, Reply, Writer};
pub(super) use super::rows::now_ms;
use super::rows::{
    ClaimedRow, attempt, comment_key, delivery_row, job_row, millis, new_lease, to_json,
};
use super::{
    ClaimedJob, CommandRate, CommandTicket, CommandVote, DeadJob, JobKind, Lane, NewDelivery,
    NewTicket, PrGate, PrState, QueueStats, Recorded, ReplyState, Store, StoreError, StoreResult,
    backing,
};
use crate::audit::{AuditChain, AuditEntry, AuditEvent, AuditFilter, AuditKeys, AuditRecord};
use crate::event::{CommentId, PrRef, RepoRef};

/// Tuning for [`SqliteStore::open_with`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub group_commit: GroupCommit,
    /// How long a statement waits for a lock held by another process (e.g. `iamgate audit`).
    pub busy_timeout: Duration,
    /// Connections for reads.
    pub readers: u32,
    /// How often a background task copies the WAL into the database file. The writer never
    /// checkpoints itself, so a checkpoint's fsyncs never delay an acknowledgement. `None`:
    /// SQLite's automatic checkpoints, run by the writer when it commits.
    pub checkpoint_every: Option<Duration>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            group_commit: GroupCommit::default(),
            busy_timeout: Duration::from_secs(5),
            readers: 4,
            checkpoint_every: Some(Duration::from_millis(500)),
        }
    }
}

/// The store on SQLite. Cheap to share behind an `Arc`; dropping it stops the writer once its
/// current batch is committed (nothing acknowledged is lost).
#[derive(Debug)]
pub struct SqliteStore {
    writer: Writer,
    writer_task: JoinHandle<()>,
    readers: SqlitePool,
    path: PathBuf,
    /// The audit keys: the current one keys new records and binding rows; all of them check
    /// the votes read for the gate.
    keys: Arc<AuditKeys>,
    /// Stops the checkpointer when the store goes.
    _checkpointer: DropGuard,
    /// Keeps a `sqlite::memory:` database's directory alive.
    _scratch: Option<tempfile::TempDir>,
}

impl SqliteStore {
    /// Opens (creating the file and its directories if needed) and migrates the database at
    /// `url`: `sqlite://relative/path.db`, `sqlite:///absolute/path.db`, or `sqlite::memory:`.
    /// New audit records are keyed with `keys`' current key.
    pub async fn open(url: &str, keys: AuditKeys) -> StoreResult<Self> {
        Self::open_with(url, keys, SqliteOptions::default()).await
    }

    pub async fn open_with(
        url: &str,
        keys: AuditKeys,
        options: SqliteOptions,
    ) -> StoreResult<Self> {
        let (path, scratch) = match parse_url(url)? {
            Some(path) => {
                if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                owner_only(&path)?;
                (path, None)
            }
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("iamgate-store-")
                    .tempdir()
                    .map_err(|source| StoreError::Io {
                        path: std::env::temp_dir().display().to_string(),
                        source,
                    })?;
                (dir.path().join("iamgate.db"), Some(dir))
            }
        };
        // A throwaway database needs no fsync; a real one must survive power loss.
        let synchronous = if scratch.is_some() {
            SqliteSynchronous::Normal
        } else {
            SqliteSynchronous::Full
        };
        let connect = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            // Once checkpointed, a WAL that grew during a burst is cut back to this size.
            .pragma("journal_size_limit", "67108864");

        let writer_connect = match options.checkpoint_every {
            Some(_) => connect.clone().pragma("wal_autocheckpoint", "0"),
            None => connect.clone(),
        };
        let mut conn: SqliteConnection = writer_connect.connect().await?;
        sqlx::migrate!("migrations/sqlite").run(&mut conn).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .connect_with(connect)
            .await?;
        let keys = Arc::new(keys);
        let (writer, writer_task) = Writer::spawn(conn, options.group_commit, Arc::clone(&keys));
        let stop = CancellationToken::new();
        if let Some(every) = options.checkpoint_every {
            tokio::spawn(checkpoint(readers.clone(), every, stop.clone()));
        }
        tracing::info!(path = %path.display(), "store opened");
        Ok(SqliteStore {
            writer,
            writer_task,
            readers,
            path,
            keys,
            _checkpointer: stop.drop_guard(),
            _scratch: scratch,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The readers' pool (for `iamgate store copy`, which reads every table).
    pub fn read_pool(&self) -> &SqlitePool {
        &self.readers
    }

    /// The audit keys the store was opened with.
    pub fn audit_keys(&self) -> &AuditKeys {
        &self.keys
    }

    /// Stops the writer after its pending requests and closes every connection.
    pub async fn close(self) {
        let SqliteStore {
            writer,
            writer_task,
            readers,
            _checkpointer,
            _scratch,
            ..
        } = self;
        drop(_checkpointer);
        drop(writer);
        if let Err(error) = writer_task.await {
            tracing::warn!(%error, "store writer ended abnormally");
        }
        readers.close().await;
    }

    /// Forgets finished work older than `retain`: done and dead jobs, and deliveries whose jobs
    /// are all finished (a redelivery of a forgotten delivery is then new again, so keep more
    /// than the forge's redelivery window; GitHub's is a few days). Removes at most `limit` rows
    /// of each kind per call, so that the writer is never held long: call it periodically.
    pub async fn prune(&self, retain: Duration, limit: u32) -> StoreResult<Pruned> {
        let op = Op::Prune {
            before: now_ms().saturating_sub(millis(retain)),
            limit: i64::from(limit),
        };
        match self.write(op).await? {
            Reply::Pruned(pruned) => Ok(pruned),
            other => Err(unexpected(&other)),
        }
    }

    async fn write(&self, op: Op) -> StoreResult<Reply> {
        self.writer.call(op).await
    }

    async fn write_leased(&self, op: Op, what: &str, job: &ClaimedJob) -> StoreResult<bool> {
        match self.write(op).await? {
            Reply::Leased(held) => {
                if !held {
                    tracing::warn!(
                        job = job.id,
                        attempt = job.attempt,
                        "lease lost: {what} ignored"
                    );
                }
                Ok(held)
            }
            other => Err(unexpected(&other)),
        }
    }
}

/// Copies the WAL into the database every `every` (PASSIVE: it never blocks the writer, which
/// then restarts the WAL from its beginning once everything was copied).
async fn checkpoint(readers: SqlitePool, every: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&readers)
            .await
        {
            tracing::warn!(%error, "store: WAL checkpoint failed");
        }
    }
}

/// `Some(path)` for a file, `None` for `sqlite::memory:`.
fn parse_url(url: &str) -> StoreResult<Option<PathBuf>> {
    let bad = || StoreError::Url(url.to_owned());
    let rest = url.strip_prefix("sqlite:").ok_or_else(bad)?;
    if rest == ":memory:" {
        return Ok(None);
    }
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.is_empty() || path.contains('?') || path.starts_with(':') {
        return Err(bad());
    }
    Ok(Some(PathBuf::from(path)))
}

fn unexpected(reply: &Reply) -> StoreError {
    StoreError::Corrupt(format!("store writer answered {reply:?} out of turn"))
}

#[async_trait]
impl Store for SqliteStore {
    async fn record_delivery(
        &self,
        delivery: NewDelivery,
        jobs: Vec<JobKind>,
    ) -> StoreResult<Recorded> {
        let delivery = delivery_row(delivery)?;
        let jobs = jobs.iter().map(job_row).collect::<StoreResult<Vec<_>>>()?;
        match self.write(Op::Record { delivery, jobs }).await? {
            Reply::Recorded(recorded) => Ok(recorded),
            other => Err(unexpected(&other)),
        }
    }

    async fn claim_job(
        &self,
        worker: &str,
        lease: Duration,
        lane: Option<Lane>,
    ) -> StoreResult<Option<ClaimedJob>> {
        loop {
            let op = Op::Claim {
                worker: worker.to_owned(),
                lease: new_lease(),
                lease_ms: millis(lease),
                lane: lane.map(Lane::as_str),
            };
            let row = match self.write(op).await? {
                Reply::Claimed(Some(row)) => row,
                Reply::Claimed(None) => return Ok(None),
                other => return Err(unexpected(&other)),
            };
            let ClaimedRow {
                id,
                kind_json,
                attempt: tries,
                lease,
                lane,
            } = row;
            let lane = Lane::parse(&lane)
                .ok_or_else(|| StoreError::Corrupt(format!("job {id}: lane `{lane}`")))?;
            match serde_json::from_str::<JobKind>(&kind_json) {
                Ok(kind) => {
                    return Ok(Some(ClaimedJob {
                        id,
                        kind,
                        attempt: attempt(tries, id)?,
                        lease,
                        lane,
                    }));
                }
                Err(error) => {
                    // A kind this build cannot read would be claimed forever: bury it and go on.
                    tracing::error!(job = id, %error, "unreadable job kind, dead-lettered");
                    let reason = format!("unreadable job kind: {error}");
                    self.write(Op::Bury { id, lease, reason }).await?;
                }
            }
        }
    }

    async fn complete_job(&self, job: &ClaimedJob) -> StoreResult<()> {
        let op = Op::Complete {
            id: job.id,
            lease: job.lease.clone(),
        };
        self.write_leased(op, "completion", job).await.map(drop)
    }

    async fn fail_job(
        &self,
        job: &ClaimedJob,
        reason: &str,
        delay: Option<Duration>,
    ) -> StoreResult<()> {
        let (id, lease, reason) = (job.id, job.lease.clone(), reason.to_owned());
        let op = match delay {
            Some(delay) => Op::Retry {
                id,
                lease,
                reason,
                delay_ms: millis(delay),
            },
            None => Op::Bury { id, lease, reason },
        };
        self.write_leased(op, "failure", job).await.map(drop)
    }

    async fn move_job(&self, job: &ClaimedJob, lane: Lane) -> StoreResult<()> {
        let op = Op::Move {
            id: job.id,
            lease: job.lease.clone(),
            lane: lane.as_str(),
        };
        self.write_leased(op, "move", job).await.map(drop)
    }

    async fn extend_lease(&self, job: &ClaimedJob, lease: Duration) -> StoreResult<bool> {
        let op = Op::Extend {
            id: job.id,
            lease: job.lease.clone(),
            lease_ms: millis(lease),
        };
        self.write_leased(op, "lease extension", job).await
    }

    async fn enqueue(&self, job: JobKind) -> StoreResult<()> {
        let job = job_row(&job)?;
        match self.write(Op::Enqueue { job }).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn pr_state(&self, pr: &PrRef) -> StoreResult<PrState> {
        let json: Option<String> = sqlx::query_scalar("SELECT state FROM pr_state WHERE key = ?1")
            .bind(pr.key())
            .fetch_optional(&self.readers)
            .await?;
        match json {
            None => Ok(PrState::default()),
            Some(json) => serde_json::from_str(&json)
                .map_err(|error| StoreError::Corrupt(format!("pr_state {}: {error}", pr.key()))),
        }
    }

    async fn put_pr_state_audited(
        &self,
        pr: &PrRef,
        state: &PrState,
        audit: Vec<AuditEntry>,
    ) -> StoreResult<()> {
        let op = Op::PutPrState {
            key: pr.key(),
            json: to_json(state)?,
            audit,
        };
        match self.write(op).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn queue_stats(&self) -> StoreResult<QueueStats> {
        let counts = sqlx::query_as(super::rows::QUEUE_COUNTS)
            .fetch_all(&self.readers)
            .await?;
        Ok(super::rows::queue_stats(counts))
    }

    async fn dead_jobs(&self, limit: u32) -> StoreResult<Vec<DeadJob>> {
        let rows: Vec<(i64, String, i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT id, kind, attempt, last_error, updated_at FROM jobs WHERE state = 'dead' \
             ORDER BY updated_at DESC, id DESC LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter().map(super::rows::dead_job).collect()
    }

    async fn ping(&self) -> StoreResult<()> {
        if self.writer_task.is_finished() {
            return Err(StoreError::WriterGone);
        }
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<AuditRecord> {
        let op = Op::AppendAudit {
            entry: Box::new(entry),
        };
        match self.write(op).await? {
            Reply::Audited(record) => Ok(*record),
            other => Err(unexpected(&other)),
        }
    }

    async fn append_audit_once(&self, key: &str, entry: AuditEntry) -> StoreResult<bool> {
        let op = Op::AppendAuditOnce {
            key: key.to_owned(),
            entry: Box::new(entry),
        };
        match self.write(op).await? {
            Reply::Voted(first) => Ok(first),
            other => Err(unexpected(&other)),
        }
    }

    async fn audit_records(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        audit::records(&self.readers, filter).await
    }

    async fn audit_chain(&self) -> StoreResult<AuditChain> {
        audit::whole_chain(&self.readers).await
    }

    async fn add_vote(
        &self,
        pr: &PrRef,
        vote: &CommandVote,
        event: Option<AuditEvent>,
    ) -> StoreResult<bool> {
        let op = Op::AddVote {
            pr: Box::new(pr.clone()),
            vote: Box::new(vote.clone()),
            event: event.map(Box::new),
        };
        match self.write(op).await? {
            Reply::Voted(new) => Ok(new),
            other => Err(unexpected(&other)),
        }
    }

    async fn votes(&self, pr: &PrRef) -> StoreResult<Vec<CommandVote>> {
        let number = i64::try_from(pr.number.0)
            .map_err(|_| StoreError::Corrupt(format!("PR number {} is too large", pr.number)))?;
        let records = audit::vote_records(&self.readers, pr.repo.as_str(), number).await?;
        let rows = votes::list(&self.readers, &pr.key()).await?;
        Ok(backing::counted(&self.keys, pr, &records, rows))
    }

    async fn put_fingerprint(&self, pr: &PrRef, head: &str, fingerprint: &str) -> StoreResult<()> {
        let op = Op::PutFingerprint {
            pr_key: pr.key(),
            head: head.to_owned(),
            fingerprint: fingerprint.to_owned(),
        };
        match self.write(op).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn fingerprints(&self, pr: &PrRef) -> StoreResult<BTreeMap<String, String>> {
        votes::fingerprints(&self.readers, &pr.key()).await
    }

    async fn put_pr_gate(&self, gate: &PrGate) -> StoreResult<()> {
        let op = Op::PutPrGate {
            gate: Box::new(gate.clone()),
        };
        match self.write(op).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn pr_gate(&self, pr: &PrRef) -> StoreResult<Option<PrGate>> {
        gates::of_pr(&self.readers, pr).await
    }

    async fn pr_gates_at(&self, repo: &RepoRef, sha: &str) -> StoreResult<Vec<PrGate>> {
        gates::at(&self.readers, repo, sha).await
    }

    async fn forget_pr_gate(&self, pr: &PrRef) -> StoreResult<()> {
        let op = Op::ForgetPrGate { pr_key: pr.key() };
        match self.write(op).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn put_ci_preview(
        &self,
        preview: CiPreview,
        token: CiToken,
        jobs: Vec<JobKind>,
    ) -> StoreResult<CiSubmitted> {
        let jobs = jobs.iter().map(job_row).collect::<StoreResult<Vec<_>>>()?;
        let op = Op::PutCiPreview {
            preview: Box::new(preview),
            token,
            jobs,
        };
        match self.write(op).await? {
            Reply::CiSubmitted(submitted) => Ok(submitted),
            other => Err(unexpected(&other)),
        }
    }

    async fn ci_preview(
        &self,
        repo_key: &str,
        commit: &str,
        stack: &str,
    ) -> StoreResult<Option<CiPreview>> {
        ci::get(&self.readers, repo_key, commit, stack).await
    }

    async fn add_pr_author(&self, pr: &PrRef, login: &str) -> StoreResult<()> {
        let op = Op::AddPrAuthor {
            pr_key: pr.key(),
            login: login.to_owned(),
        };
        match self.write(op).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn pr_authors(&self, pr: &PrRef) -> StoreResult<Vec<String>> {
        votes::authors(&self.readers, &pr.key()).await
    }

    async fn record_head(&self, pr: &PrRef, head: &str) -> StoreResult<()> {
        // Recorded by an earlier job of the same head: no write then.
        let known: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM pr_heads WHERE pr_key = ?1 AND head = ?2")
                .bind(pr.key())
                .bind(head)
                .fetch_optional(&self.readers)
                .await?;
        if known.is_some() {
            return Ok(());
        }
        let op = Op::RecordHead {
            pr_key: pr.key(),
            head: head.to_owned(),
        };
        match self.write(op).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn head_seen_at(&self, pr: &PrRef, at_ms: i64) -> StoreResult<Option<String>> {
        votes::head_seen_at(&self.readers, &pr.key(), at_ms).await
    }

    async fn command_ticket(
        &self,
        ticket: &NewTicket<'_>,
        rate: CommandRate,
    ) -> StoreResult<CommandTicket> {
        let op = Op::Ticket {
            row: TicketRow {
                comment_key: comment_key(ticket.pr, ticket.comment),
                repo_key: ticket.pr.repo_ref().key(),
                author: ticket.author.to_lowercase(),
                at: ticket.at_ms,
            },
            per_minute: i64::from(rate.per_minute),
        };
        match self.write(op).await? {
            Reply::Ticket(ticket) => Ok(ticket),
            other => Err(unexpected(&other)),
        }
    }

    async fn set_command_reply(
        &self,
        pr: &PrRef,
        comment: CommentId,
        state: ReplyState,
    ) -> StoreResult<()> {
        let op = Op::SetReply {
            comment_key: comment_key(pr, comment),
            state,
        };
        match self.write(op).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }
}

/// Creates the database file readable and writable by its owner only (0600), or tightens an
/// existing one and its WAL files: the store holds the votes and the audit trail. SQLite creates
/// the `-wal` and `-shm` files with the database file's mode.
fn owner_only(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Io {
                    path: file.display().to_string(),
                    source,
                });
            }
        }
    }
    Ok(())
}
