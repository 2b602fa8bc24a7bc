//! The gate against the person it exists to stop: a developer with push access who controls the
//! pull request's code, branches, comments and timing (issue 12). Each test is an attack that
//! worked against an earlier build; each must now fail, while the legitimate path still works.

use crate::approvals::{
    ADMIN_ATTACH, APPROVED, NEEDS_SECURITY, OTHER_IAM, OVERRIDES, PR, analyzed, config_with,
    reviews, short, shown_reply,
};
use crate::support::app::{CONFIG, Forge, STACK, TestApp, fixture};
use crate::support::fake_github::FakeGitHub;

crate::both_forges!(
    a_second_pull_request_of_the_same_head_cannot_turn_it_green,
    closing_the_pull_request_that_held_a_commit_back_releases_it,
    retargeting_a_pull_request_goes_pending_at_once,
    an_approval_commented_before_a_push_binds_to_the_head_it_saw,
    an_approval_of_the_same_change_still_counts_after_a_racing_push,
    nobody_overrides_their_own_pull_request,
    an_approval_of_iam_computed_at_deploy_time_counts_for_its_commit_only,
    a_command_edited_before_iamgate_handled_it_does_nothing,
    a_command_deleted_before_iamgate_handled_it_does_nothing,
    a_forged_delivery_cannot_approve_for_someone_else,
    a_reviewer_who_pushes_to_a_pull_request_cannot_approve_or_override_it,
    a_signed_body_replayed_under_a_new_delivery_id_is_recognized,
    a_membership_webhook_takes_a_removed_member_s_say_at_once,
    an_unmodeled_iam_change_is_reported_and_gated_not_passed_over,
    an_unreadable_iam_input_is_reported_and_gated_not_dropped,
);

/// The harness config with a review for what iamgate cannot judge, as the example config has.
fn gating_unreviewable() -> String {
    format!(
        "{CONFIG}  - name: unreviewable\n    when: {{ categories: [unanalyzed, malformed] }}\n    \
         approvals: 1\n    from: {{ teams: [\"acme/security\"] }}\n"
    )
}

/// A preview whose policies are only known at deploy time (`apply()` of outputs being created).
const COMPUTED: &str = "corpus/unknown-secret.preview.json";

/// A base branch whose `.iamgate.yml` requires no review.
const LAX: &str = "\
version: 1
stacks:
  - name: prod
    dir: infra
    stack: acme/prod
";

/// How a status names PR 7 on this forge.
fn pr7<F: Forge>() -> &'static str {
    if F::OPEN_EVENT == "pull_request" {
        "#7"
    } else {
        "!7"
    }
}

/// PR 7 needs the security team; the author opens PR 8 from the same branch into `sandbox`,
/// whose config requires nothing, and asks it to rerun at will: the commit stays pending until
/// PR 7 is approved, because a status belongs to the commit.
async fn a_second_pull_request_of_the_same_head_cannot_turn_it_green<F: Forge>() {
    let (s, h1) = analyzed::<F>(CONFIG).await;
    s.fake.sibling(8, &h1, "sandbox", LAX);
    s.open(8).await;
    s.settle().await;
    let held = format!("{} shares this commit: {NEEDS_SECURITY}", pr7::<F>());
    assert_eq!(s.status(&h1), ("pending".to_owned(), held.clone()));

    s.comment(8, "dev", "/iamgate rerun").await;
    s.settle().await;
    assert_eq!(s.status(&h1).0, "pending", "a rerun of PR 8 re-flipped it");
    assert!(
        !s.statuses(&h1).iter().any(|(state, _)| state == "success"),
        "the commit was green at some point: {:?}",
        s.statuses(&h1)
    );

    s.approve(PR, "sec1").await;
    s.settle().await;
    s.assert_gate(&h1, "success", APPROVED).await;
}

/// Closing the pull request that held the commit back lets the other one's decision through.
async fn closing_the_pull_request_that_held_a_commit_back_releases_it<F: Forge>() {
    let (s, h1) = analyzed::<F>(CONFIG).await;
    s.fake.sibling(8, &h1, "sandbox", LAX);
    s.open(8).await;
    s.settle().await;
    assert_eq!(s.status(&h1).0, "pending");

    s.fake.close(PR);
    s.send(s.fake.closed(PR)).await;
    s.settle().await;
    assert_eq!(s.status(&h1).0, "success", "{:?}", s.statuses(&h1));
}

/// An approved pull request retargeted to another base goes pending as soon as iamgate handles
/// the change, before its new analysis decides.
async fn retargeting_a_pull_request_goes_pending_at_once<F: Forge>() {
    let (s, h1) = analyzed::<F>(CONFIG).await;
    s.approve(PR, "sec1").await;
    s.settle().await;
    s.assert_gate(&h1, "success", APPROVED).await;

    let strict = CONFIG.replace("approvals: 1", "approvals: 2");
    let retargeted = s.fake.retarget(PR, "sandbox", &strict);
    s.send(retargeted).await;
    s.settle().await;
    let statuses = s.statuses(&h1);
    let approved_at = statuses
        .iter()
        .rposition(|(state, _)| state == "success")
        .unwrap();
    assert_eq!(
        statuses[approved_at + 1],
        (
            "pending".to_owned(),
            "the base branch changed to sandbox: analyzing again".to_owned()
        ),
        "{statuses:?}"
    );
    assert_eq!(s.status(&h1).0, "pending", "{statuses:?}");
}

/// The reviewer approves the change they see; one second later (before iamgate runs the
/// command) the author pushes a different, critical IAM change. The approval binds to the head
/// the reviewer saw, so it does not count for the pushed one.
async fn an_approval_commented_before_a_push_binds_to_the_head_it_saw<F: Forge>() {
    let (s, h1) = analyzed::<F>(CONFIG).await;
    let approval = s.comment(PR, "sec1", "/iamgate approve").await;
    s.pulumi().replay(STACK, fixture(OTHER_IAM));
    let h2 = s.push(PR, "h2").await;
    s.settle().await;

    s.assert_gate(&h2, "pending", NEEDS_SECURITY).await;
    let reply = shown_reply(&s, approval);
    assert!(
        reply.contains(&format!(
            "approval recorded on `{}` for `security`",
            short(&h1)
        )),
        "{reply}"
    );
    assert!(
        reply.contains(&format!(
            "It was made on `{}`, the head when you commented; `{}` was pushed after it, so it \
             counts there only if that IAM change is the same as the one you saw.",
            short(&h1),
            short(&h2)
        )),
        "{reply}"
    );
    let section = reviews(&s.report(PR));
    assert!(
        section.contains(&format!(
            "@sec1: the IAM change differs from the one approved on {}",
            short(&h1)
        )),
        "{section}"
    );
}

/// The same race with a push that leaves the IAM change as it was: the approval still counts
/// (`invalidate_approvals: on_iam_change`), so binding to the seen head costs honest reviewers
/// nothing.
async fn an_approval_of_the_same_change_still_counts_after_a_racing_push<F: Forge>() {
    let (s, h1) = analyzed::<F>(CONFIG).await;
    let approval = s.comment(PR, "sec1", "/iamgate approve").await;
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    let h2 = s.push(PR, "h2").await;
    s.settle().await;

    s.assert_gate(&h2, "success", APPROVED).await;
    assert!(
        shown_reply(&s, approval).contains(&format!("approval recorded on `{}`", short(&h1))),
        "{}",
        shown_reply(&s, approval)
    );
}

/// A member of `overrides` who opened the pull request cannot override its gate alone.
async fn nobody_overrides_their_own_pull_request<F: Forge>() {
    let (s, head) = analyzed::<F>(&config_with(OVERRIDES)).await;
    s.add_member("acme/leads", "dev");
    let id = s.comment(PR, "dev", "/iamgate override it is fine").await;
    s.settle().await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, id), @"
        <!-- iamgate:reply:[id] -->
        `/iamgate override`: refused. You opened this pull request: nobody overrides the gate of their own pull request. Ask another member of `overrides`, or get the required approvals.
        ");
    }
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
}

/// GitHub's comments carry no commit: a comment made before iamgate saw any head of the pull
/// request cannot be bound to one, so it records nothing and says so (GitLab's note hook names
/// the head, so there it binds to that).
#[tokio::test]
async fn github_an_approval_made_before_any_head_was_seen_is_refused() {
    let s = TestApp::<FakeGitHub>::start().await;
    let head = s.enroll(PR, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    let id = s.comment(PR, "sec1", "/iamgate approve").await;
    s.open(PR).await;
    s.settle().await;

    insta::assert_snapshot!(shown_reply(&s, id), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate approve`: refused. iamgate cannot tell which commit you saw when you commented (it had not seen this pull request's head yet), so nothing was recorded. Comment again once iamgate's report shows the head you reviewed.
    ");
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
}

/// A policy computed at deploy time looks the same in every preview whatever the code computes:
/// an approval of one commit must not carry over to a push that may compute `*` on `*`.
async fn an_approval_of_iam_computed_at_deploy_time_counts_for_its_commit_only<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let config = CONFIG.replace("min_risk: high", "min_risk: medium");
    let h1 = s.enroll_with(PR, "h1", &config);
    s.pulumi().replay(STACK, fixture(COMPUTED));
    s.open(PR).await;
    s.settle().await;
    s.assert_gate(&h1, "pending", NEEDS_SECURITY).await;
    let body = crate::approvals::shown(&s.the_comment(PR));
    assert!(
        body.contains(
            "Part of this IAM change is computed at deploy time (unknown in the preview), so iamgate \
             cannot tell whether a later push changes what it grants: approvals and overrides count \
             for this commit only, and a new push needs them again."
        ),
        "{body}"
    );

    s.approve(PR, "sec1").await;
    s.settle().await;
    assert_eq!(s.status(&h1).0, "success");

    // The author changes what the program computes; the preview reads the same.
    let h2 = s.push(PR, "h2").await;
    s.settle().await;
    s.assert_gate(&h2, "pending", NEEDS_SECURITY).await;
}

/// Whether the audit trail records that `login`'s comment was not acted on.
fn unacted(audit: &[iamgate::audit::AuditEntry], login: &str) -> bool {
    audit.iter().any(|e| {
        e.actor.as_str() == login
            && matches!(&e.event, iamgate::audit::AuditEvent::CommandRefused { reason, .. }
                if reason.starts_with("the comment was edited or deleted before iamgate handled it"))
    })
}

/// A command is acted on as the forge shows the comment when the command runs: an approval
/// edited away before iamgate got to it approves nothing.
async fn a_command_edited_before_iamgate_handled_it_does_nothing<F: Forge>() {
    let (s, h1) = analyzed::<F>(CONFIG).await;
    let id = s.comment(PR, "sec1", "/iamgate approve").await;
    s.fake
        .edit_comment_quietly(PR, id, "on second thought, not yet");
    s.settle().await;

    s.assert_gate(&h1, "pending", NEEDS_SECURITY).await;
    assert!(s.reactions(PR, id).is_empty(), "acted on");
    assert!(unacted(&s.audit().await, "sec1"));
}

async fn a_command_deleted_before_iamgate_handled_it_does_nothing<F: Forge>() {
    let (s, h1) = analyzed::<F>(CONFIG).await;
    let id = s.comment(PR, "sec1", "/iamgate approve").await;
    s.fake.delete_comment_quietly(PR, id);
    s.settle().await;
    s.assert_gate(&h1, "pending", NEEDS_SECURITY).await;
    assert!(
        !s.comments(PR)
            .iter()
            .any(|c| c.body.contains("approval recorded")),
        "answered a deleted comment"
    );
}

/// Someone who holds the webhook secret forges deliveries: a comment that does not exist, and
/// mallory's real comment presented as sec1's. Neither approves anything.
async fn a_forged_delivery_cannot_approve_for_someone_else<F: Forge>() {
    let (s, h1) = analyzed::<F>(CONFIG).await;
    s.send(
        s.fake
            .comment_created(PR, 999_999, "sec1", "/iamgate approve"),
    )
    .await;
    let real = s.fake.add_person_comment(PR, "mallory", "/iamgate approve");
    s.send(s.fake.comment_created(PR, real, "sec1", "/iamgate approve"))
        .await;
    s.settle().await;

    s.assert_gate(&h1, "pending", NEEDS_SECURITY).await;
    assert!(unacted(&s.audit().await, "sec1"));
}

/// A reply to a GitLab internal note is internal too: it may quote what only members see.
#[tokio::test]
async fn gitlab_a_reply_to_an_internal_note_is_internal() {
    use crate::support::fake_gitlab::FakeGitLab;
    let (s, h1) = analyzed::<FakeGitLab>(CONFIG).await;
    let id = s
        .fake
        .internal_note("acme/infra", PR, "sec1", "/iamgate approve");
    let mut delivery = s.fake.comment_created(PR, id, "sec1", "/iamgate approve");
    delivery.event = "Confidential Note Hook";
    s.send(delivery).await;
    s.settle().await;

    s.assert_gate(&h1, "success", APPROVED).await;
    let notes = s.fake.notes("acme/infra", PR);
    let reply = notes
        .iter()
        .find(|n| n.body.contains(&format!("<!-- iamgate:reply:{id} -->")))
        .expect("a reply");
    assert!(
        reply.internal,
        "the reply to an internal note is public: {reply:?}"
    );
}

/// A qualified reviewer (and override member) pushes the IAM change onto a pull request someone
/// else opened: they are one of its authors now, so neither their approval nor their override
/// counts.
async fn a_reviewer_who_pushes_to_a_pull_request_cannot_approve_or_override_it<F: Forge>() {
    let (s, _h1) = analyzed::<F>(&config_with(OVERRIDES)).await;
    s.add_member("acme/leads", "sec1");
    s.pulumi().replay(STACK, fixture(OTHER_IAM));
    let (h2, pushed) = s.fake.push_by(PR, "h2", "sec1");
    s.send(pushed).await;
    s.settle().await;
    s.assert_gate(&h2, "pending", NEEDS_SECURITY).await;

    s.approve(PR, "sec1").await;
    let approve = s.comment(PR, "sec1", "/iamgate approve").await;
    let override_id = s.comment(PR, "sec1", "/iamgate override it is mine").await;
    s.settle().await;
    s.assert_gate(&h2, "pending", NEEDS_SECURITY).await;
    assert!(
        shown_reply(&s, approve)
            .contains("You authored, committed or pushed commits of this pull request"),
        "{}",
        shown_reply(&s, approve)
    );
    assert!(
        shown_reply(&s, override_id)
            .contains("nobody overrides the gate of their own pull request"),
        "{}",
        shown_reply(&s, override_id)
    );
    let section = reviews(&s.report(PR));
    assert!(
        section.contains("@sec1: an author of its commits (who authored, committed or pushed them) does not count"),
        "{section}"
    );

    // Someone who did not push still approves.
    s.approve(PR, "alice").await;
    s.settle().await;
    assert_eq!(s.status(&h2).0, "success");
}

/// The delivery id header is not signed: a captured, signed body sent again under a new id is
/// recognized as the delivery it copies and acted on once.
async fn a_signed_body_replayed_under_a_new_delivery_id_is_recognized<F: Forge>() {
    let (s, _h1) = analyzed::<F>(CONFIG).await;
    let id = s.fake.add_person_comment(PR, "sec1", "/iamgate help");
    let delivery = s.fake.comment_created(PR, id, "sec1", "/iamgate help");
    let first = s
        .deliver_as(delivery.event, "original-id", delivery.body.clone())
        .await;
    assert_eq!(first, axum::http::StatusCode::ACCEPTED);
    let replayed = s
        .deliver_as(delivery.event, "replayed-id", delivery.body)
        .await;
    assert_eq!(
        replayed,
        axum::http::StatusCode::OK,
        "a replay is a duplicate"
    );
    s.settle().await;
    let replies = s
        .comments(PR)
        .iter()
        .filter(|c| c.body.contains(&format!("<!-- iamgate:reply:{id} -->")))
        .count();
    assert_eq!(replies, 1);
}

/// A reviewer removed from the team loses their say as soon as the forge says so, not when a
/// cached answer expires.
async fn a_membership_webhook_takes_a_removed_member_s_say_at_once<F: Forge>() {
    let (s, h1) = analyzed::<F>(CONFIG).await;
    s.comment(PR, "sec1", "/iamgate approve").await;
    s.settle().await;
    s.assert_gate(&h1, "success", APPROVED).await;

    let removed = s.fake.remove_member("acme/security", "sec1");
    s.send(removed).await;
    // A push of the same IAM change keeps the approval (on_iam_change), but the gate it
    // recomputes asks the forge again whether sec1 may approve.
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    let h2 = s.push(PR, "h2").await;
    s.settle().await;
    s.assert_gate(&h2, "pending", NEEDS_SECURITY).await;
}

/// An SSO permission set with AdministratorAccess (a type iamgate does not model) is reported as
/// `unanalyzed` and gated like any other IAM change: never "no IAM change".
async fn an_unmodeled_iam_change_is_reported_and_gated_not_passed_over<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll_with(PR, "h1", &gating_unreviewable());
    s.pulumi()
        .replay(STACK, fixture("corpus/sso-admin.preview.json"));
    s.open(PR).await;
    s.settle().await;

    let body = s.the_comment(PR);
    assert!(body.contains("AWS-UNANALYZED-001"), "{body}");
    assert!(!body.contains("This preview changes no IAM"), "{body}");
    s.assert_gate(&head, "pending", "needs 1 approval from acme/security")
        .await;
}

/// A role whose inline policy nests too deep for the parser is reported as `malformed` and gated,
/// not dropped from the analysis.
async fn an_unreadable_iam_input_is_reported_and_gated_not_dropped<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll_with(PR, "h1", &gating_unreviewable());
    s.pulumi()
        .replay(STACK, fixture("corpus/deep-nesting.preview.json"));
    s.open(PR).await;
    s.settle().await;

    let body = s.the_comment(PR);
    assert!(body.contains("AWS-LINT-UNREADABLE"), "{body}");
    assert_eq!(s.status(&head).0, "pending");
}

/// With a leaked webhook secret, the author announces a head before pushing it (a commit's sha is
/// known before the push): heads are taken from the forge, never from a webhook, so a reviewer's
/// later approval still binds to the head they saw.
#[tokio::test]
async fn github_a_forged_push_event_cannot_bind_an_approval_to_a_future_head() {
    let (s, h1) = analyzed::<FakeGitHub>(CONFIG).await;
    let future = crate::support::app::sha("h2");
    let mut forged = s.fake.reopened(PR);
    let mut body: serde_json::Value = serde_json::from_slice(&forged.body).unwrap();
    body["action"] = serde_json::json!("synchronize");
    body["pull_request"]["head"]["sha"] = serde_json::json!(future);
    forged.body = serde_json::to_vec(&body).unwrap();
    s.send(forged).await;
    let approval = s.comment(PR, "sec1", "/iamgate approve").await;
    s.pulumi().replay(STACK, fixture(OTHER_IAM));
    let h2 = s.push(PR, "h2").await;
    assert_eq!(h2, future);
    s.settle().await;

    s.assert_gate(&h2, "pending", NEEDS_SECURITY).await;
    assert!(
        shown_reply(&s, approval).contains(&format!("approval recorded on `{}`", short(&h1))),
        "{}",
        shown_reply(&s, approval)
    );
}
