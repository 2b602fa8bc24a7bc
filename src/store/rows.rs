//! The rows both backends store, serialized by the caller, and the helpers that make them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{JobKind, NewDelivery, PrGate, StoreError, StoreResult};
use crate::audit::AuditRecord;
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
