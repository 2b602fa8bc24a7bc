//! Who may do what on GitLab, as approvals and commands ask it: whether a user is an active,
//! direct member of a group at Developer level or above (a "team" is a group full path), and a
//! user's access level on the project, both asked by user id (looked up by login when the event
//! carried none). Decides nothing about who qualifies (that is `gate`).

use serde::Deserialize;

use super::TeamMembership;
use super::client::{GitLabClient, encode_full_path, project_path};
use super::transport::{ApiRequest, encode_component, parse_json};
use crate::event::{Login, PrRef, UserId, UserRef};
use crate::forge::{ForgeError, ForgeErrorKind, ForgeResult, RepoPermission};

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

/// GitLab's Developer access level: the least a group member needs to count as a member of a
/// "team" (a Guest or Reporter of the security group is not on the security team).
const DEVELOPER: u32 = 30;

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

/// Why a group GitLab answers 404 for cannot be asked about, and what to check.
fn group_not_shown(group: &str) -> String {
    format!(
        "GitLab shows no group {group} to iamgate's token: the group does not exist (check its full path in \
         .iamgate.yml, e.g. acme/security) or the token's user cannot see it (a private group shows itself \
         and its members only to its members); until then nobody's membership of it can be checked."
    )
}

/// `acme%2Fsecurity` back to `acme/security`, for messages.
fn decode_path(encoded: &str) -> String {
    encoded.replace("%2F", "/")
}

impl GitLabClient {
    /// The id of the user named `login`, `None` when there is none.
    pub(crate) async fn user_id(&self, login: &Login) -> ForgeResult<Option<u64>> {
        #[derive(Deserialize)]
        struct UserJson {
            id: u64,
            username: String,
        }
        let request = ApiRequest::get(format!(
            "/users?username={}",
            encode_component(login.as_str())
        ));
        let response = self.call(&request, "user_lookup", true).await?;
        let users: Vec<UserJson> = parse_json(&response, &request)?;
        Ok(users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(login.as_str()))
            .map(|u| u.id))
    }

    /// The id of `user`: the one the event gave, else looked up by login (older payloads carry
    /// no id); `None` when no account has that login.
    async fn id_of(&self, user: UserRef<'_>) -> ForgeResult<Option<UserId>> {
        match user.id {
            Some(id) => Ok(Some(id)),
            None => Ok(self.user_id(user.login).await?.map(UserId)),
        }
    }

    /// Whether `user` is an active member of group `group` at Developer level or above: a direct
    /// member by default. Members inherited from parent groups or through a group invited into
    /// this one count only with `[gitlab] team_membership = "inherited"`: otherwise
    /// `from.teams: [acme/security]` would be met by everyone in `acme`. A Guest never counts.
    pub(crate) async fn is_team_member(
        &self,
        _pr: &PrRef,
        group: &str,
        user: UserRef<'_>,
    ) -> ForgeResult<bool> {
        let group = encode_full_path("group", group)?;
        let Some(user) = self.id_of(user).await? else {
            return Ok(false);
        };
        let route = match self.options().team_membership {
            TeamMembership::Direct => "members",
            TeamMembership::Inherited => "members/all",
        };
        let request = ApiRequest::get(format!("/groups/{group}/{route}/{user}"));
        match self.call(&request, "team_membership", true).await {
            Ok(response) => {
                let member: MemberJson = parse_json(&response, &request)?;
                Ok(member.is_active() && member.access_level >= DEVELOPER)
            }
            // Not a member, or a group this token cannot see: GitLab answers 404 for both, so
            // the group itself is asked for. A group not shown is an error naming it (a
            // misconfigured team must not read as "nobody qualifies").
            Err(error) if error.kind == ForgeErrorKind::NotFound => {
                let shown = ApiRequest::get(format!("/groups/{group}?with_projects=false"));
                match self.call(&shown, "team", true).await {
                    Ok(_) => Ok(false),
                    Err(error) if error.kind == ForgeErrorKind::NotFound => Err(ForgeError {
                        message: group_not_shown(&decode_path(&group)),
                        ..error
                    }),
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    pub(crate) async fn collaborator_permission(
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
            Err(error) if error.kind == ForgeErrorKind::NotFound => Ok(RepoPermission::None),
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
