//! Merge request notes: which are iamgate's own (by the token's user, never a system note, since
//! anyone can paste the marker), listing, creating and editing them, and award emoji on notes.
//! Finding the marked one and creating without duplicates are [`crate::forge::comments`].

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::{COMMENT_LIMIT, GitLabClient, Me, mr_path};
use super::transport::{ApiRequest, parse_json};
use crate::audit::Timestamp;
use crate::event::{Actor, ActorKind, Login, PrRef, UserId};
use crate::forge::comments::{Posted, create_once, ensure_fits, find_marked};
use crate::forge::{CommentId, ForgeErrorKind, ForgeResult, Reaction, ShownComment};

#[derive(Deserialize)]
struct NoteJson {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    author: Option<AuthorJson>,
    #[serde(default)]
    system: bool,
}

#[derive(Deserialize)]
struct AuthorJson {
    id: u64,
}

#[derive(Deserialize)]
struct AwardJson {
    name: String,
    user: Option<AuthorJson>,
}

impl NoteJson {
    fn is_by(&self, me: &Me) -> bool {
        !self.system && self.author.as_ref().is_some_and(|a| a.id == me.id)
    }
}

impl Posted for NoteJson {
    fn id(&self) -> CommentId {
        CommentId(self.id)
    }

    fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }
}

/// GitLab's award emoji name for a reaction.
pub(crate) fn emoji_name(reaction: Reaction) -> &'static str {
    match reaction {
        Reaction::Eyes => "eyes",
        Reaction::PlusOne => "thumbsup",
        Reaction::Confused => "confused",
    }
}

impl GitLabClient {
    /// iamgate's own notes on the merge request, oldest first (every page, or an error).
    async fn own_notes(&self, pr: &PrRef) -> ForgeResult<Vec<NoteJson>> {
        let me = self.me().await?;
        let path = format!(
            "{}/notes?sort=asc&order_by=created_at&per_page=100",
            mr_path(pr)?
        );
        // A listing cut at the page cap is an error, never a part: the note looked for could
        // be on a page not read, and posting because it was not seen would make a second one.
        let notes = self
            .list_whole::<NoteJson>(
                &path,
                "list_comments",
                "the merge request has more notes",
                "iamgate cannot find its own note among them and posts no second one",
            )
            .await?;
        Ok(notes.into_iter().filter(|n| n.is_by(&me)).collect())
    }

    pub(crate) async fn find_own_comment(
        &self,
        pr: &PrRef,
        marker: &str,
    ) -> ForgeResult<Option<CommentId>> {
        Ok(find_marked(&self.own_notes(pr).await?, marker))
    }

    /// Creates a note; after a 5xx or a timeout it checks whether the note landed anyway
    /// (iamgate's note with the body's marker, or else its newest one when the text is exactly
    /// `body`) and posts again only if it did not.
    pub(crate) async fn create_comment(&self, pr: &PrRef, body: &str) -> ForgeResult<CommentId> {
        self.create_note(pr, body, false).await
    }

    /// An internal note (members only), for the replies to internal notes.
    pub(crate) async fn create_internal_comment(
        &self,
        pr: &PrRef,
        body: &str,
    ) -> ForgeResult<CommentId> {
        self.create_note(pr, body, true).await
    }

    async fn create_note(&self, pr: &PrRef, body: &str, internal: bool) -> ForgeResult<CommentId> {
        let path = format!("{}/notes", mr_path(pr)?);
        ensure_fits(&format!("POST {path}"), "note", body, COMMENT_LIMIT)?;
        let fields = if internal {
            json!({ "body": body, "internal": true })
        } else {
            json!({ "body": body })
        };
        let request = ApiRequest::with_body(Method::POST, path, fields);
        create_once(
            self.policy(),
            pr,
            "note",
            body,
            || async {
                let response = self.call(&request, "create_comment", false).await?;
                parse_json::<NoteJson>(&response, &request).map(|n| CommentId(n.id))
            },
            || self.own_notes(pr),
            |id| self.update_comment(pr, id, body),
        )
        .await
    }

    /// Note `id` of the merge request as GitLab shows it now.
    pub(crate) async fn comment(
        &self,
        pr: &PrRef,
        id: CommentId,
    ) -> ForgeResult<Option<ShownComment>> {
        #[derive(Deserialize)]
        struct ShownJson {
            #[serde(default)]
            body: Option<String>,
            author: Option<ShownAuthor>,
            #[serde(default)]
            created_at: Option<String>,
            #[serde(default)]
            system: bool,
            /// `internal` (GitLab 15.0+) or its older name `confidential`.
            #[serde(default)]
            internal: Option<bool>,
            #[serde(default)]
            confidential: Option<bool>,
        }
        #[derive(Deserialize)]
        struct ShownAuthor {
            id: u64,
            username: String,
            #[serde(default)]
            bot: bool,
        }
        let request = ApiRequest::get(format!("{}/notes/{}", mr_path(pr)?, id.0));
        let shown: ShownJson = match self.call(&request, "get_comment", true).await {
            Ok(response) => parse_json(&response, &request)?,
            Err(error) if error.kind == ForgeErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let Some(author) = shown.author.filter(|_| !shown.system) else {
            return Ok(None);
        };
        Ok(Some(ShownComment {
            author: Actor {
                kind: if author.bot {
                    ActorKind::Bot
                } else {
                    ActorKind::User
                },
                id: Some(UserId(author.id)),
                login: Login(author.username),
            },
            body: shown.body.unwrap_or_default(),
            created_ms: shown
                .created_at
                .as_deref()
                .and_then(|t| Timestamp::parse_rfc3339(t).ok())
                .map(Timestamp::unix_millis),
            internal: shown.internal.or(shown.confidential).unwrap_or(false),
        }))
    }

    pub(crate) async fn update_comment(
        &self,
        pr: &PrRef,
        id: CommentId,
        body: &str,
    ) -> ForgeResult<()> {
        let path = format!("{}/notes/{}", mr_path(pr)?, id.0);
        ensure_fits(&format!("PUT {path}"), "note", body, COMMENT_LIMIT)?;
        let request = ApiRequest::with_body(Method::PUT, path, json!({ "body": body }));
        // Setting the same body twice is harmless: retried like a GET.
        self.call(&request, "update_comment", true).await.map(drop)
    }

    pub(crate) async fn react(
        &self,
        pr: &PrRef,
        note: CommentId,
        reaction: Reaction,
    ) -> ForgeResult<()> {
        let name = emoji_name(reaction);
        let path = format!("{}/notes/{}/award_emoji", mr_path(pr)?, note.0);
        let me = self.me().await?;
        let (awards, _) = self
            .list_all::<AwardJson>(&format!("{path}?per_page=100"), "list_reactions")
            .await?;
        if awards
            .iter()
            .any(|a| a.name == name && a.user.as_ref().is_some_and(|u| u.id == me.id))
        {
            return Ok(());
        }
        let request = ApiRequest::with_body(Method::POST, path, json!({ "name": name }));
        // GitLab keeps one award per user, awardable and name and refuses another ("has already
        // been taken"), so a retry after an ambiguous failure cannot duplicate it.
        match self.call(&request, "react", true).await {
            Ok(_) => Ok(()),
            Err(error)
                if matches!(
                    error.kind,
                    ForgeErrorKind::BadRequest
                        | ForgeErrorKind::NotFound
                        | ForgeErrorKind::Conflict
                ) && error.message.contains("already been taken") =>
            {
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_user_owns_notes_and_never_system_ones() {
        let me = Me {
            id: 7,
            username: "iamgate-bot".to_owned(),
        };
        let note = |author: Option<u64>, system: bool| NoteJson {
            id: 1,
            body: None,
            author: author.map(|id| AuthorJson { id }),
            system,
        };
        assert!(note(Some(7), false).is_by(&me));
        assert!(!note(Some(7), true).is_by(&me));
        assert!(!note(Some(8), false).is_by(&me));
        assert!(!note(None, false).is_by(&me));
    }

    #[test]
    fn reactions_use_gitlab_emoji_names() {
        assert_eq!(emoji_name(Reaction::Eyes), "eyes");
        assert_eq!(emoji_name(Reaction::PlusOne), "thumbsup");
        assert_eq!(emoji_name(Reaction::Confused), "confused");
    }
}
