//! What approvals and commands ask of GitHub: the reviews of a pull request, team membership,
//! a user's permission on the repository, and reactions on comments. Decodes into the forge's
//! own types; decides nothing about who qualifies (that is `gate`).

use axum::http::Method;
use serde::Deserialize;
use serde_json::json;

use super::app::parse_json;
use super::auth::parse_timestamp;
use super::client::{GitHubClient, UserJson, encode_segment, plain_segment, repo_path};
use super::transport::ApiRequest;
use crate::event::{Actor, ActorKind, Login, PrRef, Sha, UserId};
use crate::forge::http::invalid;
use crate::forge::{
    CommentId, ForgeError, ForgeResult, Reaction, RepoPermission, RetryClass, Review, ReviewId,
    ReviewState,
};

#[derive(Deserialize)]
struct ReviewJson {
    id: u64,
    user: Option<UserJson>,
    state: String,
    #[serde(default)]
    commit_id: Option<String>,
    #[serde(default)]
    submitted_at: Option<String>,
}

#[derive(Deserialize)]
struct MembershipJson {
    state: String,
}

#[derive(Deserialize)]
struct PermissionJson {
    permission: String,
}

impl ReviewJson {
    /// The review in the forge's terms; `None` for drafts, unknown states and deleted authors.
    fn into_review(self) -> Option<Review> {
        let state = match ReviewState::parse(&self.state) {
            ReviewState::Pending => return None,
            ReviewState::Other(state) => {
                tracing::warn!(review = self.id, %state, "review in an unknown state, ignored");
                return None;
            }
            known => known,
        };
        let user = self.user?;
        let author = Actor {
            login: Login(user.login),
            kind: ActorKind::from_github(&user.kind),
            id: user.id.map(UserId),
        };
        Some(Review {
            id: ReviewId(self.id),
            author,
            state,
            commit: self.commit_id.filter(|c| !c.is_empty()).map(Sha),
            submitted_at: self.submitted_at.as_deref().and_then(parse_timestamp),
        })
    }
}

/// GitHub's reaction `content` for a reaction.
fn reaction_content(reaction: Reaction) -> &'static str {
    match reaction {
        Reaction::Eyes => "eyes",
        Reaction::PlusOne => "+1",
        Reaction::Confused => "confused",
    }
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
    pub(crate) async fn list_reviews(&self, pr: &PrRef) -> ForgeResult<Vec<Review>> {
        let first = format!(
            "{}/pulls/{}/reviews?per_page=100",
            repo_path(&pr.repo)?,
            pr.number.0
        );
        let (reviews, complete) = self.list_all::<ReviewJson>(first, "reviews").await?;
        if !complete {
            // A missing page could hide a request for changes: never decide on part of the list.
            return Err(ForgeError {
                operation: format!("GET {}/pulls/{}/reviews", repo_path(&pr.repo)?, pr.number.0),
                message: "too many reviews to list them all".to_owned(),
                retry: RetryClass::GiveUp,
                status: None,
            });
        }
        let mut reviews: Vec<Review> = reviews
            .into_iter()
            .filter_map(ReviewJson::into_review)
            .collect();
        // GitHub lists reviews oldest first; a stable sort keeps that order for equal times.
        reviews.sort_by_key(|r| r.submitted_at);
        Ok(reviews)
    }

    pub(crate) async fn team_membership(&self, team: &str, login: &Login) -> ForgeResult<bool> {
        let (org, slug) = team_segments(team)?;
        let request = ApiRequest::get(format!(
            "/orgs/{org}/teams/{slug}/memberships/{}",
            encode_segment(login.as_str())?
        ));
        match self.call(&request, "team_membership", true).await {
            Ok(response) => {
                let membership: MembershipJson = parse_json(&response, &request)?;
                Ok(membership.state.eq_ignore_ascii_case("active"))
            }
            // Not a member, or a team this installation cannot see: either way not a member.
            Err(error) if error.status == Some(404) => Ok(false),
            Err(error) => Err(error),
        }
    }

    pub(crate) async fn permission_of(
        &self,
        pr: &PrRef,
        login: &Login,
    ) -> ForgeResult<RepoPermission> {
        let request = ApiRequest::get(format!(
            "{}/collaborators/{}/permission",
            repo_path(&pr.repo)?,
            encode_segment(login.as_str())?
        ));
        match self.call(&request, "collaborator_permission", true).await {
            Ok(response) => {
                let level: PermissionJson = parse_json(&response, &request)?;
                permission_level(&level.permission).ok_or_else(|| ForgeError {
                    operation: request.operation(),
                    message: format!("unknown permission {:?}", level.permission),
                    retry: RetryClass::GiveUp,
                    status: Some(response.status),
                })
            }
            // No such user.
            Err(error) if error.status == Some(404) => Ok(RepoPermission::None),
            Err(error) => Err(error),
        }
    }

    pub(crate) async fn post_reaction(
        &self,
        pr: &PrRef,
        comment: CommentId,
        reaction: Reaction,
    ) -> ForgeResult<()> {
        let path = format!(
            "{}/issues/comments/{}/reactions",
            repo_path(&pr.repo)?,
            comment.0
        );
        let request = ApiRequest::with_body(
            Method::POST,
            path,
            json!({ "content": reaction_content(reaction) }),
        );
        // GitHub keeps one reaction per user, comment and content: posting it again answers 200
        // with the existing one, so a retry after an ambiguous failure cannot duplicate it.
        self.call(&request, "react", true).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(state: &str, user: Option<&str>) -> ReviewJson {
        ReviewJson {
            id: 1,
            user: user.map(|login| UserJson {
                login: login.to_owned(),
                id: None,
                kind: "User".to_owned(),
            }),
            state: state.to_owned(),
            commit_id: Some("abc".to_owned()),
            submitted_at: Some("2024-02-29T12:00:00Z".to_owned()),
        }
    }

    #[test]
    fn rest_states_map_to_review_states() {
        let state = |s: &str| review(s, Some("alice")).into_review().map(|r| r.state);
        assert_eq!(state("APPROVED"), Some(ReviewState::Approved));
        assert_eq!(
            state("CHANGES_REQUESTED"),
            Some(ReviewState::ChangesRequested)
        );
        assert_eq!(state("COMMENTED"), Some(ReviewState::Commented));
        assert_eq!(state("DISMISSED"), Some(ReviewState::Dismissed));
        assert_eq!(
            state("approved"),
            Some(ReviewState::Approved),
            "webhook case"
        );
        assert_eq!(state("PENDING"), None, "a draft is not a review yet");
        assert_eq!(state("SOMETHING_NEW"), None);
    }

    #[test]
    fn reviews_keep_commit_author_and_time() {
        let read = review("APPROVED", Some("alice")).into_review().unwrap();
        assert_eq!(read.author.login, Login::from("alice"));
        assert_eq!(read.author.kind, ActorKind::User);
        let bot = ReviewJson {
            user: Some(UserJson {
                id: None,
                login: "helper[bot]".to_owned(),
                kind: "Bot".to_owned(),
            }),
            ..review("APPROVED", None)
        };
        assert_eq!(bot.into_review().unwrap().author.kind, ActorKind::Bot);
        assert_eq!(read.commit, Some(Sha::from("abc")));
        assert_eq!(
            read.submitted_at.map(super::super::auth::epoch_seconds),
            Some(1_709_208_000)
        );
        assert!(
            review("APPROVED", None).into_review().is_none(),
            "a deleted account cannot qualify"
        );
        let no_commit = ReviewJson {
            commit_id: None,
            submitted_at: None,
            ..review("COMMENTED", Some("bob"))
        };
        let read = no_commit.into_review().unwrap();
        assert_eq!((read.commit, read.submitted_at), (None, None));
    }

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

    #[test]
    fn reactions_use_github_content_names() {
        assert_eq!(reaction_content(Reaction::Eyes), "eyes");
        assert_eq!(reaction_content(Reaction::PlusOne), "+1");
        assert_eq!(reaction_content(Reaction::Confused), "confused");
    }
}
