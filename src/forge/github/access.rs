//! Who may do what on GitHub, as approvals and commands ask it: whether a user is an active
//! member of a team (`org/slug`), and a user's permission on the repository. GitHub's
//! endpoints take the login (the event's, current when it was delivered). Decides nothing
//! about who qualifies (that is `gate`).

use serde::Deserialize;

use super::client::{GitHubClient, encode_segment, plain_segment, repo_path};
use super::transport::{ApiRequest, parse_json};
use crate::event::{PrRef, UserRef};
use crate::forge::http::invalid;
use crate::forge::{ForgeError, ForgeErrorKind, ForgeResult, RepoPermission, RetryClass};

#[derive(Deserialize)]
struct MembershipJson {
    state: String,
}

#[derive(Deserialize)]
struct PermissionJson {
    permission: String,
}

/// GitHub's `permission` field (`admin`, `write`, `read`, `none`; older servers and `role_name`
/// also say `maintain` and `triage`).
fn permission_level(permission: &str) -> Option<RepoPermission> {
    match permission.to_ascii_lowercase().as_str() {
        "admin" => Some(RepoPermission::Admin),
        "maintain" | "write" => Some(RepoPermission::Write),
        "triage" | "read" => Some(RepoPermission::Read),
        "none" => Some(RepoPermission::None),
        _ => None,
    }
}

/// `org/slug` as the two path segments of the memberships endpoint.
fn team_segments(team: &str) -> ForgeResult<(&str, &str)> {
    match team.split_once('/') {
        Some((org, slug)) if plain_segment(org) && plain_segment(slug) => Ok((org, slug)),
        _ => Err(invalid(
            "address the team",
            &format!("not an org/slug team: {team:?}"),
        )),
    }
}

impl GitHubClient {
    /// Whether `user` is an active member of `team` (`org/slug`). GitHub answers 404 both for a
    /// user who is not a member and for a team it does not show this installation (no such
    /// team, another organization, or one the App may not see), so a 404 is followed by asking
    /// for the team itself: shown, the user is not a member (`false`); not shown, the team is
    /// an error naming it, so that a misconfigured team is not read as "nobody qualifies".
    ///
    /// What this rests on, from GitHub's REST documentation: "Get team membership for a user"
    /// (`GET /orgs/{org}/teams/{team_slug}/memberships/{username}`) and "Get a team by name"
    /// (`GET /orgs/{org}/teams/{team_slug}`) both work with GitHub App installation access
    /// tokens and both need the organization permission "Members" (read); the first answers 404
    /// "if user has no team membership" and needs the team to be visible to the caller, the
    /// second answers 404 "Resource not found". Asking for the team takes no permission the
    /// membership question does not already need.
    pub(crate) async fn is_team_member(
        &self,
        _pr: &PrRef,
        team: &str,
        user: UserRef<'_>,
    ) -> ForgeResult<bool> {
        let (org, slug) = team_segments(team)?;
        let request = ApiRequest::get(format!(
            "/orgs/{org}/teams/{slug}/memberships/{}",
            encode_segment(user.login.as_str())?
        ));
        match self.call(&request, "team_membership", true).await {
            Ok(response) => {
                let membership: MembershipJson = parse_json(&response, &request)?;
                Ok(membership.state.eq_ignore_ascii_case("active"))
            }
            Err(error) if error.kind == ForgeErrorKind::NotFound => {
                self.ensure_team_shown(org, slug).await.map(|()| false)
            }
            Err(error) => Err(error),
        }
    }

    /// `Ok` when GitHub shows team `org/slug` to this installation; a `NotFound` error saying
    /// what to check when it does not.
    async fn ensure_team_shown(&self, org: &str, slug: &str) -> ForgeResult<()> {
        let request = ApiRequest::get(format!("/orgs/{org}/teams/{slug}"));
        match self.call(&request, "team", true).await {
            Ok(_) => Ok(()),
            Err(error) if error.kind == ForgeErrorKind::NotFound => Err(ForgeError {
                message: team_not_shown(org, slug),
                ..error
            }),
            Err(error) => Err(error),
        }
    }

    pub(crate) async fn collaborator_permission(
        &self,
        pr: &PrRef,
        user: UserRef<'_>,
    ) -> ForgeResult<RepoPermission> {
        let request = ApiRequest::get(format!(
            "{}/collaborators/{}/permission",
            repo_path(&pr.repo)?,
            encode_segment(user.login.as_str())?
        ));
        match self.call(&request, "collaborator_permission", true).await {
            Ok(response) => {
                let level: PermissionJson = parse_json(&response, &request)?;
                permission_level(&level.permission).ok_or_else(|| ForgeError {
                    operation: request.operation(),
                    message: format!("unknown permission {:?}", level.permission),
                    kind: ForgeErrorKind::InvalidResponse,
                    retry: RetryClass::GiveUp,
                    status: Some(response.status),
                })
            }
            // No such user.
            Err(error) if error.kind == ForgeErrorKind::NotFound => Ok(RepoPermission::None),
            Err(error) => Err(error),
        }
    }
}

/// Why a team GitHub answers 404 for cannot be asked about, and what to check.
fn team_not_shown(org: &str, slug: &str) -> String {
    format!(
        "GitHub shows no team {org}/{slug} to the iamgate App: the team does not exist (check \
         its org/slug in .iamgate.yml, slug as in the team's URL), or the App cannot see it. \
         The App needs the organization permission \"Members: read\" and to be installed on \
         the organization {org}; until then nobody's membership of the team can be checked."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_map_to_levels() {
        assert_eq!(permission_level("admin"), Some(RepoPermission::Admin));
        assert_eq!(permission_level("maintain"), Some(RepoPermission::Write));
        assert_eq!(permission_level("write"), Some(RepoPermission::Write));
        assert_eq!(permission_level("triage"), Some(RepoPermission::Read));
        assert_eq!(permission_level("read"), Some(RepoPermission::Read));
        assert_eq!(permission_level("none"), Some(RepoPermission::None));
        assert_eq!(permission_level("owner"), None);
        assert!(RepoPermission::Admin > RepoPermission::Write);
        assert!(RepoPermission::Read > RepoPermission::None);
    }

    #[test]
    fn a_team_not_shown_is_named_with_what_to_check() {
        let message = team_not_shown("acme", "ghosts");
        for needed in [
            "acme/ghosts",
            "does not exist",
            "cannot see it",
            "\"Members: read\"",
            "organization acme",
        ] {
            assert!(message.contains(needed), "{needed:?} missing: {message}");
        }
    }

    #[test]
    fn teams_must_be_org_slash_slug() {
        assert_eq!(
            team_segments("acme/security").unwrap(),
            ("acme", "security")
        );
        for bad in [
            "security",
            "acme/",
            "/security",
            "acme/sec/urity",
            "acme/../x",
            "a b/c",
        ] {
            assert!(team_segments(bad).is_err(), "{bad}");
        }
    }
}
