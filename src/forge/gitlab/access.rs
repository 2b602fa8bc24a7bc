//! What approvals and commands ask of GitLab: the approvals of a merge request (as reviews),
//! group membership (a "team" is a group full path) and a user's access level on the project.
//! Decides nothing about who qualifies (that is `gate`).

use serde::Deserialize;

use super::client::{GitLabClient, encode_full_path, mr_path, parse_json, project_path};
use super::transport::{ApiRequest, parse_timestamp};
use crate::event::{Actor, ActorKind, Login, PrRef, UserId, UserRef};
use crate::forge::{ForgeResult, RepoPermission, Review, ReviewId, ReviewState};

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

#[derive(Deserialize)]
struct MemberJson {
    access_level: u32,
    /// The user's state: `active`, `blocked`, `deactivated`, ...
    #[serde(default)]
    state: Option<String>,
    /// The membership's state: `active`, or `awaiting` (a seat not yet approved).
    #[serde(default)]
    membership_state: Option<String>,
}

impl MemberJson {
    fn is_active(&self) -> bool {
        let active = |s: &Option<String>| s.as_deref().is_none_or(|s| s == "active");
        active(&self.state) && active(&self.membership_state)
    }
}

/// Guest (10), planner (15) and reporter (20) read; developer (30) and maintainer (40) write;
/// owner (50) and above admin; no access (0) and minimal access (5) nothing.
pub(crate) fn permission_level(access_level: u32) -> RepoPermission {
    match access_level {
        0..=9 => RepoPermission::None,
        10..=29 => RepoPermission::Read,
        30..=49 => RepoPermission::Write,
        _ => RepoPermission::Admin,
    }
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
    pub(crate) async fn list_approvals(&self, pr: &PrRef) -> ForgeResult<Vec<Review>> {
        let request = ApiRequest::get(format!("{}/approvals", mr_path(pr)?));
        let response = self.call(&request, "reviews", true).await?;
        let approvals: ApprovalsJson = parse_json(&response, &request)?;
        let mut reviews: Vec<Review> = approvals
            .approved_by
            .into_iter()
            .filter_map(ApprovalJson::into_review)
            .collect();
        reviews.sort_by_key(|r| r.submitted_at);
        Ok(reviews)
    }

    /// The id of `user`: the one the event gave, else looked up by login (older payloads carry
    /// no id); `None` when no account has that login.
    async fn id_of(&self, user: UserRef<'_>) -> ForgeResult<Option<UserId>> {
        match user.id {
            Some(id) => Ok(Some(id)),
            None => Ok(self.user_id(user.login).await?.map(UserId)),
        }
    }

    /// Whether `user` is an active member of group `group` (inherited memberships included).
    pub(crate) async fn group_membership(
        &self,
        group: &str,
        user: UserRef<'_>,
    ) -> ForgeResult<bool> {
        let group = encode_full_path("group", group)?;
        let Some(user) = self.id_of(user).await? else {
            return Ok(false);
        };
        let request = ApiRequest::get(format!("/groups/{group}/members/all/{user}"));
        match self.call(&request, "team_membership", true).await {
            Ok(response) => {
                let member: MemberJson = parse_json(&response, &request)?;
                Ok(member.is_active()
                    && permission_level(member.access_level) > RepoPermission::None)
            }
            // Not a member, or a group this token cannot see: either way not a member.
            Err(error) if error.status == Some(404) => Ok(false),
            Err(error) => Err(error),
        }
    }

    pub(crate) async fn project_permission(
        &self,
        pr: &PrRef,
        user: UserRef<'_>,
    ) -> ForgeResult<RepoPermission> {
        let project = project_path(pr)?;
        let Some(user) = self.id_of(user).await? else {
            return Ok(RepoPermission::None);
        };
        let request = ApiRequest::get(format!("{project}/members/all/{user}"));
        match self.call(&request, "collaborator_permission", true).await {
            Ok(response) => {
                let member: MemberJson = parse_json(&response, &request)?;
                if member.is_active() {
                    Ok(permission_level(member.access_level))
                } else {
                    Ok(RepoPermission::None)
                }
            }
            Err(error) if error.status == Some(404) => Ok(RepoPermission::None),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_levels_map_to_permissions() {
        assert_eq!(permission_level(0), RepoPermission::None);
        assert_eq!(permission_level(5), RepoPermission::None);
        assert_eq!(permission_level(10), RepoPermission::Read);
        assert_eq!(permission_level(15), RepoPermission::Read);
        assert_eq!(permission_level(20), RepoPermission::Read);
        assert_eq!(permission_level(30), RepoPermission::Write);
        assert_eq!(permission_level(40), RepoPermission::Write);
        assert_eq!(permission_level(50), RepoPermission::Admin);
        assert_eq!(permission_level(60), RepoPermission::Admin);
    }

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
    fn blocked_users_and_awaiting_seats_are_not_active() {
        let member = |state: Option<&str>, membership: Option<&str>| MemberJson {
            access_level: 30,
            state: state.map(str::to_owned),
            membership_state: membership.map(str::to_owned),
        };
        assert!(member(Some("active"), Some("active")).is_active());
        assert!(member(None, None).is_active());
        assert!(!member(Some("blocked"), Some("active")).is_active());
        assert!(!member(Some("active"), Some("awaiting")).is_active());
    }
}
