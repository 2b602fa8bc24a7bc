//! The GitLab client: `Forge` over GitLab's REST API (`/api/v4`) for merge requests, with a
//! personal, project or group access token sent as `PRIVATE-TOKEN`, our own retry policy (the
//! [`RetryPolicy`] both forges share), `x-next-page` pagination and archives streamed to disk.
//! Never logs the token.
//!
//! [`GitLabClient`] is the `Forge`. A merge request is addressed by a [`crate::event::PrRef`]
//! with `forge: GitLab`, no installation, the project's full path as `repo`
//! (`group/sub/project`) and the MR iid as `number`. "Teams" are group full paths
//! (`acme/security`); iamgate's own notes are those written by the token's user.

mod access;
mod archive;
mod client;
mod comments;
mod pagination;
mod pull_requests;
mod retry;
mod reviews;
mod setup;
mod transport;

pub use crate::forge::retry::RetryPolicy;
pub use client::{COMMENT_LIMIT, GitLabClient, Me, STATUS_DESCRIPTION_LIMIT, UNKNOWN_FORK};
pub use setup::GitLabSetupError;

pub use crate::config::TeamMembership;

/// What the server config decides about how iamgate acts on GitLab.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GitLabOptions {
    pub team_membership: TeamMembership,
    /// Approve merge requests whose verdict is `success` as the token's user, and withdraw the
    /// approval otherwise (for an approval rule that requires that user).
    pub approve_merge_requests: bool,
}
