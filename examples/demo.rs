//! The GitHub App, end to end, on this machine: no GitHub account, no cloud, no pulumi.
//!
//! It starts the fake GitHub used by the integration tests (an HTTP server with a state model
//! that checks the App JWT and installation tokens like GitHub does), seeds it with a repository
//! `acme/infra` whose base branch enrolls a stack, and a pull request #7 that changes it. A fake
//! `pulumi` prints `examples/risky-preview.json`. Then it runs the real `iamgate serve` code
//! (`app::Service`, the same assembly as the binary) on a real port, sends a signed
//! `pull_request` webhook over HTTP like GitHub does, waits for iamgate to post, and prints the
//! comment and the `iamgate` commit status as GitHub holds them. Then `alice`, a member of the
//! required team, comments `/iamgate approve ...`: iamgate checks her membership with GitHub,
//! records the approval, replies, and the status turns success.
//!
//! ```sh
//! cargo run --example demo
//! ```
//!
//! `--keep` leaves everything running and prints the server config and a `curl` that redelivers
//! the webhook, so that you can run `iamgate serve --config ...` yourself instead.
#![allow(clippy::print_stdout, reason = "a demo program prints its results")]

#[path = "../tests/integration/support/fakes/mod.rs"]
#[allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "the demo uses a part of the test fakes, whose panics are test failures"
)]
mod fakes;

#[path = "support/demo_repo.rs"]
mod demo_repo;

use anyhow::Context;
use demo_repo::{
    BASE, ManualDelivery, PR, REPO, REPO_CONFIG, RunningServer, audit_key_file, fake_pulumi,
    free_port, keep_running, pull_request_payload, rand_u64,
};
use fakes::fake_github::{FakeGitHub, PrSpec};
use iamgate::config::{Secret, ServerConfig};
use iamgate::webhook::verify::github_signature_for;

const HEAD: &str = "2222222222222222222222222222222222222222";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let keep = std::env::args().any(|a| a == "--keep");
    let root = env!("CARGO_MANIFEST_DIR");
    let work = tempfile::Builder::new().prefix("iamgate-demo-").tempdir()?;

    // 1. The fake GitHub, seeded.
    let github = FakeGitHub::start().await;
    let program = "import * as aws from \"@pulumi/aws\";\n// the PR widens the CI role\n";
    github
        .repo(REPO)
        .file(REPO, BASE, ".iamgate.yml", REPO_CONFIG)
        .archive(
            REPO,
            HEAD,
            &[
                (".iamgate.yml", REPO_CONFIG),
                ("infra/Pulumi.yaml", "name: infra\nruntime: nodejs\n"),
                ("infra/index.ts", program),
            ],
        )
        .pr(REPO, PR, PrSpec::new(HEAD, BASE).author("dev"))
        .pr_files(REPO, PR, ["infra/index.ts"])
        .team("acme", "security", &["alice"]);

    // 2. A fake `pulumi` that prints the risky example preview.
    let pulumi = fake_pulumi(work.path())?;

    // 3. The server config, as a user would write it.
    let port = free_port()?;
    let secret = format!("demo-secret-{:016x}", rand_u64());
    let config_path = work.path().join("server.toml");
    let secrets = work.path().join("secrets");
    std::fs::create_dir(&secrets)?;
    let audit_key = audit_key_file(&secrets)?;
    let config_text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
[store]
url = "sqlite://{store}"
[github]
app_id = {app_id}
private_key_path = "{root}/tests/fixtures/keys/test-app.private-key.pem"
webhook_secret = "{secret}"
api_url = "{api}"
[pulumi]
command = "{pulumi}"
timeout_secs = 60
# The demo's pulumi is a stand-in that replays a preview; real previews run the pull request's
# code and keep the default, the bubblewrap sandbox.
sandbox = false
[audit]
# The audit trail's key: kept out of the store (here a fresh one, in a directory of its own).
key_file = "{audit_key}"
"#,
        audit_key = audit_key.display(),
        store = work.path().join("iamgate.db").display(),
        app_id = github.app_id(),
        api = github.url(),
        pulumi = pulumi.display(),
    );
    std::fs::write(&config_path, &config_text)?;
    let config = ServerConfig::load(Some(&config_path), std::iter::empty())
        .map_err(|p| anyhow::anyhow!("the demo config is invalid: {p}"))?;
    println!("fake GitHub: {}", github.url());
    println!("server config: {}", config_path.display());

    let payload = pull_request_payload("opened", HEAD, github.installation_id());
    let signature = github_signature_for(&Secret::new(secret.clone()), payload.as_bytes());
    if keep {
        let headers = [
            "X-GitHub-Event: pull_request".to_owned(),
            "X-GitHub-Delivery: demo-1".to_owned(),
            format!("X-Hub-Signature-256: {signature}"),
        ];
        let delivery = ManualDelivery {
            forge: "github",
            port,
            headers: &headers,
            file_name: "pull_request.json",
            payload: &payload,
        };
        return keep_running(work, &config_path, delivery, || {
            print_results(&github, false)
        })
        .await;
    }

    // 4. iamgate serve, on a real port.
    let server = RunningServer::start(&config).await?;

    // 5. GitHub delivers the webhook.
    let reply = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhooks/github"))
        .header("X-GitHub-Event", "pull_request")
        .header("X-GitHub-Delivery", "demo-delivery-1")
        .header("X-Hub-Signature-256", signature)
        .header("Content-Type", "application/json")
        .body(payload)
        .send()
        .await
        .context("delivering the webhook")?;
    println!(
        "webhook delivered: HTTP {} {}",
        reply.status(),
        reply.text().await?
    );

    // 6. Wait for the comment and the final status.
    let took = server
        .wait_until("iamgate posted nothing", || {
            github
                .latest_status(REPO, HEAD)
                .is_some_and(|s| !s.description.contains("analyzing"))
                && !github.comments(REPO, PR).is_empty()
        })
        .await?;
    println!("iamgate posted in {} ms\n", took.as_millis());
    print_results(&github, true);

    // 7. alice, of acme/security, approves with a command; iamgate checks her membership with
    //    GitHub, records the approval bound to this IAM change, replies and lifts the gate.
    let body = "Scoped to the deploy role, fine.\n/iamgate approve reviewed the PassRole path";
    let comment = github.add_user_comment(REPO, PR, "alice", body);
    let payload = comment_payload(github.installation_id(), comment, "alice", body);
    let signature = github_signature_for(&Secret::new(secret.clone()), payload.as_bytes());
    let reply = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhooks/github"))
        .header("X-GitHub-Event", "issue_comment")
        .header("X-GitHub-Delivery", "demo-delivery-2")
        .header("X-Hub-Signature-256", signature)
        .header("Content-Type", "application/json")
        .body(payload)
        .send()
        .await
        .context("delivering the comment webhook")?;
    println!(
        "alice comments `/iamgate approve ...`: webhook HTTP {}",
        reply.status()
    );
    server
        .wait_until("the approval did not lift the gate", || {
            github
                .latest_status(REPO, HEAD)
                .is_some_and(|s| s.state == "success")
        })
        .await?;
    for c in github.comments(REPO, PR) {
        if c.body.contains("iamgate:reply") {
            println!("──── iamgate's reply ────\n{}\n", c.body);
        }
    }
    if let Some(s) = github.latest_status(REPO, HEAD) {
        println!("status `{}`: {} — {}", s.context, s.state, s.description);
    }
    server.stop().await
}

fn print_results(github: &FakeGitHub, full: bool) {
    let comments = github.comments(REPO, PR);
    for c in &comments {
        if full {
            println!("──── comment {} by {} ────\n{}\n", c.id, c.author, c.body);
        } else {
            println!("comment {} by {} ({} chars)", c.id, c.author, c.body.len());
        }
    }
    for s in github.statuses(REPO, HEAD) {
        println!(
            "status `{}` on {}: {} — {}",
            s.context,
            &HEAD[..7],
            s.state,
            s.description
        );
    }
    if full {
        let asked = github.review_requests(REPO, PR);
        println!(
            "review requested from: teams {:?}, users {:?}",
            asked.teams, asked.users
        );
    }
}

/// An `issue_comment` `created` delivery on the pull request, in GitHub's shape.
fn comment_payload(installation: u64, id: u64, login: &str, body: &str) -> String {
    serde_json::json!({
        "action": "created",
        "issue": {
            "number": PR,
            "state": "open",
            "user": { "login": "dev", "type": "User" },
            "pull_request": { "url": format!("https://api.github.com/repos/{REPO}/pulls/{PR}") }
        },
        "comment": { "id": id, "body": body, "user": { "login": login, "type": "User" } },
        "repository": { "full_name": REPO, "name": "infra", "owner": { "login": "acme" } },
        "installation": { "id": installation },
        "sender": { "login": login, "type": "User" }
    })
    .to_string()
}
