//! The App's pull request comments: finding its own marked comment (author checked, since users
//! can paste the marker), creating one without ever duplicating it, editing it. Creating is the
//! one call never retried blindly: after an ambiguous failure it looks for what landed first.

use axum::http::Method;
use serde::Deserialize;
use serde_json::json;

use super::app::parse_json;
use super::client::{COMMENT_LIMIT, GitHubClient, UserJson, invalid, repo_path};
use super::transport::ApiRequest;
use crate::event::{Login, PrRef};
use crate::forge::{CommentId, ForgeResult, RetryClass};

#[derive(Deserialize)]
struct CommentJson {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    user: Option<UserJson>,
}

impl CommentJson {
    fn is_by(&self, bot: &Login) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.login == bot.0 && u.kind == "Bot")
    }
}

impl GitHubClient {
    /// The App's own comments on the pull request, oldest first.
    async fn own_comments(&self, pr: &PrRef) -> ForgeResult<Vec<CommentJson>> {
        let bot = self.core.bot_login().await?;
        let first = format!(
            "{}/issues/{}/comments?per_page=100",
            repo_path(&pr.repo)?,
            pr.number.0
        );
        let (comments, _complete) = self.list_all::<CommentJson>(first, "list_comments").await?;
        Ok(comments.into_iter().filter(|c| c.is_by(&bot)).collect())
    }

    pub(crate) async fn find_marked_comment(
        &self,
        pr: &PrRef,
        marker: &str,
    ) -> ForgeResult<Option<CommentId>> {
        let own = self.own_comments(pr).await?;
        Ok(own
            .iter()
            .find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
            .map(|c| CommentId(c.id)))
    }

    /// Creates a comment; after a 5xx or a timeout it checks whether the comment landed anyway
    /// and posts again only if it did not.
    pub(crate) async fn create_comment_without_duplicates(
        &self,
        pr: &PrRef,
        body: &str,
    ) -> ForgeResult<CommentId> {
        let path = format!("{}/issues/{}/comments", repo_path(&pr.repo)?, pr.number.0);
        if body.chars().count() > COMMENT_LIMIT {
            return Err(invalid(
                &format!("POST {path}"),
                &format!("comment longer than {COMMENT_LIMIT} characters"),
            ));
        }
        let request = ApiRequest::with_body(Method::POST, path, json!({ "body": body }));
        let mut attempt = 1;
        loop {
            let error = match self.call(&request, "create_comment", false).await {
                Ok(response) => {
                    return parse_json::<CommentJson>(&response, &request).map(|c| CommentId(c.id));
                }
                Err(error) if error.retry == RetryClass::Retry => error,
                Err(error) => return Err(error),
            };
            tracing::warn!(repo = %pr.repo, pr = pr.number.0, message = %error.message, "creating a comment failed ambiguously, checking whether it landed");
            if let Some(id) = self.landed_comment(pr, body).await? {
                return Ok(id);
            }
            if attempt >= self.core.policy.max_attempts {
                return Err(error);
            }
            tokio::time::sleep(self.core.policy.backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// The comment a failed create may have left: the App's comment with the body's marker (set
    /// to `body`), or else the App's newest comment when its text is exactly `body`.
    async fn landed_comment(&self, pr: &PrRef, body: &str) -> ForgeResult<Option<CommentId>> {
        let own = self.own_comments(pr).await?;
        if let Some(marker) = marker_of(body) {
            let Some(found) = own
                .iter()
                .find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
            else {
                return Ok(None);
            };
            if found.body.as_deref() != Some(body) {
                self.patch_comment(pr, CommentId(found.id), body).await?;
            }
            return Ok(Some(CommentId(found.id)));
        }
        Ok(own
            .last()
            .filter(|c| c.body.as_deref() == Some(body))
            .map(|c| CommentId(c.id)))
    }

    pub(crate) async fn patch_comment(
        &self,
        pr: &PrRef,
        id: CommentId,
        body: &str,
    ) -> ForgeResult<()> {
        let path = format!("{}/issues/comments/{}", repo_path(&pr.repo)?, id.0);
        if body.chars().count() > COMMENT_LIMIT {
            return Err(invalid(
                &format!("PATCH {path}"),
                &format!("comment longer than {COMMENT_LIMIT} characters"),
            ));
        }
        let request = ApiRequest::with_body(Method::PATCH, path, json!({ "body": body }));
        // Setting the same body twice is harmless: retried like a GET.
        self.call(&request, "update_comment", true).await.map(drop)
    }
}

/// The hidden `<!-- iamgate:... -->` marker line of a body, if it has one.
pub(crate) fn marker_of(body: &str) -> Option<&str> {
    let start = body.find("<!-- iamgate:")?;
    let end = body[start..].find("-->")? + start + 3;
    Some(&body[start..end])
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
        assert_eq!(
            marker_of("text\n<!-- iamgate:reply:42 -->"),
            Some("<!-- iamgate:reply:42 -->")
        );
        assert_eq!(marker_of("<!-- other:report -->"), None);
        assert_eq!(marker_of("<!-- iamgate:unterminated"), None);
    }

    #[test]
    fn only_the_bot_user_owns_comments() {
        let bot = Login::from("iamgate[bot]");
        let comment = |login: &str, kind: &str| CommentJson {
            id: 1,
            body: None,
            user: Some(UserJson {
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
}
