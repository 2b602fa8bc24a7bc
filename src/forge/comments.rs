//! iamgate's own comments, the same on both forges: finding the one that carries a marker, and
//! creating one without ever duplicating it. Creating is the one call never retried blindly:
//! after an ambiguous failure (a 5xx or a timeout) it looks for what landed first and posts
//! again only when nothing did. Which comments are iamgate's own, and the HTTP calls, are each
//! forge's own.

use std::future::Future;

use crate::event::PrRef;
use crate::forge::http::invalid;
use crate::forge::retry::RetryPolicy;
use crate::forge::{CommentId, ForgeResult, RetryClass};

/// A comment as listed by the forge: its id and body.
pub(crate) trait Posted {
    fn id(&self) -> CommentId;
    fn body(&self) -> Option<&str>;

    /// Whether the body carries `marker`.
    fn has(&self, marker: &str) -> bool {
        self.body().is_some_and(|b| b.contains(marker))
    }
}

/// The hidden `<!-- iamgate:... -->` marker of a body, if it has one.
pub(crate) fn marker_of(body: &str) -> Option<&str> {
    let start = body.find("<!-- iamgate:")?;
    let end = body[start..].find("-->")? + start + 3;
    Some(&body[start..end])
}

/// Refuses a body longer than `limit` characters before `operation` sends it (`noun`: comment,
/// note).
pub(crate) fn ensure_fits(
    operation: &str,
    noun: &str,
    body: &str,
    limit: usize,
) -> ForgeResult<()> {
    if body.chars().count() > limit {
        return Err(invalid(
            operation,
            &format!("{noun} longer than {limit} characters"),
        ));
    }
    Ok(())
}

/// The first of `own` that carries `marker`.
pub(crate) fn find_marked<T: Posted>(own: &[T], marker: &str) -> Option<CommentId> {
    own.iter().find(|c| c.has(marker)).map(Posted::id)
}

/// What a create that failed ambiguously may have left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Landed {
    /// Nothing: posting again is safe.
    Nothing,
    /// This comment, with exactly the body.
    Same(CommentId),
    /// This comment carries the body's marker but another text: it is to be set to the body.
    Stale(CommentId),
}

/// Looks among `own` (oldest first) for the comment a failed create of `body` may have left:
/// the one with the body's marker, or else the newest when its text is exactly `body`.
pub(crate) fn landed<T: Posted>(own: &[T], body: &str) -> Landed {
    if let Some(marker) = marker_of(body) {
        return match own.iter().find(|c| c.has(marker)) {
            None => Landed::Nothing,
            Some(found) if found.body() == Some(body) => Landed::Same(found.id()),
            Some(found) => Landed::Stale(found.id()),
        };
    }
    own.last()
        .filter(|c| c.body() == Some(body))
        .map_or(Landed::Nothing, |c| Landed::Same(c.id()))
}

/// Creates a comment with `post` (one non-retried call); after an ambiguous failure it lists
/// iamgate's own comments with `own`, sets a stale marked one to `body` with `update`, and
/// posts again only when nothing landed, at most `policy.max_attempts` times in all. `noun`
/// names the thing in logs (`comment`, `note`).
pub(crate) async fn create_once<T, P, PF, O, OF, U, UF>(
    policy: &RetryPolicy,
    pr: &PrRef,
    noun: &str,
    body: &str,
    post: P,
    own: O,
    update: U,
) -> ForgeResult<CommentId>
where
    T: Posted,
    P: Fn() -> PF,
    PF: Future<Output = ForgeResult<CommentId>>,
    O: Fn() -> OF,
    OF: Future<Output = ForgeResult<Vec<T>>>,
    U: Fn(CommentId) -> UF,
    UF: Future<Output = ForgeResult<()>>,
{
    let mut attempt = 1;
    loop {
        let error = match post().await {
            Ok(id) => return Ok(id),
            Err(error) if error.retry == RetryClass::Retry => error,
            Err(error) => return Err(error),
        };
        tracing::warn!(repo = %pr.repo, pr = pr.number.0, message = %error.message, "creating a {noun} failed ambiguously, checking whether it landed");
        match landed(&own().await?, body) {
            Landed::Same(id) => return Ok(id),
            Landed::Stale(id) => {
                update(id).await?;
                return Ok(id);
            }
            Landed::Nothing => {}
        }
        if attempt >= policy.max_attempts {
            return Err(error);
        }
        tokio::time::sleep(policy.backoff(attempt)).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct C(u64, Option<&'static str>);

    impl Posted for C {
        fn id(&self) -> CommentId {
            CommentId(self.0)
        }
        fn body(&self) -> Option<&str> {
            self.1
        }
    }

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
    fn the_marked_comment_or_the_identical_newest_one_landed() {
        let marked = "<!-- iamgate:report -->\nnew";
        let own = [
            C(1, Some("hello")),
            C(2, Some("<!-- iamgate:report -->\nold")),
            C(3, None),
        ];
        assert_eq!(
            find_marked(&own, "<!-- iamgate:report -->"),
            Some(CommentId(2))
        );
        assert_eq!(landed(&own, marked), Landed::Stale(CommentId(2)));
        assert_eq!(landed(&own[..1], marked), Landed::Nothing);
        assert_eq!(
            landed(&[C(4, Some(marked))], marked),
            Landed::Same(CommentId(4))
        );
        assert_eq!(landed(&own[..1], "hello"), Landed::Same(CommentId(1)));
        assert_eq!(landed(&own, "hello"), Landed::Nothing, "only the newest");
    }
}
