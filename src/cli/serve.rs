//! `iamgate serve [--config FILE]`: loads and validates the server config (file plus
//! `IAMGATE_*` environment), sets up logging, and runs the webhook server, its worker and its
//! store until SIGTERM or SIGINT. An invalid config stops it before anything starts (exit 3).

use std::io::IsTerminal;
use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

use super::Outcome;
use crate::app;
use crate::config::server::{ServerConfig, config_path, process_env};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server config (TOML). Default: the `IAMGATE_CONFIG` variable; without either, every
    /// key comes from `IAMGATE_<SECTION>__<KEY>` variables.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format on stderr: `text` for people, `json` for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn run(args: &Args) -> Outcome {
    let path = config_path(args.config.as_deref());
    let name = path
        .as_ref()
        .map_or_else(|| "environment".to_owned(), |p| p.display().to_string());
    let config = match ServerConfig::load(path.as_deref(), process_env()) {
        Ok(config) => config,
        Err(problems) => {
            return Outcome::InvalidInput(super::check_config::render(&name, &problems));
        }
    };
    init_logging(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("iamgate")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Outcome::Failed(
                anyhow::Error::new(e).context("cannot start the Tokio runtime"),
            );
        }
    };
    match runtime.block_on(app::run_until_signal(&config)) {
        Ok(()) => Outcome::Done,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "the server stopped on an error");
            Outcome::Failed(e)
        }
    }
}

/// The log filter without `RUST_LOG`: iamgate at info; octocrab's own error lines are off, as
/// every failed forge call is logged (without secrets) and retried by iamgate's client.
const DEFAULT_LOG_FILTER: &str = "info,octocrab=off";

/// Logs to stderr, filtered by `RUST_LOG` (default [`DEFAULT_LOG_FILTER`]).
fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if let Err(e) = installed {
        eprintln!("iamgate: logging not set up: {e}");
    }
}
