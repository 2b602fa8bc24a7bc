//! Previews submitted by CI jobs and the ids of the tokens they came with (`ci_previews`,
//! `ci_token_ids`).

use sqlx::{SqliteConnection, SqlitePool};

use super::ops;
use crate::store::rows::JobRow;
use crate::store::{CiPreview, CiSubmitted, CiToken, StoreResult};

/// Records the token id; when it is new, stores (or replaces) the preview and enqueues `jobs`.
pub(super) async fn put(
    conn: &mut SqliteConnection,
    preview: &CiPreview,
    token: &CiToken,
    jobs: &[JobRow],
    now: i64,
) -> StoreResult<CiSubmitted> {
    let fresh = sqlx::query(
        "INSERT INTO ci_token_ids (issuer, jti, expires_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (issuer, jti) DO NOTHING",
    )
    .bind(&token.issuer)
    .bind(&token.jti)
    .bind(token.keep_until_ms)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(CiSubmitted::TokenReused);
    }
    sqlx::query(
        "INSERT INTO ci_previews (repo_key, commit_sha, stack, failed, body, source, received_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (repo_key, commit_sha, stack) DO UPDATE SET failed = excluded.failed, \
         body = excluded.body, source = excluded.source, received_ms = excluded.received_ms",
    )
    .bind(&preview.repo_key)
    .bind(&preview.commit)
    .bind(&preview.stack)
    .bind(i64::from(preview.failed))
    .bind(&preview.body)
    .bind(&preview.source)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for job in jobs {
        ops::enqueue(conn, job, now).await?;
    }
    Ok(CiSubmitted::Stored)
}

/// The newest preview of `stack` at `commit`.
pub(super) async fn get(
    readers: &SqlitePool,
    repo_key: &str,
    commit: &str,
    stack: &str,
) -> StoreResult<Option<CiPreview>> {
    let row: Option<(i64, Vec<u8>, String, i64)> = sqlx::query_as(
        "SELECT failed, body, source, received_ms FROM ci_previews \
         WHERE repo_key = ?1 AND commit_sha = ?2 AND stack = ?3",
    )
    .bind(repo_key)
    .bind(commit)
    .bind(stack)
    .fetch_optional(readers)
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

/// Deletes token ids past their keeping time and previews received before `before`.
pub(super) async fn prune(
    conn: &mut SqliteConnection,
    before: i64,
    now: i64,
    limit: i64,
) -> StoreResult<u64> {
    let tokens = sqlx::query(
        "DELETE FROM ci_token_ids WHERE rowid IN (SELECT rowid FROM ci_token_ids \
         WHERE expires_ms < ?1 LIMIT ?2)",
    )
    .bind(now)
    .bind(limit)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let previews = sqlx::query(
        "DELETE FROM ci_previews WHERE rowid IN (SELECT rowid FROM ci_previews \
         WHERE received_ms < ?1 LIMIT ?2)",
    )
    .bind(before)
    .bind(limit)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(tokens + previews)
}
