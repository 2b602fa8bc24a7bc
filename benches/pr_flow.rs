//! PR event → comment and status posted, against the local fake GitHub with an instant fake
//! `pulumi`: the latency iamgate adds to a pull request, end to end through the real router, the
//! SQLite store, the worker, the real GitHub client (App JWT, installation token, octocrab) and
//! the engine. Each iteration pushes a new head to the PR, delivers the signed `synchronize`
//! webhook through the router and runs the worker until the job is done, then checks that the
//! status for that head was posted and the one comment updated.
//!
//! With `IAMGATE_BENCH_CI=1` the stack is `preview: ci`: each iteration's webhook is handled
//! first (the status waits for CI), then the measured part is a CI job's submission: the
//! preview posted to `POST /api/v1/previews` with an ID token of a fake OIDC issuer (its keys
//! fetched once), checked against the fake GitHub, stored, analyzed, comment and status posted.
//!
//!
//! With `IAMGATE_BENCH_POSTGRES=1` the store is PostgreSQL instead of SQLite: a scratch database
//! on the server `IAMGATE_TEST_DATABASE_URL` names (see `iamgate::store::postgres::
//! ScratchDatabase`), dropped at the end.
//!
//! ```sh
//! cargo bench --bench pr_flow                         # 200 iterations; IAMGATE_BENCH_ITERS=N
//! IAMGATE_BENCH_SANDBOX=1 cargo bench --bench pr_flow  # the preview in the bubblewrap sandbox
//! IAMGATE_BENCH_CI=1 cargo bench --bench pr_flow       # submission → comment and status
//! IAMGATE_BENCH_POSTGRES=1 IAMGATE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench pr_flow                     # on PostgreSQL
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a benchmark binary: failures are fatal, results are printed"
)]

#[path = "../tests/integration/support/fakes/mod.rs"]
#[allow(
    dead_code,
    unused_imports,
    reason = "the benchmark uses a part of the test fakes"
)]
mod fakes;

#[path = "../tests/integration/support/fake_oidc.rs"]
#[allow(dead_code, reason = "the benchmark uses a part of the fake issuer")]
mod fake_oidc;

#[path = "../examples/support/demo_repo.rs"]
#[allow(
    dead_code,
    reason = "each user of the demo repository uses a part of it"
)]
mod demo_repo;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use demo_repo::{BASE, PR, REPO, REPO_CONFIG, audit_key_file, fake_pulumi, pull_request_payload};
use fakes::fake_github::{FakeGitHub, PrSpec};
use iamgate::app::Service;
use iamgate::config::{Secret, ServerConfig};
use iamgate::server::router;
use iamgate::store::postgres::ScratchDatabase;
use iamgate::webhook::verify::github_signature_for;
use tower::ServiceExt;

const SECRET: &str = "bench-secret-0123456789abcdef";

fn main() {
    let iterations: usize = std::env::var("IAMGATE_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(iterations));
}

fn head(i: usize) -> String {
    format!("{:040x}", 0xabc0_0000_u64 + i as u64)
}

async fn run(iterations: usize) {
    let root = env!("CARGO_MANIFEST_DIR");
    let work = tempfile::tempdir().unwrap();
    let github = FakeGitHub::start().await;
    github
        .repo(REPO)
        .file(REPO, BASE, ".iamgate.yml", REPO_CONFIG)
        .team("acme", "security", &["alice"]);
    // The fake pulumi in a directory of its own: the sandbox shows the program's directory.
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let pulumi = fake_pulumi(&bin).unwrap();
    let sandbox = std::env::var_os("IAMGATE_BENCH_SANDBOX").is_some_and(|v| v == "1");
    let ci = std::env::var_os("IAMGATE_BENCH_CI").is_some_and(|v| v == "1");
    let issuer = fake_oidc::FakeIssuer::start().await;
    if ci {
        let config = REPO_CONFIG.replace(
            "    stack: acme/prod\n",
            "    stack: acme/prod\n    preview: ci\n",
        );
        github.file(REPO, BASE, ".iamgate.yml", config);
    }
    let preview = std::fs::read(format!("{root}/examples/risky-preview.json")).unwrap();
    let postgres = if std::env::var_os("IAMGATE_BENCH_POSTGRES").is_some_and(|v| v == "1") {
        let db = ScratchDatabase::create().await;
        Some(db.expect("IAMGATE_BENCH_POSTGRES=1 needs IAMGATE_TEST_DATABASE_URL"))
    } else {
        None
    };
    let store_url = match &postgres {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", work.path().join("iamgate.db").display()),
    };
    let config = ServerConfig::parse(
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[store]\nurl = \"{store_url}\"\ndata_dir = \"{}\"\n\
             [github]\napp_id = {}\nprivate_key_path = \"{root}/tests/fixtures/keys/test-app.private-key.pem\"\n\
             webhook_secret = \"{SECRET}\"\napi_url = \"{}\"\n[pulumi]\ncommand = \"{}\"\nsandbox = {sandbox}\n\
             [audit]\nkey_file = \"{}\"\n[ci]\ngithub_issuer = \"{}\"\n",
            work.path().display(),
            github.app_id(),
            github.url(),
            pulumi.display(),
            audit_key_file(work.path()).unwrap().display(),
            issuer.url,
        ),
        std::iter::empty(),
    )
    .unwrap();
    let service = Service::build(&config).await.unwrap();
    let app = router(service.state().clone());
    let secret = Secret::new(SECRET);

    // One warm-up run (token minting, first comment creation), then the measured ones.
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..=iterations {
        let sha = head(i);
        github
            .archive(
                REPO,
                &sha,
                &[
                    (
                        "infra/Pulumi.yaml",
                        "name: infra\nruntime: nodejs\n".to_owned(),
                    ),
                    ("infra/index.ts", format!("// revision {i}\n")),
                ],
            )
            .pr(REPO, PR, PrSpec::new(&sha, BASE))
            .pr_files(REPO, PR, ["infra/index.ts"]);
        let body = pull_request_payload(
            if i == 0 { "opened" } else { "synchronize" },
            &sha,
            github.installation_id(),
        );
        let request = Request::post("/webhooks/github")
            .header("X-GitHub-Event", "pull_request")
            .header("X-GitHub-Delivery", format!("bench-{i}"))
            .header(
                "X-Hub-Signature-256",
                github_signature_for(&secret, body.as_bytes()),
            )
            .header("Content-Type", "application/json")
            .body(Body::from(body))
            .unwrap();

        let mut started = Instant::now();
        let reply = app.clone().oneshot(request).await.unwrap();
        assert!(
            reply.status().is_success(),
            "delivery {i}: {}",
            reply.status()
        );
        let mut summary = service.worker().run_until_idle().await.unwrap();
        if ci {
            let waiting = github.latest_status(REPO, &sha).expect("a status");
            assert_eq!(
                waiting.description,
                "waiting for the preview of prod from CI"
            );
            let token = issuer.sign(&issuer.github_claims(REPO, PR, &sha));
            let request = Request::post(format!("/api/v1/previews?stack=prod&commit={sha}"))
                .header("Authorization", format!("Bearer {token}"))
                .header("Content-Type", "application/json")
                .body(Body::from(preview.clone()))
                .unwrap();
            started = Instant::now();
            let reply = app.clone().oneshot(request).await.unwrap();
            assert_eq!(reply.status().as_u16(), 202, "submission {i}");
            summary = service.worker().run_until_idle().await.unwrap();
        }
        let elapsed = started.elapsed();

        assert_eq!(summary.completed, 1, "iteration {i}: {summary:?}");
        let status = github
            .latest_status(REPO, &sha)
            .expect("a status for the new head");
        assert_eq!(status.description, "needs 1 approval from acme/security");
        if i > 0 {
            samples.push(elapsed);
        }
    }
    assert_eq!(
        github.comments(REPO, PR).len(),
        1,
        "one comment, edited in place"
    );

    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let what = if ci {
        "CI submission → comment updated + status posted"
    } else {
        "event → comment updated + status posted"
    };
    let store = if postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "pr_flow: {} runs ({what}, {store}): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms, mean {:.1} ms",
        samples.len(),
        ms(pct(0.5)),
        ms(pct(0.9)),
        ms(pct(0.99)),
        ms(*samples.last().unwrap()),
        ms(mean),
    );
    drop(app);
    drop(service);
    if let Some(db) = postgres {
        db.drop().await;
    }
}
