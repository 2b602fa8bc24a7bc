//! Merge request notes: finding iamgate's own marked note (by the token's user, never a system
//! note, since anyone can paste the marker), creating one without ever duplicating it, editing
//! it, and award emoji on notes. Creating is the one call never retried blindly: after an
//! ambiguous failure it looks for what landed first.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::http::ApiRequest;
use super::{COMMENT_LIMIT, GitLabClient, Me, invalid, mr_path, parse_json};
use crate::event::PrRef;
use crate::forge::{CommentId, ForgeResult, Reaction, RetryClass};

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

    fn has(&self, marker: &str) -> bool {
        self.body.as_deref().is_some_and(|b| b.contains(marker))
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

/// The hidden `<!-- iamgate:... -->` marker of a body, if it has one.
pub(crate) fn marker_of(body: &str) -> Option<&str> {
    let start = body.find("<!-- iamgate:")?;
    let end = body[start..].find("-->")? + start + 3;
    Some(&body[start..end])
}

impl GitLabClient {
    /// iamgate's own notes on the merge request, oldest first (every page).
    async fn own_notes(&self, pr: &PrRef) -> ForgeResult<Vec<NoteJson>> {
        let me = self.me().await?;
        let path = format!(
            "{}/notes?sort=asc&order_by=created_at&per_page=100",
            mr_path(pr)?
        );
        let (notes, _complete) = self.list_all::<NoteJson>(&path, "list_comments").await?;
        Ok(notes.into_iter().filter(|n| n.is_by(&me)).collect())
    }

    pub(crate) async fn find_marked_note(
        &self,
        pr: &PrRef,
        marker: &str,
    ) -> ForgeResult<Option<CommentId>> {
        let own = self.own_notes(pr).await?;
        Ok(own.iter().find(|n| n.has(marker)).map(|n| CommentId(n.id)))
    }

    /// Creates a note; after a 5xx or a timeout it checks whether the note landed anyway and
    /// posts again only if it did not.
    pub(crate) async fn create_note_without_duplicates(
        &self,
        pr: &PrRef,
        body: &str,
    ) -> ForgeResult<CommentId> {
        let path = format!("{}/notes", mr_path(pr)?);
        if body.chars().count() > COMMENT_LIMIT {
            return Err(invalid(
                &format!("POST {path}"),
                &format!("note longer than {COMMENT_LIMIT} characters"),
            ));
        }
        let request = ApiRequest::with_body(Method::POST, path, json!({ "body": body }));
        let mut attempt = 1;
        loop {
            let error = match self.call(&request, "create_comment", false).await {
                Ok(response) => {
                    return parse_json::<NoteJson>(&response, &request).map(|n| CommentId(n.id));
                }
                Err(error) if error.retry == RetryClass::Retry => error,
                Err(error) => return Err(error),
            };
            tracing::warn!(repo = %pr.repo, mr = pr.number.0, message = %error.message, "creating a note failed ambiguously, checking whether it landed");
            if let Some(id) = self.landed_note(pr, body).await? {
                return Ok(id);
            }
            if attempt >= self.policy().max_attempts {
                return Err(error);
            }
            tokio::time::sleep(self.policy().backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// The note a failed create may have left: iamgate's note with the body's marker (set to
    /// `body`), or else iamgate's newest note when its text is exactly `body`.
    async fn landed_note(&self, pr: &PrRef, body: &str) -> ForgeResult<Option<CommentId>> {
        let own = self.own_notes(pr).await?;
        if let Some(marker) = marker_of(body) {
            let Some(found) = own.iter().find(|n| n.has(marker)) else {
                return Ok(None);
            };
            if found.body.as_deref() != Some(body) {
                self.edit_note(pr, CommentId(found.id), body).await?;
            }
            return Ok(Some(CommentId(found.id)));
        }
        Ok(own
            .last()
            .filter(|n| n.body.as_deref() == Some(body))
            .map(|n| CommentId(n.id)))
    }

    pub(crate) async fn edit_note(&self, pr: &PrRef, id: CommentId, body: &str) -> ForgeResult<()> {
        let path = format!("{}/notes/{}", mr_path(pr)?, id.0);
        if body.chars().count() > COMMENT_LIMIT {
            return Err(invalid(
                &format!("PUT {path}"),
                &format!("note longer than {COMMENT_LIMIT} characters"),
            ));
        }
        let request = ApiRequest::with_body(Method::PUT, path, json!({ "body": body }));
        // Setting the same body twice is harmless: retried like a GET.
        self.call(&request, "update_comment", true).await.map(drop)
    }

    pub(crate) async fn award_emoji(
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
                if matches!(error.status, Some(400 | 404 | 409))
                    && error.message.contains("already been taken") =>
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
    fn markers_are_found_in_bodies() {
        assert_eq!(
            marker_of("<!-- iamgate:report -->\n## Risk"),
            Some("<!-- iamgate:report -->")
        );
        assert_eq!(marker_of("<!-- other:report -->"), None);
        assert_eq!(marker_of("<!-- iamgate:unterminated"), None);
    }

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
