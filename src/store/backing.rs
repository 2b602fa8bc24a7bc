//! What makes a stored vote count. A command vote counts as its audit record says: the record is
//! keyed with the audit key and names the vote's source ([`vote_of_record`]); its row in `votes`
//! names that record and must say the same ([`check`], which `iamgate audit --verify` reports
//! on), but the gate reads the record, so a row written, altered or deleted by hand changes
//! nothing. A row that binds a forge approval to a commit ([`REVIEW_HOOK`], sightings) carries a
//! MAC under the audit key instead. Pure: the store reads the rows and records, this checks them.

use super::{CommandVote, CommandVoteKind, REVIEW_HOOK};
use crate::audit::chain::{self, canonical_json};
use crate::audit::{
    ApprovalSource, AuditEntry, AuditEvent, AuditKey, AuditKeys, AuditRecord, Break, Timestamp,
    WithdrawalSource,
};
use crate::event::{Login, PrRef, Sha};

/// The `source` prefix of a sighting: the commit a forge approval reported without its commit
/// was first seen on (see `jobs::approvals`).
pub const SIGHTING: &str = "review-sighting:";

/// Whether a row binds a forge approval to a commit (MACed) rather than being a vote (backed by
/// its audit record).
pub fn is_binding(source: &str) -> bool {
    source.starts_with(REVIEW_HOOK) || source.starts_with(SIGHTING)
}

/// The audit record of a command vote: the vote's time, voter (login and account id), head and
/// source, with `event` (which says what the vote is).
pub fn vote_entry(pr: &PrRef, vote: &CommandVote, event: AuditEvent) -> AuditEntry {
    let time = Timestamp::from_unix_millis(vote.at_ms)
        .unwrap_or_else(|| Timestamp::from_system_time(std::time::UNIX_EPOCH));
    let mut entry = AuditEntry::by(time, pr, Login::from(vote.login.as_str()), event)
        .at(Sha(vote.head.clone()));
    entry.actor_id = vote.user_id;
    entry.source = Some(vote.source.clone());
    entry
}

/// The MAC of a binding row: over the canonical JSON of every column that says something.
pub fn row_mac(key: &AuditKey, pr_key: &str, vote: &CommandVote) -> String {
    let row = serde_json::json!({
        "pr": pr_key,
        "source": vote.source,
        "login": vote.login,
        "user_id": vote.user_id.map(|id| id.0),
        "kind": vote.kind.as_str(),
        "head": vote.head,
        "reason": vote.reason,
        "at": vote.at_ms,
    });
    key.mac(&[b"iamgate vote row\n", canonical_json(&row).as_bytes()])
}

/// The command vote an audit record is, as the gate counts it: `Ok(None)` for a record that is
/// no command vote of `pr` (an analysis, an approving review, ...); an error for a record that
/// fails its link check or was written before the audit key.
pub fn vote_of_record(
    keys: &AuditKeys,
    pr: &PrRef,
    record: &AuditRecord,
) -> Result<Option<CommandVote>, Unbacked> {
    let entry = record
        .entry()
        .map_err(|e| Unbacked::RecordBroken(Break::Unreadable(e.to_string())))?;
    let (Some(source), Some(head)) = (entry.source, entry.head_sha) else {
        return Ok(None);
    };
    let (kind, reason) = match entry.event {
        AuditEvent::Approval {
            via: ApprovalSource::Command,
            reason,
            ..
        } => (CommandVoteKind::Approve, reason),
        AuditEvent::Withdrawal {
            via: WithdrawalSource::Command,
            ..
        } => (CommandVoteKind::Withdraw, None),
        AuditEvent::Override { reason, .. } => (CommandVoteKind::Override, Some(reason)),
        _ => return Ok(None),
    };
    if (entry.forge, &entry.repo, entry.pr) != (pr.forge, &pr.repo, pr.number) {
        return Ok(None);
    }
    match chain::check_link(record, keys) {
        Ok(Some(_)) => {}
        Ok(None) => return Err(Unbacked::RecordUnkeyed),
        Err(error) => return Err(Unbacked::RecordBroken(error)),
    }
    Ok(Some(CommandVote {
        source,
        login: entry.actor.as_str().to_owned(),
        user_id: entry.actor_id,
        kind,
        head: head.as_str().to_owned(),
        reason,
        at_ms: entry.time.unix_millis(),
    }))
}

/// A stored vote row with what backs it.
#[derive(Debug, Clone)]
pub struct VoteRow {
    pub pr_key: String,
    pub vote: CommandVote,
    pub backing: Backing,
}

/// A pull request's votes that count, oldest first, from the audit records that may be its
/// command votes and its stored vote rows: each command vote as its keyed record says (once per
/// source), each binding row by its MAC ([`check`]). Whatever does not verify counts for nothing
/// and is logged.
pub fn counted(
    keys: &AuditKeys,
    pr: &PrRef,
    records: &[AuditRecord],
    rows: Vec<VoteRow>,
) -> Vec<CommandVote> {
    let mut counted: Vec<CommandVote> = Vec::new();
    for record in records {
        match vote_of_record(keys, pr, record) {
            Ok(Some(vote)) if counted.iter().all(|v| v.source != vote.source) => {
                counted.push(vote);
            }
            Ok(_) => {}
            Err(why) => tracing::warn!(
                pr = %pr,
                seq = record.seq,
                reason = %why,
                "a vote's audit record does not verify: the vote counts for nothing (run `iamgate audit --verify`)"
            ),
        }
    }
    for row in rows {
        let checked = check(keys, &row.pr_key, &row.vote, &row.backing);
        match (checked, is_binding(&row.vote.source)) {
            (Ok(()), true) => counted.push(row.vote),
            // A command vote counts as its record says (above); its row only names it.
            (Ok(()), false) => {}
            (Err(why), _) => tracing::warn!(
                pr = %pr,
                source = %row.vote.source,
                login = %row.vote.login,
                reason = %why,
                "a stored vote row counts for nothing"
            ),
        }
    }
    counted.sort_by_key(|vote| vote.at_ms);
    counted
}

/// What a stored row carries to show it was written by iamgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// The audit record the row names (`None`: the row names a record that is not there).
    Record(Option<Box<AuditRecord>>),
    /// A MAC under the key named.
    Mac { key_id: String, mac: String },
    /// Nothing: written before the audit key, or by hand.
    Nothing,
}

/// Why a row counts for nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unbacked {
    #[error("no audit record or MAC backs it (recorded before the audit key, or written by hand)")]
    Nothing,
    #[error("the audit record it names is not in the store")]
    RecordMissing,
    #[error("its audit record fails verification: {0}")]
    RecordBroken(Break),
    #[error("its audit record was written before the audit key")]
    RecordUnkeyed,
    #[error("its audit record says otherwise (`{0}`): the row was altered")]
    Mismatch(&'static str),
    #[error("its MAC does not match (the row was altered)")]
    MacMismatch,
    #[error("it is MACed with the audit key `{0}`, which is not among the keys held")]
    UnknownKey(String),
    #[error("a vote must be backed by its audit record, not a MAC")]
    NotBinding,
    #[error("a row binding an approval to a commit must carry a MAC")]
    BindingWithRecord,
}

impl Unbacked {
    /// Whether this shows tampering (rather than a row that was never backed).
    pub fn is_tampering(&self) -> bool {
        !matches!(self, Unbacked::Nothing)
    }
}

/// Checks that the row `vote` of `pr_key` is backed: a binding row by its MAC, a vote by a keyed
/// audit record whose content is the vote's.
pub fn check(
    keys: &AuditKeys,
    pr_key: &str,
    vote: &CommandVote,
    backing: &Backing,
) -> Result<(), Unbacked> {
    match (backing, is_binding(&vote.source)) {
        (Backing::Nothing, _) => Err(Unbacked::Nothing),
        (Backing::Mac { key_id, mac }, true) => {
            let key = keys
                .get(key_id)
                .ok_or_else(|| Unbacked::UnknownKey(key_id.clone()))?;
            let expected = row_mac(key, pr_key, vote);
            if subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), mac.as_bytes()).into() {
                Ok(())
            } else {
                Err(Unbacked::MacMismatch)
            }
        }
        (Backing::Mac { .. }, false) => Err(Unbacked::NotBinding),
        (Backing::Record(_), true) => Err(Unbacked::BindingWithRecord),
        (Backing::Record(None), false) => Err(Unbacked::RecordMissing),
        (Backing::Record(Some(record)), false) => {
            match chain::check_link(record, keys) {
                Ok(Some(_)) => {}
                Ok(None) => return Err(Unbacked::RecordUnkeyed),
                Err(error) => return Err(Unbacked::RecordBroken(error)),
            }
            let entry = record
                .entry()
                .map_err(|e| Unbacked::RecordBroken(Break::Unreadable(e.to_string())))?;
            says_the_same(pr_key, vote, &entry)
        }
    }
}

/// The record's content against the vote row, field by field.
fn says_the_same(pr_key: &str, vote: &CommandVote, entry: &AuditEntry) -> Result<(), Unbacked> {
    let record_pr = PrRef {
        forge: entry.forge,
        installation: None,
        repo: entry.repo.clone(),
        number: entry.pr,
    };
    let same = |ok: bool, field| {
        if ok {
            Ok(())
        } else {
            Err(Unbacked::Mismatch(field))
        }
    };
    same(record_pr.key() == pr_key, "pr")?;
    same(
        entry.source.as_deref() == Some(vote.source.as_str()),
        "source",
    )?;
    same(entry.actor.as_str() == vote.login, "login")?;
    same(entry.actor_id == vote.user_id, "user_id")?;
    same(
        entry.head_sha.as_ref().map(Sha::as_str) == Some(vote.head.as_str()),
        "head",
    )?;
    same(entry.time.unix_millis() == vote.at_ms, "at")?;
    match (&entry.event, vote.kind) {
        (
            AuditEvent::Approval {
                via: ApprovalSource::Command,
                reason,
                ..
            },
            CommandVoteKind::Approve,
        ) => same(*reason == vote.reason, "reason"),
        (
            AuditEvent::Withdrawal {
                via: WithdrawalSource::Command,
                approver,
            },
            CommandVoteKind::Withdraw,
        ) => same(approver.as_str() == vote.login, "approver"),
        (AuditEvent::Override { reason, .. }, CommandVoteKind::Override) => {
            same(Some(reason) == vote.reason.as_ref(), "reason")
        }
        _ => Err(Unbacked::Mismatch("kind")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::{empty_head, link, link_unkeyed};
    use crate::audit::{AuditKey, ChainHead};
    use crate::event::{ForgeKind, PrNumber, RepoName, UserId};

    fn key(byte: u8) -> AuditKey {
        AuditKey::from_bytes(vec![byte; 32]).expect("key")
    }

    fn keys() -> AuditKeys {
        AuditKeys::new(key(1), vec![key(2)])
    }

    fn pr() -> PrRef {
        PrRef {
            forge: ForgeKind::GitHub,
            installation: Some(3),
            repo: RepoName::from("acme/infra"),
            number: PrNumber(7),
        }
    }

    fn vote(kind: CommandVoteKind) -> CommandVote {
        CommandVote {
            source: "comment:41:0".into(),
            login: "sec1".into(),
            user_id: Some(UserId(9)),
            kind,
            head: "a".repeat(40),
            reason: Some("checked".into()),
            at_ms: 1_714_521_600_123,
        }
    }

    fn event(kind: CommandVoteKind) -> AuditEvent {
        match kind {
            CommandVoteKind::Approve => AuditEvent::Approval {
                via: ApprovalSource::Command,
                fingerprint: Some("f".repeat(64)),
                requirements: vec!["security".into()],
                reason: Some("checked".into()),
            },
            CommandVoteKind::Withdraw => AuditEvent::Withdrawal {
                via: WithdrawalSource::Command,
                approver: Login::from("sec1"),
            },
            CommandVoteKind::Override => AuditEvent::Override {
                reason: "checked".into(),
                fingerprint: None,
            },
        }
    }

    /// The record of `vote` as the store appends it, after one other record.
    fn record_of(vote: &CommandVote, kind: CommandVoteKind, key: &AuditKey) -> Backing {
        let head = ChainHead {
            count: 1,
            hash: "b".repeat(64),
        };
        let record = link(&head, &vote_entry(&pr(), vote, event(kind)), key).expect("link");
        Backing::Record(Some(Box::new(record)))
    }

    #[test]
    fn a_vote_counts_with_its_own_keyed_record_under_any_key_held() {
        for kind in [
            CommandVoteKind::Approve,
            CommandVoteKind::Withdraw,
            CommandVoteKind::Override,
        ] {
            let v = vote(kind);
            for k in [key(1), key(2)] {
                assert_eq!(
                    check(&keys(), &pr().key(), &v, &record_of(&v, kind, &k)),
                    Ok(())
                );
            }
            assert_eq!(
                check(&keys(), &pr().key(), &v, &record_of(&v, kind, &key(3))),
                Err(Unbacked::RecordBroken(Break::UnknownKey {
                    id: key(3).id().to_owned()
                }))
            );
        }
    }

    #[test]
    fn a_vote_written_or_changed_by_hand_counts_for_nothing() {
        let v = vote(CommandVoteKind::Approve);
        let backed = record_of(&v, CommandVoteKind::Approve, &key(1));
        let pr_key = pr().key();
        assert_eq!(
            check(&keys(), &pr_key, &v, &Backing::Nothing),
            Err(Unbacked::Nothing)
        );
        assert!(!Unbacked::Nothing.is_tampering());
        assert_eq!(
            check(&keys(), &pr_key, &v, &Backing::Record(None)),
            Err(Unbacked::RecordMissing)
        );
        // The row changed after its record was written: every column is compared.
        type Change = (&'static str, fn(&mut CommandVote));
        let changes: [Change; 7] = [
            ("source", |v| v.source = "comment:42:0".into()),
            ("login", |v| v.login = "mallory".into()),
            ("user_id", |v| v.user_id = Some(UserId(10))),
            ("head", |v| v.head = "c".repeat(40)),
            ("at", |v| v.at_ms -= 1),
            ("reason", |v| v.reason = None),
            ("kind", |v| v.kind = CommandVoteKind::Override),
        ];
        for (field, change) in changes {
            let mut altered = v.clone();
            change(&mut altered);
            assert_eq!(
                check(&keys(), &pr_key, &altered, &backed),
                Err(Unbacked::Mismatch(field)),
                "{field}"
            );
        }
        // Another pull request's record does not back it.
        assert_eq!(
            check(&keys(), "github:acme/infra#8", &v, &backed),
            Err(Unbacked::Mismatch("pr"))
        );
        // A record altered after it was written, or made without the key.
        let Backing::Record(Some(mut record)) = backed.clone() else {
            panic!("a record");
        };
        record.record = record.record.replace("sec1", "mallory");
        assert_eq!(
            check(&keys(), &pr_key, &v, &Backing::Record(Some(record))),
            Err(Unbacked::RecordBroken(Break::Altered))
        );
        let unkeyed =
            link_unkeyed(&empty_head(), &vote_entry(&pr(), &v, event(v.kind))).expect("link");
        assert_eq!(
            check(
                &keys(),
                &pr_key,
                &v,
                &Backing::Record(Some(Box::new(unkeyed)))
            ),
            Err(Unbacked::RecordUnkeyed)
        );
        // A vote cannot be backed by a MAC, even a right one.
        let mac = Backing::Mac {
            key_id: key(1).id().to_owned(),
            mac: row_mac(&key(1), &pr_key, &v),
        };
        assert_eq!(check(&keys(), &pr_key, &v, &mac), Err(Unbacked::NotBinding));
    }

    #[test]
    fn a_vote_is_read_back_from_its_keyed_record_only() {
        let pr = pr();
        for kind in [
            CommandVoteKind::Approve,
            CommandVoteKind::Withdraw,
            CommandVoteKind::Override,
        ] {
            let mut v = vote(kind);
            if kind == CommandVoteKind::Withdraw {
                v.reason = None;
            }
            let Backing::Record(Some(record)) = record_of(&v, kind, &key(2)) else {
                panic!("a record");
            };
            assert_eq!(vote_of_record(&keys(), &pr, &record), Ok(Some(v.clone())));
            // Another pull request's vote is not this one's.
            let other = PrRef {
                number: PrNumber(8),
                ..pr.clone()
            };
            assert_eq!(vote_of_record(&keys(), &other, &record), Ok(None));
            // Altered, or written under a key the gate does not hold.
            let mut altered = record.clone();
            altered.record = altered.record.replace("sec1", "mallory");
            assert_eq!(
                vote_of_record(&keys(), &pr, &altered),
                Err(Unbacked::RecordBroken(Break::Altered))
            );
            let Backing::Record(Some(foreign)) = record_of(&v, kind, &key(3)) else {
                panic!("a record");
            };
            assert!(vote_of_record(&keys(), &pr, &foreign).is_err());
        }
        // An approving review's record is no command vote.
        let review = AuditEvent::Approval {
            via: ApprovalSource::Review,
            fingerprint: None,
            requirements: Vec::new(),
            reason: None,
        };
        let v = vote(CommandVoteKind::Approve);
        let record = link(&empty_head(), &vote_entry(&pr, &v, review), &key(1)).expect("link");
        assert_eq!(vote_of_record(&keys(), &pr, &record), Ok(None));
        let unkeyed =
            link_unkeyed(&empty_head(), &vote_entry(&pr, &v, event(v.kind))).expect("link");
        assert_eq!(
            vote_of_record(&keys(), &pr, &unkeyed),
            Err(Unbacked::RecordUnkeyed)
        );
    }

    #[test]
    fn a_binding_row_counts_with_its_mac_only() {
        let mut hook = vote(CommandVoteKind::Approve);
        hook.source = format!("{REVIEW_HOOK}delivery-1");
        hook.reason = None;
        let pr_key = pr().key();
        let mac = |k: &AuditKey, v: &CommandVote| Backing::Mac {
            key_id: k.id().to_owned(),
            mac: row_mac(k, &pr_key, v),
        };
        assert_eq!(check(&keys(), &pr_key, &hook, &mac(&key(2), &hook)), Ok(()));
        let mut moved = hook.clone();
        moved.head = "d".repeat(40);
        assert_eq!(
            check(&keys(), &pr_key, &moved, &mac(&key(1), &hook)),
            Err(Unbacked::MacMismatch),
            "a sighting moved to another commit"
        );
        assert_eq!(
            check(&keys(), &pr_key, &hook, &mac(&key(3), &hook)),
            Err(Unbacked::UnknownKey(key(3).id().to_owned()))
        );
        let forged = Backing::Mac {
            key_id: key(1).id().to_owned(),
            mac: row_mac(&key(3), &pr_key, &hook),
        };
        assert_eq!(
            check(&keys(), &pr_key, &hook, &forged),
            Err(Unbacked::MacMismatch)
        );
        let mut sighting = hook.clone();
        sighting.source = format!("{SIGHTING}5:100");
        assert!(is_binding(&sighting.source));
        assert_eq!(
            check(&keys(), &pr_key, &sighting, &Backing::Nothing),
            Err(Unbacked::Nothing)
        );
    }
}
