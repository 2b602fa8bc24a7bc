//! Grants of the binding clouds per second, beside AWS policy documents per second (the
//! `policies` bench), and a preview mixing the clouds against the floor of reading its bytes.
//!
//! 1. **Bindings/s**: a synthetic Kubernetes RBAC preview (`support/clouds.rs`: per namespace a
//!    Role, a RoleBinding of it to 1-3 subjects and one of a built-in role; a ClusterRole and
//!    binding every tenth unit; 30% of units changed), through extraction (reading the
//!    resources into bindings and roles: the normalization) and every rule family over both
//!    states, on one thread. Reported per (binding, subject) pair of both states. The same for
//!    a synthetic Google Cloud preview (per unit an `IAMMember`, a `BucketIAMMember`, an
//!    `IAMBinding` of two members; a custom role every fifth unit).
//! 2. **Mixed preview**: the AWS synthetic preview (`support/synthetic.rs`) with the Kubernetes,
//!    Google Cloud and Azure (one role assignment per unit) steps appended; `serde_json::from_slice::<Value>` against `preview::parse` + `engine::analyze`,
//!    interleaved runs, best and median and their ratio.
//!
//! Run: `cargo bench --bench bindings` (sizes: `IAMGATE_BENCH_UNITS=5000`,
//! `IAMGATE_BENCH_AWS=10000`; runs: `IAMGATE_BENCH_RUNS=9`).

#[path = "support/clouds.rs"]
mod clouds;
#[path = "support/synthetic.rs"]
#[allow(
    dead_code,
    reason = "the benchmark uses the steps, not the whole preview"
)]
mod synthetic;

use std::hint::black_box;
use std::time::{Duration, Instant};

use iamgate::engine::iam::extract::extract;
use iamgate::engine::risk::{self, EvalCtx, RiskConfig};
use iamgate::engine::{analyze, preview};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The best and the median of some runs.
fn best_median(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (
        v.first().copied().unwrap_or_default(),
        v.get(v.len() / 2).copied().unwrap_or_default(),
    )
}

/// Times extraction and every rule family over both states of a preview of `steps`, `runs`
/// times, and prints grants per second (per binding of either state).
fn grants_per_second(
    cloud: &str,
    units: usize,
    steps: &[serde_json::Value],
    runs: usize,
    ctx: EvalCtx<'_>,
) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = clouds::digest(steps.to_vec());
    let parsed = preview::parse(&bytes)?;
    let (grants, roles) = {
        let ex = extract(&parsed);
        (
            ex.before.bindings.len() + ex.after.bindings.len(),
            ex.before.role_defs.len() + ex.after.role_defs.len(),
        )
    };
    let mut times = Vec::new();
    let mut findings = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let ex = extract(&parsed);
        let before = risk::evaluate(&ex.before, ctx);
        let after = risk::evaluate(&ex.after, ctx);
        findings = before.len() + after.len();
        black_box((before, after));
        times.push(t.elapsed());
    }
    let (best, med) = best_median(times);
    eprintln!(
        "{cloud}: {units} units, {} steps, {} bytes; {grants} grants and {roles} roles over both states, {findings} findings",
        steps.len(),
        bytes.len()
    );
    eprintln!(
        "  extraction + rules, one thread: best {:.1} ms, median {:.1} ms -> {:.0} grants/s (median)",
        best.as_secs_f64() * 1e3,
        med.as_secs_f64() * 1e3,
        grants as f64 / med.as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let units = env("IAMGATE_BENCH_UNITS", 5_000);
    let aws = env("IAMGATE_BENCH_AWS", 10_000);
    let runs = env("IAMGATE_BENCH_RUNS", 9);
    let config = RiskConfig::default();
    let ctx = EvalCtx { config: &config };

    // 1. Each binding cloud through extraction and the rules, one thread.
    let k8s = clouds::kubernetes(units, 42);
    grants_per_second("kubernetes", units, &k8s, runs, ctx)?;
    let gcp = clouds::gcp(units, 42);
    grants_per_second("google cloud", units, &gcp, runs, ctx)?;

    // 2. A preview mixing the four clouds, against reading it into a Value.
    let mut steps = synthetic::steps(aws, 42);
    steps.extend(k8s);
    steps.extend(gcp);
    steps.extend(clouds::azure(units, 42));
    let mixed = clouds::digest(steps);
    let (mut floor, mut full) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        black_box(serde_json::from_slice::<serde_json::Value>(&mixed)?);
        floor.push(t.elapsed());
        let t = Instant::now();
        let p = preview::parse(&mixed)?;
        black_box(analyze(&p, &config));
        full.push(t.elapsed());
    }
    let (fb, fm) = best_median(floor);
    let (ab, am) = best_median(full);
    eprintln!(
        "mixed: {aws} AWS steps + the Kubernetes, Google Cloud and Azure steps above ({units} Azure assignments), {} bytes",
        mixed.len()
    );
    eprintln!(
        "  Value: best {:.1} ms, median {:.1} ms; parse + analyze: best {:.1} ms, median {:.1} ms; ratio best {:.2}, median {:.2}",
        fb.as_secs_f64() * 1e3,
        fm.as_secs_f64() * 1e3,
        ab.as_secs_f64() * 1e3,
        am.as_secs_f64() * 1e3,
        ab.as_secs_f64() / fb.as_secs_f64(),
        am.as_secs_f64() / fm.as_secs_f64()
    );
    Ok(())
}
