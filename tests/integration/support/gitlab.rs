//! GitLab in the scenario app: [`Forge`] for the fake GitLab, and `Merge Request Hook`, `Note
//! Hook` and `Push Hook` deliveries built from the captured payloads in
//! `tests/fixtures/webhooks/gitlab/`, sent with the `X-Gitlab-Token` secret and an
//! `Idempotency-Key`; what only GitLab scenarios do is on [`TestApp<FakeGitLab>`].

use std::path::Path;

use serde_json::{Value, json};

use super::app::{
    BASE, CONFIG, Comment, Delivery, Fail, Forge, Options, REPO, TestApp, config_toml, head_files,
    sha, toml_string, webhook_template,
};
use super::fake_gitlab::{self, FakeGitLab, MrSpec};

/// The project every GitLab scenario uses (the same path as the GitHub repository).
pub const PROJECT: &str = REPO;
/// The `[gitlab] webhook_secret` of the harness's config (test-only), sent as `X-Gitlab-Token`.
pub const WEBHOOK_SECRET: &str = "scenario-gitlab-webhook-token-5b21e0";
/// The Merge Request Hook event name.
pub const MR_HOOK: &str = "Merge Request Hook";
/// The Note Hook event name.
pub const NOTE_HOOK: &str = "Note Hook";
/// GitLab's developer access level.
pub const DEVELOPER: u32 = 30;

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
    let web = format!("https://gitlab.example/{path}");
    let ssh = format!("git@gitlab.example:{path}.git");
    project["id"] = json!(id);
    project["name"] = json!(name);
    project["namespace"] = json!(namespace);
    project["path_with_namespace"] = json!(path);
    project["web_url"] = json!(web);
    project["homepage"] = json!(web);
    project["git_http_url"] = json!(format!("{web}.git"));
    project["git_ssh_url"] = json!(ssh);
    project["url"] = json!(ssh);
    project["ssh_url"] = json!(ssh);
    project["http_url"] = json!(format!("{web}.git"));
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

/// The numeric ids a payload carries: the target project's and the source project's.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    pub project: u64,
    pub source: u64,
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
    let mut payload = webhook_template("gitlab/merge_request.open.2.json");
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
    let mut payload = webhook_template("gitlab/note.create.1.json");
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
    // Made now, in GitLab's hook format (to the millisecond here; GitLab's are to the second).
    let now = iamgate::audit::Timestamp::from_system_time(std::time::SystemTime::now());
    let made = format!(
        "{} UTC",
        now.to_string().trim_end_matches('Z').replacen('T', " ", 1)
    );
    a["created_at"] = json!(made);
    a["updated_at"] = json!(made);
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

/// The headers GitLab 17.4+ sends: the event, the token (when given), the event UUID and the
/// idempotency key (`key`).
pub fn headers(event: &str, token: Option<&str>, key: &str) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("x-gitlab-event", event.to_owned()),
        ("x-gitlab-event-uuid", format!("{key}-uuid")),
        ("idempotency-key", key.to_owned()),
        ("x-gitlab-instance", "https://gitlab.example".to_owned()),
        ("user-agent", "GitLab/17.6.0".to_owned()),
    ];
    if let Some(token) = token {
        headers.push(("x-gitlab-token", token.to_owned()));
    }
    headers
}

impl FakeGitLab {
    /// The API path of the project, as the fake logs it (`/projects/acme%2Finfra`).
    pub fn api(&self, rest: &str) -> String {
        format!("{}{rest}", FakeGitLab::project_api_path(PROJECT))
    }

    fn ids(&self, spec: &MrSpec) -> Ids {
        let project = self.project(PROJECT);
        let source = match &spec.source_project {
            None => project,
            Some(fork) => self.project(fork),
        };
        Ids { project, source }
    }

    /// The `Merge Request Hook` `action` for MR `iid` as the fake has it now, `user` acting.
    pub fn mr_hook(&self, action: &str, iid: u64, user: &str, oldrev: Option<&str>) -> Delivery {
        let spec = self.mr_spec(PROJECT, iid);
        let hook = MrHook {
            action,
            user: (self.user(user), user),
            oldrev,
        };
        let author_id = self.user(&spec.author);
        Delivery {
            event: MR_HOOK,
            body: mr_payload(&hook, iid, &spec, &self.ids(&spec), author_id),
            what: format!("Merge Request Hook {action} !{iid} by {user}"),
        }
    }

    /// The `Merge Request Hook` `action` for MR `iid`, its author acting.
    fn author_hook(&self, action: &str, iid: u64, oldrev: Option<&str>) -> Delivery {
        let author = self.mr_spec(PROJECT, iid).author;
        self.mr_hook(action, iid, &author, oldrev)
    }

    /// The Note Hook of note `note_id` by `username` on MR `iid`.
    pub fn note_hook(
        &self,
        iid: u64,
        note: (u64, &str, &str),
        system: bool,
        action: &str,
    ) -> Delivery {
        let (note_id, username, body) = note;
        let spec = self.mr_spec(PROJECT, iid);
        let user = (self.user(username), username);
        let payload = note_payload(
            iid,
            &spec,
            &self.ids(&spec),
            (note_id, user, body),
            system,
            action,
        );
        Delivery {
            event: NOTE_HOOK,
            body: payload,
            what: format!("Note Hook {action} !{iid}"),
        }
    }
}

impl Forge for FakeGitLab {
    const FORGE: &'static str = "gitlab";
    const ASKS_TEAMS: bool = false;
    const KEEPS_SAME_STATE_TEXT: bool = true;
    const OPEN_EVENT: &'static str = MR_HOOK;
    const DELIVERY_ID_PREFIX: &'static str = "9b2f5a1e-0c4d-4e8f-a1b2-";

    async fn launch() -> Self {
        let fake = FakeGitLab::start().await;
        fake.project(PROJECT);
        fake
    }
    fn config_toml(&self, command: &Path, db: &Path, listen: &str, options: &Options) -> String {
        let gitlab = format!(
            "[gitlab]\nurl = {url}\ntoken = {token}\nwebhook_secret = {secret}\n{keys}",
            url = toml_string(&self.url()),
            token = toml_string(fake_gitlab::TOKEN),
            secret = toml_string(WEBHOOK_SECRET),
            keys = options.gitlab_keys,
        );
        config_toml(&gitlab, command, db, listen, options)
    }
    fn webhook_headers(&self, event: &str, id: &str, _body: &[u8]) -> Vec<(&'static str, String)> {
        headers(event, Some(WEBHOOK_SECRET), id)
    }

    fn enroll(&self, number: u64, head_tag: &str) -> String {
        self.file(PROJECT, BASE, ".iamgate.yml", CONFIG);
        let head = sha(head_tag);
        self.head_commit(&head, CONFIG);
        self.mr(PROJECT, number, MrSpec::new(&head, BASE).author("dev"))
            .mr_files(PROJECT, number, ["infra/index.ts"])
            .group_member("acme/security", "sec1", DEVELOPER)
            .project_member(PROJECT, "alice", DEVELOPER)
            .project_member(PROJECT, "dev", DEVELOPER);
        head
    }
    fn unenrolled(&self, number: u64, head_tag: &str) -> String {
        let head = sha(head_tag);
        self.archive(
            PROJECT,
            &head,
            &[("infra/index.ts", "export const x = 1;\n")],
        )
        .mr(PROJECT, number, MrSpec::new(&head, BASE))
        .mr_files(PROJECT, number, ["infra/index.ts"]);
        head
    }
    fn head_commit(&self, head: &str, config: &str) {
        self.archive(PROJECT, head, &head_files(config));
    }
    fn base_file(&self, path: &str, contents: &str) {
        self.file(PROJECT, BASE, path, contents);
    }
    fn base_symlink(&self, path: &str, target: &str) {
        self.symlink(PROJECT, BASE, path, target);
    }
    fn changed_files(&self, number: u64, files: &[&str]) {
        self.mr_files(PROJECT, number, files.iter().copied());
    }
    fn make_fork(&self, number: u64, fork: &str) {
        self.update_mr(PROJECT, number, |mr| *mr = mr.clone().fork(fork));
        self.project(fork);
    }
    fn close(&self, number: u64) {
        self.update_mr(PROJECT, number, |mr| mr.state = "closed".to_owned());
    }
    fn sibling(&self, number: u64, head: &str, base_tag: &str, config: &str) {
        let base = sha(base_tag);
        self.file(PROJECT, &base, ".iamgate.yml", config);
        self.mr(
            PROJECT,
            number,
            MrSpec::new(head, &base)
                .author("dev")
                .target_branch("sandbox"),
        )
        .mr_files(PROJECT, number, ["infra/index.ts"]);
    }
    fn retarget(&self, number: u64, base_tag: &str, config: &str) -> Delivery {
        let base = sha(base_tag);
        self.file(PROJECT, &base, ".iamgate.yml", config);
        let before = self.mr_spec(PROJECT, number);
        self.update_mr(PROJECT, number, |mr| {
            mr.base.clone_from(&base);
            mr.target_branch = "sandbox".to_owned();
        });
        let mut delivery = self.author_hook("update", number, None);
        let mut body: Value = serde_json::from_slice(&delivery.body).unwrap();
        body["changes"] = json!({
            "target_branch": { "previous": before.target_branch, "current": "sandbox" }
        });
        delivery.body = serde_json::to_vec(&body).unwrap();
        delivery
    }
    fn closed(&self, number: u64) -> Delivery {
        self.author_hook("close", number, None)
    }
    fn add_member(&self, team: &str, login: &str) {
        self.group_member(team, login, DEVELOPER);
    }
    fn remove_member(&self, team: &str, login: &str) -> Delivery {
        self.remove_group_member(team, login);
        let payload = json!({
            "event_name": "user_remove_from_group",
            "group_name": team.rsplit('/').next().unwrap_or(team),
            "group_path": team,
            "user_username": login,
            "user_name": login,
            "group_access": "Developer",
        });
        Delivery {
            event: "Member Hook",
            body: serde_json::to_vec(&payload).unwrap(),
            what: format!("Member Hook: {login} removed from {team}"),
        }
    }
    fn invite_member(&self, team: &str, login: &str) {
        self.awaiting_group_member(team, login);
    }
    fn delete_base_branch(&self) {
        self.delete_branch(PROJECT, "main");
    }
    fn move_head(&self, number: u64, head_tag: &str) -> (String, Delivery) {
        let head = sha(head_tag);
        self.head_commit(&head, CONFIG);
        let old = self.mr_spec(PROJECT, number).head;
        self.update_mr(PROJECT, number, |mr| mr.head = head.clone());
        (head, self.author_hook("update", number, Some(&old)))
    }
    fn push_by(&self, number: u64, head_tag: &str, login: &str) -> (String, Delivery) {
        let head = sha(head_tag);
        self.head_commit(&head, CONFIG);
        let old = self.mr_spec(PROJECT, number).head;
        self.update_mr(PROJECT, number, |mr| mr.head = head.clone());
        (head, self.mr_hook("update", number, login, Some(&old)))
    }
    fn move_base(&self, tag: &str, config: &str, touched: &[&str]) -> (String, Delivery) {
        let commit = sha(tag);
        self.file(PROJECT, &commit, ".iamgate.yml", config)
            .branch(PROJECT, "main", &commit);
        let body = json!({
            "object_kind": "push",
            "event_name": "push",
            "before": BASE,
            "after": commit,
            "ref": "refs/heads/main",
            "checkout_sha": commit,
            "user_id": self.user("lead"),
            "user_username": "lead",
            "project_id": self.project(PROJECT),
            "project": { "id": self.project(PROJECT), "path_with_namespace": PROJECT, "default_branch": "main" },
            "commits": [{ "id": commit, "message": "guardrails", "added": [], "modified": touched, "removed": [] }],
            "total_commits_count": 1
        });
        let delivery = Delivery {
            event: "Push Hook",
            body: serde_json::to_vec(&body).unwrap(),
            what: "Push Hook to main".to_owned(),
        };
        (commit, delivery)
    }

    fn open_payload(&self, number: u64) -> Vec<u8> {
        self.author_hook("open", number, None).body
    }
    fn oversized_open_payload(&self, number: u64, bytes: usize) -> Vec<u8> {
        let mut payload: Value = serde_json::from_slice(&self.open_payload(number)).unwrap();
        payload["object_attributes"]["description"] = json!("x".repeat(bytes));
        serde_json::to_vec(&payload).unwrap()
    }
    fn reopened(&self, number: u64) -> Delivery {
        self.author_hook("reopen", number, None)
    }
    fn edited(&self, number: u64) -> Delivery {
        self.author_hook("update", number, None)
    }
    fn approved(&self, number: u64, login: &str) -> (u64, Delivery) {
        self.approve(PROJECT, number, login);
        (0, self.mr_hook("approved", number, login, None))
    }
    fn withdrawn(&self, number: u64, login: &str, _approval: u64) -> Delivery {
        self.unapprove(PROJECT, number, login);
        self.mr_hook("unapproved", number, login, None)
    }
    fn add_person_comment(&self, number: u64, login: &str, body: &str) -> u64 {
        self.note(PROJECT, number, login, body)
    }
    fn comment_created(&self, number: u64, id: u64, login: &str, body: &str) -> Delivery {
        self.note_hook(number, (id, login, body), false, "create")
    }
    fn edit_comment_quietly(&self, number: u64, id: u64, body: &str) {
        self.edit_note(PROJECT, number, id, body);
    }
    fn delete_comment_quietly(&self, number: u64, id: u64) {
        self.delete_note(PROJECT, number, id);
    }

    fn bot(&self) -> String {
        self.bot_username().to_owned()
    }
    fn comments(&self, number: u64) -> Vec<Comment> {
        self.notes(PROJECT, number)
            .into_iter()
            .map(|n| {
                assert!(!n.system || n.author != self.bot_username());
                Comment {
                    author: n.author,
                    body: n.body,
                }
            })
            .collect()
    }
    fn reactions(&self, number: u64, id: u64) -> Vec<String> {
        let bot = self.bot_username();
        self.awards(PROJECT, number, id)
            .into_iter()
            .filter(|a| a.user == bot)
            .map(|a| a.name)
            .collect()
    }
    fn statuses(&self, sha: &str) -> Vec<(String, String)> {
        FakeGitLab::statuses(self, PROJECT, sha)
            .into_iter()
            .filter(|s| s.name == "iamgate")
            .map(|s| (contract_state(&s.state), s.description))
            .collect()
    }
    fn review_requests(&self, number: u64) -> (Vec<String>, Vec<String>) {
        (Vec::new(), self.reviewers(PROJECT, number))
    }
    fn review_request_calls(&self, number: u64) -> usize {
        let path = self.api(&format!("/merge_requests/{number}"));
        self.requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path == path)
            .count()
    }
    fn config_lookups(&self) -> usize {
        self.count_requests("GET", &self.api("/repository/files/"))
    }
    fn archive_downloads(&self) -> usize {
        self.count_requests("GET", &self.api("/repository/archive"))
    }
    fn membership_lookups(&self, team: &str, login: &str) -> usize {
        let group = FakeGitLab::project_api_path(team).replacen("/projects/", "/groups/", 1);
        let id = self.user(login);
        self.count_requests("GET", &format!("{group}/members/{id}"))
    }
    fn calls(&self) -> Vec<(String, String, u16)> {
        self.requests()
            .into_iter()
            .map(|r| (r.method, r.path, r.status))
            .collect()
    }

    fn comments_path(&self, number: u64) -> String {
        self.api(&format!("/merge_requests/{number}/notes"))
    }
    fn statuses_path(&self) -> String {
        self.api("/statuses/")
    }
    fn archive_path(&self) -> String {
        self.api("/repository/archive")
    }
    fn reactions_path(&self, number: u64, id: u64) -> String {
        self.api(&format!("/merge_requests/{number}/notes/{id}/award_emoji"))
    }
    fn fail(&self, method: &str, path: &str, skip: usize, count: usize, fault: Fail) {
        let fault = match fault {
            Fail::Error500 => fake_gitlab::Fault::Error500,
            Fail::Error502 => fake_gitlab::Fault::Error502,
            Fail::Error502AfterApplying => fake_gitlab::Fault::Error502AfterApplying,
            Fail::RateLimited => fake_gitlab::Fault::RateLimited {
                retry_after_secs: 1,
            },
        };
        self.fail_after(method, path, skip, count, fault);
    }
    fn clear_faults(&self) {
        FakeGitLab::clear_faults(self);
    }
}

/// What only GitLab scenarios do.
impl TestApp<FakeGitLab> {
    /// The headers GitLab 17.4+ sends, with `token` as `X-Gitlab-Token` (when given).
    pub fn headers(&self, event: &str, token: Option<&str>, key: &str) -> Vec<(&str, String)> {
        headers(event, token, key)
    }

    /// The `Merge Request Hook` payload for MR `iid`, its author acting.
    pub fn mr_payload(&self, action: &str, iid: u64) -> Vec<u8> {
        self.fake.author_hook(action, iid, None).body
    }

    /// Delivers a Merge Request Hook `action` for MR `iid` as the fake has it now, by its author;
    /// asserts 202.
    pub async fn deliver_mr(&self, action: &str, iid: u64) {
        self.send(self.fake.author_hook(action, iid, None)).await;
    }

    /// Delivers the `update` hook of a push from `oldrev` to the MR's current head; asserts 202.
    pub async fn deliver_push(&self, iid: u64, oldrev: &str) {
        self.send(self.fake.author_hook("update", iid, Some(oldrev)))
            .await;
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
        let delivery = self
            .fake
            .note_hook(iid, (note_id, username, body), system, action);
        self.send(delivery).await;
    }

    /// `username` writes a note on MR `iid`: added to the fake, its `create` hook sent. Returns
    /// the note's id.
    pub async fn note(&self, iid: u64, username: &str, body: &str) -> u64 {
        self.comment(iid, username, body).await
    }
}
