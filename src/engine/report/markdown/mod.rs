//! The Markdown report: the pull request comment body (and `iamgate analyze --format markdown`).
//! Owns the comment's layout, from the hidden marker line to the footer, and fitting it into the
//! forge's size limit. Takes already-decided data (analyses, failures, review state, commands)
//! and decides nothing about risk or approvals; all outside text goes through [`super::escape`].

mod reviews;
mod stack;

use super::budget::Doc;
use super::escape;
use super::{CATALOG, Lookup, VERSION};
use crate::engine::risk::Severity;
use crate::engine::{Analysis, Level, Risk};

/// The hidden line that identifies iamgate's comment on a pull request. Always the first line.
pub const MARKER: &str = "<!-- iamgate:report -->";

/// A whole comment: one section per stack, then the review state and the commands when given.
#[derive(Debug, Clone, Default)]
pub struct Comment<'a> {
    pub sections: Vec<Section<'a>>,
    /// Review requirements and approvals (the server fills this; `analyze` leaves it out).
    pub reviews: Option<Reviews>,
    /// The chat-ops commands to list (empty: no list).
    pub commands: Vec<CommandHelp>,
    /// Notices shown under the title (configuration problems, a fork that was not previewed,
    /// a change to `.iamgate.yml`); plain text, escaped when rendered.
    pub notes: Vec<String>,
}

/// One stack's outcome.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    /// The stack's name from `.iamgate.yml` (None: a single preview given on the command line).
    pub name: Option<String>,
    pub outcome: Outcome<'a>,
}

#[derive(Debug, Clone)]
pub enum Outcome<'a> {
    Analyzed(&'a Analysis),
    /// The analysis could not be done; `reason` is shown as is (escaped) and should say how to fix.
    Failed {
        reason: String,
    },
    /// The stack was deliberately not previewed (e.g. a fork's code is not run); `reason` says
    /// why and what to do. Not a failure of the analysis, and not a result either.
    NotRun {
        reason: String,
    },
}

/// The state of the review requirements that this change triggers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reviews {
    pub requirements: Vec<Requirement>,
    /// Approvals that no longer count, and why (e.g. the IAM change differs from the one approved).
    pub dropped: Vec<DroppedApproval>,
    /// A valid override that lets the change through without the approvals.
    pub overridden: Option<Override>,
}

/// One triggered requirement (a `reviews[]` entry of `.iamgate.yml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    /// Approvals required.
    pub needed: u32,
    /// Logins whose approval counts for it.
    pub approved_by: Vec<String>,
    /// Who may approve: teams (`org/team`) and users.
    pub from: Vec<Reviewer>,
    /// Qualified reviewers who asked for changes.
    pub changes_requested_by: Vec<String>,
}

impl Requirement {
    pub fn missing(&self) -> u32 {
        let approved = u32::try_from(self.approved_by.len()).unwrap_or(u32::MAX);
        self.needed.saturating_sub(approved)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reviewer {
    User(String),
    /// `org/team-slug` (GitHub) or a group path (GitLab).
    Team(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedApproval {
    pub login: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub by: String,
    pub reason: String,
}

/// One line of the command list: `usage` is shown as code, `summary` as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandHelp {
    pub usage: String,
    pub summary: String,
}

impl CommandHelp {
    /// The commands of the product contract, for servers that have no list of their own.
    pub fn standard() -> Vec<CommandHelp> {
        [
            ("/iamgate help", "show this list"),
            ("/iamgate rerun", "run the preview and the analysis again"),
            (
                "/iamgate approve [reason]",
                "approve this IAM change (counts if you qualify for a requirement)",
            ),
            ("/iamgate unapprove", "withdraw your approval"),
            (
                "/iamgate override <reason>",
                "let the change through without the approvals (override members only)",
            ),
            (
                "/iamgate explain <rule-id>",
                "explain a rule and how to fix its findings",
            ),
        ]
        .into_iter()
        .map(|(usage, summary)| CommandHelp {
            usage: usage.to_owned(),
            summary: summary.to_owned(),
        })
        .collect()
    }
}

impl<'a> Comment<'a> {
    /// A comment for one preview given on the command line: no stack name, no reviews, no commands.
    pub fn for_analysis(analysis: &'a Analysis) -> Comment<'a> {
        Comment {
            sections: vec![Section {
                name: None,
                outcome: Outcome::Analyzed(analysis),
            }],
            reviews: None,
            commands: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// The comment body, at most `budget` characters (see [`super::budget::GITHUB_COMMENT_LIMIT`]).
pub fn render(comment: &Comment<'_>, budget: usize) -> String {
    render_with(comment, budget, CATALOG)
}

pub(crate) fn render_with(comment: &Comment<'_>, budget: usize, lookup: Lookup) -> String {
    let mut doc = Doc::default();
    doc.push(format!("{MARKER}\n"));
    doc.push(title(comment));
    if !comment.notes.is_empty() {
        let lines: Vec<String> = comment
            .notes
            .iter()
            .map(|n| format!("> ⚠️ {}\n", escape::text(n)))
            .collect();
        doc.push(format!("{}\n", lines.join(">\n")));
    }
    doc.note_here();
    let single = comment.sections.len() == 1;
    for (i, section) in comment.sections.iter().enumerate() {
        stack::push(&mut doc, section, i, single, lookup);
    }
    if let Some(reviews) = &comment.reviews {
        doc.push(reviews::render(reviews));
    }
    if !comment.commands.is_empty() {
        doc.push(reviews::commands(&comment.commands));
    }
    doc.push(footer(comment));
    doc.fit(budget)
}

fn title(comment: &Comment<'_>) -> String {
    let failed = comment
        .sections
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Failed { .. }))
        .count();
    let not_run = comment
        .sections
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::NotRun { .. }))
        .count();
    let worst = comment
        .sections
        .iter()
        .filter_map(|s| match s.outcome {
            Outcome::Analyzed(a) => Some(a.risk),
            Outcome::Failed { .. } | Outcome::NotRun { .. } => None,
        })
        .max_by_key(|r| r.score);
    let line = match (failed, worst) {
        (0, _) if not_run > 0 => format!(
            "## ⏸️ iamgate: {not_run} of {} stack{} not previewed",
            comment.sections.len(),
            if comment.sections.len() == 1 { "" } else { "s" }
        ),
        (0, None) => "## iamgate: no stack was analyzed".to_owned(),
        (0, Some(risk)) => format!(
            "## {} iamgate: {}",
            level_badge(risk.level),
            risk_phrase(risk)
        ),
        (n, _) => format!(
            "## ❌ iamgate: analysis failed for {n} of {} stack{}",
            comment.sections.len(),
            if comment.sections.len() == 1 { "" } else { "s" }
        ),
    };
    format!("{line}\n\n")
}

fn footer(comment: &Comment<'_>) -> String {
    let prints: Vec<String> = comment
        .sections
        .iter()
        .filter_map(|s| match s.outcome {
            Outcome::Analyzed(a) => {
                let short: String = a.fingerprint.0.chars().take(12).collect();
                Some(match (&s.name, comment.sections.len()) {
                    (Some(name), 2..) => {
                        format!("{} {}", escape::text(name), escape::code_span(&short))
                    }
                    _ => escape::code_span(&short),
                })
            }
            Outcome::Failed { .. } | Outcome::NotRun { .. } => None,
        })
        .collect();
    let prints = if prints.is_empty() {
        String::new()
    } else {
        format!(" · change fingerprint {}", prints.join(", "))
    };
    format!("---\n<sub>iamgate {VERSION}{prints}</sub>\n")
}

/// `critical IAM risk (92/100)`, or `no IAM risk` for level none.
pub(crate) fn risk_phrase(risk: Risk) -> String {
    match risk.level {
        Level::None => "no IAM risk".to_owned(),
        level => format!("{level} IAM risk ({}/100)", risk.score),
    }
}

pub(crate) fn level_badge(level: Level) -> &'static str {
    match level {
        Level::None => "✅",
        Level::Low => "🟢",
        Level::Medium => "🟡",
        Level::High => "🟠",
        Level::Critical => "🔴",
    }
}

pub(crate) fn severity_badge(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "🔵",
        Severity::Low => "🟢",
        Severity::Medium => "🟡",
        Severity::High => "🟠",
        Severity::Critical => "🔴",
    }
}

#[cfg(test)]
mod tests;
