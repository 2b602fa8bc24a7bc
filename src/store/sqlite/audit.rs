//! The audit trail in SQLite (`audit_log` and `audit_head`, migration 0002): appends run on the
//! writer inside its batch transaction, reading the head and inserting the next link (keyed with
//! the current audit key) there, so concurrent appends never fork the chain; reads use the
//! reader pool. The chain itself (encoding, keyed links, verification) is `crate::audit`'s.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{SqliteConnection, SqlitePool};

use super::votes::{self, VoteRow};
use crate::audit::chain;
use crate::audit::{AuditChain, AuditEntry, AuditFilter, AuditKey, AuditRecord, ChainHead};
use crate::store::{StoreError, StoreResult};

use crate::store::rows::{AuditRow as Row, audit_record as from_row};

/// Reads the audit trail of a store file without changing it: opened read-only, no migrations
/// run (an auditor's copy of the file stays exactly as it was given).
#[derive(Debug)]
pub struct AuditReader {
    pool: SqlitePool,
}

impl AuditReader {
    /// Opens `path` read-only; a file without the audit tables fails on the first read.
    pub async fn open(path: &Path) -> StoreResult<AuditReader> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        Ok(AuditReader { pool })
    }

    /// The records that pass `filter`, oldest first (not verified).
    pub async fn records(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        records(&self.pool, filter).await
    }

    /// The whole chain and its head, read at one instant.
    pub async fn chain(&self) -> StoreResult<AuditChain> {
        whole_chain(&self.pool).await
    }

    /// Every vote row with what backs it; `None` when the file predates keyed votes (no
    /// `votes.audit_seq`) or has no votes at all.
    pub async fn votes(&self) -> StoreResult<Option<Vec<VoteRow>>> {
        let columns: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info('votes')")
            .fetch_all(&self.pool)
            .await?;
        if !columns.iter().any(|(name,)| name == "audit_seq") {
            return Ok(None);
        }
        votes::all(&self.pool).await.map(Some)
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, seq, time, kind, repo, pr, record, prev_hash, hash FROM audit_log ",
            $rest
        )
    };
}

/// Claims `key` for a once-only audit entry (writer only, inside its transaction): `false` when
/// it was claimed before.
pub(super) async fn claim_once(
    conn: &mut SqliteConnection,
    key: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO audit_once (key, at) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Appends `entry` after the current head, keyed with `key` (writer only, inside its
/// transaction). The table's triggers advance the head in the same statement.
pub(super) async fn append(
    conn: &mut SqliteConnection,
    entry: &AuditEntry,
    key: &AuditKey,
) -> StoreResult<AuditRecord> {
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT count, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
    let Some((count, hash)) = head else {
        return Err(StoreError::Corrupt(
            "audit_head is missing: the audit trail was tampered with (run `iamgate audit --verify`)"
                .into(),
        ));
    };
    let mut record = chain::link(&ChainHead { count, hash }, entry, key)
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    record.id = sqlx::query_scalar(
        "INSERT INTO audit_log (seq, time, kind, repo, pr, record, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
    )
    .bind(record.seq)
    .bind(record.time_ms)
    .bind(&record.kind)
    .bind(&record.repo)
    .bind(record.pr)
    .bind(&record.record)
    .bind(&record.prev_hash)
    .bind(&record.hash)
    .fetch_one(&mut *conn)
    .await?;
    Ok(record)
}

/// The records passing `filter`, in stored order.
pub(super) async fn records(
    readers: &SqlitePool,
    filter: &AuditFilter,
) -> StoreResult<Vec<AuditRecord>> {
    let rows: Vec<Row> = sqlx::query_as(select!(
        "WHERE (?1 IS NULL OR repo = ?1 COLLATE NOCASE) AND (?2 IS NULL OR time >= ?2) \
         ORDER BY id"
    ))
    .bind(filter.repo.as_ref().map(|repo| repo.as_str()))
    .bind(filter.since.map(|since| since.unix_millis()))
    .fetch_all(readers)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The records that may be a pull request's command votes (by their columns: `repo`, `pr` and
/// the kinds of votes), oldest first. Not checked: see `store::backing::vote_of_record`.
pub(super) async fn vote_records(
    readers: &SqlitePool,
    repo: &str,
    pr: i64,
) -> StoreResult<Vec<AuditRecord>> {
    let rows: Vec<Row> = sqlx::query_as(select!(
        "WHERE repo = ?1 AND pr = ?2 AND kind IN ('approval', 'withdrawal', 'override') \
         ORDER BY seq"
    ))
    .bind(repo)
    .bind(pr)
    .fetch_all(readers)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Every record and the head, from one read transaction (one snapshot: an append landing
/// meanwhile is either wholly in it or not at all).
pub(super) async fn whole_chain(readers: &SqlitePool) -> StoreResult<AuditChain> {
    let mut tx = readers.begin().await?;
    let rows: Vec<Row> = sqlx::query_as(select!("ORDER BY id"))
        .fetch_all(&mut *tx)
        .await?;
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT count, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
    tx.rollback().await?;
    Ok(AuditChain {
        records: rows.into_iter().map(from_row).collect(),
        head: head.map(|(count, hash)| ChainHead { count, hash }),
    })
}

#[cfg(test)]
mod tests {

    use super::super::SqliteStore;
    use crate::audit::{
        AuditEntry, AuditEvent, AuditFilter, Break, GENESIS, GateState, Timestamp, verify,
    };
    use crate::event::{ForgeKind, Login, PrNumber, PrRef, RepoName, Sha};
    use crate::store::Store;
    use crate::store::TestStore;

    fn entry(n: u64, repo: &str) -> AuditEntry {
        let pr = PrRef {
            forge: ForgeKind::GitHub,
            installation: Some(7),
            repo: RepoName::from(repo),
            number: PrNumber(n % 5 + 1),
        };
        let time =
            Timestamp::from_unix_millis(1_714_521_600_000 + n as i64 * 3_600_000).expect("time");
        AuditEntry::by_app(
            time,
            &pr,
            AuditEvent::StatusChange {
                state: GateState::Success,
                description: format!("status {n}"),
            },
        )
        .at(Sha(format!("{n:0>40}")))
    }

    /// Appends `n` records, alternating between two repositories.
    async fn fill(store: &dyn Store, n: u64) {
        for i in 1..=n {
            let repo = if i % 2 == 0 { "acme/infra" } else { "acme/web" };
            store.append_audit(entry(i, repo)).await.expect("append");
        }
    }

    /// Runs every future at once on this task (the appends race for the chain's head) and
    /// returns their outputs in order.
    async fn futures_join_all<F: std::future::Future>(
        futures: impl Iterator<Item = F>,
    ) -> Vec<F::Output> {
        use std::task::Poll;
        let mut futures: Vec<_> = futures.map(Box::pin).collect();
        let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut waiting = false;
            for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
                if output.is_none() {
                    match future.as_mut().poll(cx) {
                        Poll::Ready(value) => *output = Some(value),
                        Poll::Pending => waiting = true,
                    }
                }
            }
            if waiting {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        outputs.into_iter().flatten().collect()
    }

    async fn store_with(n: u64) -> SqliteStore {
        let store = SqliteStore::open("sqlite::memory:", crate::audit::key::test_keys())
            .await
            .expect("open");
        for i in 1..=n {
            let repo = if i % 2 == 0 { "acme/infra" } else { "acme/web" };
            store.append_audit(entry(i, repo)).await.expect("append");
        }
        store
    }

    async fn sql(store: &SqliteStore, statement: &'static str) -> Result<u64, sqlx::Error> {
        sqlx::query(statement)
            .execute(&store.readers)
            .await
            .map(|done| done.rows_affected())
    }

    async fn drop_triggers(store: &SqliteStore) {
        for trigger in [
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
            "DROP TRIGGER audit_log_extends_head",
            "DROP TRIGGER audit_log_advance_head",
            "DROP TRIGGER audit_head_forward_only",
        ] {
            sql(store, trigger).await.expect(trigger);
        }
    }

    async fn broken(store: &SqliteStore) -> (u64, Option<i64>, Break) {
        let chain = store.audit_chain().await.expect("chain");
        let tampered =
            verify(&chain, &crate::audit::key::test_keys()).expect_err("tampering goes unnoticed");
        (tampered.position, tampered.id, tampered.what)
    }

    async fn concurrent_appends_make_one_unbroken_chain(store: &TestStore) {
        let appends = (1..=200).map(|i| store.append_audit(entry(i, "acme/infra")));
        let mut seqs: Vec<i64> = futures_join_all(appends)
            .await
            .into_iter()
            .map(|appended| appended.expect("append").seq)
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
        let chain = store.audit_chain().await.expect("chain");
        let verified = verify(&chain, &crate::audit::key::test_keys()).expect("intact");
        assert_eq!(verified.count, 200);
        assert_eq!(chain.records[0].prev_hash, GENESIS);
        assert_eq!(chain.head.expect("head").hash, verified.head);
    }

    #[tokio::test]
    async fn the_chain_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("iamgate.db").display());
        let store = SqliteStore::open(&url, crate::audit::key::test_keys())
            .await
            .expect("open");
        store
            .append_audit(entry(1, "acme/web"))
            .await
            .expect("append");
        store.close().await;
        let store = SqliteStore::open(&url, crate::audit::key::test_keys())
            .await
            .expect("reopen");
        let second = store
            .append_audit(entry(2, "acme/web"))
            .await
            .expect("append");
        assert_eq!(second.seq, 2);
        let decoded = second.entry().expect("decode");
        assert_eq!(decoded, entry(2, "acme/web"));
        assert_eq!(
            verify(
                &store.audit_chain().await.expect("chain"),
                &crate::audit::key::test_keys()
            )
            .expect("intact")
            .count,
            2
        );
    }

    async fn filters_select_by_repo_and_time(store: &TestStore) {
        fill(&**store, 6).await;
        let infra = AuditFilter {
            repo: Some(RepoName::from("ACME/Infra")),
            since: None,
        };
        let seqs = |records: Vec<crate::audit::AuditRecord>| -> Vec<i64> {
            records.iter().map(|r| r.seq).collect()
        };
        assert_eq!(
            seqs(store.audit_records(&infra).await.expect("read")),
            [2, 4, 6]
        );
        let since = AuditFilter {
            repo: None,
            since: Some(entry(4, "x").time),
        };
        assert_eq!(
            seqs(store.audit_records(&since).await.expect("read")),
            [4, 5, 6]
        );
        let both = AuditFilter {
            since: since.since,
            ..infra
        };
        let records = store.audit_records(&both).await.expect("read");
        assert!(records.iter().all(|r| both.matches(r)));
        assert_eq!(seqs(records), [4, 6]);
    }

    #[tokio::test]
    async fn sql_cannot_rewrite_history_while_the_triggers_stand() {
        let store = store_with(3).await;
        for statement in [
            "UPDATE audit_log SET record = '{}' WHERE seq = 2",
            "DELETE FROM audit_log WHERE seq = 3",
            "UPDATE audit_head SET count = 2",
            "DELETE FROM audit_head",
            "INSERT INTO audit_log (seq, time, kind, repo, pr, record, prev_hash, hash) \
             VALUES (2, 0, 'x', 'x', 1, '{}', 'x', 'x')",
        ] {
            let error = sql(&store, statement).await.expect_err(statement);
            assert!(error.to_string().contains("audit"), "{statement}: {error}");
        }
        verify(
            &store.audit_chain().await.expect("chain"),
            &crate::audit::key::test_keys(),
        )
        .expect("intact");
    }

    #[tokio::test]
    async fn an_altered_record_is_found_at_its_position() {
        let store = store_with(5).await;
        drop_triggers(&store).await;
        sql(
            &store,
            "UPDATE audit_log SET record = replace(record, 'status 3', 'status 9') WHERE seq = 3",
        )
        .await
        .expect("alter");
        assert_eq!(broken(&store).await, (3, Some(3), Break::Altered));
    }

    #[tokio::test]
    async fn an_altered_column_is_found() {
        let store = store_with(5).await;
        drop_triggers(&store).await;
        sql(
            &store,
            "UPDATE audit_log SET repo = 'acme/elsewhere' WHERE seq = 4",
        )
        .await
        .expect("alter");
        assert_eq!(broken(&store).await, (4, Some(4), Break::Column("repo")));
    }

    #[tokio::test]
    async fn a_deleted_record_is_found_at_its_position() {
        let store = store_with(5).await;
        drop_triggers(&store).await;
        sql(&store, "DELETE FROM audit_log WHERE seq = 2")
            .await
            .expect("delete");
        assert_eq!(broken(&store).await, (2, Some(3), Break::BrokenLink));
    }

    #[tokio::test]
    async fn deleting_the_newest_record_is_found_by_the_head() {
        let store = store_with(5).await;
        drop_triggers(&store).await;
        sql(&store, "DELETE FROM audit_log WHERE seq = 5")
            .await
            .expect("delete");
        let (position, id, what) = broken(&store).await;
        assert_eq!((position, id), (5, None));
        assert_eq!(
            what,
            Break::Truncated {
                head_count: 5,
                found: 4
            }
        );
    }

    #[tokio::test]
    async fn an_inserted_record_is_found_at_its_position() {
        let store = store_with(3).await;
        drop_triggers(&store).await;
        // A copy of record 2 slipped in after record 3, without advancing the head.
        sql(
            &store,
            "INSERT INTO audit_log (seq, time, kind, repo, pr, record, prev_hash, hash) \
             SELECT 4, time, kind, repo, pr, record, prev_hash, hash FROM audit_log WHERE seq = 2",
        )
        .await
        .expect("insert");
        assert_eq!(broken(&store).await, (4, Some(4), Break::BrokenLink));
    }

    #[tokio::test]
    async fn reordered_records_are_found() {
        let store = store_with(4).await;
        drop_triggers(&store).await;
        // Swap the contents of rows 2 and 3 (the row ids stay in place).
        for statement in [
            "CREATE TABLE swap AS SELECT * FROM audit_log WHERE id IN (2, 3)",
            "UPDATE audit_log SET seq = -id WHERE id IN (2, 3)",
            "UPDATE audit_log SET (seq, time, kind, repo, pr, record, prev_hash, hash) = \
             (SELECT seq, time, kind, repo, pr, record, prev_hash, hash FROM swap \
              WHERE swap.id = 5 - audit_log.id) \
             WHERE id IN (2, 3)",
        ] {
            sql(&store, statement).await.expect(statement);
        }
        let moved: String = sqlx::query_scalar("SELECT record FROM audit_log WHERE id = 2")
            .fetch_one(&store.readers)
            .await
            .expect("row");
        assert!(moved.contains("status 3"), "{moved}");
        assert_eq!(broken(&store).await, (2, Some(2), Break::BrokenLink));
    }

    #[tokio::test]
    async fn appending_refuses_a_store_without_a_head() {
        let store = store_with(1).await;
        sql(&store, "DROP TRIGGER audit_head_no_delete")
            .await
            .expect("drop");
        sql(&store, "DELETE FROM audit_head").await.expect("delete");
        assert_eq!(broken(&store).await, (2, None, Break::HeadMissing));
        let error = store
            .append_audit(entry(2, "acme/web"))
            .await
            .expect_err("no head");
        assert!(
            error.to_string().contains("audit_head is missing"),
            "{error}"
        );
    }

    async fn actors_and_events_round_trip(store: &TestStore) {
        let pr = PrRef {
            forge: ForgeKind::GitLab,
            installation: None,
            repo: RepoName::from("group/sub/project"),
            number: PrNumber(3),
        };
        let time = Timestamp::parse_rfc3339("2024-05-01T10:00:00.5Z").expect("time");
        let approval = AuditEntry::by(
            time,
            &pr,
            Login::from("alice"),
            AuditEvent::Approval {
                via: crate::audit::ApprovalSource::Command,
                fingerprint: Some("ab".repeat(32)),
                requirements: vec!["security".into()],
                reason: Some("looks fine".into()),
            },
        );
        let record = store.append_audit(approval.clone()).await.expect("append");
        assert_eq!(record.kind, "approval");
        assert_eq!(record.repo, "group/sub/project");
        assert_eq!(record.entry().expect("decode"), approval);
        let stored = store
            .audit_records(&AuditFilter::default())
            .await
            .expect("read");
        assert_eq!(stored, vec![record]);
    }

    crate::store::on_both_backends!(
        concurrent_appends_make_one_unbroken_chain,
        filters_select_by_repo_and_time,
        actors_and_events_round_trip,
    );
}
