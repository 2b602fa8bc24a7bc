//! Webhook acknowledgement by real `iamgate serve` processes (this build's binary: release with
//! `cargo bench`) on three set-ups, one after the other in the same run: one replica on SQLite,
//! one replica on PostgreSQL, three replicas on one PostgreSQL database with the load spread
//! round robin over them. For each: acknowledged deliveries per second and the latency of
//! `POST /webhooks/github` (p50, p90, p99, max), measured by an in-process load generator that
//! keeps `IAMGATE_BENCH_CONNS` requests in flight over keep-alive connections for
//! `IAMGATE_BENCH_SECS` seconds (after one second of warm-up, not counted).
//!
//! Every request is a new delivery, new by its `X-GitHub-Delivery` id and by its body (the real
//! 25 KB `pull_request.opened` payload for one of `IAMGATE_BENCH_PRS` PRs, with a sequence
//! number added: iamgate treats a body seen before under another id as a replay), signed with
//! HMAC-SHA256. iamgate verifies it, decodes it and stores the delivery and its job (coalesced
//! per PR) durably before answering 202. The workers run: their jobs fail against a GitHub that
//! is not there and back off. After each run the deliveries in the store are counted.
//!
//! The PostgreSQL set-ups run in scratch databases on the server `IAMGATE_TEST_DATABASE_URL`
//! names (see `iamgate::store::postgres::ScratchDatabase`); without it only SQLite runs.
//!
//! ```sh
//! IAMGATE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench webhook_replicas
//! # IAMGATE_BENCH_SECS=10 IAMGATE_BENCH_CONNS=32 IAMGATE_BENCH_PRS=200
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a benchmark binary: failures are fatal, results are printed"
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use iamgate::config::Secret;
use iamgate::store::postgres::ScratchDatabase;
use iamgate::webhook::verify::github_signature_for;

const SECRET: &str = "bench-secret-0123456789abcdef";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// What one set-up measured.
struct Measured {
    what: String,
    secs: f64,
    /// Latencies of the answers 202 (stored now), sorted.
    acked: Vec<Duration>,
    /// Answers 202 over the whole run, warm-up and the requests in flight at the end included:
    /// the deliveries that must be in the store.
    acked_total: u64,
    /// Other 2xx (a duplicate: none expected), non-2xx, and requests that got no answer.
    other_2xx: u64,
    refused: u64,
    failed: u64,
    stored: i64,
}

impl Measured {
    fn print(&self) {
        let pct = |p: f64| self.acked[((self.acked.len() as f64 - 1.0) * p).round() as usize];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "webhook_replicas: {:<26} {:>7.0} acknowledged/s  p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  \
             ({} acked in {:.1} s; other 2xx {}, non-2xx {}, no answer {}; {} acked in all, {} stored)",
            self.what,
            self.acked.len() as f64 / self.secs,
            ms(pct(0.5)),
            ms(pct(0.9)),
            ms(pct(0.99)),
            ms(*self.acked.last().unwrap()),
            self.acked.len(),
            self.secs,
            self.other_2xx,
            self.refused,
            self.failed,
            self.acked_total,
            self.stored,
        );
    }
}

async fn run() {
    let secs: f64 = env_or("IAMGATE_BENCH_SECS", 10.0);
    let conns: usize = env_or("IAMGATE_BENCH_CONNS", 32);
    let prs: u64 = env_or("IAMGATE_BENCH_PRS", 200);
    println!(
        "webhook_replicas: {} cores, load {}, {conns} requests in flight, {secs} s per set-up, {prs} PRs",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    let load = Load::new(prs);
    let run = Duration::from_secs_f64(secs);

    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("iamgate.db");
    let sqlite = Replicas::start(work.path(), &format!("sqlite://{}", db.display()), 1).await;
    let mut measured = load
        .drive(&sqlite.urls, conns, run, "1 replica, SQLite")
        .await;
    sqlite.stop();
    measured.stored = count_sqlite(&db).await;
    measured.print();

    let Some(pg1) = ScratchDatabase::create().await else {
        println!("webhook_replicas: IAMGATE_TEST_DATABASE_URL is not set: PostgreSQL not measured");
        return;
    };
    for (n, db) in [(1, pg1), (3, ScratchDatabase::create().await.unwrap())] {
        let dir = tempfile::tempdir().unwrap();
        let replicas = Replicas::start(dir.path(), &db.url, n).await;
        let what = if n == 1 {
            "1 replica, PostgreSQL".to_owned()
        } else {
            format!("{n} replicas, PostgreSQL")
        };
        let before = transactions(&db.url).await;
        let mut measured = load.drive(&replicas.urls, conns, run, &what).await;
        let after = transactions(&db.url).await;
        replicas.stop();
        measured.stored = count_postgres(&db.url).await;
        measured.print();
        // Warm-up included: the counters are read around the whole drive.
        println!(
            "webhook_replicas: {what}: {:.1} PostgreSQL transactions per acknowledged delivery \
             (pg_stat_database, warm-up included)",
            (after - before) as f64 / measured.acked_total as f64
        );
        db.drop().await;
    }
}

/// Running `iamgate serve` processes on one store.
struct Replicas {
    children: Vec<Child>,
    urls: Vec<String>,
}

impl Replicas {
    /// `n` processes on the store at `url`, each with its own port and data dir under `dir`;
    /// returns once every one is ready.
    async fn start(dir: &Path, url: &str, n: usize) -> Replicas {
        let root = env!("CARGO_MANIFEST_DIR");
        let key = dir.join("audit.key");
        std::fs::write(&key, format!("{:064x}\n", 0x5eed_u128)).unwrap();
        let mut children = Vec::new();
        let mut urls = Vec::new();
        for r in 0..n {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let config = dir.join(format!("server-{r}.toml"));
            std::fs::write(
                &config,
                format!(
                    "[server]\nlisten = \"127.0.0.1:{port}\"\n\
                     [store]\nurl = \"{url}\"\ndata_dir = \"{data}\"\n\
                     [github]\napp_id = 1\nprivate_key_path = \"{root}/tests/fixtures/keys/test-app.private-key.pem\"\n\
                     webhook_secret = \"{SECRET}\"\n\
                     # Nothing listens here: the jobs fail fast and back off, as when GitHub is down.\n\
                     api_url = \"http://127.0.0.1:9\"\n\
                     [pulumi]\ncommand = \"/bin/false\"\nsandbox = false\n\
                     [audit]\nkey_file = \"{key}\"\n",
                    data = dir.join(format!("data-{r}")).display(),
                    key = key.display(),
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.join(format!("serve-{r}.log"))).unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_iamgate"))
                .arg("serve")
                .arg("--config")
                .arg(&config)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            children.push(child);
            urls.push(format!("http://127.0.0.1:{port}"));
        }
        let client = reqwest::Client::new();
        for (r, url) in urls.iter().enumerate() {
            let until = Instant::now() + Duration::from_secs(30);
            while !client
                .get(format!("{url}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                assert!(
                    Instant::now() < until,
                    "replica {r} did not come up: {}",
                    std::fs::read_to_string(dir.join(format!("serve-{r}.log"))).unwrap_or_default()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Replicas { children, urls }
    }

    /// SIGTERM to every process, then waits for each to exit.
    fn stop(mut self) {
        for child in &self.children {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        }
        for child in &mut self.children {
            child.wait().unwrap();
        }
    }
}

/// The deliveries: one template per run, made new by a sequence number.
struct Load {
    template: String,
    prs: u64,
    seq: AtomicU64,
    secret: Secret,
}

impl Load {
    fn new(prs: u64) -> Arc<Load> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/webhooks/github/pull_request.opened.1.json");
        let mut payload: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        payload["installation"] = serde_json::json!({ "id": 1 });
        payload["number"] = "@PR@".into();
        payload["pull_request"]["number"] = "@PR@".into();
        payload["bench_seq"] = "@SEQ@".into();
        Arc::new(Load {
            template: payload.to_string(),
            prs,
            seq: AtomicU64::new(0),
            secret: Secret::new(SECRET),
        })
    }

    /// The next delivery: its id, its body and its signature.
    fn next(&self) -> (String, String, String) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let body = self
            .template
            .replace("\"@PR@\"", &(seq % self.prs + 1).to_string())
            .replace("\"@SEQ@\"", &seq.to_string());
        let signature = github_signature_for(&self.secret, body.as_bytes());
        let id = format!("bench-{}-{seq}", std::process::id());
        (id, body, signature)
    }

    /// Keeps `conns` requests in flight, round robin over `urls`, for a warm-up second and then
    /// `run`; measures the second part.
    async fn drive(
        self: &Arc<Self>,
        urls: &[String],
        conns: usize,
        run: Duration,
        what: &str,
    ) -> Measured {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(conns)
            .build()
            .unwrap();
        let measuring = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let next_url = Arc::new(AtomicU64::new(0));
        let urls: Arc<Vec<String>> = Arc::new(
            urls.iter()
                .map(|u| format!("{u}/webhooks/github"))
                .collect(),
        );
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (load, client, urls) = (Arc::clone(self), client.clone(), Arc::clone(&urls));
            let (measuring, stop, next_url) = (
                Arc::clone(&measuring),
                Arc::clone(&stop),
                Arc::clone(&next_url),
            );
            tasks.push(tokio::spawn(async move {
                let mut out = (Vec::new(), 0u64, 0u64, 0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let (id, body, signature) = load.next();
                    let at = next_url.fetch_add(1, Ordering::Relaxed) as usize % urls.len();
                    let started = Instant::now();
                    let answer = client
                        .post(&urls[at])
                        .header("content-type", "application/json")
                        .header("user-agent", "GitHub-Hookshot/bench")
                        .header("x-github-event", "pull_request")
                        .header("x-github-delivery", id)
                        .header("x-hub-signature-256", signature)
                        .body(body)
                        .send()
                        .await;
                    let status = match answer {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let _ = response.bytes().await;
                            Some(status)
                        }
                        Err(_) => None,
                    };
                    let took = started.elapsed();
                    if status == Some(202) {
                        out.4 += 1;
                    }
                    if !measuring.load(Ordering::Relaxed) {
                        continue;
                    }
                    match status {
                        Some(202) => out.0.push(took),
                        Some(code) if (200..300).contains(&code) => out.1 += 1,
                        Some(_) => out.2 += 1,
                        None => out.3 += 1,
                    }
                }
                out
            }));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        measuring.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(run).await;
        measuring.store(false, Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let mut measured = Measured {
            what: what.to_owned(),
            secs,
            acked: Vec::new(),
            acked_total: 0,
            other_2xx: 0,
            refused: 0,
            failed: 0,
            stored: 0,
        };
        for task in tasks {
            let (acked, other, refused, failed, acked_total) = task.await.unwrap();
            measured.acked.extend(acked);
            measured.acked_total += acked_total;
            measured.other_2xx += other;
            measured.refused += refused;
            measured.failed += failed;
        }
        measured.acked.sort_unstable();
        measured
    }
}

async fn count_sqlite(db: &Path) -> i64 {
    let url = format!("sqlite://{}?mode=ro", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count
}

async fn count_postgres(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count
}

/// Transactions committed and rolled back in the database at `url` so far (the statistics of
/// other sessions reach it within a second or so).
async fn transactions(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let count = sqlx::query_scalar(
        "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database \
         WHERE datname = current_database()",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    count
}
