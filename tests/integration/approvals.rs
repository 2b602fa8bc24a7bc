//! The merge gate's approvals, commands and audit trail, end to end on both forges: authentic
//! webhooks (GitHub's `pull_request`, `pull_request_review` and `issue_comment`; GitLab's Merge
//! Request Hook and Note Hook) through the real router, the durable queue, the real forge client
//! against the fake forge (reviews or MR approvals, team or group memberships, permissions,
//! reactions or award emoji, comments or notes), the fake pulumi. Each asserts what a person would
//! see — the `iamgate` status, the Reviews section of the one report, iamgate's reply and its eyes
//! reaction — and what the audit trail recorded. The bodies are written once over
//! [`Forge`] and run as `github::<name>` and `gitlab::<name>`; GitHub's changes-requested
//! reviews and comment edits and deletions stay GitHub-specific below, GitLab's own cases are in
//! `gitlab_scenarios.rs`.

use iamgate::audit::{ApprovalSource, AuditEntry, AuditEvent, GateState, WithdrawalSource};

use crate::support::app::{CONFIG, Fail, Forge, REPO, STACK, TestApp, fixture};
use crate::support::fake_github::FakeGitHub;

pub(crate) const ADMIN_ATTACH: &str = "corpus/admin-attach.preview.json";
/// Another critical IAM change (a different fingerprint than [`ADMIN_ATTACH`]).
pub(crate) const OTHER_IAM: &str = "corpus/privesc-completed.preview.json";
pub(crate) const NEEDS_SECURITY: &str = "needs 1 approval from acme/security or alice";
pub(crate) const APPROVED: &str = "IAM risk critical: required approvals given";
pub(crate) const PR: u64 = 7;

/// The harness's config with `extra` top-level keys.
pub(crate) fn config_with(extra: &str) -> String {
    format!("{}{extra}", CONFIG)
}

/// A config whose one requirement is `from`.
fn config_from(from: &str) -> String {
    format!(
        "\
version: 1
stacks:
  - name: prod
    dir: infra
    stack: acme/prod
reviews:
  - name: security
    when: {{ min_risk: high }}
    approvals: 1
    from: {from}
"
    )
}

/// Two requirements, both triggered by a critical change.
const TWO_REQUIREMENTS: &str = "\
version: 1
stacks:
  - name: prod
    dir: infra
    stack: acme/prod
reviews:
  - name: security
    when: { min_risk: high }
    approvals: 1
    from: { teams: [\"acme/security\"] }
  - name: platform
    when: { min_risk: medium }
    approvals: 1
    from: { teams: [\"acme/platform\"], users: [\"bob\"] }
";

pub(crate) const OVERRIDES: &str = "overrides: { teams: [\"acme/leads\"] }\n";

/// Text as GitHub shows it: Markdown backslash escapes and the zero-width joiners that break
/// mentions removed, so `@sec1` and `invalidate_approvals` read as written.
pub(crate) fn shown(body: &str) -> String {
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
pub(crate) fn reviews(body: &str) -> String {
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

/// iamgate's one reply to comment `id` on PR 7 as shown, with the comment id its marker names
/// (which differs between the forges) written `[id]`. Its snapshots are asserted within
/// `insta::allow_duplicates!`: the same assertion runs once per forge, and both must match.
pub(crate) fn shown_reply<F: Forge>(s: &TestApp<F>, id: u64) -> String {
    let reply = shown(&s.reply(PR, id));
    reply.replace(
        &format!("<!-- iamgate:reply:{id} -->"),
        "<!-- iamgate:reply:[id] -->",
    )
}

pub(crate) fn short(sha: &str) -> &str {
    &sha[..7]
}

/// A server with PR 7 under `config`, the risky change analyzed: pending, nobody approved.
pub(crate) async fn analyzed<F: Forge>(config: &str) -> (TestApp<F>, String) {
    let s = TestApp::<F>::start().await;
    let head = s.enroll_with(PR, "h1", config);
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(PR).await;
    s.settle().await;
    assert_eq!(s.status(&head).0, "pending");
    (s, head)
}

/// Asserts the audit trail of an analysis approved once by sec1 (`via`), in order: the
/// analysis of `head`, the pending status, the approval bound to the analyzed change and to
/// `head`, the success status.
pub(crate) fn assert_one_approval_audited_in_order(
    audit: &[AuditEntry],
    head: &str,
    via: ApprovalSource,
) {
    assert_eq!(
        audit.iter().map(|e| e.event.kind()).collect::<Vec<_>>(),
        ["analysis", "status_change", "approval", "status_change"],
        "{audit:#?}"
    );
    let fingerprint = match &audit[0].event {
        AuditEvent::Analysis {
            stacks,
            level,
            fingerprint,
            submitted_by,
            ..
        } => {
            assert!(submitted_by.is_empty(), "previewed here");
            assert_eq!(stacks, &["prod"]);
            assert_eq!(level, "critical");
            fingerprint
                .clone()
                .expect("an IAM change has a fingerprint")
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(audit[0].actor.as_str(), "iamgate");
    assert_eq!(audit[0].head_sha.as_ref().map(|h| h.as_str()), Some(head));
    assert_eq!(
        audit[1].event,
        AuditEvent::StatusChange {
            state: GateState::Pending,
            description: NEEDS_SECURITY.to_owned()
        }
    );
    assert_eq!(audit[2].actor.as_str(), "sec1");
    assert_eq!(
        audit[2].event,
        AuditEvent::Approval {
            via,
            fingerprint: Some(fingerprint),
            requirements: vec!["security".to_owned()],
            reason: None,
        },
        "the approval is bound to the analyzed change"
    );
    assert_eq!(
        audit[2].head_sha.as_ref().map(|h| h.as_str()),
        Some(head),
        "and to the head it was given on"
    );
    assert_eq!(
        audit[3].event,
        AuditEvent::StatusChange {
            state: GateState::Success,
            description: APPROVED.to_owned()
        }
    );
    assert!(
        audit.windows(2).all(|w| w[0].time <= w[1].time),
        "records in time order"
    );
}

/// The states of the audit trail's status changes, oldest first.
fn gate_states(audit: &[AuditEntry]) -> Vec<GateState> {
    audit
        .iter()
        .filter_map(|e| match &e.event {
            AuditEvent::StatusChange { state, .. } => Some(*state),
            _ => None,
        })
        .collect()
}

/// The audit entries of one kind.
pub(crate) fn of_kind<'a>(audit: &'a [AuditEntry], kind: &str) -> Vec<&'a AuditEntry> {
    audit.iter().filter(|e| e.event.kind() == kind).collect()
}

crate::both_forges!(
    a_team_member_s_approving_review_passes_and_the_audit_trail_records_it_in_order,
    a_non_member_s_approval_leaves_the_gate_pending,
    a_requirement_from_users_counts_its_users_and_one_from_a_team_its_members,
    two_requirements_need_both_and_one_approval_counts_for_each_it_qualifies_for,
    a_dismissed_approving_review_puts_the_gate_back_to_pending,
    a_push_with_the_same_iam_change_keeps_the_approval_under_on_iam_change,
    a_push_with_the_same_iam_change_drops_the_approval_under_on_push,
    a_push_with_a_different_iam_change_drops_the_approval_under_on_iam_change,
    a_push_with_a_different_iam_change_drops_the_approval_under_on_push,
    a_push_with_the_same_iam_change_keeps_a_command_approval_under_on_iam_change,
    a_push_with_the_same_iam_change_drops_a_command_approval_under_on_push,
    the_audit_trail_records_a_command_approval_in_order,
    approve_and_unapprove_commands_grant_and_withdraw_command_and_review_approvals,
    the_author_s_approval_is_refused_unless_allowed,
    a_non_reviewer_s_approve_command_is_refused,
    commands_in_code_blocks_and_quotes_are_ignored,
    an_override_by_a_member_passes_by_a_non_member_is_refused_and_a_new_change_ends_it,
    explain_shows_a_known_rule_and_refuses_an_unknown_one_with_near_matches,
    help_lists_every_command,
    rerun_by_a_writer_previews_again_and_by_a_stranger_is_refused,
    commands_on_a_closed_pr_are_refused_with_a_reply,
    a_retried_command_job_replies_and_votes_once,
    a_retried_refused_command_is_audited_once,
);

// ---- reviews ----

async fn a_team_member_s_approving_review_passes_and_the_audit_trail_records_it_in_order<
    F: Forge,
>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(reviews(&s.report(PR)), @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice |
        ");
    }

    s.approve(PR, "sec1").await;
    s.settle().await;

    s.assert_gate(&head, "success", APPROVED).await;
    let section = reviews(&s.report(PR));
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ✅ 1 of 1 | @sec1 | — |
        ");
    }
    assert_eq!(
        s.membership_lookups("acme/security", "sec1"),
        1,
        "membership asked of the forge once (then cached)"
    );
    assert_eq!(
        s.pulumi().invocations().len(),
        1,
        "a review does not preview again"
    );

    assert_one_approval_audited_in_order(&s.audit().await, &head, ApprovalSource::Review);
    s.assert_chain_verifies().await;
}

async fn a_non_member_s_approval_leaves_the_gate_pending<F: Forge>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    // Invited to the team but not yet a member: GitHub answers `state: pending`.
    s.invite_member("acme/security", "newcomer");
    s.approve(PR, "mallory").await;
    s.approve(PR, "newcomer").await;
    s.settle().await;

    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    let section = reviews(&s.report(PR));
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice |
        ");
    }
    assert!(
        s.membership_lookups("acme/security", "mallory") >= 1
            && s.membership_lookups("acme/security", "newcomer") >= 1,
        "membership was asked of the forge"
    );
    let audit = s.audit().await;
    assert!(
        of_kind(&audit, "approval").is_empty(),
        "an approval that counts for nothing is not recorded as one: {audit:#?}"
    );
    assert_eq!(
        of_kind(&audit, "status_change").len(),
        1,
        "the status did not change: {audit:#?}"
    );
}

async fn a_requirement_from_users_counts_its_users_and_one_from_a_team_its_members<F: Forge>() {
    // By user: alice counts, a security team member does not.
    let (s, head) = analyzed::<F>(&config_from("{ users: [\"alice\"] }")).await;
    s.assert_gate(&head, "pending", "needs 1 approval from alice")
        .await;
    s.approve(PR, "sec1").await;
    s.settle().await;
    s.assert_gate(&head, "pending", "needs 1 approval from alice")
        .await;
    s.approve(PR, "alice").await;
    s.settle().await;
    s.assert_gate(&head, "success", APPROVED).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(reviews(&s.report(PR)), @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ✅ 1 of 1 | @alice | — |
        ");
    }

    // By team: alice does not count, a member does.
    let (s, head) = analyzed::<F>(&config_from("{ teams: [\"acme/security\"] }")).await;
    s.assert_gate(&head, "pending", "needs 1 approval from acme/security")
        .await;
    s.approve(PR, "alice").await;
    s.settle().await;
    s.assert_gate(&head, "pending", "needs 1 approval from acme/security")
        .await;
    s.approve(PR, "sec1").await;
    s.settle().await;
    s.assert_gate(&head, "success", APPROVED).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(reviews(&s.report(PR)), @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ✅ 1 of 1 | @sec1 | — |
        ");
    }
}

async fn two_requirements_need_both_and_one_approval_counts_for_each_it_qualifies_for<F: Forge>() {
    let (s, head) = analyzed::<F>(TWO_REQUIREMENTS).await;
    s.add_member("acme/security", "both");
    s.add_member("acme/platform", "plat1");
    s.add_member("acme/platform", "both");
    s.assert_gate(
        &head,
        "pending",
        "needs 1 approval from acme/security; 1 approval from acme/platform or bob",
    )
    .await;

    // A security member alone: the platform requirement is still named.
    s.approve(PR, "sec1").await;
    s.settle().await;
    s.assert_gate(
        &head,
        "pending",
        "needs 1 approval from acme/platform or bob",
    )
    .await;
    let section = reviews(&s.report(PR));
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ✅ 1 of 1 | @sec1 | — |
        | platform | ⏳ 0 of 1 | — | 1 more approval from `acme/platform` or @bob |
        ");
    }

    // On another PR, one member of both teams meets both requirements at once.
    let other = s.enroll_with(8, "h8", TWO_REQUIREMENTS);
    s.add_member("acme/security", "both");
    s.add_member("acme/platform", "plat1");
    s.add_member("acme/platform", "both");
    s.open(8).await;
    s.settle().await;
    s.approve(8, "both").await;
    s.settle().await;
    s.assert_gate(&other, "success", APPROVED).await;
    let section = reviews(&s.report(8));
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ✅ 1 of 1 | @both | — |
        | platform | ✅ 1 of 1 | @both | — |
        ");
    }
    let audit = s.audit().await;
    let by_both: Vec<_> = of_kind(&audit, "approval")
        .into_iter()
        .filter(|e| e.actor.as_str() == "both")
        .collect();
    assert!(
        matches!(&by_both[..], [e] if matches!(&e.event, AuditEvent::Approval { requirements, .. } if requirements == &["security", "platform"])),
        "{by_both:#?}"
    );
}

#[tokio::test]
async fn changes_requested_by_a_reviewer_fail_the_gate_until_they_approve() {
    let (s, head) = analyzed::<FakeGitHub>(CONFIG).await;
    // Somebody outside the requirement asking for changes blocks nothing.
    s.submit_review(PR, "mallory", "CHANGES_REQUESTED").await;
    s.settle().await;
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;

    s.submit_review(PR, "sec1", "CHANGES_REQUESTED").await;
    s.settle().await;
    s.assert_gate(&head, "failure", "changes requested by sec1")
        .await;
    let section = reviews(&s.report(PR));
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice; ❌ changes requested by @sec1 |
        ");
    }

    s.approve(PR, "sec1").await;
    s.settle().await;
    s.assert_gate(&head, "success", APPROVED).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(reviews(&s.report(PR)), @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ✅ 1 of 1 | @sec1 | — |
        ");
    }
    let audit = s.audit().await;
    let asked = of_kind(&audit, "changes_requested");
    assert!(
        asked.iter().any(|e| e.actor.as_str() == "sec1"),
        "{audit:#?}"
    );
    assert_eq!(
        gate_states(&audit),
        [GateState::Pending, GateState::Failure, GateState::Success]
    );
    s.assert_chain_verifies().await;
}

/// GitHub answers 404 alike for a non-member and for a team the App cannot see; the second is
/// a failure saying what to fix, not a requirement nobody can meet.
#[tokio::test]
async fn a_team_github_does_not_show_fails_the_gate_with_why_instead_of_counting_nobody() {
    let (s, head) = analyzed::<FakeGitHub>(&config_from("{ teams: [\"acme/secret\"] }")).await;
    // sec1 is in the team, but the App's installation cannot see the team.
    s.fake.hidden_team("acme", "secret", &["sec1"]);
    s.approve(PR, "sec1").await;
    let summary = s.settle().await;
    assert_eq!(summary.dead_lettered, 1, "{summary:?}");
    let (state, description) = s.status(&head);
    assert_eq!(state, "failure", "{description}");
    assert!(
        description.starts_with("iamgate could not analyze this pull request: "),
        "{description}"
    );
    let report = shown(&s.report(PR));
    assert!(
        report
            .contains("What failed: GET /orgs/acme/teams/secret: GitHub shows no team acme/secret")
            && report.contains("\"Members: read\""),
        "{report}"
    );
    assert!(
        !report.contains("### Reviews"),
        "not shown as a requirement waiting for approvals: {report}"
    );

    // Once the App can see the team, its member's approval counts.
    s.fake.team("acme", "secret", &["sec1"]);
    s.comment(PR, "dev", "/iamgate rerun").await;
    s.settle().await;
    s.assert_gate(&head, "success", APPROVED).await;
}

async fn a_dismissed_approving_review_puts_the_gate_back_to_pending<F: Forge>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    let review = s.approve(PR, "sec1").await;
    s.settle().await;
    s.assert_gate(&head, "success", APPROVED).await;

    s.withdraw(PR, "sec1", review).await;
    s.settle().await;
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    let section = reviews(&s.report(PR));
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice |
        ");
    }
    let audit = s.audit().await;
    assert!(
        audit.iter().any(|e| e.actor.as_str() == "sec1"
            && e.event
                == AuditEvent::Withdrawal {
                    via: WithdrawalSource::DismissedReview,
                    approver: "sec1".into(),
                }),
        "the dismissal is audited: {audit:#?}"
    );
}

// ---- pushes ----

/// sec1 approves at h1 (by `/iamgate approve` when `by_command`, else by the forge's
/// approval); the author pushes h2 whose preview is `fixture_at_h2`.
async fn approve_then_push<F: Forge>(
    config: &str,
    by_command: bool,
    fixture_at_h2: &str,
) -> (TestApp<F>, String, String) {
    let (s, h1) = analyzed::<F>(config).await;
    if by_command {
        s.comment(PR, "sec1", "/iamgate approve").await;
    } else {
        s.approve(PR, "sec1").await;
    }
    s.settle().await;
    s.assert_gate(&h1, "success", APPROVED).await;
    s.pulumi().replay(STACK, fixture(fixture_at_h2));
    let h2 = s.push(PR, "h2").await;
    s.settle().await;
    assert_eq!(
        s.pulumi().invocations().len(),
        2,
        "the new head is previewed"
    );
    (s, h1, h2)
}

/// An approval (`by_command` or the forge's) of h1 still counts at h2 with the same IAM change.
async fn same_change_keeps<F: Forge>(by_command: bool) {
    let (s, _h1, h2) = approve_then_push::<F>(CONFIG, by_command, ADMIN_ATTACH).await;
    s.assert_gate(&h2, "success", APPROVED).await;
    let section = reviews(&s.report(PR));
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ✅ 1 of 1 | @sec1 | — |
        ");
    }
    assert!(of_kind(&s.audit().await, "approval_dropped").is_empty());
}

/// An approval (`by_command` or the forge's) of h1 no longer counts at h2 under `on_push`.
async fn same_change_drops_on_push<F: Forge>(by_command: bool) {
    let config = config_with("invalidate_approvals: on_push\n");
    let (s, h1, h2) = approve_then_push::<F>(&config, by_command, ADMIN_ATTACH).await;
    s.assert_gate(&h2, "pending", NEEDS_SECURITY).await;
    let section = reviews(&s.report(PR));
    let reason = format!(
        "given on {}, before the latest push (invalidate_approvals: on_push)",
        short(&h1)
    );
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice |

        **Approvals that no longer count**

        - @sec1: given on 33112ee, before the latest push (invalidate_approvals: on_push)
        ");
    }
    let audit = s.audit().await;
    let dropped = of_kind(&audit, "approval_dropped");
    assert!(
        matches!(&dropped[..], [e] if matches!(&e.event, AuditEvent::ApprovalDropped { approver, reason: why, .. } if approver.as_str() == "sec1" && *why == reason)),
        "{audit:#?}"
    );
}

async fn a_push_with_the_same_iam_change_keeps_the_approval_under_on_iam_change<F: Forge>() {
    same_change_keeps::<F>(false).await;
}

async fn a_push_with_the_same_iam_change_keeps_a_command_approval_under_on_iam_change<F: Forge>() {
    same_change_keeps::<F>(true).await;
}

async fn a_push_with_the_same_iam_change_drops_the_approval_under_on_push<F: Forge>() {
    same_change_drops_on_push::<F>(false).await;
}

async fn a_push_with_the_same_iam_change_drops_a_command_approval_under_on_push<F: Forge>() {
    same_change_drops_on_push::<F>(true).await;
}

async fn a_push_with_a_different_iam_change_drops_the_approval_under_on_iam_change<F: Forge>() {
    let (s, h1, h2) = approve_then_push::<F>(CONFIG, false, OTHER_IAM).await;
    assert_eq!(short(&h1), "33112ee", "the snapshot names h1");
    s.assert_gate(&h2, "pending", NEEDS_SECURITY).await;
    let section = reviews(&s.report(PR));
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice |

        **Approvals that no longer count**

        - @sec1: the IAM change differs from the one approved on 33112ee
        ");
    }
    assert_eq!(of_kind(&s.audit().await, "approval_dropped").len(), 1);
}

async fn a_push_with_a_different_iam_change_drops_the_approval_under_on_push<F: Forge>() {
    let config = config_with("invalidate_approvals: on_push\n");
    let (s, h1, h2) = approve_then_push::<F>(&config, false, OTHER_IAM).await;
    assert_eq!(short(&h1), "33112ee", "the snapshot names h1");
    s.assert_gate(&h2, "pending", NEEDS_SECURITY).await;
    let section = reviews(&s.report(PR));
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice |

        **Approvals that no longer count**

        - @sec1: given on 33112ee, before the latest push (invalidate_approvals: on_push)
        ");
    }
}

// ---- commands ----

async fn the_audit_trail_records_a_command_approval_in_order<F: Forge>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    s.comment(PR, "sec1", "/iamgate approve").await;
    s.settle().await;
    assert_one_approval_audited_in_order(&s.audit().await, &head, ApprovalSource::Command);
    s.assert_chain_verifies().await;
}

async fn approve_and_unapprove_commands_grant_and_withdraw_command_and_review_approvals<
    F: Forge,
>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    s.add_member("acme/security", "sec2");

    let approve = s
        .comment(
            PR,
            "sec1",
            "Checked the policy.\n/iamgate approve reviewed with the owners",
        )
        .await;
    s.settle().await;
    assert_eq!(s.reactions(PR, approve), ["eyes"]);
    assert_eq!(short(&head), "33112ee");
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, approve), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate approve`: approval recorded on `33112ee` for `security`. It keeps counting while the IAM change stays the same.
    ");
    }
    s.assert_gate(&head, "success", APPROVED).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(reviews(&s.report(PR)), @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ✅ 1 of 1 | @sec1 | — |
        ");
    }

    let unapprove = s.comment(PR, "sec1", "/iamgate unapprove").await;
    s.settle().await;
    assert_eq!(s.reactions(PR, unapprove), ["eyes"]);
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, unapprove), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate unapprove`: your approvals (by command or review) no longer count. Approve again to count again.
    ");
    }
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;

    // A review approval is withdrawn the same way.
    s.approve(PR, "sec2").await;
    s.settle().await;
    s.assert_gate(&head, "success", APPROVED).await;
    let unapprove2 = s.comment(PR, "sec2", "/iamgate unapprove").await;
    s.settle().await;
    s.reply(PR, unapprove2);
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    let section = reviews(&s.report(PR));
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice |
        ");
    }

    let audit = s.audit().await;
    let votes: Vec<(&str, &AuditEvent)> = audit
        .iter()
        .filter(|e| matches!(e.event.kind(), "approval" | "withdrawal"))
        .map(|e| (e.actor.as_str(), &e.event))
        .collect();
    assert_eq!(votes.len(), 4, "{votes:#?}");
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
    assert!(matches!(
        votes[2],
        (
            "sec2",
            AuditEvent::Approval {
                via: ApprovalSource::Review,
                ..
            }
        )
    ));
    assert!(matches!(
        votes[3],
        (
            "sec2",
            AuditEvent::Withdrawal {
                via: WithdrawalSource::Command,
                ..
            }
        )
    ));
    assert_eq!(
        gate_states(&audit),
        [
            GateState::Pending,
            GateState::Success,
            GateState::Pending,
            GateState::Success,
            GateState::Pending
        ]
    );
    assert_eq!(of_kind(&audit, "analysis").len(), 1);
    s.assert_chain_verifies().await;
}

async fn the_author_s_approval_is_refused_unless_allowed<F: Forge>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    // The author is even a member of the team: authorship alone is the reason.
    s.add_member("acme/security", "dev");
    let id = s.comment(PR, "dev", "/iamgate approve I wrote it").await;
    s.settle().await;
    assert_eq!(s.reactions(PR, id), ["eyes"]);
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, id), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate approve`: refused. You opened this pull request: your approval does not count (`allow_author_approval` is false in .iamgate.yml). Ask a reviewer named in the comment.
    ");
    }
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(reviews(&s.report(PR)), @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice |
        ");
    }
    let audit = s.audit().await;
    assert!(of_kind(&audit, "approval").is_empty(), "{audit:#?}");
    let refused = of_kind(&audit, "command_refused");
    assert!(
        matches!(&refused[..], [e] if e.actor.as_str() == "dev"),
        "{audit:#?}"
    );

    // With allow_author_approval, the author's approval counts.
    let (s, head) = analyzed::<F>(&config_with("allow_author_approval: true\n")).await;
    s.add_member("acme/security", "dev");
    let id = s.comment(PR, "dev", "/iamgate approve").await;
    s.settle().await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, id), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate approve`: approval recorded on `33112ee` for `security`. It keeps counting while the IAM change stays the same.
    ");
    }
    s.assert_gate(&head, "success", APPROVED).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(reviews(&s.report(PR)), @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ✅ 1 of 1 | @dev | — |
        ");
    }
}

async fn a_non_reviewer_s_approve_command_is_refused<F: Forge>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    let id = s.comment(PR, "mallory", "/iamgate approve").await;
    s.settle().await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, id), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate approve`: refused. You are not among the reviewers of any requirement of .iamgate.yml (`reviews[].from`: teams you are an active member of, or users), so your approval would not count.
    ");
    }
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    assert!(of_kind(&s.audit().await, "approval").is_empty());
}

/// Nothing happened for a delivery: no job ran, no reaction, no reply, no vote, no audit.
pub(crate) async fn assert_nothing_happened<F: Forge>(
    s: &TestApp<F>,
    head: &str,
    comment: u64,
    audit_before: usize,
) {
    let summary = s.settle().await;
    assert_eq!(summary.completed, 0, "{summary:?}");
    assert!(s.reactions(PR, comment).is_empty());
    assert!(s.replies(PR, comment).is_empty());
    s.assert_gate(head, "pending", NEEDS_SECURITY).await;
    assert_eq!(s.audit().await.len(), audit_before);
}

#[tokio::test]
async fn an_edited_or_deleted_comment_grants_nothing() {
    let (s, head) = analyzed::<FakeGitHub>(CONFIG).await;
    let before = s.audit().await.len();
    let id = s
        .fake
        .add_user_comment(REPO, PR, "sec1", "/iamgate approve");
    s.deliver_comment(PR, id, "sec1", "/iamgate approve", "edited")
        .await;
    assert_nothing_happened(&s, &head, id, before).await;
    s.deliver_comment(PR, id, "sec1", "/iamgate approve", "deleted")
        .await;
    assert_nothing_happened(&s, &head, id, before).await;
    assert_eq!(
        s.fake.count_requests("GET", "/orgs/"),
        0,
        "nobody's membership was even looked up"
    );
}

#[tokio::test]
async fn iamgate_s_own_comments_and_other_bots_are_ignored() {
    let (s, head) = analyzed::<FakeGitHub>(CONFIG).await;
    let before = s.audit().await.len();
    let bot = s.fake.bot_login();
    for login in [bot.as_str(), "dependabot[bot]"] {
        s.deliver_comment(
            PR,
            4242,
            login,
            "/iamgate approve\n/iamgate override ship it",
            "created",
        )
        .await;
        assert_nothing_happened(&s, &head, 4242, before).await;
    }
}

async fn commands_in_code_blocks_and_quotes_are_ignored<F: Forge>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    let before = s.audit().await.len();
    let quoted = "To approve, write:\n```\n/iamgate approve\n```\n> /iamgate approve\n\n    /iamgate approve\n";
    let id = s.comment(PR, "sec1", quoted).await;
    assert_nothing_happened(&s, &head, id, before).await;

    // Next to a real command, only the real one runs.
    let mixed = format!("{quoted}\n/iamgate help");
    let id = s.comment(PR, "sec1", &mixed).await;
    s.settle().await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, id), @"
    <!-- iamgate:reply:[id] -->
    Write a command at the start of a line in a new comment on the pull request. Lines in code blocks and quotes are ignored, and editing a comment never runs anything.

    | command | what it does | who may use it |
    | --- | --- | --- |
    | `/iamgate help` | Show this list of commands. | anyone |
    | `/iamgate rerun` | Analyze the pull request's head again (after a flaky preview, say). | the PR author, anyone with write access |
    | `/iamgate approve [reason]` | Approve the current IAM change, like an approving review; the reason is shown and recorded. | anyone; counts only for a requirement you qualify for, never for the PR author unless `allow_author_approval` |
    | `/iamgate unapprove` | Withdraw your approval. | anyone |
    | `/iamgate override <reason>` | Let this IAM change through without the required approvals; the reason is required, shown and recorded, and the override ends when the IAM change does. | members of `overrides` in `.iamgate.yml` |
    | `/iamgate explain <rule-id>` | Show a rule's rationale, an example and how to fix it. | anyone |

    `/iamgate` alone shows this help. Command names and rule ids are case-insensitive; a reason is kept as written, up to 500 characters. At most 10 commands are read from one comment.
    ");
    }
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
}

async fn an_override_by_a_member_passes_by_a_non_member_is_refused_and_a_new_change_ends_it<
    F: Forge,
>() {
    let (s, head) = analyzed::<F>(&config_with(OVERRIDES)).await;
    s.add_member("acme/leads", "lead1");

    let refused = s.comment(PR, "mallory", "/iamgate override trust me").await;
    s.settle().await;
    assert_eq!(s.reactions(PR, refused), ["eyes"]);
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, refused), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate override`: refused. Only members of `overrides` in .iamgate.yml can override the gate. Ask one of them, or get the required approvals.
    ");
    }
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    let audit = s.audit().await;
    assert!(
        audit.iter().any(|e| e.actor.as_str() == "mallory"
            && matches!(&e.event, AuditEvent::CommandRefused { command, .. } if command == "/iamgate override")),
        "{audit:#?}"
    );

    let id = s
        .comment(PR, "lead1", "/iamgate override incident #42 hotfix")
        .await;
    s.settle().await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, id), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate override`: override recorded on `33112ee` with the reason “incident #42 hotfix”. The status turns success for this IAM change; a different IAM change needs a new override.
    ");
    }
    s.assert_gate(&head, "success", "overridden by lead1: incident #42 hotfix")
        .await;
    let section = reviews(&s.report(PR));
    insta::allow_duplicates! {
        insta::assert_snapshot!(section, @"
        ### Reviews

        **Overridden** by @lead1: incident #42 hotfix

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice |
        ");
    }
    let audit = s.audit().await;
    assert!(
        audit.iter().any(|e| e.actor.as_str() == "lead1"
            && matches!(&e.event, AuditEvent::Override { reason, fingerprint: Some(_) } if reason == "incident #42 hotfix")),
        "{audit:#?}"
    );

    // A different IAM change is not overridden.
    s.pulumi().replay(STACK, fixture(OTHER_IAM));
    let h2 = s.push(PR, "h2").await;
    s.settle().await;
    s.assert_gate(&h2, "pending", NEEDS_SECURITY).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(reviews(&s.report(PR)), @"
        ### Reviews

        | Requirement | Approvals | Approved by | Still needed |
        | --- | --- | --- | --- |
        | security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @alice |
        ");
    }
    s.assert_chain_verifies().await;
}

async fn explain_shows_a_known_rule_and_refuses_an_unknown_one_with_near_matches<F: Forge>() {
    let (s, _head) = analyzed::<F>(CONFIG).await;
    let known = s
        .comment(PR, "mallory", "/iamgate explain aws-mp-001")
        .await;
    s.settle().await;
    assert_eq!(s.reactions(PR, known), ["eyes"]);
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, known), @r#"
    <!-- iamgate:reply:[id] -->
    **AWS-MP-001: AWS managed `AdministratorAccess` attached (context)**

    Category `admin-access`, default severity `info` (a repository can change it with `risk.severity` in `.iamgate.yml`).

    **Why it matters.** `AdministratorAccess` allows every action on every resource: whoever can use this principal (a CI job, a leaked key, code running as the role) controls the whole account. iamgate knows the document of every AWS managed policy and analyzes it like any other policy, so what it grants is reported by the content rules (wildcard, escalation, exposure, ...) with their own severities; this finding only names the well-known policy and scores nothing.

    **Example.**

    ```json
    {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}
    ```

    **How to fix.** Act on the content findings of the same principal (AWS-WC-001 for `AdministratorAccess`). Attach a policy with the actions the workload needs instead (IAM Access Analyzer can generate one from CloudTrail activity); keep `AdministratorAccess` for a few break-glass human roles that require MFA.

    [All rules](https://github.com/iamgate/iamgate/blob/main/docs/rules.md#aws-mp-001)
    "#);
    }

    let unknown = s.comment(PR, "mallory", "/iamgate explain AWS-MP-01").await;
    s.settle().await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, unknown), @"
    <!-- iamgate:reply:[id] -->
    There is no rule `AWS-MP-01`. Did you mean `AWS-MP-001`, `AWS-MP-002`, `AWS-MP-003`, `AWS-MP-004`, `AWS-MP-005`? Rule ids look like `AWS-PE-009`; `iamgate rules` and `docs/rules.md` list them all.
    ");
    }
    let audit = s.audit().await;
    assert!(
        matches!(of_kind(&audit, "command_refused")[..], [e] if e.actor.as_str() == "mallory"),
        "{audit:#?}"
    );
}

async fn help_lists_every_command<F: Forge>() {
    let (s, _head) = analyzed::<F>(CONFIG).await;
    let id = s.comment(PR, "mallory", "/iamgate help").await;
    s.settle().await;
    assert_eq!(s.reactions(PR, id), ["eyes"]);
    let reply = s.reply(PR, id);
    for spec in iamgate::commands::COMMANDS {
        assert!(
            reply.contains(&format!("`{}`", spec.usage())),
            "{}: {reply}",
            spec.usage()
        );
    }
}

async fn rerun_by_a_writer_previews_again_and_by_a_stranger_is_refused<F: Forge>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    assert_eq!(s.pulumi().invocations().len(), 1);

    let refused = s.comment(PR, "mallory", "/iamgate rerun").await;
    s.settle().await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, refused), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate rerun`: refused. Only the pull request's author and people with write access to the repository can rerun the analysis (a rerun executes the pull request's code).
    ");
    }
    assert_eq!(s.pulumi().invocations().len(), 1);

    // alice has write access.
    let id = s.comment(PR, "alice", "/iamgate rerun").await;
    s.settle().await;
    assert_eq!(short(&head), "33112ee");
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, id), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate rerun`: previewing `33112ee` again; the comment and the status follow.
    ");
    }
    assert_eq!(s.pulumi().invocations().len(), 2, "previewed again");
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    let audit = s.audit().await;
    assert!(
        matches!(of_kind(&audit, "command_refused")[..], [e] if e.actor.as_str() == "mallory"),
        "{audit:#?}"
    );
}

async fn commands_on_a_closed_pr_are_refused_with_a_reply<F: Forge>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    s.close(PR);
    let id = s.comment(PR, "sec1", "/iamgate approve").await;
    s.settle().await;
    assert_eq!(s.reactions(PR, id), ["eyes"]);
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, id), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate approve`: refused. This pull request is closed: commands that change the gate are not run. Reopen it first.
    ");
    }
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    let audit = s.audit().await;
    assert!(of_kind(&audit, "approval").is_empty(), "{audit:#?}");
    assert_eq!(of_kind(&audit, "command_refused").len(), 1, "{audit:#?}");
}

async fn a_retried_command_job_replies_and_votes_once<F: Forge>() {
    let (s, head) = analyzed::<F>(CONFIG).await;
    // Every attempt of the client to post the reply fails: the job fails and is retried.
    s.fail("POST", &s.comments_path(PR), 0, 4, Fail::Error500);
    let id = s.comment(PR, "sec1", "/iamgate approve").await;
    let summary = s.settle().await;

    assert!(summary.retried >= 1, "{summary:?}");
    assert_eq!(summary.dead_lettered, 0, "{summary:?}");
    assert_eq!(s.reactions(PR, id), ["eyes"]);
    s.reply(PR, id);
    s.assert_gate(&head, "success", APPROVED).await;
    let audit = s.audit().await;
    assert_eq!(of_kind(&audit, "approval").len(), 1, "{audit:#?}");
    s.report(PR);

    // A redelivery of the same comment (a new delivery id) does not answer again either.
    s.redeliver_comment(PR, id, "sec1", "/iamgate approve")
        .await;
    s.settle().await;
    s.reply(PR, id);
    assert_eq!(of_kind(&s.audit().await, "approval").len(), 1);
}

/// A refusal is recorded once, like a vote, however often its job is retried.
async fn a_retried_refused_command_is_audited_once<F: Forge>() {
    let (s, _head) = analyzed::<F>(CONFIG).await;
    s.fail("POST", &s.comments_path(PR), 0, 4, Fail::Error500);
    let id = s
        .comment(PR, "mallory", "/iamgate approve\n/iamgate frobnicate")
        .await;
    let summary = s.settle().await;

    assert!(summary.retried >= 1, "{summary:?}");
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, id), @"
    <!-- iamgate:reply:[id] -->
    `/iamgate approve`: refused. You are not among the reviewers of any requirement of .iamgate.yml (`reviews[].from`: teams you are an active member of, or users), so your approval would not count.

    `frobnicate` is not an iamgate command. `/iamgate help` lists the commands.
    ");
    }
    let audit = s.audit().await;
    assert_eq!(
        of_kind(&audit, "command_refused").len(),
        2,
        "one per refused line: {audit:#?}"
    );
    s.assert_chain_verifies().await;
}
