//! The preview source of the PR flow: each selected stack's `pulumi preview --json` at the head
//! — from the preview cache when this head was previewed before, else (in the queue's preview
//! lane only) by downloading and unpacking the head once and running the preview per stack —
//! then analyzed into the stack's outcome. A fork's code is not run unless the server allows it.

use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::PrRun;
use crate::config::repo::{PreviewSource, RepoConfig, StackConfig};
use crate::engine::{StackOutcome, analyze, preview};
use crate::event::{PrRef, Sha};
use crate::forge::{CommitStatus, Forge};
use crate::gate::GateState;
use crate::jobs::ctx::JobCtx;
use crate::jobs::failure;
use crate::pulumi::{Place, unpack};
use crate::queue::JobFailure;
use crate::store::Lane;
use crate::store::previews::PreviewRun;

const FORK_NOTE: &str = "This pull request comes from a fork: iamgate does not run previews of fork code (it would execute \
                         untrusted code with the preview credentials). A maintainer must review the IAM change by hand, \
                         or push the branch to this repository.";
const FORK_REASON: &str = "The pull request comes from a fork: its code is not run here.";
const FORK_SUMMARY: &str =
    "fork PR not previewed: a maintainer must review it (see the iamgate comment)";
const NOT_SERVED_NOTE: &str = "This repository is not among the repositories this iamgate server previews ([pulumi] repositories \
                               of its config), so its code is not run with the server's preview credentials. Ask the iamgate \
                               administrators to add it; until then a maintainer must review the IAM change by hand.";
const NOT_SERVED_REASON: &str =
    "The repository is not served by this iamgate server: its code is not run here.";
const NOT_SERVED_SUMMARY: &str =
    "repository not served by this iamgate: not previewed (see the iamgate comment)";

/// Stacks with their outcome at the head, in the order of the stacks selected.
type Outcomes<'c> = Vec<(&'c StackConfig, StackOutcome)>;

/// Each stack's outcome at the head, in the order of `stacks`; `None` when a preview must run
/// and the job is not in the preview lane.
pub(super) async fn outcomes<'c>(
    run: PrRun<'_>,
    config: &RepoConfig,
    stacks: &[&'c StackConfig],
    notes: &mut Vec<String>,
    submitted_by: &mut Vec<String>,
) -> Result<Option<Outcomes<'c>>, JobFailure> {
    if stacks.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let served = run
        .ctx
        .settings
        .repositories
        .as_ref()
        .is_none_or(|allowed| allowed.allows(run.pr_ref.repo.as_str()));
    let fork = run.pr.is_fork(&run.pr_ref.repo);
    let (ci, server): (Vec<_>, Vec<_>) = stacks
        .iter()
        .enumerate()
        .partition(|(_, s)| s.preview == PreviewSource::Ci);
    let mut outcomes: Vec<Option<StackOutcome>> = vec![None; stacks.len()];
    // `preview: ci`: never previewed here. A fork's CI job runs the fork's code and its
    // submissions are refused, so a fork's CI stacks are not run, as its server stacks.
    for (i, stack) in &ci {
        outcomes[*i] = Some(if fork {
            fork_outcome()
        } else {
            submitted(run, stack, config, notes, submitted_by).await?
        });
    }
    if fork && !ci.is_empty() && server.is_empty() {
        notes.push(FORK_NOTE.to_owned());
    }
    if !server.is_empty() {
        let not_run = if !served {
            Some((NOT_SERVED_NOTE, NOT_SERVED_REASON, NOT_SERVED_SUMMARY))
        } else if fork && !run.ctx.settings.allow_fork_prs {
            Some((FORK_NOTE, FORK_REASON, FORK_SUMMARY))
        } else {
            None
        };
        if let Some((note, reason, summary)) = not_run {
            notes.push(note.to_owned());
            let outcome = StackOutcome::NotRun {
                reason: reason.to_owned(),
                summary: summary.to_owned(),
            };
            for (i, _) in &server {
                outcomes[*i] = Some(outcome.clone());
            }
        } else {
            let previewed: Vec<&StackConfig> = server.iter().map(|(_, s)| **s).collect();
            let Some(runs) = preview_runs(run, &previewed).await? else {
                return Ok(None);
            };
            for ((i, stack), preview) in server.iter().zip(runs) {
                outcomes[*i] = Some(analyze_run(stack, preview, config));
            }
        }
    }
    Ok(Some(
        stacks
            .iter()
            .zip(outcomes)
            .map(|(stack, outcome)| (*stack, outcome.unwrap_or_else(|| waiting_for_ci(stack))))
            .collect(),
    ))
}

fn fork_outcome() -> StackOutcome {
    StackOutcome::NotRun {
        reason: FORK_REASON.to_owned(),
        summary: FORK_SUMMARY.to_owned(),
    }
}

/// A `preview: ci` stack's outcome at the head: its submitted preview analyzed exactly as one
/// run here (a failed one fails the check with its log), and the comment names the run that sent
/// it; else waiting for it.
async fn submitted(
    run: PrRun<'_>,
    stack: &StackConfig,
    config: &RepoConfig,
    notes: &mut Vec<String>,
    submitted_by: &mut Vec<String>,
) -> Result<StackOutcome, JobFailure> {
    let repo_key = run.pr_ref.repo_ref().key();
    let Some(preview) = run
        .ctx
        .store
        .ci_preview(&repo_key, run.pr.head.as_str(), &stack.name)
        .await?
    else {
        return Ok(waiting_for_ci(stack));
    };
    submitted_by.push(format!("{}: {}", stack.name, preview.source));
    // Notes are escaped as text when the comment is rendered.
    notes.push(format!(
        "The preview of stack {} was submitted by CI: {}. It is what that job's run of this pull \
         request's code printed, not a preview iamgate ran in its sandbox.",
        stack.name, preview.source
    ));
    if preview.failed {
        let log = String::from_utf8_lossy(&preview.body);
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Ok(StackOutcome::Failed {
            reason: format!(
                "The preview from CI failed ({}):\n{}",
                preview.source,
                tail.join("\n")
            ),
        });
    }
    Ok(match preview::parse(&preview.body) {
        Ok(p) => StackOutcome::Analyzed(Box::new(analyze(&p, &config.risk))),
        Err(e) => StackOutcome::Failed {
            reason: format!(
                "The preview submitted by CI ({}) could not be read: {e}",
                preview.source
            ),
        },
    })
}

/// A `preview: ci` stack whose preview of the head has not been submitted: the status waits
/// for it (`pending`), and nothing of the pull request runs here.
fn waiting_for_ci(stack: &StackConfig) -> StackOutcome {
    StackOutcome::NotRun {
        reason: "This stack is previewed by CI (`preview: ci`): iamgate waits for a CI job to submit the preview of \
                 this commit (`iamgate submit`), and runs nothing itself."
            .to_owned(),
        summary: format!("waiting for the preview of {} from CI", stack.name),
    }
}

/// Each stack's preview at the head: cached, or run now (then cached) in the preview lane;
/// `None` when one must run and the job is in another lane.
async fn preview_runs(
    run: PrRun<'_>,
    stacks: &[&StackConfig],
) -> Result<Option<Vec<Option<PreviewRun>>>, JobFailure> {
    let (ctx, forge, pr_ref, head) = (run.ctx, run.forge, run.pr_ref, &run.pr.head);
    let cache = &ctx.settings.previews;
    let mut previews: Vec<Option<PreviewRun>> = Vec::with_capacity(stacks.len());
    for stack in stacks {
        previews.push(cache.load(pr_ref, stack, head).await);
    }
    if previews.iter().all(Option::is_some) {
        info!(pr = %pr_ref, sha = %head, "previews of this head are cached: not previewing again");
        return Ok(Some(previews));
    }
    if run.lane != Lane::Preview {
        return Ok(None);
    }
    // Only when a preview runs: a recomputation from cached previews takes milliseconds, and a
    // status flickering back to pending would only confuse.
    let analyzing = CommitStatus {
        state: GateState::Pending,
        description: "analyzing the IAM change".into(),
        target_url: None,
    };
    forge.set_status(pr_ref, head, &analyzing).await?;
    // A new head is previewed: an approval iamgate gave an earlier head no longer stands.
    forge.sign_off(pr_ref, head, GateState::Pending).await?;
    let fresh = run_previews(ctx, forge, pr_ref, head, stacks, &previews).await?;
    for (i, outcome) in fresh {
        cache.save(pr_ref, stacks[i], head, outcome.clone()).await;
        previews[i] = Some(outcome);
    }
    Ok(Some(previews))
}

/// Downloads and unpacks the head once and previews the stacks that have no cached outcome.
async fn run_previews(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    head: &Sha,
    stacks: &[&StackConfig],
    cached: &[Option<PreviewRun>],
) -> Result<Vec<(usize, PreviewRun)>, JobFailure> {
    let missing: Vec<usize> = (0..stacks.len()).filter(|i| cached[*i].is_none()).collect();
    std::fs::create_dir_all(&ctx.settings.workspace_root)
        .map_err(|e| failure::backoff(format!("cannot create the workspace root: {e}")))?;
    let workspace = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&ctx.settings.workspace_root)
        .map_err(|e| failure::backoff(format!("cannot create a workspace: {e}")))?;
    let archive = workspace.path().join("head.tar.gz");
    forge
        .download_archive(pr_ref, head, &archive, ctx.settings.archive_max_bytes)
        .await?;
    let dest = workspace.path().join("src");
    let limits = ctx.settings.unpack.clone();
    let unpacked = tokio::task::spawn_blocking(move || unpack(&archive, &dest, &limits))
        .await
        .map_err(|e| failure::backoff(format!("unpacking panicked: {e}")))?;
    let root = match unpacked {
        Ok(root) => root,
        Err(e) => {
            let reason = format!("The head commit's archive could not be unpacked safely: {e}");
            return Ok(missing
                .into_iter()
                .map(|i| (i, PreviewRun::Failed(reason.clone())))
                .collect());
        }
    };
    let caches = repository_caches(&ctx.settings.caches, pr_ref)
        .map_err(|e| failure::backoff(format!("cannot create the repository's caches: {e}")))?;
    let mut out = Vec::with_capacity(missing.len());
    for i in missing {
        let repo = pr_ref.repo.as_str();
        out.push((i, run_preview(ctx, &root, &caches, repo, stacks[i]).await));
    }
    Ok(out)
}

/// The repository's own cache directory under `root` (owner only): what one repository's pull
/// requests install there is never used for another repository.
fn repository_caches(root: &Path, pr_ref: &PrRef) -> std::io::Result<PathBuf> {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::DirBuilderExt;
    let repo = pr_ref.repo_ref();
    // Forges compare repository names without case: one directory per repository.
    let name = repo.repo.as_str().to_ascii_lowercase();
    let key = Sha256::digest(format!("{:?}\0{name}", repo.forge).as_bytes());
    let dir = root.join(&hex::encode(key)[..32]);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    Ok(dir)
}

/// Installs one stack's dependencies and runs its preview; a failure becomes the reason shown in
/// the comment.
async fn run_preview(
    ctx: &JobCtx,
    root: &Path,
    caches: &Path,
    repo: &str,
    stack: &StackConfig,
) -> PreviewRun {
    let dir = root.join(&stack.dir);
    if !dir.is_dir() {
        return PreviewRun::Failed(format!(
            "The stack directory `{}` does not exist at the head commit. Fix `dir` of stack `{}` in .iamgate.yml.",
            stack.dir, stack.name
        ));
    }
    let place = Place {
        workspace: root,
        project_dir: &dir,
        caches: Some(caches),
        repo: Some(repo),
        stack: Some(&stack.stack),
    };
    match ctx.runner.install(place).await {
        None => {}
        Some(Err(e)) => return PreviewRun::Failed(e.to_string()),
        Some(Ok(output)) if output.exit_code != Some(0) => {
            let what = "pulumi install failed: the program's dependencies or plugins could not be installed";
            return PreviewRun::Failed(failure_text(what, output.exit_code, "", &output.stderr));
        }
        Some(Ok(_)) => {}
    }
    let output = match ctx.runner.preview(place, &stack.stack).await {
        Ok(o) => o,
        Err(e) => return PreviewRun::Failed(e.to_string()),
    };
    // Masked before anything reads it: the analysis, the cache and the comment see no secret.
    let stdout = ctx.runner.mask_output(output.stdout);
    if output.exit_code == Some(0) {
        return PreviewRun::Output(stdout);
    }
    let errors: Vec<String> = preview::parse(&stdout)
        .map(|p| {
            p.diagnostics
                .iter()
                .filter(|d| d.severity == "error")
                .map(|d| d.message.clone())
                .collect()
        })
        .unwrap_or_default();
    PreviewRun::Failed(failure_text(
        "pulumi preview failed",
        output.exit_code,
        &errors.join("\n"),
        &output.stderr,
    ))
}

/// The stack's outcome from its preview: the analysis of a successful preview's output (masked
/// when it was run).
fn analyze_run(stack: &StackConfig, run: Option<PreviewRun>, config: &RepoConfig) -> StackOutcome {
    let stdout = match run {
        Some(PreviewRun::Output(stdout)) => stdout,
        Some(PreviewRun::Failed(reason)) => return StackOutcome::Failed { reason },
        None => {
            return StackOutcome::Failed {
                reason: "the preview did not run".to_owned(),
            };
        }
    };
    match preview::parse(&stdout) {
        Ok(p) => StackOutcome::Analyzed(Box::new(analyze(&p, &config.risk))),
        Err(e) => {
            warn!(stack = %stack.name, "preview output unreadable: {e}");
            StackOutcome::Failed {
                reason: format!(
                    "pulumi preview succeeded but its output could not be read ({e}). Is `[pulumi] command` a Pulumi CLI?"
                ),
            }
        }
    }
}

/// `what` (`pulumi preview failed`), the exit, and the end of the errors (else of stderr).
fn failure_text(what: &str, code: Option<i32>, errors: &str, stderr: &str) -> String {
    let code = code.map_or_else(|| "a signal".to_owned(), |c| format!("code {c}"));
    let detail = if errors.trim().is_empty() {
        stderr.trim()
    } else {
        errors.trim()
    };
    let tail: String = detail
        .lines()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "{what} (exit {code}). The gate stays closed until it succeeds; fix the error and push again.\n{tail}"
    )
}
