//! The App's pull request comments: which are its own (author checked, since users can paste
//! the marker), listing, creating and editing them, and reactions on comments. Finding the
//! marked one and creating without duplicates are [`crate::forge::comments`]; a listing cut at
//! the page cap is an error here, so that a comment not seen is never posted a second time.

use std::time::{Duration, SystemTime};

use axum::http::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::{COMMENT_LIMIT, GitHubClient, UserJson, repo_path};
use super::transport::{ApiRequest, parse_json};
use crate::audit::Timestamp;
use crate::event::{Actor, ActorKind, Login, PrRef, UserId};
use crate::forge::comments::{Posted, create_once, ensure_fits, find_marked};
use crate::forge::{CommentId, ForgeErrorKind, ForgeResult, Reaction, ShownComment};

/// How long before a create began the check for a comment that landed anyway looks back: far
/// more than any difference between iamgate's clock and GitHub's, which dates the comment.
const LANDED_LOOKBACK: Duration = Duration::from_secs(3600);

/// `since` as GitHub's `since` parameter takes it (`YYYY-MM-DDTHH:MM:SSZ`): whole seconds,
/// rounded down so that nothing updated within that second is left out.
fn whole_seconds(since: Timestamp) -> Timestamp {
    let millis = since.unix_millis();
    Timestamp::from_unix_millis(millis - millis.rem_euclid(1000)).unwrap_or(since)
}

#[derive(Deserialize)]
struct CommentJson {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    user: Option<UserJson>,
}

impl Posted for CommentJson {
    fn id(&self) -> CommentId {
        CommentId(self.id)
    }

    fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }
}

impl CommentJson {
    fn is_by(&self, bot: &Login) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.login == bot.0 && u.kind == "Bot")
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

/// A comment as `GET /repos/{owner}/{repo}/issues/comments/{id}` shows it.
#[derive(Deserialize)]
struct ShownJson {
    #[serde(default)]
    body: Option<String>,
    user: Option<UserJson>,
    #[serde(default)]
    created_at: Option<String>,
    /// `https://api.github.com/repos/o/r/issues/7`: the pull request it belongs to.
    #[serde(default)]
    issue_url: String,
}

impl GitHubClient {
    pub(crate) async fn comment(
        &self,
        pr: &PrRef,
        id: CommentId,
    ) -> ForgeResult<Option<ShownComment>> {
        let request = ApiRequest::get(format!("{}/issues/comments/{}", repo_path(&pr.repo)?, id.0));
        let shown: ShownJson = match self.call(&request, "get_comment", true).await {
            Ok(response) => parse_json(&response, &request)?,
            Err(error) if error.kind == ForgeErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        // A comment of another pull request (or issue) of the repository is not this one's.
        if !shown
            .issue_url
            .ends_with(&format!("/issues/{}", pr.number.0))
        {
            return Ok(None);
        }
        let Some(user) = shown.user else {
            return Ok(None);
        };
        Ok(Some(ShownComment {
            author: Actor {
                kind: ActorKind::from_github(&user.kind),
                id: user.id.map(UserId),
                login: Login(user.login),
            },
            body: shown.body.unwrap_or_default(),
            created_ms: shown
                .created_at
                .as_deref()
                .and_then(|t| Timestamp::parse_rfc3339(t).ok())
                .map(Timestamp::unix_millis),
            internal: false,
        }))
    }

    /// The App's own comments on the pull request, oldest first: all of them, or those GitHub
    /// last updated at or after `since` (the listing's `since` parameter). A listing cut at the
    /// page cap is an error, never a part: the comment looked for could be on a page not read,
    /// and posting because it was not seen would make a second one.
    async fn own_comments(
        &self,
        pr: &PrRef,
        since: Option<Timestamp>,
    ) -> ForgeResult<Vec<CommentJson>> {
        let bot = self.session.bot_login().await?;
        let path = format!("{}/issues/{}/comments", repo_path(&pr.repo)?, pr.number.0);
        let first = match since {
            Some(since) => format!("{path}?since={}&per_page=100", whole_seconds(since)),
            None => format!("{path}?per_page=100"),
        };
        let comments = self
            .list_whole::<CommentJson>(
                first,
                "list_comments",
                "the pull request has more comments",
                "iamgate cannot find its own comment among them and posts no second one",
            )
            .await?;
        Ok(comments.into_iter().filter(|c| c.is_by(&bot)).collect())
    }

    pub(crate) async fn find_own_comment(
        &self,
        pr: &PrRef,
        marker: &str,
    ) -> ForgeResult<Option<CommentId>> {
        Ok(find_marked(&self.own_comments(pr, None).await?, marker))
    }

    /// Creates a comment; after a 5xx or a timeout it checks whether the comment landed anyway
    /// (the App's comment with the body's marker, or else its newest one when the text is
    /// exactly `body`) and posts again only if it did not. The check reads only the comments
    /// updated since shortly before the first try ([`LANDED_LOOKBACK`]), so that it does not
    /// depend on reading every page of a long conversation.
    pub(crate) async fn create_comment(&self, pr: &PrRef, body: &str) -> ForgeResult<CommentId> {
        let path = format!("{}/issues/{}/comments", repo_path(&pr.repo)?, pr.number.0);
        ensure_fits(&format!("POST {path}"), "comment", body, COMMENT_LIMIT)?;
        let request = ApiRequest::with_body(Method::POST, path, json!({ "body": body }));
        let since = Timestamp::from_system_time(
            SystemTime::now()
                .checked_sub(LANDED_LOOKBACK)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        );
        create_once(
            &self.session.policy,
            pr,
            "comment",
            body,
            || async {
                let response = self.call(&request, "create_comment", false).await?;
                parse_json::<CommentJson>(&response, &request).map(|c| CommentId(c.id))
            },
            || self.own_comments(pr, Some(since)),
            |id| self.update_comment(pr, id, body),
        )
        .await
    }

    pub(crate) async fn update_comment(
        &self,
        pr: &PrRef,
        id: CommentId,
        body: &str,
    ) -> ForgeResult<()> {
        let path = format!("{}/issues/comments/{}", repo_path(&pr.repo)?, id.0);
        ensure_fits(&format!("PATCH {path}"), "comment", body, COMMENT_LIMIT)?;
        let request = ApiRequest::with_body(Method::PATCH, path, json!({ "body": body }));
        // Setting the same body twice is harmless: retried like a GET.
        self.call(&request, "update_comment", true).await.map(drop)
    }

    pub(crate) async fn react(
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

    #[test]
    fn only_the_bot_user_owns_comments() {
        let bot = Login::from("iamgate[bot]");
        let comment = |login: &str, kind: &str| CommentJson {
            id: 1,
            body: None,
            user: Some(UserJson {
                id: None,
                login: login.into(),
                kind: kind.into(),
            }),
        };
        assert!(comment("iamgate[bot]", "Bot").is_by(&bot));
        assert!(
            !comment("iamgate[bot]", "User").is_by(&bot),
            "type must be Bot"
        );
        assert!(!comment("mallory", "User").is_by(&bot));
        assert!(!comment("other[bot]", "Bot").is_by(&bot));
        assert!(
            !CommentJson {
                id: 1,
                body: None,
                user: None
            }
            .is_by(&bot)
        );
    }

    #[test]
    fn since_is_whole_seconds_rounded_down() {
        let at = |text: &str| Timestamp::parse_rfc3339(text).unwrap();
        assert_eq!(
            whole_seconds(at("2024-05-01T12:30:00.999Z")).to_string(),
            "2024-05-01T12:30:00Z"
        );
        assert_eq!(
            whole_seconds(at("2024-05-01T12:30:07Z")).to_string(),
            "2024-05-01T12:30:07Z"
        );
        assert_eq!(
            whole_seconds(Timestamp::from_unix_millis(-1).unwrap()).to_string(),
            "1969-12-31T23:59:59Z",
            "before 1970 too, down and not toward zero"
        );
    }

    #[test]
    fn reactions_use_github_content_names() {
        assert_eq!(reaction_content(Reaction::Eyes), "eyes");
        assert_eq!(reaction_content(Reaction::PlusOne), "+1");
        assert_eq!(reaction_content(Reaction::Confused), "confused");
    }
}
