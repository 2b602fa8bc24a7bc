//! Deliveries and the job queue on PostgreSQL, for any number of replicas at once. Each function
//! runs inside the caller's transaction (READ COMMITTED); what SQLite gets from its one writer,
//! this gets from locks:
//! - a delivery id (or body) is unique: a second replica's insert waits for the first and then
//!   does nothing, so a delivery is acted on once;
//! - every change to a coalescing key's pending or running jobs holds that key's advisory lock
//!   ([`lock_key`]) for the transaction, so a key never has two pending jobs, nor a claim that
//!   races a requeue;
//! - claims take the job row `FOR UPDATE SKIP LOCKED` and the key's lock with a try (never a
//!   wait), and re-check under the lock that no job of the key runs under a live lease: one pull
//!   request is worked on by one worker of one replica at a time.
//!
//! Every transaction that makes work claimable sends `NOTIFY iamgate_jobs` (delivered at
//! commit), which wakes the other replicas' workers.

use sqlx::PgConnection;

use super::lock_key;
use crate::store::rows::{ClaimedRow, DeliveryRow, JobRow};
use crate::store::{Recorded, StoreResult};

/// The channel workers listen on.
pub(super) const CHANNEL: &str = "iamgate_jobs";

/// How many candidates a claim looks at before answering that nothing is free.
const CLAIM_CANDIDATES: usize = 8;

async fn try_lock_key(conn: &mut PgConnection, key: &str) -> StoreResult<bool> {
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
    Ok(locked)
}

/// Wakes the workers of `lane` in the other replicas when the transaction commits. The payload
/// is `<replica>:<lane>`: a replica's own workers are woken in the process already, so it skips
/// what it sent itself, and the others wake only the lane that has work.
pub(super) async fn notify(conn: &mut PgConnection, replica: &str, lane: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{replica}:{lane}"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stores one delivery and enqueues its jobs, as [`crate::store::Store::record_delivery`] says.
pub(super) async fn record(
    conn: &mut PgConnection,
    delivery: &DeliveryRow,
    jobs: &[JobRow],
    now: i64,
    replica: &str,
) -> StoreResult<Recorded> {
    if let Some((pr_key, login)) = &delivery.pusher {
        super::records::add_author(conn, pr_key, login, now).await?;
    }
    let inserted: Option<String> = sqlx::query_scalar(
        "INSERT INTO deliveries (id, forge, event_name, event, received_at, body_sha256) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(&delivery.id)
    .bind(&delivery.forge)
    .bind(&delivery.event_name)
    .bind(&delivery.event_json)
    .bind(now)
    .bind(&delivery.body_sha256)
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        enqueue_for(conn, &delivery.id, jobs.iter().cloned(), now, replica).await?;
        return Ok(Recorded::Fresh);
    }
    // Seen before by its id, or a replay of a body seen under another id: acts as that delivery
    // would. Its row is locked, so two replicas redelivering it at once act once.
    let original: Option<String> = sqlx::query_scalar(
        "SELECT id FROM deliveries WHERE id = $1 OR body_sha256 = $2 \
         ORDER BY (id = $1) DESC LIMIT 1 FOR UPDATE",
    )
    .bind(&delivery.id)
    .bind(&delivery.body_sha256)
    .fetch_optional(&mut *conn)
    .await?;
    match original {
        Some(original) => redeliver(conn, &original, now, replica).await,
        None => Ok(Recorded::Duplicate),
    }
}

/// A delivery seen before acts again only when everything it caused was dead-lettered.
async fn redeliver(
    conn: &mut PgConnection,
    delivery_id: &str,
    now: i64,
    replica: &str,
) -> StoreResult<Recorded> {
    let caused: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT j.kind, j.coalesce_key, j.state, j.repo_key FROM delivery_jobs AS dj \
         JOIN jobs AS j ON j.id = dj.job_id WHERE dj.delivery_id = $1 ORDER BY j.id",
    )
    .bind(delivery_id)
    .fetch_all(&mut *conn)
    .await?;
    if caused.is_empty() || caused.iter().any(|(_, _, state, _)| state != "dead") {
        return Ok(Recorded::Duplicate);
    }
    let jobs = caused
        .into_iter()
        .map(|(kind_json, coalesce_key, _, repo_key)| JobRow {
            kind_json,
            coalesce_key,
            repo_key: repo_key.unwrap_or_default(),
        });
    enqueue_for(conn, delivery_id, jobs, now, replica).await?;
    Ok(Recorded::Fresh)
}

/// Enqueues `jobs` (keys locked in order, so that two transactions never wait on each other's
/// keys) and links each to `delivery_id`.
async fn enqueue_for(
    conn: &mut PgConnection,
    delivery_id: &str,
    jobs: impl Iterator<Item = JobRow>,
    now: i64,
    replica: &str,
) -> StoreResult<()> {
    let mut jobs: Vec<JobRow> = jobs.collect();
    if jobs.is_empty() {
        return Ok(());
    }
    jobs.sort_by(|a, b| a.coalesce_key.cmp(&b.coalesce_key));
    for job in &jobs {
        let id = enqueue(conn, job, now, replica).await?;
        sqlx::query(
            "INSERT INTO delivery_jobs (delivery_id, job_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(delivery_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Adds a pending job in the fast lane, or merges it into the pending job with the same key
/// (which keeps its schedule, attempt count and lane, and takes the newer kind). Returns the
/// job's id. Takes the key's lock and notifies the workers.
pub(super) async fn enqueue(
    conn: &mut PgConnection,
    job: &JobRow,
    now: i64,
    replica: &str,
) -> StoreResult<i64> {
    lock_key(conn, &job.coalesce_key).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, coalesce_key, repo_key, state, attempt, run_at, created_at, updated_at) \
         VALUES ($1, $2, $4, 'pending', 0, $3, $3, $3) \
         ON CONFLICT (coalesce_key) WHERE state = 'pending' \
         DO UPDATE SET kind = excluded.kind, updated_at = excluded.updated_at \
         RETURNING id",
    )
    .bind(&job.kind_json)
    .bind(&job.coalesce_key)
    .bind(now)
    .bind(&job.repo_key)
    .fetch_one(&mut *conn)
    .await?;
    // A job merged into one already pending in the preview lane stays there; the fast lane
    // looks first either way, and moves it on if it must.
    notify(conn, replica, "fast").await?;
    Ok(id)
}

/// Claims a due job of `lane` (any lane when `None`), fairly between repositories as the SQLite
/// store does: the repository with the fewest jobs running in the lane, then the one whose turn
/// is oldest, then the job that has waited longest. Rows another replica is claiming are
/// skipped, and so are keys whose lock another transaction holds (the next claim or the
/// notification gets them).
pub(super) async fn claim(
    conn: &mut PgConnection,
    worker: &str,
    lease: &str,
    lease_ms: i64,
    lane: Option<&str>,
    now: i64,
) -> StoreResult<Option<ClaimedRow>> {
    let mut passed: Vec<i64> = Vec::new();
    for _ in 0..CLAIM_CANDIDATES {
        let candidate: Option<(i64, String)> = sqlx::query_as(
            "WITH busy AS ( \
                 SELECT lane, repo_key, COUNT(*) AS running FROM jobs \
                 WHERE state = 'running' AND lease_until > $1 GROUP BY lane, repo_key) \
             SELECT j.id, j.coalesce_key FROM jobs AS j \
             LEFT JOIN busy AS b ON b.lane = j.lane AND b.repo_key IS NOT DISTINCT FROM j.repo_key \
             LEFT JOIN lane_turns AS t ON t.lane = j.lane AND t.repo_key = COALESCE(j.repo_key, '') \
             WHERE ($2::text IS NULL OR j.lane = $2) \
               AND ((j.state = 'pending' AND j.run_at <= $1) \
                 OR (j.state = 'running' AND j.lease_until <= $1)) \
               AND NOT (j.id = ANY($3)) \
               AND NOT EXISTS (SELECT 1 FROM jobs AS o WHERE o.coalesce_key = j.coalesce_key \
                   AND o.state = 'running' AND o.lease_until > $1) \
             ORDER BY COALESCE(b.running, 0), COALESCE(t.served_at, 0), \
                 CASE j.state WHEN 'running' THEN j.lease_until ELSE j.run_at END, j.id \
             LIMIT 1 FOR UPDATE OF j SKIP LOCKED",
        )
        .bind(now)
        .bind(lane)
        .bind(&passed)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((id, key)) = candidate else {
            return Ok(None);
        };
        // Under the key's lock, what other transactions did to the key has committed: look again.
        let free = try_lock_key(conn, &key).await?
            && sqlx::query_scalar::<_, i64>(
                "SELECT 1 FROM jobs WHERE coalesce_key = $1 AND id <> $2 \
                 AND state = 'running' AND lease_until > $3 LIMIT 1",
            )
            .bind(&key)
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?
            .is_none();
        if !free {
            passed.push(id);
            continue;
        }
        let (kind_json, attempt, lane, repo_key): (String, i64, String, Option<String>) =
            sqlx::query_as(
                "UPDATE jobs SET state = 'running', lease = $2, lease_until = $3, worker = $4, \
                     attempt = attempt + 1, updated_at = $5, \
                     last_error = CASE WHEN state = 'running' \
                         THEN 'lease of worker ' || COALESCE(worker, '?') || ' expired' \
                         ELSE last_error END \
                 WHERE id = $1 RETURNING kind, attempt, lane, repo_key",
            )
            .bind(id)
            .bind(lease)
            .bind(now.saturating_add(lease_ms))
            .bind(worker)
            .bind(now)
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO lane_turns (lane, repo_key, served_at) VALUES ($1, $2, $3) \
             ON CONFLICT (lane, repo_key) DO UPDATE SET served_at = excluded.served_at",
        )
        .bind(&lane)
        .bind(repo_key.unwrap_or_default())
        .bind(now)
        .execute(&mut *conn)
        .await?;
        return Ok(Some(ClaimedRow {
            id,
            kind_json,
            attempt,
            lease: lease.to_owned(),
            lane,
        }));
    }
    Ok(None)
}

/// Ends a job `lease` still holds: `done`, or `dead` with `reason`. Returns whether it did.
pub(super) async fn finish(
    conn: &mut PgConnection,
    id: i64,
    lease: &str,
    dead_because: Option<&str>,
    now: i64,
) -> StoreResult<bool> {
    let state = if dead_because.is_some() {
        "dead"
    } else {
        "done"
    };
    let ended = sqlx::query(
        "UPDATE jobs SET state = $3, lease = NULL, lease_until = NULL, \
             last_error = COALESCE($4, last_error), updated_at = $5 \
         WHERE id = $1 AND lease = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(lease)
    .bind(state)
    .bind(dead_because)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(ended == 1)
}

/// Pushes the lease of a job `lease` still holds. Returns whether it did.
pub(super) async fn extend(
    conn: &mut PgConnection,
    id: i64,
    lease: &str,
    lease_ms: i64,
    now: i64,
) -> StoreResult<bool> {
    let extended = sqlx::query(
        "UPDATE jobs SET lease_until = $3, updated_at = $4 \
         WHERE id = $1 AND lease = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(lease)
    .bind(now.saturating_add(lease_ms))
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(extended == 1)
}

/// How a running job goes back to the queue (see the SQLite store's `Requeue`).
#[derive(Debug)]
pub(super) struct Requeue<'a> {
    /// Due this long after now (a pending job that takes over: no earlier).
    pub delay_ms: i64,
    pub lane: Option<&'a str>,
    pub error: Option<&'a str>,
    pub refund: bool,
    pub what: &'a str,
}

/// Puts a job `lease` still holds back to pending as `how` says, or, when a job with its key
/// became pending meanwhile, lets that one take over (in the busier lane, no earlier than
/// its due time, with this job's deliveries) and ends this one `done`. Returns whether it acted.
pub(super) async fn requeue(
    conn: &mut PgConnection,
    id: i64,
    lease: &str,
    how: &Requeue<'_>,
    now: i64,
    replica: &str,
) -> StoreResult<bool> {
    let key: Option<String> = sqlx::query_scalar(
        "SELECT coalesce_key FROM jobs WHERE id = $1 AND lease = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(lease)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(key) = key else { return Ok(false) };
    lock_key(conn, &key).await?;
    let run_at = now.saturating_add(how.delay_ms);
    let sibling: Option<i64> =
        sqlx::query_scalar("SELECT id FROM jobs WHERE coalesce_key = $1 AND state = 'pending'")
            .bind(&key)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(sibling) = sibling else {
        let moved: Option<String> = sqlx::query_scalar(
            "UPDATE jobs SET state = 'pending', run_at = $3, lane = COALESCE($4, lane), \
                 attempt = GREATEST(attempt - $5, 0), last_error = COALESCE($6, last_error), \
                 lease = NULL, lease_until = NULL, updated_at = $7 \
             WHERE id = $1 AND lease = $2 AND state = 'running' RETURNING lane",
        )
        .bind(id)
        .bind(lease)
        .bind(run_at)
        .bind(how.lane)
        .bind(i64::from(how.refund))
        .bind(how.error)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(lane) = &moved {
            notify(conn, replica, lane).await?;
        }
        return Ok(moved.is_some());
    };
    let lane: String = sqlx::query_scalar(
        "UPDATE jobs SET run_at = GREATEST(run_at, $2), \
             lane = CASE WHEN $3::text = 'preview' THEN $3 ELSE lane END, updated_at = $4 \
         WHERE id = $1 RETURNING lane",
    )
    .bind(sibling)
    .bind(run_at)
    .bind(how.lane)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO delivery_jobs (delivery_id, job_id) \
         SELECT delivery_id, $2 FROM delivery_jobs WHERE job_id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(sibling)
    .execute(&mut *conn)
    .await?;
    let ended = sqlx::query(
        "UPDATE jobs SET state = 'done', lease = NULL, lease_until = NULL, last_error = $3, \
             updated_at = $4 WHERE id = $1 AND lease = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(lease)
    .bind(format!("{} into job {sibling})", how.what))
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    notify(conn, replica, &lane).await?;
    Ok(ended == 1)
}

/// Rows removed by [`prune`]: finished jobs, deliveries whose jobs are all finished, command
/// tickets, CI previews, expired token ids and old preview cache entries, each at most `limit`.
pub(super) async fn prune(
    conn: &mut PgConnection,
    before: i64,
    now: i64,
    limit: i64,
) -> StoreResult<crate::store::Pruned> {
    let mut counts = [0u64; 6];
    let statements = [
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
         WHERE state IN ('done', 'dead') AND updated_at < $1 LIMIT $2)",
        "DELETE FROM deliveries WHERE id IN (SELECT d.id FROM deliveries AS d \
         WHERE d.received_at < $1 AND NOT EXISTS (SELECT 1 FROM delivery_jobs AS dj \
             JOIN jobs AS j ON j.id = dj.job_id \
             WHERE dj.delivery_id = d.id AND j.state IN ('pending', 'running')) LIMIT $2)",
        "DELETE FROM command_tickets WHERE comment_key IN \
         (SELECT comment_key FROM command_tickets WHERE created_at < $1 LIMIT $2)",
        "DELETE FROM ci_previews WHERE ctid IN (SELECT ctid FROM ci_previews \
         WHERE received_ms < $1 LIMIT $2)",
        "DELETE FROM ci_token_ids WHERE ctid IN (SELECT ctid FROM ci_token_ids \
         WHERE expires_ms < $1 LIMIT $2)",
        "DELETE FROM preview_cache WHERE key IN (SELECT key FROM preview_cache \
         WHERE at < $1 LIMIT $2)",
    ];
    for (i, statement) in statements.into_iter().enumerate() {
        let cut = if i == 4 { now } else { before };
        counts[i] = sqlx::query(statement)
            .bind(cut)
            .bind(limit)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(crate::store::Pruned {
        jobs: counts[0],
        deliveries: counts[1],
        tickets: counts[2],
        ci: counts[3] + counts[4] + counts[5],
    })
}
