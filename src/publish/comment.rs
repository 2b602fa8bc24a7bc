//! The pull request comment: the engine's report of each stack, then the gate's review state
//! (each triggered requirement with who approved and who is still needed, approvals that were
//! dropped and why, an override) and the command list. Logins are shown with `@` but never
//! mention anyone (the escaping breaks the mention). Decides nothing: it shows what it is given.

use crate::engine::report::escape::{self, cell_code_span, clip, code_span};
use crate::engine::report::markdown::{Comment, Section};
use crate::gate::{Requirement, Reviewer, Reviews};

/// One line of the command list: `usage` is shown as code, `summary` as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandHelp {
    pub usage: String,
    pub summary: String,
}

/// The comment for `sections`, with the review state when there is one to show, the command list
/// from the command table, and `notes` under the title.
pub fn build<'a>(
    sections: Vec<Section<'a>>,
    reviews: Option<&Reviews>,
    notes: Vec<String>,
) -> Comment<'a> {
    with_commands(sections, reviews, &command_help(), notes)
}

/// [`build`] with a given command list.
pub(crate) fn with_commands<'a>(
    sections: Vec<Section<'a>>,
    reviews: Option<&Reviews>,
    commands: &[CommandHelp],
    notes: Vec<String>,
) -> Comment<'a> {
    let mut appendix = Vec::new();
    if let Some(reviews) = reviews {
        appendix.push(render(reviews));
    }
    if !commands.is_empty() {
        appendix.push(self::commands(commands));
    }
    Comment {
        sections,
        appendix,
        notes,
    }
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

const MAX_NAME: usize = 100;
const MAX_REASON: usize = 500;
const MAX_LIST: usize = 20;

fn render(reviews: &Reviews) -> String {
    let mut out = "### Reviews\n\n".to_owned();
    if let Some(o) = &reviews.overridden {
        out.push_str(&format!(
            "**Overridden** by {}: {}\n\n",
            login(&o.by),
            escape::text(&clip(&o.reason, MAX_REASON))
        ));
    }
    if reviews.requirements.is_empty() {
        out.push_str("No review is required for this change.\n\n");
    } else {
        out.push_str(
            "| Requirement | Approvals | Approved by | Still needed |\n| --- | --- | --- | --- |\n",
        );
        for r in &reviews.requirements {
            out.push_str(&row(r));
        }
        out.push('\n');
    }
    if !reviews.dropped.is_empty() {
        out.push_str("**Approvals that no longer count**\n\n");
        for d in reviews.dropped.iter().take(MAX_LIST) {
            out.push_str(&format!(
                "- {}: {}\n",
                login(&d.login),
                escape::text(&clip(&d.reason, MAX_REASON))
            ));
        }
        if reviews.dropped.len() > MAX_LIST {
            out.push_str(&format!(
                "- … and {} more\n",
                reviews.dropped.len() - MAX_LIST
            ));
        }
        out.push('\n');
    }
    out
}

fn row(r: &Requirement) -> String {
    let missing = r.missing();
    let state = if missing == 0 && r.changes_requested_by.is_empty() {
        "✅"
    } else {
        "⏳"
    };
    let approved = if r.approved_by.is_empty() {
        "—".to_owned()
    } else {
        logins(&r.approved_by)
    };
    let mut needed = Vec::new();
    if missing > 0 {
        let from = if r.from.is_empty() {
            String::new()
        } else {
            let who: Vec<String> = r.from.iter().take(MAX_LIST).map(reviewer).collect();
            format!(" from {}", who.join(" or "))
        };
        needed.push(format!(
            "{missing} more approval{}{from}",
            if missing == 1 { "" } else { "s" }
        ));
    }
    if !r.changes_requested_by.is_empty() {
        needed.push(format!(
            "❌ changes requested by {}",
            logins(&r.changes_requested_by)
        ));
    }
    let needed = if needed.is_empty() {
        "—".to_owned()
    } else {
        needed.join("; ")
    };
    let count = u32::try_from(r.approved_by.len())
        .unwrap_or(u32::MAX)
        .min(r.needed);
    format!(
        "| {} | {state} {count} of {} | {approved} | {needed} |\n",
        escape::text(&clip(&r.name, MAX_NAME)),
        r.needed
    )
}

fn reviewer(r: &Reviewer) -> String {
    match r {
        Reviewer::User(name) => login(name),
        Reviewer::Team(team) => cell_code_span(&clip(team, MAX_NAME)),
    }
}

/// `@alice`, shown but not a mention.
fn login(name: &str) -> String {
    escape::text(&format!(
        "@{}",
        clip(name.trim_start_matches('@'), MAX_NAME)
    ))
}

fn logins(names: &[String]) -> String {
    let mut shown: Vec<String> = names.iter().take(MAX_LIST).map(|n| login(n)).collect();
    if names.len() > MAX_LIST {
        shown.push(format!("and {} more", names.len() - MAX_LIST));
    }
    shown.join(", ")
}

fn commands(list: &[CommandHelp]) -> String {
    let mut out = "<details><summary>Commands</summary>\n\n".to_owned();
    for c in list {
        out.push_str(&format!(
            "- {} — {}\n",
            code_span(&clip(&c.usage, MAX_NAME)),
            escape::text(&clip(&c.summary, MAX_REASON))
        ));
    }
    out.push_str("\n</details>\n\n");
    out
}

#[cfg(test)]
mod tests;
