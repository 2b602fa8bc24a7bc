//! Typed reads from the raw entries for the validator: each getter reports a problem at the
//! key's path and line (or names the variable that set it) and returns what it could read.
//! Never puts a value into a message.

use super::raw::{Entry, Origin, Raw, Value};
use crate::config::problems::{Problem, Problems};

pub(super) struct Reader<'a> {
    pub(super) raw: &'a Raw,
    pub(super) problems: &'a mut Problems,
}

impl Reader<'_> {
    pub(super) fn configured(&self, section: &str) -> bool {
        self.raw.sections.contains_key(section)
    }

    pub(super) fn problem(
        &mut self,
        path: &str,
        entry: Option<&Entry>,
        message: impl Into<String>,
    ) {
        let mut message = message.into();
        let line = match entry.map(|e| &e.origin) {
            Some(Origin::File { line }) => Some(*line),
            Some(Origin::Env { var }) => {
                message.push_str(&format!(" (set by {var})"));
                None
            }
            None => {
                let section = path.split('.').next().unwrap_or_default();
                self.raw.sections.get(section).copied().flatten()
            }
        };
        self.problems.0.push(Problem {
            path: path.to_owned(),
            line,
            message,
        });
    }

    /// A string at `path`; a problem (and None) when it has another type.
    pub(super) fn string(&mut self, path: &str) -> Option<String> {
        let raw = self.raw;
        let entry = raw.entries.get(path)?;
        match &entry.value {
            Value::Str(s) => Some(s.clone()),
            other => {
                let found = type_name(other);
                self.problem(
                    path,
                    Some(entry),
                    format!("expected a string, found {found}"),
                );
                None
            }
        }
    }

    /// A required string; a problem naming the key when missing or empty.
    pub(super) fn required(&mut self, path: &str, what: &str) -> Option<String> {
        let raw = self.raw;
        match self.string(path) {
            Some(s) if !s.trim().is_empty() => Some(s),
            Some(_) => {
                self.problem(
                    path,
                    raw.entries.get(path),
                    format!("must not be empty: {what}"),
                );
                None
            }
            None if !raw.entries.contains_key(path) => {
                self.problem(path, None, format!("missing: {what}"));
                None
            }
            None => None,
        }
    }

    /// An integer > 0 (an environment string must parse as one), else the default.
    pub(super) fn positive(&mut self, path: &str, default: u64) -> usize {
        self.positive_opt(path)
            .unwrap_or(default)
            .try_into()
            .unwrap_or(usize::MAX)
    }

    pub(super) fn positive_opt(&mut self, path: &str) -> Option<u64> {
        let raw = self.raw;
        let entry = raw.entries.get(path)?;
        let n = match &entry.value {
            Value::Int(n) => *n,
            Value::Str(s) if matches!(entry.origin, Origin::Env { .. }) => match s.trim().parse() {
                Ok(n) => n,
                Err(_) => {
                    self.problem(path, Some(entry), "expected a whole number");
                    return None;
                }
            },
            other => {
                let found = type_name(other);
                self.problem(
                    path,
                    Some(entry),
                    format!("expected a whole number, found {found}"),
                );
                return None;
            }
        };
        match u64::try_from(n) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                self.problem(
                    path,
                    Some(entry),
                    format!("must be greater than 0, found {n}"),
                );
                None
            }
        }
    }

    pub(super) fn bool(&mut self, path: &str, default: bool) -> bool {
        let raw = self.raw;
        let Some(entry) = raw.entries.get(path) else {
            return default;
        };
        match &entry.value {
            Value::Bool(b) => *b,
            Value::Str(s) if matches!(entry.origin, Origin::Env { .. }) => match s.trim() {
                "true" => true,
                "false" => false,
                _ => {
                    self.problem(path, Some(entry), "expected `true` or `false`");
                    default
                }
            },
            other => {
                let found = type_name(other);
                self.problem(
                    path,
                    Some(entry),
                    format!("expected `true` or `false`, found {found}"),
                );
                default
            }
        }
    }
}

pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Str(_) => "a string",
        Value::Int(_) => "an integer",
        Value::Bool(_) => "a boolean",
        Value::Other(name) => name,
    }
}
