//! The `/iamgate` commands of a newly created comment: react with eyes, check who may do what
//! against the forge (team membership, repository permission; never the comment's text), record
//! votes bound to the head the comment's author could see when commenting, audit, ask for the gate to be recomputed, and answer in one
//! reply that says what happened — or why not, and how to proceed.
//!
//! A retried job does not act twice: votes are keyed by comment and line, and the store keeps
//! whether the comment was answered (`answer`: a ticket per comment, which also holds its
//! author to `[worker] command_rate_per_minute`), so an answered comment is not answered again
//! and, as a rule, nobody's command costs a listing of the pull request's comments.

mod answer;

use std::time::SystemTime;

use crate::audit::{ApprovalSource, AuditEntry, AuditEvent, Timestamp, WithdrawalSource};
use crate::commands::{self, Command, CommandError, Reason};
use crate::config::repo::{Invalidation, RepoConfig, Reviewers};
use crate::engine::report::escape;
use crate::event::{ActorKind, CommentId, PrRef, Sha, UserRef};
use crate::forge::{Forge, PullRequest, Reaction, RepoPermission, ShownComment};
use crate::queue::JobFailure;
use crate::store::{CommandVote, CommandVoteKind, JobKind};

use super::ctx::JobCtx;
use super::repo_config::{self, Governing};

use self::answer::Admission;
pub use self::answer::{gave_up, reply_marker};

/// A comment with commands, as the webhook reported it.
#[derive(Debug, Clone, Copy)]
pub struct Said<'a> {
    pub id: CommentId,
    pub author: UserRef<'a>,
    pub body: &'a str,
    /// When it was made (Unix milliseconds), when the webhook said.
    pub created_ms: Option<i64>,
    /// The head when it was made, when the webhook said (GitLab).
    pub seen_head: Option<&'a Sha>,
}

/// Runs the commands of a comment (`attempt`: the job's, 1 for the first).
pub async fn run(
    ctx: &JobCtx,
    pr_ref: &PrRef,
    said: Said<'_>,
    attempt: u32,
) -> Result<(), JobFailure> {
    let (comment, author) = (said.id, said.author);
    let parsed = commands::parse(said.body);
    if parsed.is_empty() {
        return Ok(());
    }
    let forge = ctx.forges.forge(&pr_ref.repo_ref()).await?;
    if answer::admit(ctx, forge.as_ref(), pr_ref, &said, attempt).await? == Admission::Skip {
        return Ok(());
    }
    // The comment as the forge shows it now, not as the webhook said: a comment edited or
    // deleted before this job ran, or a delivery forged with a leaked webhook secret, does
    // nothing.
    let Some(shown) = forge.comment(pr_ref, comment).await? else {
        tracing::info!(pr = %pr_ref, %comment, "the comment is gone: its commands are not run");
        return Ok(());
    };
    if !same_comment(&shown, &said) {
        tracing::warn!(pr = %pr_ref, %comment, "the comment differs from its webhook (edited, or a forged delivery): its commands are not run");
        audit_unacted(ctx, pr_ref, &said).await?;
        return Ok(());
    }
    let said = Said {
        created_ms: shown.created_ms.or(said.created_ms),
        ..said
    };
    forge.react(pr_ref, comment, Reaction::Eyes).await?;
    let pr = forge.pull_request(pr_ref).await?;
    let config = match repo_config::governing(forge.as_ref(), pr_ref, &pr).await? {
        Governing::Valid(config) => Some(*config),
        Governing::NotEnrolled | Governing::Invalid(_) => None,
    };
    let seen = seen_head(ctx, pr_ref, &said).await?;
    let mut run = Run {
        ctx,
        forge: forge.as_ref(),
        pr_ref,
        pr: &pr,
        config: config.as_ref(),
        comment,
        author,
        seen: seen.as_ref(),
        contributors: None,
        recompute: false,
    };
    let mut answers = Vec::with_capacity(parsed.len());
    for (line, command) in parsed.iter().enumerate() {
        let answer = match command {
            Err(e) => run.refuse_error(line, e).await?,
            Ok(command) => run.command(line, command).await?,
        };
        answers.push(answer);
    }
    if run.recompute {
        // Before the reply: a reply is how a retry knows the work is done.
        ctx.store
            .enqueue(JobKind::AnalyzePr { pr: pr_ref.clone() })
            .await?;
    }
    let reply = format!("{}\n{}\n", reply_marker(comment), answers.join("\n\n"));
    // A reply to an internal note is internal too: it may quote what only members may read.
    answer::post(ctx, forge.as_ref(), pr_ref, comment, &reply, shown.internal).await
}

/// Whether the forge shows the comment as its webhook said: by the same person (by account id
/// where both know it), with the same text, and a person's.
fn same_comment(shown: &ShownComment, said: &Said<'_>) -> bool {
    let same_author = match (shown.author.id, said.author.id) {
        (Some(shown_id), Some(said_id)) => shown_id == said_id,
        _ => shown
            .author
            .login
            .as_str()
            .eq_ignore_ascii_case(said.author.login.as_str()),
    };
    same_author && shown.author.kind == ActorKind::User && shown.body == said.body
}

/// Records once that a comment's commands were not run because the forge shows it otherwise.
async fn audit_unacted(ctx: &JobCtx, pr_ref: &PrRef, said: &Said<'_>) -> Result<(), JobFailure> {
    let key = format!("unacted:{}:{}", pr_ref.key(), said.id);
    let entry = AuditEntry::by(
        now(),
        pr_ref,
        said.author.login.clone(),
        AuditEvent::CommandRefused {
            command: "/iamgate".to_owned(),
            reason: "the comment was edited or deleted before iamgate handled it, or the delivery did not match \
                     the forge: nothing was done"
                .to_owned(),
        },
    );
    ctx.store.append_audit_once(&key, entry).await?;
    Ok(())
}

/// One comment's commands being run.
struct Run<'a> {
    ctx: &'a JobCtx,
    forge: &'a dyn Forge,
    pr_ref: &'a PrRef,
    pr: &'a PullRequest,
    config: Option<&'a RepoConfig>,
    comment: CommentId,
    author: UserRef<'a>,
    /// The head the comment's author could see when commenting: what an approval or an override
    /// binds to (`None`: unknown, so none is recorded).
    seen: Option<&'a Sha>,
    /// Who besides the opener authored, committed or pushed the pull request's commits: asked
    /// of the forge by the first command that needs it.
    contributors: Option<Vec<String>>,
    /// A vote changed or a rerun was asked: the gate must be computed again.
    recompute: bool,
}

/// The head the comment's author could see: the one the forge named with the comment (GitLab),
/// else the newest head iamgate had seen before the comment was made.
async fn seen_head(
    ctx: &JobCtx,
    pr_ref: &PrRef,
    said: &Said<'_>,
) -> Result<Option<Sha>, JobFailure> {
    if let Some(head) = said.seen_head {
        return Ok(Some(head.clone()));
    }
    let Some(at) = said.created_ms else {
        return Ok(None);
    };
    Ok(ctx.store.head_seen_at(pr_ref, at).await?.map(Sha))
}

/// Why no approval or override can be recorded when the head the comment saw is unknown.
const UNSEEN_HEAD: &str = "iamgate cannot tell which commit you saw when you commented (it had not seen this pull request's \
                           head yet), so nothing was recorded. Comment again once iamgate's report shows the head you reviewed.";

impl Run<'_> {
    async fn command(&mut self, line: usize, command: &Command) -> Result<String, JobFailure> {
        match command {
            Command::Help => return Ok(commands::help_text()),
            Command::Explain { rule_id } => {
                return Ok(match commands::explain_text(rule_id) {
                    Ok(text) => text,
                    Err(e) => e.to_string(),
                });
            }
            _ => {}
        }
        if !self.pr.open {
            return self
                .refuse(
                    line,
                    command,
                    "This pull request is closed: commands that change the gate are not run. Reopen it first.",
                )
                .await;
        }
        let Some(config) = self.config else {
            return self
                .refuse(
                    line,
                    command,
                    "This repository has no valid `.iamgate.yml` on the base branch, so there is no gate to act on. \
                     Fix or add it on the base branch (`iamgate check-config .iamgate.yml`).",
                )
                .await;
        };
        match command {
            Command::Help | Command::Explain { .. } => Ok(String::new()),
            Command::Rerun => self.rerun(line, command, config).await,
            Command::Approve { reason } => {
                let reason = reason.as_ref().map(|r| r.as_str().to_owned());
                self.approve(line, command, config, reason).await
            }
            Command::Unapprove => self.unapprove(line, command).await,
            Command::Override { reason } => self.override_gate(line, command, config, reason).await,
        }
    }

    /// `rerun`: forgets the head's cached previews (a rerun executes the pull request's code, so
    /// only its author and writers may ask).
    async fn rerun(
        &mut self,
        line: usize,
        command: &Command,
        config: &RepoConfig,
    ) -> Result<String, JobFailure> {
        if !self.is_author()
            && self
                .forge
                .collaborator_permission(self.pr_ref, self.author)
                .await?
                < RepoPermission::Write
        {
            return self
                .refuse(
                    line,
                    command,
                    "Only the pull request's author and people with write access to the repository can rerun the analysis \
                     (a rerun executes the pull request's code).",
                )
                .await;
        }
        self.ctx
            .settings
            .previews
            .forget(self.pr_ref, &config.stacks, &self.pr.head)
            .await?;
        self.recompute = true;
        Ok(format!(
            "{}: previewing `{}` again; the comment and the status follow.",
            usage(command),
            self.short_head()
        ))
    }

    /// `approve`: a vote bound to the head, for the requirements the author qualifies for.
    async fn approve(
        &mut self,
        line: usize,
        command: &Command,
        config: &RepoConfig,
        reason: Option<String>,
    ) -> Result<String, JobFailure> {
        if self.is_author() && !config.allow_author_approval {
            return self
                .refuse(
                    line,
                    command,
                    "You opened this pull request: your approval does not count (`allow_author_approval` is false \
                     in .iamgate.yml). Ask a reviewer named in the comment.",
                )
                .await;
        }
        if !config.allow_author_approval && self.is_contributor().await? {
            return self
                .refuse(
                    line,
                    command,
                    "You authored, committed or pushed commits of this pull request: your approval does not count \
                     (`allow_author_approval` is false in .iamgate.yml). Ask a reviewer named in the comment.",
                )
                .await;
        }
        let qualified = self.qualified_requirements(config).await?;
        if qualified.is_empty() {
            return self
                .refuse(
                    line,
                    command,
                    "You are not among the reviewers of any requirement of .iamgate.yml (`reviews[].from`: \
                     teams you are an active member of, or users), so your approval would not count.",
                )
                .await;
        }
        let Some(seen) = self.seen else {
            return self.refuse(line, command, UNSEEN_HEAD).await;
        };
        let vote = self.vote(line, CommandVoteKind::Approve, reason, seen);
        let fingerprint = self.fingerprint_of(seen).await?;
        let event = AuditEvent::Approval {
            via: ApprovalSource::Command,
            fingerprint,
            requirements: qualified.clone(),
            reason: vote.reason.clone(),
        };
        self.record(&vote, event).await?;
        Ok(format!(
            "{}: approval recorded on `{}` for {}. It keeps counting while the IAM change stays the same{}.{}",
            usage(command),
            short(seen),
            qualified
                .iter()
                .map(|r| escape::code_span(r))
                .collect::<Vec<_>>()
                .join(", "),
            if config.invalidate_approvals == Invalidation::OnPush {
                " and nobody pushes (`invalidate_approvals: on_push`)"
            } else {
                ""
            },
            self.later_head_note(seen)
        ))
    }

    /// When the head moved after the comment was made: says that the vote is for the head the
    /// author saw, not the newer one.
    fn later_head_note(&self, seen: &Sha) -> String {
        if *seen == self.pr.head {
            return String::new();
        }
        format!(
            " It was made on `{}`, the head when you commented; `{}` was pushed after it, so it counts there \
             only if that IAM change is the same as the one you saw.",
            short(seen),
            short(&self.pr.head)
        )
    }

    /// `unapprove`: withdraws the author's approvals, by command or review.
    async fn unapprove(&mut self, line: usize, command: &Command) -> Result<String, JobFailure> {
        let vote = self.vote(line, CommandVoteKind::Withdraw, None, &self.pr.head);
        let event = AuditEvent::Withdrawal {
            via: WithdrawalSource::Command,
            approver: self.author.login.clone(),
        };
        self.record(&vote, event).await?;
        Ok(format!(
            "{}: your approvals (by command or review) no longer count. Approve again to count again.",
            usage(command)
        ))
    }

    /// `override`: lets this IAM change through without the approvals (override members only).
    async fn override_gate(
        &mut self,
        line: usize,
        command: &Command,
        config: &RepoConfig,
        reason: &Reason,
    ) -> Result<String, JobFailure> {
        if self.is_author() || self.is_contributor().await? {
            let who = if self.is_author() {
                "You opened this pull request"
            } else {
                "You authored, committed or pushed commits of this pull request"
            };
            let why = format!(
                "{who}: nobody overrides the gate of their own pull request. Ask another member of \
                 `overrides`, or get the required approvals."
            );
            return self.refuse(line, command, &why).await;
        }
        if !self.member_of(&config.overrides).await? {
            return self
                .refuse(
                    line,
                    command,
                    "Only members of `overrides` in .iamgate.yml can override the gate. Ask one of them, or get \
                     the required approvals.",
                )
                .await;
        }
        let Some(seen) = self.seen else {
            return self.refuse(line, command, UNSEEN_HEAD).await;
        };
        let vote = self.vote(
            line,
            CommandVoteKind::Override,
            Some(reason.as_str().to_owned()),
            seen,
        );
        let fingerprint = self.fingerprint_of(seen).await?;
        let event = AuditEvent::Override {
            reason: reason.as_str().to_owned(),
            fingerprint,
        };
        self.record(&vote, event).await?;
        Ok(format!(
            "{}: override recorded on `{}` with the reason “{}”. The status turns success for this IAM \
             change; a different IAM change needs a new override.{}",
            usage(command),
            short(seen),
            reason.markdown(),
            self.later_head_note(seen)
        ))
    }

    /// Stores a vote with its audit record, which the store writes from the vote and `event` in
    /// the same transaction (the record is what makes the vote count); the gate must be
    /// computed again.
    async fn record(&mut self, vote: &CommandVote, event: AuditEvent) -> Result<(), JobFailure> {
        self.ctx
            .store
            .add_vote(self.pr_ref, vote, Some(event))
            .await?;
        self.recompute = true;
        Ok(())
    }

    /// The head, as the replies show it.
    fn short_head(&self) -> String {
        short(&self.pr.head)
    }

    async fn is_contributor(&mut self) -> Result<bool, JobFailure> {
        if self.contributors.is_none() {
            let found =
                super::approvals::contributors(self.ctx, self.forge, self.pr_ref, self.pr).await?;
            self.contributors = Some(found);
        }
        let login = self.author.login.as_str();
        Ok(self
            .contributors
            .iter()
            .flatten()
            .any(|c| c.eq_ignore_ascii_case(login)))
    }

    fn is_author(&self) -> bool {
        self.author
            .login
            .as_str()
            .eq_ignore_ascii_case(self.pr.author.as_str())
    }

    fn vote(
        &self,
        line: usize,
        kind: CommandVoteKind,
        reason: Option<String>,
        head: &Sha,
    ) -> CommandVote {
        CommandVote {
            source: format!("comment:{}:{line}", self.comment),
            login: self.author.login.as_str().to_owned(),
            user_id: self.author.id,
            kind,
            head: head.as_str().to_owned(),
            reason,
            at_ms: now().unix_millis(),
        }
    }

    /// The names of the configured requirements the author may approve (whether or not this
    /// change triggers them: the comment shows which count).
    async fn qualified_requirements(&self, config: &RepoConfig) -> Result<Vec<String>, JobFailure> {
        let mut names = Vec::new();
        for review in &config.reviews {
            if self.member_of(&review.from).await? {
                names.push(review.name.clone());
            }
        }
        Ok(names)
    }

    /// Whether the author is listed in `who` or an active member of one of its teams (asked of
    /// the forge, through the short membership cache).
    async fn member_of(&self, who: &Reviewers) -> Result<bool, JobFailure> {
        if who
            .users
            .iter()
            .any(|u| u.eq_ignore_ascii_case(self.author.login.as_str()))
        {
            return Ok(true);
        }
        for team in &who.teams {
            if self
                .ctx
                .membership
                .is_team_member(self.forge, self.pr_ref, team, self.author)
                .await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn fingerprint_of(&self, head: &Sha) -> Result<Option<String>, JobFailure> {
        Ok(self
            .ctx
            .store
            .fingerprints(self.pr_ref)
            .await?
            .remove(head.as_str()))
    }

    async fn refuse(
        &self,
        line: usize,
        command: &Command,
        why: &str,
    ) -> Result<String, JobFailure> {
        let usage = format!("/iamgate {}", command.spec().name);
        self.audit_refusal(
            line,
            AuditEvent::CommandRefused {
                command: usage.clone(),
                reason: why.to_owned(),
            },
        )
        .await?;
        Ok(format!("`{usage}`: refused. {why}"))
    }

    async fn refuse_error(&self, line: usize, error: &CommandError) -> Result<String, JobFailure> {
        let text = error.to_string();
        self.audit_refusal(
            line,
            AuditEvent::CommandRefused {
                command: "/iamgate".to_owned(),
                reason: text.clone(),
            },
        )
        .await?;
        Ok(text)
    }

    /// Records the refusal of command `line` of this comment once, however often a retried job
    /// refuses it again.
    async fn audit_refusal(&self, line: usize, event: AuditEvent) -> Result<(), JobFailure> {
        let key = format!("refusal:{}:{}:{line}", self.pr_ref.key(), self.comment);
        self.ctx
            .store
            .append_audit_once(&key, self.entry(event))
            .await?;
        Ok(())
    }

    /// An audit entry by the comment's author at the pull request's head.
    fn entry(&self, event: AuditEvent) -> AuditEntry {
        AuditEntry::by(now(), self.pr_ref, self.author.login.clone(), event)
            .at(self.pr.head.clone())
    }
}

/// A commit as the replies show it: its first 7 characters.
fn short(sha: &Sha) -> String {
    sha.as_str().chars().take(7).collect()
}

/// `` `/iamgate approve` ``, as replies name the command.
fn usage(command: &Command) -> String {
    format!("`/iamgate {}`", command.spec().name)
}

fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}
