//! Command tickets (`command_tickets`): one per comment whose commands ran, decided when they
//! first ran — whether its author was within the command rate, whether it is the one comment
//! over the rate in its window that is told so — and how far iamgate's reply to it got. Write
//! operations run on the writer's connection inside its batch transaction.

use sqlx::SqliteConnection;

use crate::store::{CommandTicket, ReplyState, StoreError, StoreResult};

/// The rate's window: a minute, by when the comments were made.
const WINDOW_MS: i64 = 60_000;

/// A ticket to issue, keyed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TicketRow {
    /// `PrRef::key()` `:` the comment id.
    pub comment_key: String,
    pub repo_key: String,
    /// The author's login, lower case.
    pub author: String,
    /// When the comment was made, Unix milliseconds.
    pub at: i64,
}

type Stored = (i64, i64, String);

/// The comment's ticket: the stored one, else a new one, admitted when its author has fewer than
/// `per_minute` admitted comments in the repository made within the minute up to this one's
/// time, and told when it is not admitted and none of the author's comments of that minute was
/// told yet.
pub(super) async fn issue(
    conn: &mut SqliteConnection,
    row: &TicketRow,
    per_minute: i64,
    now: i64,
) -> StoreResult<CommandTicket> {
    let found: Option<Stored> =
        sqlx::query_as("SELECT admitted, told, reply FROM command_tickets WHERE comment_key = ?1")
            .bind(&row.comment_key)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(stored) = found {
        return ticket(&row.comment_key, stored);
    }
    let (admitted_recently, told_recently): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(admitted), 0), COALESCE(SUM(told), 0) FROM command_tickets \
         WHERE repo_key = ?1 AND author = ?2 AND at > ?3 - ?4 AND at <= ?3",
    )
    .bind(&row.repo_key)
    .bind(&row.author)
    .bind(row.at)
    .bind(WINDOW_MS)
    .fetch_one(&mut *conn)
    .await?;
    let admitted = admitted_recently < per_minute;
    let told = !admitted && told_recently == 0;
    sqlx::query(
        "INSERT INTO command_tickets \
             (comment_key, repo_key, author, at, admitted, told, reply, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'none', ?7)",
    )
    .bind(&row.comment_key)
    .bind(&row.repo_key)
    .bind(&row.author)
    .bind(row.at)
    .bind(i64::from(admitted))
    .bind(i64::from(told))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(CommandTicket {
        admitted,
        tell: told,
        reply: ReplyState::None,
    })
}

fn ticket(key: &str, (admitted, told, reply): Stored) -> StoreResult<CommandTicket> {
    let reply = ReplyState::parse(&reply)
        .ok_or_else(|| StoreError::Corrupt(format!("command ticket {key}: reply `{reply}`")))?;
    Ok(CommandTicket {
        admitted: admitted != 0,
        tell: told != 0,
        reply,
    })
}

/// Records how far the reply to a comment got (nothing when the comment has no ticket).
pub(super) async fn set_reply(
    conn: &mut SqliteConnection,
    comment_key: &str,
    state: ReplyState,
) -> StoreResult<()> {
    sqlx::query("UPDATE command_tickets SET reply = ?2 WHERE comment_key = ?1")
        .bind(comment_key)
        .bind(state.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes up to `limit` tickets issued before `before`.
pub(super) async fn prune(
    conn: &mut SqliteConnection,
    before: i64,
    limit: i64,
) -> StoreResult<u64> {
    Ok(sqlx::query(
        "DELETE FROM command_tickets WHERE comment_key IN \
         (SELECT comment_key FROM command_tickets WHERE created_at < ?1 LIMIT ?2)",
    )
    .bind(before)
    .bind(limit)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
