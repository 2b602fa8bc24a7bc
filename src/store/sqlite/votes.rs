//! Command votes and head fingerprints (migration 0003): writes run on the writer's connection
//! inside its batch transaction; reads use the reader pool.

use std::collections::BTreeMap;

use sqlx::{SqliteConnection, SqlitePool};

use crate::audit::AuditKey;
use crate::store::backing::{self};
use crate::store::{CommandVote, StoreResult};

/// Inserts a vote unless one with the same source exists; `true` when inserted. `mac_key`: the
/// key to MAC the row with (binding rows); without, the caller names its audit record next
/// ([`back_with_record`]).
pub(super) async fn add(
    conn: &mut SqliteConnection,
    pr_key: &str,
    vote: &CommandVote,
    mac_key: Option<&AuditKey>,
) -> StoreResult<bool> {
    let mac = mac_key.map(|key| (key.id(), backing::row_mac(key, pr_key, vote)));
    let done = sqlx::query(
        "INSERT INTO votes (pr_key, source, login, user_id, kind, head, reason, at, key_id, mac) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (pr_key, source) DO NOTHING",
    )
    .bind(pr_key)
    .bind(&vote.source)
    .bind(&vote.login)
    .bind(vote.user_id.map(|id| id.0 as i64))
    .bind(vote.kind.as_str())
    .bind(&vote.head)
    .bind(&vote.reason)
    .bind(vote.at_ms)
    .bind(mac.as_ref().map(|(id, _)| *id))
    .bind(mac.as_ref().map(|(_, mac)| mac.as_str()))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Names the audit record (by `seq`) that backs a vote just inserted.
pub(super) async fn back_with_record(
    conn: &mut SqliteConnection,
    pr_key: &str,
    source: &str,
    seq: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE votes SET audit_seq = ?3 WHERE pr_key = ?1 AND source = ?2")
        .bind(pr_key)
        .bind(source)
        .bind(seq)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub use crate::store::backing::VoteRow;

/// The columns of a vote row, then its backing columns, then its record's (NULL without one).
const SELECT_ROWS: &str = "SELECT v.pr_key, v.source, v.login, v.user_id, v.kind, v.head, v.reason, v.at, \
     v.audit_seq, v.key_id, v.mac, \
     a.id, a.seq, a.time, a.kind, a.repo, a.pr, a.record, a.prev_hash, a.hash \
     FROM votes v LEFT JOIN audit_log a ON a.seq = v.audit_seq";

/// A PR's vote rows with their backing, oldest first (not checked: see [`backing::check`]).
pub(super) async fn list(readers: &SqlitePool, pr_key: &str) -> StoreResult<Vec<VoteRow>> {
    let query = format!("{SELECT_ROWS} WHERE v.pr_key = ?1 ORDER BY v.at, v.id");
    rows(
        sqlx::query(sqlx::AssertSqlSafe(query))
            .bind(pr_key)
            .fetch_all(readers)
            .await?,
    )
}

/// Every vote row with its backing, by pull request then age (for `iamgate audit --verify`).
pub(super) async fn all(readers: &SqlitePool) -> StoreResult<Vec<VoteRow>> {
    let query = format!("{SELECT_ROWS} ORDER BY v.pr_key, v.at, v.id");
    rows(
        sqlx::query(sqlx::AssertSqlSafe(query))
            .fetch_all(readers)
            .await?,
    )
}

fn rows(rows: Vec<sqlx::sqlite::SqliteRow>) -> StoreResult<Vec<VoteRow>> {
    rows.iter().map(crate::store::rows::vote_row).collect()
}

/// Records (or replaces) the fingerprint of a head.
pub(super) async fn put_fingerprint(
    conn: &mut SqliteConnection,
    pr_key: &str,
    head: &str,
    fingerprint: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO head_fingerprints (pr_key, head, fingerprint, at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (pr_key, head) DO UPDATE SET fingerprint = excluded.fingerprint, at = excluded.at",
    )
    .bind(pr_key)
    .bind(head)
    .bind(fingerprint)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a login that pushed to a PR (lower-cased; once).
pub(super) async fn add_author(
    conn: &mut SqliteConnection,
    pr_key: &str,
    login: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO pr_authors (pr_key, login, at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (pr_key, login) DO NOTHING",
    )
    .bind(pr_key)
    .bind(login.to_ascii_lowercase())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The logins that pushed to a PR.
pub(super) async fn authors(readers: &SqlitePool, pr_key: &str) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT login FROM pr_authors WHERE pr_key = ?1 ORDER BY login")
            .bind(pr_key)
            .fetch_all(readers)
            .await?;
    Ok(rows.into_iter().map(|(login,)| login).collect())
}

/// Records the first sighting of a PR's head (a later one keeps the first).
pub(super) async fn record_head(
    conn: &mut SqliteConnection,
    pr_key: &str,
    head: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO pr_heads (pr_key, head, first_seen) VALUES (?1, ?2, ?3) \
         ON CONFLICT (pr_key, head) DO NOTHING",
    )
    .bind(pr_key)
    .bind(head)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The newest head of a PR first seen at or before `at_ms`.
pub(super) async fn head_seen_at(
    readers: &SqlitePool,
    pr_key: &str,
    at_ms: i64,
) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT head FROM pr_heads WHERE pr_key = ?1 AND first_seen <= ?2 \
         ORDER BY first_seen DESC, head LIMIT 1",
    )
    .bind(pr_key)
    .bind(at_ms)
    .fetch_optional(readers)
    .await?;
    Ok(row.map(|(head,)| head))
}

/// A PR's analyzed heads and their fingerprints.
pub(super) async fn fingerprints(
    readers: &SqlitePool,
    pr_key: &str,
) -> StoreResult<BTreeMap<String, String>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT head, fingerprint FROM head_fingerprints WHERE pr_key = ?1")
            .bind(pr_key)
            .fetch_all(readers)
            .await?;
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use crate::audit::key::test_keys;
    use crate::audit::{
        ApprovalSource, AuditEntry, AuditEvent, AuditFilter, AuditKey, AuditKeys, Timestamp,
        WithdrawalSource,
    };
    use crate::event::{ForgeKind, Login, PrNumber, PrRef, RepoName, UserId};
    use crate::store::TestStore;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{CommandVote, CommandVoteKind, REVIEW_HOOK, Store};

    fn pr(number: u64) -> PrRef {
        PrRef {
            forge: ForgeKind::GitHub,
            installation: Some(1),
            repo: RepoName::from("acme/infra"),
            number: PrNumber(number),
        }
    }

    fn vote(source: &str, kind: CommandVoteKind, at_ms: i64) -> CommandVote {
        CommandVote {
            source: source.into(),
            login: "alice".into(),
            // One vote with the account id, one without (older votes, older payloads).
            user_id: (kind == CommandVoteKind::Approve).then_some(UserId(4_000_000_001)),
            kind,
            head: "h1".into(),
            reason: (kind == CommandVoteKind::Approve).then(|| "looks right".into()),
            at_ms,
        }
    }

    /// The event a command vote is recorded with.
    fn event(vote: &CommandVote) -> AuditEvent {
        match vote.kind {
            CommandVoteKind::Approve => AuditEvent::Approval {
                via: ApprovalSource::Command,
                fingerprint: None,
                requirements: vec!["security".into()],
                reason: vote.reason.clone(),
            },
            CommandVoteKind::Withdraw => AuditEvent::Withdrawal {
                via: WithdrawalSource::Command,
                approver: Login::from(vote.login.as_str()),
            },
            CommandVoteKind::Override => AuditEvent::Override {
                reason: vote.reason.clone().unwrap_or_default(),
                fingerprint: None,
            },
        }
    }

    fn hook(delivery: &str, at_ms: i64) -> CommandVote {
        CommandVote {
            source: format!("{REVIEW_HOOK}{delivery}"),
            reason: None,
            ..vote("", CommandVoteKind::Approve, at_ms)
        }
    }

    async fn open(keys: AuditKeys) -> SqliteStore {
        SqliteStore::open("sqlite::memory:", keys)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn sql(store: &SqliteStore, statement: &str) {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&store.readers)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    async fn votes_are_kept_per_pr_once_per_source_in_order(store: &TestStore) {
        let approve = vote("comment:1:0", CommandVoteKind::Approve, 10);
        let withdraw = vote("comment:2:0", CommandVoteKind::Withdraw, 20);
        let hooked = hook("d-1", 15);
        for (pr_number, v, event) in [
            (7, &withdraw, Some(event(&withdraw))),
            (7, &approve, Some(event(&approve))),
            (7, &hooked, None),
            (8, &approve, Some(event(&approve))),
        ] {
            assert!(
                store
                    .add_vote(&pr(pr_number), v, event)
                    .await
                    .unwrap_or(false),
                "{}",
                v.source
            );
        }
        assert!(
            !store
                .add_vote(&pr(7), &approve, Some(event(&approve)))
                .await
                .unwrap_or(true),
            "a retried command adds nothing"
        );
        let audited = store
            .audit_records(&AuditFilter::default())
            .await
            .unwrap_or_default();
        assert_eq!(
            audited.len(),
            3,
            "each command vote's audit record is appended with it, once; a hook row has none: \
             {audited:#?}"
        );
        let record = audited[1].entry().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record.source.as_deref(), Some("comment:1:0"));
        assert_eq!(record.actor_id, Some(UserId(4_000_000_001)));
        assert_eq!(record.time.unix_millis(), 10);
        let seven = store.votes(&pr(7)).await.unwrap_or_default();
        assert_eq!(
            seven,
            vec![approve.clone(), hooked, withdraw],
            "oldest first"
        );
        assert_eq!(store.votes(&pr(8)).await.unwrap_or_default(), vec![approve]);
    }

    async fn a_vote_written_or_altered_by_hand_counts_for_nothing(store: &TestStore) {
        let approve = vote("comment:1:0", CommandVoteKind::Approve, 10);
        let hooked = hook("d-1", 15);
        let _ = store
            .add_vote(&pr(7), &approve, Some(event(&approve)))
            .await;
        let _ = store.add_vote(&pr(7), &hooked, None).await;
        assert_eq!(store.votes(&pr(7)).await.unwrap_or_default().len(), 2);
        // A new row, by hand: no record, no MAC.
        store
            .execute(
                "INSERT INTO votes (pr_key, source, login, kind, head, at) \
             VALUES ('github:acme/infra#7', 'comment:9:0', 'mallory', 'override', 'h1', 30)",
            )
            .await;
        // Another one naming the approval's record, and a hook row with the first one's MAC.
        store
            .execute(
                "INSERT INTO votes (pr_key, source, login, kind, head, at, audit_seq) \
             VALUES ('github:acme/infra#7', 'comment:9:1', 'alice', 'approve', 'h2', 31, 1)",
            )
            .await;
        store
            .execute(
                "INSERT INTO votes (pr_key, source, login, kind, head, at, key_id, mac) \
             SELECT pr_key, 'review-hook:d-2', login, kind, 'h2', at, key_id, mac FROM votes \
             WHERE source = 'review-hook:d-1'",
            )
            .await;
        assert_eq!(
            store.votes(&pr(7)).await.unwrap_or_default(),
            vec![approve.clone(), hooked.clone()],
            "the rows written by hand count for nothing"
        );
        // The genuine rows, altered (moved to another head): the hook row's MAC no longer
        // matches; the command vote counts as its record says, whatever its row says now.
        store
            .execute(
                "UPDATE votes SET head = 'h2' WHERE source IN ('comment:1:0', 'review-hook:d-1')",
            )
            .await;
        assert_eq!(
            store.votes(&pr(7)).await.unwrap_or_default(),
            vec![approve.clone()]
        );
        // Nor does deleting its row take it away.
        store
            .execute("DELETE FROM votes WHERE source = 'comment:1:0'")
            .await;
        assert_eq!(store.votes(&pr(7)).await.unwrap_or_default(), vec![approve]);
    }

    #[tokio::test]
    async fn an_altered_vote_record_counts_for_nothing() {
        let store = open(test_keys()).await;
        let approve = vote("comment:1:0", CommandVoteKind::Approve, 10);
        let _ = store
            .add_vote(&pr(7), &approve, Some(event(&approve)))
            .await;
        for trigger in ["audit_log_no_update", "audit_head_forward_only"] {
            sql(&store, &format!("DROP TRIGGER {trigger}")).await;
        }
        sql(
            &store,
            "UPDATE audit_log SET record = replace(record, '\"head_sha\":\"h1\"', '\"head_sha\":\"h2\"')",
        )
        .await;
        assert_eq!(store.votes(&pr(7)).await.unwrap_or_default(), Vec::new());
    }

    #[tokio::test]
    async fn votes_under_a_previous_key_count_while_the_key_is_held() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}", dir.path().join("iamgate.db").display());
        let old = AuditKey::from_bytes(vec![1; 32]).unwrap_or_else(|e| panic!("{e}"));
        let new = AuditKey::from_bytes(vec![2; 32]).unwrap_or_else(|e| panic!("{e}"));
        let approve = vote("comment:1:0", CommandVoteKind::Approve, 10);
        let hooked = hook("d-1", 15);
        let store = SqliteStore::open(&url, AuditKeys::new(old.clone(), Vec::new()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = store
            .add_vote(&pr(7), &approve, Some(event(&approve)))
            .await;
        let _ = store.add_vote(&pr(7), &hooked, None).await;
        store.close().await;
        let rotated = SqliteStore::open(&url, AuditKeys::new(new.clone(), vec![old]))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rotated.votes(&pr(7)).await.unwrap_or_default(),
            vec![approve, hooked]
        );
        rotated.close().await;
        let forgotten = SqliteStore::open(&url, AuditKeys::new(new, Vec::new()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            forgotten.votes(&pr(7)).await.unwrap_or_default(),
            Vec::new(),
            "without the old key, nothing vouches for them"
        );
    }

    fn approval(number: u64) -> AuditEntry {
        AuditEntry::by(
            Timestamp::from_unix_millis(1_714_521_600_000).expect("time"),
            &pr(number),
            Login::from("alice"),
            AuditEvent::Withdrawal {
                via: WithdrawalSource::Command,
                approver: Login::from("alice"),
            },
        )
    }

    async fn once_only_audit_entries_are_appended_once_per_key(store: &TestStore) {
        for (key, expected) in [
            ("refusal:a:1:0", true),
            ("refusal:a:1:0", false),
            ("refusal:a:1:1", true),
        ] {
            assert_eq!(
                store.append_audit_once(key, approval(7)).await.ok(),
                Some(expected),
                "{key}"
            );
        }
        let audited = store
            .audit_records(&AuditFilter::default())
            .await
            .unwrap_or_default();
        assert_eq!(audited.len(), 2);
    }

    async fn fingerprints_are_kept_per_head_and_replaced(store: &TestStore) {
        for (head, fp) in [("h1", "a"), ("h2", "b"), ("h2", "c")] {
            store
                .put_fingerprint(&pr(7), head, fp)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let fps = store.fingerprints(&pr(7)).await.unwrap_or_default();
        assert_eq!(fps.get("h1").map(String::as_str), Some("a"));
        assert_eq!(fps.get("h2").map(String::as_str), Some("c"));
        assert!(
            store
                .fingerprints(&pr(8))
                .await
                .unwrap_or_default()
                .is_empty()
        );
    }

    crate::store::on_both_backends!(
        votes_are_kept_per_pr_once_per_source_in_order,
        a_vote_written_or_altered_by_hand_counts_for_nothing,
        once_only_audit_entries_are_appended_once_per_key,
        fingerprints_are_kept_per_head_and_replaced,
    );
}
