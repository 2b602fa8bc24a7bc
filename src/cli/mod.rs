//! The command line: argument definitions, dispatch, and the exit codes of the contract in one
//! place (0 done, 1 other failure, 2 usage, 3 invalid input, 4 risk at or above `--fail-on`).

mod analyze;
mod audit;
mod check_config;
mod rules;
mod serve;
mod store;
mod submit;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::engine::Level;
use crate::engine::iam::{actions, managed};

#[derive(Debug, Parser)]
#[command(
    name = "iamgate",
    about = "A merge gate for IAM changes in Pulumi repositories."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyze `pulumi preview --json` output and write the risk report to stdout.
    Analyze(analyze::Args),
    /// List the rule catalog: id, category, default severity, description.
    Rules(rules::Args),
    /// Validate a server config (TOML) or a repository config (`.iamgate.yml`).
    CheckConfig(check_config::Args),
    /// Run the webhook server (GitHub App), its job worker and its store.
    Serve(serve::Args),
    /// Export the audit trail from the store (JSON or CSV), or verify it was not altered.
    Audit(audit::Args),
    /// Send a CI job's preview (or, with `--failed`, its failed preview's log) to an iamgate
    /// server, authenticated by the job's OIDC ID token.
    Submit(submit::Args),
    /// Manage the store: `store copy` moves a SQLite store into PostgreSQL (several replicas).
    Store(store::Args),
}

/// Output formats of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Markdown,
    Json,
    Sarif,
}

/// The levels `--fail-on` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
    Critical,
}

impl FailOn {
    pub fn level(self) -> Level {
        match self {
            FailOn::Low => Level::Low,
            FailOn::Medium => Level::Medium,
            FailOn::High => Level::High,
            FailOn::Critical => Level::Critical,
        }
    }
}

/// How a command ended, mapped to the contract's exit codes.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// The input (preview or config) is invalid: the message names file, position and reason.
    InvalidInput(String),
    /// `analyze` found risk at or above `--fail-on`.
    RiskAtOrAbove(Level),
    Failed(anyhow::Error),
}

impl Outcome {
    pub fn code(&self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::Failed(_) => 1,
            Outcome::InvalidInput(_) => 3,
            Outcome::RiskAtOrAbove(_) => 4,
        }
    }
}

/// `iamgate --version`: the crate version, and the source and date of the action database, of
/// the AWS managed policy table and of the Google Cloud predefined role table.
pub fn long_version() -> String {
    format!(
        "{}\naction database: {}\nAWS managed policies: {}\nGoogle Cloud predefined roles: {}",
        env!("CARGO_PKG_VERSION"),
        actions::db().version(),
        managed::version(),
        crate::engine::iam::gcp_roles::version()
    )
}

/// Parses the process arguments and runs the command. Usage errors exit 2 (clap's convention).
pub fn main() -> ExitCode {
    let mut command = Cli::command().version(env!("CARGO_PKG_VERSION"));
    // The long version loads both embedded tables: only for `--version`, not on every run.
    if std::env::args_os().any(|a| a == "--version") {
        command = command.long_version(long_version());
    }
    let cli = match command
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let outcome = match cli.command {
        Command::Analyze(args) => analyze::run(&args),
        Command::Rules(args) => rules::run(&args),
        Command::CheckConfig(args) => check_config::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Submit(args) => submit::run(&args),
        Command::Store(args) => store::run(&args),
    };
    match &outcome {
        Outcome::Done => {}
        Outcome::InvalidInput(msg) => eprintln!("iamgate: {msg}"),
        Outcome::RiskAtOrAbove(level) => {
            eprintln!("iamgate: risk level {level} is at or above --fail-on")
        }
        Outcome::Failed(e) => eprintln!("iamgate: {e:#}"),
    }
    ExitCode::from(outcome.code())
}

/// Writes a command's output to stdout; a closed pipe (e.g. `| head`) is not an error.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
