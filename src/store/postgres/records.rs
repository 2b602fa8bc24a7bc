//! Everything but the queue on PostgreSQL: the audit chain, votes and what binds them, heads,
//! gates, CI previews and command tickets. Writes run inside the caller's transaction; reads take
//! any connection (or the caller's transaction, where they must see one instant).
//!
//! The audit chain stays one chain across replicas: an append locks the `audit_head` row
//! ([`lock_head`]) before reading it, so appends from everywhere queue up behind one another
//! until each commits, and the table's triggers refuse any record that does not extend the head.

use std::collections::BTreeMap;

use sqlx::{PgConnection, PgPool};

use crate::audit::chain;
use crate::audit::{AuditChain, AuditEntry, AuditFilter, AuditKey, AuditRecord, ChainHead};
use crate::event::{PrRef, RepoRef, UserId};
use crate::store::backing::{self, VoteRow};
use crate::store::{
    CiPreview, CiSubmitted, CiToken, CommandTicket, CommandVote, PrGate, ReplyState, StoreError,
    StoreResult,
};

use crate::store::rows::{AuditRow, GateRow, audit_record as from_row, gate as decode_gate};

const AUDIT_COLUMNS: &str = "id, seq, time, kind, repo, pr, record, prev_hash, hash";

/// Locks the chain's head until the transaction ends and returns it.
pub(super) async fn lock_head(conn: &mut PgConnection) -> StoreResult<ChainHead> {
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT count, hash FROM audit_head WHERE id = 1 FOR UPDATE")
            .fetch_optional(&mut *conn)
            .await?;
    let Some((count, hash)) = head else {
        return Err(StoreError::Corrupt(
            "audit_head is missing: the audit trail was tampered with (run `iamgate audit --verify`)"
                .into(),
        ));
    };
    Ok(ChainHead { count, hash })
}

/// Appends `entry` after `head` (locked by [`lock_head`] in this transaction), keyed with `key`,
/// and returns the record; `head` becomes the new head.
pub(super) async fn append(
    conn: &mut PgConnection,
    head: &mut ChainHead,
    entry: &AuditEntry,
    key: &AuditKey,
) -> StoreResult<AuditRecord> {
    let mut record =
        chain::link(head, entry, key).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    record.id = sqlx::query_scalar(
        "INSERT INTO audit_log (seq, time, kind, repo, pr, record, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
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
    *head = ChainHead {
        count: record.seq,
        hash: record.hash.clone(),
    };
    Ok(record)
}

/// Claims `key` for a once-only audit entry: `false` when it was claimed before.
pub(super) async fn claim_once(conn: &mut PgConnection, key: &str, now: i64) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO audit_once (key, at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn audit_records(
    pool: &PgPool,
    filter: &AuditFilter,
) -> StoreResult<Vec<AuditRecord>> {
    let rows: Vec<AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log \
         WHERE ($1::text IS NULL OR lower(repo) = lower($1)) AND ($2::bigint IS NULL OR time >= $2) \
         ORDER BY id"
    )))
    .bind(filter.repo.as_ref().map(|repo| repo.as_str()))
    .bind(filter.since.map(|since| since.unix_millis()))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

pub(super) async fn vote_records(
    pool: &PgPool,
    repo: &str,
    pr: i64,
) -> StoreResult<Vec<AuditRecord>> {
    let rows: Vec<AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log \
         WHERE repo = $1 AND pr = $2 AND kind IN ('approval', 'withdrawal', 'override') \
         ORDER BY seq"
    )))
    .bind(repo)
    .bind(pr)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Every record and the head, from one snapshot (REPEATABLE READ, read only).
pub(super) async fn whole_chain(pool: &PgPool) -> StoreResult<AuditChain> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let rows: Vec<AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY id"
    )))
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

/// Inserts a vote unless one with the same source exists; `true` when inserted. See the
/// SQLite store's `votes::add`.
pub(super) async fn add_vote(
    conn: &mut PgConnection,
    pr_key: &str,
    vote: &CommandVote,
    mac_key: Option<&AuditKey>,
) -> StoreResult<bool> {
    let mac = mac_key.map(|key| (key.id(), backing::row_mac(key, pr_key, vote)));
    let user_id = match vote.user_id {
        None => None,
        Some(UserId(id)) => Some(
            i64::try_from(id)
                .map_err(|_| StoreError::Corrupt(format!("votes: user id {id} is too large")))?,
        ),
    };
    let done = sqlx::query(
        "INSERT INTO votes (pr_key, source, login, user_id, kind, head, reason, at, key_id, mac) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (pr_key, source) DO NOTHING",
    )
    .bind(pr_key)
    .bind(&vote.source)
    .bind(&vote.login)
    .bind(user_id)
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

pub(super) async fn back_with_record(
    conn: &mut PgConnection,
    pr_key: &str,
    source: &str,
    seq: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE votes SET audit_seq = $3 WHERE pr_key = $1 AND source = $2")
        .bind(pr_key)
        .bind(source)
        .bind(seq)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

const VOTE_ROWS: &str = "SELECT v.pr_key, v.source, v.login, v.user_id, v.kind, v.head, v.reason, v.at, \
     v.audit_seq, v.key_id, v.mac, \
     a.id, a.seq, a.time, a.kind, a.repo, a.pr, a.record, a.prev_hash, a.hash \
     FROM votes v LEFT JOIN audit_log a ON a.seq = v.audit_seq";

/// A PR's vote rows (or every row, by PR then age, when `pr_key` is `None`) with their backing.
pub(super) async fn vote_rows(pool: &PgPool, pr_key: Option<&str>) -> StoreResult<Vec<VoteRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{VOTE_ROWS} WHERE $1::text IS NULL OR v.pr_key = $1 ORDER BY v.pr_key, v.at, v.id"
    )))
    .bind(pr_key)
    .fetch_all(pool)
    .await?;
    rows.iter().map(crate::store::rows::vote_row).collect()
}

/// One statement, its arguments bound as text or integers in order.
pub(super) enum Arg<'a> {
    Text(&'a str),
    Int(i64),
}

/// Runs a one-row write (`INSERT ... ON CONFLICT`, `UPDATE`, `DELETE`) with `args` as `$1...`.
pub(super) async fn write(
    conn: &mut PgConnection,
    statement: &'static str,
    args: &[Arg<'_>],
) -> StoreResult<u64> {
    let mut query = sqlx::query(statement);
    for arg in args {
        query = match arg {
            Arg::Text(text) => query.bind(*text),
            Arg::Int(int) => query.bind(*int),
        };
    }
    Ok(query.execute(&mut *conn).await?.rows_affected())
}

pub(super) async fn add_author(
    conn: &mut PgConnection,
    pr_key: &str,
    login: &str,
    now: i64,
) -> StoreResult<()> {
    let login = login.to_ascii_lowercase();
    write(
        conn,
        "INSERT INTO pr_authors (pr_key, login, at) VALUES ($1, $2, $3) \
         ON CONFLICT (pr_key, login) DO NOTHING",
        &[Arg::Text(pr_key), Arg::Text(&login), Arg::Int(now)],
    )
    .await
    .map(drop)
}

pub(super) async fn fingerprints(
    pool: &PgPool,
    pr_key: &str,
) -> StoreResult<BTreeMap<String, String>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT head, fingerprint FROM head_fingerprints WHERE pr_key = $1")
            .bind(pr_key)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

pub(super) async fn authors(pool: &PgPool, pr_key: &str) -> StoreResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT login FROM pr_authors WHERE pr_key = $1 ORDER BY login")
            .bind(pr_key)
            .fetch_all(pool)
            .await?,
    )
}

pub(super) async fn head_seen_at(
    pool: &PgPool,
    pr_key: &str,
    at_ms: i64,
) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT head FROM pr_heads WHERE pr_key = $1 AND first_seen <= $2 \
         ORDER BY first_seen DESC, head LIMIT 1",
    )
    .bind(pr_key)
    .bind(at_ms)
    .fetch_optional(pool)
    .await?)
}

pub(super) async fn put_gate(conn: &mut PgConnection, gate: &PrGate, now: i64) -> StoreResult<()> {
    let pr = serde_json::to_string(&gate.pr)
        .map_err(|e| StoreError::Corrupt(format!("pr_gates: cannot encode the PR: {e}")))?;
    let (pr_key, repo_key) = (gate.pr.key(), gate.pr.repo_ref().key());
    write(
        conn,
        "INSERT INTO pr_gates (pr_key, repo_key, pr, sha, base, state, description, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (pr_key) DO UPDATE SET repo_key = excluded.repo_key, pr = excluded.pr, \
         sha = excluded.sha, base = excluded.base, state = excluded.state, \
         description = excluded.description, at = excluded.at",
        &[
            Arg::Text(&pr_key),
            Arg::Text(&repo_key),
            Arg::Text(&pr),
            Arg::Text(&gate.sha),
            Arg::Text(&gate.base),
            Arg::Text(&gate.state),
            Arg::Text(&gate.description),
            Arg::Int(now),
        ],
    )
    .await
    .map(drop)
}

pub(super) async fn gate_of(pool: &PgPool, pr: &PrRef) -> StoreResult<Option<PrGate>> {
    let row: Option<GateRow> =
        sqlx::query_as("SELECT pr, sha, base, state, description FROM pr_gates WHERE pr_key = $1")
            .bind(pr.key())
            .fetch_optional(pool)
            .await?;
    row.map(decode_gate).transpose()
}

pub(super) async fn gates_at(pool: &PgPool, repo: &RepoRef, sha: &str) -> StoreResult<Vec<PrGate>> {
    let rows: Vec<GateRow> = sqlx::query_as(
        "SELECT pr, sha, base, state, description FROM pr_gates \
         WHERE repo_key = $1 AND sha = $2 ORDER BY pr_key",
    )
    .bind(repo.key())
    .bind(sha)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(decode_gate).collect()
}

/// Stores a CI preview unless its token id was used before (the caller enqueues the jobs).
pub(super) async fn put_ci_preview(
    conn: &mut PgConnection,
    preview: &CiPreview,
    token: &CiToken,
    now: i64,
) -> StoreResult<CiSubmitted> {
    let fresh = write(
        conn,
        "INSERT INTO ci_token_ids (issuer, jti, expires_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (issuer, jti) DO NOTHING",
        &[
            Arg::Text(&token.issuer),
            Arg::Text(&token.jti),
            Arg::Int(token.keep_until_ms),
        ],
    )
    .await?
        == 1;
    if !fresh {
        return Ok(CiSubmitted::TokenReused);
    }
    sqlx::query(
        "INSERT INTO ci_previews (repo_key, commit_sha, stack, failed, body, source, received_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (repo_key, commit_sha, stack) DO UPDATE SET failed = excluded.failed, \
         body = excluded.body, source = excluded.source, received_ms = excluded.received_ms",
    )
    .bind(&preview.repo_key)
    .bind(&preview.commit)
    .bind(&preview.stack)
    .bind(i16::from(preview.failed))
    .bind(&preview.body)
    .bind(&preview.source)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(CiSubmitted::Stored)
}

pub(super) async fn ci_preview(
    pool: &PgPool,
    repo_key: &str,
    commit: &str,
    stack: &str,
) -> StoreResult<Option<CiPreview>> {
    let row: Option<(i16, Vec<u8>, String, i64)> = sqlx::query_as(
        "SELECT failed, body, source, received_ms FROM ci_previews \
         WHERE repo_key = $1 AND commit_sha = $2 AND stack = $3",
    )
    .bind(repo_key)
    .bind(commit)
    .bind(stack)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(failed, body, source, received_ms)| CiPreview {
        repo_key: repo_key.to_owned(),
        commit: commit.to_owned(),
        stack: stack.to_owned(),
        failed: failed != 0,
        body,
        source,
        received_ms,
    }))
}

/// The window of the command rate.
const TICKET_WINDOW_MS: i64 = 60_000;

/// A comment's command ticket: the stored one, else a new one decided under the lock of its
/// author in its repository (so that replicas deciding two of their comments at once count
/// each other).
pub(super) async fn ticket(
    conn: &mut PgConnection,
    comment_key: &str,
    repo_key: &str,
    author: &str,
    at: i64,
    per_minute: i64,
    now: i64,
) -> StoreResult<CommandTicket> {
    super::lock_key(conn, &format!("ticket:{repo_key}:{author}")).await?;
    let found: Option<(i16, i16, String)> =
        sqlx::query_as("SELECT admitted, told, reply FROM command_tickets WHERE comment_key = $1")
            .bind(comment_key)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some((admitted, told, reply)) = found {
        let reply = ReplyState::parse(&reply).ok_or_else(|| {
            StoreError::Corrupt(format!("command ticket {comment_key}: reply `{reply}`"))
        })?;
        return Ok(CommandTicket {
            admitted: admitted != 0,
            tell: told != 0,
            reply,
        });
    }
    let (admitted_recently, told_recently): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(admitted), 0)::bigint, COALESCE(SUM(told), 0)::bigint \
         FROM command_tickets WHERE repo_key = $1 AND author = $2 AND at > $3 - $4 AND at <= $3",
    )
    .bind(repo_key)
    .bind(author)
    .bind(at)
    .bind(TICKET_WINDOW_MS)
    .fetch_one(&mut *conn)
    .await?;
    let admitted = admitted_recently < per_minute;
    let told = !admitted && told_recently == 0;
    write(
        conn,
        "INSERT INTO command_tickets \
             (comment_key, repo_key, author, at, admitted, told, reply, created_at) \
         VALUES ($1, $2, $3, $4, $5::smallint, $6::smallint, 'none', $7)",
        &[
            Arg::Text(comment_key),
            Arg::Text(repo_key),
            Arg::Text(author),
            Arg::Int(at),
            Arg::Int(i64::from(admitted)),
            Arg::Int(i64::from(told)),
            Arg::Int(now),
        ],
    )
    .await?;
    Ok(CommandTicket {
        admitted,
        tell: told,
        reply: ReplyState::None,
    })
}
