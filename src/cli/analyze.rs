//! `iamgate analyze PREVIEW`: read a preview (a file or `-` for stdin) and the optional
//! `.iamgate.yml`, run the engine, print the report, and exit 4 when `--fail-on` is reached.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{FailOn, Format, Outcome, write_stdout};
use crate::config::repo;
use crate::engine::risk::RiskConfig;
use crate::engine::{self, Analysis, preview, report};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `pulumi preview --json` output (the digest or the event stream); `-` reads stdin.
    pub preview: PathBuf,
    /// A `.iamgate.yml` whose `risk:` section applies (disable, severity, trusted_accounts).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// Exit with status 4 when the overall risk level is at or above LEVEL.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<FailOn>,
}

pub fn run(args: &Args) -> Outcome {
    let risk = match args.config.as_deref().map(load_config).transpose() {
        Ok(risk) => risk.unwrap_or_default(),
        Err(outcome) => return outcome,
    };
    let (name, bytes) = match read_input(&args.preview) {
        Ok(read) => read,
        Err(e) => return Outcome::InvalidInput(format!("{e:#}")),
    };
    let preview = match preview::parse(&bytes) {
        Ok(p) => p,
        Err(e) => {
            return Outcome::InvalidInput(format!("{name}:{}:{}: {}", e.line, e.column, e.reason));
        }
    };
    let analysis = engine::analyze(&preview, &risk);
    if let Err(e) = write_stdout(&render(args.format, &analysis, &name)) {
        return Outcome::Failed(e);
    }
    match args.fail_on {
        Some(level) if analysis.risk.level >= level.level() => {
            Outcome::RiskAtOrAbove(analysis.risk.level)
        }
        _ => Outcome::Done,
    }
}

/// The report in the requested format.
pub fn render(format: Format, analysis: &Analysis, source: &str) -> String {
    match format {
        Format::Json => report::json::render(analysis),
        Format::Sarif => report::sarif::render(analysis, source),
        Format::Markdown => report::markdown::render(
            &report::markdown::Comment::for_analysis(analysis),
            usize::MAX,
        ),
    }
}

fn read_input(path: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .context("cannot read the preview from stdin")?;
        return Ok(("<stdin>".to_owned(), buf));
    }
    let name = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
    Ok((name, bytes))
}

fn load_config(path: &Path) -> Result<RiskConfig, Outcome> {
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Outcome::InvalidInput(format!("cannot read {name}: {e}")))?;
    repo::parse_risk(&text).map_err(|problems| {
        let lines: Vec<String> = problems.0.iter().map(|p| format!("{name}: {p}")).collect();
        Outcome::InvalidInput(format!("invalid config:\n{}", lines.join("\n")))
    })
}
