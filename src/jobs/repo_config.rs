//! Which `.iamgate.yml` governs a pull request, for the PR flow and the commands alike: the one
//! on the base branch's tip now, so that guardrails tightened after the pull request was opened
//! apply to it (a push to the base branch that changes the file analyzes its open pull requests
//! again: `jobs::recheck`); the pull request's base commit when the branch is gone. Never the
//! head's: a pull request cannot lower its own bar. Its own copy is only validated and shown.

use crate::config::repo::{self, RepoConfig};
use crate::config::{Problem, Problems};
use crate::event::{PrRef, Sha};
use crate::forge::{Forge, ForgeErrorKind, PullRequest};
use crate::queue::JobFailure;

/// The config that governs a pull request, as found on its base branch.
#[derive(Debug)]
pub enum Governing {
    /// No `.iamgate.yml`: the repository is not enrolled.
    NotEnrolled,
    /// There is one, and it is broken: iamgate cannot decide (it fails closed).
    Invalid(Problems),
    Valid(Box<RepoConfig>),
}

/// Reads and parses the governing config.
pub async fn governing(
    forge: &dyn Forge,
    pr_ref: &PrRef,
    pr: &PullRequest,
) -> Result<Governing, JobFailure> {
    let at = forge
        .branch_tip(&pr_ref.repo_ref(), &pr.base_ref)
        .await?
        .unwrap_or_else(|| pr.base.clone());
    Ok(match read(forge, pr_ref, &at).await? {
        Read::Missing => Governing::NotEnrolled,
        Read::Link(message) => Governing::Invalid(Problems(vec![Problem {
            path: String::new(),
            line: None,
            message,
        }])),
        Read::File(bytes) => match repo::parse_bytes(&bytes) {
            Ok(config) => Governing::Valid(Box::new(config)),
            Err(problems) => Governing::Invalid(problems),
        },
    })
}

/// `.iamgate.yml` at a commit, as read.
enum Read {
    Missing,
    /// A symbolic link: refused alike on both forges, with the forge's message.
    Link(String),
    File(Vec<u8>),
}

async fn read(forge: &dyn Forge, pr_ref: &PrRef, at: &Sha) -> Result<Read, JobFailure> {
    match forge.file_at(pr_ref, repo::FILE_PATH, at).await {
        Ok(None) => Ok(Read::Missing),
        Ok(Some(bytes)) => Ok(Read::File(bytes)),
        Err(error) if error.kind == ForgeErrorKind::SymbolicLink => Ok(Read::Link(error.message)),
        Err(error) => Err(error.into()),
    }
}

/// The note for a pull request that edits `.iamgate.yml`: its own copy validated, the base
/// copy governing.
pub async fn change_note(
    forge: &dyn Forge,
    pr_ref: &PrRef,
    head: &Sha,
) -> Result<String, JobFailure> {
    let base = "This pull request changes .iamgate.yml, the guardrails themselves: it is reviewed as high risk, \
                and the base branch's copy still governs this pull request.";
    Ok(match read(forge, pr_ref, head).await? {
        Read::Missing => {
            format!("{base} It deletes the file: after merge the repository is no longer enrolled.")
        }
        Read::Link(message) => {
            format!("{base} Its new copy would stop iamgate after merge: {message}")
        }
        Read::File(bytes) => match repo::parse_bytes(&bytes) {
            Ok(_) => base.to_owned(),
            Err(problems) => format!(
                "{base} Its new copy is invalid and would stop iamgate after merge: {problems}"
            ),
        },
    })
}
