//! The pull request flow: read `.iamgate.yml` from the base commit, select the stacks the changed
//! files touch, preview each at the head (unless a fork may not run), analyze, decide the gate,
//! and publish one comment and the `iamgate` status — never for a head that is no longer current.

use std::path::Path;

use tracing::{info, warn};

use super::approvals;
use super::ctx::JobCtx;
use super::failure;
use super::preview_cache::Cached;
use crate::audit::{AuditEntry, AuditEvent, GateState, Timestamp};
use crate::config::repo::{self, RepoConfig, StackConfig};
use crate::engine::report::markdown::{self, CommandHelp, Outcome, Requirement, Section};
use crate::engine::{Analysis, analyze, preview};
use crate::event::{PrRef, Sha};
use crate::forge::{CommitStatus, Forge, PullRequest, StatusState};
use crate::gate::requirements::selected_stacks;
use crate::gate::{Change, StackResult, decide_reviews, triggered};
use crate::publish::{self, KeptState};
use crate::pulumi::unpack;
use crate::queue::JobFailure;

/// The repository config file, read from the base commit.
pub const CONFIG_PATH: &str = repo::FILE_PATH;

/// What happened to one stack.
#[derive(Debug)]
enum StackOutcome {
    Analyzed(Box<Analysis>),
    Failed(String),
    NotRun,
}

/// Runs the flow for one pull request at its newest head.
pub async fn run(ctx: &JobCtx, pr_ref: &PrRef) -> Result<(), JobFailure> {
    let forge = ctx.forges.forge(&pr_ref.repo_ref()).await?;
    let pr = forge.pull_request(pr_ref).await?;
    if !pr.open {
        info!(pr = %pr_ref, "pull request is closed; nothing to do");
        return Ok(());
    }
    let config = match read_base_config(forge.as_ref(), pr_ref, &pr).await? {
        None => {
            info!(pr = %pr_ref, "no .iamgate.yml on the base branch: repository not enrolled");
            return Ok(());
        }
        Some(bytes) => parse_config(&bytes),
    };
    let config = match config {
        Ok(c) => c,
        Err(problems) => {
            return publish_broken_config(ctx, forge.as_ref(), pr_ref, &pr, &problems).await;
        }
    };

    let files = forge.changed_files(pr_ref).await?;
    if files.truncated {
        let reason = "This pull request changes more files than the forge can list, so iamgate cannot tell which \
                      stacks it touches. Split it into smaller pull requests.";
        return publish_failure(
            ctx,
            forge.as_ref(),
            pr_ref,
            &pr,
            reason,
            "too many changed files to analyze",
        )
        .await;
    }
    let mut notes = Vec::new();
    let config_changed = files.paths.iter().any(|p| p == CONFIG_PATH);
    if config_changed {
        notes.push(config_change_note(forge.as_ref(), pr_ref, &pr.head).await?);
    }
    let stacks = selected_stacks(&config, &files.paths);

    let fork = pr.is_fork(&pr_ref.repo) && !ctx.settings.allow_fork_prs;
    let outcomes: Vec<(&StackConfig, StackOutcome)> = if stacks.is_empty() {
        Vec::new()
    } else if fork {
        notes.push(
            "This pull request comes from a fork: iamgate does not run previews of fork code (it would execute \
             untrusted code with the preview credentials). A maintainer must review the IAM change by hand, \
             or push the branch to this repository."
                .to_owned(),
        );
        stacks.iter().map(|s| (*s, StackOutcome::NotRun)).collect()
    } else {
        preview_stacks(ctx, forge.as_ref(), pr_ref, &pr.head, &config, &stacks).await?
    };

    // A newer head makes this result stale: its own job publishes instead.
    let current = forge.pull_request(pr_ref).await?;
    if current.head != pr.head || !current.open {
        info!(pr = %pr_ref, sha = %pr.head, newer = %current.head, "head moved or PR closed; result discarded");
        return Ok(());
    }

    let results: Vec<(&StackConfig, StackResult<'_>)> = outcomes
        .iter()
        .map(|(s, o)| {
            let r = match o {
                StackOutcome::Analyzed(a) => StackResult::Analyzed(a),
                StackOutcome::Failed(_) => StackResult::Failed,
                StackOutcome::NotRun => StackResult::NotRun,
            };
            (*s, r)
        })
        .collect();
    let change = Change {
        stacks: results,
        changed_paths: &files.paths,
        config_changed,
    };
    let fingerprint = change_fingerprint(&outcomes);
    if !outcomes.is_empty() {
        ctx.store
            .put_fingerprint(pr_ref, pr.head.as_str(), &fingerprint)
            .await?;
    }
    let triggered_reviews: Vec<&repo::Review> = triggered(&config, &change)
        .iter()
        .map(|t| t.review)
        .collect();
    let mut kept = KeptState::load(ctx.store.as_ref(), pr_ref).await?;
    let review_state = approvals::gather(
        ctx,
        forge.as_ref(),
        pr_ref,
        &pr,
        &config,
        &triggered_reviews,
        &mut kept,
    )
    .await?;
    let decision = decide_reviews(&change, &review_state);
    let requirements: Vec<Requirement> = review_state.requirements.clone();
    audit_analysis(&mut kept, pr_ref, &pr, &outcomes, &fingerprint);
    kept.save(ctx.store.as_ref(), pr_ref).await?;

    if outcomes.is_empty() && !config_changed {
        // No stack touched: a status only, and the comment kept current if there is one.
        let existing = publish::existing_comment(forge.as_ref(), pr_ref, &kept.state).await?;
        if existing.is_none() {
            publish::status(forge.as_ref(), pr_ref, &pr.head, &decision).await?;
            audit_status(&mut kept, pr_ref, &pr, &decision);
            return kept.save(ctx.store.as_ref(), pr_ref).await;
        }
        notes.push(
            "No Pulumi stack of .iamgate.yml is affected by this pull request any more.".to_owned(),
        );
    }

    let sections: Vec<Section<'_>> = outcomes
        .iter()
        .map(|(s, o)| Section {
            name: Some(s.name.clone()),
            outcome: match o {
                StackOutcome::Analyzed(a) => Outcome::Analyzed(a),
                StackOutcome::Failed(reason) => Outcome::Failed {
                    reason: reason.clone(),
                },
                StackOutcome::NotRun => Outcome::NotRun {
                    reason: "The pull request comes from a fork: its code is not run here."
                        .to_owned(),
                },
            },
        })
        .collect();
    if let Some(note) = unrequested_teams_note(forge.as_ref(), &review_state) {
        notes.push(note);
    }
    let show_reviews = !review_state.requirements.is_empty()
        || !review_state.dropped.is_empty()
        || review_state.overridden.is_some();
    let comment = markdown::Comment {
        sections,
        reviews: show_reviews.then_some(review_state),
        commands: command_help(),
        notes,
    };
    let body = markdown::render(&comment, publish::comment_budget(forge.as_ref()));
    publish::upsert_comment(forge.as_ref(), pr_ref, &body, &mut kept.state).await?;
    kept.save(ctx.store.as_ref(), pr_ref).await?;
    publish::status(forge.as_ref(), pr_ref, &pr.head, &decision).await?;
    audit_status(&mut kept, pr_ref, &pr, &decision);
    kept.save(ctx.store.as_ref(), pr_ref).await?;

    publish::request_reviews_once(
        forge.as_ref(),
        pr_ref,
        &pr,
        &requirements,
        &fingerprint,
        &mut kept.state,
    )
    .await?;
    kept.save(ctx.store.as_ref(), pr_ref).await
}

/// The `.iamgate.yml` that governs the pull request, `None` when there is none: the one on the
/// base branch's tip now, so that guardrails tightened after the pull request was opened apply
/// to it (a push to the base branch that changes the file analyzes its open pull requests
/// again: `jobs::recheck`); the pull request's base commit when the branch is gone. Never the
/// head's: a pull request cannot lower its own bar.
pub(crate) async fn read_base_config(
    forge: &dyn Forge,
    pr_ref: &PrRef,
    pr: &PullRequest,
) -> Result<Option<Vec<u8>>, JobFailure> {
    let at = forge
        .branch_tip(&pr_ref.repo_ref(), &pr.base_ref)
        .await?
        .unwrap_or_else(|| pr.base.clone());
    Ok(forge.file_at(pr_ref, CONFIG_PATH, &at).await?)
}

pub(crate) fn parse_config(bytes: &[u8]) -> Result<RepoConfig, crate::config::Problems> {
    match std::str::from_utf8(bytes) {
        Ok(text) => repo::parse(text),
        Err(_) => {
            let mut p = crate::config::Problems::default();
            p.push("", "the file is not UTF-8 text");
            Err(p)
        }
    }
}

/// On a forge that cannot ask a team to review (GitLab groups), the teams whose approvals are
/// still missing are named in the comment instead, so that nobody waits for a request that never
/// comes.
fn unrequested_teams_note(forge: &dyn Forge, reviews: &markdown::Reviews) -> Option<String> {
    if forge.can_request_teams() {
        return None;
    }
    let mut teams: Vec<&str> = reviews
        .requirements
        .iter()
        .filter(|r| r.missing() > 0)
        .flat_map(|r| r.from.iter())
        .filter_map(|who| match who {
            markdown::Reviewer::Team(team) => Some(team.as_str()),
            markdown::Reviewer::User(_) => None,
        })
        .collect();
    teams.sort_unstable();
    teams.dedup();
    (!teams.is_empty()).then(|| {
        format!(
            "This forge cannot ask a group to review, so iamgate did not: approvals are still needed from members of {}. \
             They can approve the merge request or comment /iamgate approve.",
            teams.join(", ")
        )
    })
}

/// The command list shown at the end of the comment, from the command table.
fn command_help() -> Vec<CommandHelp> {
    crate::commands::COMMANDS
        .iter()
        .map(|c| CommandHelp {
            usage: c.usage(),
            // Plain text: the comment escapes it, and code spans would show their backticks.
            summary: c.summary.replace('`', ""),
        })
        .collect()
}

/// Records the analysis of this head once per fingerprint (with the next save of `kept`).
fn audit_analysis(
    kept: &mut KeptState,
    pr_ref: &PrRef,
    pr: &PullRequest,
    outcomes: &[(&StackConfig, StackOutcome)],
    fingerprint: &str,
) {
    if outcomes.is_empty() {
        return;
    }
    let key = format!("{} {fingerprint}", pr.head);
    if kept.state.audited.analysis.as_deref() == Some(key.as_str()) {
        return;
    }
    let worst = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            StackOutcome::Analyzed(a) => Some(a.risk),
            _ => None,
        })
        .max_by_key(|r| r.score);
    let changes_iam = outcomes
        .iter()
        .any(|(_, o)| !matches!(o, StackOutcome::Analyzed(a) if a.resources.is_empty()));
    let event = AuditEvent::Analysis {
        stacks: outcomes.iter().map(|(s, _)| s.name.clone()).collect(),
        score: worst.map_or(0, |r| r.score),
        level: worst.map_or_else(|| "none".to_owned(), |r| r.level.to_string()),
        fingerprint: changes_iam.then(|| fingerprint.to_owned()),
    };
    kept.audit(AuditEntry::by_app(now(), pr_ref, event).at(pr.head.clone()));
    kept.state.audited.analysis = Some(key);
}

/// Records a status iamgate set, when it differs from the last one recorded (with the next save
/// of `kept`).
fn audit_status(
    kept: &mut KeptState,
    pr_ref: &PrRef,
    pr: &PullRequest,
    decision: &crate::gate::Decision,
) {
    let key = format!(
        "{} {} {}",
        pr.head,
        decision.state.as_str(),
        decision.description
    );
    if kept.state.audited.status.as_deref() == Some(key.as_str()) {
        return;
    }
    let gate_state = match decision.state {
        StatusState::Pending => GateState::Pending,
        StatusState::Success => GateState::Success,
        StatusState::Failure => GateState::Failure,
    };
    let event = AuditEvent::StatusChange {
        state: gate_state,
        description: decision.description.clone(),
    };
    kept.audit(AuditEntry::by_app(now(), pr_ref, event).at(pr.head.clone()));
    kept.state.audited.status = Some(key);
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

/// The note for a PR that edits `.iamgate.yml`: its own copy validated, the base copy governing.
async fn config_change_note(
    forge: &dyn Forge,
    pr_ref: &PrRef,
    head: &Sha,
) -> Result<String, JobFailure> {
    let base = "This pull request changes .iamgate.yml, the guardrails themselves: it is reviewed as high risk, \
                and the base branch's copy still governs this pull request.";
    Ok(match forge.file_at(pr_ref, CONFIG_PATH, head).await? {
        None => {
            format!("{base} It deletes the file: after merge the repository is no longer enrolled.")
        }
        Some(bytes) => match parse_config(&bytes) {
            Ok(_) => base.to_owned(),
            Err(problems) => format!(
                "{base} Its new copy is invalid and would stop iamgate after merge: {problems}"
            ),
        },
    })
}

/// Previews each stack at the head (from the preview cache when this head was previewed
/// before; otherwise downloading and unpacking the head once), then analyzes each.
async fn preview_stacks<'c>(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    head: &Sha,
    config: &RepoConfig,
    stacks: &[&'c StackConfig],
) -> Result<Vec<(&'c StackConfig, StackOutcome)>, JobFailure> {
    let cache = &ctx.settings.previews;
    let mut previews: Vec<Option<Cached>> = Vec::with_capacity(stacks.len());
    for stack in stacks {
        previews.push(cache.load(pr_ref, stack, head).await);
    }
    if previews.iter().any(Option::is_none) {
        // Only when a preview runs: a recomputation from cached previews takes milliseconds,
        // and a status flickering back to pending would only confuse.
        let analyzing = CommitStatus {
            state: StatusState::Pending,
            description: "analyzing the IAM change".into(),
            target_url: None,
        };
        forge.set_status(pr_ref, head, &analyzing).await?;
        let fresh = run_previews(ctx, forge, pr_ref, head, stacks, &previews).await?;
        for (i, outcome) in fresh {
            cache.save(pr_ref, stacks[i], head, outcome.clone()).await;
            previews[i] = Some(outcome);
        }
    } else {
        info!(pr = %pr_ref, sha = %head, "previews of this head are cached: not previewing again");
    }
    Ok(stacks
        .iter()
        .zip(previews)
        .map(|(stack, preview)| {
            let outcome = match preview {
                Some(Cached::Output(stdout)) => analyze_output(stack, &stdout, config),
                Some(Cached::Failed(reason)) => StackOutcome::Failed(reason),
                None => StackOutcome::Failed("the preview did not run".to_owned()),
            };
            (*stack, outcome)
        })
        .collect())
}

/// Downloads and unpacks the head once and previews the stacks that have no cached outcome.
async fn run_previews(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    head: &Sha,
    stacks: &[&StackConfig],
    cached: &[Option<Cached>],
) -> Result<Vec<(usize, Cached)>, JobFailure> {
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
                .map(|i| (i, Cached::Failed(reason.clone())))
                .collect());
        }
    };
    let mut out = Vec::with_capacity(missing.len());
    for i in missing {
        out.push((i, run_preview(ctx, &root, stacks[i]).await));
    }
    Ok(out)
}

/// Runs one stack's preview; a failure becomes the reason shown in the comment.
async fn run_preview(ctx: &JobCtx, root: &Path, stack: &StackConfig) -> Cached {
    let dir = root.join(&stack.dir);
    if !dir.is_dir() {
        return Cached::Failed(format!(
            "The stack directory `{}` does not exist at the head commit. Fix `dir` of stack `{}` in .iamgate.yml.",
            stack.dir, stack.name
        ));
    }
    let output = match ctx.runner.preview(&dir, &stack.stack).await {
        Ok(o) => o,
        Err(e) => return Cached::Failed(e.to_string()),
    };
    if output.exit_code == Some(0) {
        return Cached::Output(output.stdout);
    }
    let errors: Vec<String> = preview::parse(&output.stdout)
        .map(|p| {
            p.diagnostics
                .iter()
                .filter(|d| d.severity == "error")
                .map(|d| d.message.clone())
                .collect()
        })
        .unwrap_or_default();
    Cached::Failed(failure_text(
        output.exit_code,
        &errors.join("\n"),
        &output.stderr,
    ))
}

/// Analyzes a successful preview's output.
fn analyze_output(stack: &StackConfig, stdout: &[u8], config: &RepoConfig) -> StackOutcome {
    match preview::parse(stdout) {
        Ok(p) => StackOutcome::Analyzed(Box::new(analyze(&p, &config.risk))),
        Err(e) => {
            warn!(stack = %stack.name, "preview output unreadable: {e}");
            StackOutcome::Failed(format!(
                "pulumi preview succeeded but its output could not be read ({e}). Is `[pulumi] command` a Pulumi CLI?"
            ))
        }
    }
}

fn failure_text(code: Option<i32>, errors: &str, stderr: &str) -> String {
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
        "pulumi preview failed (exit {code}). The gate stays closed until it succeeds; fix the error and push again.\n{tail}"
    )
}

/// The fingerprint of the whole change across stacks (approvals and review requests bind to it).
fn change_fingerprint(outcomes: &[(&StackConfig, StackOutcome)]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (s, o) in outcomes {
        h.update(s.name.as_bytes());
        h.update(b"\0");
        match o {
            StackOutcome::Analyzed(a) => h.update(a.fingerprint.0.as_bytes()),
            StackOutcome::Failed(_) => h.update(b"failed"),
            StackOutcome::NotRun => h.update(b"not-run"),
        }
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

async fn publish_broken_config(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    pr: &PullRequest,
    problems: &crate::config::Problems,
) -> Result<(), JobFailure> {
    let reason = format!(
        "The .iamgate.yml on the base branch is invalid, so iamgate cannot decide (it fails closed). \
         Fix it on the base branch; `iamgate check-config .iamgate.yml` lists the same problems:\n{problems}"
    );
    publish_failure(
        ctx,
        forge,
        pr_ref,
        pr,
        &reason,
        "invalid .iamgate.yml on the base branch",
    )
    .await
}

/// A comment saying why iamgate cannot decide, and a failure status.
async fn publish_failure(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    pr: &PullRequest,
    reason: &str,
    status: &str,
) -> Result<(), JobFailure> {
    let comment = markdown::Comment {
        sections: vec![Section {
            name: None,
            outcome: Outcome::Failed {
                reason: reason.to_owned(),
            },
        }],
        ..markdown::Comment::default()
    };
    let body = markdown::render(&comment, publish::comment_budget(forge));
    let mut kept = KeptState::load(ctx.store.as_ref(), pr_ref).await?;
    publish::upsert_comment(forge, pr_ref, &body, &mut kept.state).await?;
    kept.save(ctx.store.as_ref(), pr_ref).await?;
    let decision = crate::gate::Decision {
        state: StatusState::Failure,
        description: status.to_owned(),
    };
    publish::status(forge, pr_ref, &pr.head, &decision).await?;
    audit_status(&mut kept, pr_ref, pr, &decision);
    kept.save(ctx.store.as_ref(), pr_ref).await
}
