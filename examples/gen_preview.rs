//! Writes a large synthetic Pulumi preview (PreviewDigest) for benchmarks and profiling:
//!
//! ```text
//! cargo run --release --example gen_preview -- --resources 50000 --out /tmp/p50k.json
//! ```
//!
//! The shapes come from `benches/support/synthetic.rs` (shared with `benches/analyze.rs`); the
//! output is deterministic for a `--seed`. Without `--out` the preview goes to stdout.

#[path = "../benches/support/synthetic.rs"]
mod synthetic;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Writes a synthetic `pulumi preview --json` digest with N resources.
#[derive(Debug, Parser)]
struct Args {
    /// Number of steps (resources), the root stack included.
    #[arg(long, default_value_t = 1000)]
    resources: usize,
    /// Seed of the generator: the same seed gives the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output file (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bytes = synthetic::preview(args.resources, args.seed);
    match &args.out {
        Some(path) => std::fs::write(path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout()
            .lock()
            .write_all(&bytes)
            .context("cannot write to stdout")?,
    }
    eprintln!(
        "{} resources, {} bytes ({:.1} MB)",
        args.resources,
        bytes.len(),
        bytes.len() as f64 / 1e6
    );
    Ok(())
}
