//! Typed events: what the webhook edge decodes a delivery into. Nothing past the edge sees
//! headers or raw JSON. Identities are newtypes so that a SHA is never passed as a login.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }
    };
}

newtype!(
    /// `owner/name` (GitHub) or the project's full path (GitLab).
    RepoName
);
newtype!(
    /// A full commit SHA.
    Sha
);
newtype!(
    /// A forge user name, without `@`.
    Login
);
newtype!(
    /// The forge's delivery id (`X-GitHub-Delivery`, GitLab `Idempotency-Key`/event UUID).
    DeliveryId
);

/// A pull/merge request number (GitHub number, GitLab iid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrNumber(pub u64);

impl fmt::Display for PrNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Which forge an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    GitHub,
    GitLab,
}

/// A repository, fully addressed: forge, installation (GitHub App), path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RepoRef {
    pub forge: ForgeKind,
    /// GitHub App installation id; `None` on GitLab.
    pub installation: Option<u64>,
    pub repo: RepoName,
}

impl RepoRef {
    /// Pull request `number` of this repository.
    pub fn pr(&self, number: PrNumber) -> PrRef {
        PrRef {
            forge: self.forge,
            installation: self.installation,
            repo: self.repo.clone(),
            number,
        }
    }

    /// A stable key for coalescing: `github:owner/name`.
    pub fn key(&self) -> String {
        let forge = match self.forge {
            ForgeKind::GitHub => "github",
            ForgeKind::GitLab => "gitlab",
        };
        format!("{forge}:{}", self.repo)
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repo)
    }
}

/// Which pull requests of a branch: those that merge into it, or those that come from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BranchRole {
    /// Pull requests whose base (GitLab: target) is the branch.
    #[default]
    Base,
    /// Pull requests whose head (GitLab: source) is the branch, in the same repository.
    Head,
}

/// A pull request, fully addressed: forge, installation (GitHub App), repository, number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PrRef {
    pub forge: ForgeKind,
    /// GitHub App installation id; `None` on GitLab.
    pub installation: Option<u64>,
    pub repo: RepoName,
    pub number: PrNumber,
}

impl PrRef {
    /// A stable key for coalescing and per-PR state: `github:owner/name#12`.
    pub fn key(&self) -> String {
        format!("{}{}", self.repo_ref().key(), self.number)
    }

    /// The pull request's repository.
    pub fn repo_ref(&self) -> RepoRef {
        RepoRef {
            forge: self.forge,
            installation: self.installation,
            repo: self.repo.clone(),
        }
    }
}

impl fmt::Display for PrRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.repo, self.number)
    }
}

/// What happened to a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrAction {
    Opened,
    Synchronize,
    Reopened,
    ReadyForReview,
    BaseChanged,
    /// A CI pipeline of the merge request changed state (GitLab): a new pipeline needs the
    /// gate's status in it, and a finished one may show a status someone else posted under
    /// iamgate's name. Checked, not analyzed again.
    #[serde(alias = "pipeline_started")]
    PipelineChanged,
    Closed,
}

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

numeric_id!(
    /// A pull request comment's id (GitHub issue comment id, GitLab note id).
    CommentId
);
numeric_id!(
    /// A pull request review's id.
    ReviewId
);
numeric_id!(
    /// A forge account's numeric id (GitHub `user.id`, GitLab `user.id`): unlike the login, it
    /// survives a rename and is never reused.
    UserId
);

/// A forge account, as the forge describes it (GitHub `user.type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub login: Login,
    pub kind: ActorKind,
    /// The account's id when the forge said it (older GitLab payloads do not): forge calls
    /// about this account use it, so that a rename between the event and the call cannot point
    /// them at another account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<UserId>,
}

impl Actor {
    /// The account as forge calls about it need it.
    pub fn user(&self) -> UserRef<'_> {
        UserRef {
            login: &self.login,
            id: self.id,
        }
    }
}

/// An account named in a forge call: its login, and its id when known. A forge that can look
/// accounts up by id (GitLab) uses the id and falls back to the login; GitHub's membership and
/// permission endpoints take the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserRef<'a> {
    pub login: &'a Login,
    pub id: Option<UserId>,
}

impl<'a> UserRef<'a> {
    /// An account known by login only.
    pub fn login(login: &'a Login) -> Self {
        UserRef { login, id: None }
    }
}

/// What kind of account acted. Only [`ActorKind::User`] can ever grant anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person.
    User,
    /// A GitHub App or bot account (`login` ends in `[bot]`), iamgate itself included.
    Bot,
    /// Anything else the forge reports (`Organization`, `Mannequin`, a missing type).
    Other,
}

impl ActorKind {
    /// From GitHub's `user.type` (`User`, `Bot`, ...); case-insensitive, unknown is `Other`.
    pub fn from_github(kind: &str) -> Self {
        if kind.eq_ignore_ascii_case("user") {
            ActorKind::User
        } else if kind.eq_ignore_ascii_case("bot") {
            ActorKind::Bot
        } else {
            ActorKind::Other
        }
    }
}

/// The GitHub App a comment was made through (`performed_via_github_app`): a user-to-server
/// token, so the comment's author is a person but an app wrote the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ViaApp {
    pub id: u64,
    pub slug: String,
}

/// What happened to a pull request comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentAction {
    Created,
    /// Edited: never grants anything (the text may no longer be what was first read).
    Edited,
    Deleted,
}

/// What happened to a pull request review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    Submitted,
    /// The review's body was edited; its state did not change.
    Edited,
    /// A maintainer dismissed the review: an approval or change request it carried is withdrawn.
    Dismissed,
}

/// A review's state (GitHub webhooks send it lower-case, REST upper-case; both decode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    Dismissed,
    Pending,
    /// A state this version does not know: never an approval.
    Other(String),
}

impl ReviewState {
    /// From the forge's state name, case-insensitively.
    pub fn parse(state: &str) -> Self {
        match state.to_ascii_lowercase().as_str() {
            "approved" => ReviewState::Approved,
            "changes_requested" => ReviewState::ChangesRequested,
            "commented" => ReviewState::Commented,
            "dismissed" => ReviewState::Dismissed,
            "pending" => ReviewState::Pending,
            _ => ReviewState::Other(state.to_owned()),
        }
    }
}

/// A decoded delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A pull request was opened, pushed to, reopened, marked ready, retargeted or closed.
    PullRequest {
        pr: PrRef,
        action: PrAction,
        head: Sha,
        /// Who pushed the new commits, for a [`PrAction::Synchronize`] (the webhook's sender):
        /// they count as an author of the pull request, so their approval does not count.
        pushed_by: Option<Login>,
    },
    /// A comment on a pull request was created, edited or deleted (comments on issues are
    /// `Ignored`). Only a `Created` comment by a `User` may carry commands.
    Comment {
        pr: PrRef,
        action: CommentAction,
        id: CommentId,
        /// The comment's text as the forge holds it now (after an edit: the new text).
        body: String,
        author: Actor,
        /// Set when an app posted the comment on the author's behalf.
        via_app: Option<ViaApp>,
        /// When the comment was made (Unix milliseconds), as the forge says; an approval binds to
        /// the head its author could see then.
        created_ms: Option<i64>,
        /// The pull request's head when the comment was made, when the forge says (GitLab's note
        /// hook: `merge_request.last_commit`).
        seen_head: Option<Sha>,
    },
    /// A review on a pull request was submitted, edited or dismissed.
    Review {
        pr: PrRef,
        action: ReviewAction,
        id: ReviewId,
        state: ReviewState,
        /// The head the review was given on.
        commit: Sha,
        reviewer: Actor,
    },
    /// Commits were pushed to a branch (not a pull request's own event: any branch, a base
    /// branch included).
    BranchPush {
        repo: RepoRef,
        /// The branch name, without `refs/heads/`.
        branch: String,
        /// The branch's new tip.
        after: Sha,
        /// The push may have changed `.iamgate.yml`: a listed commit touched it, or the forge
        /// did not list every commit (a force push, a long push), so nobody can tell it did not.
        config_may_have_changed: bool,
    },
    /// A CI pipeline started for commit `sha` of `branch` outside a merge request's own
    /// pipelines (GitLab branch pipelines): the merge requests from that branch must carry the
    /// `iamgate` status in it, or "Pipelines must succeed" would judge a pipeline without it.
    BranchPipeline {
        repo: RepoRef,
        branch: String,
        sha: Sha,
    },
    /// Team or group membership changed somewhere (GitHub `membership`, `team`, `organization`
    /// member events; GitLab group member events): cached membership answers are stale.
    MembershipChanged { forge: ForgeKind },
    /// The forge checks that the hook works.
    Ping,
    /// An event iamgate does not act on (answered 2xx, stored for the record, no job).
    Ignored {
        event: String,
        action: Option<String>,
    },
}
