//! `iamgate audit [--config FILE | --store URL] [--key-file FILE]... [--repo OWNER/NAME]
//! [--since DATE] [--format json|csv] [--verify [--expect-head LINK]]`: exports the audit trail
//! from the store, or verifies that it was not altered (the whole chain, whatever the filters,
//! with the audit keys, and the votes the gate counts). Exit codes: 0 done (and, with
//! `--verify`, the chain is intact), 1 the chain was altered or the store failed, 2 usage,
//! 3 invalid input (a bad date, repository, link, key or store URL, no key to verify with, or an
//! invalid config).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::Outcome;
use crate::audit::{self, AuditFilter, AuditKey, AuditKeys, Timestamp, Verified, export};
use crate::config::server::{ServerConfig, config_path, process_env};
use crate::event::RepoName;
use crate::store::backing;
use crate::store::backing::VoteRow;
use crate::store::postgres::{PgAuditReader, is_postgres_url, redact};
use crate::store::sqlite::AuditReader;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server config (TOML) whose `[store]` to read and whose `[audit]` keys to verify
    /// with. Default: the `IAMGATE_CONFIG` variable; without either, the config comes from
    /// `IAMGATE_<SECTION>__<KEY>` variables.
    #[arg(long, value_name = "FILE", conflicts_with = "store")]
    pub config: Option<PathBuf>,
    /// A file holding an audit key (hex, as `[audit] key_file`), to verify with; repeat it for
    /// each key of a rotated chain. Needed by `--verify` with `--store`.
    #[arg(long, value_name = "FILE")]
    pub key_file: Vec<PathBuf>,
    /// Read this store instead of the config's: `sqlite://PATH` (e.g. a copy of the server's
    /// database handed to an auditor; the file must exist) or `postgres://...` (the database of
    /// several replicas; read in read-only transactions).
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
    /// With --verify: a link (`hash`) you saved from an earlier run (its `head`, or the
    /// `audit chain head` the server logs). The chain must still hold it: a chain cut back to
    /// before it (its newest records deleted and its head rewound) fails.
    #[arg(long, value_name = "LINK", requires = "verify")]
    pub expect_head: Option<String>,
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
    if let Some(link) = &args.expect_head
        && !(link.len() == 64 && link.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Outcome::InvalidInput(format!(
            "--expect-head `{link}`: expected a link: 64 hex digits, as `iamgate audit --verify` prints the head"
        ));
    }
    let (url, config_keys) = match store_url(args) {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    let keys = match keys(args, config_keys) {
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
    match runtime.block_on(audit(args, &url, &filter, keys.as_ref())) {
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

/// The keys to verify with: the config's and those of `--key-file`. `None` when there are
/// none, which only `--verify` minds.
fn keys(args: &Args, from_config: Vec<AuditKey>) -> Result<Option<AuditKeys>, String> {
    let mut keys = from_config;
    for file in &args.key_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("--key-file `{}`: cannot read it: {e}", file.display()))?;
        let key = AuditKey::from_hex(&text)
            .map_err(|e| format!("--key-file `{}`: {e}", file.display()))?;
        keys.push(key);
    }
    if keys.is_empty() {
        if args.verify {
            return Err(
                "--verify needs the audit key: give the server's config (--config, or \
                 IAMGATE_CONFIG), or --key-file FILE with each key the trail was written with"
                    .to_owned(),
            );
        }
        return Ok(None);
    }
    let current = keys.remove(0);
    Ok(Some(AuditKeys::new(current, keys)))
}

/// The store to read and the config's audit keys: `--store` (no keys), else the server
/// config's. Refuses a file that does not exist (opening it would create an empty store, which
/// verifies).
fn store_url(args: &Args) -> Result<(String, Vec<AuditKey>), Outcome> {
    if let Some(url) = &args.store {
        if is_postgres_url(url) {
            return Ok((url.clone(), Vec::new()));
        }
        let path = sqlite_path(url).map_err(Outcome::InvalidInput)?;
        if !path.is_file() {
            return Err(Outcome::InvalidInput(format!(
                "--store: no database at `{}`",
                path.display()
            )));
        }
        return Ok((url.clone(), Vec::new()));
    }
    let path = config_path(args.config.as_deref());
    let name = path
        .as_ref()
        .map_or_else(|| "environment".to_owned(), |p| p.display().to_string());
    let config = ServerConfig::load(path.as_deref(), process_env())
        .map_err(|problems| Outcome::InvalidInput(super::check_config::render(&name, &problems)))?;
    let keys = crate::app::audit_keys(&config)
        .map(|keys| keys.all().cloned().collect())
        .map_err(|e| Outcome::InvalidInput(format!("{name}: {e:#}")))?;
    let url = config.store.url;
    if is_postgres_url(&url) {
        return Ok((url, keys));
    }
    let file = sqlite_path(&url)
        .map_err(|message| Outcome::InvalidInput(format!("{name}: store.url: {message}")))?;
    if !file.is_file() {
        return Err(Outcome::InvalidInput(format!(
            "{name}: store.url: no database at `{}` (has the server run?)",
            file.display()
        )));
    }
    Ok((url, keys))
}

/// The file of a `sqlite://PATH` URL.
fn sqlite_path(url: &str) -> Result<PathBuf, String> {
    let bad = || format!("`{url}` is not a store URL: expected sqlite://PATH or postgres://...");
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
async fn audit(
    args: &Args,
    url: &str,
    filter: &AuditFilter,
    keys: Option<&AuditKeys>,
) -> anyhow::Result<String> {
    let store = if is_postgres_url(url) {
        Reader::Postgres(
            PgAuditReader::open(url)
                .await
                .with_context(|| format!("cannot open the store `{}`", redact(url)))?,
        )
    } else {
        let path = sqlite_path(url).map_err(anyhow::Error::msg)?;
        Reader::Sqlite(
            AuditReader::open(&path)
                .await
                .with_context(|| format!("cannot open the store `{url}`"))?,
        )
    };
    let result = read(&store, args, filter, keys).await;
    store.close().await;
    result
}

/// A store's audit trail, read without changing anything.
#[derive(Debug)]
enum Reader {
    Sqlite(AuditReader),
    Postgres(PgAuditReader),
}

impl Reader {
    async fn records(
        &self,
        filter: &AuditFilter,
    ) -> crate::store::StoreResult<Vec<audit::AuditRecord>> {
        match self {
            Reader::Sqlite(store) => store.records(filter).await,
            Reader::Postgres(store) => store.records(filter).await,
        }
    }

    async fn chain(&self) -> crate::store::StoreResult<audit::AuditChain> {
        match self {
            Reader::Sqlite(store) => store.chain().await,
            Reader::Postgres(store) => store.chain().await,
        }
    }

    async fn votes(&self) -> crate::store::StoreResult<Option<Vec<VoteRow>>> {
        match self {
            Reader::Sqlite(store) => store.votes().await,
            Reader::Postgres(store) => store.votes().await.map(Some),
        }
    }

    async fn close(self) {
        match self {
            Reader::Sqlite(store) => store.close().await,
            Reader::Postgres(store) => store.close().await,
        }
    }
}

async fn read(
    store: &Reader,
    args: &Args,
    filter: &AuditFilter,
    keys: Option<&AuditKeys>,
) -> anyhow::Result<String> {
    let exporting =
        !args.verify || args.repo.is_some() || args.since.is_some() || args.format.is_some();
    let records = if let (true, Some(keys)) = (args.verify, keys) {
        let chain = store.chain().await.context("cannot read the audit trail")?;
        let verified = audit::verify(&chain, keys)?;
        if let Some(link) = &args.expect_head {
            expect_head(&chain, link)?;
        }
        let votes = store.votes().await.context("cannot read the votes")?;
        let counted = command_votes(&chain.records, keys);
        let report = report(
            &verified,
            args.expect_head.as_deref(),
            counted,
            votes.as_deref(),
            keys,
        )?;
        if !exporting {
            return Ok(report);
        }
        for line in report.lines() {
            eprintln!("iamgate: {line}");
        }
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

/// `--expect-head`: the chain must hold `link` (compared without regard to case).
fn expect_head(chain: &audit::AuditChain, link: &str) -> anyhow::Result<()> {
    if chain
        .records
        .iter()
        .any(|record| record.hash.eq_ignore_ascii_case(link))
    {
        return Ok(());
    }
    anyhow::bail!(
        "the audit trail was altered: the chain ({} records) does not hold the expected head \
         {link}: records were deleted from its end and its head rewound, or the trail was replaced",
        chain.records.len()
    )
}

/// The records of a (verified) chain that are command votes, which the gate counts.
fn command_votes(records: &[audit::AuditRecord], keys: &AuditKeys) -> usize {
    records
        .iter()
        .filter(|record| {
            record.entry().ok().is_some_and(|entry| {
                let pr = crate::event::PrRef {
                    forge: entry.forge,
                    installation: None,
                    repo: entry.repo,
                    number: entry.pr,
                };
                matches!(backing::vote_of_record(keys, &pr, record), Ok(Some(_)))
            })
        })
        .count()
}

/// What `--verify` found: the `ok` line, then how the records are keyed, the expected head,
/// and the votes. Fails when a vote row's backing shows it was altered.
fn report(
    verified: &Verified,
    expected: Option<&str>,
    command_votes: usize,
    rows: Option<&[VoteRow]>,
    keys: &AuditKeys,
) -> anyhow::Result<String> {
    let mut out = format!("ok: {} records, head {}\n", verified.count, verified.head);
    for span in &verified.spans {
        let records = if span.first == span.last {
            format!("record {}", span.first)
        } else {
            format!("records {}-{}", span.first, span.last)
        };
        match &span.key {
            Some(key) => writeln!(out, "keyed: {records} with key {key}"),
            None => writeln!(
                out,
                "unkeyed: {records}, written before the audit key (only a head saved from \
                 before can show that they were rewritten)"
            ),
        }?;
    }
    if let Some(link) = expected {
        writeln!(out, "expected head {link}: held")?;
    }
    let Some(rows) = rows else {
        return Ok(out);
    };
    let mut bindings = 0;
    let mut idle = Vec::new();
    for row in rows {
        match backing::check(keys, &row.pr_key, &row.vote, &row.backing) {
            Ok(()) => bindings += usize::from(backing::is_binding(&row.vote.source)),
            Err(why) if why.is_tampering() => anyhow::bail!(
                "the audit trail was altered: the vote row `{}` of {}: {why}",
                row.vote.source,
                row.pr_key
            ),
            Err(_) => idle.push(row),
        }
    }
    writeln!(
        out,
        "votes: {command_votes} command votes, each its keyed audit record; {bindings} \
         approvals bound to a commit, each MACed"
    )?;
    if !idle.is_empty() {
        let rows: Vec<String> = idle
            .iter()
            .map(|row| format!("{} `{}` by {}", row.pr_key, row.vote.source, row.vote.login))
            .collect();
        writeln!(
            out,
            "votes: {} rows count for nothing, no audit record or MAC backs them (recorded \
             before the audit key, or written by hand): {}",
            idle.len(),
            rows.join(", ")
        )?;
    }
    Ok(out)
}
