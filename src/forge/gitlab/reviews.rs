//! The approvals of a merge request as the forge's own [`Review`]s: GitLab approvals are not
//! bound to a commit, one per user, deleted accounts left out, oldest first. Decides nothing
//! about who qualifies (that is `gate`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use reqwest::Method;
use serde_json::json;

use super::client::{GitLabClient, mr_path, sha_param};
use super::transport::{ApiRequest, parse_json};
use crate::event::{Actor, ActorKind, Login, PrRef, Sha, UserId};
use crate::forge::{ForgeErrorKind, ForgeResult, Review, ReviewId, ReviewState};
use crate::gate::GateState;

#[derive(Deserialize)]
struct ApprovalsJson {
    #[serde(default)]
    approved_by: Vec<ApprovalJson>,
}

#[derive(Deserialize)]
struct ApprovalJson {
    user: Option<ApproverJson>,
    #[serde(default)]
    approved_at: Option<String>,
}

#[derive(Deserialize)]
struct ApproverJson {
    id: u64,
    username: String,
    #[serde(default)]
    bot: bool,
}

/// GitLab's bot users (project and group access tokens, service accounts) say `bot: true`
/// where the API shows it; their usernames are `project_<id>_bot…` / `group_<id>_bot…`.
fn actor_kind(user: &ApproverJson) -> ActorKind {
    let token_bot = ["project_", "group_"].iter().any(|prefix| {
        user.username.strip_prefix(prefix).is_some_and(|rest| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0 && rest[digits..].starts_with("_bot")
        })
    });
    if user.bot || token_bot {
        ActorKind::Bot
    } else {
        ActorKind::User
    }
}

impl ApprovalJson {
    /// The approval as a review; `None` for a deleted account (GitLab's `ghost`).
    fn into_review(self) -> Option<Review> {
        let user = self.user?;
        if user.username == "ghost" {
            return None;
        }
        Some(Review {
            id: ReviewId(user.id),
            author: Actor {
                kind: actor_kind(&user),
                id: Some(UserId(user.id)),
                login: Login(user.username),
            },
            state: ReviewState::Approved,
            commit: None,
            submitted_at: self.approved_at.as_deref().and_then(parse_timestamp),
        })
    }
}

impl GitLabClient {
    /// The approvals of the merge request as [`ReviewState::Approved`] reviews, oldest first
    /// (approvals are not bound to a commit; GitLab drops them on push when the project says
    /// so). The review id is the approver's user id: one approval per user.
    pub(crate) async fn reviews(&self, pr: &PrRef) -> ForgeResult<Vec<Review>> {
        let request = ApiRequest::get(format!("{}/approvals", mr_path(pr)?));
        let response = self.call(&request, "reviews", true).await?;
        let approvals: ApprovalsJson = parse_json(&response, &request)?;
        // iamgate's own approval (`[gitlab] approve_merge_requests`) is its verdict, not a
        // review: it never counts for a requirement.
        let me = self.me().await?;
        let mut reviews: Vec<Review> = approvals
            .approved_by
            .into_iter()
            .filter(|a| a.user.as_ref().is_none_or(|u| u.id != me.id))
            .filter_map(ApprovalJson::into_review)
            .collect();
        reviews.sort_by_key(|r| r.submitted_at);
        Ok(reviews)
    }

    /// With `[gitlab] approve_merge_requests`: approves the merge request as the token's user
    /// while `verdict` on head `sha` is success (GitLab checks `sha` is still the head: 409
    /// otherwise, and the newer head's run decides), and withdraws that approval otherwise. An
    /// approval rule that requires the token's user (Premium) then blocks the merge whatever
    /// pipeline GitLab judges: forks whose CI runs in the fork, merged-results pipelines, merge
    /// trains. Approving twice is refused by GitLab, so the current approvals are read first.
    pub(crate) async fn sign_off(
        &self,
        pr: &PrRef,
        sha: &Sha,
        verdict: GateState,
    ) -> ForgeResult<()> {
        if !self.options().approve_merge_requests {
            return Ok(());
        }
        let me = self.me().await?;
        let request = ApiRequest::get(format!("{}/approvals", mr_path(pr)?));
        let response = self.call(&request, "reviews", true).await?;
        let approvals: ApprovalsJson = parse_json(&response, &request)?;
        let approved = approvals
            .approved_by
            .iter()
            .any(|a| a.user.as_ref().is_some_and(|u| u.id == me.id));
        let sha = sha_param(sha)?;
        match (verdict == GateState::Success, approved) {
            (true, false) => {
                let request = ApiRequest::with_body(
                    Method::POST,
                    format!("{}/approve", mr_path(pr)?),
                    json!({ "sha": sha }),
                );
                match self.call(&request, "approve", false).await {
                    Ok(_) => Ok(()),
                    // The head moved since: the newer head is decided on its own.
                    Err(error) if error.kind == ForgeErrorKind::Conflict => {
                        tracing::info!(repo = %pr.repo, mr = pr.number.0, sha, "the head moved before iamgate's approval: not approved");
                        Ok(())
                    }
                    Err(error) => Err(error),
                }
            }
            (false, true) => {
                let request = ApiRequest::with_body(
                    Method::POST,
                    format!("{}/unapprove", mr_path(pr)?),
                    json!({}),
                );
                match self.call(&request, "unapprove", false).await {
                    // Already withdrawn (GitLab removed approvals on push).
                    Ok(_) => Ok(()),
                    Err(error) if error.kind == ForgeErrorKind::NotFound => Ok(()),
                    Err(error) => Err(error),
                }
            }
            _ => Ok(()),
        }
    }
}

/// `2024-02-29T12:00:00.000Z` or `…+00:00`-style UTC timestamps; `None` for anything else.
pub(crate) fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (
        date_parts.next()??,
        date_parts.next()??,
        date_parts.next()??,
    );
    let time = time.split_once('.').map_or(time, |(whole, _)| whole);
    let mut time_parts = time.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (
        time_parts.next()??,
        time_parts.next()??,
        time_parts.next()??,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0..=60).contains(&second)
    {
        return None;
    }
    let days = crate::calendar::days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(seconds)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approver(username: &str, bot: bool) -> ApproverJson {
        ApproverJson {
            id: 1,
            username: username.to_owned(),
            bot,
        }
    }

    #[test]
    fn bots_are_told_apart() {
        assert_eq!(actor_kind(&approver("alice", false)), ActorKind::User);
        assert_eq!(actor_kind(&approver("helper", true)), ActorKind::Bot);
        assert_eq!(
            actor_kind(&approver("project_42_bot_3f2a", false)),
            ActorKind::Bot
        );
        assert_eq!(actor_kind(&approver("group_7_bot", false)), ActorKind::Bot);
        assert_eq!(
            actor_kind(&approver("project_x_bot", false)),
            ActorKind::User
        );
        assert_eq!(
            actor_kind(&approver("project_manager", false)),
            ActorKind::User
        );
    }

    #[test]
    fn approvals_become_approved_reviews_without_commit() {
        let approval = ApprovalJson {
            user: Some(approver("alice", false)),
            approved_at: Some("2024-02-29T12:00:00.000Z".to_owned()),
        };
        let review = approval.into_review().unwrap();
        assert_eq!(review.state, ReviewState::Approved);
        assert_eq!(review.commit, None);
        assert_eq!(review.author.login, Login::from("alice"));
        assert!(review.submitted_at.is_some());
        let ghost = ApprovalJson {
            user: Some(approver("ghost", false)),
            approved_at: None,
        };
        assert!(ghost.into_review().is_none());
    }

    #[test]
    fn timestamps_parse_as_utc() {
        let at =
            |s: &str| parse_timestamp(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(at("2024-02-29T12:00:00.000Z"), Some(1_709_208_000));
        assert_eq!(at("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        assert_eq!(at("2024-02-29T12:00:00.123+00:00"), Some(1_709_208_000));
        assert_eq!(at("2024-02-29T12:00:00+02:00"), None);
        assert_eq!(at("yesterday"), None);
    }
}
