//! The queue's [`JobHandler`] for the server: dispatches a claimed job to the job that does it
//! (and a given-up job to whoever must be told), and the [`Forges`] provider that picks the forge
//! client for a pull request.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::Instrument;

use super::ctx::{ForgeProvider, JobCtx};
use super::{command, pr, recheck};
use crate::event::{ForgeKind, RepoRef, UserRef};
use crate::forge::github::GitHubApp;
use crate::forge::gitlab::GitLabClient;
use crate::forge::{Forge, ForgeError, ForgeErrorKind, ForgeResult, RetryClass};
use crate::queue::{Handled, JobFailure, JobHandler};
use crate::store::{ClaimedJob, JobKind};

/// Runs every kind of job with one shared [`JobCtx`].
#[derive(Debug, Clone)]
pub struct Jobs {
    ctx: JobCtx,
}

impl Jobs {
    pub fn new(ctx: JobCtx) -> Self {
        Jobs { ctx }
    }
}

#[async_trait]
impl JobHandler for Jobs {
    async fn handle(&self, job: &ClaimedJob) -> Result<Handled, JobFailure> {
        match &job.kind {
            JobKind::AnalyzePr { pr } => {
                let span = tracing::info_span!("analyze_pr", pr = %pr, job = job.id, attempt = job.attempt, lane = %job.lane);
                pr::run(&self.ctx, pr, job.lane).instrument(span).await
            }
            JobKind::Command {
                pr,
                comment,
                author,
                author_id,
                body,
                created_ms,
                seen_head,
            } => {
                let span = tracing::info_span!("command", pr = %pr, comment = %comment, job = job.id, attempt = job.attempt);
                let comment = command::Said {
                    id: *comment,
                    author: UserRef {
                        login: author,
                        id: *author_id,
                    },
                    body,
                    created_ms: *created_ms,
                    seen_head: seen_head.as_ref(),
                };
                command::run(&self.ctx, pr, comment, job.attempt)
                    .instrument(span)
                    .await
                    .map(|()| Handled::Done)
            }
            JobKind::RecheckBranch { repo, branch, role } => {
                let span = tracing::info_span!("recheck_branch", repo = %repo, branch = %branch, ?role, job = job.id, attempt = job.attempt);
                recheck::run(&self.ctx, repo, branch, *role)
                    .instrument(span)
                    .await
                    .map(|()| Handled::Done)
            }
            JobKind::CheckStatus { pr } => {
                let span = tracing::info_span!("check_status", pr = %pr, job = job.id, attempt = job.attempt);
                pr::check_status(&self.ctx, pr)
                    .instrument(span)
                    .await
                    .map(|()| Handled::Done)
            }
        }
    }

    /// A pull request whose analysis was given up gets a failure status and a comment saying
    /// what failed; a comment whose commands were, a reply saying to comment again. A recheck
    /// has nobody to tell (the worker logs it).
    async fn gave_up(&self, job: &ClaimedJob, reason: &str) -> Result<(), JobFailure> {
        match &job.kind {
            JobKind::AnalyzePr { pr } => {
                let span = tracing::info_span!("gave_up", pr = %pr, job = job.id);
                pr::gave_up(&self.ctx, pr, job.id, reason)
                    .instrument(span)
                    .await
            }
            JobKind::Command { pr, comment, .. } => {
                let span =
                    tracing::info_span!("gave_up", pr = %pr, comment = %comment, job = job.id);
                command::gave_up(&self.ctx, pr, *comment, reason)
                    .instrument(span)
                    .await
            }
            JobKind::RecheckBranch { .. } | JobKind::CheckStatus { .. } => Ok(()),
        }
    }
}

/// The forges this server is configured for; a pull request of another forge cannot be served.
#[derive(Debug, Clone, Default)]
pub struct Forges {
    pub github: Option<GitHubApp>,
    pub gitlab: Option<GitLabClient>,
}

#[async_trait]
impl ForgeProvider for Forges {
    async fn forge(&self, repo: &RepoRef) -> ForgeResult<Arc<dyn Forge>> {
        match (repo.forge, &self.github, &self.gitlab) {
            (ForgeKind::GitHub, Some(app), _) => Ok(Arc::new(app.client_for_repo(repo)?)),
            (ForgeKind::GitLab, _, Some(client)) => Ok(Arc::new(client.clone())),
            _ => Err(not_configured(repo)),
        }
    }
}

fn not_configured(repo: &RepoRef) -> ForgeError {
    ForgeError {
        operation: format!("address {repo}"),
        message: format!("this server has no {:?} configuration", repo.forge),
        kind: ForgeErrorKind::NotConfigured,
        retry: RetryClass::GiveUp,
        status: None,
    }
}
