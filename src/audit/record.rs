//! The audit record model: what happened ([`AuditEvent`]), to which pull request, by whom and
//! when ([`AuditEntry`]), and the stored, chained form ([`AuditRecord`]). Pure data: the time is
//! given by the caller, nothing here reads the clock or the store.

use serde::{Deserialize, Serialize};

use super::time::Timestamp;
use crate::event::{ForgeKind, Login, PrNumber, RepoName, Sha, UserId};
pub use crate::gate::GateState;

/// The actor of what iamgate itself does (analyses, dropped approvals, status changes).
pub const APP_ACTOR: &str = "iamgate";

/// One thing to record, as a caller hands it to [`crate::store::Store::append_audit`].
///
/// Its JSON (with `seq`, see [`super::chain`]) is what the chain hashes; the event's fields sit
/// beside the common ones, under the event's `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When it happened (UTC), as the caller's clock says.
    pub time: Timestamp,
    pub forge: ForgeKind,
    pub repo: RepoName,
    pub pr: PrNumber,
    /// The pull request's head when it happened, if known.
    pub head_sha: Option<Sha>,
    /// Who did it: a forge login, or [`APP_ACTOR`] for iamgate itself (the event's kind tells
    /// which is meant should a user be called `iamgate`).
    pub actor: Login,
    /// The actor's account id, when known (the record of a vote carries it: membership is asked
    /// about that account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<UserId>,
    /// What gave it, for the record of a vote: the vote's source (`comment:123:0`, the comment
    /// and the command's line), which ties the vote the gate counts to this record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(flatten)]
    pub event: AuditEvent,
}

impl AuditEntry {
    /// An entry for `event` on `pr` by iamgate itself.
    pub fn by_app(time: Timestamp, pr: &crate::event::PrRef, event: AuditEvent) -> AuditEntry {
        AuditEntry::by(time, pr, Login::from(APP_ACTOR), event)
    }

    /// An entry for `event` on `pr` by `actor`.
    pub fn by(
        time: Timestamp,
        pr: &crate::event::PrRef,
        actor: Login,
        event: AuditEvent,
    ) -> AuditEntry {
        AuditEntry {
            time,
            forge: pr.forge,
            repo: pr.repo.clone(),
            pr: pr.number,
            head_sha: None,
            actor,
            actor_id: None,
            source: None,
            event,
        }
    }

    /// The same entry with the head SHA set.
    pub fn at(mut self, head: Sha) -> AuditEntry {
        self.head_sha = Some(head);
        self
    }
}

/// What happened. Serialized with its `kind` beside the fields (`"kind": "approval"`).
///
/// Field names must not clash with [`AuditEntry`]'s (`time`, `forge`, `repo`, `pr`, `head_sha`,
/// `actor`, `actor_id`, `source`) nor with `seq`, `key_id`, `kind`, `prev_hash` and `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditEvent {
    /// A preview was analyzed (actor: iamgate).
    Analysis {
        /// The stacks previewed.
        stacks: Vec<String>,
        /// The 0-100 risk score.
        score: u8,
        /// The band of the score (`none` ... `critical`).
        level: String,
        /// The IAM fingerprint (hex SHA-256); `None` when the change touches no IAM.
        fingerprint: Option<String>,
        /// The CI runs that submitted previews analyzed here (`stack: run`); empty (and left
        /// out of the record) when iamgate ran them all.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        submitted_by: Vec<String>,
    },
    /// An approval was counted (actor: the approver).
    Approval {
        via: ApprovalSource,
        /// The IAM fingerprint the approval is bound to.
        fingerprint: Option<String>,
        /// The requirements it counts for (their names or indexes, as the gate reports them).
        requirements: Vec<String>,
        /// The reason given with `/iamgate approve`, if any.
        reason: Option<String>,
    },
    /// A qualifying reviewer asked for changes (actor: the reviewer).
    ChangesRequested { fingerprint: Option<String> },
    /// An approval was withdrawn (actor: who withdrew it, e.g. who dismissed the review).
    Withdrawal {
        via: WithdrawalSource,
        /// Whose approval it was.
        approver: Login,
    },
    /// An approval stopped counting (actor: iamgate).
    ApprovalDropped {
        approver: Login,
        /// The head it was given on.
        approved_sha: Option<Sha>,
        /// The IAM fingerprint it was given on.
        approved_fingerprint: Option<String>,
        /// Why, in words (`the IAM change differs`, `new push (invalidate_approvals: on_push)`).
        reason: String,
    },
    /// The gate was overridden (actor: the member of `overrides`).
    Override {
        reason: String,
        /// The IAM fingerprint the override is bound to.
        fingerprint: Option<String>,
    },
    /// A command was refused (actor: who sent it).
    CommandRefused {
        /// The command line as written (`/iamgate override`).
        command: String,
        /// Why it was refused, as the reply says.
        reason: String,
    },
    /// iamgate set the status (actor: iamgate).
    StatusChange {
        state: GateState,
        /// The status description as published.
        description: String,
    },
    /// Someone else posted a status under iamgate's name (actor: who posted it); iamgate posted
    /// its own over it.
    ForeignStatus {
        /// Its state (`pending`, `success`, `failure`, or `other`).
        state: String,
        /// Its description, as posted.
        description: String,
    },
    /// The pull request was merged while iamgate's verdict on its head was not success
    /// (actor: iamgate; the forge does not say who merged in every case).
    MergedWithoutSuccess {
        /// iamgate's verdict on the merged head (`pending`, `failure`, or `none` when it had
        /// none).
        verdict: String,
        description: String,
    },
}

impl AuditEvent {
    /// The `kind` name, as stored and exported (`analysis`, `approval`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            AuditEvent::Analysis { .. } => "analysis",
            AuditEvent::Approval { .. } => "approval",
            AuditEvent::ChangesRequested { .. } => "changes_requested",
            AuditEvent::Withdrawal { .. } => "withdrawal",
            AuditEvent::ApprovalDropped { .. } => "approval_dropped",
            AuditEvent::Override { .. } => "override",
            AuditEvent::CommandRefused { .. } => "command_refused",
            AuditEvent::StatusChange { .. } => "status_change",
            AuditEvent::ForeignStatus { .. } => "foreign_status",
            AuditEvent::MergedWithoutSuccess { .. } => "merged_without_success",
        }
    }
}

/// How an approval was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalSource {
    /// A review `APPROVED` (GitLab: an MR approval).
    Review,
    /// `/iamgate approve`.
    Command,
}

/// How an approval was withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalSource {
    /// The approving review was dismissed (GitLab: the approval revoked).
    DismissedReview,
    /// `/iamgate unapprove`.
    Command,
}

/// A stored record: the columns of one `audit_log` row, as they are in the store (even when
/// tampered with: nothing here is trusted until [`super::chain::verify`] says so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The store's row id.
    pub id: i64,
    /// The position in the chain, from 1.
    pub seq: i64,
    /// The indexed columns, for filtering; they repeat what `record` says.
    pub time_ms: i64,
    pub kind: String,
    pub repo: String,
    pub pr: i64,
    /// The canonical JSON that was hashed: the entry, its `seq` and its `key_id`.
    pub record: String,
    /// The previous record's `hash` ([`super::chain::GENESIS`] for the first).
    pub prev_hash: String,
    /// The link: hex HMAC-SHA256 of `prev_hash` followed by `record`, under the key `record`
    /// names (unkeyed SHA-256 for records written before the chain was keyed).
    pub hash: String,
}

impl AuditRecord {
    /// The entry, decoded from `record`.
    pub fn entry(&self) -> Result<AuditEntry, serde_json::Error> {
        serde_json::from_str(&self.record)
    }
}

/// The end of the chain as the store last advanced it, kept apart from the records so that
/// removing the newest ones shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Records in the chain.
    pub count: i64,
    /// The newest record's hash ([`super::chain::GENESIS`] when there is none).
    pub hash: String,
}

/// The whole chain, read at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditChain {
    /// Every record, in the order stored.
    pub records: Vec<AuditRecord>,
    /// `None` when the head is missing (which is itself a sign of tampering).
    pub head: Option<ChainHead>,
}

/// Which records [`crate::store::Store::audit_records`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this repository (compared without regard to case).
    pub repo: Option<RepoName>,
    /// Only records at or after this time.
    pub since: Option<Timestamp>,
}

impl AuditFilter {
    /// Whether `record` passes (by its indexed columns).
    pub fn matches(&self, record: &AuditRecord) -> bool {
        self.repo
            .as_ref()
            .is_none_or(|repo| repo.as_str().eq_ignore_ascii_case(&record.repo))
            && self
                .since
                .is_none_or(|since| record.time_ms >= since.unix_millis())
    }
}
