//! Whole-preview analysis against the floor of reading the same bytes: for synthetic previews of
//! 1k, 10k and 50k resources (`support/synthetic.rs`), `serde_json::from_slice::<Value>` versus
//! `preview::parse` alone versus `preview::parse` + `engine::analyze`, in one criterion group.
//!
//! After criterion, a summary pass times the three interleaved (so that other load on the machine
//! hits them alike) and prints, per size, the best and median of a few runs and the ratio
//! analyze / Value that the 1.5x target is about. Run:
//! `cargo bench --bench analyze` (only some sizes: `IAMGATE_BENCH_SIZES=1000,10000`).

#[path = "support/synthetic.rs"]
mod synthetic;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use iamgate::engine::risk::RiskConfig;
use iamgate::engine::{analyze, preview};

const SEED: u64 = 42;
const DEFAULT_SIZES: [usize; 3] = [1_000, 10_000, 50_000];

fn sizes() -> Vec<usize> {
    match std::env::var("IAMGATE_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        Err(_) => DEFAULT_SIZES.to_vec(),
    }
}

fn value_parse(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| v.is_object())
}

fn preview_parse(bytes: &[u8]) -> usize {
    preview::parse(bytes).map_or(0, |p| p.steps.len())
}

fn parse_and_analyze(bytes: &[u8], config: &RiskConfig) -> usize {
    preview::parse(bytes).map_or(0, |p| analyze(&p, config).findings.len())
}

/// Best and median wall time of `runs` calls of each stage, interleaved.
fn interleaved(bytes: &[u8], config: &RiskConfig, runs: usize) -> [(Duration, Duration); 3] {
    let mut times: [Vec<Duration>; 3] = Default::default();
    for _ in 0..runs {
        let start = Instant::now();
        black_box(value_parse(black_box(bytes)));
        times[0].push(start.elapsed());
        let start = Instant::now();
        black_box(preview_parse(black_box(bytes)));
        times[1].push(start.elapsed());
        let start = Instant::now();
        black_box(parse_and_analyze(black_box(bytes), config));
        times[2].push(start.elapsed());
    }
    times.map(|mut t| {
        t.sort();
        (t[0], t[t.len() / 2])
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = RiskConfig::default();
    let inputs: Vec<(usize, Vec<u8>)> = sizes()
        .into_iter()
        .map(|n| (n, synthetic::preview(n, SEED)))
        .collect();
    for (n, bytes) in &inputs {
        // Refuse to time a preview the engine rejects: the numbers would mean nothing.
        let parsed = preview::parse(bytes)
            .map_err(|e| format!("synthetic preview of {n} resources: {e}"))?;
        let analysis = analyze(&parsed, &config);
        eprintln!(
            "preview {n}: {} bytes, {} steps, {} changed IAM resources, {} findings, risk {}",
            bytes.len(),
            parsed.steps.len(),
            analysis.resources.len(),
            analysis.findings.len(),
            analysis.risk.score
        );
    }

    let mut c = Criterion::default().configure_from_args();
    {
        let mut group = c.benchmark_group("analyze");
        for (n, bytes) in &inputs {
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            if *n >= 10_000 {
                group
                    .sample_size(10)
                    .sampling_mode(SamplingMode::Flat)
                    .warm_up_time(Duration::from_secs(1));
            } else {
                group
                    .sample_size(30)
                    .sampling_mode(SamplingMode::Auto)
                    .warm_up_time(Duration::from_secs(2));
            }
            group.bench_with_input(BenchmarkId::new("serde_value", n), bytes, |b, bytes| {
                b.iter(|| value_parse(black_box(bytes)))
            });
            group.bench_with_input(BenchmarkId::new("preview_parse", n), bytes, |b, bytes| {
                b.iter(|| preview_parse(black_box(bytes)))
            });
            group.bench_with_input(BenchmarkId::new("parse_analyze", n), bytes, |b, bytes| {
                b.iter(|| parse_and_analyze(black_box(bytes), &config))
            });
        }
        group.finish();
    }
    c.final_summary();

    eprintln!("\nsummary (interleaved runs; best / median; MB = 10^6 bytes)");
    eprintln!(
        "| resources | MB | Value ms | parse ms | parse+analyze ms | analyze MB/s | ratio best | ratio median |"
    );
    eprintln!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, bytes) in &inputs {
        let runs = if *n >= 10_000 { 7 } else { 21 };
        let [(value, value_med), (parse, _), (full, full_med)] = interleaved(bytes, &config, runs);
        let mb = bytes.len() as f64 / 1e6;
        eprintln!(
            "| {n} | {mb:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.2} | {:.2} |",
            value.as_secs_f64() * 1e3,
            parse.as_secs_f64() * 1e3,
            full.as_secs_f64() * 1e3,
            mb / full.as_secs_f64(),
            full.as_secs_f64() / value.as_secs_f64(),
            full_med.as_secs_f64() / value_med.as_secs_f64(),
        );
    }
    Ok(())
}
