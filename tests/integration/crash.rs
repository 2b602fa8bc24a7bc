//! kill -9 recovery: the real `iamgate serve` binary against the fake GitHub (in this process,
//! reached over loopback), webhooks over HTTP, the process SIGKILLed at several points and
//! restarted on the same SQLite store. Every PR must still end with exactly one correct comment
//! and the right status.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iamgate::config::Secret;
use iamgate::webhook::verify::github_signature_for;
use tempfile::TempDir;

use crate::support::fake_github::{FakeGitHub, Fault};
use crate::support::fake_pulumi::FakePulumi;
use crate::support::server::{
    BASE, CONFIG, MARKER, Options, REPO, STACK, WEBHOOK_SECRET, config_toml, fixture, pr_payload,
    sha,
};

const NEEDS_SECURITY: &str = "needs 1 approval from acme/security or alice";

/// A fake GitHub with one enrolled repository, a fake pulumi, and a store that outlives the
/// server processes started on it.
struct Crash {
    fake: FakeGitHub,
    pulumi: FakePulumi,
    dir: TempDir,
    starts: u32,
    deliveries: u32,
}

/// A running `iamgate serve`; SIGKILLed when dropped.
struct Proc {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// SIGKILL (what `kill -9` sends), then reap it.
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Lets blocked previews go when the test ends, however it ends.
struct Release(FakePulumi);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.release(STACK);
    }
}

impl Crash {
    async fn new() -> Crash {
        let dir = TempDir::new().unwrap();
        let fake = FakeGitHub::start().await;
        fake.repo(REPO)
            .file(REPO, BASE, ".iamgate.yml", CONFIG)
            .team("acme", "security", &["sec1"])
            .collaborator(REPO, "alice");
        let pulumi = FakePulumi::new(dir.path().join("pulumi"));
        Crash {
            fake,
            pulumi,
            dir,
            starts: 0,
            deliveries: 0,
        }
    }

    /// PR `number` at a head of its own, changing `infra/`.
    fn pr(&self, number: u64) -> String {
        let head = sha(&format!("crash-{number}"));
        self.fake
            .archive(
                REPO,
                &head,
                &[
                    (".iamgate.yml", CONFIG),
                    ("infra/Pulumi.yaml", "name: infra\nruntime: nodejs\n"),
                    ("infra/index.ts", "export const x = 1;\n"),
                ],
            )
            .pr(
                REPO,
                number,
                crate::support::fake_github::PrSpec::new(&head, BASE),
            )
            .pr_files(REPO, number, ["infra/index.ts"]);
        head
    }

    /// Starts `iamgate serve` on a free port and waits until `/healthz` answers.
    async fn start(&mut self) -> Proc {
        self.starts += 1;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = Options {
            lease_secs: 2,
            ..Options::default()
        };
        let toml = config_toml(
            &self.fake.url(),
            self.pulumi.command(),
            &self.dir.path().join("iamgate.db"),
            &format!("127.0.0.1:{port}"),
            &options,
        );
        let config = self.dir.path().join("server.toml");
        std::fs::write(&config, toml).unwrap();
        let log = self.dir.path().join(format!("serve-{}.log", self.starts));
        let child = Command::new(env!("CARGO_BIN_EXE_iamgate"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let proc = Proc {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::new();
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let healthy = client
                .get(format!("{}/healthz", proc.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if healthy {
                return proc;
            }
            assert!(
                Instant::now() < until,
                "iamgate serve did not come up:\n{}",
                read(&proc.log)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Delivers `pull_request.opened` for PR `number` over HTTP; returns the HTTP status.
    async fn deliver_opened(&mut self, proc: &Proc, number: u64) -> u16 {
        self.deliveries += 1;
        let spec = self.fake.pull(REPO, number);
        let body = pr_payload("opened", number, &spec, self.fake.installation_id());
        let signature = github_signature_for(&Secret::new(WEBHOOK_SECRET), &body);
        reqwest::Client::new()
            .post(format!("{}/webhooks/github", proc.url))
            .header("content-type", "application/json")
            .header("x-github-event", "pull_request")
            .header(
                "x-github-delivery",
                format!("crash-delivery-{}", self.deliveries),
            )
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Waits until `done` holds, failing with the server's log after `within`.
    async fn wait(&self, proc: &Proc, what: &str, within: Duration, done: impl Fn() -> bool) {
        let until = Instant::now() + within;
        while !done() {
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}; server log:\n{}",
                read(&proc.log)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for PR `number`'s final status, then checks its one comment.
    async fn assert_converges(&self, proc: &Proc, number: u64, head: &str) {
        // Reviewers are asked last, after the status.
        let settled = || {
            self.fake
                .latest_status(REPO, head)
                .is_some_and(|s| s.state == "pending" && s.description == NEEDS_SECURITY)
                && !self.fake.review_requests(REPO, number).teams.is_empty()
        };
        self.wait(
            proc,
            "the final status and review requests",
            Duration::from_secs(25),
            settled,
        )
        .await;
        let comments = self.fake.comments(REPO, number);
        assert_eq!(
            comments.len(),
            1,
            "exactly one comment on #{number}: {comments:#?}"
        );
        let body = &comments[0].body;
        assert_eq!(body.matches(MARKER).count(), 1, "{body}");
        assert!(body.contains("AWS-MP-001"), "the analysis is shown: {body}");
        assert_eq!(comments[0].author, self.fake.bot_login());
        let asked = self.fake.review_requests(REPO, number);
        assert_eq!(asked.teams, ["security"]);
        assert_eq!(asked.users, ["alice"]);
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_right_after_acknowledging_a_delivery_the_pr_still_gets_its_result() {
    let mut c = Crash::new().await;
    c.pulumi
        .replay(STACK, fixture("corpus/admin-attach.preview.json"));
    let head = c.pr(1);
    let first = c.start().await;
    assert_eq!(c.deliver_opened(&first, 1).await, 202);
    first.kill9();

    let second = c.start().await;
    c.assert_converges(&second, 1, &head).await;
    // A later restart finds nothing left to do: still one comment.
    second.kill9();
    let third = c.start().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.assert_converges(&third, 1, &head).await;
    assert_eq!(
        c.fake
            .count_requests("POST", "/repos/acme/infra/issues/1/comments"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_the_preview_runs_the_job_runs_again_after_restart() {
    let mut c = Crash::new().await;
    c.pulumi
        .block(STACK, fixture("corpus/admin-attach.preview.json"));
    let _release = Release(c.pulumi.clone());
    let head = c.pr(2);
    let first = c.start().await;
    assert_eq!(c.deliver_opened(&first, 2).await, 202);
    c.wait(
        &first,
        "the preview to start",
        Duration::from_secs(10),
        || !c.pulumi.invocations().is_empty(),
    )
    .await;
    first.kill9();
    assert!(c.fake.comments(REPO, 2).is_empty());

    let second = c.start().await;
    c.wait(
        &second,
        "the preview to run again",
        Duration::from_secs(15),
        || c.pulumi.invocations().len() >= 2,
    )
    .await;
    c.pulumi.release(STACK);
    c.assert_converges(&second, 2, &head).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_comment_and_before_the_status_no_second_comment_is_posted() {
    let mut c = Crash::new().await;
    c.pulumi
        .replay(STACK, fixture("corpus/admin-attach.preview.json"));
    let head = c.pr(3);
    // The "analyzing" status goes through; every later status fails until the restart.
    c.fake.fail_after(
        "POST",
        "/repos/acme/infra/statuses/",
        1,
        1000,
        Fault::Error500,
    );
    let first = c.start().await;
    assert_eq!(c.deliver_opened(&first, 3).await, 202);
    let status_failed = || {
        c.fake
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/repos/acme/infra/statuses/") && r.status == 500)
    };
    c.wait(
        &first,
        "the comment, then a failed status",
        Duration::from_secs(10),
        status_failed,
    )
    .await;
    assert_eq!(c.fake.comments(REPO, 3).len(), 1, "the comment was created");
    first.kill9();
    c.fake.clear_faults();

    let second = c.start().await;
    c.assert_converges(&second, 3, &head).await;
    assert_eq!(
        c.fake
            .count_requests("POST", "/repos/acme/infra/issues/3/comments"),
        1,
        "the comment was edited, not posted again"
    );
}
