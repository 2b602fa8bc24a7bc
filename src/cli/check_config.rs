//! `iamgate check-config FILE`: validates a server config (`.toml`, with the `IAMGATE_*`
//! environment applied as `serve` would) or a repository config (`.yml`/`.yaml`, such as
//! `.iamgate.yml`). Prints `FILE: ok` (for a repository config followed by `FILE: note: ...`
//! lines for what weakens the gate, such as narrowed `paths`), or every problem as `FILE: key.path (line N): message`
//! and exits 3. For a server config it then says whether previews can run here: it starts a
//! test sandbox as `serve` would (exit 1 when it cannot be set up), and which audit keys it holds
//! (by id). Never prints a config value (secrets stay unseen).

use std::path::{Path, PathBuf};

use super::{Outcome, write_stdout};
use crate::config::TeamMembership;
use crate::config::server::{ServerConfig, process_env};
use crate::config::{Problems, repo};
use crate::pulumi::Sandbox;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A server config (`*.toml`) or a repository config (`.iamgate.yml`, `*.yml`, `*.yaml`).
    pub file: PathBuf,
}

/// Which kind of config a file holds, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Server,
    Repo,
}

fn kind_of(path: &Path) -> Option<Kind> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => Some(Kind::Server),
        Some("yml" | "yaml") => Some(Kind::Repo),
        _ if path.file_name().is_some_and(|n| n == ".iamgate.yml") => Some(Kind::Repo),
        _ => None,
    }
}

pub fn run(args: &Args) -> Outcome {
    let name = args.file.display().to_string();
    let checked = match kind_of(&args.file) {
        None => {
            return Outcome::InvalidInput(format!(
                "{name}: cannot tell the kind of config: expected a server config (.toml) or a \
                 repository config (.iamgate.yml, .yml, .yaml)"
            ));
        }
        Some(Kind::Server) => {
            return match ServerConfig::load(Some(&args.file), process_env()) {
                Ok(config) => server_ok(&name, &config),
                Err(problems) => Outcome::InvalidInput(render(&name, &problems)),
            };
        }
        Some(Kind::Repo) => match std::fs::read_to_string(&args.file) {
            Ok(text) => repo::parse(&text).map(|config| repo::notes(&config)),
            Err(e) => return Outcome::InvalidInput(format!("cannot read {name}: {e}")),
        },
    };
    match checked {
        Ok(notes) => match write_stdout(&format!(
            "{name}: ok\n{}",
            notes
                .iter()
                .map(|note| format!("{name}: note: {note}\n"))
                .collect::<String>()
        )) {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Failed(e),
        },
        Err(problems) => Outcome::InvalidInput(render(&name, &problems)),
    }
}

/// Which store the server would open, and where this replica keeps its own files.
fn store_line(config: &ServerConfig) -> String {
    let url = &config.store.url;
    if crate::store::postgres::is_postgres_url(url) {
        let dir = config
            .store
            .data_dir
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("data"));
        format!(
            "store: PostgreSQL {}, shared by every replica (docs/replicas.md); this replica's \
             caches in {}",
            crate::store::postgres::redact(url),
            dir.display()
        )
    } else {
        format!("store: SQLite {url}, one replica")
    }
}

/// A valid server config: `FILE: ok`, then the store, how previews would run here and the
/// audit keys.
fn server_ok(name: &str, config: &ServerConfig) -> Outcome {
    let keys = match crate::app::audit_keys(config) {
        Ok(keys) => keys,
        Err(e) => return Outcome::InvalidInput(format!("{name}: {e:#}")),
    };
    let ids = keys.ids();
    let audit = match ids.split_first() {
        Some((current, previous)) if !previous.is_empty() => format!(
            "audit: new records keyed with key {current}; records under {} still verify",
            previous.join(", ")
        ),
        Some((current, _)) => format!("audit: records keyed with key {current}"),
        None => String::new(),
    };
    let previews = if config.pulumi.sandbox {
        let probe = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .map(|runtime| runtime.block_on(Sandbox::probe(&[])));
        match probe {
            Ok(Ok(_)) => format!(
                "previews: in the bubblewrap sandbox, each run at most {} MiB of memory per \
                 process, {} processes and threads, {} MiB written to disk",
                config.pulumi.memory_mb, config.pulumi.max_processes, config.pulumi.disk_mb
            ),
            Ok(Err(reason)) => {
                return Outcome::Failed(anyhow::anyhow!(
                    "{name}: ok as a file, but previews cannot run here: {reason}"
                ));
            }
            Err(e) => return Outcome::Failed(e),
        }
    } else {
        format!(
            "previews: NOT sandboxed ([pulumi] sandbox = false): the pull request's code runs as \
             iamgate's own user, with no memory or process limit; each run at most {} MiB \
             written to disk",
            config.pulumi.disk_mb
        )
    };
    let gitlab = config.gitlab.as_ref().map_or_else(String::new, |gl| {
        let teams = match gl.team_membership {
            TeamMembership::Direct => "direct members of the group",
            TeamMembership::Inherited => {
                "members of the group, its parent groups and groups invited into it"
            }
        };
        let hold = if gl.approve_merge_requests {
            "the `iamgate` status and iamgate's own approval (require it with an approval rule)"
        } else {
            "the `iamgate` status (Pipelines must succeed)"
        };
        format!("gitlab: teams are {teams}, Developer or above; merges are held by {hold}\n")
    });
    let store = store_line(config);
    match write_stdout(&format!(
        "{name}: ok\n{store}\n{previews}\n{audit}\n{gitlab}"
    )) {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Failed(e),
    }
}

/// `invalid config:` and one `FILE: problem` line per problem.
pub(super) fn render(name: &str, problems: &Problems) -> String {
    let lines: Vec<String> = problems.0.iter().map(|p| format!("{name}: {p}")).collect();
    format!("invalid config:\n{}", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Problem;

    #[test]
    fn the_kind_comes_from_the_name() {
        assert_eq!(kind_of(Path::new("config/server.toml")), Some(Kind::Server));
        assert_eq!(kind_of(Path::new(".iamgate.yml")), Some(Kind::Repo));
        assert_eq!(kind_of(Path::new("repo/.iamgate.yaml")), Some(Kind::Repo));
        assert_eq!(kind_of(Path::new("x.yml")), Some(Kind::Repo));
        assert_eq!(kind_of(Path::new("config.json")), None);
        assert_eq!(kind_of(Path::new("Makefile")), None);
    }

    #[test]
    fn every_problem_gets_its_own_line_with_the_file() {
        let problems = Problems(vec![
            Problem {
                path: "github.app_id".into(),
                line: Some(4),
                message: "must be greater than 0, found 0".into(),
            },
            Problem {
                path: String::new(),
                line: None,
                message: "no forge configured".into(),
            },
        ]);
        assert_eq!(
            render("s.toml", &problems),
            "invalid config:\ns.toml: github.app_id (line 4): must be greater than 0, found 0\ns.toml: no forge configured"
        );
    }

    #[test]
    fn unknown_kinds_and_unreadable_files_are_invalid_input() {
        let outcome = run(&Args {
            file: PathBuf::from("notes.txt"),
        });
        assert!(matches!(outcome, Outcome::InvalidInput(m) if m.contains("cannot tell")));
        let outcome = run(&Args {
            file: PathBuf::from("/nonexistent/.iamgate.yml"),
        });
        assert!(matches!(outcome, Outcome::InvalidInput(m) if m.starts_with("cannot read")));
    }
}
