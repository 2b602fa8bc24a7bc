//! The pull request scenarios, end to end on both forges: authentic webhooks through the real
//! router, the durable queue, the real forge client against the fake GitHub or the fake GitLab,
//! the fake pulumi. Each asserts what a person would see on the forge: the one comment (note),
//! the `iamgate` status, the review requests, and which previews ran. The bodies are written
//! once over [`Forge`] and run as `github::<name>` and `gitlab::<name>`; what only one
//! forge has (GitHub's signatures and `ready_for_review`) stays GitHub-specific below, GitLab's
//! in `gitlab_scenarios.rs`.

use std::time::Duration;

use axum::http::StatusCode;
use iamgate::config::Secret;
use iamgate::webhook::verify::github_signature_for;

use crate::support::app::{
    CONFIG, Fail, Forge, MARKER, Options, PULUMI_TOKEN, REPO, STACK, TestApp, fixture, wait_until,
};
use crate::support::fake_github::FakeGitHub;
use crate::support::fake_pulumi::FakePulumi;

const ADMIN_ATTACH: &str = "corpus/admin-attach.preview.json";
/// A real preview that changes no IAM (an S3 bucket's tags).
const NO_IAM: &str = "previews/pitfall-aws-s3-tags-update-secret.preview.json";
const ANALYZING: (&str, &str) = ("pending", "analyzing the IAM change");
const NEEDS_SECURITY: &str = "needs 1 approval from acme/security or alice";
const APPROVED: &str = "IAM risk critical: required approvals given";

fn status(state: &str, description: &str) -> (String, String) {
    (state.to_owned(), description.to_owned())
}

/// The comment as the forge displays it: Markdown backslash escapes removed (so that key paths
/// such as `stacks[0].dir` read as written).
fn displayed(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(char::is_ascii_punctuation) {
            continue;
        }
        out.push(c);
    }
    out
}

/// A comment for a snapshot: without the Commands list (snapshotted whole elsewhere), the
/// version and fingerprint redacted.
fn without_commands(body: &str) -> String {
    let body = redacted(body);
    match (
        body.find("<details><summary>Commands"),
        body.find("\n---\n"),
    ) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{}", &body[..start], &body[end + 1..])
        }
        _ => body,
    }
}

/// The comment with what changes between builds redacted: the version and the fingerprint.
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

crate::both_forges!(
    a_ci_stack_is_never_previewed_here_and_waits_for_ci,
    a_preview_submitted_by_ci_is_analyzed_as_one_run_here,
    a_symlinked_iamgate_yml_is_refused_alike_on_both_forges,
    a_repository_without_iamgate_yml_gets_no_comment_and_no_status,
    a_change_without_iam_succeeds,
    a_change_outside_narrowed_paths_gets_a_status_and_no_preview,
    by_default_a_change_to_any_file_is_previewed,
    a_risky_change_asks_for_reviews_once_per_fingerprint,
    a_broken_config_on_the_base_fails_closed_listing_every_problem,
    a_failed_preview_fails_the_status_and_shows_its_stderr_with_secrets_masked,
    a_preview_past_its_timeout_fails_and_its_process_group_is_killed,
    a_result_for_an_outdated_head_is_never_posted,
    deliveries_for_one_pr_coalesce_into_one_run_for_the_newest_head,
    a_redelivery_is_acknowledged_and_does_nothing,
    an_oversized_body_is_refused_with_413_and_not_stored,
    a_weakened_config_in_the_pr_head_is_ignored,
    guardrails_tightened_on_the_base_branch_hold_back_open_prs,
    without_its_base_branch_a_pr_is_judged_by_the_config_at_its_base_commit,
    a_config_change_alone_is_high_risk_and_its_problems_are_shown,
    resource_names_cannot_inject_markup_mentions_or_the_marker,
    a_fork_pr_is_not_previewed_and_not_passed,
    an_ambiguous_comment_failure_and_a_rate_limit_converge,
    repeated_server_errors_on_comment_and_status_converge_through_job_retries,
    a_marker_pasted_by_a_person_is_not_taken_for_iamgates_comment,
);

// ---- enrolment and outcomes ----

async fn a_repository_without_iamgate_yml_gets_no_comment_and_no_status<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.unenrolled(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    let summary = s.settle().await;

    assert_eq!(summary.completed, 1, "{summary:?}");
    assert!(s.comments(7).is_empty());
    assert!(s.statuses(&head).is_empty());
    assert!(s.pulumi().invocations().is_empty());
    assert_eq!(s.config_lookups(), 1, "the config was looked for");
}

async fn a_change_without_iam_succeeds<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(NO_IAM));
    s.open(7).await;
    s.settle().await;

    assert_eq!(
        s.statuses(&head),
        [
            status(ANALYZING.0, ANALYZING.1),
            status("success", "no IAM change")
        ]
    );
    insta::allow_duplicates! {
        insta::assert_snapshot!(without_commands(&s.the_comment(7)), @"
        <!-- iamgate:report -->
        ## ✅ iamgate: no IAM risk

        ### Stack `prod`: ✅ no IAM risk

        This preview changes no IAM.

        ---
        <sub>iamgate [version] · change fingerprint `[fingerprint]`</sub>
        ");
    }
    assert_eq!(s.pulumi().invocations().len(), 1);
    assert_eq!(s.review_requests(7), Default::default());
}

/// The harness's config with the stack's `paths` narrowed to its directory.
fn narrowed() -> String {
    CONFIG.replace(
        "    stack: acme/prod\n",
        "    stack: acme/prod\n    paths: [\"infra/**\"]\n",
    )
}

/// Narrowed `paths` (an explicit choice, which check-config notes): a change outside them is
/// not previewed.
async fn a_change_outside_narrowed_paths_gets_a_status_and_no_preview<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll_with(7, "h1", &narrowed());
    s.changed_files(7, &["README.md", "docs/guide.md"]);
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;

    assert!(s.pulumi().invocations().is_empty());
    assert_eq!(s.archive_downloads(), 0);
    assert!(s.comments(7).is_empty());
    assert_eq!(s.status(&head), status("success", "no IAM change"));
}

/// `paths` defaults to every file: a pull request that changes only a shared module the program
/// imports and the root `package.json` is previewed like any other (an earlier default let it
/// through as "no IAM change").
async fn by_default_a_change_to_any_file_is_previewed<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    s.changed_files(7, &["lib/policies.ts", "package.json"]);
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;

    assert_eq!(s.pulumi().invocations().len(), 1);
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
}

async fn a_risky_change_asks_for_reviews_once_per_fingerprint<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    let summary = s.settle().await;
    assert_eq!(summary.completed, 1, "{summary:?}");

    let body = s.the_comment(7);
    assert!(body.starts_with(MARKER), "{body}");
    // The same report on every forge, but for one note where the forge cannot ask a group.
    let report = if F::ASKS_TEAMS {
        assert!(!body.contains("cannot ask a group"), "{body}");
        body.clone()
    } else {
        let note = "> ⚠️ This forge cannot ask a group to review, so iamgate did not: approvals are \
                    still needed from members of acme/security. They can approve the merge request \
                    or comment /iamgate approve.\n\n";
        assert!(body.contains(note), "{body}");
        body.replacen(note, "", 1)
    };
    insta::assert_snapshot!("risky_change_comment", redacted(&report));
    assert_eq!(
        s.statuses(&head),
        s.shown(&[ANALYZING, ("pending", NEEDS_SECURITY)])
    );
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    let (teams, users) = s.review_requests(7);
    // GitLab cannot ask a group to review: only the listed user is asked.
    let expected_teams: &[&str] = if F::ASKS_TEAMS { &["security"] } else { &[] };
    assert_eq!(teams, expected_teams);
    assert_eq!(users, ["alice"]);
    assert_eq!(s.review_request_calls(7), 1);
    let invocations = s.pulumi().invocations();
    assert_eq!(invocations.len(), 1);
    assert_eq!(
        invocations[0].args,
        ["preview", "--json", "--non-interactive", "--stack", STACK]
    );
    assert!(
        invocations[0].cwd.ends_with("infra"),
        "runs in the stack's dir: {:?}",
        invocations[0].cwd
    );

    // Another event for the same head (same IAM change): its preview is reused from the cache,
    // the comment is edited, nobody is asked again.
    s.reopen(7).await;
    s.settle().await;
    assert_eq!(
        s.pulumi().invocations().len(),
        1,
        "the same head is not previewed again"
    );
    assert_eq!(s.the_comment(7), body);
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    assert_eq!(
        s.review_request_calls(7),
        1,
        "reviewers are asked once per fingerprint"
    );
    assert_eq!(s.comment_posts(7), 1);
}

async fn a_broken_config_on_the_base_fails_closed_listing_every_problem<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
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
    s.base_file(".iamgate.yml", broken);
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;

    insta::allow_duplicates! {
        insta::assert_snapshot!(without_commands(&displayed(&s.the_comment(7))), @"
        <!-- iamgate:report -->
        ## ❌ iamgate: analysis failed for 1 of 1 stack

        ### Analysis: ❌ analysis failed

        > The .iamgate.yml on the base branch is invalid, so iamgate cannot decide (it fails closed). Fix it on the base branch; `iamgate check-config .iamgate.yml` lists the same problems:
        > version (line 1): unsupported version: expected 1
        > stacks[0].dir (line 3): missing
        > reviews[0].approvals (line 7): expected a whole number from 1 to 20
        > reviews[0].from.teams[0] (line 8): `security` is not a team: use `org/team-slug` (GitLab: the group's full path)

        ---
        <sub>iamgate [version] · change fingerprint `[fingerprint]`</sub>
        ");
    }
    assert_eq!(
        s.status(&head),
        status("failure", "invalid .iamgate.yml on the base branch")
    );
    assert!(s.pulumi().invocations().is_empty());
}

/// A `preview: ci` stack is never previewed by iamgate: until a CI job submits the preview of
/// the head, the status waits for it; a `server` stack of the same repository is previewed as
/// usual.
async fn a_ci_stack_is_never_previewed_here_and_waits_for_ci<F: Forge>() {
    let config = CONFIG.replace(
        "    stack: acme/prod\n",
        "    stack: acme/prod\n    preview: ci\n",
    );
    let s = TestApp::<F>::start().await;
    let head = s.enroll_with(7, "h1", &config);
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;
    assert!(s.pulumi().invocations().is_empty(), "nothing run here");
    assert_eq!(s.archive_downloads(), 0, "no code downloaded");
    assert_eq!(
        s.status(&head),
        status("pending", "waiting for the preview of prod from CI")
    );
    assert!(
        s.the_comment(7)
            .contains("iamgate waits for a CI job to submit the preview"),
        "{}",
        s.the_comment(7)
    );

    // Mixed: the server stack is previewed, the CI one still waits (and holds the status).
    let mixed = config.replace(
        "reviews:",
        "  - name: dev\n    dir: infra\n    stack: acme/dev\nreviews:",
    );
    let s = TestApp::<F>::start().await;
    let head = s.enroll_with(8, "h2", &mixed);
    s.pulumi().replay("acme/dev", fixture(ADMIN_ATTACH));
    s.open(8).await;
    s.settle().await;
    let previewed: Vec<String> = s
        .pulumi()
        .invocations()
        .iter()
        .filter_map(|r| r.stack().map(str::to_owned))
        .collect();
    assert_eq!(previewed, ["acme/dev"], "only the server stack");
    assert_eq!(s.status(&head).0, "pending");
}

/// Stores a preview of `stack` at `commit` as a CI job's submission would.
async fn submit_from_ci<F: Forge>(
    s: &TestApp<F>,
    commit: &str,
    body: Vec<u8>,
    failed: bool,
    jti: &str,
) {
    let forge = F::FORGE;
    // As the submission endpoint does: the pull request is analyzed with it.
    let pr = iamgate::event::PrRef {
        forge: if forge == "github" {
            iamgate::event::ForgeKind::GitHub
        } else {
            iamgate::event::ForgeKind::GitLab
        },
        installation: (forge == "github").then_some(crate::support::fake_github::INSTALLATION_ID),
        repo: REPO.into(),
        number: iamgate::event::PrNumber(7),
    };
    let stored = s
        .service
        .store()
        .put_ci_preview(
            iamgate::store::CiPreview {
                repo_key: format!("{forge}:{REPO}"),
                commit: commit.to_owned(),
                stack: "prod".to_owned(),
                failed,
                body,
                source: "GitHub Actions run 4242 (attempt 1) of acme/infra/.github/workflows/iamgate.yml@refs/heads/main".to_owned(),
                received_ms: 0,
            },
            iamgate::store::CiToken {
                issuer: "https://token.actions.githubusercontent.com".to_owned(),
                jti: jti.to_owned(),
                keep_until_ms: i64::MAX,
            },
            vec![iamgate::store::JobKind::AnalyzePr { pr }],
        )
        .await
        .unwrap();
    assert_eq!(stored, iamgate::store::CiSubmitted::Stored);
}

/// A preview submitted by CI for a `preview: ci` stack is analyzed exactly as a preview run
/// here: the same status and requirements, the comment naming the run that sent it, and
/// nothing run here. A failed one fails the check with its log; an unreadable one fails it too.
async fn a_preview_submitted_by_ci_is_analyzed_as_one_run_here<F: Forge>() {
    let config = CONFIG.replace(
        "    stack: acme/prod\n",
        "    stack: acme/prod\n    preview: ci\n",
    );
    let s = TestApp::<F>::start().await;
    let head = s.enroll_with(7, "h1", &config);
    s.open(7).await;
    s.settle().await;
    assert_eq!(
        s.status(&head),
        status("pending", "waiting for the preview of prod from CI")
    );
    let preview = std::fs::read(fixture(ADMIN_ATTACH)).unwrap();
    submit_from_ci(&s, &head, preview, false, "jti-1").await;
    s.settle().await;
    assert_eq!(
        s.status(&head),
        status("pending", "needs 1 approval from acme/security or alice")
    );
    let comment = s.the_comment(7);
    assert!(
        comment.contains(
            "The preview of stack prod was submitted by CI: GitHub Actions run 4242 (attempt 1)"
        ),
        "{comment}"
    );
    assert!(
        comment.contains("not a preview iamgate ran in its sandbox"),
        "a reviewer is told what a CI preview is worth: {comment}"
    );
    assert!(comment.contains("critical"), "{comment}");
    assert!(s.pulumi().invocations().is_empty(), "nothing run here");
    assert_eq!(s.archive_downloads(), 0);

    // A resubmission of a failed preview replaces it and fails the check with its log.
    submit_from_ci(
        &s,
        &head,
        b"error: getting secrets: access denied\n".to_vec(),
        true,
        "jti-2",
    )
    .await;
    s.settle().await;
    assert_eq!(s.status(&head).0, "failure");
    let comment = s.the_comment(7);
    assert!(
        comment.contains("The preview from CI failed") && comment.contains("access denied"),
        "{comment}"
    );
}

/// GitHub's contents API follows a link to a file of the repository and GitLab's raw file API
/// returns the link's own text: a `.iamgate.yml` that is a symbolic link (here to a permissive
/// copy elsewhere, which anyone could edit without touching `.iamgate.yml`) is refused on both,
/// and the gate fails closed saying why.
async fn a_symlinked_iamgate_yml_is_refused_alike_on_both_forges<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    s.base_file("docs/any-copy.yml", CONFIG);
    s.base_symlink(".iamgate.yml", "docs/any-copy.yml");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;
    assert_eq!(
        s.status(&head),
        status("failure", "invalid .iamgate.yml on the base branch")
    );
    let comment = s.the_comment(7);
    assert!(
        comment
            .contains(".iamgate.yml is a symbolic link: iamgate reads it only as a regular file"),
        "{comment}"
    );
    assert!(s.pulumi().invocations().is_empty());
}

// ---- previews that fail ----

async fn a_failed_preview_fails_the_status_and_shows_its_stderr_with_secrets_masked<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    let stderr = format!(
        "error: failed to load credentials: NoCredentialProviders\ntoken {PULUMI_TOKEN} rejected\n"
    );
    s.pulumi().fail(STACK, 255, &stderr, "");
    s.open(7).await;
    s.settle().await;

    let body = s.the_comment(7);
    insta::allow_duplicates! {
        insta::assert_snapshot!(without_commands(&displayed(&body)), @"
        <!-- iamgate:report -->
        ## ❌ iamgate: analysis failed for 1 of 1 stack

        ### Stack `prod`: ❌ analysis failed

        > pulumi preview failed (exit code 255). The gate stays closed until it succeeds; fix the error and push again.
        > error: failed to load credentials: NoCredentialProviders
        > token *** rejected

        ---
        <sub>iamgate [version] · change fingerprint `[fingerprint]`</sub>
        ");
    }
    assert!(
        !body.contains(PULUMI_TOKEN),
        "a [pulumi.env] value leaked: {body}"
    );
    assert_eq!(
        s.status(&head),
        status(
            "failure",
            "analysis failed for prod: see the iamgate comment"
        )
    );
    assert_eq!(s.review_request_calls(7), 0);
    assert_eq!(s.review_requests(7), Default::default());
}

async fn a_preview_past_its_timeout_fails_and_its_process_group_is_killed<F: Forge>() {
    let s = TestApp::<F>::start_with(Options {
        timeout_secs: 1,
        ..Options::default()
    })
    .await;
    let head = s.enroll(7, "h1");
    s.pulumi().hang(STACK);
    s.open(7).await;
    s.settle().await;

    assert_eq!(
        s.status(&head),
        status(
            "failure",
            "analysis failed for prod: see the iamgate comment"
        )
    );
    insta::allow_duplicates! {
        insta::assert_snapshot!(without_commands(&displayed(&s.the_comment(7))), @"
        <!-- iamgate:report -->
        ## ❌ iamgate: analysis failed for 1 of 1 stack

        ### Stack `prod`: ❌ analysis failed

        > pulumi preview did not finish within 1s; raise [pulumi] timeout_secs or make the preview faster

        ---
        <sub>iamgate [version] · change fingerprint `[fingerprint]`</sub>
        ");
    }
    let (leader, grandchild) = s.pulumi().hung_pids(STACK).expect("the preview started");
    wait_until(
        "the preview's process group to die",
        Duration::from_secs(5),
        || !FakePulumi::is_alive(leader) && !FakePulumi::is_alive(grandchild),
    )
    .await;
}

// ---- heads, coalescing, duplicates ----

async fn a_result_for_an_outdated_head_is_never_posted<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let old = s.enroll(7, "h1");
    // The first run previews the risky fixture, and waits for the test to let it finish.
    s.pulumi().block(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    let worker = s.service().worker().clone();
    let running = tokio::spawn(async move { worker.run_until_idle().await });
    wait_until("the first preview", Duration::from_secs(10), || {
        !s.pulumi().invocations().is_empty()
    })
    .await;

    // While it runs, the author pushes a head that changes no IAM.
    s.pulumi().replay(STACK, fixture(NO_IAM));
    let new = s.push(7, "h2").await;
    s.pulumi().release(STACK);
    running.await.unwrap().unwrap();
    s.settle().await;

    let invocations = s.pulumi().invocations();
    assert_eq!(invocations.len(), 2, "{invocations:?}");
    let cwd = invocations[1].cwd.display().to_string();
    assert!(
        cwd.contains(&new[..7]),
        "the second run previews the new head: {cwd}"
    );
    assert_eq!(
        s.statuses(&old),
        [status(ANALYZING.0, ANALYZING.1)],
        "no result on the outdated head"
    );
    assert_eq!(s.status(&new), status("success", "no IAM change"));
    let body = s.the_comment(7);
    assert!(
        !body.contains("AWS-MP-001") && !body.contains("critical"),
        "the outdated head's findings were posted: {body}"
    );
    assert_eq!(s.review_request_calls(7), 0);
    assert_eq!(s.review_requests(7), Default::default());
}

async fn deliveries_for_one_pr_coalesce_into_one_run_for_the_newest_head<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let h1 = s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    let h2 = s.push(7, "h2").await;
    let h3 = s.push(7, "h3").await;
    s.deliver_edit(7).await;
    let summary = s.settle().await;

    assert_eq!(
        summary.completed, 1,
        "one job for four deliveries: {summary:?}"
    );
    let invocations = s.pulumi().invocations();
    assert_eq!(invocations.len(), 1, "{invocations:?}");
    assert!(invocations[0].cwd.display().to_string().contains(&h3[..7]));
    assert!(s.statuses(&h1).is_empty());
    assert!(s.statuses(&h2).is_empty());
    s.assert_gate(&h3, "pending", NEEDS_SECURITY).await;
    s.the_comment(7);
}

// ---- the webhook edge ----

/// A delivery sent again with the same id (GitHub's `X-GitHub-Delivery`, GitLab's
/// `Idempotency-Key` with a new event UUID) is acknowledged and acted on once.
async fn a_redelivery_is_acknowledged_and_does_nothing<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    let body = s.open_payload(7);
    let id = s.delivery_id();
    assert_eq!(
        s.deliver_open_as(&id, body.clone()).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(s.deliver_open_as(&id, body.clone()).await, StatusCode::OK);
    assert_eq!(s.queue().await.pending, 1);
    let summary = s.settle().await;
    assert_eq!(summary.completed, 1);

    // Redelivered after the job ran: still nothing.
    assert_eq!(s.deliver_open_as(&id, body).await, StatusCode::OK);
    let again = s.settle().await;
    assert_eq!(again.completed, 0);
    assert_eq!(s.pulumi().invocations().len(), 1);
    assert_eq!(
        s.statuses(&head),
        s.shown(&[ANALYZING, ("pending", NEEDS_SECURITY)])
    );
    s.the_comment(7);
}

/// Asserts a refused delivery left nothing: no job, no preview, no call to the forge.
pub(crate) async fn assert_refused_left_nothing<F: Forge>(s: &TestApp<F>) {
    assert_eq!(s.queue().await, Default::default(), "no job");
    assert_eq!(s.settle().await.completed, 0);
    assert!(s.pulumi().invocations().is_empty());
    assert_eq!(s.forge_calls(), 0, "the forge was not called");
}

async fn an_oversized_body_is_refused_with_413_and_not_stored<F: Forge>() {
    let s = TestApp::<F>::start_with(Options {
        max_body_bytes: 64 * 1024,
        ..Options::default()
    })
    .await;
    s.enroll(7, "h1");
    let big = s.oversized_open_payload(7, 100 * 1024);
    let id = s.delivery_id();
    assert_eq!(
        s.deliver_open_as(&id, big).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(s.queue().await, Default::default());
    assert_eq!(
        s.deliver_open_as(&id, s.open_payload(7)).await,
        StatusCode::ACCEPTED,
        "the refused delivery was not stored"
    );
}

// ---- what a PR cannot do ----

async fn a_weakened_config_in_the_pr_head_is_ignored<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    // The head drops the review requirement and disables the rule that fires.
    let weakened = "\
version: 1
stacks:
  - name: prod
    dir: infra
    stack: acme/prod
risk: { disable: [\"AWS-MP-001\"] }
";
    s.head_commit(&head, weakened);
    s.changed_files(7, &[".iamgate.yml", "infra/index.ts"]);
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;

    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    let body = displayed(&s.the_comment(7));
    assert!(
        body.contains("AWS-MP-001"),
        "the disabled rule still fires: {body}"
    );
    assert!(
        body.contains("changes .iamgate.yml") && body.contains("base branch's copy still governs"),
        "the comment notes the config change: {body}"
    );
    assert_eq!(s.review_request_calls(7), 1);
}

/// A pull request that passed under the base branch's old `.iamgate.yml` is analyzed again when
/// a push to the base branch changes the file, and read with the new one: tightened guardrails
/// hold it back before it merges. A push that does not touch the file analyzes nothing.
async fn guardrails_tightened_on_the_base_branch_hold_back_open_prs<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let lax = "\
version: 1
stacks:
  - name: prod
    dir: infra
    stack: acme/prod
";
    let head = s.enroll_with(7, "h1", lax);
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;
    assert_eq!(s.status(&head).0, "success", "{}", s.report(7));

    // A push to the base branch that leaves .iamgate.yml alone analyzes nothing.
    let calls = s.forge_calls();
    s.push_to_base("base2", lax, &["README.md"]).await;
    let summary = s.settle().await;
    assert_eq!(summary.completed, 0, "{summary:?}");
    assert_eq!(s.forge_calls(), calls);
    assert_eq!(s.status(&head).0, "success");

    // Security adds a review requirement on the base branch.
    s.push_to_base("base3", CONFIG, &[".iamgate.yml"]).await;
    s.settle().await;
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    assert_eq!(
        s.pulumi().invocations().len(),
        1,
        "the unchanged head's preview came from the cache"
    );
    assert!(
        s.report(7).contains("acme/security"),
        "the comment shows the new requirement: {}",
        s.report(7)
    );
    // The approval the new guardrails ask for lifts the gate again.
    s.add_member("acme/security", "sec1");
    s.comment(7, "sec1", "/iamgate approve").await;
    s.settle().await;
    s.assert_gate(&head, "success", APPROVED).await;
}

/// The config is read at the base branch's tip; when the branch is gone (deleted while the pull
/// request stays open), the pull request's own base commit governs: never "not enrolled".
async fn without_its_base_branch_a_pr_is_judged_by_the_config_at_its_base_commit<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    s.delete_base_branch();
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
}

async fn a_config_change_alone_is_high_risk_and_its_problems_are_shown<F: Forge>() {
    let s = TestApp::<F>::start().await;
    // Narrowed paths: the config change is the only reason to look at this pull request.
    let head = s.enroll_with(7, "h1", &narrowed());
    s.head_commit(&head, "version: 1\nstacks: []\n");
    s.changed_files(7, &[".iamgate.yml"]);
    s.open(7).await;
    s.settle().await;

    assert!(s.pulumi().invocations().is_empty());
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    insta::allow_duplicates! {
        let body = displayed(&s.the_comment(7));
        let note = body.lines().find(|l| l.contains(".iamgate.yml, the guardrails themselves"));
        insta::assert_snapshot!(note.unwrap_or(&body), @"> ⚠️ This pull request changes .iamgate.yml, the guardrails themselves: it is reviewed as high risk, and the base branch's copy still governs this pull request. Its new copy is invalid and would stop iamgate after merge: stacks (line 2): empty: at least one entry is needed");
    }
}

async fn resource_names_cannot_inject_markup_mentions_or_the_marker<F: Forge>() {
    let s = TestApp::<F>::start().await;
    s.enroll(7, "h1");
    s.pulumi()
        .replay(STACK, fixture("server/injection.preview.json"));
    s.open(7).await;
    s.settle().await;

    let body = s.the_comment(7); // asserts exactly one marker
    assert!(body.starts_with(MARKER), "{body}");
    let fences = body
        .lines()
        .filter(|l| l.trim_start().starts_with("```"))
        .count();
    assert_eq!(fences % 2, 0, "an unclosed code fence: {body}");
    // What the forge interprets as Markdown and HTML: everything outside code.
    let markup = outside_code(&body);
    assert!(
        !markup.contains("@org/team"),
        "a raw mention outside code: {markup}"
    );
    assert_eq!(
        markup.matches("<details>").count(),
        markup.matches("</details>").count(),
        "a <details> closed by the resource name: {markup}"
    );
    assert_eq!(
        markup.matches("<!--").count(),
        1,
        "an imitated marker: {markup}"
    );
    assert!(displayed(&body).contains("ops"), "{body}");
}

/// `body` without fenced code blocks and inline code spans (CommonMark: a span ends at the next
/// run of exactly as many backticks), where nothing is interpreted.
fn outside_code(body: &str) -> String {
    let mut text = String::new();
    let mut fence: Option<usize> = None;
    for line in body.lines() {
        let trimmed = line.trim_start();
        let ticks = trimmed.chars().take_while(|c| *c == '`').count();
        match fence {
            Some(open) if ticks >= open && trimmed[ticks..].trim().is_empty() => fence = None,
            Some(_) => {}
            None if ticks >= 3 => fence = Some(ticks),
            None => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let run = rest[start..].chars().take_while(|c| *c == '`').count();
        let after = &rest[start + run..];
        let delimiter = "`".repeat(run);
        let mut search = 0;
        let mut end = None;
        while let Some(found) = after[search..].find(&delimiter) {
            let at = search + found;
            let longer = after[at + run..].starts_with('`');
            if !longer && (at == 0 || !after[..at].ends_with('`')) {
                end = Some(at);
                break;
            }
            search = at + after[at..].chars().take_while(|c| *c == '`').count();
        }
        match end {
            Some(at) => rest = &after[at + run..],
            None => {
                out.push_str(&rest[start..start + run]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

async fn a_fork_pr_is_not_previewed_and_not_passed<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    s.make_fork(7, "mallory/infra");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;

    assert!(s.pulumi().invocations().is_empty());
    assert_eq!(s.archive_downloads(), 0);
    let (state, description) = s.status(&head);
    assert_ne!(state, "success");
    insta::allow_duplicates! {
        insta::assert_snapshot!(description, @"fork PR not previewed: a maintainer must review it (see the iamgate comment)");
    }
    insta::allow_duplicates! {
        insta::assert_snapshot!(without_commands(&s.the_comment(7)), @"
        <!-- iamgate:report -->
        ## ⏸️ iamgate: 1 of 1 stack not previewed

        > ⚠️ This pull request comes from a fork: iamgate does not run previews of fork code (it would execute untrusted code with the preview credentials). A maintainer must review the IAM change by hand, or push the branch to this repository.

        ### Stack `prod`: ⏸️ not previewed

        > The pull request comes from a fork: its code is not run here.

        ---
        <sub>iamgate [version] · change fingerprint `[fingerprint]`</sub>
        ");
    }
}

// ---- the forge failing ----

async fn an_ambiguous_comment_failure_and_a_rate_limit_converge<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    let comments = s.comments_path(7);
    let statuses = s.statuses_path();
    s.fail("POST", &comments, 0, 1, Fail::Error502AfterApplying);
    s.fail("POST", &statuses, 0, 1, Fail::RateLimited);
    s.open(7).await;
    s.settle().await;

    s.the_comment(7);
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    assert!(s.responses(&comments).contains(&502), "the fault fired");
    assert!(
        s.responses(&statuses)
            .iter()
            .any(|code| *code == 403 || *code == 429),
        "the rate limit fired"
    );
    assert_eq!(s.review_request_calls(7), 1);
    assert_eq!(s.review_requests(7).1, ["alice"]);
}

async fn repeated_server_errors_on_comment_and_status_converge_through_job_retries<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    // Comment creation fails twice (the client checks it did not land, then posts again). The
    // final status fails more often than one job attempt retries, after the comment exists: the
    // job itself is retried, and must edit that comment, not post another.
    let comments = s.comments_path(7);
    let statuses = s.statuses_path();
    s.fail("POST", &comments, 0, 2, Fail::Error500);
    s.fail("POST", &statuses, 1, 4, Fail::Error502);
    s.open(7).await;
    let summary = s.settle().await;

    assert!(summary.retried >= 1, "{summary:?}");
    assert_eq!(summary.completed, 1, "{summary:?}");
    assert_eq!(summary.dead_lettered, 0, "{summary:?}");
    s.the_comment(7);
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    assert_eq!(s.review_request_calls(7), 1);
    let failed = |path: &str| s.responses(path).iter().filter(|c| **c >= 500).count();
    assert_eq!(failed(&comments), 2);
    assert_eq!(failed(&statuses), 4);
}

async fn a_marker_pasted_by_a_person_is_not_taken_for_iamgates_comment<F: Forge>() {
    let s = TestApp::<F>::start().await;
    s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    // A person quoting the marker does not count as iamgate's comment.
    s.add_person_comment(7, "mallory", &format!("{MARKER}\nall good, merge it"));
    s.open(7).await;
    s.settle().await;
    let comments = s.comments(7);
    assert_eq!(comments.len(), 2, "{comments:#?}");
    assert_eq!(comments[0].body, format!("{MARKER}\nall good, merge it"));
    assert_eq!(comments[1].author, s.bot());
}

// ---- GitHub only ----

#[tokio::test]
async fn bad_and_missing_signatures_are_refused_and_nothing_is_stored() {
    let s = TestApp::<FakeGitHub>::start().await;
    s.enroll(7, "h1");
    s.pulumi.replay(STACK, fixture(ADMIN_ATTACH));
    let body = s.pr_payload("opened", 7);
    let id = s.delivery_id();
    let headers = |signature: Option<String>| {
        let mut h = vec![
            ("x-github-event", "pull_request".to_owned()),
            ("x-github-delivery", id.clone()),
        ];
        if let Some(sig) = signature {
            h.push(("x-hub-signature-256", sig));
        }
        h
    };
    let wrong_secret = github_signature_for(&Secret::new("another-secret-0123456789"), &body);
    let mut tampered = body.clone();
    let last = tampered.len() - 1;
    tampered.insert(last, b' ');
    let right = github_signature_for(&Secret::new(crate::support::github::WEBHOOK_SECRET), &body);
    for (what, sig, sent) in [
        ("missing", None, body.clone()),
        ("wrong secret", Some(wrong_secret), body.clone()),
        ("body changed after signing", Some(right.clone()), tampered),
        ("malformed", Some("sha256=zz".to_owned()), body.clone()),
        (
            "sha1 only",
            Some(format!("sha1={}", &right[7..47])),
            body.clone(),
        ),
    ] {
        assert_eq!(
            s.post(&headers(sig), sent).await,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
    }
    assert_refused_left_nothing(&s).await;
    // Nothing was stored: the same delivery id, signed right, is new.
    assert_eq!(
        s.post(&headers(Some(right)), body).await,
        StatusCode::ACCEPTED
    );
}
