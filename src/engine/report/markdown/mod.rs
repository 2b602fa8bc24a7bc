//! The Markdown report: the pull request comment body (and `iamgate analyze --format markdown`).
//! Owns the comment's layout, from the hidden marker line to the footer, and fitting it into the
//! forge's size limit. Takes already-decided data (analyses, failures, review state, commands)
//! and decides nothing about risk or approvals; all outside text goes through [`super::escape`].

mod stack;

use super::budget::Doc;
use super::escape;
use super::{CATALOG, Lookup, MARKER, VERSION};
use crate::engine::risk::Severity;
use crate::engine::{Analysis, Level, Risk, StackOutcome};

/// A whole comment: one section per stack, then the caller's own blocks (the server's review
/// state and command list), then the footer.
#[derive(Debug, Clone, Default)]
pub struct Comment<'a> {
    pub sections: Vec<Section<'a>>,
    /// Markdown blocks placed after the stacks, already escaped by whoever rendered them
    /// (`publish::comment` renders the review state and the commands; `analyze` has none).
    pub appendix: Vec<String>,
    /// Notices shown under the title (configuration problems, a fork that was not previewed,
    /// a change to `.iamgate.yml`); plain text, escaped when rendered.
    pub notes: Vec<String>,
}

/// One stack's outcome.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    /// The stack's name from `.iamgate.yml` (None: a single preview given on the command line).
    pub name: Option<String>,
    pub outcome: StackOutcome<&'a Analysis>,
}

impl<'a> Comment<'a> {
    /// A comment for one preview given on the command line: no stack name, nothing appended.
    pub fn for_analysis(analysis: &'a Analysis) -> Comment<'a> {
        Comment {
            sections: vec![Section {
                name: None,
                outcome: StackOutcome::Analyzed(analysis),
            }],
            appendix: Vec::new(),
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
    for block in &comment.appendix {
        doc.push(block.clone());
    }
    doc.push(footer(comment));
    doc.fit(budget)
}

fn title(comment: &Comment<'_>) -> String {
    let failed = comment
        .sections
        .iter()
        .filter(|s| matches!(s.outcome, StackOutcome::Failed { .. }))
        .count();
    let not_run = comment
        .sections
        .iter()
        .filter(|s| matches!(s.outcome, StackOutcome::NotRun { .. }))
        .count();
    let worst = comment
        .sections
        .iter()
        .filter_map(|s| match s.outcome {
            StackOutcome::Analyzed(a) => Some(a.risk),
            StackOutcome::Failed { .. } | StackOutcome::NotRun { .. } => None,
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
            StackOutcome::Analyzed(a) => {
                let short: String = a.fingerprint.0.chars().take(12).collect();
                Some(match (&s.name, comment.sections.len()) {
                    (Some(name), 2..) => {
                        format!("{} {}", escape::text(name), escape::code_span(&short))
                    }
                    _ => escape::code_span(&short),
                })
            }
            StackOutcome::Failed { .. } | StackOutcome::NotRun { .. } => None,
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
