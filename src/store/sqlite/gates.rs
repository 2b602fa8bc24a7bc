//! Each open pull request's own gate decision at its head (`pr_gates`), which the status of a
//! commit shared by several pull requests is combined from.

use sqlx::{SqliteConnection, SqlitePool};

use crate::event::{PrRef, RepoRef};
use crate::store::{PrGate, StoreError, StoreResult};

pub(super) async fn put(conn: &mut SqliteConnection, gate: &PrGate, now: i64) -> StoreResult<()> {
    let pr = serde_json::to_string(&gate.pr)
        .map_err(|e| StoreError::Corrupt(format!("pr_gates: cannot encode the PR: {e}")))?;
    sqlx::query(
        "INSERT INTO pr_gates (pr_key, repo_key, pr, sha, base, state, description, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (pr_key) DO UPDATE SET repo_key = excluded.repo_key, pr = excluded.pr, \
         sha = excluded.sha, base = excluded.base, state = excluded.state, \
         description = excluded.description, at = excluded.at",
    )
    .bind(gate.pr.key())
    .bind(gate.pr.repo_ref().key())
    .bind(pr)
    .bind(&gate.sha)
    .bind(&gate.base)
    .bind(&gate.state)
    .bind(&gate.description)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn forget(conn: &mut SqliteConnection, pr_key: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM pr_gates WHERE pr_key = ?1")
        .bind(pr_key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

use crate::store::rows::{GateRow as Row, gate as decode};

pub(super) async fn of_pr(readers: &SqlitePool, pr: &PrRef) -> StoreResult<Option<PrGate>> {
    let row: Option<Row> =
        sqlx::query_as("SELECT pr, sha, base, state, description FROM pr_gates WHERE pr_key = ?1")
            .bind(pr.key())
            .fetch_optional(readers)
            .await?;
    row.map(decode).transpose()
}

pub(super) async fn at(
    readers: &SqlitePool,
    repo: &RepoRef,
    sha: &str,
) -> StoreResult<Vec<PrGate>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT pr, sha, base, state, description FROM pr_gates \
         WHERE repo_key = ?1 AND sha = ?2 ORDER BY pr_key",
    )
    .bind(repo.key())
    .bind(sha)
    .fetch_all(readers)
    .await?;
    rows.into_iter().map(decode).collect()
}
