//! Where the time and the memory of one `analyze` go, stage by stage, on one preview file:
//! read, `serde_json::Value` (the reference), `preview::parse`, IAM extraction, the rules on each
//! side, the whole `engine::analyze`, and the JSON report.
//!
//! Time is the best of a few runs; memory is the rise of the peak resident set over the resident
//! set before the stage (the peak is reset through `/proc/self/clear_refs`, Linux only; `-` when
//! unavailable). Run: `IAMGATE_PREVIEW=/tmp/p50k.json cargo bench --bench stages` (default: a
//! synthetic 50k-resource preview written once to `target/bench-corpus/`).

#[path = "support/synthetic.rs"]
mod synthetic;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use iamgate::engine::iam::extract::extract;
use iamgate::engine::report;
use iamgate::engine::risk::{self, EvalCtx, RiskConfig};
use iamgate::engine::{analyze, preview};

const RUNS: usize = 3;

/// A `/proc/self/status` field in MB (`VmRSS`, `VmHWM`).
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e6)
}

/// Runs `f` `RUNS` times: the best time, the peak RSS rise of the first run, and its result.
fn stage<T>(mut f: impl FnMut() -> T) -> (Duration, Option<f64>, T) {
    let before = status_mb("VmRSS");
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let start = Instant::now();
    let first = black_box(f());
    let mut best = start.elapsed();
    let peak = status_mb("VmHWM");
    let rise = match (reset, before, peak) {
        (true, Some(b), Some(p)) => Some(p - b),
        _ => None,
    };
    for _ in 1..RUNS {
        let start = Instant::now();
        drop(black_box(f()));
        best = best.min(start.elapsed());
    }
    (best, rise, first)
}

fn row(name: &str, (time, rise): (Duration, Option<f64>), value_time: Duration, input_mb: f64) {
    let rise = rise.map_or_else(|| "-".to_owned(), |r| format!("{r:.0}"));
    eprintln!(
        "| {name} | {:.1} | {:.2} | {rise} | {:.2} |",
        time.as_secs_f64() * 1e3,
        time.as_secs_f64() / value_time.as_secs_f64(),
        rise.parse::<f64>().map_or(f64::NAN, |r| r / input_mb),
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = match std::env::var_os("IAMGATE_PREVIEW") {
        Some(path) => PathBuf::from(path),
        None => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let dir = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| root.join("target"), PathBuf::from)
                .join("bench-corpus");
            let path = dir.join("preview_50000.json");
            if !path.exists() {
                std::fs::create_dir_all(&dir)?;
                std::fs::write(&path, synthetic::preview(50_000, 42))?;
                eprintln!(
                    "wrote {}; run again for memory figures free of the generator",
                    path.display()
                );
            }
            path
        }
    };
    let config = RiskConfig::default();
    let ctx = EvalCtx { config: &config };

    let (read_t, read_m, bytes) = stage(|| std::fs::read(&path));
    let bytes = bytes?;
    let mb = bytes.len() as f64 / 1e6;
    eprintln!(
        "{}: {mb:.1} MB, RSS after reading {:.0} MB",
        path.display(),
        status_mb("VmRSS").unwrap_or(f64::NAN)
    );
    let (value_t, value_m, value) =
        stage(|| serde_json::from_slice::<serde_json::Value>(&bytes).is_ok());
    if !value {
        return Err("the preview is not JSON".into());
    }
    let (parse_t, parse_m, parsed) = stage(|| preview::parse(&bytes).map(|p| p.steps.len()));
    parsed?;
    let parsed = preview::parse(&bytes)?;
    let (extract_t, extract_m, ex) = stage(|| extract(&parsed));
    let (before_t, before_m, before) = stage(|| risk::evaluate(&ex.before, ctx));
    let (after_t, after_m, after) = stage(|| risk::evaluate(&ex.after, ctx));
    let (change_t, change_m, _) = stage(|| risk::evaluate_change(&ex.before, &ex.after, ctx));
    drop(ex);
    let (analyze_t, analyze_m, analysis) = stage(|| analyze(&parsed, &config));
    let (render_t, render_m, json) = stage(|| report::json::render(&analysis));
    eprintln!(
        "{} steps; findings before {} after {}; {} changed IAM resources; report {} bytes",
        parsed.steps.len(),
        before.len(),
        after.len(),
        analysis.resources.len(),
        json.len()
    );
    eprintln!("\n| stage | ms (best of {RUNS}) | x Value time | peak RSS rise MB | rise / input |");
    eprintln!("|---|---:|---:|---:|---:|");
    row("read file", (read_t, read_m), value_t, mb);
    row(
        "serde_json::Value (reference)",
        (value_t, value_m),
        value_t,
        mb,
    );
    row("preview::parse", (parse_t, parse_m), value_t, mb);
    row(
        "iam::extract (in analyze)",
        (extract_t, extract_m),
        value_t,
        mb,
    );
    row("risk::evaluate before", (before_t, before_m), value_t, mb);
    row("risk::evaluate after", (after_t, after_m), value_t, mb);
    row("risk::evaluate_change", (change_t, change_m), value_t, mb);
    row(
        "engine::analyze (whole)",
        (analyze_t, analyze_m),
        value_t,
        mb,
    );
    row("report::json::render", (render_t, render_m), value_t, mb);
    row("parse + analyze", (parse_t + analyze_t, None), value_t, mb);
    Ok(())
}
