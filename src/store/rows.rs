//! The rows both backends store, serialized by the caller, and the helpers that make them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::backing::{Backing, VoteRow};
use super::{CommandVote, CommandVoteKind, JobKind, NewDelivery, PrGate, StoreError, StoreResult};
use crate::audit::AuditRecord;
use crate::event::UserId;
use crate::event::{CommentId, PrRef};

/// A delivery, serialized by the caller.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DeliveryRow {
    pub id: String,
    pub forge: String,
    pub event_name: String,
    pub event_json: String,
    pub body_sha256: Option<String>,
    /// A push to a pull request: `(pr key, pusher)`, recorded as an author in the delivery's own
    /// transaction.
    #[serde(skip)]
    pub pusher: Option<(String, String)>,
}

/// A job to enqueue, serialized by the caller.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct JobRow {
    pub kind_json: String,
    pub coalesce_key: String,
    /// `JobKind::repo_key`: claims are fair between repositories.
    pub repo_key: String,
}

/// A freshly claimed job, still serialized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClaimedRow {
    pub id: i64,
    pub kind_json: String,
    pub attempt: i64,
    pub lease: String,
    pub lane: String,
}

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

pub(crate) fn job_row(job: &JobKind) -> StoreResult<JobRow> {
    Ok(JobRow {
        kind_json: to_json(job)?,
        coalesce_key: job.coalesce_key(),
        repo_key: job.repo_key(),
    })
}

/// The key of a comment's command ticket.
pub(crate) fn comment_key(pr: &PrRef, comment: CommentId) -> String {
    format!("{}:{comment}", pr.key())
}

pub(crate) fn attempt(value: i64, id: i64) -> StoreResult<u32> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("job {id}: attempt {value}")))
}

pub(crate) fn new_lease() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The row of a delivery. A push to a pull request carries its pusher (recorded as an author in
/// the delivery's transaction), and only the pusher: a head named by a webhook is not trusted
/// for binding approvals (a delivery forged with a leaked secret could name a head before it is
/// pushed); the job records heads as the forge shows them.
pub(crate) fn delivery_row(delivery: NewDelivery) -> StoreResult<DeliveryRow> {
    let pusher = match &delivery.event {
        crate::event::Event::PullRequest {
            pr,
            pushed_by: Some(login),
            ..
        } => Some((pr.key(), login.as_str().to_owned())),
        _ => None,
    };
    Ok(DeliveryRow {
        id: delivery.id.0,
        forge: delivery.forge,
        event_name: delivery.event_name,
        event_json: to_json(&delivery.event)?,
        body_sha256: delivery.body_sha256,
        pusher,
    })
}

/// An `audit_log` row: id, seq, time, kind, repo, pr, record, prev_hash, hash.
pub(crate) type AuditRow = (i64, i64, i64, String, String, i64, String, String, String);

pub(crate) fn audit_record(
    (id, seq, time_ms, kind, repo, pr, record, prev_hash, hash): AuditRow,
) -> AuditRecord {
    AuditRecord {
        id,
        seq,
        time_ms,
        kind,
        repo,
        pr,
        record,
        prev_hash,
        hash,
    }
}

/// A `pr_gates` row: pr (JSON), sha, base, state, description.
pub(crate) type GateRow = (String, String, String, String, String);

pub(crate) fn gate((pr, sha, base, state, description): GateRow) -> StoreResult<PrGate> {
    let pr = serde_json::from_str(&pr)
        .map_err(|e| StoreError::Corrupt(format!("pr_gates: unreadable PR `{pr}`: {e}")))?;
    Ok(PrGate {
        pr,
        sha,
        base,
        state,
        description,
    })
}

/// A `votes` row joined with the audit record it names (columns as both backends select them:
/// the vote's, its backing's, then the record's), decoded on either backend.
pub(crate) fn vote_row<'r, R>(row: &'r R) -> StoreResult<VoteRow>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = row.try_get(4)?;
    let vote = CommandVote {
        source: row.try_get(1)?,
        login: row.try_get(2)?,
        user_id: row
            .try_get::<Option<i64>, _>(3)?
            .and_then(|id| u64::try_from(id).ok())
            .map(UserId),
        kind: CommandVoteKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("votes: unknown kind `{kind}`")))?,
        head: row.try_get(5)?,
        reason: row.try_get(6)?,
        at_ms: row.try_get(7)?,
    };
    let audit_seq: Option<i64> = row.try_get(8)?;
    let key_id: Option<String> = row.try_get(9)?;
    let mac: Option<String> = row.try_get(10)?;
    let record = match row.try_get::<Option<i64>, _>(11)? {
        None => None,
        Some(id) => Some(Box::new(AuditRecord {
            id,
            seq: row.try_get(12)?,
            time_ms: row.try_get(13)?,
            kind: row.try_get(14)?,
            repo: row.try_get(15)?,
            pr: row.try_get(16)?,
            record: row.try_get(17)?,
            prev_hash: row.try_get(18)?,
            hash: row.try_get(19)?,
        })),
    };
    let backing = match (audit_seq, key_id, mac) {
        (Some(_), _, _) => Backing::Record(record),
        (None, Some(key_id), Some(mac)) => Backing::Mac { key_id, mac },
        _ => Backing::Nothing,
    };
    Ok(VoteRow {
        pr_key: row.try_get(0)?,
        vote,
        backing,
    })
}

/// Queue counts from `(state, count)` rows.
pub(crate) fn queue_stats(counts: Vec<(String, i64)>) -> super::QueueStats {
    let mut stats = super::QueueStats::default();
    for (state, count) in counts {
        let count = u64::try_from(count).unwrap_or(0);
        match state.as_str() {
            "pending" => stats.pending = count,
            "running" => stats.running = count,
            _ => stats.dead = count,
        }
    }
    stats
}

/// A dead job from its `(id, kind, attempt, last_error, updated_at)` row.
pub(crate) fn dead_job(
    (id, kind_json, tries, reason, dead_at_ms): (i64, String, i64, Option<String>, i64),
) -> StoreResult<super::DeadJob> {
    Ok(super::DeadJob {
        id,
        kind: serde_json::from_str(&kind_json).ok(),
        attempt: attempt(tries, id)?,
        reason: reason.unwrap_or_default(),
        dead_at_ms,
    })
}

/// The statements both backends count the queue and list dead jobs with.
pub(crate) const QUEUE_COUNTS: &str =
    "SELECT state, COUNT(*) FROM jobs WHERE state IN ('pending', 'running', 'dead') GROUP BY state";
