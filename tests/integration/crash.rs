//! kill -9 recovery: the real `iamgate serve` binary against the fake GitHub or the fake GitLab
//! (in this process, reached over loopback), webhooks over HTTP, the process SIGKILLed at several
//! points and restarted on the same SQLite store. Every PR/MR must still end with exactly one
//! correct comment (note) and the right status. The bodies are written once over [`Forge`]
//! and run on both forges as `crash::github::<name>` and `crash::gitlab::<name>`. The harness
//! ([`Crash`], [`Proc`]) also runs several replicas on one PostgreSQL database (`replicas.rs`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iamgate::audit::{AuditChain, AuditEntry, AuditFilter, AuditKey, AuditKeys};
use iamgate::store::postgres::PgAuditReader;
use iamgate::store::sqlite::AuditReader;
use tempfile::TempDir;

use crate::support::app::{
    AUDIT_KEY, Delivery, Fail, Forge, MARKER, Options, STACK, assert_gate_shown, fixture,
};
use crate::support::fake_pulumi::FakePulumi;

pub(crate) const NEEDS_SECURITY: &str = "needs 1 approval from acme/security or alice";
pub(crate) const ADMIN_ATTACH: &str = "corpus/admin-attach.preview.json";

// On a multi-threaded runtime: the fake forge answers the real binary while the test waits.
crate::both_forges!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    killed_right_after_acknowledging_a_delivery_the_pr_still_gets_its_result,
    killed_while_the_preview_runs_the_job_runs_again_after_restart,
    killed_after_the_comment_and_before_the_status_no_second_comment_is_posted,
);

/// POSTs a JSON `body` with `headers` to `url`; returns the HTTP status.
async fn post(url: &str, headers: &[(&str, String)], body: Vec<u8>) -> u16 {
    try_post(url, headers, body).await.unwrap()
}

/// [`post`], or why no answer came (e.g. the connection was refused).
pub(crate) async fn try_post(
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<u16, reqwest::Error> {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    Ok(request.body(body).send().await?.status().as_u16())
}

/// A fake forge with one enrolled repository, a fake pulumi, and a store that outlives the
/// server processes started on it: a SQLite file in `dir`, or ([`Crash::on_postgres`]) a
/// PostgreSQL database every process shares.
pub(crate) struct Crash<F> {
    pub(crate) forge: F,
    pub(crate) pulumi: FakePulumi,
    dir: TempDir,
    starts: u32,
    deliveries: u32,
    /// `[store] url` of every process, when not the SQLite file in `dir`.
    postgres: Option<String>,
    /// The log of every process started, oldest first.
    logs: Vec<PathBuf>,
    /// `[worker] lease_secs`: how soon a killed process's job is taken over.
    lease_secs: u64,
}

/// A running `iamgate serve`; SIGKILLed when dropped.
pub(crate) struct Proc {
    child: Child,
    pub(crate) url: String,
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
    pub(crate) fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits (up to `within`) until it has exited; asserts it exited cleanly.
    pub(crate) async fn terminate(mut self, within: Duration) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let until = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "iamgate serve exited with {status} after SIGTERM:\n{}",
                    read(&self.log)
                );
                return;
            }
            assert!(
                Instant::now() < until,
                "iamgate serve still running {within:?} after SIGTERM:\n{}",
                read(&self.log)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process id (worker ids recorded on claimed jobs name it).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Lets blocked previews go when the test ends, however it ends.
pub(crate) struct Release(pub(crate) FakePulumi);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.release(STACK);
    }
}

impl<F: Forge> Crash<F> {
    pub(crate) async fn new() -> Crash<F> {
        let dir = TempDir::new().unwrap();
        let forge = F::launch().await;
        let pulumi = FakePulumi::new(dir.path().join("pulumi"));
        Crash {
            forge,
            pulumi,
            dir,
            starts: 0,
            deliveries: 0,
            postgres: None,
            logs: Vec::new(),
            lease_secs: 2,
        }
    }

    /// Every process started from now on serves on the PostgreSQL database at `url`
    /// (`IAMGATE_STORE__URL`).
    pub(crate) fn on_postgres(mut self, url: &str) -> Crash<F> {
        self.postgres = Some(url.to_owned());
        self
    }

    /// Processes started from now on hold job leases for `secs` (2 unless set).
    pub(crate) fn with_lease_secs(mut self, secs: u64) -> Crash<F> {
        self.lease_secs = secs;
        self
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("iamgate.db")
    }

    /// Starts `iamgate serve` on a free port and waits until `/healthz` answers.
    async fn start(&mut self) -> Proc {
        self.start_replica("data").await
    }

    /// [`Crash::start`] with `IAMGATE_STORE__DATA_DIR` a directory named `replica` (on
    /// PostgreSQL; a SQLite store keeps its files beside it), so that a replica restarted
    /// under the same name finds its own files again.
    pub(crate) async fn start_replica(&mut self, replica: &str) -> Proc {
        self.starts += 1;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = Options {
            lease_secs: self.lease_secs,
            ..Options::default()
        };
        let toml = self.forge.config_toml(
            self.pulumi.command(),
            &self.db(),
            &format!("127.0.0.1:{port}"),
            &options,
        );
        let config = self.dir.path().join(format!("server-{}.toml", self.starts));
        std::fs::write(&config, toml).unwrap();
        let log = self
            .dir
            .path()
            .join(format!("serve-{}-{replica}.log", self.starts));
        self.logs.push(log.clone());
        let mut command = Command::new(env!("CARGO_BIN_EXE_iamgate"));
        command
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        if let Some(url) = &self.postgres {
            command
                .env("IAMGATE_STORE__URL", url)
                .env("IAMGATE_STORE__DATA_DIR", self.dir.path().join(replica));
        }
        let child = command.spawn().unwrap();
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

    /// A fresh delivery id (idempotency key).
    pub(crate) fn delivery_id(&mut self) -> String {
        self.deliveries += 1;
        format!("crash-delivery-{}", self.deliveries)
    }

    /// Delivers the opening event of PR `number` over HTTP with a fresh delivery id; returns the
    /// HTTP status.
    async fn deliver_opened(&mut self, proc: &Proc, number: u64) -> u16 {
        let id = self.delivery_id();
        let body = self.forge.open_payload(number);
        let headers = self.forge.webhook_headers(F::OPEN_EVENT, &id, &body);
        post(
            &format!("{}/webhooks/{}", proc.url, F::FORGE),
            &headers,
            body,
        )
        .await
    }

    /// POSTs `delivery` under the delivery id `id` to `proc`: its HTTP status, or why none came.
    pub(crate) async fn try_deliver(
        &self,
        proc: &Proc,
        id: &str,
        delivery: &Delivery,
    ) -> Result<u16, reqwest::Error> {
        let headers = self
            .forge
            .webhook_headers(delivery.event, id, &delivery.body);
        let url = format!("{}/webhooks/{}", proc.url, F::FORGE);
        try_post(&url, &headers, delivery.body.clone()).await
    }

    /// Waits until `done` holds, failing with the servers' logs after `within`.
    pub(crate) async fn wait(&self, what: &str, within: Duration, done: impl Fn() -> bool) {
        let until = Instant::now() + within;
        while !done() {
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}; server logs:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The end of the log of every process started, oldest first (for failure messages).
    pub(crate) fn logs(&self) -> String {
        let mut out = String::new();
        for log in &self.logs {
            let text = read(log);
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(150)..];
            out.push_str(&format!(
                "==== {} (last {} lines)\n{}\n",
                log.file_name().unwrap().to_string_lossy(),
                tail.len(),
                tail.join("\n")
            ));
        }
        out
    }

    /// Every audit record of the store, oldest first, read without changing it.
    pub(crate) async fn audit(&self) -> Vec<AuditEntry> {
        let records = match &self.postgres {
            Some(url) => {
                let reader = PgAuditReader::open(url).await.unwrap();
                let records = reader.records(&AuditFilter::default()).await.unwrap();
                reader.close().await;
                records
            }
            None => {
                let reader = AuditReader::open(&self.db()).await.unwrap();
                let records = reader.records(&AuditFilter::default()).await.unwrap();
                reader.close().await;
                records
            }
        };
        records.iter().map(|r| r.entry().unwrap()).collect()
    }

    /// The whole audit chain of the PostgreSQL store, verified with the harness's key; returns
    /// it.
    pub(crate) async fn verified_chain(&self) -> AuditChain {
        let url = self.postgres.as_ref().expect("a PostgreSQL store");
        let reader = PgAuditReader::open(url).await.unwrap();
        let chain = reader.chain().await.unwrap();
        reader.close().await;
        let keys = AuditKeys::new(AuditKey::from_hex(AUDIT_KEY).unwrap(), Vec::new());
        let verified = iamgate::audit::verify(&chain, &keys).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verified.count, chain.records.len() as u64);
        chain
    }

    /// Waits for PR `number`'s final status and review requests, then checks the gate (on GitLab
    /// through the audit trail's decision, the shown text being the first pending one) and the one
    /// comment.
    pub(crate) async fn assert_converges(&self, number: u64, head: &str) {
        // Reviewers are asked last, after the status.
        let settled = || {
            let shown = self.forge.statuses(head).pop();
            shown.is_some_and(|(state, description)| {
                state == "pending" && (F::KEEPS_SAME_STATE_TEXT || description == NEEDS_SECURITY)
            }) && !self.forge.review_requests(number).1.is_empty()
        };
        self.wait(
            "the final status and review requests",
            Duration::from_secs(25),
            settled,
        )
        .await;
        let audit = if F::KEEPS_SAME_STATE_TEXT {
            self.audit().await
        } else {
            Vec::new()
        };
        assert_gate_shown(
            F::KEEPS_SAME_STATE_TEXT,
            &self.forge.statuses(head),
            &audit,
            (head, "pending", NEEDS_SECURITY),
        );
        let comments = self.forge.comments(number);
        assert_eq!(
            comments.len(),
            1,
            "exactly one comment on #{number}: {comments:#?}"
        );
        let body = &comments[0].body;
        assert_eq!(body.matches(MARKER).count(), 1, "{body}");
        assert!(body.contains("AWS-MP-001"), "the analysis is shown: {body}");
        assert_eq!(comments[0].author, self.forge.bot());
        let (teams, users) = self.forge.review_requests(number);
        // GitLab cannot ask a group to review: only the listed user is asked.
        let expected_teams: &[&str] = if F::ASKS_TEAMS { &["security"] } else { &[] };
        assert_eq!(teams, expected_teams);
        assert_eq!(users, ["alice"]);
    }

    /// PR `number` at a head of its own, changing `infra/`; returns the head.
    pub(crate) fn pr(&self, number: u64) -> String {
        self.forge.enroll(number, &format!("crash-{number}"))
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

async fn killed_right_after_acknowledging_a_delivery_the_pr_still_gets_its_result<F: Forge>() {
    let mut c = Crash::<F>::new().await;
    c.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    let head = c.pr(1);
    let first = c.start().await;
    assert_eq!(c.deliver_opened(&first, 1).await, 202);
    first.kill9();

    let second = c.start().await;
    c.assert_converges(1, &head).await;
    // A later restart finds nothing left to do: still one comment.
    second.kill9();
    let _third = c.start().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.assert_converges(1, &head).await;
    assert_eq!(c.forge.comment_posts(1), 1);
}

async fn killed_while_the_preview_runs_the_job_runs_again_after_restart<F: Forge>() {
    let mut c = Crash::<F>::new().await;
    c.pulumi.block(STACK, fixture(ADMIN_ATTACH));
    let _release = Release(c.pulumi.clone());
    let head = c.pr(2);
    let first = c.start().await;
    assert_eq!(c.deliver_opened(&first, 2).await, 202);
    c.wait("the preview to start", Duration::from_secs(10), || {
        !c.pulumi.invocations().is_empty()
    })
    .await;
    first.kill9();
    assert!(c.forge.comments(2).is_empty());

    let _second = c.start().await;
    c.wait("the preview to run again", Duration::from_secs(15), || {
        c.pulumi.invocations().len() >= 2
    })
    .await;
    c.pulumi.release(STACK);
    c.assert_converges(2, &head).await;
}

async fn killed_after_the_comment_and_before_the_status_no_second_comment_is_posted<F: Forge>() {
    let mut c = Crash::<F>::new().await;
    c.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    let head = c.pr(3);
    // The "analyzing" status goes through; every later status fails until the restart.
    let statuses_path = c.forge.statuses_path();
    c.forge
        .fail("POST", &statuses_path, 1, 1000, Fail::Error500);
    let first = c.start().await;
    assert_eq!(c.deliver_opened(&first, 3).await, 202);
    let status_failed = || c.forge.responses(&statuses_path).contains(&500);
    c.wait(
        "the comment, then a failed status",
        Duration::from_secs(10),
        status_failed,
    )
    .await;
    assert_eq!(c.forge.comments(3).len(), 1, "the comment was created");
    first.kill9();
    c.forge.clear_faults();
    let before_restart = c.forge.responses(&statuses_path).len();

    let _second = c.start().await;
    c.assert_converges(3, &head).await;
    assert_eq!(
        c.forge.comment_posts(3),
        1,
        "the comment was edited, not posted again"
    );
    // The status the kill interrupted was sent again (GitLab may refuse to change a pending
    // status's text, but it was asked).
    let after = &c.forge.responses(&statuses_path)[before_restart..];
    assert!(
        after.iter().any(|code| *code < 500),
        "no status was sent after the restart: {after:?}"
    );
}
