//! The one table of commands. The grammar looks names up here and `help_text` (and so
//! `docs/commands.md`) is generated from it, so help cannot drift from what is parsed.

use serde::Serialize;

use super::MAX_REASON_CHARS;
use crate::engine::report::escape;

/// Which command an entry of [`COMMANDS`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    Help,
    Rerun,
    Approve,
    Unapprove,
    Override,
    Explain,
}

impl CommandKind {
    /// This command's entry in [`COMMANDS`].
    pub fn spec(self) -> &'static CommandSpec {
        // Every kind has exactly one entry (a test checks it); the first entry is a safe fallback
        // that is never reached.
        COMMANDS
            .iter()
            .find(|spec| spec.kind == self)
            .unwrap_or(&COMMANDS[0])
    }
}

/// Who may use a command. The server checks this live against the forge; the text is for help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// Anyone who can comment on the pull request.
    Anyone,
    /// The pull request's author and anyone with write access to the repository.
    Writers,
    /// Anyone may write it, but it counts only for a review requirement the user qualifies for
    /// (the pull request's author never, unless `allow_author_approval`).
    Reviewers,
    /// Members of the repository config's `overrides` (teams or users).
    Overriders,
}

impl Who {
    /// One line of Markdown for the help table.
    pub fn describe(self) -> &'static str {
        match self {
            Who::Anyone => "anyone",
            Who::Writers => "the PR author, anyone with write access",
            Who::Reviewers => {
                "anyone; counts only for a requirement you qualify for, never for the PR author \
                 unless `allow_author_approval`"
            }
            Who::Overriders => "members of `overrides` in `.iamgate.yml`",
        }
    }
}

/// One command: its name, argument synopsis, one-line description and who may use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CommandSpec {
    pub kind: CommandKind,
    /// The word after `/iamgate`, lower-case.
    pub name: &'static str,
    /// `""` (no argument), `[reason]` (optional) or `<reason>` (required).
    pub args: &'static str,
    /// What the command does, one line of Markdown.
    pub summary: &'static str,
    pub who: Who,
    /// A complete example line, used in error messages and the docs.
    pub example: &'static str,
}

impl CommandSpec {
    /// `/iamgate name args`.
    pub fn usage(&self) -> String {
        if self.args.is_empty() {
            format!("/iamgate {}", self.name)
        } else {
            format!("/iamgate {} {}", self.name, self.args)
        }
    }

    /// The argument in words: `a reason`, `a rule id`.
    pub(super) fn argument_name(&self) -> &'static str {
        match self.kind {
            CommandKind::Explain => "a rule id",
            _ => "a reason",
        }
    }
}

/// Every command, in the order help lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        kind: CommandKind::Help,
        name: "help",
        args: "",
        summary: "Show this list of commands.",
        who: Who::Anyone,
        example: "/iamgate help",
    },
    CommandSpec {
        kind: CommandKind::Rerun,
        name: "rerun",
        args: "",
        summary: "Analyze the pull request's head again (after a flaky preview, say).",
        who: Who::Writers,
        example: "/iamgate rerun",
    },
    CommandSpec {
        kind: CommandKind::Approve,
        name: "approve",
        args: "[reason]",
        summary: "Approve the current IAM change, like an approving review; the reason is shown \
                  and recorded.",
        who: Who::Reviewers,
        example: "/iamgate approve checked the trust policy with the data team",
    },
    CommandSpec {
        kind: CommandKind::Unapprove,
        name: "unapprove",
        args: "",
        summary: "Withdraw your approval.",
        who: Who::Anyone,
        example: "/iamgate unapprove",
    },
    CommandSpec {
        kind: CommandKind::Override,
        name: "override",
        args: "<reason>",
        summary: "Let this IAM change through without the required approvals; the reason is \
                  required, shown and recorded, and the override ends when the IAM change does.",
        who: Who::Overriders,
        example: "/iamgate override incident INC-1234, reviewed by the on-call lead",
    },
    CommandSpec {
        kind: CommandKind::Explain,
        name: "explain",
        args: "<rule-id>",
        summary: "Show a rule's rationale, an example and how to fix it.",
        who: Who::Anyone,
        example: "/iamgate explain AWS-PE-009",
    },
];

/// The help reply (Markdown), generated from [`COMMANDS`]. `docs/commands.md` embeds it.
pub fn help_text() -> String {
    let mut out = String::from(
        "Write a command at the start of a line in a new comment on the pull request. Lines in \
         code blocks and quotes are ignored, and editing a comment never runs anything.\n\n\
         | command | what it does | who may use it |\n| --- | --- | --- |\n",
    );
    for spec in COMMANDS {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            escape::cell_code_span(&spec.usage()),
            spec.summary,
            spec.who.describe()
        ));
    }
    out.push_str(&format!(
        "\n`/iamgate` alone shows this help. Command names and rule ids are case-insensitive; a \
         reason is kept as written, up to {MAX_REASON_CHARS} characters. At most {} commands \
         are read from one comment.\n",
        super::MAX_COMMANDS
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{Command, parse};

    #[test]
    fn every_kind_has_exactly_one_entry_and_names_are_unique_and_lower_case() {
        for kind in [
            CommandKind::Help,
            CommandKind::Rerun,
            CommandKind::Approve,
            CommandKind::Unapprove,
            CommandKind::Override,
            CommandKind::Explain,
        ] {
            assert_eq!(
                COMMANDS.iter().filter(|s| s.kind == kind).count(),
                1,
                "{kind:?}"
            );
            assert_eq!(kind.spec().kind, kind);
        }
        for spec in COMMANDS {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert_eq!(COMMANDS.iter().filter(|s| s.name == spec.name).count(), 1);
        }
    }

    #[test]
    fn every_example_parses_to_its_own_command() {
        for spec in COMMANDS {
            let got = parse(spec.example);
            assert_eq!(got.len(), 1, "{}", spec.example);
            let command: &Command = got[0].as_ref().expect(spec.example);
            assert_eq!(command.kind(), spec.kind, "{}", spec.example);
        }
    }

    #[test]
    fn help_lists_every_command_from_the_table() {
        let help = help_text();
        for spec in COMMANDS {
            let row = format!(
                "| `{}` | {} | {} |",
                spec.usage(),
                spec.summary,
                spec.who.describe()
            );
            assert!(help.contains(&row), "missing row {row}\n{help}");
        }
        assert_eq!(
            help.lines()
                .filter(|l| l.starts_with("| `/iamgate"))
                .count(),
            COMMANDS.len()
        );
        // The help cannot itself be read as a command by anyone quoting it.
        assert!(parse(&help).is_empty(), "{help}");
    }

    #[test]
    fn usage_shows_the_argument_synopsis() {
        assert_eq!(CommandKind::Help.spec().usage(), "/iamgate help");
        assert_eq!(
            CommandKind::Approve.spec().usage(),
            "/iamgate approve [reason]"
        );
        assert_eq!(
            CommandKind::Override.spec().usage(),
            "/iamgate override <reason>"
        );
        assert_eq!(
            CommandKind::Explain.spec().usage(),
            "/iamgate explain <rule-id>"
        );
    }
}
