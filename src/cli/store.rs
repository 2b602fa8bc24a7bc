//! `iamgate store copy --from sqlite://PATH --to postgres://... [--config FILE | --key-file
//! FILE...]`: moves a single-replica store into the PostgreSQL database of several replicas,
//! with its audit chain intact. Stop the server first (a job it runs meanwhile would be copied
//! as running, and taken over only when its lease ends). Exit codes: 0 copied and checked,
//! 1 the copy failed (nothing was kept in the target), 3 invalid input.

use std::path::PathBuf;

use anyhow::Context as _;

use super::Outcome;
use crate::audit::{self, AuditKey, AuditKeys};
use crate::config::server::{ServerConfig, config_path, process_env};
use crate::store::postgres::{PostgresStore, is_postgres_url, redact};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, copy};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Copy a SQLite store into an empty PostgreSQL database (moving up to several replicas).
    Copy(CopyArgs),
}

#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// The store to copy: `sqlite://PATH` (the file must exist).
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The database to copy into: `postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=...]`.
    /// It must be empty (iamgate creates its tables).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// The server config whose `[audit]` keys verify the chain before and after the copy.
    #[arg(long, value_name = "FILE", conflicts_with = "key_file")]
    pub config: Option<PathBuf>,
    /// A file holding an audit key (hex), to verify with; repeat it for each key of a rotated
    /// chain. Without keys (no --config, no IAMGATE_CONFIG, no --key-file) the copy is checked
    /// against the source record for record, but the links are not verified.
    #[arg(long, value_name = "FILE")]
    pub key_file: Vec<PathBuf>,
}

pub fn run(args: &Args) -> Outcome {
    let StoreCommand::Copy(args) = &args.command;
    let Some(path) = args.from.strip_prefix("sqlite://").map(PathBuf::from) else {
        return Outcome::InvalidInput(format!(
            "--from `{}`: expected sqlite://PATH (the store of one replica)",
            args.from
        ));
    };
    if !path.is_file() {
        return Outcome::InvalidInput(format!("--from: no database at `{}`", path.display()));
    }
    if !is_postgres_url(&args.to) {
        return Outcome::InvalidInput(format!(
            "--to `{}`: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            redact(&args.to)
        ));
    }
    let keys = match keys(args) {
        Ok(keys) => keys,
        Err(message) => return Outcome::InvalidInput(message),
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
    match runtime.block_on(copy_store(args, keys)) {
        Ok(output) => match super::write_stdout(&output) {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Failed(e),
        },
        Err(e) => Outcome::Failed(e),
    }
}

/// The keys to verify with (`None`: none given). The config is read only when given, or named
/// by `IAMGATE_CONFIG`.
fn keys(args: &CopyArgs) -> Result<Option<AuditKeys>, String> {
    let mut keys: Vec<AuditKey> = Vec::new();
    if args.config.is_some() || std::env::var_os("IAMGATE_CONFIG").is_some() {
        let path = config_path(args.config.as_deref());
        let name = path
            .as_ref()
            .map_or_else(|| "environment".to_owned(), |p| p.display().to_string());
        let config = ServerConfig::load(path.as_deref(), process_env())
            .map_err(|problems| super::check_config::render(&name, &problems))?;
        let found = crate::app::audit_keys(&config).map_err(|e| format!("{name}: {e:#}"))?;
        keys.extend(found.all().cloned());
    }
    for file in &args.key_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("--key-file `{}`: cannot read it: {e}", file.display()))?;
        keys.push(
            AuditKey::from_hex(&text)
                .map_err(|e| format!("--key-file `{}`: {e}", file.display()))?,
        );
    }
    if keys.is_empty() {
        return Ok(None);
    }
    let current = keys.remove(0);
    Ok(Some(AuditKeys::new(current, keys)))
}

async fn copy_store(args: &CopyArgs, keys: Option<AuditKeys>) -> anyhow::Result<String> {
    // Opening appends nothing: without keys, any key will do to open with.
    let open_keys = || {
        keys.clone().map_or_else(
            || {
                let hex = format!(
                    "{:032x}{:032x}",
                    rand::random::<u128>(),
                    rand::random::<u128>()
                );
                AuditKey::from_hex(&hex).map(|key| AuditKeys::new(key, Vec::new()))
            },
            Ok,
        )
    };
    let source = SqliteStore::open(&args.from, open_keys()?)
        .await
        .with_context(|| format!("cannot open the store `{}`", args.from))?;
    if let Some(keys) = &keys {
        let chain = source
            .audit_chain()
            .await
            .context("cannot read the source's audit trail")?;
        audit::verify(&chain, keys).map_err(|tampered| {
            anyhow::anyhow!(
                "the source's audit trail does not verify: {tampered}; nothing was copied"
            )
        })?;
    }
    let target = PostgresStore::open(&args.to, open_keys()?)
        .await
        .with_context(|| format!("cannot open the database `{}`", redact(&args.to)))?;
    let copied = copy::sqlite_to_postgres(&source, &target)
        .await
        .context("the copy failed; nothing was kept in the target")?;
    let mut out = String::new();
    for (table, rows) in &copied.tables {
        out.push_str(&format!("{table}: {rows} rows\n"));
    }
    match &keys {
        Some(keys) => {
            let chain = target
                .audit_chain()
                .await
                .context("cannot read the copied audit trail")?;
            let verified = audit::verify(&chain, keys).map_err(|tampered| {
                anyhow::anyhow!("the copied audit trail does not verify: {tampered}")
            })?;
            out.push_str(&format!(
                "ok: {} audit records copied and verified, head {}\n",
                verified.count, verified.head
            ));
        }
        None => out.push_str(&format!(
            "ok: {} audit records copied, identical to the source's, head {} (links not verified: \
             give --config or --key-file to verify them)\n",
            copied.audit_records, copied.audit_head
        )),
    }
    target.close().await;
    source.close().await;
    Ok(out)
}
