//! The hash chain: the canonical encoding of a record, its link, and the verification of a whole
//! chain. Pure: no clock, no store.
//!
//! A record's `record` text is the canonical JSON of its [`AuditEntry`] plus `"seq"` (its
//! position, from 1) and `"key_id"` (the id of the key it is keyed with, see [`super::key`]):
//! object keys sorted by their UTF-8 bytes, no whitespace, strings escaped as `serde_json` does,
//! integers only. Its link (`hash`) is
//!
//! ```text
//! hash = hex(HMAC-SHA256(key, prev_hash || record))
//! ```
//!
//! over the ASCII hex of the previous record's hash ([`GENESIS`], 64 zeros, for the first)
//! followed by the UTF-8 bytes of `record`, under the key the record names. Records written
//! before the chain was keyed have no `key_id` and `hash = hex(SHA-256(prev_hash || record))`;
//! they may only open a chain, never follow a keyed record. Verification hashes the stored bytes
//! as they are, so it needs no re-encoding and accepts records of kinds this build does not know.

use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::key::{AuditKey, AuditKeys};
use super::record::{AuditChain, AuditEntry, AuditRecord, ChainHead};
use super::time::Timestamp;

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The field of a record that names its key.
pub const KEY_FIELD: &str = "key_id";

/// An entry that cannot be encoded (a PR number beyond `i64`, in practice never).
#[derive(Debug, thiserror::Error)]
#[error("audit entry cannot be encoded: {0}")]
pub struct EncodeError(String);

/// The chain head of an empty chain.
pub fn empty_head() -> ChainHead {
    ChainHead {
        count: 0,
        hash: GENESIS.to_owned(),
    }
}

/// The record that extends the chain ending at `head` with `entry`, keyed with `key`. Its `id`
/// is 0: the store gives it one when it stores it.
pub fn link(
    head: &ChainHead,
    entry: &AuditEntry,
    key: &AuditKey,
) -> Result<AuditRecord, EncodeError> {
    let mut record = encode(head, entry, Some(key.id()))?;
    record.hash = link_mac(key, &head.hash, &record.record);
    Ok(record)
}

/// The record that extends `head` with `entry` in the unkeyed form of the records written before
/// iamgate keyed its chain (no `key_id`, plain SHA-256). iamgate no longer writes it; tests build
/// old stores with it.
pub fn link_unkeyed(head: &ChainHead, entry: &AuditEntry) -> Result<AuditRecord, EncodeError> {
    let mut record = encode(head, entry, None)?;
    record.hash = link_hash(&head.hash, &record.record);
    Ok(record)
}

fn encode(
    head: &ChainHead,
    entry: &AuditEntry,
    key_id: Option<&str>,
) -> Result<AuditRecord, EncodeError> {
    let seq = head
        .count
        .checked_add(1)
        .ok_or_else(|| EncodeError("the chain is full".into()))?;
    let pr = i64::try_from(entry.pr.0)
        .map_err(|_| EncodeError(format!("PR number {} is too large", entry.pr.0)))?;
    let mut value = serde_json::to_value(entry).map_err(|e| EncodeError(e.to_string()))?;
    let Value::Object(fields) = &mut value else {
        return Err(EncodeError("an entry is not a JSON object".into()));
    };
    fields.insert("seq".into(), Value::from(seq));
    if let Some(id) = key_id {
        fields.insert(KEY_FIELD.into(), Value::from(id));
    }
    let record = canonical_json(&value);
    Ok(AuditRecord {
        id: 0,
        seq,
        time_ms: entry.time.unix_millis(),
        kind: entry.event.kind().to_owned(),
        repo: entry.repo.0.clone(),
        pr,
        hash: String::new(),
        prev_hash: head.hash.clone(),
        record,
    })
}

/// The link of a keyed record: `hex(HMAC-SHA256(key, prev_hash || record))`.
pub fn link_mac(key: &AuditKey, prev_hash: &str, record: &str) -> String {
    key.mac(&[prev_hash.as_bytes(), record.as_bytes()])
}

/// The link of an unkeyed record (written before the chain was keyed):
/// `hex(SHA-256(prev_hash || record))`.
pub fn link_hash(prev_hash: &str, record: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(record.as_bytes());
    hex::encode(hasher.finalize())
}

/// Compact JSON with object keys sorted by their UTF-8 bytes, at every depth.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        // A scalar's Display is its compact JSON.
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A chain that verified: how many records, the newest link, and which keys keyed which records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub count: u64,
    pub head: String,
    /// Records written before the chain was keyed (the first ones).
    pub unkeyed: u64,
    /// The runs of consecutive records under one key, in chain order (unkeyed ones: `key` None).
    pub spans: Vec<KeySpan>,
}

/// Consecutive records keyed with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpan {
    /// The key's id; `None` for records written before the chain was keyed.
    pub key: Option<String>,
    /// Their positions (from 1), first and last.
    pub first: u64,
    pub last: u64,
}

/// The first place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the audit trail was altered: record {position}{}: {what}", id_note(*.id))]
pub struct Tampered {
    /// The position (from 1) in the stored order where the break shows.
    pub position: u64,
    /// The row id there (`None` when the break is a record that is missing at the end).
    pub id: Option<i64>,
    pub what: Break,
}

fn id_note(id: Option<i64>) -> String {
    id.map(|id| format!(" (row id {id})")).unwrap_or_default()
}

/// What is wrong at a [`Tampered`] position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    /// The record or its hash was changed after it was written.
    #[error("its content does not match its hash (the record was altered)")]
    Altered,
    /// The record does not follow the one before it.
    #[error(
        "it does not follow the record before it (a record was deleted or inserted here, the \
         order was changed, or the previous record was altered and rehashed)"
    )]
    BrokenLink,
    /// The record is not a JSON object with the common fields.
    #[error("its content is unreadable: {0}")]
    Unreadable(String),
    /// The record says it sits elsewhere in the chain.
    #[error("it says it is record {found} (a record was deleted, inserted or moved)")]
    WrongSeq { found: i64 },
    /// An indexed column disagrees with the record (which hides it from filters).
    #[error("its `{0}` column disagrees with the record (the column was altered)")]
    Column(&'static str),
    /// The record names a key the verifier does not hold.
    #[error(
        "it is keyed with the audit key `{id}`, which is not among the keys given (add that key \
         to [audit] previous_keys, or pass it with --key-file)"
    )]
    UnknownKey { id: String },
    /// An unkeyed record after keyed ones: only the records written before the chain was keyed
    /// are unkeyed, so this one was written by someone without the key.
    #[error(
        "it is not keyed, but records before it are (it was written or rehashed without the audit key)"
    )]
    Unkeyed,
    /// The chain head says there are more records than there are.
    #[error(
        "missing: the chain head counts {head_count} records but only {found} remain (the newest were deleted)"
    )]
    Truncated { head_count: i64, found: u64 },
    /// Records beyond the chain head (appended without advancing it).
    #[error(
        "the chain head ends at record {head_count}: the records after it were inserted outside iamgate"
    )]
    Unsealed { head_count: i64 },
    /// The newest record is not the one the chain head names.
    #[error("the chain head names another record (the newest record was replaced)")]
    HeadMismatch,
    /// The chain head row is gone.
    #[error("the chain head is missing (it was deleted)")]
    HeadMissing,
}

/// Checks that one record hashes to its `hash`: under the key it names, or, for a record without
/// `key_id` (written before the chain was keyed), unkeyed. Returns the key's id (`None`:
/// unkeyed). Says nothing of the record's place in the chain.
pub fn check_link(record: &AuditRecord, keys: &AuditKeys) -> Result<Option<String>, Break> {
    let value = match serde_json::from_str::<Value>(&record.record) {
        Ok(value) => value,
        // Never written by iamgate keyed: unreadable only if it is an intact unkeyed record.
        Err(e) if same(&link_hash(&record.prev_hash, &record.record), &record.hash) => {
            return Err(Break::Unreadable(e.to_string()));
        }
        Err(_) => return Err(Break::Altered),
    };
    let expected = match value.get(KEY_FIELD) {
        None => return check_unkeyed(record).map(|()| None),
        Some(Value::String(id)) => match keys.get(id) {
            Some(key) => link_mac(key, &record.prev_hash, &record.record),
            None => return Err(Break::UnknownKey { id: id.clone() }),
        },
        Some(_) => return Err(Break::Altered),
    };
    if same(&expected, &record.hash) {
        Ok(value
            .get(KEY_FIELD)
            .and_then(Value::as_str)
            .map(str::to_owned))
    } else {
        Err(Break::Altered)
    }
}

fn check_unkeyed(record: &AuditRecord) -> Result<(), Break> {
    if same(&link_hash(&record.prev_hash, &record.record), &record.hash) {
        Ok(())
    } else {
        Err(Break::Altered)
    }
}

/// Compares two links in constant time.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Checks a whole chain: each record hashes to its `hash` under the key it names, links to the
/// previous one, sits at its `seq`, agrees with its indexed columns, is keyed if any record
/// before it is, and the chain ends where its head says.
pub fn verify(chain: &AuditChain, keys: &AuditKeys) -> Result<Verified, Tampered> {
    let mut prev = GENESIS;
    let mut spans: Vec<KeySpan> = Vec::new();
    for (index, record) in chain.records.iter().enumerate() {
        let position = index as u64 + 1;
        let tampered = |what| Tampered {
            position,
            id: Some(record.id),
            what,
        };
        let key = check_link(record, keys).map_err(tampered)?;
        if record.prev_hash != prev {
            return Err(tampered(Break::BrokenLink));
        }
        if key.is_none() && spans.iter().any(|span| span.key.is_some()) {
            return Err(tampered(Break::Unkeyed));
        }
        check_columns(record, position).map_err(tampered)?;
        match spans.last_mut() {
            Some(span) if span.key == key => span.last = position,
            _ => spans.push(KeySpan {
                key,
                first: position,
                last: position,
            }),
        }
        prev = &record.hash;
    }
    let found = chain.records.len() as u64;
    let Some(head) = &chain.head else {
        return Err(Tampered {
            position: found + 1,
            id: None,
            what: Break::HeadMissing,
        });
    };
    let head_count = u64::try_from(head.count).unwrap_or(0);
    if head_count > found {
        return Err(Tampered {
            position: found + 1,
            id: None,
            what: Break::Truncated {
                head_count: head.count,
                found,
            },
        });
    }
    if head_count < found {
        let index = usize::try_from(head_count).unwrap_or(0);
        return Err(Tampered {
            position: head_count + 1,
            id: chain.records.get(index).map(|r| r.id),
            what: Break::Unsealed {
                head_count: head.count,
            },
        });
    }
    if head.hash != prev {
        return Err(Tampered {
            position: found.max(1),
            id: chain.records.last().map(|r| r.id),
            what: Break::HeadMismatch,
        });
    }
    let unkeyed = spans
        .iter()
        .filter(|span| span.key.is_none())
        .map(|span| span.last - span.first + 1)
        .sum();
    Ok(Verified {
        count: found,
        head: prev.to_owned(),
        unkeyed,
        spans,
    })
}

/// The record's own `seq`, `time`, `kind`, `repo` and `pr` against its position and columns.
fn check_columns(record: &AuditRecord, position: u64) -> Result<(), Break> {
    let value: Value =
        serde_json::from_str(&record.record).map_err(|e| Break::Unreadable(e.to_string()))?;
    let field = |name: &str| {
        value
            .get(name)
            .ok_or(Break::Unreadable(format!("no `{name}`")))
    };
    let seq = field("seq")?
        .as_i64()
        .ok_or_else(|| Break::Unreadable("`seq` is not an integer".into()))?;
    if u64::try_from(seq).ok() != Some(position) {
        return Err(Break::WrongSeq { found: seq });
    }
    if record.seq != seq {
        return Err(Break::Column("seq"));
    }
    let time = field("time")?
        .as_str()
        .and_then(|t| Timestamp::parse_rfc3339(t).ok())
        .ok_or_else(|| Break::Unreadable("`time` is not an RFC 3339 time".into()))?;
    if time.unix_millis() != record.time_ms {
        return Err(Break::Column("time"));
    }
    if field("kind")?.as_str() != Some(record.kind.as_str()) {
        return Err(Break::Column("kind"));
    }
    if field("repo")?.as_str() != Some(record.repo.as_str()) {
        return Err(Break::Column("repo"));
    }
    if field("pr")?.as_i64() != Some(record.pr) {
        return Err(Break::Column("pr"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{AuditEvent, GateState};
    use crate::event::{ForgeKind, Login, PrNumber, RepoName, Sha};

    fn entry(n: u64) -> AuditEntry {
        AuditEntry {
            time: Timestamp::from_unix_millis(1_714_566_600_000 + n as i64 * 1000).expect("time"),
            forge: ForgeKind::GitHub,
            repo: RepoName::from(if n.is_multiple_of(2) {
                "acme/infra"
            } else {
                "acme/web"
            }),
            pr: PrNumber(n),
            head_sha: Some(Sha(format!("{n:0>40}"))),
            actor: Login::from("octocat"),
            actor_id: None,
            source: None,
            event: AuditEvent::StatusChange {
                state: GateState::Pending,
                description: format!("needs {n} approvals from \"acme/security\"\n"),
            },
        }
    }

    fn key(byte: u8) -> AuditKey {
        AuditKey::from_bytes(vec![byte; 32]).expect("key")
    }

    fn keys() -> AuditKeys {
        AuditKeys::new(key(1), Vec::new())
    }

    fn chain(n: u64) -> AuditChain {
        chain_with(n, |_| Some(key(1)))
    }

    /// A chain of `n` records, record `i` keyed with `key_of(i)` (`None`: unkeyed).
    fn chain_with(n: u64, key_of: impl Fn(u64) -> Option<AuditKey>) -> AuditChain {
        let mut head = empty_head();
        let mut records = Vec::new();
        for i in 1..=n {
            let mut record = match key_of(i) {
                Some(key) => link(&head, &entry(i), &key),
                None => link_unkeyed(&head, &entry(i)),
            }
            .expect("link");
            record.id = i as i64 * 10;
            head = ChainHead {
                count: record.seq,
                hash: record.hash.clone(),
            };
            records.push(record);
        }
        AuditChain {
            records,
            head: Some(head),
        }
    }

    fn broken(chain: &AuditChain) -> (u64, Option<i64>, Break) {
        let t = verify(chain, &keys()).expect_err("tampering goes unnoticed");
        (t.position, t.id, t.what)
    }

    #[test]
    fn the_encoding_is_canonical_and_documented() {
        let record = link(&empty_head(), &entry(2), &key(1)).expect("link");
        assert_eq!(
            record.record,
            format!(
                r#"{{"actor":"octocat","description":"needs 2 approvals from \"acme/security\"\n","forge":"github","head_sha":"0000000000000000000000000000000000000002","key_id":"{}","kind":"status_change","pr":2,"repo":"acme/infra","seq":1,"state":"pending","time":"2024-05-01T12:30:02Z"}}"#,
                key(1).id()
            )
        );
        assert_eq!(record.prev_hash, GENESIS);
        let mut input = GENESIS.as_bytes().to_vec();
        input.extend_from_slice(record.record.as_bytes());
        assert_eq!(
            record.hash,
            key(1).mac(&[&input]),
            "HMAC(key, prev_hash || record)"
        );
        let unkeyed = link_unkeyed(&empty_head(), &entry(2)).expect("link");
        assert!(!unkeyed.record.contains("key_id"));
        assert_eq!(unkeyed.hash, link_hash(GENESIS, &unkeyed.record));
        assert_eq!(record.entry().expect("decode"), entry(2));
        let value: Value = serde_json::json!({"b": [{"z": 1, "a": null}], "a": "é"});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":"é","b":[{"a":null,"z":1}]}"#
        );
    }

    #[test]
    fn an_intact_chain_verifies() {
        let chain = chain(5);
        let verified = verify(&chain, &keys()).expect("intact");
        assert_eq!(verified.count, 5);
        assert_eq!(verified.head, chain.records[4].hash);
        assert_eq!(verified.unkeyed, 0);
        assert_eq!(
            verified.spans,
            [KeySpan {
                key: Some(key(1).id().to_owned()),
                first: 1,
                last: 5
            }]
        );
        let empty = AuditChain {
            records: Vec::new(),
            head: Some(empty_head()),
        };
        assert_eq!(verify(&empty, &keys()).expect("empty").head, GENESIS);
    }

    #[test]
    fn an_altered_record_is_found() {
        let mut c = chain(5);
        c.records[2].record = c.records[2].record.replace("octocat", "mallory");
        assert_eq!(broken(&c), (3, Some(30), Break::Altered));
        // Rehashed with the key: the next record no longer links to it.
        let mut c = chain(5);
        c.records[2].record = c.records[2].record.replace("octocat", "mallory");
        c.records[2].hash = link_mac(&key(1), &c.records[2].prev_hash, &c.records[2].record);
        assert_eq!(broken(&c), (4, Some(40), Break::BrokenLink));
    }

    #[test]
    fn a_deleted_record_is_found() {
        let mut c = chain(5);
        c.records.remove(1);
        assert_eq!(broken(&c), (2, Some(30), Break::BrokenLink));
        let mut c = chain(5);
        c.records.remove(0);
        assert_eq!(broken(&c), (1, Some(20), Break::BrokenLink));
    }

    #[test]
    fn deleting_the_newest_records_is_found_by_the_head() {
        let mut c = chain(5);
        c.records.truncate(3);
        assert_eq!(
            broken(&c),
            (
                4,
                None,
                Break::Truncated {
                    head_count: 5,
                    found: 3
                }
            )
        );
        let mut c = chain(2);
        c.records.clear();
        assert_eq!(broken(&c).0, 1);
        let mut c = chain(2);
        c.head = None;
        assert_eq!(broken(&c), (3, None, Break::HeadMissing));
        // Truncated and the head rewound consistently: undetectable without an outside copy of
        // a later head (`iamgate audit --verify --expect-head`).
        let mut c = chain(5);
        c.records.truncate(3);
        c.head = Some(ChainHead {
            count: 3,
            hash: c.records[2].hash.clone(),
        });
        assert!(verify(&c, &keys()).is_ok());
    }

    #[test]
    fn inserted_records_are_found() {
        // In the middle, properly hashed on its predecessor: the next one breaks.
        let mut c = chain(4);
        let forged = link(
            &ChainHead {
                count: 2,
                hash: c.records[1].hash.clone(),
            },
            &entry(99),
            &key(1),
        )
        .expect("link");
        c.records.insert(2, forged);
        assert_eq!(broken(&c), (4, Some(30), Break::BrokenLink));
        // At the end, properly linked, without advancing the head.
        let mut c = chain(3);
        let head = c.head.clone().expect("head");
        let mut forged = link(&head, &entry(99), &key(1)).expect("link");
        forged.id = 77;
        c.records.push(forged);
        assert_eq!(broken(&c), (4, Some(77), Break::Unsealed { head_count: 3 }));
    }

    #[test]
    fn reordering_is_found() {
        let mut c = chain(5);
        c.records.swap(1, 3);
        assert_eq!(broken(&c), (2, Some(40), Break::BrokenLink));
    }

    #[test]
    fn altered_columns_are_found() {
        let mut c = chain(3);
        c.records[1].repo = "acme/other".into();
        assert_eq!(broken(&c), (2, Some(20), Break::Column("repo")));
        let mut c = chain(3);
        c.records[2].time_ms += 1;
        assert_eq!(broken(&c), (3, Some(30), Break::Column("time")));
        let mut c = chain(3);
        c.records[0].seq = 7;
        assert_eq!(broken(&c), (1, Some(10), Break::Column("seq")));
        let mut c = chain(3);
        c.head.as_mut().expect("head").hash = GENESIS.into();
        assert_eq!(broken(&c), (3, Some(30), Break::HeadMismatch));
    }

    #[test]
    fn the_message_names_the_position() {
        let mut c = chain(3);
        c.records[1].record.push(' ');
        let message = verify(&c, &keys()).expect_err("altered").to_string();
        assert_eq!(
            message,
            "the audit trail was altered: record 2 (row id 20): its content does not match its \
             hash (the record was altered)"
        );
    }

    #[test]
    fn a_chain_rewritten_without_the_key_is_found() {
        // Record 3 altered and everything from it rehashed, as the unkeyed chain allowed: with
        // plain SHA-256, or under a key of the forger's own.
        type Forger = fn(&ChainHead, &AuditEntry) -> Result<AuditRecord, EncodeError>;
        let forgers: [Forger; 2] = [
            |head, e| link_unkeyed(head, e),
            |head, e| link(head, e, &key(66)),
        ];
        for forge in forgers {
            let mut c = chain(5);
            let mut head = ChainHead {
                count: 2,
                hash: c.records[1].hash.clone(),
            };
            for i in 3..=5 {
                let mut e = entry(i);
                if i == 3 {
                    e.actor = Login::from("mallory");
                }
                let mut record = forge(&head, &e).expect("link");
                record.id = i as i64 * 10;
                head = ChainHead {
                    count: record.seq,
                    hash: record.hash.clone(),
                };
                c.records[i as usize - 1] = record;
            }
            c.head = Some(head);
            let (position, id, what) = broken(&c);
            assert_eq!((position, id), (3, Some(30)));
            assert!(
                matches!(&what, Break::Unkeyed | Break::UnknownKey { .. }),
                "{what:?}"
            );
        }
        // A forger who names the real key's id cannot produce its MAC.
        let mut c = chain(3);
        c.records[1].record = c.records[1].record.replace("octocat", "mallory");
        c.records[1].hash = link_mac(&key(66), &c.records[1].prev_hash, &c.records[1].record);
        assert_eq!(broken(&c), (2, Some(20), Break::Altered));
    }

    #[test]
    fn records_verify_with_the_key_they_name_across_a_rotation() {
        // Records 1-2 under the old key, 3-4 under the new one: the first under the new key
        // links to the last under the old.
        let c = chain_with(4, |i| Some(key(if i <= 2 { 1 } else { 2 })));
        let both = AuditKeys::new(key(2), vec![key(1)]);
        let verified = verify(&c, &both).expect("intact");
        assert_eq!(
            verified.spans,
            [
                KeySpan {
                    key: Some(key(1).id().to_owned()),
                    first: 1,
                    last: 2
                },
                KeySpan {
                    key: Some(key(2).id().to_owned()),
                    first: 3,
                    last: 4
                }
            ]
        );
        // Without the old key, the first record under it cannot be checked.
        let t = verify(&c, &AuditKeys::new(key(2), Vec::new())).expect_err("old key missing");
        assert!(t.to_string().contains("previous_keys"), "{t}");
        assert_eq!(
            (t.position, t.what),
            (
                1,
                Break::UnknownKey {
                    id: key(1).id().to_owned()
                }
            )
        );
    }

    #[test]
    fn unkeyed_records_may_only_open_the_chain() {
        // A store from before the key: its records stay the unkeyed start of the chain.
        let c = chain_with(5, |i| (i > 2).then(|| key(1)));
        let verified = verify(&c, &keys()).expect("intact");
        assert_eq!((verified.count, verified.unkeyed), (5, 2));
        assert_eq!(verified.spans[0].key, None);
        assert_eq!((verified.spans[0].first, verified.spans[0].last), (1, 2));
        // An unkeyed record after keyed ones was written without the key.
        let c = chain_with(4, |i| (i != 3).then(|| key(1)));
        assert_eq!(broken(&c), (3, Some(30), Break::Unkeyed));
    }

    #[test]
    fn one_record_is_checked_with_the_key_it_names() {
        let c = chain(2);
        assert_eq!(
            check_link(&c.records[1], &keys()),
            Ok(Some(key(1).id().to_owned()))
        );
        let mut altered = c.records[1].clone();
        altered.record = altered.record.replace("octocat", "mallory");
        assert_eq!(check_link(&altered, &keys()), Err(Break::Altered));
        let mut renamed = c.records[1].clone();
        renamed.record = renamed.record.replace(key(1).id(), key(2).id());
        assert_eq!(
            check_link(&renamed, &AuditKeys::new(key(1), vec![key(2)])),
            Err(Break::Altered)
        );
        let unkeyed = link_unkeyed(&empty_head(), &entry(1)).expect("link");
        assert_eq!(check_link(&unkeyed, &keys()), Ok(None));
    }
}
