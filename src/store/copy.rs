//! `iamgate store copy`: moves a SQLite store into an empty PostgreSQL database, every table
//! with its rows as they are (ids included, so that jobs keep their deliveries and votes their
//! audit records), in one transaction: the target ends with all of it or none of it. The audit
//! chain is inserted record by record in `seq` order, so the target's triggers check that each
//! extends the head as it goes; afterwards the target's chain is read back and must equal the
//! source's, record for record, with the same head.

use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::{Store, StoreError, StoreResult};
use crate::audit::AuditChain;

/// How a column travels.
#[derive(Debug, Clone, Copy)]
enum Col {
    Int,
    OptInt,
    /// A 0/1 flag (`SMALLINT` in PostgreSQL).
    Flag,
    Text,
    OptText,
    Blob,
}

use Col::{Blob, Flag, Int, OptInt, OptText, Text};

/// A table: its name, its columns and the order its rows are copied in.
type Table = (&'static str, &'static [(&'static str, Col)], &'static str);

/// Every table, parents before children.
const TABLES: &[Table] = &[
    (
        "deliveries",
        &[
            ("id", Text),
            ("forge", Text),
            ("event_name", Text),
            ("event", Text),
            ("received_at", Int),
            ("body_sha256", OptText),
        ],
        "id",
    ),
    (
        "jobs",
        &[
            ("id", Int),
            ("kind", Text),
            ("coalesce_key", Text),
            ("state", Text),
            ("attempt", Int),
            ("run_at", Int),
            ("lease", OptText),
            ("lease_until", OptInt),
            ("worker", OptText),
            ("last_error", OptText),
            ("created_at", Int),
            ("updated_at", Int),
            ("lane", Text),
            ("repo_key", OptText),
        ],
        "id",
    ),
    (
        "delivery_jobs",
        &[("delivery_id", Text), ("job_id", Int)],
        "delivery_id, job_id",
    ),
    (
        "lane_turns",
        &[("lane", Text), ("repo_key", Text), ("served_at", Int)],
        "lane, repo_key",
    ),
    (
        "pr_state",
        &[("key", Text), ("state", Text), ("updated_at", Int)],
        "key",
    ),
    (
        "audit_log",
        &[
            ("id", Int),
            ("seq", Int),
            ("time", Int),
            ("kind", Text),
            ("repo", Text),
            ("pr", Int),
            ("record", Text),
            ("prev_hash", Text),
            ("hash", Text),
        ],
        "seq",
    ),
    ("audit_once", &[("key", Text), ("at", Int)], "key"),
    (
        "votes",
        &[
            ("id", Int),
            ("pr_key", Text),
            ("source", Text),
            ("login", Text),
            ("kind", Text),
            ("head", Text),
            ("reason", OptText),
            ("at", Int),
            ("user_id", OptInt),
            ("audit_seq", OptInt),
            ("key_id", OptText),
            ("mac", OptText),
        ],
        "id",
    ),
    (
        "head_fingerprints",
        &[
            ("pr_key", Text),
            ("head", Text),
            ("fingerprint", Text),
            ("at", Int),
        ],
        "pr_key, head",
    ),
    (
        "pr_heads",
        &[("pr_key", Text), ("head", Text), ("first_seen", Int)],
        "pr_key, head",
    ),
    (
        "pr_gates",
        &[
            ("pr_key", Text),
            ("repo_key", Text),
            ("pr", Text),
            ("sha", Text),
            ("base", Text),
            ("state", Text),
            ("description", Text),
            ("at", Int),
        ],
        "pr_key",
    ),
    (
        "pr_authors",
        &[("pr_key", Text), ("login", Text), ("at", Int)],
        "pr_key, login",
    ),
    (
        "command_tickets",
        &[
            ("comment_key", Text),
            ("repo_key", Text),
            ("author", Text),
            ("at", Int),
            ("admitted", Flag),
            ("told", Flag),
            ("reply", Text),
            ("created_at", Int),
        ],
        "comment_key",
    ),
    (
        "ci_previews",
        &[
            ("repo_key", Text),
            ("commit_sha", Text),
            ("stack", Text),
            ("failed", Flag),
            ("body", Blob),
            ("source", Text),
            ("received_ms", Int),
        ],
        "repo_key, commit_sha, stack",
    ),
    (
        "ci_token_ids",
        &[("issuer", Text), ("jti", Text), ("expires_ms", Int)],
        "issuer, jti",
    ),
];

/// What a copy moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    /// Rows per table, in copy order.
    pub tables: Vec<(&'static str, u64)>,
    /// Records in the audit chain, and its head's link.
    pub audit_records: i64,
    pub audit_head: String,
}

/// Copies `from` into `to`, which must hold nothing yet, then checks the copied chain against
/// the source's.
pub async fn sqlite_to_postgres(from: &SqliteStore, to: &PostgresStore) -> StoreResult<Copied> {
    let target = to.pool();
    for (table, _, _) in TABLES {
        let any: Option<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT 1 FROM {table} LIMIT 1"
        )))
        .fetch_optional(target)
        .await?;
        if any.is_some() {
            return Err(StoreError::Config(format!(
                "the target database is not empty (table `{table}` has rows): copy into a new, \
                 empty database"
            )));
        }
    }
    let source_chain = from.audit_chain().await?;
    let mut copied = Copied::default();
    let mut tx = target.begin().await?;
    for (table, columns, order) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let select = format!("SELECT {} FROM {table} ORDER BY {order}", names.join(", "));
        let rows: Vec<SqliteRow> = sqlx::query(sqlx::AssertSqlSafe(select))
            .fetch_all(from.read_pool())
            .await?;
        let placeholders: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, col))| match col {
                Flag => format!("${}::smallint", i + 1),
                _ => format!("${}", i + 1),
            })
            .collect();
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        );
        for row in &rows {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
            for (i, (name, col)) in columns.iter().enumerate() {
                let bad = |e: sqlx::Error| {
                    StoreError::Corrupt(format!("{table}.{name} of the source: {e}"))
                };
                query = match col {
                    Int | Flag => query.bind(row.try_get::<i64, _>(i).map_err(bad)?),
                    OptInt => query.bind(row.try_get::<Option<i64>, _>(i).map_err(bad)?),
                    Text => query.bind(row.try_get::<String, _>(i).map_err(bad)?),
                    OptText => query.bind(row.try_get::<Option<String>, _>(i).map_err(bad)?),
                    Blob => query.bind(row.try_get::<Vec<u8>, _>(i).map_err(bad)?),
                };
            }
            query.execute(&mut *tx).await?;
        }
        copied.tables.push((table, rows.len() as u64));
    }
    for table in ["jobs", "audit_log", "votes"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let target_chain = to.audit_chain().await?;
    same_chain(&source_chain, &target_chain)?;
    copied.audit_records = target_chain.head.as_ref().map_or(0, |head| head.count);
    copied.audit_head = target_chain
        .head
        .as_ref()
        .map_or_else(String::new, |head| head.hash.clone());
    Ok(copied)
}

/// The copied chain must be the source's, record for record, with the same head.
fn same_chain(source: &AuditChain, target: &AuditChain) -> StoreResult<()> {
    if source.records.len() != target.records.len() {
        return Err(StoreError::Corrupt(format!(
            "the copied audit trail has {} records, the source {}",
            target.records.len(),
            source.records.len()
        )));
    }
    if let Some((a, _)) = source
        .records
        .iter()
        .zip(&target.records)
        .find(|(a, b)| a != b)
    {
        return Err(StoreError::Corrupt(format!(
            "the copied audit record {} differs from the source's",
            a.seq
        )));
    }
    if source.head != target.head {
        return Err(StoreError::Corrupt(format!(
            "the copied audit chain's head {:?} is not the source's {:?}",
            target.head, source.head
        )));
    }
    Ok(())
}
