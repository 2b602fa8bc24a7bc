//! Accepting a preview a CI job submits (`POST /api/v1/previews`): the job's ID token verified
//! (`oidc`), then everything it claims checked against the forge at submission time, not only
//! against iamgate's own records (CI can finish before iamgate has handled the pull request's
//! webhook): the open pull requests whose head is the commit are asked of the forge; the token
//! must be of their repository and prove its job ran for that commit (its `sha`, or its ref
//! naming one of those pull requests); no pull request may come from a fork; the stack must be
//! `preview: ci` in each one's base config and the token's workflow allowed by `ci.workflows`.
//! Then the preview, the token id (accepted once) and an analysis of each pull request are
//! stored in one step, and the worker is woken.
//!
//! What it trusts: the issuer's signature, the forge's answers. What it does not: the commit,
//! stack and body the request names, or anything iamgate saw before.

use std::sync::Arc;

use tokio::sync::Notify;

use super::claims::CiKind;
use super::oidc::Verifier;
use crate::config::repo::PreviewSource;
use crate::event::{ForgeKind, PrNumber, RepoName, RepoRef, Sha};
use crate::forge::{Forge, ForgeError};
use crate::jobs::repo_config::{self, Governing};
use crate::jobs::{ForgeProvider, Forges};
use crate::store::{CiPreview, CiSubmitted, CiToken, JobKind, Store};

/// How long a token id is kept past the token's expiry (the verifier's clock skew, and more).
const TOKEN_ID_KEPT_PAST_EXPIRY_MS: i64 = 10 * 60 * 1000;

/// What a submission asks.
#[derive(Debug)]
pub struct Submission<'a> {
    /// The `Authorization: Bearer` token; `None` when the header is missing.
    pub token: Option<&'a str>,
    /// The stack's name in `.iamgate.yml`.
    pub stack: &'a str,
    pub commit: &'a str,
    pub failed: bool,
    /// The body, decompressed.
    pub body: Vec<u8>,
}

/// Why a submission was refused, by the reply it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no token, or not one to accept.
    Unauthorized(String),
    /// 403: the token may not submit this.
    Forbidden(String),
    /// 409: the commit heads no open pull request.
    Conflict(String),
    /// 503: the forge or the store failed; try again.
    Unavailable(String),
}

/// The pull requests a stored submission updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub pull_requests: Vec<u64>,
}

/// Accepts submissions: the verifier, the forges, the store and the worker's wake-up.
#[derive(Debug)]
pub struct Submissions {
    verifier: Verifier,
    forges: Forges,
    store: Arc<dyn Store>,
    notify: Arc<Notify>,
}

fn unavailable(error: &ForgeError) -> Refusal {
    Refusal::Unavailable(format!("the forge could not be asked: {error}"))
}

impl Submissions {
    pub fn new(
        verifier: Verifier,
        forges: Forges,
        store: Arc<dyn Store>,
        notify: Arc<Notify>,
    ) -> Self {
        Submissions {
            verifier,
            forges,
            store,
            notify,
        }
    }

    /// Checks and stores `submission`.
    pub async fn submit(&self, submission: Submission<'_>) -> Result<Accepted, Refusal> {
        let token = submission.token.ok_or_else(|| {
            Refusal::Unauthorized("no `Authorization: Bearer <OIDC ID token>`".into())
        })?;
        let verified = self
            .verifier
            .verify(token)
            .await
            .map_err(|e| Refusal::Unauthorized(e.to_string()))?;
        let (kind, claims) = (verified.kind, verified.claims);
        let repository = claims
            .repository(kind)
            .ok_or_else(|| Refusal::Unauthorized("the token names no repository".into()))?;
        let repo = self.repo(kind, repository).await?;
        let forge = self
            .forges
            .forge(&repo)
            .await
            .map_err(|e| unavailable(&e))?;
        let commit = Sha(submission.commit.to_ascii_lowercase());
        let open = forge
            .open_pull_requests_at(&repo, &commit)
            .await
            .map_err(|e| unavailable(&e))?;
        if open.is_empty() {
            return Err(Refusal::Conflict(format!(
                "{} is not the head of an open pull request of {repository}",
                commit.as_str()
            )));
        }
        let ran_for_commit = claims
            .sha
            .as_deref()
            .is_some_and(|sha| sha.eq_ignore_ascii_case(commit.as_str()))
            || claims
                .pull_request(kind)
                .is_some_and(|n| open.contains(&PrNumber(n)));
        if !ran_for_commit {
            return Err(Refusal::Forbidden(format!(
                "the token's job did not run for {} (its commit and ref name neither it nor a pull request it heads)",
                commit.as_str()
            )));
        }
        let workflow = claims.workflow(kind).unwrap_or_default();
        for number in &open {
            self.check_pull_request(forge.as_ref(), &repo, *number, submission.stack, workflow)
                .await?;
        }
        let jti = claims.jti.clone().unwrap_or_default();
        let keep_until_ms = i64::try_from(claims.exp)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(1000)
            .saturating_add(TOKEN_ID_KEPT_PAST_EXPIRY_MS);
        let preview = CiPreview {
            repo_key: repo.key(),
            commit: commit.as_str().to_owned(),
            stack: submission.stack.to_owned(),
            failed: submission.failed,
            body: submission.body,
            source: claims.source(kind),
            received_ms: 0,
        };
        let jobs = open
            .iter()
            .map(|n| JobKind::AnalyzePr { pr: repo.pr(*n) })
            .collect();
        let token = CiToken {
            issuer: claims.iss.clone(),
            jti,
            keep_until_ms,
        };
        match self.store.put_ci_preview(preview, token, jobs).await {
            Ok(CiSubmitted::Stored) => {}
            Ok(CiSubmitted::TokenReused) => {
                return Err(Refusal::Unauthorized(
                    "the token was already used for a submission: each job's token is accepted once".into(),
                ));
            }
            Err(e) => return Err(Refusal::Unavailable(format!("the store failed: {e}"))),
        }
        self.notify.notify_one();
        tracing::info!(repo = %repo, commit = commit.as_str(), stack = submission.stack, source = %claims.source(kind), "preview from CI accepted");
        Ok(Accepted {
            pull_requests: open.iter().map(|n| n.0).collect(),
        })
    }

    /// The repository the token names, on the forge its issuer belongs to (with the GitHub
    /// App's installation on it).
    async fn repo(&self, kind: CiKind, repository: &str) -> Result<RepoRef, Refusal> {
        let name = RepoName(repository.to_owned());
        match (kind, &self.forges.github, &self.forges.gitlab) {
            (CiKind::GitHubActions, Some(app), _) => {
                let installation = app
                    .installation_for(&name)
                    .await
                    .map_err(|e| unavailable(&e))?
                    .ok_or_else(|| {
                        Refusal::Forbidden(format!(
                            "the iamgate App is not installed on {repository}"
                        ))
                    })?;
                Ok(RepoRef {
                    forge: ForgeKind::GitHub,
                    installation: Some(installation),
                    repo: name,
                })
            }
            (CiKind::GitLabCi, _, Some(_)) => Ok(RepoRef {
                forge: ForgeKind::GitLab,
                installation: None,
                repo: name,
            }),
            _ => Err(Refusal::Forbidden(
                "this server does not serve the forge of the token's CI".into(),
            )),
        }
    }

    /// Pull request `number` may take the submission: not a fork, its base config has `stack`
    /// as `preview: ci`, and `workflow` is allowed to submit.
    async fn check_pull_request(
        &self,
        forge: &dyn Forge,
        repo: &RepoRef,
        number: PrNumber,
        stack: &str,
        workflow: &str,
    ) -> Result<(), Refusal> {
        let pr_ref = repo.pr(number);
        let pr = forge
            .pull_request(&pr_ref)
            .await
            .map_err(|e| unavailable(&e))?;
        if pr.is_fork(&repo.repo) {
            return Err(Refusal::Forbidden(format!(
                "#{} comes from a fork: previews of fork code are not accepted from CI",
                number.0
            )));
        }
        let config = match repo_config::governing(forge, &pr_ref, &pr).await {
            Ok(Governing::Valid(config)) => config,
            Ok(Governing::NotEnrolled) => {
                return Err(Refusal::Forbidden(format!(
                    "{} is not enrolled: no .iamgate.yml on the base branch of #{}",
                    repo.repo, number.0
                )));
            }
            Ok(Governing::Invalid(_)) => {
                return Err(Refusal::Forbidden(format!(
                    "the .iamgate.yml on the base branch of #{} is invalid",
                    number.0
                )));
            }
            Err(e) => {
                return Err(Refusal::Unavailable(format!(
                    "the config could not be read: {e}"
                )));
            }
        };
        match config.stacks.iter().find(|s| s.name == stack) {
            Some(s) if s.preview == PreviewSource::Ci => {}
            Some(_) => {
                return Err(Refusal::Forbidden(format!(
                    "stack {stack} is not `preview: ci` in the base branch's .iamgate.yml"
                )));
            }
            None => {
                return Err(Refusal::Forbidden(format!(
                    "no stack named {stack} in the base branch's .iamgate.yml"
                )));
            }
        }
        if !config.ci.allows(workflow) {
            return Err(Refusal::Forbidden(format!(
                "the workflow {workflow:?} is not allowed to submit previews (`ci.workflows`)"
            )));
        }
        Ok(())
    }
}
