//! The GitLab scenario harness: the real server (`Service::build` from a parsed `ServerConfig`
//! with `[gitlab]` only, the real router, the real GitLab client) against the fake GitLab and the
//! fake pulumi, with a store in a temp dir. `deliver*` sends `Merge Request Hook` and `Note Hook`
//! deliveries built from the captured payloads in `tests/fixtures/webhooks/gitlab/`, with the
//! `X-Gitlab-Token` secret and a fresh `Idempotency-Key`; `settle` runs the worker until no job
//! is left. The twin of [`super::server`].
#![allow(dead_code, reason = "shared test support: each test uses a part of it")]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;
use iamgate::app::Service;
use iamgate::config::ServerConfig;
use iamgate::server::router;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::fake_gitlab::{FakeGitLab, FakeNote, MrSpec};
use super::fake_pulumi::FakePulumi;
pub use super::server::{BASE, CONFIG, Options, PULUMI_TOKEN, STACK, fixture, sha};

/// The project every GitLab scenario uses (the same path as the GitHub repository).
pub const PROJECT: &str = "acme/infra";
/// The `[gitlab] webhook_secret` of the harness's config (test-only), sent as `X-Gitlab-Token`.
pub const WEBHOOK_SECRET: &str = "scenario-gitlab-webhook-token-5b21e0";
/// The Merge Request Hook event name.
pub const MR_HOOK: &str = "Merge Request Hook";
/// The Note Hook event name.
pub const NOTE_HOOK: &str = "Note Hook";
/// GitLab's developer access level.
pub const DEVELOPER: u32 = 30;

/// The server config TOML for a fake GitLab at `url`, the fake pulumi `command` and a SQLite
/// store at `db`: `[gitlab]` and no `[github]`.
pub fn config_toml(url: &str, command: &Path, db: &Path, options: &Options) -> String {
    config_toml_listening(url, command, db, "127.0.0.1:0", options)
}

/// [`config_toml`] with the server listening on `listen` (the real binary needs a known port).
pub fn config_toml_listening(
    url: &str,
    command: &Path,
    db: &Path,
    listen: &str,
    options: &Options,
) -> String {
    let quote = |s: &str| Value::String(s.to_owned()).to_string();
    format!(
        "[server]\nlisten = {listen}\nmax_body_bytes = {max_body}\n\n\
         [store]\nurl = {store}\n\n\
         [gitlab]\nurl = {url}\ntoken = {token}\nwebhook_secret = {secret}\n\n\
         [pulumi]\ncommand = {command}\ntimeout_secs = {timeout}\nmax_concurrent = 2\nallow_fork_prs = {fork}\n\n\
         [pulumi.env]\nAWS_REGION = \"us-east-1\"\nPULUMI_ACCESS_TOKEN = {pulumi_token}\n\n\
         [worker]\nconcurrency = 2\nlease_secs = {lease}\nmax_attempts = 8\n",
        listen = quote(listen),
        max_body = options.max_body_bytes,
        store = quote(&format!("sqlite://{}", db.display())),
        url = quote(url),
        token = quote(super::fake_gitlab::TOKEN),
        secret = quote(WEBHOOK_SECRET),
        command = quote(&command.display().to_string()),
        timeout = options.timeout_secs,
        fork = options.allow_fork_prs,
        lease = options.lease_secs,
        pulumi_token = quote(PULUMI_TOKEN),
    )
}

fn template(name: &str) -> Value {
    let bytes = std::fs::read(fixture(&format!("webhooks/gitlab/{name}")))
        .unwrap_or_else(|e| panic!("the GitLab fixture {name}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

/// A GitLab user as webhooks show it.
fn user_json(id: u64, username: &str) -> Value {
    json!({
        "id": id,
        "name": username,
        "username": username,
        "avatar_url": null,
        "email": "[REDACTED]",
    })
}

/// A project as webhooks show it.
fn project_json(mut project: Value, id: u64, path: &str) -> Value {
    let name = path.rsplit('/').next().unwrap();
    let namespace = path.rsplit_once('/').map_or(path, |(ns, _)| ns);
    project["id"] = json!(id);
    project["name"] = json!(name);
    project["namespace"] = json!(namespace);
    project["path_with_namespace"] = json!(path);
    project["web_url"] = json!(format!("https://gitlab.example/{path}"));
    project["homepage"] = json!(format!("https://gitlab.example/{path}"));
    project["git_http_url"] = json!(format!("https://gitlab.example/{path}.git"));
    project["git_ssh_url"] = json!(format!("git@gitlab.example:{path}.git"));
    project["url"] = json!(format!("git@gitlab.example:{path}.git"));
    project["ssh_url"] = json!(format!("git@gitlab.example:{path}.git"));
    project["http_url"] = json!(format!("https://gitlab.example/{path}.git"));
    project
}

/// What a Merge Request Hook delivery says, beyond the MR as the fake has it.
#[derive(Debug, Clone)]
pub struct MrHook<'a> {
    /// `open`, `reopen`, `update`, `close`, `merge`, `approved`, `approval`, `unapproved`, ...
    pub action: &'a str,
    /// Who acted (the approver for `approved`).
    pub user: (u64, &'a str),
    /// The previous head of an `update` that pushed commits.
    pub oldrev: Option<&'a str>,
}

/// A `Merge Request Hook` delivery in GitLab's real shape (a captured delivery, with this MR's
/// project, iid, head, target branch, state, author and source project put in).
pub fn mr_payload(
    hook: &MrHook<'_>,
    iid: u64,
    spec: &MrSpec,
    ids: &Ids,
    author_id: u64,
) -> Vec<u8> {
    let mut payload = template("merge_request.open.2.json");
    payload["user"] = user_json(hook.user.0, hook.user.1);
    let project = project_json(payload["project"].clone(), ids.project, PROJECT);
    payload["project"] = project.clone();
    let url = format!("https://gitlab.example/{PROJECT}/-/merge_requests/{iid}");
    let a = &mut payload["object_attributes"];
    a["iid"] = json!(iid);
    a["id"] = json!(1000 + iid);
    a["action"] = json!(hook.action);
    a["state"] = json!(spec.state);
    a["author_id"] = json!(author_id);
    a["target_branch"] = json!(spec.target_branch);
    a["source_branch"] = json!(spec.source_branch);
    a["target_project_id"] = json!(ids.project);
    a["target"] = project.clone();
    a["source_project_id"] = json!(ids.source);
    a["source"] = match &spec.source_project {
        None => project,
        Some(fork) => project_json(a["source"].clone(), ids.source, fork),
    };
    a["work_in_progress"] = json!(spec.draft);
    a["draft"] = json!(spec.draft);
    a["title"] = json!(if spec.draft {
        "Draft: change the policy"
    } else {
        "change the policy"
    });
    a["url"] = json!(url);
    a["last_commit"]["id"] = json!(spec.head);
    a["last_commit"]["url"] = json!(format!(
        "https://gitlab.example/{PROJECT}/-/commit/{}",
        spec.head
    ));
    let object = a.as_object_mut().unwrap();
    match hook.oldrev {
        Some(old) => {
            object.insert("oldrev".to_owned(), json!(old));
        }
        None => {
            object.remove("oldrev");
        }
    }
    payload["changes"] = json!({});
    payload.as_object_mut().unwrap().remove("reviewers");
    serde_json::to_vec(&payload).unwrap()
}

/// A `Note Hook` delivery on MR `iid` in GitLab's real shape (a captured delivery, with this note
/// and the MR put in). `action` is `create` or `update`.
pub fn note_payload(
    iid: u64,
    spec: &MrSpec,
    ids: &Ids,
    note: (u64, (u64, &str), &str),
    system: bool,
    action: &str,
) -> Vec<u8> {
    let (note_id, (user_id, username), body) = note;
    let mut payload = template("note.create.1.json");
    payload["user"] = user_json(user_id, username);
    payload["project_id"] = json!(ids.project);
    payload["project"] = project_json(payload["project"].clone(), ids.project, PROJECT);
    let a = &mut payload["object_attributes"];
    a["id"] = json!(note_id);
    a["note"] = json!(body);
    a["noteable_type"] = json!("MergeRequest");
    a["author_id"] = json!(user_id);
    a["project_id"] = json!(ids.project);
    a["noteable_id"] = json!(1000 + iid);
    a["system"] = json!(system);
    a["action"] = json!(action);
    a["url"] = json!(format!(
        "https://gitlab.example/{PROJECT}/-/merge_requests/{iid}#note_{note_id}"
    ));
    let mr = &mut payload["merge_request"];
    mr["id"] = json!(1000 + iid);
    mr["iid"] = json!(iid);
    mr["state"] = json!(spec.state);
    mr["target_branch"] = json!(spec.target_branch);
    mr["source_branch"] = json!(spec.source_branch);
    mr["target_project_id"] = json!(ids.project);
    mr["source_project_id"] = json!(ids.source);
    mr["last_commit"]["id"] = json!(spec.head);
    mr["work_in_progress"] = json!(spec.draft);
    serde_json::to_vec(&payload).unwrap()
}

/// A GitLab commit status state in the contract's words: GitLab's `failed` is the contract's
/// `failure`; `pending`, `running` and `success` are themselves.
pub fn contract_state(gitlab: &str) -> String {
    match gitlab {
        "failed" => "failure".to_owned(),
        other => other.to_owned(),
    }
}

/// The numeric ids a payload carries: the target project's and the source project's.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    pub project: u64,
    pub source: u64,
}

/// The server under test, its fakes and its temp dir.
#[derive(Debug)]
pub struct GitLabServer {
    pub fake: FakeGitLab,
    pub pulumi: FakePulumi,
    pub service: Service,
    router: axum::Router,
    next_delivery: AtomicU64,
    dir: TempDir,
}

impl GitLabServer {
    /// A server with the default options.
    pub async fn start() -> GitLabServer {
        GitLabServer::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> GitLabServer {
        let dir = TempDir::new().unwrap();
        let fake = FakeGitLab::start().await;
        fake.project(PROJECT);
        let pulumi = FakePulumi::new(dir.path().join("pulumi"));
        let toml = config_toml(
            &fake.url(),
            pulumi.command(),
            &dir.path().join("iamgate.db"),
            &options,
        );
        let config = ServerConfig::parse(&toml, Vec::new())
            .unwrap_or_else(|problems| panic!("harness config invalid: {problems}\n{toml}"));
        assert!(config.github.is_none(), "GitLab only");
        let service = Service::build(&config).await.unwrap();
        let app_router = router(service.state().clone());
        GitLabServer {
            fake,
            pulumi,
            service,
            router: app_router,
            next_delivery: AtomicU64::new(1),
            dir,
        }
    }

    /// A fresh idempotency key.
    pub fn delivery_id(&self) -> String {
        let n = self.next_delivery.fetch_add(1, Ordering::Relaxed);
        format!("9b2f5a1e-0c4d-4e8f-a1b2-{n:012}")
    }

    /// Sends a request with these headers and body to `POST /webhooks/gitlab`.
    pub async fn post(&self, headers: &[(&str, String)], body: Vec<u8>) -> StatusCode {
        super::server::post_json(&self.router, "/webhooks/gitlab", headers, body).await
    }

    /// The headers GitLab 17.4+ sends: the event, the token, the event UUID and the
    /// idempotency key (`key`).
    pub fn headers(&self, event: &str, token: Option<&str>, key: &str) -> Vec<(&str, String)> {
        let mut headers = vec![
            ("x-gitlab-event", event.to_owned()),
            ("x-gitlab-event-uuid", self.delivery_id()),
            ("idempotency-key", key.to_owned()),
            ("x-gitlab-instance", "https://gitlab.example".to_owned()),
            ("user-agent", "GitLab/17.6.0".to_owned()),
        ];
        if let Some(token) = token {
            headers.push(("x-gitlab-token", token.to_owned()));
        }
        headers
    }

    /// A delivery of `event` with the right token and `key` as its idempotency key.
    pub async fn deliver_as(&self, event: &str, key: &str, body: Vec<u8>) -> StatusCode {
        let headers = self.headers(event, Some(WEBHOOK_SECRET), key);
        self.post(&headers, body).await
    }

    /// A delivery of `event` with the right token and a fresh idempotency key.
    pub async fn deliver(&self, event: &str, body: Vec<u8>) -> StatusCode {
        let key = self.delivery_id();
        self.deliver_as(event, &key, body).await
    }

    fn ids(&self, spec: &MrSpec) -> Ids {
        let project = self.fake.project(PROJECT);
        let source = match &spec.source_project {
            None => project,
            Some(fork) => self.fake.project(fork),
        };
        Ids { project, source }
    }

    /// The `Merge Request Hook` payload for MR `iid` as the fake has it now, `user` acting.
    pub fn mr_payload_by(
        &self,
        action: &str,
        iid: u64,
        user: &str,
        oldrev: Option<&str>,
    ) -> Vec<u8> {
        let spec = self.fake.mr_spec(PROJECT, iid);
        let user_id = self.fake.user(user);
        let author_id = self.fake.user(&spec.author);
        let hook = MrHook {
            action,
            user: (user_id, user),
            oldrev,
        };
        mr_payload(&hook, iid, &spec, &self.ids(&spec), author_id)
    }

    /// The `Merge Request Hook` payload for MR `iid`, its author acting.
    pub fn mr_payload(&self, action: &str, iid: u64) -> Vec<u8> {
        let author = self.fake.mr_spec(PROJECT, iid).author;
        self.mr_payload_by(action, iid, &author, None)
    }

    /// Delivers a Merge Request Hook `action` for MR `iid` as the fake has it now, by its author;
    /// asserts 202.
    pub async fn deliver_mr(&self, action: &str, iid: u64) {
        let status = self.deliver(MR_HOOK, self.mr_payload(action, iid)).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "Merge Request Hook {action} !{iid}"
        );
    }

    /// Delivers the `update` hook of a push from `oldrev` to the MR's current head; asserts 202.
    pub async fn deliver_push(&self, iid: u64, oldrev: &str) {
        let author = self.fake.mr_spec(PROJECT, iid).author;
        let body = self.mr_payload_by("update", iid, &author, Some(oldrev));
        let status = self.deliver(MR_HOOK, body).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "Merge Request Hook update !{iid}"
        );
    }

    /// `username` approves MR `iid`: stored in the fake, its `approved` hook sent.
    pub async fn approve(&self, iid: u64, username: &str) {
        self.fake.approve(PROJECT, iid, username);
        let body = self.mr_payload_by("approved", iid, username, None);
        let status = self.deliver(MR_HOOK, body).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "approved !{iid} by {username}"
        );
    }

    /// `username` revokes their approval of MR `iid`: removed in the fake, `unapproved` sent.
    pub async fn unapprove(&self, iid: u64, username: &str) {
        self.fake.unapprove(PROJECT, iid, username);
        let body = self.mr_payload_by("unapproved", iid, username, None);
        let status = self.deliver(MR_HOOK, body).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "unapproved !{iid} by {username}"
        );
    }

    /// Delivers the Note Hook of note `note_id` by `username` on MR `iid`; asserts 202.
    pub async fn deliver_note(
        &self,
        iid: u64,
        note_id: u64,
        username: &str,
        body: &str,
        system: bool,
        action: &str,
    ) {
        let spec = self.fake.mr_spec(PROJECT, iid);
        let user_id = self.fake.user(username);
        let payload = note_payload(
            iid,
            &spec,
            &self.ids(&spec),
            (note_id, (user_id, username), body),
            system,
            action,
        );
        let status = self.deliver(NOTE_HOOK, payload).await;
        assert_eq!(status, StatusCode::ACCEPTED, "Note Hook {action} !{iid}");
    }

    /// `username` writes a note on MR `iid`: added to the fake, its `create` hook sent. Returns
    /// the note's id.
    pub async fn note(&self, iid: u64, username: &str, body: &str) -> u64 {
        let id = self.fake.note(PROJECT, iid, username, body);
        self.deliver_note(iid, id, username, body, false, "create")
            .await;
        id
    }

    /// Sets up MR `iid` at head `head_tag` on the enrolled project: the base config [`CONFIG`]
    /// at [`BASE`], the head with the same config and an `infra/` Pulumi project, the MR (by
    /// `dev`) changing `infra/index.ts`, `sec1` in the `acme/security` group and `alice` a
    /// developer of the project.
    pub fn enrolled_mr(&self, iid: u64, head_tag: &str) -> String {
        self.fake.file(PROJECT, BASE, ".iamgate.yml", CONFIG);
        let head = sha(head_tag);
        self.head_commit(&head, CONFIG);
        self.fake
            .mr(PROJECT, iid, MrSpec::new(&head, BASE).author("dev"))
            .mr_files(PROJECT, iid, ["infra/index.ts"])
            .group_member("acme/security", "sec1", DEVELOPER)
            .project_member(PROJECT, "alice", DEVELOPER)
            .project_member(PROJECT, "dev", DEVELOPER);
        head
    }

    /// [`GitLabServer::enrolled_mr`] with `config` as `.iamgate.yml` on the base (and head).
    pub fn enrolled_mr_with(&self, iid: u64, head_tag: &str, config: &str) -> String {
        let head = self.enrolled_mr(iid, head_tag);
        self.fake.file(PROJECT, BASE, ".iamgate.yml", config);
        self.head_commit(&head, config);
        head
    }

    /// The files of a head commit: `.iamgate.yml` with `config`, the `infra/` project.
    pub fn head_commit(&self, head: &str, config: &str) {
        self.fake
            .archive(PROJECT, head, &super::server::head_files(config));
    }

    /// Moves MR `iid` to a new head `head_tag` (same files as a fresh head); returns
    /// `(old head, new head)`.
    pub fn push(&self, iid: u64, head_tag: &str) -> (String, String) {
        let head = sha(head_tag);
        self.head_commit(&head, CONFIG);
        let old = self.fake.mr_spec(PROJECT, iid).head;
        self.fake
            .update_mr(PROJECT, iid, |mr| mr.head = head.clone());
        (old, head)
    }

    /// iamgate's notes on MR `iid` (by the token's user), oldest first.
    pub fn own_notes(&self, iid: u64) -> Vec<FakeNote> {
        let bot = self.fake.bot_username();
        self.fake
            .notes(PROJECT, iid)
            .into_iter()
            .filter(|n| n.author == bot)
            .collect()
    }

    /// iamgate's replies to note `note_id` on MR `iid`, oldest first.
    pub fn replies(&self, iid: u64, note_id: u64) -> Vec<String> {
        let marker = format!("<!-- iamgate:reply:{note_id} -->");
        self.own_notes(iid)
            .into_iter()
            .filter(|n| n.body.contains(&marker))
            .map(|n| n.body)
            .collect()
    }

    /// The award emoji iamgate put on note `note_id` of MR `iid`, by name.
    pub fn awards(&self, iid: u64, note_id: u64) -> Vec<String> {
        let bot = self.fake.bot_username();
        self.fake
            .awards(PROJECT, iid, note_id)
            .into_iter()
            .filter(|a| a.user == bot)
            .map(|a| a.name)
            .collect()
    }

    /// The `iamgate` statuses the fake stored on `sha`, oldest first, as `(state, description)`
    /// in the contract's states (see [`contract_state`]).
    pub fn statuses(&self, sha: &str) -> Vec<(String, String)> {
        self.fake
            .statuses(PROJECT, sha)
            .into_iter()
            .filter(|s| s.name == "iamgate")
            .map(|s| (contract_state(&s.state), s.description))
            .collect()
    }

    /// The API path of the project, as the fake logs it (`/projects/acme%2Finfra`).
    pub fn api(&self, rest: &str) -> String {
        format!("{}{rest}", FakeGitLab::project_api_path(PROJECT))
    }
}
