//! The write operations, as SQL on the writer's connection inside its batch transaction. Only
//! the writer task calls these; nothing here begins or commits a transaction or reads the
//! clock. Callers hand over rows already serialized; runs of deliveries travel to SQLite as one
//! JSON array (`json_each`), so a batch costs a fixed number of statements.

use std::collections::HashSet;

use sqlx::SqliteConnection;

use crate::store::rows::{ClaimedRow, DeliveryRow, JobRow, to_json};
use crate::store::{Pruned, Recorded, StoreResult};

/// A delivery to record with the jobs it causes.
pub(super) type Recording<'a> = (&'a DeliveryRow, &'a [JobRow]);

/// Stores a run of deliveries and enqueues their jobs with a fixed number of statements however
/// many there are (the rows travel as one JSON array), answering each as [`Recorded`] says.
/// Within the run, a delivery id seen twice is fresh the first time only.
pub(super) async fn record_many(
    conn: &mut SqliteConnection,
    records: &[Recording<'_>],
    now: i64,
) -> StoreResult<Vec<Recorded>> {
    let rows: Vec<_> = records.iter().map(|(delivery, _)| delivery).collect();
    let inserted: Vec<String> = sqlx::query_scalar(
        "INSERT INTO deliveries (id, forge, event_name, event, received_at, body_sha256) \
         SELECT value ->> 'id', value ->> 'forge', value ->> 'event_name', value ->> 'event_json', ?2, \
         value ->> 'body_sha256' \
         FROM json_each(?1) WHERE true ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(to_json(&rows)?)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut fresh: HashSet<String> = inserted.into_iter().collect();
    let mut outcomes = Vec::with_capacity(records.len());
    let mut jobs = Vec::new();
    let mut links = Vec::new();
    for (delivery, _) in records {
        if let Some((pr_key, login)) = &delivery.pusher {
            super::votes::add_author(conn, pr_key, login, now).await?;
        }
    }
    for (delivery, caused) in records {
        let is_fresh = fresh.remove(&delivery.id);
        outcomes.push(is_fresh.then_some(Recorded::Fresh));
        if is_fresh {
            for job in *caused {
                jobs.push(job);
                links.push((&delivery.id, &job.coalesce_key));
            }
        }
    }
    if !jobs.is_empty() {
        enqueue_many(conn, &jobs, now).await?;
        // Every key just enqueued now has exactly one pending job: link each delivery to it.
        sqlx::query(
            "INSERT OR IGNORE INTO delivery_jobs (delivery_id, job_id) \
             SELECT value ->> 0, (SELECT id FROM jobs WHERE coalesce_key = value ->> 1 AND state = 'pending') \
             FROM json_each(?1)",
        )
        .bind(to_json(&links)?)
        .execute(&mut *conn)
        .await?;
    }
    let mut answers = Vec::with_capacity(records.len());
    for ((delivery, _), outcome) in records.iter().zip(outcomes) {
        answers.push(match outcome {
            Some(recorded) => recorded,
            None => {
                // Seen before by its id, or a replay of a body seen under another id: acts as
                // that delivery would.
                let original: Option<String> = sqlx::query_scalar(
                    "SELECT id FROM deliveries WHERE id = ?1 OR body_sha256 = ?2 \
                     ORDER BY id = ?1 DESC LIMIT 1",
                )
                .bind(&delivery.id)
                .bind(&delivery.body_sha256)
                .fetch_optional(&mut *conn)
                .await?;
                match original {
                    Some(original) => redeliver(conn, &original, now).await?,
                    None => Recorded::Duplicate,
                }
            }
        });
    }
    Ok(answers)
}

/// A delivery seen before acts again only when everything it caused was dead-lettered: then
/// nothing it asked for has happened, and an operator's redelivery is the way to retry.
async fn redeliver(
    conn: &mut SqliteConnection,
    delivery_id: &str,
    now: i64,
) -> StoreResult<Recorded> {
    let caused: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT j.kind, j.coalesce_key, j.state, j.repo_key FROM delivery_jobs AS dj \
         JOIN jobs AS j ON j.id = dj.job_id WHERE dj.delivery_id = ?1 ORDER BY j.id",
    )
    .bind(delivery_id)
    .fetch_all(&mut *conn)
    .await?;
    if caused.is_empty() || caused.iter().any(|(_, _, state, _)| state != "dead") {
        return Ok(Recorded::Duplicate);
    }
    for (kind_json, coalesce_key, _, repo_key) in caused {
        let job_id = enqueue(
            conn,
            &JobRow {
                kind_json,
                coalesce_key,
                repo_key: repo_key.unwrap_or_default(),
            },
            now,
        )
        .await?;
        link(conn, delivery_id, job_id).await?;
    }
    Ok(Recorded::Fresh)
}

/// [`enqueue`] for many jobs in one statement (rows with one key merge, in order).
async fn enqueue_many(conn: &mut SqliteConnection, jobs: &[&JobRow], now: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO jobs (kind, coalesce_key, repo_key, state, attempt, run_at, created_at, updated_at) \
         SELECT value ->> 'kind_json', value ->> 'coalesce_key', value ->> 'repo_key', 'pending', 0, ?2, ?2, ?2 \
         FROM json_each(?1) WHERE true \
         ON CONFLICT (coalesce_key) WHERE state = 'pending' \
         DO UPDATE SET kind = excluded.kind, updated_at = excluded.updated_at",
    )
    .bind(to_json(&jobs)?)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds a pending job in the fast lane, or merges it into the pending job with the same key
/// (which keeps its schedule, attempt count and lane, and takes the newer kind). Returns the
/// job's id.
pub(super) async fn enqueue(
    conn: &mut SqliteConnection,
    job: &JobRow,
    now: i64,
) -> StoreResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, coalesce_key, repo_key, state, attempt, run_at, created_at, updated_at) \
         VALUES (?1, ?2, ?4, 'pending', 0, ?3, ?3, ?3) \
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
    Ok(id)
}

async fn link(conn: &mut SqliteConnection, delivery_id: &str, job_id: i64) -> StoreResult<()> {
    sqlx::query("INSERT OR IGNORE INTO delivery_jobs (delivery_id, job_id) VALUES (?1, ?2)")
        .bind(delivery_id)
        .bind(job_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Claims a due job of `lane` (any lane when `None`): a pending job whose `run_at` has come, or
/// a running job whose worker died (its lease expired), skipping keys that have a job under a
/// live lease. Fair between repositories: first the repository with the fewest jobs running in
/// the job's lane, then the one whose last turn in the lane is oldest (never served first), and
/// within those the job that has waited longest. The repository's turn is recorded.
pub(super) async fn claim(
    conn: &mut SqliteConnection,
    worker: &str,
    lease: &str,
    lease_ms: i64,
    lane: Option<&str>,
    now: i64,
) -> StoreResult<Option<ClaimedRow>> {
    let row: Option<(i64, String, i64, String, Option<String>)> = sqlx::query_as(
        "WITH busy AS ( \
             SELECT lane, repo_key, COUNT(*) AS running FROM jobs \
             WHERE state = 'running' AND lease_until > ?4 GROUP BY lane, repo_key) \
         UPDATE jobs SET state = 'running', lease = ?1, lease_until = ?2, worker = ?3, \
             attempt = attempt + 1, updated_at = ?4, \
             last_error = CASE WHEN state = 'running' \
                 THEN 'lease of worker ' || COALESCE(worker, '?') || ' expired' \
                 ELSE last_error END \
         WHERE id = ( \
             SELECT j.id FROM jobs AS j \
             LEFT JOIN busy AS b ON b.lane = j.lane AND b.repo_key IS j.repo_key \
             LEFT JOIN lane_turns AS t ON t.lane = j.lane AND t.repo_key = COALESCE(j.repo_key, '') \
             WHERE (?5 IS NULL OR j.lane = ?5) \
               AND ((j.state = 'pending' AND j.run_at <= ?4) \
                 OR (j.state = 'running' AND j.lease_until <= ?4)) \
               AND NOT EXISTS (SELECT 1 FROM jobs AS o WHERE o.coalesce_key = j.coalesce_key \
                   AND o.state = 'running' AND o.lease_until > ?4) \
             ORDER BY COALESCE(b.running, 0), COALESCE(t.served_at, 0), \
                 CASE j.state WHEN 'running' THEN j.lease_until ELSE j.run_at END, j.id \
             LIMIT 1) \
         RETURNING id, kind, attempt, lane, repo_key",
    )
    .bind(lease)
    .bind(now.saturating_add(lease_ms))
    .bind(worker)
    .bind(now)
    .bind(lane)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, kind_json, attempt, lane, repo_key)) = row else {
        return Ok(None);
    };
    sqlx::query(
        "INSERT INTO lane_turns (lane, repo_key, served_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (lane, repo_key) DO UPDATE SET served_at = excluded.served_at",
    )
    .bind(&lane)
    .bind(repo_key.unwrap_or_default())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(Some(ClaimedRow {
        id,
        kind_json,
        attempt,
        lease: lease.to_owned(),
        lane,
    }))
}

/// Marks a job done if `lease` still holds it. Returns whether it did.
pub(super) async fn complete(
    conn: &mut SqliteConnection,
    id: i64,
    lease: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'done', lease = NULL, lease_until = NULL, updated_at = ?3 \
         WHERE id = ?1 AND lease = ?2 AND state = 'running'",
    )
    .bind(id)
    .bind(lease)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Pushes the lease of a job `lease` still holds. Returns whether it did.
pub(super) async fn extend(
    conn: &mut SqliteConnection,
    id: i64,
    lease: &str,
    lease_ms: i64,
    now: i64,
) -> StoreResult<bool> {
    let extended = sqlx::query(
        "UPDATE jobs SET lease_until = ?3, updated_at = ?4 \
         WHERE id = ?1 AND lease = ?2 AND state = 'running'",
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

/// Dead-letters a job `lease` still holds. Returns whether it did.
pub(super) async fn bury(
    conn: &mut SqliteConnection,
    id: i64,
    lease: &str,
    reason: &str,
    now: i64,
) -> StoreResult<bool> {
    let buried = sqlx::query(
        "UPDATE jobs SET state = 'dead', lease = NULL, lease_until = NULL, last_error = ?3, \
             updated_at = ?4 \
         WHERE id = ?1 AND lease = ?2 AND state = 'running'",
    )
    .bind(id)
    .bind(lease)
    .bind(reason)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(buried == 1)
}

/// Puts a job `lease` still holds back to pending, due at `run_at`. If another job with its key
/// became pending meanwhile (an event arrived while it ran), the two coalesce: the pending one
/// takes over (no earlier than `run_at`, so a backoff is honoured) along with this job's
/// deliveries, and this one ends `done` with the reason noted. Returns whether it acted.
pub(super) async fn retry(
    conn: &mut SqliteConnection,
    id: i64,
    lease: &str,
    reason: &str,
    run_at: i64,
    now: i64,
) -> StoreResult<bool> {
    let how = Requeue {
        run_at,
        lane: None,
        error: Some(reason),
        refund: false,
        what: &format!("{reason} (retry coalesced"),
    };
    requeue(conn, id, lease, &how, now).await
}

/// Puts a job `lease` still holds back to pending in `lane`, due now, without counting the
/// attempt (a move is not a failure). If another job with its key became pending meanwhile, that
/// one takes over in the busier lane of the two (`preview` over `fast`) along with this job's
/// deliveries, and this one ends `done`. Returns whether it acted.
pub(super) async fn relane(
    conn: &mut SqliteConnection,
    id: i64,
    lease: &str,
    lane: &str,
    now: i64,
) -> StoreResult<bool> {
    let how = Requeue {
        run_at: now,
        lane: Some(lane),
        error: None,
        refund: true,
        what: &format!("(moved to the {lane} lane"),
    };
    requeue(conn, id, lease, &how, now).await
}

/// How a running job goes back to the queue.
struct Requeue<'a> {
    /// Due then (a pending job that takes over: no earlier).
    run_at: i64,
    /// Its lane (`None`: the same); a pending job that takes over gets the busier of its own
    /// and this one (`preview` over `fast`).
    lane: Option<&'a str>,
    /// Kept as the job's last error (`None`: unchanged).
    error: Option<&'a str>,
    /// The attempt does not count.
    refund: bool,
    /// How the job's end reads when a pending job takes over: `<what> into job N)`.
    what: &'a str,
}

/// Puts a job `lease` still holds back to pending as `how` says, or, when a job with its key
/// became pending meanwhile, lets that one take over. Returns whether it acted.
async fn requeue(
    conn: &mut SqliteConnection,
    id: i64,
    lease: &str,
    how: &Requeue<'_>,
    now: i64,
) -> StoreResult<bool> {
    let Some(sibling) = pending_sibling(conn, id, lease).await? else {
        return Ok(false);
    };
    let Some(sibling) = sibling else {
        sqlx::query(
            "UPDATE jobs SET state = 'pending', run_at = ?2, lane = COALESCE(?3, lane), \
                 attempt = MAX(attempt - ?4, 0), last_error = COALESCE(?5, last_error), \
                 lease = NULL, lease_until = NULL, updated_at = ?6 WHERE id = ?1",
        )
        .bind(id)
        .bind(how.run_at)
        .bind(how.lane)
        .bind(i64::from(how.refund))
        .bind(how.error)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        return Ok(true);
    };
    sqlx::query(
        "UPDATE jobs SET run_at = MAX(run_at, ?2), \
             lane = CASE WHEN ?3 = 'preview' THEN ?3 ELSE lane END, updated_at = ?4 WHERE id = ?1",
    )
    .bind(sibling)
    .bind(how.run_at)
    .bind(how.lane)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let note = format!("{} into job {sibling})", how.what);
    hand_over(conn, id, sibling, &note, now).await?;
    Ok(true)
}

/// For a job `lease` still holds (`None` when it does not): the pending job with its key, if any.
async fn pending_sibling(
    conn: &mut SqliteConnection,
    id: i64,
    lease: &str,
) -> StoreResult<Option<Option<i64>>> {
    let key: Option<String> = sqlx::query_scalar(
        "SELECT coalesce_key FROM jobs WHERE id = ?1 AND lease = ?2 AND state = 'running'",
    )
    .bind(id)
    .bind(lease)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(key) = key else { return Ok(None) };
    let sibling: Option<i64> =
        sqlx::query_scalar("SELECT id FROM jobs WHERE coalesce_key = ?1 AND state = 'pending'")
            .bind(&key)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(Some(sibling))
}

/// Ends job `id` `done` with `note`; `sibling`, which takes over, gets its deliveries.
async fn hand_over(
    conn: &mut SqliteConnection,
    id: i64,
    sibling: i64,
    note: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT OR IGNORE INTO delivery_jobs (delivery_id, job_id) \
         SELECT delivery_id, ?2 FROM delivery_jobs WHERE job_id = ?1",
    )
    .bind(id)
    .bind(sibling)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE jobs SET state = 'done', lease = NULL, lease_until = NULL, last_error = ?2, \
             updated_at = ?3 WHERE id = ?1",
    )
    .bind(id)
    .bind(note)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn put_pr_state(
    conn: &mut SqliteConnection,
    key: &str,
    json: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO pr_state (key, state, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(json)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes up to `limit` finished (done or dead) jobs last touched before `before`, up to
/// `limit` deliveries received before `before` whose jobs are all finished, and up to `limit`
/// command tickets issued before `before`. Pending and running work is never touched.
pub(super) async fn prune(
    conn: &mut SqliteConnection,
    before: i64,
    limit: i64,
) -> StoreResult<Pruned> {
    let jobs = sqlx::query(
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
         WHERE state IN ('done', 'dead') AND updated_at < ?1 LIMIT ?2)",
    )
    .bind(before)
    .bind(limit)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let deliveries = sqlx::query(
        "DELETE FROM deliveries WHERE id IN (SELECT d.id FROM deliveries AS d \
         WHERE d.received_at < ?1 AND NOT EXISTS (SELECT 1 FROM delivery_jobs AS dj \
             JOIN jobs AS j ON j.id = dj.job_id \
             WHERE dj.delivery_id = d.id AND j.state IN ('pending', 'running')) \
         LIMIT ?2)",
    )
    .bind(before)
    .bind(limit)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let tickets = super::tickets::prune(conn, before, limit).await?;
    Ok(Pruned {
        jobs,
        deliveries,
        tickets,
        // The writer adds what `ci::prune` removed.
        ci: 0,
    })
}
