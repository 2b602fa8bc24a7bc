//! Policy documents per second through normalization and every rule, on the peer corpus
//! (`bench/peer/gen_corpus.py -n 10000 --seed 42`, the documents Parliament and Cloudsplaining
//! are timed on): per document `normalize::parse_text`, then an `IamState` holding it (identity
//! policy of a role; a document with a `Principal` as a resource policy) through
//! `risk::evaluate`. Single-threaded (a one-thread rayon pool) and with rayon over two threads.
//!
//! The corpus is generated at start into `target/bench-corpus/` (needs `python3`). After
//! criterion, a summary pass prints documents/s per category and the slowest document.
//! Run: `cargo bench --bench policies`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use iamgate::engine::iam::normalize::parse_text;
use iamgate::engine::iam::{
    Document, IamState, Principal, PrincipalKind, ResourceKind, ResourcePolicy, Sourced,
};
use iamgate::engine::risk::{self, EvalCtx, RiskConfig};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;

const CORPUS_N: usize = 10_000;

/// One line of the corpus; `policy` kept as the exact text Python wrote (what `bench.py` hands
/// to Parliament is `json.dumps` of the same object: the same text).
#[derive(Deserialize)]
struct Row<'a> {
    category: String,
    #[serde(borrow)]
    policy: &'a RawValue,
}

struct Doc {
    category: String,
    text: String,
}

fn corpus() -> Result<Vec<Doc>, Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("bench-corpus");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("corpus_{CORPUS_N}.jsonl"));
    if !path.exists() {
        let status = Command::new("python3")
            .arg(root.join("bench/peer/gen_corpus.py"))
            .args(["-n", &CORPUS_N.to_string(), "--seed", "42", "-o"])
            .arg(&path)
            .status()?;
        if !status.success() {
            return Err(format!("gen_corpus.py failed: {status}").into());
        }
    }
    let text = std::fs::read_to_string(&path)?;
    let docs = text
        .lines()
        .map(|line| {
            let row: Row<'_> = serde_json::from_str(line)?;
            Ok(Doc {
                category: row.category,
                text: row.policy.get().to_owned(),
            })
        })
        .collect::<Result<Vec<_>, serde_json::Error>>()?;
    if docs.len() != CORPUS_N {
        return Err(format!(
            "{} documents in {}, expected {CORPUS_N}",
            docs.len(),
            path.display()
        )
        .into());
    }
    Ok(docs)
}

/// The service a resource policy protects, from the first ARN its statements name.
fn resource_kind(document: &Document) -> ResourceKind {
    let arn = document
        .known()
        .into_iter()
        .flat_map(|p| &p.statements)
        .flat_map(|s| s.resource.iter().flat_map(|r| r.names()))
        .find(|name| name.starts_with("arn:"));
    match arn.and_then(|a| a.split(':').nth(2)) {
        Some("sqs") => ResourceKind::SqsQueue,
        Some("sns") => ResourceKind::SnsTopic,
        Some("kms") => ResourceKind::KmsKey,
        Some("lambda") => ResourceKind::LambdaFunction,
        Some("ecr") => ResourceKind::EcrRepository,
        Some("secretsmanager") => ResourceKind::SecretsManagerSecret,
        _ => ResourceKind::S3Bucket,
    }
}

/// The state that holds one document where the rules look for it.
fn state_of(document: Document) -> IamState {
    const URN: &str = "urn:pulumi:bench::corpus::aws:iam/rolePolicy:RolePolicy::doc";
    let resource_policy = document
        .known()
        .is_some_and(|p| p.statements.iter().any(|s| s.principal.is_some()));
    let sourced = Sourced {
        urn: URN.to_owned(),
        label: "policy".to_owned(),
        value: document,
    };
    let mut state = IamState::default();
    if resource_policy {
        let kind = resource_kind(&sourced.value);
        state.resource_policies.push(ResourcePolicy {
            urn: URN.to_owned(),
            kind,
            target: "target".to_owned(),
            document: sourced,
        });
    } else {
        state.principals.push(Principal {
            kind: PrincipalKind::Role,
            name: "bench".to_owned(),
            urn: Some(URN.to_owned()),
            trust: None,
            policies: vec![sourced],
            managed_arns: Vec::new(),
            boundary: None,
            groups: Vec::new(),
        });
    }
    state
}

/// One document through normalization and every rule: the number of findings.
fn check(text: &str, ctx: EvalCtx<'_>) -> usize {
    risk::evaluate(&state_of(parse_text(text)), ctx).len()
}

fn pool(threads: usize) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let docs = corpus()?;
    let config = RiskConfig::default();
    let ctx = EvalCtx { config: &config };
    let (one, two) = (pool(1)?, pool(2)?);
    let sequential = || docs.iter().map(|d| check(&d.text, ctx)).sum::<usize>();
    let parallel = || docs.par_iter().map(|d| check(&d.text, ctx)).sum::<usize>();

    let mut c = Criterion::default().configure_from_args();
    {
        let mut group = c.benchmark_group("policies");
        group.throughput(Throughput::Elements(docs.len() as u64));
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1));
        group.bench_function("normalize_only/1-thread", |b| {
            b.iter(|| {
                one.install(|| {
                    docs.iter()
                        .map(|d| black_box(parse_text(&d.text)).known().is_some() as usize)
                        .sum::<usize>()
                })
            })
        });
        group.bench_function("normalize_and_rules/1-thread", |b| {
            b.iter(|| one.install(sequential))
        });
        group.bench_function("normalize_and_rules/2-threads", |b| {
            b.iter(|| two.install(parallel))
        });
        group.finish();
    }
    c.final_summary();

    // Per category and the slowest document, single-threaded, best of three passes per document.
    let mut per_category: BTreeMap<&str, (usize, Duration, usize, usize)> = BTreeMap::new();
    let mut slowest = (Duration::ZERO, 0);
    one.install(|| {
        for (i, doc) in docs.iter().enumerate() {
            let mut best = Duration::MAX;
            let mut findings = 0;
            for _ in 0..3 {
                let start = Instant::now();
                findings = black_box(check(black_box(&doc.text), ctx));
                best = best.min(start.elapsed());
            }
            let entry = per_category.entry(doc.category.as_str()).or_default();
            *entry = (
                entry.0 + 1,
                entry.1 + best,
                entry.2 + usize::from(findings > 0),
                entry.3 + findings,
            );
            slowest = slowest.max((best, i));
        }
    });
    let total = per_category
        .values()
        .fold(Duration::ZERO, |acc, v| acc + v.1);
    eprintln!("\nsummary (single thread, best of 3 per document)");
    eprintln!("| category | documents | documents/s | flagged | findings |");
    eprintln!("|---|---:|---:|---:|---:|");
    for (category, (n, time, flagged, findings)) in &per_category {
        eprintln!(
            "| {category} | {n} | {:.0} | {flagged} | {findings} |",
            *n as f64 / time.as_secs_f64()
        );
    }
    let (flagged, findings) = per_category
        .values()
        .fold((0, 0), |acc, v| (acc.0 + v.2, acc.1 + v.3));
    eprintln!(
        "| all | {} | {:.0} | {flagged} | {findings} |",
        docs.len(),
        docs.len() as f64 / total.as_secs_f64()
    );
    eprintln!(
        "slowest document: #{} ({}), {:.3} ms",
        slowest.1,
        docs[slowest.1].category,
        slowest.0.as_secs_f64() * 1e3
    );
    Ok(())
}
