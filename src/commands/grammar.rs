//! The grammar of one `/iamgate` line: `/iamgate [name [argument]]`. Names come from the
//! command table; unknown names get the closest one as a suggestion.

use super::explain::resolve_rule;
use super::scan::command_lines;
use super::table::{COMMANDS, CommandKind};
use super::{Command, CommandError, MAX_COMMANDS, Reason};

/// Every `/iamgate` line of a comment body, in order, parsed.
///
/// One result per command line, so that the reply can answer each (a typo on one line does not
/// hide the others). No command line gives an empty vector. More than [`MAX_COMMANDS`] lines give
/// a single [`CommandError::TooMany`] and nothing else: none of them runs.
pub fn parse(body: &str) -> Vec<Result<Command, CommandError>> {
    let lines = command_lines(body);
    if lines.len() > MAX_COMMANDS {
        return vec![Err(CommandError::TooMany { found: lines.len() })];
    }
    lines.into_iter().map(parse_line).collect()
}

/// One command line, given the text after `/iamgate`.
fn parse_line(rest: &str) -> Result<Command, CommandError> {
    let rest = rest.trim();
    let (word, argument) = match rest.split_once(char::is_whitespace) {
        Some((word, argument)) => (word, argument.trim()),
        None => (rest, ""),
    };
    if word.is_empty() {
        return Ok(Command::Help);
    }
    let spec = COMMANDS
        .iter()
        .find(|spec| spec.name.eq_ignore_ascii_case(word))
        .ok_or_else(|| CommandError::Unknown {
            word: word.to_owned(),
            suggestion: closest_command(word),
        })?;
    let kind = spec.kind;
    let no_argument = |command: Command| {
        if argument.is_empty() {
            Ok(command)
        } else {
            Err(CommandError::UnexpectedArgument {
                command: kind,
                extra: argument.to_owned(),
            })
        }
    };
    match kind {
        CommandKind::Help => no_argument(Command::Help),
        CommandKind::Rerun => no_argument(Command::Rerun),
        CommandKind::Unapprove => no_argument(Command::Unapprove),
        CommandKind::Approve => Ok(Command::Approve {
            reason: Reason::new(argument),
        }),
        CommandKind::Override => Reason::new(argument)
            .map(|reason| Command::Override { reason })
            .ok_or(CommandError::MissingArgument { command: kind }),
        CommandKind::Explain => {
            let mut words = argument.split_whitespace();
            let id = words
                .next()
                .ok_or(CommandError::MissingArgument { command: kind })?;
            if words.next().is_some() {
                return Err(CommandError::UnexpectedArgument {
                    command: kind,
                    extra: argument.to_owned(),
                });
            }
            let rule = resolve_rule(id)?;
            Ok(Command::Explain {
                rule_id: rule.id.to_owned(),
            })
        }
    }
}

/// The command name closest to a mistyped `word`: within two edits (a swap of neighbours is
/// one), or the only name that `word` (three letters or more) begins.
fn closest_command(word: &str) -> Option<&'static str> {
    let word = word.to_ascii_lowercase();
    let by_distance = COMMANDS
        .iter()
        .map(|spec| (strsim::osa_distance(&word, spec.name), spec.name))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name);
    by_distance.or_else(|| {
        let mut prefixed = COMMANDS
            .iter()
            .filter(|spec| word.chars().count() >= 3 && spec.name.starts_with(&word));
        match (prefixed.next(), prefixed.next()) {
            (Some(spec), None) => Some(spec.name),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests;
