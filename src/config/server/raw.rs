//! The raw layer of the server config: the TOML file and the `IAMGATE_<SECTION>__<KEY>`
//! variables flattened into entries keyed by path (`github.app_id`, `pulumi.env.AWS_REGION`),
//! each remembering its line or its variable. Knows the syntax and the key names only; types,
//! defaults and rules belong to the parent module. Never logs or echoes a value.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::problems::{Problem, Problems};

/// The sections and their keys; `pulumi.env` is the one free-form map (of strings).
pub(super) const SCHEMA: &[(&str, &[&str])] = &[
    (
        "server",
        &[
            "listen",
            "max_body_bytes",
            "max_body_bytes_in_flight",
            "max_connections",
            "header_read_timeout_secs",
            "request_timeout_secs",
        ],
    ),
    ("store", &["url", "data_dir"]),
    (
        "github",
        &[
            "app_id",
            "private_key_path",
            "webhook_secret",
            "webhook_secret_file",
            "api_url",
        ],
    ),
    (
        "gitlab",
        &[
            "url",
            "token",
            "token_file",
            "webhook_secret",
            "webhook_secret_file",
            "signing_token",
            "signing_token_file",
            "team_membership",
            "approve_merge_requests",
        ],
    ),
    (
        "pulumi",
        &[
            "command",
            "timeout_secs",
            "max_concurrent",
            "allow_fork_prs",
            "max_output_bytes",
            "sandbox",
            "install",
            "memory_mb",
            "max_processes",
            "disk_mb",
            "repositories",
            "env",
            "repo_env",
        ],
    ),
    (
        "worker",
        &[
            "concurrency",
            "fast_concurrency",
            "lease_secs",
            "max_attempts",
            "command_rate_per_minute",
        ],
    ),
    (
        "audit",
        &["key", "key_file", "previous_keys", "previous_keys_file"],
    ),
    ("ci", &["audience", "github_issuer", "gitlab_issuer"]),
];

/// The secrets that can also be given as a file to read (`<key>_file`, or the variable
/// `IAMGATE_<SECTION>__<KEY>_FILE`), as container secrets are mounted.
const FROM_FILE: &[&str] = &[
    "github.webhook_secret",
    "gitlab.token",
    "gitlab.webhook_secret",
    "gitlab.signing_token",
    "audit.key",
    "audit.previous_keys",
];

/// The free-form string map inside `[pulumi]`.
const ENV_MAP: (&str, &str) = ("pulumi", "env");

/// The per-repository string maps inside `[pulumi]`: `[pulumi.repo_env."owner/name"]`.
const REPO_ENV_MAP: (&str, &str) = ("pulumi", "repo_env");

/// A raw value, before its key's type is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    /// Any other TOML type, named for messages (`a table`, `an array`, ...).
    Other(&'static str),
}

/// Where an entry was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Origin {
    File { line: usize },
    Env { var: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub value: Value,
    pub origin: Origin,
}

/// The flattened config: entries by path, and the sections that were mentioned at all.
#[derive(Debug, Default)]
pub(super) struct Raw {
    pub entries: BTreeMap<String, Entry>,
    /// Section name → the line of its header (None when only set from the environment).
    pub sections: BTreeMap<String, Option<usize>>,
}

fn known_section(name: &str) -> Option<&'static [&'static str]> {
    SCHEMA
        .iter()
        .find(|(s, _)| *s == name)
        .map(|(_, keys)| *keys)
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |head| head.bytes().filter(|b| *b == b'\n').count())
        + 1
}

fn problem(problems: &mut Problems, path: String, line: Option<usize>, message: String) {
    problems.0.push(Problem {
        path,
        line,
        message,
    });
}

fn expected_sections() -> String {
    SCHEMA
        .iter()
        .map(|(s, _)| format!("[{s}]"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Raw {
    /// Flattens the TOML text; syntax errors, unknown sections and unknown keys are problems.
    /// None when the text is not TOML at all (its syntax errors are the only problems).
    pub(super) fn from_toml(text: &str, problems: &mut Problems) -> Option<Raw> {
        let mut raw = Raw::default();
        let (doc, errors) = DeTable::parse_recoverable(text);
        if !errors.is_empty() {
            for e in errors {
                let line = e.span().map(|s| line_of(text, s.start));
                problem(
                    problems,
                    String::new(),
                    line,
                    format!("not valid TOML: {}", e.message()),
                );
            }
            return None;
        }
        for (key, value) in doc.get_ref() {
            let name = key.get_ref().as_ref();
            let line = line_of(text, key.span().start);
            let (Some(keys), Some(table)) = (known_section(name), value.get_ref().as_table())
            else {
                let message = if known_section(name).is_some() {
                    format!("expected a table: write it as [{name}]")
                } else {
                    format!("unknown section: expected one of {}", expected_sections())
                };
                problem(problems, name.to_owned(), Some(line), message);
                continue;
            };
            raw.sections.insert(name.to_owned(), Some(line));
            raw.section(text, name, keys, table, problems);
        }
        Some(raw)
    }

    fn section(
        &mut self,
        text: &str,
        section: &str,
        keys: &[&str],
        table: &DeTable<'_>,
        problems: &mut Problems,
    ) {
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let path = format!("{section}.{name}");
            let line = line_of(text, key.span().start);
            if !keys.contains(&name) {
                let message = format!("unknown key: expected one of {}", keys.join(", "));
                problem(problems, path, Some(line), message);
                continue;
            }
            if (section, name) == ENV_MAP {
                let Some(map) = value.get_ref().as_table() else {
                    let message = format!(
                        "expected a table of strings ([{section}.{name}]), found {}",
                        value.get_ref().type_str()
                    );
                    problem(problems, path, Some(line), message);
                    continue;
                };
                for (var, v) in map {
                    let line = line_of(text, var.span().start);
                    self.insert_toml(format!("{path}.{}", var.get_ref()), v, line);
                }
                continue;
            }
            if (section, name) == REPO_ENV_MAP {
                self.repo_env(text, &path, value, line, problems);
                continue;
            }
            self.insert_toml(path, value, line);
        }
    }

    /// `[pulumi.repo_env."owner/name"]` (or `"owner/name:stack"`) tables of strings, flattened to
    /// `pulumi.repo_env.<key>.<VAR>`.
    fn repo_env(
        &mut self,
        text: &str,
        path: &str,
        value: &Spanned<DeValue<'_>>,
        line: usize,
        problems: &mut Problems,
    ) {
        let expected =
            "expected tables of strings, one per repository ([pulumi.repo_env.\"owner/name\"])";
        let Some(repos) = value.get_ref().as_table() else {
            problem(problems, path.to_owned(), Some(line), expected.to_owned());
            return;
        };
        for (repo, vars) in repos {
            let line = line_of(text, repo.span().start);
            let Some(vars) = vars.get_ref().as_table() else {
                let at = format!("{path}.{}", repo.get_ref());
                problem(problems, at, Some(line), expected.to_owned());
                continue;
            };
            for (var, v) in vars {
                let line = line_of(text, var.span().start);
                let at = format!("{path}.{}.{}", repo.get_ref(), var.get_ref());
                self.insert_toml(at, v, line);
            }
        }
    }

    fn insert_toml(&mut self, path: String, value: &Spanned<DeValue<'_>>, line: usize) {
        let value = match value.get_ref() {
            DeValue::String(s) => Value::Str(s.to_string()),
            DeValue::Boolean(b) => Value::Bool(*b),
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Value::Int(n),
                Err(_) => Value::Other("an integer out of range"),
            },
            DeValue::Float(_) => Value::Other("a float"),
            DeValue::Datetime(_) => Value::Other("a date-time"),
            DeValue::Array(_) => Value::Other("an array"),
            DeValue::Table(_) => Value::Other("a table"),
        };
        let origin = Origin::File { line };
        self.entries.insert(path, Entry { value, origin });
    }

    /// Applies `IAMGATE_<SECTION>__<KEY>` (and `IAMGATE_PULUMI__ENV__<NAME>`) variables over
    /// the file. Variables without `__` (such as `IAMGATE_CONFIG`) are not config keys.
    pub(super) fn apply_env<I>(&mut self, vars: I, problems: &mut Problems)
    where
        I: IntoIterator<Item = (String, String)>,
    {
        for (var, value) in vars {
            let Some(rest) = var.strip_prefix("IAMGATE_") else {
                continue;
            };
            if !rest.contains("__") {
                continue;
            }
            let parts: Vec<&str> = rest.split("__").collect();
            let section = parts[0].to_ascii_lowercase();
            let key = parts
                .get(1)
                .map(|k| k.to_ascii_lowercase())
                .unwrap_or_default();
            let path = match (known_section(&section), parts.len()) {
                (Some(_), 3)
                    if (section.as_str(), key.as_str()) == ENV_MAP && !parts[2].is_empty() =>
                {
                    format!("{section}.{key}.{}", parts[2])
                }
                (Some(keys), 2)
                    if keys.contains(&key.as_str())
                        && (section.as_str(), key.as_str()) != ENV_MAP
                        && (section.as_str(), key.as_str()) != REPO_ENV_MAP =>
                {
                    format!("{section}.{key}")
                }
                _ => {
                    let message = format!(
                        "unknown key set by {var}: expected IAMGATE_<SECTION>__<KEY> for a key of {}",
                        expected_sections()
                    );
                    problem(problems, format!("{section}.{key}"), None, message);
                    continue;
                }
            };
            self.sections.entry(section).or_insert(None);
            let origin = Origin::Env { var };
            let value = Value::Str(value);
            self.entries.insert(path, Entry { value, origin });
        }
    }

    /// Reads each `<secret>_file` into `<secret>` (one trailing newline dropped). Setting both
    /// is a problem, and so is a file that cannot be read; the file's content is never shown.
    pub(super) fn read_secret_files(&mut self, problems: &mut Problems) {
        for key in FROM_FILE {
            let file_key = format!("{key}_file");
            let Some(entry) = self.entries.remove(&file_key) else {
                continue;
            };
            let line = match &entry.origin {
                Origin::File { line } => Some(*line),
                Origin::Env { .. } => None,
            };
            if self.entries.contains_key(*key) {
                let message = format!("set either {key} or {file_key}, not both");
                problem(problems, file_key, line, message);
                continue;
            }
            let Value::Str(path) = &entry.value else {
                problem(problems, file_key, line, "expected a file path".to_owned());
                continue;
            };
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let text = text.strip_suffix('\n').unwrap_or(&text);
                    let text = text.strip_suffix('\r').unwrap_or(text).to_owned();
                    let origin = entry.origin.clone();
                    self.entries.insert(
                        (*key).to_owned(),
                        Entry {
                            value: Value::Str(text),
                            origin,
                        },
                    );
                }
                Err(e) => {
                    let message = format!("cannot read the file `{path}`: {e}");
                    problem(problems, file_key, line, message);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn flattens_sections_with_lines() {
        let mut problems = Problems::default();
        let raw = Raw::from_toml(
            "[server]\nlisten = \"127.0.0.1:1\"\n\n[pulumi]\ntimeout_secs = 0x10\n[pulumi.env]\nAWS_REGION = \"eu-west-1\"\n",
            &mut problems,
        )
        .expect("valid TOML");
        assert!(problems.is_empty(), "{problems}");
        assert_eq!(
            raw.entries["server.listen"],
            Entry {
                value: Value::Str("127.0.0.1:1".into()),
                origin: Origin::File { line: 2 }
            }
        );
        assert_eq!(raw.entries["pulumi.timeout_secs"].value, Value::Int(16));
        assert_eq!(
            raw.entries["pulumi.env.AWS_REGION"].origin,
            Origin::File { line: 7 }
        );
        assert_eq!(raw.sections.get("server"), Some(&Some(1)));
        assert!(!raw.sections.contains_key("github"));
    }

    #[test]
    fn unknown_sections_and_keys_are_all_reported_with_lines() {
        let mut problems = Problems::default();
        Raw::from_toml(
            "listen = \"x\"\n[serve]\na = 1\n[github]\napp_idd = 3\nwebhook_secret = 1.5\n",
            &mut problems,
        );
        let got: Vec<(&str, Option<usize>)> = problems
            .0
            .iter()
            .map(|p| (p.path.as_str(), p.line))
            .collect();
        assert!(got.contains(&("listen", Some(1))), "{got:?}");
        assert!(got.contains(&("serve", Some(2))), "{got:?}");
        assert!(got.contains(&("github.app_idd", Some(5))), "{got:?}");
        assert_eq!(got.len(), 3, "a float is a type problem for later: {got:?}");
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        let mut problems = Problems::default();
        assert!(Raw::from_toml("[server]\nlisten = \n", &mut problems).is_none());
        assert_eq!(problems.0.len(), 1, "{problems}");
        assert_eq!(problems.0[0].line, Some(2));
        assert!(problems.0[0].message.starts_with("not valid TOML"));
    }

    #[test]
    fn env_overrides_the_file_and_maps_the_env_table() {
        let mut problems = Problems::default();
        let mut raw = Raw::from_toml("[github]\napp_id = 1\n", &mut problems).expect("valid TOML");
        raw.apply_env(
            env(&[
                ("IAMGATE_GITHUB__APP_ID", "7"),
                ("IAMGATE_PULUMI__ENV__AWS_REGION", "us-east-1"),
                ("IAMGATE_CONFIG", "/etc/iamgate.toml"),
                ("HOME", "/root"),
            ]),
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems}");
        assert_eq!(
            raw.entries["github.app_id"],
            Entry {
                value: Value::Str("7".into()),
                origin: Origin::Env {
                    var: "IAMGATE_GITHUB__APP_ID".into()
                }
            }
        );
        assert_eq!(
            raw.entries["pulumi.env.AWS_REGION"].value,
            Value::Str("us-east-1".into())
        );
        assert_eq!(raw.sections.get("pulumi"), Some(&None));
        assert_eq!(raw.sections.get("github"), Some(&Some(1)));
    }

    #[test]
    fn unknown_env_keys_are_problems() {
        let mut problems = Problems::default();
        let mut raw = Raw::default();
        raw.apply_env(
            env(&[
                ("IAMGATE_GITHUB__SECRET", "x"),
                ("IAMGATE_NOPE__KEY", "x"),
                ("IAMGATE_PULUMI__ENV", "x"),
                ("IAMGATE_SERVER__LISTEN__X", "x"),
            ]),
            &mut problems,
        );
        assert_eq!(problems.0.len(), 4, "{problems}");
        assert!(raw.entries.is_empty());
        assert!(problems.0[0].message.contains("IAMGATE_GITHUB__SECRET"));
    }
}
