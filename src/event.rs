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
        let forge = match self.forge {
            ForgeKind::GitHub => "github",
            ForgeKind::GitLab => "gitlab",
        };
        format!("{forge}:{}{}", self.repo, self.number)
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
    Closed,
}

impl PrAction {
    /// Whether this action asks for a (re-)analysis.
    pub fn triggers_analysis(self) -> bool {
        !matches!(self, PrAction::Closed)
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
    },
    /// The forge checks that the hook works.
    Ping,
    /// An event iamgate does not act on (answered 2xx, stored for the record, no job).
    Ignored {
        event: String,
        action: Option<String>,
    },
}
