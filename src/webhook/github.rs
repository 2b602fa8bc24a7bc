//! Decoding a verified GitHub delivery (event name + raw JSON) into a typed `Event`. Our own
//! minimal `#[serde(default)]` structs, never closed enums: an action or event GitHub adds
//! tomorrow decodes to `Event::Ignored`. Pure: no I/O, no logging, no signature checks (the
//! caller verified the bytes first).

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::push::PushedCommit;
use crate::audit::Timestamp;
use crate::config::repo;
use crate::event::{
    Actor, ActorKind, CommentAction, CommentId, Event, ForgeKind, Login, PrAction, PrNumber, PrRef,
    RepoName, RepoRef, ReviewAction, ReviewId, ReviewState, Sha, UserId, ViaApp,
};

/// Why a verified body is not a delivery we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("body is not a JSON object: {0}")]
    NotJson(String),
    #[error("{event}.{action}: missing or invalid `{field}`")]
    Field {
        event: String,
        action: String,
        field: &'static str,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AnyPayload {
    action: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PullRequestPayload {
    action: Option<String>,
    number: Option<u64>,
    pull_request: Option<PullRequest>,
    repository: Option<Repository>,
    installation: Option<Installation>,
    changes: Option<Changes>,
    sender: Option<User>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PullRequest {
    number: Option<u64>,
    head: Option<Head>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Head {
    sha: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Repository {
    full_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Installation {
    id: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Changes {
    base: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IssueCommentPayload {
    action: Option<String>,
    issue: Option<Issue>,
    comment: Option<Comment>,
    repository: Option<Repository>,
    installation: Option<Installation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Issue {
    number: Option<u64>,
    /// Present (an object with URLs) only when the issue is a pull request.
    pull_request: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Comment {
    id: Option<u64>,
    body: Option<String>,
    created_at: Option<String>,
    user: Option<User>,
    performed_via_github_app: Option<App>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct User {
    login: Option<String>,
    id: Option<u64>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct App {
    id: Option<u64>,
    slug: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReviewPayload {
    action: Option<String>,
    review: Option<Review>,
    pull_request: Option<PullRequest>,
    repository: Option<Repository>,
    installation: Option<Installation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Review {
    id: Option<u64>,
    state: Option<String>,
    commit_id: Option<String>,
    user: Option<User>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PushPayload {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    after: Option<String>,
    deleted: bool,
    forced: bool,
    commits: Vec<PushedCommit>,
    repository: Option<Repository>,
    installation: Option<Installation>,
}

/// GitHub lists at most 2,048 commits of a push in a webhook, and 5,000 paths of each kind per
/// commit.
const PUSH_COMMITS_CAP: usize = 2048;
const PUSH_PATHS_CAP: usize = 5000;

/// Decodes the body of a delivery whose `X-GitHub-Event` is `event_name`.
pub fn decode(event_name: &str, body: &[u8]) -> Result<Event, DecodeError> {
    match event_name {
        "ping" => {
            parse::<AnyPayload>(body)?;
            Ok(Event::Ping)
        }
        "pull_request" => pull_request(parse(body)?),
        "issue_comment" => issue_comment(parse(body)?),
        "pull_request_review" => review(parse(body)?),
        "push" => push(parse(body)?),
        // Who is in which team may have changed: any membership answer iamgate keeps is stale.
        "membership" | "team" | "organization" => {
            parse::<AnyPayload>(body)?;
            Ok(Event::MembershipChanged {
                forge: ForgeKind::GitHub,
            })
        }
        other => {
            let payload: AnyPayload = parse(body)?;
            Ok(Event::Ignored {
                event: other.to_owned(),
                action: payload
                    .action
                    .as_ref()
                    .and_then(|a| a.as_str())
                    .map(str::to_owned),
            })
        }
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(body).map_err(|e| DecodeError::NotJson(e.to_string()))
}

fn pull_request(p: PullRequestPayload) -> Result<Event, DecodeError> {
    let action_name = p.action.clone().unwrap_or_default();
    let action = match action_name.as_str() {
        "opened" => PrAction::Opened,
        "synchronize" => PrAction::Synchronize,
        "reopened" => PrAction::Reopened,
        "ready_for_review" => PrAction::ReadyForReview,
        "edited" if p.changes.as_ref().is_some_and(|c| c.base.is_some()) => PrAction::BaseChanged,
        "closed" => PrAction::Closed,
        _ => return Ok(ignored("pull_request", p.action)),
    };
    let missing = |field| DecodeError::Field {
        event: "pull_request".to_owned(),
        action: action_name.clone(),
        field,
    };
    let pr = p.pull_request.unwrap_or_default();
    let number = p
        .number
        .or(pr.number)
        .filter(|n| *n > 0)
        .ok_or_else(|| missing("number"))?;
    let repo = full_name(p.repository).ok_or_else(|| missing("repository.full_name"))?;
    let head = pr
        .head
        .and_then(|h| h.sha)
        .filter(|sha| is_sha(sha))
        .ok_or_else(|| missing("pull_request.head.sha"))?;
    let pushed_by = if action == PrAction::Synchronize {
        p.sender.and_then(|u| u.login).map(Login)
    } else {
        None
    };
    Ok(Event::PullRequest {
        pr: github_pr(p.installation, repo, number),
        action,
        head: Sha(head.to_ascii_lowercase()),
        pushed_by,
    })
}

fn issue_comment(p: IssueCommentPayload) -> Result<Event, DecodeError> {
    const EVENT: &str = "issue_comment";
    let action_name = p.action.clone().unwrap_or_default();
    let action = match action_name.as_str() {
        "created" => CommentAction::Created,
        "edited" => CommentAction::Edited,
        "deleted" => CommentAction::Deleted,
        _ => return Ok(ignored(EVENT, p.action)),
    };
    let issue = p.issue.unwrap_or_default();
    if issue.pull_request.is_none() {
        // A comment on a plain issue: nothing for a merge gate.
        return Ok(ignored(EVENT, p.action));
    }
    let missing = |field| DecodeError::Field {
        event: EVENT.to_owned(),
        action: action_name.clone(),
        field,
    };
    let number = issue
        .number
        .filter(|n| *n > 0)
        .ok_or_else(|| missing("issue.number"))?;
    let repo = full_name(p.repository).ok_or_else(|| missing("repository.full_name"))?;
    let comment = p.comment.unwrap_or_default();
    let id = comment
        .id
        .filter(|id| *id > 0)
        .ok_or_else(|| missing("comment.id"))?;
    let author = actor(comment.user).ok_or_else(|| missing("comment.user.login"))?;
    let via_app = comment.performed_via_github_app.and_then(|app| {
        Some(ViaApp {
            id: app.id?,
            slug: app.slug.unwrap_or_default(),
        })
    });
    let created_ms = match comment.created_at.as_deref() {
        None => None,
        Some(text) => Some(
            Timestamp::parse_rfc3339(text)
                .map_err(|_| missing("comment.created_at"))?
                .unix_millis(),
        ),
    };
    Ok(Event::Comment {
        pr: github_pr(p.installation, repo, number),
        action,
        id: CommentId(id),
        body: comment.body.unwrap_or_default(),
        author,
        via_app,
        created_ms,
        seen_head: None,
    })
}

fn review(p: ReviewPayload) -> Result<Event, DecodeError> {
    const EVENT: &str = "pull_request_review";
    let action_name = p.action.clone().unwrap_or_default();
    let action = match action_name.as_str() {
        "submitted" => ReviewAction::Submitted,
        "edited" => ReviewAction::Edited,
        "dismissed" => ReviewAction::Dismissed,
        _ => return Ok(ignored(EVENT, p.action)),
    };
    let missing = |field| DecodeError::Field {
        event: EVENT.to_owned(),
        action: action_name.clone(),
        field,
    };
    let number = p
        .pull_request
        .and_then(|pr| pr.number)
        .filter(|n| *n > 0)
        .ok_or_else(|| missing("pull_request.number"))?;
    let repo = full_name(p.repository).ok_or_else(|| missing("repository.full_name"))?;
    let review = p.review.unwrap_or_default();
    let id = review
        .id
        .filter(|id| *id > 0)
        .ok_or_else(|| missing("review.id"))?;
    let state = review
        .state
        .filter(|s| !s.is_empty())
        .map(|s| ReviewState::parse(&s))
        .ok_or_else(|| missing("review.state"))?;
    let commit = review
        .commit_id
        .filter(|sha| is_sha(sha))
        .ok_or_else(|| missing("review.commit_id"))?;
    let reviewer = actor(review.user).ok_or_else(|| missing("review.user.login"))?;
    Ok(Event::Review {
        pr: github_pr(p.installation, repo, number),
        action,
        id: ReviewId(id),
        state,
        commit: Sha(commit.to_ascii_lowercase()),
        reviewer,
    })
}

/// A push to a branch. Pushes of tags and branch deletions are ignored. Whether the push may
/// have changed `.iamgate.yml` errs towards yes: a forced push (commits may have been dropped,
/// which the listed commits do not show) or a listing GitHub may have cut says yes.
fn push(p: PushPayload) -> Result<Event, DecodeError> {
    let git_ref = p.git_ref.unwrap_or_default();
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        return Ok(ignored("push", None));
    };
    if p.deleted {
        return Ok(ignored("push", Some("deleted".to_owned())));
    }
    let missing = |field| DecodeError::Field {
        event: "push".to_owned(),
        action: String::new(),
        field,
    };
    if branch.is_empty() {
        return Err(missing("ref"));
    }
    let repo = full_name(p.repository).ok_or_else(|| missing("repository.full_name"))?;
    let after = p
        .after
        .filter(|sha| is_sha(sha))
        .ok_or_else(|| missing("after"))?;
    let config_may_have_changed = p.forced
        || p.commits.len() >= PUSH_COMMITS_CAP
        || p.commits
            .iter()
            .any(|c| c.may_touch(repo::FILE_PATH, PUSH_PATHS_CAP));
    Ok(Event::BranchPush {
        repo: RepoRef {
            forge: ForgeKind::GitHub,
            installation: p.installation.and_then(|i| i.id),
            repo: RepoName(repo),
        },
        branch: branch.to_owned(),
        after: Sha(after.to_ascii_lowercase()),
        config_may_have_changed,
    })
}

fn ignored(event: &str, action: Option<String>) -> Event {
    Event::Ignored {
        event: event.to_owned(),
        action,
    }
}

fn github_pr(installation: Option<Installation>, repo: String, number: u64) -> PrRef {
    PrRef {
        forge: ForgeKind::GitHub,
        installation: installation.and_then(|i| i.id),
        repo: RepoName(repo),
        number: PrNumber(number),
    }
}

fn full_name(repository: Option<Repository>) -> Option<String> {
    repository
        .and_then(|r| r.full_name)
        .filter(|name| is_full_name(name))
}

/// A user with a login safe to put in an API path; a missing `type` is `Other` (never a user).
fn actor(user: Option<User>) -> Option<Actor> {
    let user = user?;
    let login = user.login.filter(|l| is_login(l))?;
    Some(Actor {
        login: Login(login),
        id: user.id.map(UserId),
        kind: user
            .kind
            .as_deref()
            .map_or(ActorKind::Other, ActorKind::from_github),
    })
}

/// A GitHub login: letters, digits, `-` and `_` (enterprise managed users), and the `[bot]`
/// suffix of app accounts. Nothing that could step out of an API path.
fn is_login(login: &str) -> bool {
    let name = login.strip_suffix("[bot]").unwrap_or(login);
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// `owner/name`, nothing that could step out of an API path.
fn is_full_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let ok = |s: Option<&str>| {
        s.is_some_and(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// A full SHA-1 or SHA-256 commit id.
fn is_sha(sha: &str) -> bool {
    matches!(sha.len(), 40 | 64) && sha.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests;
