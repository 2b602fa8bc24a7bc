//! Answering a comment's commands once, and cheaply. The store keeps a ticket per comment
//! (decided when its commands first run): whether its author is within `[worker]
//! command_rate_per_minute` in the repository, and how far the reply got — `posting` is written
//! before the reply is posted and `posted` after. So a comment is known to be answered without
//! listing the pull request's comments, and the forge is asked only when the store cannot know:
//! a post that may have landed (`posting`), or a retried job. A comment over the rate gets one
//! short reply (the first of its author's in a minute; the others none), no reaction and no other
//! forge call, and its refusal is audited once.

use tracing::{info, warn};

use super::{Said, now};
use crate::audit::{AuditEntry, AuditEvent};
use crate::engine::report::escape;
use crate::event::{CommentId, PrRef};
use crate::forge::Forge;
use crate::jobs::ctx::JobCtx;
use crate::queue::JobFailure;
use crate::store::{NewTicket, ReplyState};

/// The hidden line that marks iamgate's reply to comment `id`.
pub fn reply_marker(id: CommentId) -> String {
    format!("<!-- iamgate:reply:{id} -->")
}

/// Whether a comment's commands are to run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    Run,
    /// Answered already, or over its author's rate (and answered as such, if at all).
    Skip,
}

/// Decides whether the commands of `said` run: not when the comment was answered before, nor
/// when its author is over the command rate (the first such comment of a minute is told so).
pub(super) async fn admit(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    said: &Said<'_>,
    attempt: u32,
) -> Result<Admission, JobFailure> {
    let ticket = NewTicket {
        pr: pr_ref,
        comment: said.id,
        author: said.author.login.as_str(),
        at_ms: said.created_ms.unwrap_or_else(|| now().unix_millis()),
    };
    let ticket = ctx
        .store
        .command_ticket(&ticket, ctx.settings.command_rate)
        .await?;
    let unsure =
        ticket.reply == ReplyState::Posting || (ticket.reply == ReplyState::None && attempt > 1);
    if ticket.reply == ReplyState::Posted
        || (unsure && answered_on_forge(ctx, forge, pr_ref, said.id).await?)
    {
        info!(pr = %pr_ref, comment = %said.id, "commands already answered");
        return Ok(Admission::Skip);
    }
    if ticket.admitted {
        return Ok(Admission::Run);
    }
    metrics::counter!("iamgate_commands_rate_limited_total").increment(1);
    warn!(pr = %pr_ref, comment = %said.id, author = %said.author.login, told = ticket.tell,
        "commands over the author's rate: not run");
    if ticket.tell {
        let per_minute = ctx.settings.command_rate.per_minute;
        let why = format!(
            "You gave iamgate commands in more than {per_minute} comments in this repository within a minute, so \
             the commands of this comment were not run, and comments with commands in the next minute get no \
             answer. Wait a minute, then comment again."
        );
        let key = format!("refusal:{}:{}:rate", pr_ref.key(), said.id);
        let refused = AuditEvent::CommandRefused {
            command: "/iamgate".to_owned(),
            reason: why.clone(),
        };
        let entry = AuditEntry::by(now(), pr_ref, said.author.login.clone(), refused);
        ctx.store.append_audit_once(&key, entry).await?;
        let body = format!("{}\n{why}\n", reply_marker(said.id));
        // Quotes nothing of the comment: public even for an internal note.
        post(ctx, forge, pr_ref, said.id, &body, false).await?;
    }
    Ok(Admission::Skip)
}

/// Whether iamgate's reply to `comment` is on the forge (a listing of the pull request's
/// comments); when it is, the store learns it.
async fn answered_on_forge(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    comment: CommentId,
) -> Result<bool, JobFailure> {
    let found = forge
        .find_own_comment(pr_ref, &reply_marker(comment))
        .await?
        .is_some();
    if found {
        ctx.store
            .set_command_reply(pr_ref, comment, ReplyState::Posted)
            .await?;
    }
    Ok(found)
}

/// Posts the reply to `comment`, recording before that it is being posted and after that it was.
pub(super) async fn post(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    comment: CommentId,
    body: &str,
    internal: bool,
) -> Result<(), JobFailure> {
    ctx.store
        .set_command_reply(pr_ref, comment, ReplyState::Posting)
        .await?;
    if !internal {
        forge.create_comment(pr_ref, body).await?;
    } else if forge.create_internal_comment(pr_ref, body).await?.is_none() {
        tracing::warn!(pr = %pr_ref, %comment, "no internal reply possible on this forge");
    }
    ctx.store
        .set_command_reply(pr_ref, comment, ReplyState::Posted)
        .await?;
    Ok(())
}

/// The longest part of a give-up reason quoted in a reply.
const MAX_REASON: usize = 300;

/// Tells the author of `comment` that its commands could not be processed (the queue gave the
/// job up for `reason`) and to comment again, unless a reply is already there.
pub async fn gave_up(
    ctx: &JobCtx,
    pr_ref: &PrRef,
    comment: CommentId,
    reason: &str,
) -> Result<(), JobFailure> {
    let forge = ctx.forges.forge(&pr_ref.repo_ref()).await?;
    if answered_on_forge(ctx, forge.as_ref(), pr_ref, comment).await? {
        info!(pr = %pr_ref, %comment, "the given-up commands were answered: nothing more to tell");
        return Ok(());
    }
    let body = format!(
        "{}\niamgate could not process the commands of this comment: it gave up after repeated failures \
         ({}). Anything they recorded shows in iamgate's report; comment the commands again to retry.\n",
        reply_marker(comment),
        escape::text(&escape::clip(reason, MAX_REASON))
    );
    post(ctx, forge.as_ref(), pr_ref, comment, &body, false).await
}
