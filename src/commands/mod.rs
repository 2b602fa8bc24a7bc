//! Chat-ops commands: the `/iamgate` lines of a pull request comment, parsed into [`Command`]s
//! or user-facing [`CommandError`]s, and the texts iamgate answers with (`help`, `explain`).
//! Pure: no I/O, no async, no decision about who may do what (the caller checks membership live).
//!
//! The grammar, in short: a line whose text starts with `/iamgate` (ASCII case-insensitive,
//! indented by at most three spaces, followed by whitespace or the end of the line), outside
//! fenced and indented code, block quotes and HTML comments, is a command; the first word after
//! it names the command (case-insensitive), the rest of the line is its argument (kept as
//! written). Case-insensitive because a command line is already deliberate (it must start the
//! line with `/iamgate`), and phones capitalise words: refusing `/iamgate Approve` would only
//! frustrate. Arguments keep their case.

mod explain;
mod grammar;
mod scan;
mod table;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::engine::report::escape;

pub use explain::explain_text;
pub use grammar::parse;
pub use table::{COMMANDS, CommandKind, CommandSpec, Who, help_text};

/// At most this many `/iamgate` lines are read from one comment; more is an error and none runs.
pub const MAX_COMMANDS: usize = 10;

/// A reason is cut to this many characters (the cut is marked with `…`).
pub const MAX_REASON_CHARS: usize = 500;

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Show the commands (also a bare `/iamgate`).
    Help,
    /// Analyze the pull request's head again.
    Rerun,
    /// Approve the current IAM change, optionally saying why.
    Approve { reason: Option<Reason> },
    /// Withdraw one's own approval.
    Unapprove,
    /// Let the change through without the required approvals; the reason is required.
    Override { reason: Reason },
    /// Show a rule's rationale, example and remediation. `rule_id` is the catalog's spelling.
    Explain { rule_id: String },
}

impl Command {
    /// Which entry of [`COMMANDS`] this is.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Help => CommandKind::Help,
            Command::Rerun => CommandKind::Rerun,
            Command::Approve { .. } => CommandKind::Approve,
            Command::Unapprove => CommandKind::Unapprove,
            Command::Override { .. } => CommandKind::Override,
            Command::Explain { .. } => CommandKind::Explain,
        }
    }

    /// The command's entry in [`COMMANDS`]: name, synopsis, description, who may use it.
    pub fn spec(&self) -> &'static CommandSpec {
        self.kind().spec()
    }
}

/// A user's reason for an approval or override: their text, trimmed and cut to
/// [`MAX_REASON_CHARS`]. [`Reason::as_str`] is verbatim (for the audit trail); anything shown in
/// Markdown goes through [`Reason::markdown`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reason(String);

impl Reason {
    /// `None` for blank text.
    pub fn new(text: &str) -> Option<Reason> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(Reason(escape::clip(text, MAX_REASON_CHARS).into_owned()))
    }

    /// The reason as the user wrote it (trimmed and capped). Never put this in Markdown as is.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The reason as inline Markdown: one line that cannot mention anyone, close a block, start
    /// a command line or carry the bot's marker.
    pub fn markdown(&self) -> String {
        escape::text(&self.0)
    }
}

/// What was wrong with a `/iamgate` line. `Display` is the Markdown reply for the user: it says
/// what was wrong and how to write it, and echoes user text only escaped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum CommandError {
    /// The first word is not a command; `suggestion` is the closest command name, if any is close.
    Unknown {
        word: String,
        suggestion: Option<&'static str>,
    },
    /// The command needs an argument that is not there.
    MissingArgument { command: CommandKind },
    /// The command takes no (or fewer) arguments than were given.
    UnexpectedArgument { command: CommandKind, extra: String },
    /// `explain` of an id the catalog does not have; `near` are the closest ids.
    UnknownRule { id: String, near: Vec<&'static str> },
    /// More than [`MAX_COMMANDS`] command lines in one comment.
    TooMany { found: usize },
}

impl std::error::Error for CommandError {}

/// Longest echo of an unknown word or stray argument.
const ECHO_CHARS: usize = 60;

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let echo = |s: &str| escape::code_span(&escape::clip(s, ECHO_CHARS));
        match self {
            CommandError::Unknown { word, suggestion } => {
                write!(f, "{} is not an iamgate command. ", echo(word))?;
                if let Some(name) = suggestion {
                    write!(f, "Did you mean `/iamgate {name}`? ")?;
                }
                f.write_str("`/iamgate help` lists the commands.")
            }
            CommandError::MissingArgument { command } => {
                let spec = command.spec();
                write!(
                    f,
                    "`/iamgate {}` needs {}: write `{}`, for example `{}`.",
                    spec.name,
                    spec.argument_name(),
                    spec.usage(),
                    spec.example
                )
            }
            CommandError::UnexpectedArgument { command, extra } => {
                let spec = command.spec();
                if spec.args.is_empty() {
                    write!(
                        f,
                        "`/iamgate {}` takes no arguments, but got {}: write `{}` alone on its line.",
                        spec.name,
                        echo(extra),
                        spec.usage()
                    )
                } else {
                    write!(
                        f,
                        "`/iamgate {}` takes {} only, but also got {}: write `{}`, one per line.",
                        spec.name,
                        spec.argument_name(),
                        echo(extra),
                        spec.usage()
                    )
                }
            }
            CommandError::UnknownRule { id, near } => {
                write!(f, "There is no rule {}. ", echo(id))?;
                if !near.is_empty() {
                    let near: Vec<String> = near.iter().map(|id| format!("`{id}`")).collect();
                    write!(f, "Did you mean {}? ", near.join(", "))?;
                }
                f.write_str(
                    "Rule ids look like `AWS-PE-009`; `iamgate rules` and `docs/rules.md` list them all.",
                )
            }
            CommandError::TooMany { found } => write!(
                f,
                "This comment has {found} `/iamgate` commands, and at most {MAX_COMMANDS} are read \
                 from one comment, so none of them was run. Split them over several comments."
            ),
        }
    }
}
