//! The scenario harness: the real server (`Service::build` from a parsed `ServerConfig`, the real
//! router, the real GitHub App client) against the fake GitHub and the fake pulumi, with a store
//! in a temp dir. `deliver*` signs and sends webhooks through the router; `settle` runs the worker
//! until no job is left (waiting out delayed retries).
#![allow(dead_code, reason = "shared test support: each test uses a part of it")]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use iamgate::app::Service;
use iamgate::config::{Secret, ServerConfig};
use iamgate::queue::RunSummary;
use iamgate::server::router;
use iamgate::store::Store;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tower::ServiceExt;

use super::fake_github::{FakeGitHub, HeadRepo, PrSpec};
use super::fake_pulumi::FakePulumi;

/// The repository every scenario uses.
pub const REPO: &str = "acme/infra";
/// The Pulumi stack of `.iamgate.yml`'s one stack.
pub const STACK: &str = "acme/prod";
/// The webhook secret of the harness's config (test-only).
pub const WEBHOOK_SECRET: &str = "scenario-webhook-secret-7f3a9c";
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

/// The App's private key, by absolute path.
pub fn private_key_path() -> PathBuf {
    fixture("keys/test-app.private-key.pem")
}

/// What a scenario changes in the server config.
#[derive(Debug, Clone)]
pub struct Options {
    pub allow_fork_prs: bool,
    pub timeout_secs: u64,
    pub max_body_bytes: u64,
    pub lease_secs: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allow_fork_prs: false,
            timeout_secs: 30,
            max_body_bytes: 1024 * 1024,
            lease_secs: 30,
        }
    }
}

/// The server config TOML for a fake GitHub at `api_url`, the fake pulumi `command` and a SQLite
/// store at `db`.
pub fn config_toml(
    api_url: &str,
    command: &Path,
    db: &Path,
    listen: &str,
    options: &Options,
) -> String {
    let quote = |s: &str| toml_string(s);
    format!(
        "[server]\nlisten = {listen}\nmax_body_bytes = {max_body}\n\n\
         [store]\nurl = {store}\n\n\
         [github]\napp_id = {app_id}\nprivate_key_path = {key}\nwebhook_secret = {secret}\napi_url = {api}\n\n\
         [pulumi]\ncommand = {command}\ntimeout_secs = {timeout}\nmax_concurrent = 2\nallow_fork_prs = {fork}\n\n\
         [pulumi.env]\nAWS_REGION = \"us-east-1\"\nPULUMI_ACCESS_TOKEN = {token}\n\n\
         [worker]\nconcurrency = 2\nlease_secs = {lease}\nmax_attempts = 8\n",
        listen = quote(listen),
        max_body = options.max_body_bytes,
        store = quote(&format!("sqlite://{}", db.display())),
        app_id = super::fake_github::APP_ID,
        key = quote(&private_key_path().display().to_string()),
        secret = quote(WEBHOOK_SECRET),
        api = quote(api_url),
        command = quote(&command.display().to_string()),
        timeout = options.timeout_secs,
        fork = options.allow_fork_prs,
        lease = options.lease_secs,
        token = quote(PULUMI_TOKEN),
    )
}

fn toml_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// A `pull_request` delivery in GitHub's real shape (a captured delivery, with this PR's repo,
/// number, head, base, head repository and installation put in).
pub fn pr_payload(action: &str, number: u64, spec: &PrSpec, installation: u64) -> Vec<u8> {
    let template = std::fs::read(fixture("webhooks/github/pull_request.synchronize.2.json"))
        .expect("the pull_request template fixture");
    let mut payload: Value = serde_json::from_slice(&template).unwrap();
    let (owner, name) = REPO.split_once('/').unwrap();
    payload["action"] = json!(action);
    payload["number"] = json!(number);
    payload["after"] = json!(spec.head);
    payload["installation"]["id"] = json!(installation);
    payload["repository"]["full_name"] = json!(REPO);
    payload["repository"]["name"] = json!(name);
    payload["repository"]["owner"]["login"] = json!(owner);
    let pr = &mut payload["pull_request"];
    pr["number"] = json!(number);
    pr["state"] = json!(if spec.open { "open" } else { "closed" });
    pr["draft"] = json!(spec.draft);
    pr["user"]["login"] = json!(spec.author);
    pr["head"]["sha"] = json!(spec.head);
    pr["base"]["sha"] = json!(spec.base);
    pr["base"]["ref"] = json!(spec.base_ref);
    pr["base"]["repo"]["full_name"] = json!(REPO);
    pr["head"]["repo"] = match &spec.head_repo {
        HeadRepo::Same => {
            let mut repo = pr["base"]["repo"].clone();
            repo["full_name"] = json!(REPO);
            repo
        }
        HeadRepo::Fork(fork) => {
            let mut repo = pr["base"]["repo"].clone();
            repo["full_name"] = json!(fork);
            repo["fork"] = json!(true);
            repo
        }
        HeadRepo::Deleted => Value::Null,
    };
    serde_json::to_vec(&payload).unwrap()
}

/// The `type` GitHub gives a login: `Bot` for app accounts (`<slug>[bot]`), `User` otherwise.
fn user_type(login: &str) -> &'static str {
    if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    }
}

/// Puts [`REPO`], the installation and the sender into a captured delivery.
fn set_repository(payload: &mut Value, installation: u64, sender: &str) {
    let (owner, name) = REPO.split_once('/').unwrap();
    payload["installation"]["id"] = json!(installation);
    payload["repository"]["full_name"] = json!(REPO);
    payload["repository"]["name"] = json!(name);
    payload["repository"]["owner"]["login"] = json!(owner);
    payload["sender"]["login"] = json!(sender);
    payload["sender"]["type"] = json!(user_type(sender));
}

/// An `issue_comment` delivery on PR `number` in GitHub's real shape (a captured delivery on a
/// pull request, with this comment put in): `action` is `created`, `edited` or `deleted`; an
/// edit carries `changes.body.from`. A login ending in `[bot]` is a `Bot`, and iamgate's own
/// login carries `performed_via_github_app`.
pub fn comment_payload(
    action: &str,
    number: u64,
    spec: &PrSpec,
    comment: (u64, &str, &str),
    installation: u64,
) -> Vec<u8> {
    let (comment_id, login, body) = comment;
    let template = std::fs::read(fixture("webhooks/github/issue_comment.edited.3.json"))
        .expect("the issue_comment template fixture");
    let mut payload: Value = serde_json::from_slice(&template).unwrap();
    payload["action"] = json!(action);
    set_repository(&mut payload, installation, login);
    let pulls = format!("https://github.com/{REPO}/pull/{number}");
    let issue = &mut payload["issue"];
    issue["number"] = json!(number);
    issue["html_url"] = json!(pulls);
    issue["state"] = json!(if spec.open { "open" } else { "closed" });
    issue["user"]["login"] = json!(spec.author);
    issue["pull_request"]["url"] = json!(format!(
        "https://api.github.com/repos/{REPO}/pulls/{number}"
    ));
    issue["pull_request"]["html_url"] = json!(pulls);
    let c = &mut payload["comment"];
    c["id"] = json!(comment_id);
    c["html_url"] = json!(format!("{pulls}#issuecomment-{comment_id}"));
    c["body"] = json!(body);
    c["user"]["login"] = json!(login);
    c["user"]["id"] = json!(super::fake_github::user_id(login));
    c["user"]["type"] = json!(user_type(login));
    let bot = format!("{}[bot]", super::fake_github::APP_SLUG);
    c["performed_via_github_app"] = if login == bot {
        json!({ "id": super::fake_github::APP_ID, "slug": super::fake_github::APP_SLUG, "name": "iamgate" })
    } else {
        Value::Null
    };
    let object = payload.as_object_mut().unwrap();
    if action == "edited" {
        object.insert(
            "changes".to_owned(),
            json!({ "body": { "from": "an earlier text" } }),
        );
    } else {
        object.remove("changes");
    }
    serde_json::to_vec(&payload).unwrap()
}

/// A `pull_request_review` delivery on PR `number` in GitHub's real shape (a captured delivery,
/// with this review and the PR as the fake has it put in). `state` as webhooks write it
/// (`approved`, `changes_requested`, `commented`, `dismissed`; any case).
pub fn review_payload(
    action: &str,
    number: u64,
    spec: &PrSpec,
    review: (u64, &str, &str, &str),
    installation: u64,
) -> Vec<u8> {
    let (review_id, login, state, commit) = review;
    let template = std::fs::read(fixture(
        "webhooks/github/pull_request_review.submitted.2.json",
    ))
    .expect("the pull_request_review template fixture");
    let mut payload: Value = serde_json::from_slice(&template).unwrap();
    payload["action"] = json!(action);
    set_repository(&mut payload, installation, login);
    let r = &mut payload["review"];
    r["id"] = json!(review_id);
    r["user"]["login"] = json!(login);
    r["user"]["id"] = json!(super::fake_github::user_id(login));
    r["user"]["type"] = json!(user_type(login));
    r["state"] = json!(state.to_ascii_lowercase());
    r["commit_id"] = json!(commit);
    r["_links"]["pull_request"]["href"] = json!(format!(
        "https://api.github.com/repos/{REPO}/pulls/{number}"
    ));
    let pr = &mut payload["pull_request"];
    pr["number"] = json!(number);
    pr["state"] = json!(if spec.open { "open" } else { "closed" });
    pr["user"]["login"] = json!(spec.author);
    pr["head"]["sha"] = json!(spec.head);
    pr["base"]["sha"] = json!(spec.base);
    pr["base"]["ref"] = json!(spec.base_ref);
    pr["base"]["repo"]["full_name"] = json!(REPO);
    pr["head"]["repo"]["full_name"] = json!(REPO);
    serde_json::to_vec(&payload).unwrap()
}

/// Polls `done` every 20 ms until it holds; panics with `what` after `within`.
pub async fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Like [`wait_until`] with an async condition.
pub async fn wait_until_async<F, Fut>(what: &str, within: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let until = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The server under test, its fakes and its temp dir.
#[derive(Debug)]
pub struct Server {
    pub fake: FakeGitHub,
    pub pulumi: FakePulumi,
    pub service: Service,
    router: axum::Router,
    secret: Secret,
    next_delivery: AtomicU64,
    dir: TempDir,
}

impl Server {
    /// A server with the default options.
    pub async fn start() -> Server {
        Server::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Server {
        let dir = TempDir::new().unwrap();
        let fake = FakeGitHub::start().await;
        fake.repo(REPO);
        let pulumi = FakePulumi::new(dir.path().join("pulumi"));
        let toml = config_toml(
            &fake.url(),
            pulumi.command(),
            &dir.path().join("iamgate.db"),
            "127.0.0.1:0",
            &options,
        );
        let config = ServerConfig::parse(&toml, Vec::new())
            .unwrap_or_else(|problems| panic!("harness config invalid: {problems}\n{toml}"));
        let service = Service::build(&config).await.unwrap();
        let app_router = router(service.state().clone());
        Server {
            fake,
            pulumi,
            service,
            router: app_router,
            secret: Secret::new(WEBHOOK_SECRET),
            next_delivery: AtomicU64::new(1),
            dir,
        }
    }

    /// A fresh delivery id.
    pub fn delivery_id(&self) -> String {
        let n = self.next_delivery.fetch_add(1, Ordering::Relaxed);
        format!("72d3162e-cc78-11e3-81ab-{n:012}")
    }

    /// Sends a request with these headers and body to `POST /webhooks/github`.
    pub async fn post(&self, headers: &[(&str, String)], body: Vec<u8>) -> StatusCode {
        post_json(&self.router, "/webhooks/github", headers, body).await
    }

    /// A correctly signed delivery of `event` with `delivery` as its id.
    pub async fn deliver_as(&self, event: &str, delivery: &str, body: Vec<u8>) -> StatusCode {
        let signature = iamgate::webhook::verify::github_signature_for(&self.secret, &body);
        let headers = [
            ("x-github-event", event.to_owned()),
            ("x-github-delivery", delivery.to_owned()),
            ("x-hub-signature-256", signature),
        ];
        self.post(&headers, body).await
    }

    /// A correctly signed delivery of `event` with a fresh id.
    pub async fn deliver(&self, event: &str, body: Vec<u8>) -> StatusCode {
        let id = self.delivery_id();
        self.deliver_as(event, &id, body).await
    }

    /// The `pull_request` payload for PR `number` as the fake has it now.
    pub fn pr_payload(&self, action: &str, number: u64) -> Vec<u8> {
        let spec = self.fake.pull(REPO, number);
        pr_payload(action, number, &spec, self.fake.installation_id())
    }

    /// Delivers `pull_request.<action>` for PR `number` as the fake has it now; asserts 202.
    pub async fn deliver_pr(&self, action: &str, number: u64) {
        let status = self
            .deliver("pull_request", self.pr_payload(action, number))
            .await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "pull_request.{action} #{number}"
        );
    }

    /// Delivers `issue_comment.<action>` of comment `comment_id` by `login` on PR `number`
    /// (whose state is taken from the fake); asserts 202.
    pub async fn deliver_comment(
        &self,
        number: u64,
        comment_id: u64,
        login: &str,
        body: &str,
        action: &str,
    ) {
        let spec = self.fake.pull(REPO, number);
        let payload = comment_payload(
            action,
            number,
            &spec,
            (comment_id, login, body),
            self.fake.installation_id(),
        );
        let status = self.deliver("issue_comment", payload).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "issue_comment.{action} #{number}"
        );
    }

    /// `login` writes a new comment on PR `number`: it is added to the fake and its `created`
    /// delivery sent. Returns the comment's id.
    pub async fn comment(&self, number: u64, login: &str, body: &str) -> u64 {
        let id = self.fake.add_user_comment(REPO, number, login, body);
        self.deliver_comment(number, id, login, body, "created")
            .await;
        id
    }

    /// Delivers `pull_request_review.<action>` of review `review_id` by `login` with `state` on
    /// `commit`; asserts 202.
    pub async fn deliver_review(
        &self,
        number: u64,
        review_id: u64,
        login: &str,
        state: &str,
        commit: &str,
        action: &str,
    ) {
        let spec = self.fake.pull(REPO, number);
        let payload = review_payload(
            action,
            number,
            &spec,
            (review_id, login, state, commit),
            self.fake.installation_id(),
        );
        let status = self.deliver("pull_request_review", payload).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "pull_request_review.{action} #{number}"
        );
    }

    /// `login` submits a review with `state` (`APPROVED`, `CHANGES_REQUESTED`, ...) on PR
    /// `number`'s current head: stored in the fake, its `submitted` delivery sent. Returns its id.
    pub async fn submit_review(&self, number: u64, login: &str, state: &str) -> u64 {
        let head = self.fake.pull(REPO, number).head;
        let id = self.fake.review(REPO, number, login, state, &head);
        self.deliver_review(number, id, login, state, &head, "submitted")
            .await;
        id
    }

    /// A maintainer dismisses review `review_id` of PR `number`: dismissed in the fake, its
    /// `dismissed` delivery sent.
    pub async fn dismiss_review(&self, number: u64, review_id: u64) {
        self.fake.dismiss_review(REPO, number, review_id);
        let review = self
            .fake
            .reviews(REPO, number)
            .into_iter()
            .find(|r| r.id == review_id)
            .unwrap();
        self.deliver_review(
            number,
            review_id,
            &review.login,
            "dismissed",
            &review.commit_id,
            "dismissed",
        )
        .await;
    }

    /// Sets up PR `number` at head `head_tag` on the enrolled repository: the base config
    /// [`CONFIG`] at [`BASE`], the head with the same config and an `infra/` Pulumi project, the
    /// PR changing `infra/index.ts`, the security team and `alice` as reviewers.
    pub fn enrolled_pr(&self, number: u64, head_tag: &str) -> String {
        self.fake.file(REPO, BASE, ".iamgate.yml", CONFIG);
        let head = sha(head_tag);
        self.head_commit(&head, CONFIG);
        self.fake
            .pr(REPO, number, PrSpec::new(&head, BASE).author("dev"))
            .pr_files(REPO, number, ["infra/index.ts"])
            .team("acme", "security", &["sec1"])
            .collaborator(REPO, "alice");
        head
    }

    /// [`Server::enrolled_pr`] with `config` as `.iamgate.yml` on the base (and at the head).
    pub fn enrolled_pr_with(&self, number: u64, head_tag: &str, config: &str) -> String {
        let head = self.enrolled_pr(number, head_tag);
        self.fake.file(REPO, BASE, ".iamgate.yml", config);
        self.head_commit(&head, config);
        head
    }

    /// The files of a head commit: `.iamgate.yml` with `config`, the `infra/` project.
    pub fn head_commit(&self, head: &str, config: &str) {
        self.fake.archive(REPO, head, &head_files(config));
    }

    /// Moves PR `number` to a new head `head_tag` (same files as a fresh head); returns its SHA.
    pub fn push(&self, number: u64, head_tag: &str) -> String {
        let head = sha(head_tag);
        self.head_commit(&head, CONFIG);
        self.fake.push(REPO, number, &head);
        head
    }

    /// iamgate's replies to comment `comment_id` on PR `number`, oldest first.
    pub fn replies(&self, number: u64, comment_id: u64) -> Vec<String> {
        let bot = self.fake.bot_login();
        let marker = format!("<!-- iamgate:reply:{comment_id} -->");
        self.fake
            .comments(REPO, number)
            .into_iter()
            .filter(|c| c.author == bot && c.body.contains(&marker))
            .map(|c| c.body)
            .collect()
    }

    /// The reactions iamgate put on comment `comment_id`, as their contents.
    pub fn reactions(&self, comment_id: u64) -> Vec<String> {
        self.fake
            .reactions(REPO, comment_id)
            .into_iter()
            .map(|r| r.content)
            .collect()
    }

    /// The `iamgate` statuses on `sha`, oldest first, as `(state, description)`.
    pub fn statuses(&self, sha: &str) -> Vec<(String, String)> {
        self.fake
            .statuses(REPO, sha)
            .into_iter()
            .filter(|s| s.context == "iamgate")
            .map(|s| (s.state, s.description))
            .collect()
    }
}

/// Sends a JSON `POST` with these headers and `body` to `path` through `router`.
pub async fn post_json(
    router: &axum::Router,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> StatusCode {
    let mut request = Request::post(path).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request.body(Body::from(body)).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    response.status()
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

/// Every audit record of `service`'s store, oldest first, decoded.
pub async fn audit_of(service: &Service) -> Vec<iamgate::audit::AuditEntry> {
    service
        .store()
        .audit_records(&iamgate::audit::AuditFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|r| r.entry().unwrap())
        .collect()
}

/// Runs `service`'s worker until no job is pending or running, for at most 30 s.
pub async fn settle(service: &Service) -> RunSummary {
    let until = Instant::now() + Duration::from_secs(30);
    let mut total = RunSummary::default();
    loop {
        let run = service.worker().run_until_idle().await.unwrap();
        total.completed += run.completed;
        total.retried += run.retried;
        total.dead_lettered += run.dead_lettered;
        total.lease_lost += run.lease_lost;
        total.unsettled += run.unsettled;
        let stats = service.store().queue_stats().await.unwrap();
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
