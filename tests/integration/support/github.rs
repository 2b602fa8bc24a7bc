//! GitHub in the scenario app: [`Forge`] for the fake GitHub, deliveries in GitHub's real shapes
//! (captured deliveries from `tests/fixtures/webhooks/github/` with the PR, comment or review
//! put in, signed with the webhook secret), and what only GitHub scenarios do
//! ([`TestApp<FakeGitHub>`]).

use std::path::{Path, PathBuf};

use iamgate::config::Secret;
use serde_json::{Value, json};

use super::app::{
    BASE, CONFIG, Comment, Delivery, Fail, Forge, Options, REPO, TestApp, config_toml, fixture,
    head_files, sha, toml_string, webhook_template,
};
use super::fake_github::{self, APP_ID, APP_SLUG, FakeGitHub, HeadRepo, PrSpec, user_id};

/// The webhook secret of the harness's config (test-only).
pub const WEBHOOK_SECRET: &str = "scenario-webhook-secret-7f3a9c";

/// The App's private key, by absolute path.
pub fn private_key_path() -> PathBuf {
    fixture("keys/test-app.private-key.pem")
}

/// The `type` GitHub gives a login: `Bot` for app accounts (`<slug>[bot]`), `User` otherwise.
fn user_type(login: &str) -> &'static str {
    if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    }
}

fn state(spec: &PrSpec) -> &'static str {
    if spec.open { "open" } else { "closed" }
}

/// Puts [`REPO`] and the installation into a captured delivery.
fn set_repository(payload: &mut Value, installation: u64) {
    let (owner, name) = REPO.split_once('/').unwrap();
    payload["installation"]["id"] = json!(installation);
    payload["repository"]["full_name"] = json!(REPO);
    payload["repository"]["name"] = json!(name);
    payload["repository"]["owner"]["login"] = json!(owner);
}

/// Puts the sender `login` into a captured delivery.
fn set_sender(payload: &mut Value, login: &str) {
    payload["sender"]["login"] = json!(login);
    payload["sender"]["type"] = json!(user_type(login));
}

/// Puts `login` into a captured delivery's `user` object.
fn set_user(user: &mut Value, login: &str) {
    user["login"] = json!(login);
    user["id"] = json!(user_id(login));
    user["type"] = json!(user_type(login));
}

/// A `pull_request` delivery in GitHub's real shape (a captured delivery, with this PR's repo,
/// number, head, base, head repository and installation put in).
pub fn pr_payload(action: &str, number: u64, spec: &PrSpec, installation: u64) -> Vec<u8> {
    let mut payload = webhook_template("github/pull_request.synchronize.2.json");
    payload["action"] = json!(action);
    payload["number"] = json!(number);
    payload["after"] = json!(spec.head);
    set_repository(&mut payload, installation);
    let pr = &mut payload["pull_request"];
    pr["number"] = json!(number);
    pr["state"] = json!(state(spec));
    pr["draft"] = json!(spec.draft);
    pr["user"]["login"] = json!(spec.author);
    set_sender(&mut payload, &spec.author);
    let pr = &mut payload["pull_request"];
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
    let mut payload = webhook_template("github/issue_comment.edited.3.json");
    payload["action"] = json!(action);
    set_repository(&mut payload, installation);
    set_sender(&mut payload, login);
    let pulls = format!("https://github.com/{REPO}/pull/{number}");
    let issue = &mut payload["issue"];
    issue["number"] = json!(number);
    issue["html_url"] = json!(pulls);
    issue["state"] = json!(state(spec));
    issue["user"]["login"] = json!(spec.author);
    issue["pull_request"]["url"] = json!(format!(
        "https://api.github.com/repos/{REPO}/pulls/{number}"
    ));
    issue["pull_request"]["html_url"] = json!(pulls);
    let c = &mut payload["comment"];
    c["id"] = json!(comment_id);
    c["html_url"] = json!(format!("{pulls}#issuecomment-{comment_id}"));
    c["body"] = json!(body);
    // Made now, to the millisecond (GitHub's own are to the second: iamgate then binds an
    // approval to the head it saw up to a second earlier).
    let now = iamgate::audit::Timestamp::from_system_time(std::time::SystemTime::now());
    c["created_at"] = json!(now.to_string());
    c["updated_at"] = json!(now.to_string());
    set_user(&mut c["user"], login);
    let bot = format!("{APP_SLUG}[bot]");
    c["performed_via_github_app"] = if login == bot {
        json!({ "id": APP_ID, "slug": APP_SLUG, "name": "iamgate" })
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
    let (review_id, login, review_state, commit) = review;
    let mut payload = webhook_template("github/pull_request_review.submitted.2.json");
    payload["action"] = json!(action);
    set_repository(&mut payload, installation);
    set_sender(&mut payload, login);
    let r = &mut payload["review"];
    r["id"] = json!(review_id);
    set_user(&mut r["user"], login);
    r["state"] = json!(review_state.to_ascii_lowercase());
    r["commit_id"] = json!(commit);
    r["_links"]["pull_request"]["href"] = json!(format!(
        "https://api.github.com/repos/{REPO}/pulls/{number}"
    ));
    let pr = &mut payload["pull_request"];
    pr["number"] = json!(number);
    pr["state"] = json!(state(spec));
    pr["user"]["login"] = json!(spec.author);
    pr["head"]["sha"] = json!(spec.head);
    pr["base"]["sha"] = json!(spec.base);
    pr["base"]["ref"] = json!(spec.base_ref);
    pr["base"]["repo"]["full_name"] = json!(REPO);
    pr["head"]["repo"]["full_name"] = json!(REPO);
    serde_json::to_vec(&payload).unwrap()
}

fn split_team(team: &str) -> (&str, &str) {
    team.split_once('/')
        .unwrap_or_else(|| panic!("a team is org/slug: {team}"))
}

impl FakeGitHub {
    /// The `pull_request.<action>` delivery for PR `number` as the fake has it now.
    fn pr_delivery(&self, action: &str, number: u64) -> Delivery {
        Delivery {
            event: "pull_request",
            body: pr_payload(
                action,
                number,
                &self.pull(REPO, number),
                self.installation_id(),
            ),
            what: format!("pull_request.{action} #{number}"),
        }
    }

    /// The `issue_comment.<action>` delivery of comment `id` by `login` on PR `number`.
    fn comment_delivery(
        &self,
        number: u64,
        id: u64,
        login: &str,
        body: &str,
        action: &str,
    ) -> Delivery {
        let spec = self.pull(REPO, number);
        let body = comment_payload(
            action,
            number,
            &spec,
            (id, login, body),
            self.installation_id(),
        );
        Delivery {
            event: "issue_comment",
            body,
            what: format!("issue_comment.{action} #{number}"),
        }
    }

    /// The `pull_request_review.<action>` delivery of review `id` by `login` with `state` on
    /// `commit`.
    fn review_delivery(
        &self,
        number: u64,
        review: (u64, &str, &str, &str),
        action: &str,
    ) -> Delivery {
        let spec = self.pull(REPO, number);
        Delivery {
            event: "pull_request_review",
            body: review_payload(action, number, &spec, review, self.installation_id()),
            what: format!("pull_request_review.{action} #{number}"),
        }
    }

    /// Creates team `org/slug` (empty) unless the fake has it.
    fn ensure_team(&self, org: &str, slug: &str) {
        // `team()` replaces a team: only create a missing one.
        if !self.has_team(org, slug) {
            self.team(org, slug, &[]);
        }
    }
}

impl Forge for FakeGitHub {
    const FORGE: &'static str = "github";
    const ASKS_TEAMS: bool = true;
    const KEEPS_SAME_STATE_TEXT: bool = false;
    const OPEN_EVENT: &'static str = "pull_request";
    const DELIVERY_ID_PREFIX: &'static str = "72d3162e-cc78-11e3-81ab-";

    async fn launch() -> Self {
        let fake = FakeGitHub::start().await;
        fake.repo(REPO);
        fake
    }
    fn config_toml(&self, command: &Path, db: &Path, listen: &str, options: &Options) -> String {
        let github = format!(
            "[github]\napp_id = {APP_ID}\nprivate_key_path = {key}\nwebhook_secret = {secret}\napi_url = {api}\n",
            key = toml_string(&private_key_path().display().to_string()),
            secret = toml_string(WEBHOOK_SECRET),
            api = toml_string(&self.url()),
        );
        config_toml(&github, command, db, listen, options)
    }
    fn webhook_headers(&self, event: &str, id: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        let signature =
            iamgate::webhook::verify::github_signature_for(&Secret::new(WEBHOOK_SECRET), body);
        vec![
            ("x-github-event", event.to_owned()),
            ("x-github-delivery", id.to_owned()),
            ("x-hub-signature-256", signature),
        ]
    }

    fn enroll(&self, number: u64, head_tag: &str) -> String {
        self.file(REPO, BASE, ".iamgate.yml", CONFIG);
        let head = sha(head_tag);
        self.head_commit(&head, CONFIG);
        self.pr(REPO, number, PrSpec::new(&head, BASE).author("dev"))
            .pr_files(REPO, number, ["infra/index.ts"])
            .team("acme", "security", &["sec1"])
            .collaborator(REPO, "alice");
        head
    }
    fn unenrolled(&self, number: u64, head_tag: &str) -> String {
        let head = sha(head_tag);
        self.archive(REPO, &head, &[("infra/index.ts", "export const x = 1;\n")])
            .pr(REPO, number, PrSpec::new(&head, BASE))
            .pr_files(REPO, number, ["infra/index.ts"]);
        head
    }
    fn head_commit(&self, head: &str, config: &str) {
        self.archive(REPO, head, &head_files(config));
    }
    fn base_file(&self, path: &str, contents: &str) {
        self.file(REPO, BASE, path, contents);
    }
    fn base_symlink(&self, path: &str, target: &str) {
        self.symlink(REPO, BASE, path, target);
    }
    fn changed_files(&self, number: u64, files: &[&str]) {
        self.pr_files(REPO, number, files.iter().copied());
    }
    fn make_fork(&self, number: u64, fork: &str) {
        self.update_pr(REPO, number, |pr| *pr = pr.clone().fork(fork));
    }
    fn close(&self, number: u64) {
        self.update_pr(REPO, number, |pr| pr.open = false);
    }
    fn sibling(&self, number: u64, head: &str, base_tag: &str, config: &str) {
        let base = sha(base_tag);
        self.file(REPO, &base, ".iamgate.yml", config);
        self.pr(
            REPO,
            number,
            PrSpec::new(head, &base).author("dev").base_ref("sandbox"),
        )
        .pr_files(REPO, number, ["infra/index.ts"]);
    }
    fn retarget(&self, number: u64, base_tag: &str, config: &str) -> Delivery {
        let base = sha(base_tag);
        self.file(REPO, &base, ".iamgate.yml", config);
        let before = self.pull(REPO, number);
        self.update_pr(REPO, number, |pr| {
            pr.base.clone_from(&base);
            pr.base_ref = "sandbox".to_owned();
        });
        let mut delivery = self.pr_delivery("edited", number);
        let mut body: Value = serde_json::from_slice(&delivery.body).unwrap();
        body["changes"] = json!({
            "base": { "ref": { "from": before.base_ref }, "sha": { "from": before.base } }
        });
        delivery.body = serde_json::to_vec(&body).unwrap();
        delivery
    }
    fn closed(&self, number: u64) -> Delivery {
        self.pr_delivery("closed", number)
    }
    fn add_member(&self, team: &str, login: &str) {
        let (org, slug) = split_team(team);
        self.ensure_team(org, slug);
        self.add_team_member(org, slug, login);
    }
    fn remove_member(&self, team: &str, login: &str) -> Delivery {
        let (org, slug) = split_team(team);
        self.remove_team_member(org, slug, login);
        let mut payload = webhook_template("github/ping.none.1.json");
        payload = json!({
            "action": "removed",
            "scope": "team",
            "member": { "login": login, "id": fake_github::user_id(login), "type": "User" },
            "team": { "slug": slug, "name": slug },
            "organization": { "login": org },
            "sender": payload["sender"].clone(),
            "installation": { "id": self.installation_id() },
        });
        Delivery {
            event: "membership",
            body: serde_json::to_vec(&payload).unwrap(),
            what: format!("membership removed {login} from {team}"),
        }
    }
    fn invite_member(&self, team: &str, login: &str) {
        let (org, slug) = split_team(team);
        self.ensure_team(org, slug);
        self.pending_team_member(org, slug, login);
    }
    fn delete_base_branch(&self) {
        self.delete_branch(REPO, "main");
    }
    fn move_head(&self, number: u64, head_tag: &str) -> (String, Delivery) {
        let head = sha(head_tag);
        self.head_commit(&head, CONFIG);
        self.push(REPO, number, &head);
        (head, self.pr_delivery("synchronize", number))
    }
    fn push_by(&self, number: u64, head_tag: &str, login: &str) -> (String, Delivery) {
        let (head, mut delivery) = self.move_head(number, head_tag);
        self.commit_by(REPO, number, login);
        let mut body: Value = serde_json::from_slice(&delivery.body).unwrap();
        set_sender(&mut body, login);
        delivery.body = serde_json::to_vec(&body).unwrap();
        (head, delivery)
    }
    fn move_base(&self, tag: &str, config: &str, touched: &[&str]) -> (String, Delivery) {
        let commit = sha(tag);
        self.file(REPO, &commit, ".iamgate.yml", config)
            .branch(REPO, "main", &commit);
        let body = json!({
            "ref": "refs/heads/main",
            "before": BASE,
            "after": commit,
            "created": false,
            "deleted": false,
            "forced": false,
            "commits": [{ "id": commit, "message": "guardrails", "added": [], "removed": [], "modified": touched }],
            "repository": { "full_name": REPO, "name": REPO.split('/').nth(1), "owner": { "login": REPO.split('/').next() } },
            "installation": { "id": self.installation_id() },
            "sender": { "login": "lead", "id": user_id("lead"), "type": "User" }
        });
        let delivery = Delivery {
            event: "push",
            body: serde_json::to_vec(&body).unwrap(),
            what: "push to main".to_owned(),
        };
        (commit, delivery)
    }

    fn open_payload(&self, number: u64) -> Vec<u8> {
        self.pr_delivery("opened", number).body
    }
    fn oversized_open_payload(&self, number: u64, bytes: usize) -> Vec<u8> {
        let mut payload: Value = serde_json::from_slice(&self.open_payload(number)).unwrap();
        payload["pull_request"]["body"] = json!("x".repeat(bytes));
        serde_json::to_vec(&payload).unwrap()
    }
    fn reopened(&self, number: u64) -> Delivery {
        self.pr_delivery("reopened", number)
    }
    fn edited(&self, number: u64) -> Delivery {
        self.pr_delivery("ready_for_review", number)
    }
    fn approved(&self, number: u64, login: &str) -> (u64, Delivery) {
        let head = self.pull(REPO, number).head;
        let id = self.review(REPO, number, login, "APPROVED", &head);
        let delivery = self.review_delivery(number, (id, login, "APPROVED", &head), "submitted");
        (id, delivery)
    }
    fn withdrawn(&self, number: u64, _login: &str, approval: u64) -> Delivery {
        self.dismiss_review(REPO, number, approval);
        let review = self
            .reviews(REPO, number)
            .into_iter()
            .find(|r| r.id == approval)
            .unwrap();
        self.review_delivery(
            number,
            (approval, &review.login, "dismissed", &review.commit_id),
            "dismissed",
        )
    }
    fn add_person_comment(&self, number: u64, login: &str, body: &str) -> u64 {
        self.add_user_comment(REPO, number, login, body)
    }
    fn comment_created(&self, number: u64, id: u64, login: &str, body: &str) -> Delivery {
        self.comment_delivery(number, id, login, body, "created")
    }
    fn edit_comment_quietly(&self, _number: u64, id: u64, body: &str) {
        self.edit_comment(REPO, id, body);
    }
    fn delete_comment_quietly(&self, _number: u64, id: u64) {
        self.delete_comment(REPO, id);
    }

    fn bot(&self) -> String {
        self.bot_login()
    }
    fn comments(&self, number: u64) -> Vec<Comment> {
        FakeGitHub::comments(self, REPO, number)
            .into_iter()
            .map(|c| Comment {
                author: c.author,
                body: c.body,
            })
            .collect()
    }
    fn reactions(&self, _number: u64, id: u64) -> Vec<String> {
        FakeGitHub::reactions(self, REPO, id)
            .into_iter()
            .map(|r| r.content)
            .collect()
    }
    fn statuses(&self, sha: &str) -> Vec<(String, String)> {
        FakeGitHub::statuses(self, REPO, sha)
            .into_iter()
            .filter(|s| s.context == "iamgate")
            .map(|s| (s.state, s.description))
            .collect()
    }
    fn review_requests(&self, number: u64) -> (Vec<String>, Vec<String>) {
        let asked = FakeGitHub::review_requests(self, REPO, number);
        (asked.teams, asked.users)
    }
    fn review_request_calls(&self, number: u64) -> usize {
        self.count_requests(
            "POST",
            &format!("/repos/{REPO}/pulls/{number}/requested_reviewers"),
        )
    }
    fn config_lookups(&self) -> usize {
        self.count_requests("GET", &format!("/repos/{REPO}/contents/.iamgate.yml"))
    }
    fn archive_downloads(&self) -> usize {
        self.count_requests("GET", &format!("/repos/{REPO}/tarball"))
    }
    fn membership_lookups(&self, team: &str, login: &str) -> usize {
        let (org, slug) = split_team(team);
        self.count_requests(
            "GET",
            &format!("/orgs/{org}/teams/{slug}/memberships/{login}"),
        )
    }
    fn calls(&self) -> Vec<(String, String, u16)> {
        self.requests()
            .into_iter()
            .map(|r| (r.method, r.path, r.status))
            .collect()
    }

    fn comments_path(&self, number: u64) -> String {
        format!("/repos/{REPO}/issues/{number}/comments")
    }
    fn statuses_path(&self) -> String {
        format!("/repos/{REPO}/statuses/")
    }
    fn archive_path(&self) -> String {
        format!("/repos/{REPO}/tarball")
    }
    fn reactions_path(&self, _number: u64, id: u64) -> String {
        format!("/repos/{REPO}/issues/comments/{id}/reactions")
    }
    fn fail(&self, method: &str, path: &str, skip: usize, count: usize, fault: Fail) {
        let fault = match fault {
            Fail::Error500 => fake_github::Fault::Error500,
            Fail::Error502 => fake_github::Fault::Error502,
            Fail::Error502AfterApplying => fake_github::Fault::Error502AfterApplying,
            Fail::RateLimited => fake_github::Fault::SecondaryRateLimit,
        };
        self.fail_after(method, path, skip, count, fault);
    }
    fn clear_faults(&self) {
        FakeGitHub::clear_faults(self);
    }
}

/// What only GitHub scenarios do.
impl TestApp<FakeGitHub> {
    /// The `pull_request` payload for PR `number` as the fake has it now.
    pub fn pr_payload(&self, action: &str, number: u64) -> Vec<u8> {
        self.fake.pr_delivery(action, number).body
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
        let delivery = self
            .fake
            .comment_delivery(number, comment_id, login, body, action);
        self.send(delivery).await;
    }

    /// `login` submits a review with `state` (`APPROVED`, `CHANGES_REQUESTED`, ...) on PR
    /// `number`'s current head: stored in the fake, its `submitted` delivery sent. Returns its id.
    pub async fn submit_review(&self, number: u64, login: &str, state: &str) -> u64 {
        let head = self.fake.pull(REPO, number).head;
        let id = self.fake.review(REPO, number, login, state, &head);
        let delivery = self
            .fake
            .review_delivery(number, (id, login, state, &head), "submitted");
        self.send(delivery).await;
        id
    }
}
