//! Decoding a verified GitLab delivery (`X-Gitlab-Event` + raw JSON) into a typed `Event`, the
//! same events the GitHub decoder yields, so that nothing past the edge knows which forge spoke.
//! Our own minimal `#[serde(default)]` structs, never closed enums: an action or hook GitLab adds
//! tomorrow decodes to `Event::Ignored`. Pure: no I/O, no logging, no token checks (the caller
//! verified the request first).
//!
//! - `Merge Request Hook` (`object_attributes.action`): `open`, `reopen`, `close`, `merge`
//!   (closed, as GitHub's `closed` with `merged`), `update` with `oldrev` (new commits:
//!   `Synchronize`), `update` that changes `target_branch` (`BaseChanged`), `update` that takes
//!   the MR out of draft (`ReadyForReview`); any other `update` is ignored. `approved` and
//!   `approval` (GitLab sends the first when the MR became approved, the second when approvals
//!   are still missing; both mean "this user approved") are an approving review; `unapproved`
//!   and `unapproval` a dismissed one. Hooks without `action` (older GitLab, and some hooks such
//!   as time tracking even now) on an open MR ask for an analysis, which costs no preview for a
//!   head already analysed: missing an opened MR would be worse.
//! - `Note Hook` (and `Confidential Note Hook`) on a merge request: a comment, `Created` (also
//!   when `action` is missing: before GitLab 16.11 only new notes fired the hook) or `Edited`
//!   (`action: update`); GitLab sends nothing when a note is deleted. System notes are ignored.
//! - `System Hook` deliveries are dispatched by `object_kind`; everything else is ignored.
//!
//! GitLab webhooks do not say whether the acting user is a bot: project and group access
//! tokens' users (`project_<id>_bot_…`, `group_<id>_bot_…`), service accounts
//! (`service_account_…`) and GitLab's internal bots are recognised by their user names;
//! `ghost` (a deleted user) is `Other`; everyone else is a `User`.

use serde::Deserialize;

use super::github::DecodeError;
use super::push::PushedCommit;
use crate::audit::Timestamp;
use crate::config::repo;
use crate::event::{
    Actor, ActorKind, CommentAction, CommentId, Event, ForgeKind, Login, PrAction, PrNumber, PrRef,
    RepoName, RepoRef, ReviewAction, ReviewId, ReviewState, Sha, UserId,
};

/// `X-Gitlab-Event` of a merge request hook.
pub const MERGE_REQUEST_HOOK: &str = "Merge Request Hook";
/// `X-Gitlab-Event` of a group member event (a group webhook).
pub const MEMBER_HOOK: &str = "Member Hook";
/// `X-Gitlab-Event` of a comment hook.
pub const NOTE_HOOK: &str = "Note Hook";
/// `X-Gitlab-Event` of a comment hook for an internal (confidential) note.
pub const CONFIDENTIAL_NOTE_HOOK: &str = "Confidential Note Hook";
/// `X-Gitlab-Event` of an instance-wide system hook (the body's `object_kind` says what).
pub const SYSTEM_HOOK: &str = "System Hook";
/// Commits pushed to a branch (or a tag: ignored).
pub const PUSH_HOOK: &str = "Push Hook";
/// A CI pipeline changed state.
pub const PIPELINE_HOOK: &str = "Pipeline Hook";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PipelinePayload {
    object_attributes: Option<PipelineAttributes>,
    /// Set for merge request pipelines only.
    merge_request: Option<PipelineMergeRequest>,
    project: Option<Project>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PipelineAttributes {
    id: Option<u64>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    tag: bool,
    sha: Option<String>,
    status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PipelineMergeRequest {
    iid: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PushPayload {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    before: Option<String>,
    after: Option<String>,
    /// The newest 20 commits of the push (GitLab lists no more).
    commits: Vec<PushedCommit>,
    /// How many commits the push had.
    total_commits_count: Option<usize>,
    project: Option<Project>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AnyPayload {
    object_kind: Option<String>,
    object_attributes: Option<AnyAttributes>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AnyAttributes {
    action: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MergeRequestPayload {
    user: Option<User>,
    project: Option<Project>,
    object_attributes: Option<MergeRequestAttributes>,
    changes: Option<MergeRequestChanges>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MergeRequestAttributes {
    iid: Option<u64>,
    action: Option<String>,
    state: Option<String>,
    /// The previous head, present only when the update pushed commits.
    oldrev: Option<String>,
    last_commit: Option<Commit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Commit {
    id: Option<String>,
}

/// `changes.<field>`: `{previous, current}`, kept as JSON values so that a type GitLab changes
/// one day is a change we do not recognise rather than an undecodable delivery.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Change {
    previous: serde_json::Value,
    current: serde_json::Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MergeRequestChanges {
    target_branch: Option<Change>,
    draft: Option<Change>,
    work_in_progress: Option<Change>,
    title: Option<Change>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Project {
    path_with_namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct User {
    /// Missing from older payloads.
    id: Option<u64>,
    username: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NotePayload {
    user: Option<User>,
    project: Option<Project>,
    object_attributes: Option<NoteAttributes>,
    merge_request: Option<NoteMergeRequest>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoteAttributes {
    id: Option<u64>,
    note: Option<String>,
    noteable_type: Option<String>,
    /// `create` or `update` (GitLab 16.11+); missing before.
    action: Option<String>,
    system: Option<bool>,
    created_at: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoteMergeRequest {
    iid: Option<u64>,
    last_commit: Option<LastCommit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LastCommit {
    id: Option<String>,
}

/// Decodes the body of a delivery whose `X-Gitlab-Event` is `event_name`.
pub fn decode(event_name: &str, body: &[u8]) -> Result<Event, DecodeError> {
    match event_name {
        MERGE_REQUEST_HOOK => merge_request(event_name, parse(body)?),
        NOTE_HOOK | CONFIDENTIAL_NOTE_HOOK => note(event_name, parse(body)?),
        PUSH_HOOK => push(event_name, parse(body)?),
        PIPELINE_HOOK => pipeline(event_name, parse(body)?),
        // A group's members changed (added, removed, access level updated).
        MEMBER_HOOK => {
            parse::<AnyPayload>(body)?;
            Ok(Event::MembershipChanged {
                forge: ForgeKind::GitLab,
            })
        }
        SYSTEM_HOOK => {
            let payload: AnyPayload = parse(body)?;
            match payload.object_kind.as_deref() {
                Some("merge_request") => merge_request(event_name, parse(body)?),
                _ => Ok(ignored(event_name, action_of(payload))),
            }
        }
        other => Ok(ignored(other, action_of(parse(body)?))),
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(body).map_err(|e| DecodeError::NotJson(e.to_string()))
}

fn action_of(payload: AnyPayload) -> Option<String> {
    payload
        .object_attributes
        .and_then(|a| a.action)
        .and_then(|a| a.as_str().map(str::to_owned))
}

/// What a merge request hook means for iamgate.
enum MergeRequestMeaning {
    Pr(PrAction),
    Review(ReviewAction, ReviewState),
    Nothing,
}

fn merge_request(event: &str, p: MergeRequestPayload) -> Result<Event, DecodeError> {
    use MergeRequestMeaning::{Nothing, Pr, Review};
    let attributes = p.object_attributes.unwrap_or_default();
    let changes = p.changes.unwrap_or_default();
    let pushed = attributes
        .oldrev
        .as_deref()
        .is_some_and(|rev| !rev.is_empty());
    let meaning = match attributes.action.as_deref() {
        Some("open") => Pr(PrAction::Opened),
        Some("reopen") => Pr(PrAction::Reopened),
        Some("close" | "merge") => Pr(PrAction::Closed),
        Some("update") => update(pushed, &changes),
        Some("approved" | "approval") => Review(ReviewAction::Submitted, ReviewState::Approved),
        Some("unapproved" | "unapproval") => {
            Review(ReviewAction::Dismissed, ReviewState::Dismissed)
        }
        Some(_) => Nothing,
        None => match attributes.state.as_deref() {
            Some("closed" | "merged") => Pr(PrAction::Closed),
            Some("opened" | "reopened") => match update(pushed, &changes) {
                Nothing => Pr(PrAction::Opened),
                other => other,
            },
            _ => Nothing,
        },
    };
    let action_name = attributes.action.clone().unwrap_or_default();
    let missing = |field| DecodeError::Field {
        event: event.to_owned(),
        action: action_name.clone(),
        field,
    };
    if matches!(meaning, Nothing) {
        return Ok(ignored(event, attributes.action));
    }
    let number = attributes
        .iid
        .filter(|n| *n > 0)
        .ok_or_else(|| missing("object_attributes.iid"))?;
    let repo = project_path(p.project).ok_or_else(|| missing("project.path_with_namespace"))?;
    let head = attributes
        .last_commit
        .and_then(|c| c.id)
        .filter(|sha| is_sha(sha))
        .map(|sha| Sha(sha.to_ascii_lowercase()))
        .ok_or_else(|| missing("object_attributes.last_commit.id"))?;
    let pr = gitlab_pr(repo, number);
    match meaning {
        Pr(action) => {
            let pushed_by = (action == PrAction::Synchronize)
                .then(|| p.user.and_then(|u| u.username).map(Login))
                .flatten();
            Ok(Event::PullRequest {
                pr,
                action,
                head,
                pushed_by,
            })
        }
        Review(action, state) => {
            let user = p.user.unwrap_or_default();
            // GitLab approvals have no id of their own: the approver's user id stands in for
            // it (0 when an older payload omits it).
            let id = ReviewId(user.id.unwrap_or(0));
            let reviewer = actor(Some(user)).ok_or_else(|| missing("user.username"))?;
            Ok(Event::Review {
                pr,
                action,
                id,
                state,
                commit: head,
                reviewer,
            })
        }
        Nothing => Ok(ignored(event, attributes.action)),
    }
}

/// An `update` (or an action-less hook on an open MR): new commits, a new target branch, out of
/// draft, or nothing iamgate cares about (title, labels, reviewers, description...).
fn update(pushed: bool, changes: &MergeRequestChanges) -> MergeRequestMeaning {
    let retargeted = changes
        .target_branch
        .as_ref()
        .is_some_and(|c| c.previous.is_string() && c.previous != c.current);
    if pushed {
        MergeRequestMeaning::Pr(PrAction::Synchronize)
    } else if retargeted {
        MergeRequestMeaning::Pr(PrAction::BaseChanged)
    } else if left_draft(changes) {
        MergeRequestMeaning::Pr(PrAction::ReadyForReview)
    } else {
        MergeRequestMeaning::Nothing
    }
}

/// `changes.draft` (recent), `changes.work_in_progress` (older) or, on versions that only
/// record the title, a `Draft:`/`WIP:` prefix that went away.
fn left_draft(changes: &MergeRequestChanges) -> bool {
    let flag = |c: &Option<Change>| {
        c.as_ref().is_some_and(|c| {
            c.previous.as_bool() == Some(true) && c.current.as_bool() == Some(false)
        })
    };
    let title = changes.title.as_ref().is_some_and(|c| {
        c.previous.as_str().is_some_and(is_draft_title)
            && c.current.as_str().is_some_and(|t| !is_draft_title(t))
    });
    flag(&changes.draft) || flag(&changes.work_in_progress) || title
}

/// GitLab's draft title prefixes: `Draft:`, `[Draft]`, `(Draft)`, `Draft - `, a bare `Draft`,
/// and the older `WIP:`/`[WIP]`.
fn is_draft_title(title: &str) -> bool {
    let lower = title.trim_start().to_ascii_lowercase();
    lower.trim_end() == "draft"
        || ["draft:", "[draft]", "(draft)", "draft - ", "wip:", "[wip]"]
            .iter()
            .any(|prefix| lower.starts_with(prefix))
}

fn note(event: &str, p: NotePayload) -> Result<Event, DecodeError> {
    let attributes = p.object_attributes.unwrap_or_default();
    let action = match attributes.action.as_deref() {
        None | Some("create") => CommentAction::Created,
        Some("update") => CommentAction::Edited,
        Some(_) => return Ok(ignored(event, attributes.action)),
    };
    if attributes.noteable_type.as_deref() != Some("MergeRequest")
        || attributes.system.unwrap_or(false)
    {
        // A note on an issue, a commit or a snippet, or GitLab's own "added 1 commit" notes.
        return Ok(ignored(event, attributes.action));
    }
    let action_name = attributes.action.clone().unwrap_or_default();
    let missing = |field| DecodeError::Field {
        event: event.to_owned(),
        action: action_name.clone(),
        field,
    };
    let merge_request = p.merge_request.unwrap_or_default();
    let number = merge_request
        .iid
        .filter(|n| *n > 0)
        .ok_or_else(|| missing("merge_request.iid"))?;
    let seen_head = merge_request
        .last_commit
        .and_then(|c| c.id)
        .filter(|id| !id.is_empty())
        .map(|id| Sha(id.to_ascii_lowercase()));
    let created_ms = match attributes.created_at.as_deref() {
        None => None,
        Some(text) => Some(note_time(text).ok_or_else(|| missing("object_attributes.created_at"))?),
    };
    let repo = project_path(p.project).ok_or_else(|| missing("project.path_with_namespace"))?;
    let id = attributes
        .id
        .filter(|id| *id > 0)
        .ok_or_else(|| missing("object_attributes.id"))?;
    let author = actor(p.user).ok_or_else(|| missing("user.username"))?;
    Ok(Event::Comment {
        pr: gitlab_pr(repo, number),
        action,
        id: CommentId(id),
        body: attributes.note.unwrap_or_default(),
        author,
        via_app: None,
        created_ms,
        seen_head,
    })
}

/// A note hook's `created_at`: `2015-05-17 18:21:36 UTC` (GitLab's hook format), or RFC 3339.
fn note_time(text: &str) -> Option<i64> {
    let rfc3339 = match text.strip_suffix(" UTC") {
        Some(utc) => format!("{utc}Z"),
        None => text.to_owned(),
    };
    Timestamp::parse_rfc3339(&rfc3339)
        .ok()
        .map(Timestamp::unix_millis)
}

/// A push to a branch; tags and branch deletions are ignored. Whether it may have changed
/// `.iamgate.yml` errs towards yes: when GitLab listed fewer commits than were pushed, or none
/// (a force push back to an older commit), nobody can tell it did not.
fn push(event: &str, p: PushPayload) -> Result<Event, DecodeError> {
    let git_ref = p.git_ref.unwrap_or_default();
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        return Ok(ignored(event, None));
    };
    let missing = |field| DecodeError::Field {
        event: event.to_owned(),
        action: String::new(),
        field,
    };
    let after = p.after.unwrap_or_default();
    if after.bytes().all(|b| b == b'0') && !after.is_empty() {
        // The branch was deleted.
        return Ok(ignored(event, Some("deleted".to_owned())));
    }
    if branch.is_empty() {
        return Err(missing("ref"));
    }
    if !is_sha(&after) {
        return Err(missing("after"));
    }
    let repo = project_path(p.project).ok_or_else(|| missing("project.path_with_namespace"))?;
    let listed = p.commits.len();
    let total = p.total_commits_count.unwrap_or(listed);
    let moved = p.before.as_deref() != Some(after.as_str());
    let config_may_have_changed = total > listed
        || (listed == 0 && moved)
        || p.commits
            .iter()
            .any(|c| c.touches(repo::FILE_PATH) || c.lists_nothing());
    Ok(Event::BranchPush {
        repo: RepoRef {
            forge: ForgeKind::GitLab,
            installation: None,
            repo: RepoName(repo),
        },
        branch: branch.to_owned(),
        after: Sha(after.to_ascii_lowercase()),
        config_may_have_changed,
    })
}

/// A pipeline of a merge request or a branch changed state: the `iamgate` status of the head
/// is checked there (a status lives in one pipeline, "Pipelines must succeed" judges the newest,
/// and anyone with Developer access can post a status named `iamgate` into it, which changes
/// the pipeline's state too). Every state counts: a spoofed `success` shows as a pipeline that
/// finished. The check is cheap and analyzes nothing when the head's status is iamgate's own,
/// so iamgate's own status posts cost no analysis. Tag pipelines are ignored.
fn pipeline(event: &str, p: PipelinePayload) -> Result<Event, DecodeError> {
    let attributes = p.object_attributes.unwrap_or_default();
    let status = attributes.status.clone().unwrap_or_default();
    if attributes.tag {
        return Ok(ignored(event, Some(status)));
    }
    let missing = |field| DecodeError::Field {
        event: event.to_owned(),
        action: status.clone(),
        field,
    };
    attributes
        .id
        .ok_or_else(|| missing("object_attributes.id"))?;
    let repo = project_path(p.project).ok_or_else(|| missing("project.path_with_namespace"))?;
    let sha = attributes
        .sha
        .filter(|sha| is_sha(sha))
        .map(|sha| Sha(sha.to_ascii_lowercase()))
        .ok_or_else(|| missing("object_attributes.sha"))?;
    if let Some(mr) = p.merge_request {
        let iid = mr
            .iid
            .filter(|iid| *iid > 0)
            .ok_or_else(|| missing("merge_request.iid"))?;
        return Ok(Event::PullRequest {
            pr: gitlab_pr(repo, iid),
            action: PrAction::PipelineChanged,
            head: sha,
            pushed_by: None,
        });
    }
    let branch = attributes
        .git_ref
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("object_attributes.ref"))?;
    Ok(Event::BranchPipeline {
        repo: RepoRef {
            forge: ForgeKind::GitLab,
            installation: None,
            repo: RepoName(repo),
        },
        branch,
        sha,
    })
}

fn ignored(event: &str, action: Option<String>) -> Event {
    Event::Ignored {
        event: event.to_owned(),
        action,
    }
}

fn gitlab_pr(repo: String, number: u64) -> PrRef {
    PrRef {
        forge: ForgeKind::GitLab,
        installation: None,
        repo: RepoName(repo),
        number: PrNumber(number),
    }
}

fn project_path(project: Option<Project>) -> Option<String> {
    project
        .and_then(|p| p.path_with_namespace)
        .filter(|path| is_project_path(path))
}

/// A user with a name safe to put in an API path, and what kind of account it is.
fn actor(user: Option<User>) -> Option<Actor> {
    let user = user?;
    let username = user.username.filter(|name| is_username(name))?;
    let kind = actor_kind(&username);
    Some(Actor {
        login: Login(username),
        kind,
        // Older payloads have no id: forge calls then look the account up by name.
        id: user.id.filter(|&id| id > 0).map(UserId),
    })
}

/// The user names of GitLab's internal bot users, lower-cased.
const INTERNAL_BOTS: &[&str] = &[
    "alert-bot",
    "support-bot",
    "visual-review-bot",
    "gitlab-migration-bot",
    "gitlab-security-bot",
    "gitlab-admin-bot",
    "gitlab-llm-bot",
    "automation-bot",
    "suggested-reviewers-bot",
    "gitlabduo",
];

fn actor_kind(username: &str) -> ActorKind {
    let lower = username.to_ascii_lowercase();
    let numbered_bot = |prefix: &str| {
        lower.strip_prefix(prefix).is_some_and(|rest| {
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            digits > 0 && rest[digits..].starts_with("_bot")
        })
    };
    if lower == "ghost" {
        ActorKind::Other
    } else if numbered_bot("project_")
        || numbered_bot("group_")
        || lower.starts_with("service_account_")
        || INTERNAL_BOTS.contains(&lower.as_str())
    {
        ActorKind::Bot
    } else {
        ActorKind::User
    }
}

/// A GitLab user name: letters, digits, `_`, `-` and `.`, not starting or ending with `.` or
/// `-`. Nothing that could step out of an API path.
fn is_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['.', '-'])
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `group/subgroup/.../project`: at least two segments of letters, digits, `_`, `-`, `.`, none
/// of them `.` or `..`.
fn is_project_path(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    (2..=21).contains(&segments.len())
        && path.len() <= 1024
        && segments.iter().all(|s| {
            !s.is_empty()
                && *s != "."
                && *s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// A full SHA-1 or SHA-256 commit id.
fn is_sha(sha: &str) -> bool {
    matches!(sha.len(), 40 | 64) && sha.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests;
