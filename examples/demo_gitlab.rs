//! iamgate on GitLab, end to end, on this machine: no GitLab account, no cloud, no pulumi.
//!
//! It starts the fake GitLab used by the integration tests (an HTTP server serving `/api/v4`
//! from a state model that checks the `PRIVATE-TOKEN` and GitLab's note and status rules),
//! seeds it with a project `acme/infra` whose base branch enrolls a stack, a merge request !7 by
//! `dev` that changes it with a pipeline on its head, and `alice` a developer of the group
//! `acme/security`. A fake `pulumi` prints `examples/risky-preview.json`. Then it runs the real
//! `iamgate serve` code (`app::Service`, the same assembly as the binary) on a real port with
//! a `[gitlab]` section as in `docs/gitlab.md`, sends a `Merge Request Hook` (`open`) over HTTP
//! with the `X-Gitlab-Token` secret like GitLab does, waits for iamgate to post, and prints the
//! report note and the commit statuses as GitLab's pipeline lists them. Then `alice` writes the
//! note `/iamgate approve ...`: iamgate checks her membership of `acme/security` with GitLab,
//! records the approval, awards 👀, replies, and the `iamgate` status turns success.
//!
//! ```sh
//! cargo run --example demo_gitlab
//! ```
//!
//! `--keep` leaves everything running and prints the server config and a `curl` that delivers
//! the merge request hook, so that you can run `iamgate serve --config ...` yourself instead.
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
#[allow(
    dead_code,
    reason = "each user of the demo repository uses a part of it"
)]
mod demo_repo;

use anyhow::Context;
use demo_repo::{
    BASE, ManualDelivery, PR, REPO, REPO_CONFIG, RunningServer, audit_key_file, fake_pulumi,
    free_port, keep_running, rand_u64,
};
use fakes::fake_gitlab::{FakeGitLab, MrSpec};
use iamgate::config::ServerConfig;
use serde_json::{Value, json};

const HEAD: &str = "2222222222222222222222222222222222222222";
/// GitLab's Developer access level.
const DEVELOPER: u32 = 30;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let keep = std::env::args().any(|a| a == "--keep");
    let work = tempfile::Builder::new()
        .prefix("iamgate-demo-gitlab-")
        .tempdir()?;

    // 1. The fake GitLab, seeded.
    let gitlab = FakeGitLab::start().await;
    let program = "import * as aws from \"@pulumi/aws\";\n// the MR widens the CI role\n";
    gitlab
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
        .mr(REPO, PR, MrSpec::new(HEAD, BASE).author("dev"))
        .mr_files(REPO, PR, ["infra/index.ts"])
        .group_member("acme/security", "alice", DEVELOPER);
    // The merge request's CI pipeline on its head: iamgate attaches its status to it.
    let pipeline = gitlab.pipeline(REPO, HEAD, &format!("refs/merge-requests/{PR}/head"));

    // 2. A fake `pulumi` that prints the risky example preview.
    let pulumi = fake_pulumi(work.path())?;

    // 3. The server config, as a user would write it (docs/gitlab.md).
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
[gitlab]
url = "{url}"
token = "{token}"
webhook_secret = "{secret}"
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
        url = gitlab.url(),
        token = gitlab.token(),
        pulumi = pulumi.display(),
    );
    std::fs::write(&config_path, &config_text)?;
    let config = ServerConfig::load(Some(&config_path), std::iter::empty())
        .map_err(|p| anyhow::anyhow!("the demo config is invalid: {p}"))?;
    println!("fake GitLab: {}", gitlab.url());
    println!("server config: {}", config_path.display());

    let project_id = gitlab.project(REPO);
    let spec = gitlab.mr_spec(REPO, PR);
    let dev = (gitlab.user("dev"), "dev");
    let payload = mr_hook_payload("open", project_id, &spec, dev);
    if keep {
        let headers = [
            "X-Gitlab-Event: Merge Request Hook".to_owned(),
            "Idempotency-Key: demo-1".to_owned(),
            format!("X-Gitlab-Token: {secret}"),
        ];
        let delivery = ManualDelivery {
            forge: "gitlab",
            port,
            headers: &headers,
            file_name: "merge_request.json",
            payload: &payload,
        };
        return keep_running(work, &config_path, delivery, || {
            print_results(&gitlab, false)
        })
        .await;
    }

    // 4. iamgate serve, on a real port.
    let server = RunningServer::start(&config).await?;

    // 5. GitLab delivers the merge request hook.
    let reply = deliver(port, &secret, "Merge Request Hook", 1, payload)
        .await
        .context("delivering the merge request hook")?;
    println!(
        "Merge Request Hook delivered: HTTP {} {}",
        reply.status(),
        reply.text().await?
    );

    // 6. Wait for the report note and a final status (not the "analyzing" one, nor the
    //    `canceled` that ends it: GitLab cannot change a pending status's text in place).
    let took = server
        .wait_until("iamgate posted nothing", || {
            gitlab
                .latest_status(REPO, HEAD)
                .is_some_and(|s| s.state != "canceled" && !s.description.contains("analyzing"))
                && gitlab
                    .notes(REPO, PR)
                    .iter()
                    .any(|n| n.body.contains("iamgate:report"))
        })
        .await?;
    println!("iamgate posted in {} ms\n", took.as_millis());
    print_results(&gitlab, true);

    // 7. alice, of acme/security, approves with a command in a note; iamgate checks her
    //    membership with GitLab (by the user id the hook carries), records the approval bound to
    //    this IAM change, awards 👀, replies and lifts the gate.
    let body = "Scoped to the deploy role, fine.\n/iamgate approve reviewed the PassRole path";
    let note = gitlab.note(REPO, PR, "alice", body);
    let alice = (gitlab.user("alice"), "alice");
    let payload = note_hook_payload(project_id, &spec, note, alice, body);
    let reply = deliver(port, &secret, "Note Hook", 2, payload)
        .await
        .context("delivering the note hook")?;
    println!(
        "alice writes `/iamgate approve ...`: Note Hook HTTP {}",
        reply.status()
    );
    server
        .wait_until("the approval did not lift the gate", || {
            gitlab
                .latest_status(REPO, HEAD)
                .is_some_and(|s| s.state == "success")
        })
        .await?;
    let awards: Vec<String> = gitlab
        .awards(REPO, PR, note)
        .into_iter()
        .map(|a| format!(":{}: by {}", a.name, a.user))
        .collect();
    println!("award emoji on alice's note: {}", awards.join(", "));
    for n in gitlab.notes(REPO, PR) {
        if n.body.contains("iamgate:reply") {
            println!("──── iamgate's reply ────\n{}\n", n.body);
        }
    }
    println!("pipeline #{pipeline} now lists:");
    print_statuses(&gitlab);
    server.stop().await
}

/// Sends a delivery the way GitLab 17.4+ does: the event, the secret token in clear, the event
/// UUID and the idempotency key.
async fn deliver(
    port: u16,
    secret: &str,
    event: &str,
    n: u64,
    payload: String,
) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhooks/gitlab"))
        .header("X-Gitlab-Event", event)
        .header("X-Gitlab-Token", secret)
        .header(
            "X-Gitlab-Event-UUID",
            format!("0b5e8c1a-7d3f-4c2e-9a61-{n:012}"),
        )
        .header(
            "Idempotency-Key",
            format!("5f1d2c3b-4a59-4e8f-b7c6-{n:012}"),
        )
        .header("X-Gitlab-Instance", "https://gitlab.example")
        .header("User-Agent", "GitLab/17.6.0")
        .header("Content-Type", "application/json")
        .body(payload)
        .send()
        .await
}

fn print_results(gitlab: &FakeGitLab, full: bool) {
    for n in gitlab.notes(REPO, PR) {
        if full {
            println!("──── note {} by {} ────\n{}\n", n.id, n.author, n.body);
        } else {
            println!("note {} by {} ({} chars)", n.id, n.author, n.body.len());
        }
    }
    print_statuses(gitlab);
    if full {
        // GitLab cannot ask a group to review: the note names the groups still missing.
        println!("reviewers asked: {:?}", gitlab.reviewers(REPO, PR));
    }
}

/// Every status on the head, oldest first, as the pipeline lists them.
fn print_statuses(gitlab: &FakeGitLab) {
    for s in gitlab.statuses(REPO, HEAD) {
        let pipeline = s.pipeline_id.map_or_else(
            || "external pipeline".to_owned(),
            |id| format!("pipeline #{id}"),
        );
        println!(
            "status `{}` on {} ({pipeline}): {} — {}",
            s.name,
            &HEAD[..7],
            s.state,
            s.description
        );
    }
}

/// A user as GitLab's webhooks show it.
fn user_json((id, username): (u64, &str)) -> Value {
    json!({
        "id": id,
        "name": username,
        "username": username,
        "avatar_url": null,
        "email": "[REDACTED]"
    })
}

/// The project as GitLab's webhooks show it.
fn project_json(id: u64) -> Value {
    let web_url = format!("https://gitlab.example/{REPO}");
    json!({
        "id": id,
        "name": "infra",
        "description": "",
        "web_url": web_url,
        "avatar_url": null,
        "git_ssh_url": format!("git@gitlab.example:{REPO}.git"),
        "git_http_url": format!("{web_url}.git"),
        "namespace": "acme",
        "visibility_level": 0,
        "path_with_namespace": REPO,
        "default_branch": "main",
        "homepage": web_url,
        "url": format!("git@gitlab.example:{REPO}.git"),
        "ssh_url": format!("git@gitlab.example:{REPO}.git"),
        "http_url": format!("{web_url}.git")
    })
}

/// The repository as GitLab's webhooks show it.
fn repository_json() -> Value {
    json!({
        "name": "infra",
        "url": format!("git@gitlab.example:{REPO}.git"),
        "description": "",
        "homepage": format!("https://gitlab.example/{REPO}")
    })
}

fn last_commit_json(head: &str) -> Value {
    json!({
        "id": head,
        "message": "Widen the CI role\n",
        "title": "Widen the CI role",
        "timestamp": "2025-01-01T12:00:00+00:00",
        "url": format!("https://gitlab.example/{REPO}/-/commit/{head}"),
        "author": { "name": "dev", "email": "dev@example.com" }
    })
}

/// A `Merge Request Hook` delivery for MR !7 in GitLab's shape (that of the captured deliveries
/// in `tests/fixtures/webhooks/gitlab/`), its author `user` acting.
fn mr_hook_payload(action: &str, project_id: u64, spec: &MrSpec, user: (u64, &str)) -> String {
    let project = project_json(project_id);
    json!({
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": user_json(user),
        "project": project,
        "repository": repository_json(),
        "object_attributes": {
            "id": 1000 + PR,
            "iid": PR,
            "target_branch": spec.target_branch,
            "source_branch": spec.source_branch,
            "source_project_id": project_id,
            "author_id": user.0,
            "title": "Widen the CI role",
            "state": spec.state,
            "work_in_progress": spec.draft,
            "draft": spec.draft,
            "merge_status": "unchecked",
            "target_project_id": project_id,
            "description": "",
            "url": format!("https://gitlab.example/{REPO}/-/merge_requests/{PR}"),
            "source": project,
            "target": project,
            "last_commit": last_commit_json(&spec.head),
            "labels": [],
            "action": action,
            "detailed_merge_status": "mergeable"
        },
        "labels": [],
        "changes": {},
        "assignees": []
    })
    .to_string()
}

/// A `Note Hook` (`create`) delivery for note `note_id` on MR !7 in GitLab's shape, by `user`.
fn note_hook_payload(
    project_id: u64,
    spec: &MrSpec,
    note_id: u64,
    user: (u64, &str),
    body: &str,
) -> String {
    let project = project_json(project_id);
    json!({
        "object_kind": "note",
        "event_type": "note",
        "user": user_json(user),
        "project_id": project_id,
        "project": project,
        "repository": repository_json(),
        "object_attributes": {
            "id": note_id,
            "note": body,
            "noteable_type": "MergeRequest",
            "author_id": user.0,
            "project_id": project_id,
            "attachment": null,
            "line_code": null,
            "commit_id": "",
            "noteable_id": 1000 + PR,
            "system": false,
            "st_diff": null,
            "action": "create",
            "url": format!("https://gitlab.example/{REPO}/-/merge_requests/{PR}#note_{note_id}")
        },
        "merge_request": {
            "id": 1000 + PR,
            "iid": PR,
            "target_branch": spec.target_branch,
            "source_branch": spec.source_branch,
            "source_project_id": project_id,
            "target_project_id": project_id,
            "title": "Widen the CI role",
            "state": spec.state,
            "merge_status": "can_be_merged",
            "work_in_progress": spec.draft,
            "source": project,
            "target": project,
            "last_commit": last_commit_json(&spec.head),
            "detailed_merge_status": "mergeable"
        }
    })
    .to_string()
}
