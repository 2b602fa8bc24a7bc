//! The reviews of a pull request on GitHub, decoded into the forge's own [`Review`]: drafts,
//! unknown states and deleted authors left out, oldest first, never a partial list. Decides
//! nothing about who qualifies (that is `gate`).

use serde::Deserialize;

use super::auth::parse_timestamp;
use super::client::{GitHubClient, UserJson, repo_path};
use crate::event::{Actor, ActorKind, Login, PrRef, Sha, UserId};
use crate::forge::{ForgeResult, Review, ReviewId, ReviewState};

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

impl GitHubClient {
    pub(crate) async fn reviews(&self, pr: &PrRef) -> ForgeResult<Vec<Review>> {
        let first = format!(
            "{}/pulls/{}/reviews?per_page=100",
            repo_path(&pr.repo)?,
            pr.number.0
        );
        // A missing page could hide a request for changes: never decide on part of the list.
        let reviews = self
            .list_whole::<ReviewJson>(
                first,
                "reviews",
                "the pull request has more reviews",
                "iamgate does not decide on part of them",
            )
            .await?;
        let mut reviews: Vec<Review> = reviews
            .into_iter()
            .filter_map(ReviewJson::into_review)
            .collect();
        // GitHub lists reviews oldest first; a stable sort keeps that order for equal times.
        reviews.sort_by_key(|r| r.submitted_at);
        Ok(reviews)
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
}
