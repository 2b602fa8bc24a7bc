//! What only GitLab has, end to end: `Merge Request Hook` and `Note Hook` deliveries in
//! GitLab's real shapes with the `X-Gitlab-Token` secret through the real router, the durable
//! queue, the real GitLab client against the fake GitLab, the fake pulumi. The scenarios both
//! forges share are written once in `scenarios.rs` and `approvals.rs` and run there as
//! `gitlab::<name>`; here are GitLab's own: a status text kept while its state stays, GitLab's
//! `failed`, push hooks with `oldrev`, the idempotency key, the token, commit-less approvals,
//! system notes, edited notes and access-token bots.

use axum::http::StatusCode;

use crate::approvals::of_kind;
use crate::approvals::{
    ADMIN_ATTACH, APPROVED, NEEDS_SECURITY, OTHER_IAM, PR as MR, analyzed, assert_nothing_happened,
};
use crate::scenarios::assert_refused_left_nothing;
use crate::support::app::{BASE, CONFIG, Forge, Options, STACK, TestApp, fixture};
use crate::support::fake_gitlab::FakeGitLab;
use crate::support::gitlab::{MR_HOOK, PROJECT, WEBHOOK_SECRET};
use iamgate::webhook::gitlab::PIPELINE_HOOK;

const ANALYZING: &str = "analyzing the IAM change";

fn status(state: &str, description: &str) -> (String, String) {
    (state.to_owned(), description.to_owned())
}

// ---- statuses ----

/// GitHub shows `needs 1 approval from acme/security or alice` on the pending status; GitLab
/// must show the same text, not the `analyzing` status that preceded it. GitLab refuses a status
/// into the state it is in ("Cannot transition status via :enqueue from :pending", as real GitLab
/// answers), so the client ends the old pending status as `canceled` (never success: merges stay
/// blocked) and starts a new pending one with the new text; an unchanged text is left alone.
#[tokio::test]
async fn gitlab_a_pending_status_shows_what_is_needed() {
    let s = TestApp::<FakeGitLab>::start().await;
    let head = s.enroll(MR, "h1");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    s.settle().await;
    assert_eq!(
        s.statuses(&head),
        [
            status("pending", ANALYZING),
            status("canceled", ANALYZING),
            status("pending", NEEDS_SECURITY),
        ]
    );
    // A recomputation with the same decision posts nothing new on the commit.
    s.deliver_mr("reopen", MR).await;
    s.settle().await;
    assert_eq!(s.statuses(&head).len(), 3, "{:#?}", s.statuses(&head));
    assert_eq!(s.status(&head), status("pending", NEEDS_SECURITY));
}

/// GitLab names the contract's `failure` `failed`: that is what the commit shows.
#[tokio::test]
async fn gitlab_a_failure_is_stored_as_gitlab_s_failed() {
    let s = TestApp::<FakeGitLab>::start().await;
    let head = s.enroll(MR, "h1");
    s.fake.file(PROJECT, BASE, ".iamgate.yml", "version: 2\n");
    s.deliver_mr("open", MR).await;
    s.settle().await;
    let stored = s.fake.latest_status(PROJECT, &head).expect("a status");
    assert_eq!(stored.state, "failed");
    assert_eq!(
        s.status(&head),
        status("failure", "invalid .iamgate.yml on the base branch")
    );
}

// ---- heads, coalescing, duplicates ----

// ---- the webhook edge ----

#[tokio::test]
async fn gitlab_a_bad_or_missing_token_is_refused_and_nothing_is_stored() {
    let s = TestApp::<FakeGitLab>::start().await;
    s.enroll(MR, "h1");
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
    assert_refused_left_nothing(&s).await;
    // Nothing was stored: the same key with the right token is new.
    assert_eq!(
        s.deliver_as(MR_HOOK, &key, body).await,
        StatusCode::ACCEPTED
    );
}

// ---- approvals (merge request approvals) ----

/// GitLab approvals carry no commit: iamgate binds one to the head current when it first sees
/// it. An approval given on h1 whose hook is processed only after the author pushed h2 (a busy
/// queue, a restart) must still bind to h1 — the hook says so (`last_commit`) — and not to a
/// different IAM change nobody approved.
#[tokio::test]
async fn gitlab_an_mr_approval_seen_after_a_push_binds_to_the_head_it_was_given_on() {
    let (s, h1) = analyzed::<FakeGitLab>(CONFIG).await;
    s.approve(MR, "sec1").await;
    // Before the worker ran, the author pushes a different IAM change.
    s.pulumi.replay(STACK, fixture(OTHER_IAM));
    let (h2, _) = s.fake.move_head(MR, "h2");
    s.deliver_push(MR, &h1).await;
    s.settle().await;

    assert_eq!(s.pulumi.invocations().len(), 2, "the new head is previewed");
    assert_eq!(
        s.status(&h2).0,
        "pending",
        "an approval of h1 passed a different IAM change at h2: {}",
        s.report(MR)
    );
}

/// Membership is asked about the account that voted, by the id its event carried: no
/// `GET /users?username=` per check, and a rename afterwards (the old name then taken by a
/// stranger) neither drops the member's approval nor hands it to the stranger.
#[tokio::test]
async fn gitlab_membership_is_asked_by_the_voter_s_account_id() {
    let (s, head) = analyzed::<FakeGitLab>(CONFIG).await;
    // Asking `alice` (a user named in the config) to review needed her id: looked up by name.
    let lookups = s.fake.count_requests("GET", "/users");
    s.note(MR, "sec1", "/iamgate approve").await;
    s.settle().await;
    assert_eq!(s.status(&head), status("success", APPROVED));
    assert_eq!(
        s.fake.count_requests("GET", "/users"),
        lookups,
        "the note's user id was used"
    );

    // sec1 renames; a stranger registers the old name.
    s.fake.rename_user("sec1", "sec-one");
    let stranger = s.fake.user("sec1");
    assert_ne!(stranger, s.fake.user("sec-one"));
    s.deliver_mr("reopen", MR).await;
    s.settle().await;
    assert_eq!(
        s.status(&head),
        status("success", APPROVED),
        "the member's approval still counts after the rename: {}",
        s.report(MR)
    );

    // The stranger, now called sec1, is not a member: their own command is refused.
    let note = s.note(MR, "sec1", "/iamgate override ship it").await;
    s.settle().await;
    let replies = s.replies(MR, note);
    assert!(
        replies
            .iter()
            .any(|r| r.contains("Only members of `overrides`")),
        "{replies:?}"
    );
    assert_eq!(s.fake.count_requests("GET", "/users"), lookups);
}

// ---- pipelines ----

/// A `Pipeline Hook` in GitLab's documented shape: pipeline `id` of `sha` on `git_ref`, for MR
/// `mr` when it is a merge request pipeline.
fn pipeline_hook(
    s: &TestApp<FakeGitLab>,
    id: u64,
    sha: &str,
    git_ref: &str,
    mr: Option<u64>,
    status: &str,
) -> Vec<u8> {
    let project = s.fake.project(PROJECT);
    serde_json::to_vec(&serde_json::json!({
        "object_kind": "pipeline",
        "object_attributes": {
            "id": id,
            "iid": id,
            "ref": git_ref,
            "tag": false,
            "sha": sha,
            "before_sha": "0000000000000000000000000000000000000000",
            "source": if mr.is_some() { "merge_request_event" } else { "push" },
            "status": status,
            "detailed_status": status,
            "stages": ["test"],
            "variables": []
        },
        "merge_request": mr.map(|iid| serde_json::json!({
            "id": 1000 + iid,
            "iid": iid,
            "title": "change the policy",
            "source_branch": "feature",
            "source_project_id": project,
            "target_branch": "main",
            "target_project_id": project,
            "state": "opened",
            "url": format!("https://gitlab.example/{PROJECT}/-/merge_requests/{iid}")
        })),
        "user": { "id": 1, "name": "dev", "username": "dev" },
        "project": { "id": project, "path_with_namespace": PROJECT, "default_branch": "main" },
        "builds": []
    }))
    .unwrap()
}

/// A status lives in one pipeline, and "Pipelines must succeed" judges the merge request's
/// newest: when CI starts another pipeline for the head (a retry, a merge request pipeline after
/// the branch's), iamgate posts its status into it too, or the merge would be judged without it.
#[tokio::test]
async fn gitlab_a_new_pipeline_of_the_head_gets_the_iamgate_status() {
    let (s, head) = analyzed::<FakeGitLab>(CONFIG).await;
    let in_pipeline = |pipeline: u64| -> Vec<(String, String)> {
        s.fake
            .statuses(PROJECT, &head)
            .into_iter()
            .filter(|st| st.pipeline_id == Some(pipeline))
            .map(|st| (st.state, st.description))
            .collect()
    };

    // A branch pipeline of the MR's source branch.
    let branch = s.fake.pipeline(PROJECT, &head, "feature");
    let status = s
        .deliver(
            PIPELINE_HOOK,
            pipeline_hook(&s, branch, &head, "feature", None, "pending"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    s.settle().await;
    assert_eq!(in_pipeline(branch), [status_of("pending", NEEDS_SECURITY)]);

    // A merge request pipeline; its later state changes and finished pipelines are only
    // checked: iamgate's own status is there, so nothing is posted and nothing analyzed.
    let mr = s
        .fake
        .pipeline(PROJECT, &head, &format!("refs/merge-requests/{MR}/head"));
    let ref_name = format!("refs/merge-requests/{MR}/head");
    s.deliver(
        PIPELINE_HOOK,
        pipeline_hook(&s, mr, &head, &ref_name, Some(MR), "created"),
    )
    .await;
    s.settle().await;
    assert_eq!(in_pipeline(mr), [status_of("pending", NEEDS_SECURITY)]);
    let calls = s.fake.requests().len();
    let statuses = s.fake.statuses(PROJECT, &head).len();
    let previews = s.pulumi.invocations().len();
    s.deliver(
        PIPELINE_HOOK,
        pipeline_hook(&s, mr, &head, &ref_name, Some(MR), "running"),
    )
    .await;
    s.deliver(
        PIPELINE_HOOK,
        pipeline_hook(&s, branch, &head, "feature", None, "success"),
    )
    .await;
    s.settle().await;
    let after: Vec<_> = s.fake.requests()[calls..].to_vec();
    assert!(
        after.iter().all(|r| r.method == "GET"),
        "reads only: {after:#?}"
    );
    assert_eq!(s.fake.statuses(PROJECT, &head).len(), statuses);
    assert_eq!(s.pulumi.invocations().len(), previews, "no preview");
    assert!(
        after.iter().all(|r| !r.path.contains("/diffs")),
        "no analysis (it would list the changed files): {after:#?}"
    );

    // The approval's success lands in the newest pipeline, the one GitLab judges.
    s.note(MR, "sec1", "/iamgate approve").await;
    s.settle().await;
    assert_eq!(
        in_pipeline(mr).last(),
        Some(&status_of("success", APPROVED)),
        "{:#?}",
        s.fake.statuses(PROJECT, &head)
    );
}

/// A tag (or another branch) at the merge request's head has pipelines of its own: the status
/// goes to the merge request's head pipeline, the one GitLab judges, not to the newest pipeline
/// of the commit.
#[tokio::test]
async fn gitlab_the_status_goes_to_the_merge_request_s_pipeline_not_a_tag_s() {
    let s = TestApp::<FakeGitLab>::start().await;
    let head = s.enroll(MR, "h1");
    let branch = s.fake.pipeline(PROJECT, &head, "feature");
    let tag = s.fake.pipeline(PROJECT, &head, "v1.2.3");
    assert!(tag > branch);
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    s.settle().await;
    let statuses = s.fake.statuses(PROJECT, &head);
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|st| st.pipeline_id == Some(branch)),
        "{statuses:#?}"
    );
}

fn status_of(state: &str, description: &str) -> (String, String) {
    (state.to_owned(), description.to_owned())
}

// ---- notes that are not commands ----

#[tokio::test]
async fn gitlab_a_system_note_is_ignored() {
    let (s, head) = analyzed::<FakeGitLab>(CONFIG).await;
    let before = s.audit().await.len();
    let id = s.fake.system_note(PROJECT, MR, "sec1", "/iamgate approve");
    s.deliver_note(MR, id, "sec1", "/iamgate approve", true, "create")
        .await;
    assert_nothing_happened(&s, &head, id, before).await;
}

#[tokio::test]
async fn gitlab_an_edited_note_grants_nothing() {
    let (s, head) = analyzed::<FakeGitLab>(CONFIG).await;
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
    let (s, head) = analyzed::<FakeGitLab>(CONFIG).await;
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

// ---- where GitLab judges the merge ----

/// Anyone with Developer access can post a commit status named `iamgate` through the API. One
/// posted by someone else is answered: iamgate's own status is posted over it, and the merge
/// request and the audit trail name who posted it, once per such status.
#[tokio::test]
async fn gitlab_a_status_posted_under_iamgate_s_name_is_answered_and_reported() {
    let (s, head) = analyzed::<FakeGitLab>(CONFIG).await;
    let pipeline = s.fake.pipeline(PROJECT, &head, "feature");
    s.deliver(
        PIPELINE_HOOK,
        pipeline_hook(&s, pipeline, &head, "feature", None, "running"),
    )
    .await;
    s.settle().await;
    let bot = s.fake.bot_username();
    s.fake.post_status_as(
        "mallory",
        PROJECT,
        &head,
        Some(pipeline),
        "success",
        "all good @sec1",
    );
    s.deliver(
        PIPELINE_HOOK,
        pipeline_hook(&s, pipeline, &head, "feature", None, "success"),
    )
    .await;
    s.settle().await;
    let latest = s.fake.latest_status(PROJECT, &head).unwrap();
    assert_eq!(
        (
            latest.state.as_str(),
            latest.author.as_str(),
            latest.pipeline_id
        ),
        ("pending", bot, Some(pipeline)),
        "iamgate's own status is back on top in the judged pipeline"
    );
    let reported = |s: &TestApp<FakeGitLab>| -> Vec<String> {
        s.fake
            .notes(PROJECT, MR)
            .into_iter()
            .filter(|n| n.author == bot && n.body.contains("was not posted by iamgate"))
            .map(|n| n.body)
            .collect()
    };
    let notes = reported(&s);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(notes[0].contains("`mallory`"), "{}", notes[0]);
    assert!(!notes[0].contains(" @sec1"), "no mention: {}", notes[0]);
    let audit = s.audit().await;
    let foreign = of_kind(&audit, "foreign_status");
    assert_eq!(foreign.len(), 1, "{audit:#?}");
    assert_eq!(foreign[0].actor.as_str(), "mallory");

    // Another state change of the pipeline: the same status is not reported again.
    s.deliver(
        PIPELINE_HOOK,
        pipeline_hook(&s, pipeline, &head, "feature", None, "pending"),
    )
    .await;
    s.settle().await;
    assert_eq!(reported(&s).len(), 1);
    s.assert_chain_verifies().await;
}

/// A merge request merged while iamgate's verdict on its head was not success (the project
/// lacks *Pipelines must succeed*, a status was spoofed, an administrator merged) is reported in
/// the merge request and the audit trail, once; one merged at success is not.
#[tokio::test]
async fn gitlab_a_merge_without_iamgate_s_success_is_reported() {
    let (s, head) = analyzed::<FakeGitLab>(CONFIG).await;
    s.fake
        .update_mr(PROJECT, MR, |mr| mr.state = "merged".to_owned());
    s.deliver_mr("merge", MR).await;
    s.settle().await;
    let bot = s.fake.bot_username();
    let reported = |s: &TestApp<FakeGitLab>| -> Vec<String> {
        s.fake
            .notes(PROJECT, MR)
            .into_iter()
            .filter(|n| n.author == bot && n.body.contains("Merged without iamgate's success"))
            .map(|n| n.body)
            .collect()
    };
    let notes = reported(&s);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(notes[0].contains("**pending**"), "{}", notes[0]);
    assert!(notes[0].contains(&head[..7]), "{}", notes[0]);
    let audit = s.audit().await;
    let merged = of_kind(&audit, "merged_without_success");
    assert_eq!(merged.len(), 1, "{audit:#?}");
    assert_eq!(
        merged[0].head_sha.as_ref().map(|h| h.as_str()),
        Some(head.as_str())
    );
    s.deliver_mr("close", MR).await;
    s.settle().await;
    assert_eq!(reported(&s).len(), 1, "once per merged head");
}

#[tokio::test]
async fn gitlab_a_merge_at_iamgate_s_success_is_not_reported() {
    let (s, head) = analyzed::<FakeGitLab>(CONFIG).await;
    s.note(MR, "sec1", "/iamgate approve").await;
    s.settle().await;
    assert_eq!(s.status(&head), status("success", APPROVED));
    s.fake
        .update_mr(PROJECT, MR, |mr| mr.state = "merged".to_owned());
    s.deliver_mr("merge", MR).await;
    s.settle().await;
    assert!(
        s.fake
            .notes(PROJECT, MR)
            .iter()
            .all(|n| !n.body.contains("Merged without")),
    );
    assert!(of_kind(&s.audit().await, "merged_without_success").is_empty());
}

/// A fork merge request whose pipeline runs in the fork is judged on that pipeline, where
/// iamgate cannot post: the report says so (and how to make the gate hold).
#[tokio::test]
async fn gitlab_a_fork_whose_pipeline_runs_in_the_fork_is_told_the_status_cannot_block() {
    let s = TestApp::<FakeGitLab>::start().await;
    let head = s.enroll(MR, "h1");
    s.make_fork(MR, "mallory/infra");
    s.fake.pipeline("mallory/infra", &head, "feature");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    s.settle().await;
    let report = s.report(MR);
    assert!(
        report.contains("pipeline runs in its fork (mallory/infra)")
            && report.contains("does not block this merge")
            && report.contains("Run pipeline"),
        "{report}"
    );
    assert_ne!(s.status(&head).0, "success");
}

/// With `[gitlab] approve_merge_requests`, iamgate approves a merge request (as the token's
/// user) exactly while its verdict is success, for an approval rule that requires it: the
/// approval is withdrawn when a new head is previewed, and never counts as a review.
#[tokio::test]
async fn gitlab_approve_merge_requests_approves_only_at_success() {
    let s = TestApp::<FakeGitLab>::start_with(Options {
        gitlab_keys: "approve_merge_requests = true\n",
        ..Options::default()
    })
    .await;
    let head = s.enroll(MR, "h1");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    s.deliver_mr("open", MR).await;
    s.settle().await;
    let bot = s.fake.bot_username();
    assert_eq!(s.status(&head), status("pending", NEEDS_SECURITY));
    assert!(s.fake.approvers(PROJECT, MR).is_empty());

    s.note(MR, "sec1", "/iamgate approve").await;
    s.settle().await;
    assert_eq!(s.status(&head), status("success", APPROVED));
    assert_eq!(s.fake.approvers(PROJECT, MR), [bot]);

    // A new head with another IAM change: previewed again, the approval withdrawn.
    s.pulumi.replay(STACK, fixture(OTHER_IAM));
    let h2 = s.push(MR, "h2").await;
    s.settle().await;
    assert_eq!(s.status(&h2).0, "pending");
    assert!(s.fake.approvers(PROJECT, MR).is_empty());
    // iamgate's own approval is not a review: recomputing does not pass the gate with it.
    s.deliver_mr("reopen", MR).await;
    s.settle().await;
    assert_eq!(s.status(&h2).0, "pending");
}

/// With merged-results pipelines (Premium), GitLab judges a pipeline that runs on a merge commit
/// it made from the head: the pending status and, once approved, the success land there, on that
/// commit, where "Pipelines must succeed" looks.
#[tokio::test]
async fn gitlab_a_merged_results_pipeline_gets_the_status_on_its_merge_commit() {
    let (s, head) = analyzed::<FakeGitLab>(CONFIG).await;
    let merge_sha = "4d3a9c0b7e1f2a3b4c5d6e7f8091a2b3c4d5e6f7";
    let merged = s
        .fake
        .merge_pipeline(PROJECT, MR, "merge", &head, merge_sha);
    let merge_ref = format!("refs/merge-requests/{MR}/merge");
    s.deliver(
        PIPELINE_HOOK,
        pipeline_hook(&s, merged, merge_sha, &merge_ref, Some(MR), "created"),
    )
    .await;
    s.settle().await;
    let in_merged = || -> Vec<(String, String)> {
        s.fake
            .statuses(PROJECT, merge_sha)
            .into_iter()
            .filter(|st| st.pipeline_id == Some(merged))
            .map(|st| (st.state, st.description))
            .collect()
    };
    assert_eq!(in_merged(), [status("pending", NEEDS_SECURITY)]);
    s.note(MR, "sec1", "/iamgate approve").await;
    s.settle().await;
    assert_eq!(in_merged().last(), Some(&status("success", APPROVED)));
}
