//! The store on PostgreSQL, for several `iamgate serve` replicas on one database (SQLite stays
//! the embedded default for one). The same [`Store`] behaviour as the SQLite store, from a pool
//! of connections: every write is one transaction, retried when PostgreSQL aborts it for a
//! deadlock or a serialization failure. How replicas stay one: [`queue`] (deliveries, claims,
//! leases, wake-ups) and [`records`] (the audit chain).
//!
//! The url is libpq's (`postgres://user:password@host:5432/db?sslmode=verify-full&sslrootcert=
//! /path/ca.pem`); TLS is rustls with the Mozilla roots plus `sslrootcert`. Migrations
//! (`migrations/postgres/`) run at open under sqlx's advisory lock, so replicas starting together
//! migrate once.

mod queue;
mod records;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio_util::sync::CancellationToken;

use self::queue::Requeue;
use self::records::Arg;
use super::rows::{ClaimedRow, attempt, comment_key, delivery_row, job_row, millis, new_lease};
use super::{
    AUDIT_RECORDS_METRIC, CiPreview, CiSubmitted, CiToken, ClaimedJob, CommandRate, CommandTicket,
    CommandVote, DeadJob, JobKind, Lane, NewDelivery, NewTicket, PrGate, PrState, Pruned,
    QueueStats, Recorded, ReplyState, Store, StoreError, StoreResult, backing,
};
use crate::audit::{AuditChain, AuditEntry, AuditEvent, AuditFilter, AuditKeys, AuditRecord};
use crate::event::{CommentId, PrRef, RepoRef};

/// How often a transaction aborted by a deadlock or a serialization failure is tried again.
const RETRIES: u32 = 8;

/// Whether PostgreSQL aborted the transaction for something a retry resolves.
fn retryable(error: &StoreError) -> bool {
    match error {
        StoreError::Db(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    }
}

/// Runs `$body` (with `$conn: &mut PgConnection`) in a transaction of `$store` and commits it,
/// trying again when PostgreSQL aborted it for a deadlock or a serialization failure.
macro_rules! transact {
    ($store:expr, |$conn:ident| $body:block) => {{
        let mut tries = 0u32;
        loop {
            let mut tx = $store.pool.begin().await.map_err(StoreError::from)?;
            let result: StoreResult<_> = async {
                let $conn: &mut PgConnection = &mut *tx;
                $body
            }
            .await;
            let result = match result {
                Ok(value) => tx.commit().await.map(|()| value).map_err(StoreError::from),
                Err(error) => Err(error),
            };
            match result {
                Err(error) if retryable(&error) && tries < RETRIES => {
                    tries += 1;
                    tracing::debug!(%error, tries, "store: transaction aborted, trying again");
                    let jitter = u64::from(rand::random::<u8>() % 20);
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(tries) + jitter)).await;
                }
                other => break other,
            }
        }
    }};
}

/// Tuning for [`PostgresStore::open_with`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long a request waits for a connection (or for a new one to be made): when the
    /// database is away, requests fail after this (webhooks then get 503) instead of hanging.
    pub acquire_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The store on PostgreSQL. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    keys: Arc<AuditKeys>,
    /// This store's name in its notifications (`<replica>:<lane>`), so that it skips its own.
    replica: String,
}

/// Whether `url` names a PostgreSQL store.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The connection options of `url`, with the application name set.
fn connect_options(url: &str) -> StoreResult<PgConnectOptions> {
    if !is_postgres_url(url) {
        return Err(StoreError::Url(url.to_owned()));
    }
    let options = PgConnectOptions::from_str(url)
        .map_err(|error| StoreError::Config(format!("{}: {error}", redact(url))))?;
    Ok(options.application_name("iamgate"))
}

/// Checks that `url` is a PostgreSQL url sqlx can use (nothing is connected).
pub fn check_url(url: &str) -> StoreResult<()> {
    connect_options(url).map(drop)
}

/// `url` without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // As URL parsers read it: the authority ends at the first `/`, `?` or `#`, and its user
    // information at its last `@` (a password may hold an `@`).
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl PostgresStore {
    /// Connects to the database at `url` and migrates it (under a lock: replicas starting
    /// together migrate once). New audit records are keyed with `keys`' current key.
    pub async fn open(url: &str, keys: AuditKeys) -> StoreResult<Self> {
        Self::open_with(url, keys, PostgresOptions::default()).await
    }

    pub async fn open_with(
        url: &str,
        keys: AuditKeys,
        options: PostgresOptions,
    ) -> StoreResult<Self> {
        let connect = connect_options(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        tracing::info!(url = %redact(url), "store opened (PostgreSQL)");
        Ok(PostgresStore {
            pool,
            keys: Arc::new(keys),
            replica: format!("{:016x}", rand::random::<u64>()),
        })
    }

    /// The audit keys the store was opened with.
    pub fn audit_keys(&self) -> &AuditKeys {
        &self.keys
    }

    /// The connection pool (for `iamgate store copy` and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Forgets finished work older than `retain`, as the SQLite store's `prune` does; safe to
    /// run on every replica at once.
    pub async fn prune(&self, retain: Duration, limit: u32) -> StoreResult<Pruned> {
        transact!(self, |conn| {
            let now = db_now(conn).await?;
            let before = now.saturating_sub(millis(retain));
            queue::prune(conn, before, now, i64::from(limit)).await
        })
    }

    /// Calls `wake` with the lane whenever another replica makes a job claimable (`LISTEN
    /// iamgate_jobs`), until `stop`; with `None` (every lane) when it starts listening, for what
    /// came before. What this store enqueued itself is not passed on: its own process wakes its
    /// workers. A lost connection is made again; meanwhile the workers' poll interval covers.
    pub fn wake_on_jobs(
        &self,
        wake: impl Fn(Option<Lane>) + Send + Sync + 'static,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let pool = self.pool.clone();
        let own = format!("{}:", self.replica);
        tokio::spawn(async move {
            loop {
                let listening = async {
                    let mut listener = PgListener::connect_with(&pool).await?;
                    listener.listen(queue::CHANNEL).await?;
                    // Whatever was enqueued while not listening.
                    wake(None);
                    loop {
                        let notification = listener.recv().await?;
                        let payload = notification.payload();
                        if payload.starts_with(&own) {
                            continue;
                        }
                        let lane = payload
                            .rsplit_once(':')
                            .and_then(|(_, lane)| Lane::parse(lane));
                        wake(lane);
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), sqlx::Error>(())
                };
                tokio::select! {
                    () = stop.cancelled() => return,
                    ended = listening => if let Err(error) = ended {
                        tracing::warn!(%error, "store: listening for new jobs failed; again in 1 s");
                    },
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        })
    }

    async fn leased(&self, held: bool, what: &str, job: &ClaimedJob) -> StoreResult<bool> {
        if !held {
            tracing::warn!(
                job = job.id,
                attempt = job.attempt,
                "lease lost: {what} ignored"
            );
        }
        Ok(held)
    }

    async fn requeue(&self, job: &ClaimedJob, how: &Requeue<'_>) -> StoreResult<bool> {
        transact!(self, |conn| {
            let now = db_now(conn).await?;
            queue::requeue(conn, job.id, &job.lease, how, now, &self.replica).await
        })
    }
}

/// Now, in Unix milliseconds, by the database's clock: every replica's leases, schedules and
/// sightings are measured on one clock, so a replica whose clock is off cannot take over a lease
/// that has not ended (nor keep one that has).
async fn db_now(conn: &mut PgConnection) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Takes the transaction-long advisory lock of a coalescing key (waits for it).
async fn lock_key(conn: &mut PgConnection, key: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Logs the chain's new head after a commit that appended (as the SQLite writer does).
fn appended(record: &AuditRecord) {
    tracing::info!(seq = record.seq, link = %record.hash, "audit chain head");
    metrics::gauge!(AUDIT_RECORDS_METRIC).set(record.seq as f64);
}

#[async_trait]
impl Store for PostgresStore {
    async fn record_delivery(
        &self,
        delivery: NewDelivery,
        jobs: Vec<JobKind>,
    ) -> StoreResult<Recorded> {
        let delivery = delivery_row(delivery)?;
        let jobs = jobs.iter().map(job_row).collect::<StoreResult<Vec<_>>>()?;
        transact!(self, |conn| {
            let now = db_now(conn).await?;
            queue::record(conn, &delivery, &jobs, now, &self.replica).await
        })
    }

    async fn claim_job(
        &self,
        worker: &str,
        lease: Duration,
        lane: Option<Lane>,
    ) -> StoreResult<Option<ClaimedJob>> {
        loop {
            let token = new_lease();
            let row = transact!(self, |conn| {
                let now = db_now(conn).await?;
                queue::claim(
                    conn,
                    worker,
                    &token,
                    millis(lease),
                    lane.map(Lane::as_str),
                    now,
                )
                .await
            })?;
            let Some(ClaimedRow {
                id,
                kind_json,
                attempt: tries,
                lease,
                lane,
            }) = row
            else {
                return Ok(None);
            };
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
                    transact!(self, |conn| {
                        let now = db_now(conn).await?;
                        queue::finish(conn, id, &lease, Some(&reason), now).await
                    })?;
                }
            }
        }
    }

    async fn move_job(&self, job: &ClaimedJob, lane: Lane) -> StoreResult<()> {
        let what = format!("(moved to the {lane} lane");
        let how = Requeue {
            delay_ms: 0,
            lane: Some(lane.as_str()),
            error: None,
            refund: true,
            what: &what,
        };
        let held = self.requeue(job, &how).await?;
        self.leased(held, "move", job).await.map(drop)
    }

    async fn complete_job(&self, job: &ClaimedJob) -> StoreResult<()> {
        let held = transact!(self, |conn| {
            let now = db_now(conn).await?;
            queue::finish(conn, job.id, &job.lease, None, now).await
        })?;
        self.leased(held, "completion", job).await.map(drop)
    }

    async fn fail_job(
        &self,
        job: &ClaimedJob,
        reason: &str,
        delay: Option<Duration>,
    ) -> StoreResult<()> {
        let held = match delay {
            Some(delay) => {
                let what = format!("{reason} (retry coalesced");
                let how = Requeue {
                    delay_ms: millis(delay),
                    lane: None,
                    error: Some(reason),
                    refund: false,
                    what: &what,
                };
                self.requeue(job, &how).await?
            }
            None => transact!(self, |conn| {
                let now = db_now(conn).await?;
                queue::finish(conn, job.id, &job.lease, Some(reason), now).await
            })?,
        };
        self.leased(held, "failure", job).await.map(drop)
    }

    async fn extend_lease(&self, job: &ClaimedJob, lease: Duration) -> StoreResult<bool> {
        let held = transact!(self, |conn| {
            let now = db_now(conn).await?;
            queue::extend(conn, job.id, &job.lease, millis(lease), now).await
        })?;
        self.leased(held, "lease extension", job).await
    }

    async fn enqueue(&self, job: JobKind) -> StoreResult<()> {
        let job = job_row(&job)?;
        transact!(self, |conn| {
            let now = db_now(conn).await?;
            queue::enqueue(conn, &job, now, &self.replica).await
        })
        .map(drop)
    }

    async fn pr_state(&self, pr: &PrRef) -> StoreResult<PrState> {
        let json: Option<String> = sqlx::query_scalar("SELECT state FROM pr_state WHERE key = $1")
            .bind(pr.key())
            .fetch_optional(&self.pool)
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
        let (key, json) = (pr.key(), super::rows::to_json(state)?);
        let newest = transact!(self, |conn| {
            let now = db_now(conn).await?;
            let mut newest = None;
            if !audit.is_empty() {
                let mut head = records::lock_head(conn).await?;
                for entry in &audit {
                    newest =
                        Some(records::append(conn, &mut head, entry, self.keys.current()).await?);
                }
            }
            records::write(
                conn,
                "INSERT INTO pr_state (key, state, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                &[Arg::Text(&key), Arg::Text(&json), Arg::Int(now)],
            )
            .await?;
            Ok(newest)
        })?;
        if let Some(record) = &newest {
            appended(record);
        }
        Ok(())
    }

    async fn queue_stats(&self) -> StoreResult<QueueStats> {
        let counts = sqlx::query_as(super::rows::QUEUE_COUNTS)
            .fetch_all(&self.pool)
            .await?;
        Ok(super::rows::queue_stats(counts))
    }

    async fn dead_jobs(&self, limit: u32) -> StoreResult<Vec<DeadJob>> {
        let rows: Vec<(i64, String, i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT id, kind, attempt, last_error, updated_at FROM jobs WHERE state = 'dead' \
             ORDER BY updated_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(super::rows::dead_job).collect()
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<AuditRecord> {
        let record = transact!(self, |conn| {
            let mut head = records::lock_head(conn).await?;
            records::append(conn, &mut head, &entry, self.keys.current()).await
        })?;
        appended(&record);
        Ok(record)
    }

    async fn append_audit_once(&self, key: &str, entry: AuditEntry) -> StoreResult<bool> {
        let record = transact!(self, |conn| {
            let now = db_now(conn).await?;
            let mut head = records::lock_head(conn).await?;
            if records::claim_once(conn, key, now).await? {
                records::append(conn, &mut head, &entry, self.keys.current())
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        })?;
        if let Some(record) = &record {
            appended(record);
        }
        Ok(record.is_some())
    }

    async fn audit_records(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        records::audit_records(&self.pool, filter).await
    }

    async fn audit_chain(&self) -> StoreResult<AuditChain> {
        records::whole_chain(&self.pool).await
    }

    async fn add_vote(
        &self,
        pr: &PrRef,
        vote: &CommandVote,
        event: Option<AuditEvent>,
    ) -> StoreResult<bool> {
        let pr_key = pr.key();
        let (new, record) = transact!(self, |conn| {
            match &event {
                None => {
                    let new =
                        records::add_vote(conn, &pr_key, vote, Some(self.keys.current())).await?;
                    Ok((new, None))
                }
                Some(event) => {
                    // The head first: every transaction that appends locks it before anything
                    // else, so appends never wait on each other in a cycle.
                    let mut head = records::lock_head(conn).await?;
                    if !records::add_vote(conn, &pr_key, vote, None).await? {
                        return Ok((false, None));
                    }
                    let entry = backing::vote_entry(pr, vote, event.clone());
                    let record =
                        records::append(conn, &mut head, &entry, self.keys.current()).await?;
                    records::back_with_record(conn, &pr_key, &vote.source, record.seq).await?;
                    Ok((true, Some(record)))
                }
            }
        })?;
        if let Some(record) = &record {
            appended(record);
        }
        Ok(new)
    }

    async fn votes(&self, pr: &PrRef) -> StoreResult<Vec<CommandVote>> {
        let number = i64::try_from(pr.number.0)
            .map_err(|_| StoreError::Corrupt(format!("PR number {} is too large", pr.number)))?;
        let found = records::vote_records(&self.pool, pr.repo.as_str(), number).await?;
        let rows = records::vote_rows(&self.pool, Some(&pr.key())).await?;
        Ok(backing::counted(&self.keys, pr, &found, rows))
    }

    async fn put_fingerprint(&self, pr: &PrRef, head: &str, fingerprint: &str) -> StoreResult<()> {
        let pr_key = pr.key();
        transact!(self, |conn| {
            let now = db_now(conn).await?;
            records::write(
                conn,
                "INSERT INTO head_fingerprints (pr_key, head, fingerprint, at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (pr_key, head) DO UPDATE SET fingerprint = excluded.fingerprint, at = excluded.at",
                &[Arg::Text(&pr_key), Arg::Text(head), Arg::Text(fingerprint), Arg::Int(now)],
            )
            .await
        })
        .map(drop)
    }

    async fn fingerprints(&self, pr: &PrRef) -> StoreResult<BTreeMap<String, String>> {
        records::fingerprints(&self.pool, &pr.key()).await
    }

    async fn put_pr_gate(&self, gate: &PrGate) -> StoreResult<()> {
        transact!(self, |conn| {
            let now = db_now(conn).await?;
            records::put_gate(conn, gate, now).await
        })
    }

    async fn pr_gate(&self, pr: &PrRef) -> StoreResult<Option<PrGate>> {
        records::gate_of(&self.pool, pr).await
    }

    async fn pr_gates_at(&self, repo: &RepoRef, sha: &str) -> StoreResult<Vec<PrGate>> {
        records::gates_at(&self.pool, repo, sha).await
    }

    async fn forget_pr_gate(&self, pr: &PrRef) -> StoreResult<()> {
        let pr_key = pr.key();
        transact!(self, |conn| {
            records::write(
                conn,
                "DELETE FROM pr_gates WHERE pr_key = $1",
                &[Arg::Text(&pr_key)],
            )
            .await
        })
        .map(drop)
    }

    async fn put_ci_preview(
        &self,
        preview: CiPreview,
        token: CiToken,
        jobs: Vec<JobKind>,
    ) -> StoreResult<CiSubmitted> {
        let mut jobs = jobs.iter().map(job_row).collect::<StoreResult<Vec<_>>>()?;
        jobs.sort_by(|a, b| a.coalesce_key.cmp(&b.coalesce_key));
        transact!(self, |conn| {
            let now = db_now(conn).await?;
            let submitted = records::put_ci_preview(conn, &preview, &token, now).await?;
            if submitted == CiSubmitted::Stored {
                for job in &jobs {
                    queue::enqueue(conn, job, now, &self.replica).await?;
                }
            }
            Ok(submitted)
        })
    }

    async fn ci_preview(
        &self,
        repo_key: &str,
        commit: &str,
        stack: &str,
    ) -> StoreResult<Option<CiPreview>> {
        records::ci_preview(&self.pool, repo_key, commit, stack).await
    }

    async fn add_pr_author(&self, pr: &PrRef, login: &str) -> StoreResult<()> {
        let pr_key = pr.key();
        transact!(self, |conn| {
            let now = db_now(conn).await?;
            records::add_author(conn, &pr_key, login, now).await
        })
    }

    async fn pr_authors(&self, pr: &PrRef) -> StoreResult<Vec<String>> {
        records::authors(&self.pool, &pr.key()).await
    }

    async fn record_head(&self, pr: &PrRef, head: &str) -> StoreResult<()> {
        let pr_key = pr.key();
        transact!(self, |conn| {
            let now = db_now(conn).await?;
            records::write(
                conn,
                "INSERT INTO pr_heads (pr_key, head, first_seen) VALUES ($1, $2, $3) \
                 ON CONFLICT (pr_key, head) DO NOTHING",
                &[Arg::Text(&pr_key), Arg::Text(head), Arg::Int(now)],
            )
            .await
        })
        .map(drop)
    }

    async fn head_seen_at(&self, pr: &PrRef, at_ms: i64) -> StoreResult<Option<String>> {
        records::head_seen_at(&self.pool, &pr.key(), at_ms).await
    }

    async fn command_ticket(
        &self,
        ticket: &NewTicket<'_>,
        rate: CommandRate,
    ) -> StoreResult<CommandTicket> {
        let key = comment_key(ticket.pr, ticket.comment);
        let repo_key = ticket.pr.repo_ref().key();
        let author = ticket.author.to_lowercase();
        transact!(self, |conn| {
            let now = db_now(conn).await?;
            records::ticket(
                conn,
                &key,
                &repo_key,
                &author,
                ticket.at_ms,
                i64::from(rate.per_minute),
                now,
            )
            .await
        })
    }

    async fn set_command_reply(
        &self,
        pr: &PrRef,
        comment: CommentId,
        state: ReplyState,
    ) -> StoreResult<()> {
        let key = comment_key(pr, comment);
        transact!(self, |conn| {
            records::write(
                conn,
                "UPDATE command_tickets SET reply = $2 WHERE comment_key = $1",
                &[Arg::Text(&key), Arg::Text(state.as_str())],
            )
            .await
        })
        .map(drop)
    }
}

/// Reads the audit trail of a PostgreSQL store without changing it: every transaction is read
/// only, and no migration runs.
#[derive(Debug)]
pub struct PgAuditReader {
    pool: PgPool,
}

impl PgAuditReader {
    pub async fn open(url: &str) -> StoreResult<PgAuditReader> {
        let connect = connect_options(url)?.options([("default_transaction_read_only", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(PostgresOptions::default().acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(PgAuditReader { pool })
    }

    pub async fn records(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        records::audit_records(&self.pool, filter).await
    }

    pub async fn chain(&self) -> StoreResult<AuditChain> {
        records::whole_chain(&self.pool).await
    }

    pub async fn votes(&self) -> StoreResult<Vec<backing::VoteRow>> {
        records::vote_rows(&self.pool, None).await
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// A fresh, empty database on the server `IAMGATE_TEST_DATABASE_URL` names, for one test: the
/// PostgreSQL tests run when that variable is set, each in its own database, and fail (never
/// skip) when it is set and the server cannot be reached. Dropped by [`ScratchDatabase::drop`].
#[derive(Debug)]
pub struct ScratchDatabase {
    admin: PgConnectOptions,
    name: String,
    /// The url of the new database.
    pub url: String,
}

/// The variable that names the test server.
pub const TEST_DATABASE_VAR: &str = "IAMGATE_TEST_DATABASE_URL";

impl ScratchDatabase {
    /// `None` when `IAMGATE_TEST_DATABASE_URL` is not set; panics when it is set and no database
    /// can be created there (the test must fail, not skip).
    pub async fn create() -> Option<ScratchDatabase> {
        let admin_url = std::env::var(TEST_DATABASE_VAR).ok()?;
        let admin = match connect_options(&admin_url) {
            Ok(options) => options,
            Err(error) => panic!("{TEST_DATABASE_VAR}: {error}"),
        };
        let name = format!("iamgate_test_{:016x}", rand::random::<u64>());
        let mut conn = match sqlx::ConnectOptions::connect(&admin).await {
            Ok(conn) => conn,
            Err(error) => panic!(
                "{TEST_DATABASE_VAR} is set but its server cannot be reached ({}): {error}",
                redact(&admin_url)
            ),
        };
        if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
        {
            panic!("{TEST_DATABASE_VAR}: cannot create a test database: {error}");
        }
        let _ = sqlx::Connection::close(conn).await;
        let url = match admin_url.split_once('?') {
            Some((base, query)) => format!(
                "{}/{name}?{query}",
                base.rsplit_once('/').map_or(base, |(b, _)| b)
            ),
            None => format!(
                "{}/{name}",
                admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(b, _)| b)
            ),
        };
        Some(ScratchDatabase { admin, name, url })
    }

    /// Drops the database (its connections are ended first).
    pub async fn drop(self) {
        if let Ok(mut conn) = sqlx::ConnectOptions::connect(&self.admin).await {
            let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
            {
                tracing::warn!(%error, database = %self.name, "cannot drop a test database");
            }
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}
