//! Command votes and head fingerprints (migration 0003): writes run on the writer's connection
//! inside its batch transaction; reads use the reader pool.

use std::collections::BTreeMap;

use sqlx::{SqliteConnection, SqlitePool};

use crate::event::UserId;
use crate::store::{CommandVote, CommandVoteKind, StoreResult};

/// Inserts a vote unless one with the same source exists; `true` when inserted.
pub(super) async fn add(
    conn: &mut SqliteConnection,
    pr_key: &str,
    vote: &CommandVote,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO votes (pr_key, source, login, user_id, kind, head, reason, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (pr_key, source) DO NOTHING",
    )
    .bind(pr_key)
    .bind(&vote.source)
    .bind(&vote.login)
    .bind(vote.user_id.map(|id| id.0 as i64))
    .bind(vote.kind.as_str())
    .bind(&vote.head)
    .bind(&vote.reason)
    .bind(vote.at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
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

/// A PR's votes, oldest first.
pub(super) async fn list(readers: &SqlitePool, pr_key: &str) -> StoreResult<Vec<CommandVote>> {
    type Row = (
        String,
        String,
        Option<i64>,
        String,
        String,
        Option<String>,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT source, login, user_id, kind, head, reason, at FROM votes WHERE pr_key = ?1 \
         ORDER BY at, id",
    )
    .bind(pr_key)
    .fetch_all(readers)
    .await?;
    rows.into_iter()
        .map(|(source, login, user_id, kind, head, reason, at_ms)| {
            Ok(CommandVote {
                source,
                login,
                user_id: user_id.and_then(|id| u64::try_from(id).ok()).map(UserId),
                kind: CommandVoteKind::parse(&kind).ok_or_else(|| {
                    crate::store::StoreError::Corrupt(format!("votes: unknown kind `{kind}`"))
                })?,
                head,
                reason,
                at_ms,
            })
        })
        .collect()
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
    use crate::audit::{AuditEntry, AuditEvent, AuditFilter, Timestamp, WithdrawalSource};
    use crate::event::{ForgeKind, Login, PrNumber, PrRef, RepoName, UserId};
    use crate::store::sqlite::SqliteStore;
    use crate::store::{CommandVote, CommandVoteKind, Store};

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
            reason: Some("looks right".into()),
            at_ms,
        }
    }

    #[tokio::test]
    async fn votes_are_kept_per_pr_once_per_source_in_order() {
        let store = SqliteStore::open("sqlite::memory:")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let approve = vote("comment:1:0", CommandVoteKind::Approve, 10);
        let withdraw = vote("comment:2:0", CommandVoteKind::Withdraw, 20);
        assert!(
            store
                .add_vote(&pr(7), &withdraw, None)
                .await
                .unwrap_or(false)
        );
        assert!(
            store
                .add_vote(&pr(7), &approve, Some(approval(7)))
                .await
                .unwrap_or(false)
        );
        assert!(
            !store
                .add_vote(&pr(7), &approve, Some(approval(7)))
                .await
                .unwrap_or(true),
            "a retried command adds nothing"
        );
        assert!(
            store
                .add_vote(&pr(8), &approve, None)
                .await
                .unwrap_or(false)
        );
        let audited = store
            .audit_records(&AuditFilter::default())
            .await
            .unwrap_or_default();
        assert_eq!(
            audited.len(),
            1,
            "the vote's audit entry is appended with it, once: {audited:#?}"
        );
        let seven = store.votes(&pr(7)).await.unwrap_or_default();
        assert_eq!(seven, vec![approve.clone(), withdraw], "oldest first");
        assert_eq!(store.votes(&pr(8)).await.unwrap_or_default(), vec![approve]);
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

    #[tokio::test]
    async fn once_only_audit_entries_are_appended_once_per_key() {
        let store = SqliteStore::open("sqlite::memory:")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
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

    #[tokio::test]
    async fn fingerprints_are_kept_per_head_and_replaced() {
        let store = SqliteStore::open("sqlite::memory:")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
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
}
