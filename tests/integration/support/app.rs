//! The scenario app: the real server (`Service::build` from a parsed `ServerConfig`, the real
//! router, the real forge client) against a fake forge and the fake pulumi, with a store in a
//! temp dir, as one [`TestApp`] generic over the fake forge. [`Forge`] is the one fake-forge
//! abstraction: what the scenarios (and the kill -9 tests, which run the real binary) do with
//! either forge (enrol a PR/MR, build its deliveries, read the report, the replies, the reactions
//! and the `iamgate` status, inject faults, set up team/group membership), implemented by
//! [`FakeGitHub`](super::fake_github::FakeGitHub) in [`super::github`] and by
//! [`FakeGitLab`](super::fake_gitlab::FakeGitLab) in [`super::gitlab`]. Scenario bodies written
//! once as `async fn name<F: Forge>()` run on both forges through [`crate::both_forges`].
//!
//! Statuses are read in the contract's words: GitLab's `failed` is `failure`. Where the forges
//! differ by nature, the trait says so in a constant ([`Forge::ASKS_TEAMS`],
//! [`Forge::KEEPS_SAME_STATE_TEXT`]).

#![allow(async_fn_in_trait, reason = "test support: no Send bound is needed")]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use iamgate::app::Service;
use iamgate::audit::{AuditEntry, AuditEvent, GateState};
use iamgate::config::ServerConfig;
use iamgate::queue::RunSummary;
use iamgate::server::router;
use iamgate::store::QueueStats;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tower::ServiceExt;

use super::fake_pulumi::FakePulumi;

/// The repository (GitHub) or project (GitLab) every scenario uses.
pub const REPO: &str = "acme/infra";
/// The Pulumi stack of `.iamgate.yml`'s one stack.
pub const STACK: &str = "acme/prod";
/// A `[pulumi.env]` secret of the harness's config: it must never reach a comment.
pub const PULUMI_TOKEN: &str = "pul-0c5e1d2a9b8f7e6d5c4b3a29181716";
/// The comment marker of the contract.
pub const MARKER: &str = "<!-- iamgate:report -->";
/// The base commit of every scenario PR.
pub const BASE: &str = "base";

/// The base-branch config: one stack under `infra/`, a security review for high risk.
pub const CONFIG: &str = "\
version: 1
stacks:
  - name: prod
    dir: infra
    stack: acme/prod
reviews:
  - name: security
    when: { min_risk: high }
    approvals: 1
    from: { teams: [\"acme/security\"], users: [\"alice\"] }
";

/// Runs each generic scenario `name::<F>()` on both forges: `github::name` and `gitlab::name`,
/// as `#[tokio::test]` or with the test attribute given first.
#[macro_export]
macro_rules! both_forges {
    (#[$test:meta] $($name:ident),* $(,)?) => {
        mod github {
            $(
                #[$test]
                async fn $name() {
                    super::$name::<$crate::support::fake_github::FakeGitHub>().await;
                }
            )*
        }
        mod gitlab {
            $(
                #[$test]
                async fn $name() {
                    super::$name::<$crate::support::fake_gitlab::FakeGitLab>().await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::both_forges!(#[tokio::test] $($name),*);
    };
}

/// A 40-hex commit id derived from `tag` (the webhook edge only accepts full SHAs).
pub fn sha(tag: &str) -> String {
    hex::encode(Sha256::digest(tag.as_bytes()))[..40].to_owned()
}

/// A file under `tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A captured webhook delivery under `tests/fixtures/webhooks/`, parsed.
pub fn webhook_template(rel: &str) -> Value {
    let bytes = std::fs::read(fixture(&format!("webhooks/{rel}")))
        .unwrap_or_else(|e| panic!("the webhook fixture {rel}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

/// What a scenario changes in the server config.
#[derive(Debug, Clone)]
pub struct Options {
    pub allow_fork_prs: bool,
    pub timeout_secs: u64,
    pub max_body_bytes: u64,
    pub lease_secs: u64,
    /// `[pulumi] sandbox`: off unless a scenario tests the sandbox, because the fake pulumi
    /// records its runs beside itself, which the sandbox makes read-only.
    pub sandbox: bool,
    /// `[pulumi] install` (on by default, as in the product).
    pub install: bool,
    /// `[pulumi] repositories`, when set: the only repositories previewed.
    pub repositories: Option<&'static str>,
    /// TOML appended to the config, e.g. `[pulumi.repo_env."acme/infra"]` tables.
    pub extra: &'static str,
    /// More `[pulumi]` keys, e.g. `disk_mb = 1\n`.
    pub pulumi_keys: &'static str,
    /// More `[server]` keys, e.g. `max_connections = 3\n`.
    pub server_keys: &'static str,
    /// `[worker] max_attempts`.
    pub max_attempts: u32,
    /// More `[worker]` keys, e.g. `command_rate_per_minute = 2\n`.
    pub worker_keys: &'static str,
    /// The `[audit]` table's keys (default: `key` = [`AUDIT_KEY`]).
    pub audit: String,
    /// More `[gitlab]` keys, e.g. `approve_merge_requests = true\n` (GitLab scenarios).
    pub gitlab_keys: &'static str,
}

/// The harness's audit key (test-only), hex.
pub const AUDIT_KEY: &str = "5e1f0c4b9a7d2e3f8a6b1c0d4e2f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

impl Default for Options {
    fn default() -> Self {
        Options {
            allow_fork_prs: false,
            timeout_secs: 30,
            max_body_bytes: 1024 * 1024,
            lease_secs: 30,
            sandbox: false,
            install: true,
            repositories: None,
            extra: "",
            pulumi_keys: "",
            server_keys: "",
            max_attempts: 8,
            worker_keys: "",
            audit: format!("key = \"{AUDIT_KEY}\"\n"),
            gitlab_keys: "",
        }
    }
}

/// The server config TOML around a forge's table (`forge`, e.g. `[github]\n...`): the fake
/// pulumi `command`, a SQLite store at `db`, listening on `listen`.
pub fn config_toml(
    forge: &str,
    command: &Path,
    db: &Path,
    listen: &str,
    options: &Options,
) -> String {
    format!(
        "[server]\nlisten = {listen}\nmax_body_bytes = {max_body}\n{server_keys}\n\
         [store]\nurl = {store}\n\n\
         {forge}\n\
         [pulumi]\ncommand = {command}\ntimeout_secs = {timeout}\nmax_concurrent = 2\nallow_fork_prs = {fork}\nsandbox = {sandbox}\ninstall = {install}\n{repositories}{pulumi_keys}\n\
         [pulumi.env]\nAWS_REGION = \"us-east-1\"\nPULUMI_ACCESS_TOKEN = {token}\n\n\
         [worker]\nconcurrency = 2\nlease_secs = {lease}\nmax_attempts = {attempts}\n{worker_keys}\n\
         [audit]\n{audit}\n{extra}",
        listen = toml_string(listen),
        max_body = options.max_body_bytes,
        store = toml_string(&format!("sqlite://{}", db.display())),
        command = toml_string(&command.display().to_string()),
        timeout = options.timeout_secs,
        fork = options.allow_fork_prs,
        sandbox = options.sandbox,
        install = options.install,
        repositories = options
            .repositories
            .map(|r| format!("repositories = {}\n", toml_string(r)))
            .unwrap_or_default(),
        lease = options.lease_secs,
        attempts = options.max_attempts,
        worker_keys = options.worker_keys,
        pulumi_keys = options.pulumi_keys,
        server_keys = options.server_keys,
        extra = options.extra,
        audit = options.audit,
        token = toml_string(PULUMI_TOKEN),
    )
}

/// `s` as a TOML (basic) string.
pub fn toml_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// The files of every scenario head commit: `.iamgate.yml` with `config`, the `infra/` Pulumi
/// project.
pub fn head_files(config: &str) -> [(&str, &str); 3] {
    [
        (".iamgate.yml", config),
        ("infra/Pulumi.yaml", "name: infra\nruntime: nodejs\n"),
        ("infra/index.ts", "export const x = 1;\n"),
    ]
}

/// Polls `done` every 20 ms until it holds; panics with `what` after `within`.
pub async fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fault to inject on a forge call, in forge-neutral words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    /// 500.
    Error500,
    /// 502.
    Error502,
    /// The call takes effect, then 502 (the client cannot tell it landed).
    Error502AfterApplying,
    /// The forge's rate limit (GitHub's secondary limit, GitLab's 429 with `Retry-After`).
    RateLimited,
}

/// A comment (GitHub) or note (GitLab) on a PR/MR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub author: String,
    pub body: String,
}

/// A webhook to send: the event name, the payload, and what it is (for failure messages).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: &'static str,
    pub body: Vec<u8>,
    pub what: String,
}

/// The one fake-forge abstraction, implemented by the fakes. PR numbers are GitLab MR iids;
/// "comment" is a GitLab note; "approve" is an approving review on GitHub and an MR approval on
/// GitLab; a team is `org/slug` on GitHub and a group full path on GitLab. Methods that stand
/// for something a person does on the forge change the fake and return the [`Delivery`] the
/// forge would send; [`TestApp`] sends it.
pub trait Forge: Sized {
    /// `github` or `gitlab`.
    const FORGE: &'static str;
    /// Whether a review request can name a team (GitHub) or only users (GitLab).
    const ASKS_TEAMS: bool;
    /// Whether the forge refuses a status in the state it already has, so the first text of a
    /// run of one state stays shown (GitLab).
    const KEEPS_SAME_STATE_TEXT: bool;
    /// The event of an opening delivery (`pull_request`, `Merge Request Hook`).
    const OPEN_EVENT: &'static str;
    /// The delivery ids this forge sends, before a 12-digit counter.
    const DELIVERY_ID_PREFIX: &'static str;

    /// A running fake with the repository/project (nothing enrolled yet).
    async fn launch() -> Self;
    /// The server config TOML for this fake, the fake pulumi `command`, a SQLite store at `db`,
    /// listening on `listen`.
    fn config_toml(&self, command: &Path, db: &Path, listen: &str, options: &Options) -> String;
    /// The headers of an authentic delivery of `event` with id (idempotency key) `id`.
    fn webhook_headers(&self, event: &str, id: &str, body: &[u8]) -> Vec<(&'static str, String)>;

    // ---- set-up ----

    /// PR `number` at head `head_tag` on the enrolled repository: the base config [`CONFIG`]
    /// at [`BASE`], the head with the same config and an `infra/` Pulumi project, the PR (by
    /// `dev`) changing `infra/index.ts`, `sec1` in `acme/security` and `alice` a reviewer.
    fn enroll(&self, number: u64, head_tag: &str) -> String;
    /// [`Forge::enroll`] with `config` as `.iamgate.yml` on the base and the head.
    fn enroll_with(&self, number: u64, head_tag: &str, config: &str) -> String {
        let head = self.enroll(number, head_tag);
        self.base_file(".iamgate.yml", config);
        self.head_commit(&head, config);
        head
    }
    /// PR `number` at head `head_tag` of a repository without `.iamgate.yml`.
    fn unenrolled(&self, number: u64, head_tag: &str) -> String;
    /// The files of head commit `head`: `.iamgate.yml` with `config`, the `infra/` project.
    fn head_commit(&self, head: &str, config: &str);
    /// A file on the base commit.
    fn base_file(&self, path: &str, contents: &str);
    /// A symbolic link on the base commit: `path` names `target`.
    fn base_symlink(&self, path: &str, target: &str);
    /// The files PR `number` changes.
    fn changed_files(&self, number: u64, files: &[&str]);
    /// PR `number` comes from the fork `fork`.
    fn make_fork(&self, number: u64, fork: &str);
    /// PR `number` is closed (no event delivered).
    fn close(&self, number: u64);
    /// PR `number`, by `dev`, at the existing head `head`, into the branch `sandbox` at commit
    /// `base_tag` whose `.iamgate.yml` is `config`: a second pull request of the same branch
    /// into another base.
    fn sibling(&self, number: u64, head: &str, base_tag: &str, config: &str);
    /// Retargets PR `number` to the branch `sandbox` at commit `base_tag` whose `.iamgate.yml`
    /// is `config`; returns the base-change delivery.
    fn retarget(&self, number: u64, base_tag: &str, config: &str) -> Delivery;
    /// The closing event of PR `number` (see [`Forge::close`]).
    fn closed(&self, number: u64) -> Delivery;
    /// `login` is an active member of `team`.
    fn add_member(&self, team: &str, login: &str);
    /// `login` leaves `team`; returns the forge's membership event (GitHub `membership`
    /// removed, GitLab's group `Member Hook`).
    fn remove_member(&self, team: &str, login: &str) -> Delivery;
    /// `login` is invited to `team` but not yet a member.
    fn invite_member(&self, team: &str, login: &str);
    /// The base branch `main` is deleted (pull requests still name it as their base).
    fn delete_base_branch(&self);
    /// Moves PR `number` to a new head `head_tag` (same files as a fresh head); returns the new
    /// head and the push's delivery.
    fn move_head(&self, number: u64, head_tag: &str) -> (String, Delivery);
    /// [`Forge::move_head`] by `login`: they push a commit they authored onto the pull request.
    fn push_by(&self, number: u64, head_tag: &str, login: &str) -> (String, Delivery);
    /// A new commit `tag` on the base branch `main` whose `.iamgate.yml` is `config`: the branch
    /// moves to it. Returns the commit and the forge's push event, listing the commit with
    /// `touched` as its modified paths.
    fn move_base(&self, tag: &str, config: &str, touched: &[&str]) -> (String, Delivery);

    // ---- deliveries ----

    /// The opening event's payload for PR `number` as the fake has it now.
    fn open_payload(&self, number: u64) -> Vec<u8>;
    /// [`Forge::open_payload`] with a description of `bytes` bytes.
    fn oversized_open_payload(&self, number: u64, bytes: usize) -> Vec<u8>;
    /// The reopening event of PR `number`.
    fn reopened(&self, number: u64) -> Delivery;
    /// An event for PR `number` that moves no commit (GitHub's `ready_for_review`, GitLab's
    /// `update` hook without `oldrev`).
    fn edited(&self, number: u64) -> Delivery;
    /// `login` approves PR `number`'s current head; returns what [`Forge::withdrawn`] needs.
    fn approved(&self, number: u64, login: &str) -> (u64, Delivery);
    /// The approval `approval` by `login` is withdrawn (review dismissed, approval revoked).
    fn withdrawn(&self, number: u64, login: &str, approval: u64) -> Delivery;
    /// A person's comment stored on the forge with no event delivered. Returns its id.
    fn add_person_comment(&self, number: u64, login: &str, body: &str) -> u64;
    /// The creation event of comment `id`.
    fn comment_created(&self, number: u64, id: u64, login: &str, body: &str) -> Delivery;
    /// Comment `id` now reads `body` (no event delivered).
    fn edit_comment_quietly(&self, number: u64, id: u64, body: &str);
    /// Comment `id` is deleted (no event delivered).
    fn delete_comment_quietly(&self, number: u64, id: u64);

    // ---- what the forge shows ----

    fn bot(&self) -> String;
    /// Every comment on PR `number`, oldest first.
    fn comments(&self, number: u64) -> Vec<Comment>;
    /// The reactions (award emoji) iamgate put on comment `id`.
    fn reactions(&self, number: u64, id: u64) -> Vec<String>;
    /// The `iamgate` statuses on `sha`, oldest first, in the contract's states.
    fn statuses(&self, sha: &str) -> Vec<(String, String)>;
    /// The review requests on PR `number`: `(teams, users)`.
    fn review_requests(&self, number: u64) -> (Vec<String>, Vec<String>);
    /// How many times reviewers were asked on PR `number`.
    fn review_request_calls(&self, number: u64) -> usize;
    /// How many times the config was looked up.
    fn config_lookups(&self) -> usize;
    /// How many head archives were downloaded.
    fn archive_downloads(&self) -> usize;
    /// How many times `login`'s membership of `team` was asked of the forge.
    fn membership_lookups(&self, team: &str, login: &str) -> usize;
    /// Every call the forge received, as `(method, path, status)`, oldest first.
    fn calls(&self) -> Vec<(String, String, u16)>;

    // ---- faults ----

    /// The API path (prefix) where comments on PR `number` are created.
    fn comments_path(&self, number: u64) -> String;
    /// The API path prefix where commit statuses are created.
    fn statuses_path(&self) -> String;
    /// The API path prefix where head archives are downloaded.
    fn archive_path(&self) -> String;
    /// The API path where iamgate reacts to comment `id` on PR `number`.
    fn reactions_path(&self, number: u64, id: u64) -> String;
    /// The next `count` `method` calls under `path`, after `skip` that pass, fail with `fault`.
    fn fail(&self, method: &str, path: &str, skip: usize, count: usize, fault: Fail);
    /// Drops every fault not yet used up.
    fn clear_faults(&self);

    // ---- shared, from the above ----

    /// iamgate's replies to comment `id`, oldest first.
    fn replies(&self, number: u64, id: u64) -> Vec<String> {
        let bot = self.bot();
        let marker = format!("<!-- iamgate:reply:{id} -->");
        self.comments(number)
            .into_iter()
            .filter(|c| c.author == bot && c.body.contains(&marker))
            .map(|c| c.body)
            .collect()
    }
    /// How many calls the forge received.
    fn forge_calls(&self) -> usize {
        self.calls().len()
    }
    /// How many `method` calls under `path` the forge received.
    fn count(&self, method: &str, path: &str) -> usize {
        self.calls()
            .iter()
            .filter(|(m, p, _)| m == method && p.starts_with(path))
            .count()
    }
    /// How many comments were created (POSTs) on PR `number`.
    fn comment_posts(&self, number: u64) -> usize {
        self.count("POST", &self.comments_path(number))
    }
    /// The response codes of every call under `path`, oldest first.
    fn responses(&self, path: &str) -> Vec<u16> {
        self.calls()
            .into_iter()
            .filter(|(_, p, _)| p.starts_with(path))
            .map(|(_, _, status)| status)
            .collect()
    }
}

/// The server of the harness's config for `fake` and `pulumi`, with its store in `dir`, or why
/// it does not start.
async fn build<F: Forge>(
    fake: &F,
    pulumi: &FakePulumi,
    dir: &Path,
    options: &Options,
) -> Result<Service, String> {
    let toml = fake.config_toml(
        pulumi.command(),
        &dir.join("iamgate.db"),
        "127.0.0.1:0",
        options,
    );
    let config = ServerConfig::parse(&toml, Vec::new())
        .unwrap_or_else(|problems| panic!("harness config invalid: {problems}\n{toml}"));
    Service::build(&config)
        .await
        .map_err(|error| format!("{error:#}"))
}

/// The server under test, its fake forge, the fake pulumi and its temp dir.
#[derive(Debug)]
pub struct TestApp<F> {
    pub fake: F,
    pub pulumi: FakePulumi,
    pub service: Service,
    router: axum::Router,
    next_delivery: AtomicU64,
    _dir: TempDir,
}

impl<F: Forge> TestApp<F> {
    /// A server with the default options.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let dir = TempDir::new().unwrap();
        let fake = F::launch().await;
        let pulumi = FakePulumi::new(dir.path().join("pulumi"));
        let service = build(&fake, &pulumi, dir.path(), &options)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let router = router(service.state().clone());
        TestApp {
            fake,
            pulumi,
            service,
            router,
            next_delivery: AtomicU64::new(1),
            _dir: dir,
        }
    }

    pub fn pulumi(&self) -> &FakePulumi {
        &self.pulumi
    }

    /// The server built again on the same store, forge and pulumi with `options` (the store is
    /// closed first), or why it does not start.
    pub async fn restart_with(self, options: Options) -> Result<Self, (F, String)> {
        let TestApp {
            fake,
            pulumi,
            service,
            _dir: dir,
            ..
        } = self;
        drop(service);
        let service = match build(&fake, &pulumi, dir.path(), &options).await {
            Ok(service) => service,
            Err(error) => return Err((fake, error)),
        };
        let router = router(service.state().clone());
        Ok(TestApp {
            fake,
            pulumi,
            service,
            router,
            next_delivery: AtomicU64::new(1_000),
            _dir: dir,
        })
    }

    /// The store's database file.
    pub fn db(&self) -> PathBuf {
        self.service.store().sqlite_path().unwrap().to_path_buf()
    }

    /// The files iamgate keeps (store, WAL, preview cache, gzip entries unpacked) that contain
    /// `needle`; the fake pulumi's own directory is not iamgate's and is left out.
    pub fn kept_files_containing(&self, needle: &str) -> Vec<PathBuf> {
        use std::io::Read as _;
        let skip = self._dir.path().join("pulumi");
        let mut found = Vec::new();
        let mut stack = vec![self._dir.path().to_path_buf()];
        while let Some(path) = stack.pop() {
            if path == skip {
                continue;
            }
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let Ok(mut bytes) = std::fs::read(&path) else {
                continue;
            };
            if path.extension().is_some_and(|e| e == "gz") {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_end(&mut out)
                    .unwrap();
                bytes = out;
            }
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(path);
            }
        }
        found
    }
    pub fn service(&self) -> &Service {
        &self.service
    }

    // ---- the webhook edge ----

    /// A fresh delivery id (idempotency key).
    pub fn delivery_id(&self) -> String {
        let n = self.next_delivery.fetch_add(1, Ordering::Relaxed);
        format!("{}{n:012}", F::DELIVERY_ID_PREFIX)
    }

    /// Sends a request with these headers and body to `POST /webhooks/<forge>`.
    pub async fn post(&self, headers: &[(&str, String)], body: Vec<u8>) -> StatusCode {
        let path = format!("/webhooks/{}", F::FORGE);
        let mut request = Request::post(path).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request.body(Body::from(body)).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        response.status()
    }

    /// An authentic delivery of `event` with `id` as its delivery id (idempotency key).
    pub async fn deliver_as(&self, event: &str, id: &str, body: Vec<u8>) -> StatusCode {
        let headers = self.fake.webhook_headers(event, id, &body);
        self.post(&headers, body).await
    }

    /// An authentic delivery of `event` with a fresh id.
    pub async fn deliver(&self, event: &str, body: Vec<u8>) -> StatusCode {
        let id = self.delivery_id();
        self.deliver_as(event, &id, body).await
    }

    /// Sends `delivery` with a fresh id; asserts 202.
    pub async fn send(&self, delivery: Delivery) {
        let status = self.deliver(delivery.event, delivery.body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}", delivery.what);
    }

    /// Serves the router over HTTP on a loopback port (as `iamgate serve` would), for clients
    /// run as processes; returns its base URL.
    pub async fn serve_http(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = self.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        url
    }

    /// Sends any request through the router: its status and its JSON body (`null` when not
    /// JSON).
    pub async fn request(
        &self,
        request: axum::http::Request<axum::body::Body>,
    ) -> (StatusCode, serde_json::Value) {
        use tower::ServiceExt as _;
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    /// An authentic opening event `body` with delivery id (idempotency key) `id`.
    pub async fn deliver_open_as(&self, id: &str, body: Vec<u8>) -> StatusCode {
        self.deliver_as(F::OPEN_EVENT, id, body).await
    }

    // ---- events ----

    pub async fn open(&self, number: u64) {
        let body = self.fake.open_payload(number);
        self.send(Delivery {
            event: F::OPEN_EVENT,
            body,
            what: format!("open #{number}"),
        })
        .await;
    }
    pub async fn reopen(&self, number: u64) {
        self.send(self.fake.reopened(number)).await;
    }
    /// Moves PR `number` to a new head `head_tag` and delivers the push; returns the new head.
    pub async fn push(&self, number: u64, head_tag: &str) -> String {
        let (head, delivery) = self.fake.move_head(number, head_tag);
        self.send(delivery).await;
        head
    }
    /// A new commit `tag` on the base branch (see [`Forge::move_base`]), its push delivered.
    pub async fn push_to_base(&self, tag: &str, config: &str, touched: &[&str]) -> String {
        let (commit, delivery) = self.fake.move_base(tag, config, touched);
        self.send(delivery).await;
        commit
    }
    /// Delivers an event for PR `number` that moves no commit.
    pub async fn deliver_edit(&self, number: u64) {
        self.send(self.fake.edited(number)).await;
    }
    /// `login` approves PR `number`'s current head; returns what [`TestApp::withdraw`] needs.
    pub async fn approve(&self, number: u64, login: &str) -> u64 {
        let (approval, delivery) = self.fake.approved(number, login);
        self.send(delivery).await;
        approval
    }
    /// The approval `approval` by `login` is withdrawn (review dismissed, approval revoked).
    pub async fn withdraw(&self, number: u64, login: &str, approval: u64) {
        self.send(self.fake.withdrawn(number, login, approval))
            .await;
    }
    /// `login` writes a comment: stored, its creation delivered. Returns its id.
    pub async fn comment(&self, number: u64, login: &str, body: &str) -> u64 {
        let id = self.fake.add_person_comment(number, login, body);
        self.redeliver_comment(number, id, login, body).await;
        id
    }
    /// Delivers the creation of comment `id` again (a new delivery id).
    pub async fn redeliver_comment(&self, number: u64, id: u64, login: &str, body: &str) {
        self.send(self.fake.comment_created(number, id, login, body))
            .await;
    }

    // ---- what the forge shows ----

    /// The only comment on PR `number`, asserting there is exactly one, iamgate's, with one
    /// marker.
    pub fn the_comment(&self, number: u64) -> String {
        let comments = self.fake.comments(number);
        assert_eq!(
            comments.len(),
            1,
            "exactly one comment expected: {comments:#?}"
        );
        assert_eq!(comments[0].author, self.fake.bot());
        assert_eq!(
            comments[0].body.matches(MARKER).count(),
            1,
            "exactly one marker: {}",
            comments[0].body
        );
        comments[0].body.clone()
    }

    /// iamgate's one report on PR `number`, asserting there is exactly one.
    pub fn report(&self, number: u64) -> String {
        let bot = self.fake.bot();
        let reports: Vec<String> = self
            .fake
            .comments(number)
            .into_iter()
            .filter(|c| c.author == bot && c.body.contains(MARKER))
            .map(|c| c.body)
            .collect();
        assert_eq!(
            reports.len(),
            1,
            "exactly one report expected: {reports:#?}"
        );
        assert_eq!(reports[0].matches(MARKER).count(), 1, "{}", reports[0]);
        reports[0].clone()
    }

    /// iamgate's one reply to comment `id`, asserting there is exactly one.
    pub fn reply(&self, number: u64, id: u64) -> String {
        let replies = self.fake.replies(number, id);
        assert_eq!(
            replies.len(),
            1,
            "exactly one reply to {id} expected: {replies:#?}"
        );
        replies[0].clone()
    }

    /// The `iamgate` statuses on `sha`, oldest first (the fakes' own `statuses` take a repo).
    pub fn statuses(&self, sha: &str) -> Vec<(String, String)> {
        self.fake.statuses(sha)
    }

    /// The newest `iamgate` status on `sha`, asserting there is one.
    pub fn status(&self, sha: &str) -> (String, String) {
        self.fake
            .statuses(sha)
            .pop()
            .unwrap_or_else(|| panic!("no iamgate status on {sha}"))
    }

    /// The statuses the forge shows for this sequence of decisions: the same on GitHub; on
    /// GitLab a run of one state keeps its first text.
    pub fn shown(&self, decided: &[(&str, &str)]) -> Vec<(String, String)> {
        shown_statuses::<F>(decided)
    }

    /// Asserts the gate on `sha` is `state` with `description`: the newest status says so; on a
    /// forge that keeps the first text of a run of one state, the status shows that run's first
    /// text and the audit trail's newest decision on `sha` is `description`.
    pub async fn assert_gate(&self, sha: &str, state: &str, description: &str) {
        let audit = if F::KEEPS_SAME_STATE_TEXT {
            self.audit().await
        } else {
            Vec::new()
        };
        assert_gate_shown(
            F::KEEPS_SAME_STATE_TEXT,
            &self.fake.statuses(sha),
            &audit,
            (sha, state, description),
        );
    }

    /// Runs the worker until no job is pending or running, for at most 30 s.
    pub async fn settle(&self) -> RunSummary {
        let until = Instant::now() + Duration::from_secs(30);
        let mut total = RunSummary::default();
        loop {
            let run = self.service.worker().run_until_idle().await.unwrap();
            total.completed += run.completed;
            total.moved += run.moved;
            total.retried += run.retried;
            total.dead_lettered += run.dead_lettered;
            total.lease_lost += run.lease_lost;
            total.unsettled += run.unsettled;
            let stats = self.service.store().queue_stats().await.unwrap();
            if stats.pending == 0 && stats.running == 0 {
                return total;
            }
            assert!(
                Instant::now() < until,
                "jobs did not settle within 30 s: {stats:?}, so far {total:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Jobs pending, running and dead.
    pub async fn queue(&self) -> QueueStats {
        self.service.store().queue_stats().await.unwrap()
    }

    /// Every audit record, oldest first, decoded.
    pub async fn audit(&self) -> Vec<AuditEntry> {
        self.service
            .store()
            .audit_records(&iamgate::audit::AuditFilter::default())
            .await
            .unwrap()
            .iter()
            .map(|r| r.entry().unwrap())
            .collect()
    }

    /// Asserts the audit chain verifies and holds every record.
    pub async fn assert_chain_verifies(&self) {
        let chain = self.service.store().audit_chain().await.unwrap();
        let count = chain.records.len() as u64;
        let keys = self.service.store().audit_keys();
        let verified = iamgate::audit::verify(&chain, keys).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verified.count, count);
    }
}

/// The scenarios call the fake's [`Forge`] methods on the app.
impl<F> std::ops::Deref for TestApp<F> {
    type Target = F;
    fn deref(&self) -> &F {
        &self.fake
    }
}

/// The statuses forge `F` shows for this sequence of decisions (see [`TestApp::shown`]).
pub fn shown_statuses<F: Forge>(decided: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (state, description) in decided {
        if F::KEEPS_SAME_STATE_TEXT
            && let Some((last_state, last_text)) = out.last()
            && last_state == state
        {
            // GitLab refuses a status into the state it is in. A new pending text is shown
            // by ending the old status as `canceled` (with its own text) and starting a new
            // pending one; other states keep their first text.
            if *state == "pending" && last_text != description {
                let ended = last_text.clone();
                out.push(("canceled".to_owned(), ended));
                out.push(((*state).to_owned(), (*description).to_owned()));
            }
            continue;
        }
        out.push(((*state).to_owned(), (*description).to_owned()));
    }
    out
}

/// [`TestApp::assert_gate`] over what was read: `statuses` on `sha` (oldest first, in the
/// contract's states) and, on a forge that keeps the first text of a run of one state, the
/// `audit` trail (oldest first). `gate` is `(sha, state, description)`.
pub fn assert_gate_shown(
    keeps_same_state_text: bool,
    statuses: &[(String, String)],
    audit: &[AuditEntry],
    gate: (&str, &str, &str),
) {
    let (sha, state, description) = gate;
    let newest = statuses
        .last()
        .unwrap_or_else(|| panic!("no iamgate status on {sha}"));
    if !keeps_same_state_text || newest.1 == description {
        assert_eq!(
            (newest.0.as_str(), newest.1.as_str()),
            (state, description),
            "{statuses:#?}"
        );
        return;
    }
    assert_eq!(newest.0, state, "{statuses:#?}");
    let run_start = statuses
        .iter()
        .rposition(|(s, _)| s != state)
        .map_or(0, |i| i + 1);
    assert_eq!(
        newest.1, statuses[run_start].1,
        "the shown text is the first of its run: {statuses:#?}"
    );
    let decided = audit
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            AuditEvent::StatusChange { state, description }
                if e.head_sha.as_ref().map(|h| h.as_str()) == Some(sha) =>
            {
                Some((*state, description.clone()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no status decision on {sha}: {audit:#?}"));
    assert_eq!(
        decided,
        (gate_state(state), description.to_owned()),
        "the decision on {sha}"
    );
}

fn gate_state(state: &str) -> GateState {
    match state {
        "pending" => GateState::Pending,
        "success" => GateState::Success,
        "failure" => GateState::Failure,
        other => panic!("not a contract state: {other}"),
    }
}
