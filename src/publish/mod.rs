//! Publishing to the forge: the one comment per pull request (found by its marker, created once,
//! then edited), the `iamgate` status, and review requests (once per change fingerprint).

use tracing::info;

use crate::engine::report::markdown::{MARKER, Requirement};
use crate::event::{Login, PrRef, Sha};
use crate::forge::{CommentId, CommitStatus, Forge, PullRequest};
use crate::gate::Decision;
use crate::jobs::JobCtx;
use crate::queue::JobFailure;

/// The comment budget: the forge's limit with room for escaping that counts double (a zero-width
/// joiner is one character but three bytes).
pub fn comment_budget(forge: &dyn Forge) -> usize {
    forge.comment_limit().saturating_sub(1_000)
}

/// iamgate's comment on the PR, if there is one: the remembered id, else a search by marker.
pub async fn existing_comment(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr: &PrRef,
) -> Result<Option<CommentId>, JobFailure> {
    let state = ctx.store.pr_state(pr).await?;
    if let Some(id) = state.comment_id {
        return Ok(Some(CommentId(id)));
    }
    Ok(forge.find_own_comment(pr, MARKER).await?)
}

/// Creates the comment once, then edits it. The id is remembered so the next run edits directly;
/// a failed create is never blindly repeated (the client re-checks by marker first).
pub async fn upsert_comment(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr: &PrRef,
    body: &str,
) -> Result<(), JobFailure> {
    let mut state = ctx.store.pr_state(pr).await?;
    if let Some(id) = state.comment_id {
        match forge.update_comment(pr, CommentId(id), body).await {
            Ok(()) => return Ok(()),
            // The comment was deleted by someone: fall through and find or create it again.
            Err(e) if e.status == Some(404) => {
                info!(pr = %pr, "remembered comment is gone; recreating")
            }
            Err(e) => return Err(e.into()),
        }
    }
    let id = match forge.find_own_comment(pr, MARKER).await? {
        Some(id) => {
            forge.update_comment(pr, id, body).await?;
            id
        }
        None => forge.create_comment(pr, body).await?,
    };
    state.comment_id = Some(id.0);
    ctx.store.put_pr_state(pr, &state).await?;
    Ok(())
}

/// Sets the `iamgate` status on the head commit.
pub async fn status(
    forge: &dyn Forge,
    pr: &PrRef,
    sha: &Sha,
    decision: &Decision,
) -> Result<(), JobFailure> {
    let status = CommitStatus {
        state: decision.state,
        description: decision.description.clone(),
        target_url: None,
    };
    forge.set_status(pr, sha, &status).await?;
    info!(pr = %pr, sha = %sha, state = decision.state.as_str(), "status set");
    Ok(())
}

/// Asks the required teams and users to review, once per change fingerprint, never the author.
pub async fn request_reviews_once(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    pr: &PullRequest,
    requirements: &[Requirement],
    fingerprint: &str,
) -> Result<(), JobFailure> {
    let missing: Vec<&Requirement> = requirements.iter().filter(|r| r.missing() > 0).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut state = ctx.store.pr_state(pr_ref).await?;
    if state.review_requested_for.as_deref() == Some(fingerprint) {
        return Ok(());
    }
    let mut users: Vec<Login> = Vec::new();
    let mut teams: Vec<String> = Vec::new();
    for r in missing {
        for who in &r.from {
            match who {
                crate::engine::report::markdown::Reviewer::User(u) if u != pr.author.as_str() => {
                    users.push(Login(u.clone()))
                }
                crate::engine::report::markdown::Reviewer::Team(t) => teams.push(t.clone()),
                crate::engine::report::markdown::Reviewer::User(_) => {}
            }
        }
    }
    users.sort();
    users.dedup();
    teams.sort();
    teams.dedup();
    if !users.is_empty() || !teams.is_empty() {
        forge.request_reviewers(pr_ref, &users, &teams).await?;
    }
    state.review_requested_for = Some(fingerprint.to_owned());
    ctx.store.put_pr_state(pr_ref, &state).await?;
    Ok(())
}
