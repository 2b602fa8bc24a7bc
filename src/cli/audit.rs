//! `iamgate audit [--config FILE | --store URL] [--repo OWNER/NAME] [--since DATE]
//! [--format json|csv] [--verify]`: exports the audit trail from the store, or verifies that it
//! was not altered (the whole chain, whatever the filters). Exit codes: 0 done (and, with
//! `--verify`, the chain is intact), 1 the chain was altered or the store failed, 2 usage,
//! 3 invalid input (a bad date, repository or store URL, or an invalid config).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::Outcome;
use crate::audit::{self, AuditFilter, Timestamp, export};
use crate::config::server::{ServerConfig, config_path, process_env};
use crate::event::RepoName;
use crate::store::sqlite::AuditReader;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server config (TOML) whose `[store]` to read. Default: the `IAMGATE_CONFIG` variable;
    /// without either, the config comes from `IAMGATE_<SECTION>__<KEY>` variables.
    #[arg(long, value_name = "FILE", conflicts_with = "store")]
    pub config: Option<PathBuf>,
    /// Read this store instead of the config's: `sqlite://PATH` (e.g. a copy of the server's
    /// database handed to an auditor). The file must exist.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Only records of this repository (`OWNER/NAME`; GitLab: the project's full path).
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// Only records at or after this time: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// `json` (the default): one array, a record per line; `csv`: a header row, then a record
    /// per row.
    #[arg(long, value_enum)]
    pub format: Option<AuditFormat>,
    /// Check the whole hash chain (not only the filtered records). Alone, it prints
    /// `ok: N records, head HASH`; with --repo, --since or --format it exports after a
    /// successful check (the `ok` line then goes to stderr). An altered trail exits 1.
    #[arg(long)]
    pub verify: bool,
}

/// Export formats of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    Json,
    Csv,
}

pub fn run(args: &Args) -> Outcome {
    let filter = match filter(args) {
        Ok(filter) => filter,
        Err(message) => return Outcome::InvalidInput(message),
    };
    let url = match store_url(args) {
        Ok(url) => url,
        Err(outcome) => return outcome,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return Outcome::Failed(
                anyhow::Error::new(e).context("cannot start the Tokio runtime"),
            );
        }
    };
    match runtime.block_on(audit(args, &url, &filter)) {
        Ok(output) => match super::write_stdout(&output) {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Failed(e),
        },
        Err(e) => Outcome::Failed(e),
    }
}

/// The filter the flags ask for, or what is wrong with them.
fn filter(args: &Args) -> Result<AuditFilter, String> {
    let repo = match args.repo.as_deref() {
        None => None,
        Some(repo) => {
            let parts: Vec<&str> = repo.split('/').collect();
            if parts.len() < 2
                || parts
                    .iter()
                    .any(|p| p.is_empty() || p.contains(char::is_whitespace))
            {
                return Err(format!(
                    "--repo `{repo}`: expected OWNER/NAME (GitLab: the project's full path)"
                ));
            }
            Some(RepoName::from(repo))
        }
    };
    let since = match args.since.as_deref() {
        None => None,
        Some(text) => {
            Some(Timestamp::parse_date_or_rfc3339(text).map_err(|e| format!("--since: {e}"))?)
        }
    };
    Ok(AuditFilter { repo, since })
}

/// The store to read: `--store`, else the server config's. Refuses a file that does not exist
/// (opening it would create an empty store, which verifies).
fn store_url(args: &Args) -> Result<String, Outcome> {
    if let Some(url) = &args.store {
        let path = sqlite_path(url).map_err(Outcome::InvalidInput)?;
        if !path.is_file() {
            return Err(Outcome::InvalidInput(format!(
                "--store: no database at `{}`",
                path.display()
            )));
        }
        return Ok(url.clone());
    }
    let path = config_path(args.config.as_deref());
    let name = path
        .as_ref()
        .map_or_else(|| "environment".to_owned(), |p| p.display().to_string());
    let config = ServerConfig::load(path.as_deref(), process_env())
        .map_err(|problems| Outcome::InvalidInput(super::check_config::render(&name, &problems)))?;
    let url = config.store.url;
    let file = sqlite_path(&url)
        .map_err(|message| Outcome::InvalidInput(format!("{name}: store.url: {message}")))?;
    if !file.is_file() {
        return Err(Outcome::InvalidInput(format!(
            "{name}: store.url: no database at `{}` (has the server run?)",
            file.display()
        )));
    }
    Ok(url)
}

/// The file of a `sqlite://PATH` URL.
fn sqlite_path(url: &str) -> Result<PathBuf, String> {
    let bad = || format!("`{url}` is not a store URL: expected sqlite://PATH");
    let rest = url.strip_prefix("sqlite:").ok_or_else(bad)?;
    if rest == ":memory:" {
        return Err(format!("`{url}` is in memory: it holds no audit trail"));
    }
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.is_empty() || path.contains('?') || path.starts_with(':') {
        return Err(bad());
    }
    Ok(Path::new(path).to_path_buf())
}

/// Opens the store read-only (nothing in the file changes), verifies and/or exports, closes
/// it. Returns what goes to stdout.
async fn audit(args: &Args, url: &str, filter: &AuditFilter) -> anyhow::Result<String> {
    let path = sqlite_path(url).map_err(anyhow::Error::msg)?;
    let store = AuditReader::open(&path)
        .await
        .with_context(|| format!("cannot open the store `{url}`"))?;
    let result = read(&store, args, filter).await;
    store.close().await;
    result
}

async fn read(store: &AuditReader, args: &Args, filter: &AuditFilter) -> anyhow::Result<String> {
    let exporting =
        !args.verify || args.repo.is_some() || args.since.is_some() || args.format.is_some();
    let records = if args.verify {
        let chain = store.chain().await.context("cannot read the audit trail")?;
        let verified = audit::verify(&chain)?;
        let line = format!("ok: {} records, head {}\n", verified.count, verified.head);
        if !exporting {
            return Ok(line);
        }
        eprint!("iamgate: {line}");
        // Export what was verified (the same snapshot), not what was appended since.
        let mut records = chain.records;
        records.retain(|record| filter.matches(record));
        records
    } else {
        store
            .records(filter)
            .await
            .context("cannot read the audit trail")?
    };
    Ok(match args.format.unwrap_or(AuditFormat::Json) {
        AuditFormat::Json => export::to_json(&records)?,
        AuditFormat::Csv => export::to_csv(&records)?,
    })
}
