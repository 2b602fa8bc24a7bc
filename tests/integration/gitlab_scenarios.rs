//! The GitHub scenarios (`scenarios.rs`, `approvals.rs`) replayed on GitLab, end to end:
//! `Merge Request Hook` and `Note Hook` deliveries in GitLab's real shapes with the
//! `X-Gitlab-Token` secret through the real router, the durable queue, the real GitLab client
//! against the fake GitLab, the fake pulumi. Each asserts what a person would see on GitLab —
//! the one marked note, the `iamgate` commit status as the fake stored it (`pending`, `success`,
//! `failed`), the reviewers, the award emoji and replies — and what the audit trail recorded.

use std::time::Duration;

use axum::http::StatusCode;
use iamgate::audit::{ApprovalSource, AuditEntry, AuditEvent, GateState, WithdrawalSource};
use iamgate::store::Store;

use crate::support::fake_gitlab::{Fault, MrSpec};
use crate::support::fake_pulumi::FakePulumi;
use crate::support::gitlab_server::{
    BASE, CONFIG, DEVELOPER, GitLabServer, MARKER, MR_HOOK, Options, PROJECT, PULUMI_TOKEN, STACK,
    WEBHOOK_SECRET, fixture, sha,
};
use crate::support::server::wait_until;

const ADMIN_ATTACH: &str = "corpus/admin-attach.preview.json";
/// Another critical IAM change (a different fingerprint than [`ADMIN_ATTACH`]).
const OTHER_IAM: &str = "corpus/privesc-completed.preview.json";
/// A real preview that changes no IAM (an S3 bucket's tags).
const NO_IAM: &str = "previews/pitfall-aws-s3-tags-update-secret.preview.json";
const ANALYZING: &str = "analyzing the IAM change";
const NEEDS_SECURITY: &str = "needs 1 approval from acme/security or alice";
const APPROVED: &str = "IAM risk critical: required approvals given";
const OVERRIDES: &str = "overrides: { teams: [\"acme/leads\"] }\n";
const MR: u64 = 7;

fn status(state: &str, description: &str) -> (String, String) {
    (state.to_owned(), description.to_owned())
}

/// The states of the `iamgate` statuses on `sha`, oldest first.
fn states(s: &GitLabServer, sha: &str) -> Vec<String> {
    s.statuses(sha)
        .into_iter()
        .map(|(state, _)| state)
        .collect()
}

/// The newest `iamgate` status's state on `sha`.
fn state(s: &GitLabServer, sha: &str) -> String {
    s.status(sha).0
}

/// Text as GitLab shows it: Markdown backslash escapes and the zero-width joiners that break
/// mentions removed.
fn shown(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(char::is_ascii_punctuation) {
            continue;
        }
        if c != '\u{200D}' {
            out.push(c);
        }
    }
    out
}

/// The Reviews section of the report, as shown.
fn reviews(body: &str) -> String {
    let body = shown(body);
    let start = body
        .find("### Reviews")
        .unwrap_or_else(|| panic!("no Reviews section: {body}"));
    let rest = &body[start..];
    let end = rest
        .find("<details><summary>Commands")
        .unwrap_or(rest.len());
    rest[..end].to_owned()
}

/// The note with what changes between builds redacted: the version and the fingerprint.
fn redacted(body: &str) -> String {
    body.lines()
        .map(|line| {
            if line.starts_with("<sub>iamgate ") {
                "<sub>iamgate [version] · change fingerprint `[fingerprint]`</sub>".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The body of a snapshot the GitHub scenarios recorded.
fn github_snapshot(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/integration/snapshots")
        .join(format!("integration__scenarios__{name}.snap"));
    let text = std::fs::read_to_string(&path).unwrap();
    let rest = text.strip_prefix("---\n").unwrap();
    let (_, body) = rest.split_once("\n---\n").unwrap();
    body.trim_end().to_owned()
}

/// How many `method` requests went to exactly `path`.
fn count_exact(s: &GitLabServer, method: &str, path: &str) -> usize {
    s.fake
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

fn short(sha: &str) -> &str {
    &sha[..7]
}

fn config_with(extra: &str) -> String {
    format!("{CONFIG}{extra}")
}

/// A server with MR 7 under `config`, the risky change analyzed: pending, nobody approved.
async fn analyzed(config: &str) -> (GitLabServer, String) {
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr_with(MR, "h1", config);
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    s.settle().await;
    assert_eq!(state(&s, &head), "pending");
    (s, head)
}

fn of_kind<'a>(audit: &'a [AuditEntry], kind: &str) -> Vec<&'a AuditEntry> {
    audit.iter().filter(|e| e.event.kind() == kind).collect()
}

async fn assert_chain_verifies(s: &GitLabServer) {
    let chain = s.service.store().audit_chain().await.unwrap();
    let count = chain.records.len() as u64;
    let verified = iamgate::audit::verify(&chain).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verified.count, count);
}

// ---- enrolment and outcomes ----

#[tokio::test]
async fn gitlab_a_project_without_iamgate_yml_gets_no_note_and_no_status() {
    let s = GitLabServer::start().await;
    let head = sha("h1");
    s.fake
        .archive(
            PROJECT,
            &head,
            &[("infra/index.ts", "export const x = 1;\n")],
        )
        .mr(PROJECT, MR, MrSpec::new(&head, BASE))
        .mr_files(PROJECT, MR, ["infra/index.ts"]);
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    let summary = s.settle().await;

    assert_eq!(summary.completed, 1, "{summary:?}");
    assert!(s.fake.notes(PROJECT, MR).is_empty());
    assert!(s.fake.statuses(PROJECT, &head).is_empty());
    assert!(s.pulumi.invocations().is_empty());
    assert_eq!(
        s.fake.count_requests("GET", &s.api("/repository/files/")),
        1,
        "the config was looked for: {:#?}",
        s.fake.requests()
    );
}

#[tokio::test]
async fn gitlab_a_change_without_iam_succeeds() {
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr(MR, "h1");
    s.pulumi.replay(STACK, fixture(NO_IAM));
    s.deliver_mr("open", MR).await;
    s.settle().await;

    assert_eq!(
        s.statuses(&head),
        [
            status("pending", ANALYZING),
            status("success", "no IAM change")
        ]
    );
    let body = s.the_note(MR);
    assert!(body.contains("Stack `prod`"), "{body}");
    assert!(body.contains("This preview changes no IAM."), "{body}");
    assert_eq!(s.pulumi.invocations().len(), 1);
    assert!(s.fake.reviewers(PROJECT, MR).is_empty());
}

#[tokio::test]
async fn gitlab_a_change_outside_every_stack_gets_a_status_and_no_preview() {
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr(MR, "h1");
    s.fake.mr_files(PROJECT, MR, ["README.md", "docs/guide.md"]);
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    s.settle().await;

    assert!(s.pulumi.invocations().is_empty());
    assert_eq!(
        s.fake
            .count_requests("GET", &s.api("/repository/archive.tar.gz")),
        0
    );
    assert!(s.fake.notes(PROJECT, MR).is_empty());
    assert_eq!(s.status(&head), status("success", "no IAM change"));
}

#[tokio::test]
async fn gitlab_a_risky_change_gets_one_marked_note_and_a_pending_status() {
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr(MR, "h1");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    let summary = s.settle().await;
    assert_eq!(summary.completed, 1, "{summary:?}");

    let body = s.the_note(MR);
    assert!(body.starts_with(MARKER), "{body}");
    assert_eq!(
        redacted(&body).trim_end(),
        github_snapshot("risky_change_comment"),
        "the same report as on GitHub"
    );
    assert_eq!(states(&s, &head), ["pending"]);
    // GitLab cannot ask a group to review: the listed user is asked.
    assert_eq!(s.fake.reviewers(PROJECT, MR), ["alice"]);
    assert_eq!(count_exact(&s, "PUT", &s.api("/merge_requests/7")), 1);
    let invocations = s.pulumi.invocations();
    assert_eq!(invocations.len(), 1);
    assert_eq!(
        invocations[0].args,
        ["preview", "--json", "--non-interactive", "--stack", STACK]
    );
    assert!(invocations[0].cwd.ends_with("infra"));

    // Another event for the same head: the preview is reused, the note edited, nobody asked
    // again.
    s.deliver_mr("reopen", MR).await;
    s.settle().await;
    assert_eq!(s.pulumi.invocations().len(), 1);
    assert_eq!(s.the_note(MR), body);
    assert_eq!(state(&s, &head), "pending");
    assert_eq!(count_exact(&s, "PUT", &s.api("/merge_requests/7")), 1);
    assert_eq!(
        s.fake
            .count_requests("POST", &s.api("/merge_requests/7/notes")),
        1
    );
}

/// GitHub shows `needs 1 approval from acme/security or alice` on the pending status; GitLab
/// must show the same text, not the `analyzing` status that preceded it.
#[tokio::test]
async fn gitlab_a_pending_status_keeps_its_first_text_and_the_note_says_what_is_needed() {
    // GitLab refuses to change a pending status while it stays pending ("Cannot transition
    // status via :enqueue from :pending", as real GitLab answers): the first pending text stays
    // on the commit, the note says what is needed, and the audit trail records the decision.
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr(MR, "h1");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    s.settle().await;
    assert_eq!(s.status(&head), status("pending", ANALYZING));
    let note = shown(&s.the_note(MR));
    assert!(note.contains("1 more approval from"), "{note}");
    let audit = s.audit().await;
    assert!(
        audit.iter().any(|e| matches!(
            &e.event,
            AuditEvent::StatusChange { description, .. } if description == NEEDS_SECURITY
        )),
        "{audit:#?}"
    );
}

#[tokio::test]
async fn gitlab_a_broken_config_on_the_base_fails_closed_listing_every_problem() {
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr(MR, "h1");
    let broken = "\
version: 2
stacks:
  - name: prod
    stack: acme/prod
reviews:
  - name: security
    approvals: 0
    from: { teams: [\"security\"] }
";
    s.fake.file(PROJECT, BASE, ".iamgate.yml", broken);
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    s.settle().await;

    let body = shown(&s.the_note(MR));
    for key in [
        "version",
        "stacks[0].dir",
        "reviews[0].approvals",
        "reviews[0].from.teams[0]",
    ] {
        assert!(body.contains(key), "the note names `{key}`: {body}");
    }
    assert!(body.contains("base branch"), "{body}");
    assert_eq!(
        s.status(&head),
        status("failed", "invalid .iamgate.yml on the base branch")
    );
    assert!(s.pulumi.invocations().is_empty());
}

// ---- previews that fail ----

#[tokio::test]
async fn gitlab_a_failed_preview_fails_the_status_with_secrets_masked() {
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr(MR, "h1");
    let stderr = format!(
        "error: failed to load credentials: NoCredentialProviders\ntoken {PULUMI_TOKEN} rejected\n"
    );
    s.pulumi.fail(STACK, 255, &stderr, "");
    s.deliver_mr("open", MR).await;
    s.settle().await;

    let body = s.the_note(MR);
    let text = shown(&body);
    assert!(text.contains("NoCredentialProviders"), "{body}");
    assert!(text.contains("exit code 255"), "{body}");
    assert!(!body.contains(PULUMI_TOKEN), "a [pulumi.env] value leaked");
    assert_eq!(
        s.status(&head),
        status(
            "failed",
            "analysis failed for prod: see the iamgate comment"
        )
    );
    assert!(s.fake.reviewers(PROJECT, MR).is_empty());
}

#[tokio::test]
async fn gitlab_a_preview_past_its_timeout_fails_and_its_process_group_is_killed() {
    let s = GitLabServer::start_with(Options {
        timeout_secs: 1,
        ..Options::default()
    })
    .await;
    let head = s.enrolled_mr(MR, "h1");
    s.pulumi.hang(STACK);
    s.deliver_mr("open", MR).await;
    s.settle().await;

    assert_eq!(state(&s, &head), "failed");
    assert!(shown(&s.the_note(MR)).contains("did not finish within 1s"));
    let (leader, grandchild) = s.pulumi.hung_pids(STACK).expect("the preview started");
    wait_until(
        "the preview's process group to die",
        Duration::from_secs(5),
        || !FakePulumi::is_alive(leader) && !FakePulumi::is_alive(grandchild),
    )
    .await;
}

// ---- heads, coalescing, duplicates ----

#[tokio::test]
async fn gitlab_a_result_for_an_outdated_head_is_never_posted() {
    let s = GitLabServer::start().await;
    let old = s.enrolled_mr(MR, "h1");
    s.pulumi.block(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    let worker = s.service.worker().clone();
    let running = tokio::spawn(async move { worker.run_until_idle().await });
    wait_until("the first preview", Duration::from_secs(10), || {
        !s.pulumi.invocations().is_empty()
    })
    .await;

    // While it runs, the author pushes a head that changes no IAM.
    s.pulumi.replay(STACK, fixture(NO_IAM));
    let (_, new) = s.push(MR, "h2");
    s.deliver_push(MR, &old).await;
    s.pulumi.release(STACK);
    running.await.unwrap().unwrap();
    s.settle().await;

    let invocations = s.pulumi.invocations();
    assert_eq!(invocations.len(), 2, "{invocations:?}");
    assert!(
        invocations[1].cwd.display().to_string().contains(&new[..7]),
        "the second run previews the new head"
    );
    assert_eq!(
        s.statuses(&old),
        [status("pending", ANALYZING)],
        "no result on the outdated head"
    );
    assert_eq!(s.status(&new), status("success", "no IAM change"));
    let body = s.the_note(MR);
    assert!(
        !body.contains("AWS-MP-001") && !body.contains("critical"),
        "the outdated head's findings were posted: {body}"
    );
    assert!(s.fake.reviewers(PROJECT, MR).is_empty());
}

#[tokio::test]
async fn gitlab_hooks_for_one_mr_coalesce_into_one_run_for_the_newest_head() {
    let s = GitLabServer::start().await;
    let h1 = s.enrolled_mr(MR, "h1");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    let (_, h2) = s.push(MR, "h2");
    s.deliver_push(MR, &h1).await;
    let (_, h3) = s.push(MR, "h3");
    s.deliver_push(MR, &h2).await;
    let summary = s.settle().await;

    assert_eq!(summary.completed, 1, "one job for three hooks: {summary:?}");
    let invocations = s.pulumi.invocations();
    assert_eq!(invocations.len(), 1, "{invocations:?}");
    assert!(invocations[0].cwd.display().to_string().contains(&h3[..7]));
    assert!(s.fake.statuses(PROJECT, &h1).is_empty());
    assert!(s.fake.statuses(PROJECT, &h2).is_empty());
    assert_eq!(state(&s, &h3), "pending");
    s.the_note(MR);
}

#[tokio::test]
async fn gitlab_a_redelivery_with_the_same_idempotency_key_acts_once() {
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr(MR, "h1");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    let body = s.mr_payload("open", MR);
    let key = s.delivery_id();
    // GitLab retries with the same Idempotency-Key (and a new X-Gitlab-Event-UUID).
    assert_eq!(
        s.deliver_as(MR_HOOK, &key, body.clone()).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        s.deliver_as(MR_HOOK, &key, body.clone()).await,
        StatusCode::OK
    );
    assert_eq!(s.queue().await.pending, 1);
    assert_eq!(s.settle().await.completed, 1);

    assert_eq!(s.deliver_as(MR_HOOK, &key, body).await, StatusCode::OK);
    assert_eq!(s.settle().await.completed, 0);
    assert_eq!(s.pulumi.invocations().len(), 1);
    assert_eq!(states(&s, &head), ["pending"]);
    s.the_note(MR);
}

// ---- the webhook edge ----

#[tokio::test]
async fn gitlab_a_bad_or_missing_token_is_refused_and_nothing_is_stored() {
    let s = GitLabServer::start().await;
    s.enrolled_mr(MR, "h1");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    let body = s.mr_payload("open", MR);
    let key = s.delivery_id();
    let truncated = &WEBHOOK_SECRET[..WEBHOOK_SECRET.len() - 1];
    let longer = format!("{WEBHOOK_SECRET}x");
    for (what, token) in [
        ("missing", None),
        ("wrong", Some("another-token-0123456789abcdef")),
        ("empty", Some("")),
        ("a prefix of the secret", Some(truncated)),
        ("the secret and more", Some(longer.as_str())),
    ] {
        let headers = s.headers(MR_HOOK, token, &key);
        assert_eq!(
            s.post(&headers, body.clone()).await,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
    }
    assert_eq!(s.queue().await, Default::default(), "no job");
    assert_eq!(s.settle().await.completed, 0);
    assert!(s.pulumi.invocations().is_empty());
    assert!(s.fake.requests().is_empty(), "GitLab was not called");
    // Nothing was stored: the same key with the right token is new.
    assert_eq!(
        s.deliver_as(MR_HOOK, &key, body).await,
        StatusCode::ACCEPTED
    );
}

// ---- what an MR cannot do ----

#[tokio::test]
async fn gitlab_a_weakened_config_in_the_mr_head_is_ignored() {
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr(MR, "h1");
    let weakened = "\
version: 1
stacks:
  - name: prod
    dir: infra
    stack: acme/prod
risk: { disable: [\"AWS-MP-001\"] }
";
    s.head_commit(&head, weakened);
    s.fake
        .mr_files(PROJECT, MR, [".iamgate.yml", "infra/index.ts"]);
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    s.settle().await;

    assert_eq!(state(&s, &head), "pending");
    let body = shown(&s.the_note(MR));
    assert!(body.contains("AWS-MP-001"), "{body}");
    assert!(
        body.contains("changes .iamgate.yml") && body.contains("base branch's copy still governs"),
        "{body}"
    );
}

#[tokio::test]
async fn gitlab_a_fork_mr_is_not_previewed_and_not_passed() {
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr(MR, "h1");
    s.fake
        .update_mr(PROJECT, MR, |mr| *mr = mr.clone().fork("mallory/infra"));
    s.fake.project("mallory/infra");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    s.settle().await;

    assert!(s.pulumi.invocations().is_empty());
    assert_eq!(
        s.fake
            .count_requests("GET", &s.api("/repository/archive.tar.gz")),
        0
    );
    let (state, description) = s.status(&head);
    assert_ne!(state, "success");
    assert!(description.contains("fork"), "{description}");
    assert!(s.the_note(MR).contains("comes from a fork"));
}

// ---- GitLab failing ----

#[tokio::test]
async fn gitlab_an_ambiguous_note_failure_and_a_rate_limit_converge_to_one_note() {
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr(MR, "h1");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.fake
        .fail_next(
            "POST",
            &s.api("/merge_requests/7/notes"),
            1,
            Fault::Error502AfterApplying,
        )
        .fail_next(
            "POST",
            &s.api("/statuses/"),
            1,
            Fault::RateLimited {
                retry_after_secs: 1,
            },
        );
    s.deliver_mr("open", MR).await;
    s.settle().await;

    s.the_note(MR);
    assert_eq!(state(&s, &head), "pending");
    let requests = s.fake.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path.contains("/merge_requests/7/notes") && r.status == 502),
        "the 502 fired"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.path.contains("/statuses/") && r.status == 429),
        "the 429 fired"
    );
    assert_eq!(s.fake.reviewers(PROJECT, MR), ["alice"]);
}

#[tokio::test]
async fn gitlab_repeated_server_errors_converge_through_job_retries() {
    let s = GitLabServer::start().await;
    let head = s.enrolled_mr(MR, "h1");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    // Note creation fails twice; the final status fails more often than one job attempt
    // retries, after the note exists: the retried job edits that note, not another.
    s.fake
        .fail_next(
            "POST",
            &s.api("/merge_requests/7/notes"),
            2,
            Fault::Error500,
        )
        .fail_after("POST", &s.api("/statuses/"), 1, 4, Fault::Error502);
    s.deliver_mr("open", MR).await;
    let summary = s.settle().await;

    assert!(summary.retried >= 1, "{summary:?}");
    assert_eq!(summary.completed, 1, "{summary:?}");
    assert_eq!(summary.dead_lettered, 0, "{summary:?}");
    s.the_note(MR);
    assert_eq!(state(&s, &head), "pending");
    let failed = |part: &str| {
        s.fake
            .requests()
            .iter()
            .filter(|r| r.path.contains(part) && r.status >= 500)
            .count()
    };
    assert_eq!(failed("/merge_requests/7/notes"), 2);
    assert_eq!(failed("/statuses/"), 4);
}

#[tokio::test]
async fn gitlab_a_marker_pasted_by_a_person_is_not_taken_for_iamgates_note() {
    let s = GitLabServer::start().await;
    s.enrolled_mr(MR, "h1");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.fake.note(
        PROJECT,
        MR,
        "mallory",
        &format!("{MARKER}\nall good, merge it"),
    );
    s.deliver_mr("open", MR).await;
    s.settle().await;
    let notes = s.fake.notes(PROJECT, MR);
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert_eq!(notes[0].body, format!("{MARKER}\nall good, merge it"));
    assert_eq!(notes[1].author, s.fake.bot_username());
}

// ---- approvals (merge request approvals) ----

/// A group member's MR approval counts, as a GitHub team member's approving review does.
#[tokio::test]
async fn gitlab_a_group_member_s_mr_approval_passes_and_is_audited() {
    let (s, head) = analyzed(CONFIG).await;
    s.approve(MR, "sec1").await;
    s.settle().await;

    assert_eq!(
        s.status(&head),
        status("success", APPROVED),
        "report: {}",
        s.report(MR)
    );
    let section = reviews(&s.report(MR));
    assert!(
        section.contains("| security | ✅ 1 of 1 | @sec1 | — |"),
        "{section}"
    );
    assert_eq!(
        s.pulumi.invocations().len(),
        1,
        "an approval does not preview"
    );
    let audit = s.audit().await;
    assert_eq!(
        audit.iter().map(|e| e.event.kind()).collect::<Vec<_>>(),
        ["analysis", "status_change", "approval", "status_change"],
        "{audit:#?}"
    );
    let fingerprint = match &audit[0].event {
        AuditEvent::Analysis { fingerprint, .. } => fingerprint.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(audit[2].actor.as_str(), "sec1");
    assert_eq!(
        audit[2].event,
        AuditEvent::Approval {
            via: ApprovalSource::Review,
            fingerprint,
            requirements: vec!["security".to_owned()],
            reason: None,
        },
        "the approval is bound to the analyzed change"
    );
    assert_eq!(
        audit[2].head_sha.as_ref().map(|h| h.as_str()),
        Some(head.as_str()),
        "and to the head it was given on"
    );
    assert_chain_verifies(&s).await;
}

#[tokio::test]
async fn gitlab_a_non_member_s_mr_approval_leaves_the_gate_pending() {
    let (s, head) = analyzed(CONFIG).await;
    // A seat awaiting approval is not membership.
    s.fake.awaiting_group_member("acme/security", "newcomer");
    s.approve(MR, "mallory").await;
    s.approve(MR, "newcomer").await;
    s.settle().await;

    assert_eq!(state(&s, &head), "pending");
    let section = reviews(&s.report(MR));
    assert!(
        section.contains(
            "| security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice |"
        ),
        "{section}"
    );
    assert!(
        s.fake
            .count_requests("GET", "/groups/acme%2Fsecurity/members/all/")
            >= 2,
        "membership was asked of GitLab: {:#?}",
        s.fake.requests()
    );
    let audit = s.audit().await;
    assert!(of_kind(&audit, "approval").is_empty(), "{audit:#?}");
    assert_eq!(of_kind(&audit, "status_change").len(), 1, "{audit:#?}");
}

#[tokio::test]
async fn gitlab_a_revoked_mr_approval_puts_the_gate_back_to_pending() {
    let (s, head) = analyzed(CONFIG).await;
    s.approve(MR, "sec1").await;
    s.settle().await;
    assert_eq!(state(&s, &head), "success", "{}", s.report(MR));

    s.unapprove(MR, "sec1").await;
    s.settle().await;
    assert_eq!(s.status(&head), status("pending", NEEDS_SECURITY));
    assert!(
        reviews(&s.report(MR)).contains("| security | ⏳ 0 of 1 | — |"),
        "{}",
        s.report(MR)
    );
    // As a dismissed review on GitHub, the revoked approval is audited as a withdrawal.
    let audit = s.audit().await;
    assert!(
        audit.iter().any(|e| e.actor.as_str() == "sec1"
            && matches!(&e.event, AuditEvent::Withdrawal { approver, .. } if approver.as_str() == "sec1")),
        "the revocation is audited: {audit:#?}"
    );
}

/// GitLab approvals carry no commit: iamgate binds one to the head current when it first sees
/// it. An approval given on h1 whose hook is processed only after the author pushed h2 (a busy
/// queue, a restart) must still bind to h1 — the hook says so (`last_commit`) — and not to a
/// different IAM change nobody approved.
#[tokio::test]
async fn gitlab_an_mr_approval_seen_after_a_push_binds_to_the_head_it_was_given_on() {
    let (s, h1) = analyzed(CONFIG).await;
    s.approve(MR, "sec1").await;
    // Before the worker ran, the author pushes a different IAM change.
    s.pulumi.replay(STACK, fixture(OTHER_IAM));
    let (_, h2) = s.push(MR, "h2");
    s.deliver_push(MR, &h1).await;
    s.settle().await;

    assert_eq!(s.pulumi.invocations().len(), 2, "the new head is previewed");
    assert_eq!(
        state(&s, &h2),
        "pending",
        "an approval of h1 passed a different IAM change at h2: {}",
        s.report(MR)
    );
}

/// sec1 approves h1 (by MR approval when `by_approval`, else by command); the author pushes h2
/// whose preview is `fixture_at_h2`.
async fn approve_then_push(
    config: &str,
    by_approval: bool,
    fixture_at_h2: &str,
) -> (GitLabServer, String, String) {
    let (s, h1) = analyzed(config).await;
    if by_approval {
        s.approve(MR, "sec1").await;
    } else {
        s.note(MR, "sec1", "/iamgate approve").await;
    }
    s.settle().await;
    assert_eq!(
        s.status(&h1),
        status("success", APPROVED),
        "{}",
        s.report(MR)
    );
    s.pulumi.replay(STACK, fixture(fixture_at_h2));
    let (old, h2) = s.push(MR, "h2");
    s.deliver_push(MR, &old).await;
    s.settle().await;
    assert_eq!(s.pulumi.invocations().len(), 2, "the new head is previewed");
    (s, h1, h2)
}

#[tokio::test]
async fn gitlab_a_push_with_the_same_iam_change_keeps_a_command_approval_under_on_iam_change() {
    let (s, _h1, h2) = approve_then_push(CONFIG, false, ADMIN_ATTACH).await;
    assert_eq!(s.status(&h2), status("success", APPROVED));
    let section = reviews(&s.report(MR));
    assert!(
        section.contains("| security | ✅ 1 of 1 | @sec1 | — |"),
        "{section}"
    );
    assert!(of_kind(&s.audit().await, "approval_dropped").is_empty());
}

#[tokio::test]
async fn gitlab_a_push_with_the_same_iam_change_drops_a_command_approval_under_on_push() {
    let config = config_with("invalidate_approvals: on_push\n");
    let (s, h1, h2) = approve_then_push(&config, false, ADMIN_ATTACH).await;
    assert_eq!(state(&s, &h2), "pending");
    let section = reviews(&s.report(MR));
    assert!(
        section.contains(&format!(
            "- @sec1: given on {}, before the latest push (invalidate_approvals: on_push)",
            short(&h1)
        )),
        "{section}"
    );
    assert_eq!(of_kind(&s.audit().await, "approval_dropped").len(), 1);
}

#[tokio::test]
async fn gitlab_a_push_with_the_same_iam_change_keeps_an_mr_approval_under_on_iam_change() {
    let (s, _h1, h2) = approve_then_push(CONFIG, true, ADMIN_ATTACH).await;
    assert_eq!(s.status(&h2), status("success", APPROVED));
    assert!(
        reviews(&s.report(MR)).contains("| security | ✅ 1 of 1 | @sec1 | — |"),
        "{}",
        s.report(MR)
    );
}

#[tokio::test]
async fn gitlab_a_push_with_the_same_iam_change_drops_an_mr_approval_under_on_push() {
    let config = config_with("invalidate_approvals: on_push\n");
    let (s, h1, h2) = approve_then_push(&config, true, ADMIN_ATTACH).await;
    assert_eq!(state(&s, &h2), "pending");
    let section = reviews(&s.report(MR));
    assert!(
        section.contains(&format!(
            "- @sec1: given on {}, before the latest push (invalidate_approvals: on_push)",
            short(&h1)
        )),
        "{section}"
    );
}

#[tokio::test]
async fn gitlab_a_push_with_a_different_iam_change_drops_an_mr_approval() {
    let (s, h1, h2) = approve_then_push(CONFIG, true, OTHER_IAM).await;
    assert_eq!(state(&s, &h2), "pending");
    assert!(
        reviews(&s.report(MR)).contains(&format!(
            "- @sec1: the IAM change differs from the one approved on {}",
            short(&h1)
        )),
        "{}",
        s.report(MR)
    );
}

// ---- commands ----

#[tokio::test]
async fn gitlab_approve_and_unapprove_commands_by_a_group_member() {
    let (s, head) = analyzed(CONFIG).await;
    let approve = s
        .note(
            MR,
            "sec1",
            "Checked the policy.\n/iamgate approve reviewed with the owners",
        )
        .await;
    s.settle().await;
    assert_eq!(s.awards(MR, approve), ["eyes"]);
    let reply = shown(&s.reply(MR, approve));
    assert!(
        reply.contains(&format!(
            "`/iamgate approve`: approval recorded on `{}` for `security`.",
            short(&head)
        )),
        "{reply}"
    );
    assert_eq!(s.status(&head), status("success", APPROVED));
    assert!(
        reviews(&s.report(MR)).contains("| security | ✅ 1 of 1 | @sec1 | — |"),
        "{}",
        s.report(MR)
    );

    let unapprove = s.note(MR, "sec1", "/iamgate unapprove").await;
    s.settle().await;
    assert_eq!(s.awards(MR, unapprove), ["eyes"]);
    assert!(
        shown(&s.reply(MR, unapprove))
            .contains("your approvals (by command or review) no longer count"),
        "{}",
        s.reply(MR, unapprove)
    );
    assert_eq!(s.status(&head), status("pending", NEEDS_SECURITY));
    assert!(reviews(&s.report(MR)).contains("| security | ⏳ 0 of 1 | — |"));

    let audit = s.audit().await;
    let votes: Vec<(&str, &AuditEvent)> = audit
        .iter()
        .filter(|e| matches!(e.event.kind(), "approval" | "withdrawal"))
        .map(|e| (e.actor.as_str(), &e.event))
        .collect();
    assert_eq!(votes.len(), 2, "{votes:#?}");
    assert!(matches!(
        votes[0],
        ("sec1", AuditEvent::Approval { via: ApprovalSource::Command, reason: Some(r), requirements, .. })
            if r == "reviewed with the owners" && requirements == &["security"]
    ));
    assert!(matches!(
        votes[1],
        (
            "sec1",
            AuditEvent::Withdrawal {
                via: WithdrawalSource::Command,
                ..
            }
        )
    ));
    let states: Vec<GateState> = audit
        .iter()
        .filter_map(|e| match &e.event {
            AuditEvent::StatusChange { state, .. } => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [GateState::Pending, GateState::Success, GateState::Pending]
    );
    assert_eq!(of_kind(&audit, "analysis").len(), 1);
    assert_chain_verifies(&s).await;
}

#[tokio::test]
async fn gitlab_the_author_s_approve_is_refused() {
    let (s, head) = analyzed(CONFIG).await;
    s.fake.group_member("acme/security", "dev", DEVELOPER);
    let id = s.note(MR, "dev", "/iamgate approve I wrote it").await;
    s.settle().await;
    assert_eq!(s.awards(MR, id), ["eyes"]);
    let reply = shown(&s.reply(MR, id));
    assert!(
        reply.contains("`/iamgate approve`: refused. You opened this pull request")
            || reply.contains("`/iamgate approve`: refused. You opened this merge request"),
        "{reply}"
    );
    assert_eq!(state(&s, &head), "pending");
    let audit = s.audit().await;
    assert!(of_kind(&audit, "approval").is_empty(), "{audit:#?}");
    assert!(
        matches!(&of_kind(&audit, "command_refused")[..], [e] if e.actor.as_str() == "dev"),
        "{audit:#?}"
    );
}

#[tokio::test]
async fn gitlab_a_non_reviewer_s_approve_is_refused() {
    let (s, head) = analyzed(CONFIG).await;
    let id = s.note(MR, "mallory", "/iamgate approve").await;
    s.settle().await;
    assert!(
        shown(&s.reply(MR, id)).contains("refused. You are not among the reviewers"),
        "{}",
        s.reply(MR, id)
    );
    assert_eq!(state(&s, &head), "pending");
    assert!(of_kind(&s.audit().await, "approval").is_empty());
}

#[tokio::test]
async fn gitlab_an_override_by_an_overrides_member_passes_and_by_others_is_refused() {
    let (s, head) = analyzed(&config_with(OVERRIDES)).await;
    s.fake.group_member("acme/leads", "lead1", DEVELOPER);

    let refused = s.note(MR, "mallory", "/iamgate override trust me").await;
    s.settle().await;
    assert_eq!(s.awards(MR, refused), ["eyes"]);
    assert!(
        shown(&s.reply(MR, refused))
            .contains("`/iamgate override`: refused. Only members of `overrides`"),
        "{}",
        s.reply(MR, refused)
    );
    assert_eq!(state(&s, &head), "pending");

    let id = s
        .note(MR, "lead1", "/iamgate override incident #42 hotfix")
        .await;
    s.settle().await;
    let reply = shown(&s.reply(MR, id));
    assert!(
        reply.contains("override recorded on") && reply.contains("incident #42 hotfix"),
        "{reply}"
    );
    assert_eq!(
        s.status(&head),
        status("success", "overridden by lead1: incident #42 hotfix")
    );
    assert!(
        reviews(&s.report(MR)).contains("**Overridden** by @lead1: incident #42 hotfix"),
        "{}",
        s.report(MR)
    );
    let audit = s.audit().await;
    assert!(
        audit.iter().any(|e| e.actor.as_str() == "lead1"
            && matches!(&e.event, AuditEvent::Override { reason, fingerprint: Some(_) } if reason == "incident #42 hotfix")),
        "{audit:#?}"
    );

    // A different IAM change is not overridden.
    s.pulumi.replay(STACK, fixture(OTHER_IAM));
    let (old, h2) = s.push(MR, "h2");
    s.deliver_push(MR, &old).await;
    s.settle().await;
    assert_eq!(state(&s, &h2), "pending");
    assert!(!reviews(&s.report(MR)).contains("Overridden"));
    assert_chain_verifies(&s).await;
}

#[tokio::test]
async fn gitlab_rerun_by_a_developer_previews_again_and_by_a_stranger_is_refused() {
    let (s, head) = analyzed(CONFIG).await;
    let refused = s.note(MR, "mallory", "/iamgate rerun").await;
    s.settle().await;
    assert!(
        shown(&s.reply(MR, refused)).contains("`/iamgate rerun`: refused."),
        "{}",
        s.reply(MR, refused)
    );
    assert_eq!(s.pulumi.invocations().len(), 1);

    // alice is a developer of the project.
    let id = s.note(MR, "alice", "/iamgate rerun").await;
    s.settle().await;
    assert!(
        shown(&s.reply(MR, id)).contains(&format!(
            "`/iamgate rerun`: previewing `{}` again",
            short(&head)
        )),
        "{}",
        s.reply(MR, id)
    );
    assert_eq!(s.pulumi.invocations().len(), 2, "previewed again");
    assert_eq!(state(&s, &head), "pending");
}

#[tokio::test]
async fn gitlab_commands_on_a_closed_mr_are_refused_with_a_reply() {
    let (s, head) = analyzed(CONFIG).await;
    s.fake
        .update_mr(PROJECT, MR, |mr| mr.state = "closed".to_owned());
    let id = s.note(MR, "sec1", "/iamgate approve").await;
    s.settle().await;
    assert_eq!(s.awards(MR, id), ["eyes"]);
    assert!(
        shown(&s.reply(MR, id))
            .contains("`/iamgate approve`: refused. This pull request is closed")
            || shown(&s.reply(MR, id)).contains("refused. This merge request is closed"),
        "{}",
        s.reply(MR, id)
    );
    assert_eq!(state(&s, &head), "pending");
    assert!(of_kind(&s.audit().await, "approval").is_empty());
}

/// Nothing happened for a delivery: no job ran, no award, no reply, no vote, no audit.
async fn assert_nothing_happened(s: &GitLabServer, head: &str, note: u64, audit_before: usize) {
    let summary = s.settle().await;
    assert_eq!(summary.completed, 0, "{summary:?}");
    assert!(s.awards(MR, note).is_empty());
    assert!(s.replies(MR, note).is_empty());
    assert_eq!(state(s, head), "pending");
    assert_eq!(s.audit().await.len(), audit_before);
}

#[tokio::test]
async fn gitlab_a_system_note_is_ignored() {
    let (s, head) = analyzed(CONFIG).await;
    let before = s.audit().await.len();
    let id = s.fake.system_note(PROJECT, MR, "sec1", "/iamgate approve");
    s.deliver_note(MR, id, "sec1", "/iamgate approve", true, "create")
        .await;
    assert_nothing_happened(&s, &head, id, before).await;
}

#[tokio::test]
async fn gitlab_an_edited_note_grants_nothing() {
    let (s, head) = analyzed(CONFIG).await;
    let before = s.audit().await.len();
    let id = s.fake.note(PROJECT, MR, "sec1", "/iamgate approve");
    s.deliver_note(MR, id, "sec1", "/iamgate approve", false, "update")
        .await;
    assert_nothing_happened(&s, &head, id, before).await;
    assert_eq!(
        s.fake.count_requests("GET", "/groups/"),
        0,
        "nobody's membership was even looked up"
    );
}

#[tokio::test]
async fn gitlab_notes_by_access_token_bots_are_ignored() {
    let (s, head) = analyzed(CONFIG).await;
    let before = s.audit().await.len();
    let bot = "project_42_bot_3f2a9c";
    s.fake.bot_user(bot);
    let id = s.fake.note(
        PROJECT,
        MR,
        bot,
        "/iamgate approve\n/iamgate override ship it",
    );
    s.deliver_note(
        MR,
        id,
        bot,
        "/iamgate approve\n/iamgate override ship it",
        false,
        "create",
    )
    .await;
    assert_nothing_happened(&s, &head, id, before).await;
}

#[tokio::test]
async fn gitlab_a_retried_command_job_replies_and_votes_once() {
    let (s, head) = analyzed(CONFIG).await;
    s.fake.fail_next(
        "POST",
        &s.api("/merge_requests/7/notes"),
        4,
        Fault::Error500,
    );
    let id = s.note(MR, "sec1", "/iamgate approve").await;
    let summary = s.settle().await;

    assert!(summary.retried >= 1, "{summary:?}");
    assert_eq!(summary.dead_lettered, 0, "{summary:?}");
    assert_eq!(s.awards(MR, id), ["eyes"]);
    s.reply(MR, id);
    assert_eq!(s.status(&head), status("success", APPROVED));
    assert_eq!(of_kind(&s.audit().await, "approval").len(), 1);
    s.report(MR);

    // The same note delivered again (a new idempotency key): not answered again.
    s.deliver_note(MR, id, "sec1", "/iamgate approve", false, "create")
        .await;
    s.settle().await;
    s.reply(MR, id);
    assert_eq!(of_kind(&s.audit().await, "approval").len(), 1);
}

#[tokio::test]
async fn gitlab_the_audit_trail_records_analysis_approval_and_status_in_order() {
    let (s, head) = analyzed(CONFIG).await;
    s.note(MR, "sec1", "/iamgate approve").await;
    s.settle().await;
    let audit = s.audit().await;
    let kinds: Vec<&str> = audit.iter().map(|e| e.event.kind()).collect();
    assert_eq!(
        kinds,
        ["analysis", "status_change", "approval", "status_change"],
        "{audit:#?}"
    );
    match &audit[0].event {
        AuditEvent::Analysis {
            stacks,
            level,
            fingerprint,
            ..
        } => {
            assert_eq!(stacks, &["prod"]);
            assert_eq!(level, "critical");
            assert!(fingerprint.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(audit[0].actor.as_str(), "iamgate");
    assert_eq!(
        audit[0].head_sha.as_ref().map(|h| h.as_str()),
        Some(head.as_str())
    );
    assert_eq!(
        audit[1].event,
        AuditEvent::StatusChange {
            state: GateState::Pending,
            description: NEEDS_SECURITY.to_owned()
        }
    );
    assert_eq!(audit[2].actor.as_str(), "sec1");
    assert_eq!(
        audit[3].event,
        AuditEvent::StatusChange {
            state: GateState::Success,
            description: APPROVED.to_owned()
        }
    );
    assert!(audit.windows(2).all(|w| w[0].time <= w[1].time));
    assert_chain_verifies(&s).await;
}
