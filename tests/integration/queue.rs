//! The queue under load and under failure, end to end on both forges: commands and gate
//! decisions never wait behind previews (the fast lane: here the real worker runs, with every
//! preview worker held by a preview that waits); one person's commands are held to `[worker]
//! command_rate_per_minute`, and no command costs a listing of the pull request's comments; a
//! job the queue gives up tells its pull request — a failure status on the head and the comment
//! saying what failed, in place of an earlier `success`, until a run succeeds — and a comment
//! whose commands were given up is answered to comment again. Fairness between repositories is
//! tested at the store (`src/store/sqlite/tests/lanes.rs`): the fakes serve one repository.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::approvals::{ADMIN_ATTACH, APPROVED, NEEDS_SECURITY, PR, shown_reply};
use crate::support::app::{Fail, Forge, Options, STACK, TestApp, fixture, wait_until};

/// A preview that changes no IAM.
const NO_IAM: &str = "previews/pitfall-aws-s3-tags-update-secret.preview.json";
const NO_IAM_STATUS: &str = "no IAM change";

/// iamgate's listings of the comments of PR `number` (the reactions under them not counted).
fn listings<F: Forge>(s: &TestApp<F>, number: u64) -> usize {
    let path = s.comments_path(number);
    s.calls()
        .iter()
        .filter(|(method, p, _)| method == "GET" && p.split('?').next() == Some(path.as_str()))
        .count()
}

async fn an_approval_is_answered_and_decided_while_previews_hold_every_preview_worker<F: Forge>() {
    // The harness runs `[worker] concurrency = 2`: two preview workers.
    let s = TestApp::<F>::start().await;
    let head = s.enroll(PR, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(PR).await;
    s.settle().await;
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;

    // Two other pull requests' previews take as long as the test wants.
    let earlier = s.pulumi().invocations().len();
    s.pulumi().block(STACK, fixture(NO_IAM));
    let others: Vec<String> = [8, 9]
        .into_iter()
        .map(|number| s.enroll(number, &format!("other{number}")))
        .collect();
    let shutdown = CancellationToken::new();
    let worker = s.service().worker().clone();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { worker.run(shutdown).await }
    });
    for number in [8, 9] {
        s.open(number).await;
    }
    wait_until("both previews to run", Duration::from_secs(20), || {
        s.pulumi().invocations().len() == earlier + 2
    })
    .await;

    let id = s.comment(PR, "sec1", "/iamgate approve").await;
    wait_until(
        "the approval's reply and the gate decided again",
        Duration::from_secs(10),
        || {
            !s.replies(PR, id).is_empty()
                && s.statuses(&head)
                    .last()
                    .is_some_and(|(state, _)| state == "success")
        },
    )
    .await;
    assert_eq!(
        s.pulumi().invocations().len(),
        earlier + 2,
        "decided while both previews still ran"
    );
    for other in &others {
        assert!(
            s.statuses(other)
                .iter()
                .all(|(state, _)| state == "pending"),
            "the held previews have not finished: {:?}",
            s.statuses(other)
        );
    }
    assert!(
        shown_reply(&s, id).contains("approval recorded"),
        "{}",
        shown_reply(&s, id)
    );
    s.assert_gate(&head, "success", APPROVED).await;

    s.pulumi().release(STACK);
    for other in &others {
        wait_until(
            "the held previews to finish",
            Duration::from_secs(20),
            || {
                s.statuses(other)
                    .last()
                    .is_some_and(|(state, _)| state == "success")
            },
        )
        .await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the worker stops")
        .expect("join");
    for other in &others {
        s.assert_gate(other, "success", NO_IAM_STATUS).await;
    }
}

async fn commands_past_the_rate_get_one_short_reply_and_no_command_lists_the_comments<F: Forge>() {
    let s = TestApp::<F>::start_with(Options {
        worker_keys: "command_rate_per_minute = 2\n",
        ..Options::default()
    })
    .await;
    let head = s.enroll(PR, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(PR).await;
    s.settle().await;
    let before = listings(&s, PR);

    let first = s.comment(PR, "mallory", "/iamgate help").await;
    let second = s.comment(PR, "mallory", "/iamgate approve").await;
    s.settle().await;
    assert!(s.reply(PR, first).contains("/iamgate approve"), "the help");
    assert!(shown_reply(&s, second).contains("refused"));

    let third = s.comment(PR, "mallory", "/iamgate help").await;
    let fourth = s.comment(PR, "mallory", "/iamgate approve").await;
    s.settle().await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(shown_reply(&s, third), @"
        <!-- iamgate:reply:[id] -->
        You gave iamgate commands in more than 2 comments in this repository within a minute, so the commands of this comment were not run, and comments with commands in the next minute get no answer. Wait a minute, then comment again.
        ");
    }
    assert!(s.replies(PR, fourth).is_empty(), "one reply per minute");
    assert!(s.reactions(PR, third).is_empty() && s.reactions(PR, fourth).is_empty());
    let audit = s.audit().await;
    let refused = audit
        .iter()
        .filter(|e| e.event.kind() == "command_refused")
        .count();
    assert_eq!(
        refused, 2,
        "the refused approval and the one told: {audit:#?}"
    );

    // Someone else's commands still run.
    let approval = s.comment(PR, "sec1", "/iamgate approve").await;
    s.settle().await;
    assert!(shown_reply(&s, approval).contains("approval recorded"));
    s.assert_gate(&head, "success", APPROVED).await;

    // A redelivered comment is known to be answered without asking the forge.
    s.redeliver_comment(PR, approval, "sec1", "/iamgate approve")
        .await;
    s.settle().await;
    s.reply(PR, approval);
    assert_eq!(
        listings(&s, PR),
        before,
        "no command listed the pull request's comments"
    );
}

/// A server that gives a job up after 2 attempts, with PR 7 analyzed with the preview `preview`.
async fn analyzed_giving_up_after_two<F: Forge>(preview: &str) -> (TestApp<F>, String) {
    let s = TestApp::<F>::start_with(Options {
        max_attempts: 2,
        ..Options::default()
    })
    .await;
    let head = s.enroll(PR, "h1");
    s.pulumi().replay(STACK, fixture(preview));
    s.open(PR).await;
    s.settle().await;
    (s, head)
}

async fn an_analysis_given_up_fails_the_head_until_one_succeeds<F: Forge>() {
    let (s, head) = analyzed_giving_up_after_two::<F>(NO_IAM).await;
    s.assert_gate(&head, "success", NO_IAM_STATUS).await;

    // The head can no longer be downloaded: a rerun fails every attempt and is given up.
    s.fail("GET", &s.archive_path(), 0, 1000, Fail::Error500);
    let rerun = s.comment(PR, "dev", "/iamgate rerun").await;
    let summary = s.settle().await;
    assert_eq!(summary.dead_lettered, 1, "{summary:?}");
    assert!(shown_reply(&s, rerun).contains("previewing"));
    let (state, description) = s.status(&head);
    assert_eq!(state, "failure", "not the earlier success: {description}");
    assert!(
        description
            .starts_with("iamgate could not analyze this pull request: gave up after 2 attempts: "),
        "{description}"
    );
    assert!(description.chars().count() <= 140, "{description}");
    let report = s.report(PR);
    assert!(
        report.contains("could not analyze this pull request")
            && report.contains("What failed: gave up after 2 attempts")
            && report.contains("/iamgate rerun"),
        "{report}"
    );

    // Once the forge answers again, a run replaces both.
    s.clear_faults();
    s.comment(PR, "dev", "/iamgate rerun").await;
    s.settle().await;
    s.assert_gate(&head, "success", NO_IAM_STATUS).await;
    assert!(!s.report(PR).contains("could not analyze"));
}

async fn a_command_given_up_is_answered_to_comment_again<F: Forge>() {
    let (s, head) = analyzed_giving_up_after_two::<F>(ADMIN_ATTACH).await;

    let body = "/iamgate approve";
    let id = s.add_person_comment(PR, "sec1", body);
    s.fail("POST", &s.reactions_path(PR, id), 0, 1000, Fail::Error500);
    s.redeliver_comment(PR, id, "sec1", body).await;
    let summary = s.settle().await;
    assert_eq!(summary.dead_lettered, 1, "{summary:?}");
    let reply = shown_reply(&s, id);
    assert!(
        reply.contains("iamgate could not process the commands of this comment")
            && reply.contains("comment the commands again to retry"),
        "{reply}"
    );
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;

    s.clear_faults();
    let again = s.comment(PR, "sec1", body).await;
    s.settle().await;
    assert!(shown_reply(&s, again).contains("approval recorded"));
    s.assert_gate(&head, "success", APPROVED).await;
}

crate::both_forges!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    an_approval_is_answered_and_decided_while_previews_hold_every_preview_worker,
    commands_past_the_rate_get_one_short_reply_and_no_command_lists_the_comments,
    an_analysis_given_up_fails_the_head_until_one_succeeds,
    a_command_given_up_is_answered_to_comment_again,
);
