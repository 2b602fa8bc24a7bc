//! The GitLab client against the fake GitLab: merge requests (forks, drafts, diffs not ready),
//! changed files across pages (overflow, the older `/changes`), files, archives, notes (the one
//! marked note across pages, no duplicate after an ambiguous failure), award emoji, statuses,
//! approvals, reviewers, group membership, permissions, retries and rate limits.

use std::io::Read;
use std::time::{Duration, Instant};

use iamgate::event::{
    ActorKind, BranchRole, ForgeKind, Login, PrNumber, PrRef, RepoName, Sha, UserRef,
};
use iamgate::forge::gitlab::{
    GitLabClient, GitLabOptions, RetryPolicy, TeamMembership, UNKNOWN_FORK,
};
use iamgate::forge::{
    CommentId, CommitStatus, Forge, ForgeErrorKind, Reaction, RepoPermission, RetryClass,
    ReviewState,
};
use iamgate::gate::GateState;

use crate::support::fake_gitlab::{FakeGitLab, Fault, MrSpec};

const PROJECT: &str = "acme/platform/infra";
const API: &str = "/projects/acme%2Fplatform%2Finfra";
const MR: &str = "/projects/acme%2Fplatform%2Finfra/merge_requests/7";
const MARKER: &str = "<!-- iamgate:report -->";

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_inline_wait: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
    }
}

fn client_for(fake: &FakeGitLab) -> GitLabClient {
    GitLabClient::with_retry_policy(&fake.url(), fake.token(), fast_policy()).unwrap()
}

fn mr_ref(number: u64) -> PrRef {
    PrRef {
        forge: ForgeKind::GitLab,
        installation: None,
        repo: RepoName::from(PROJECT),
        number: PrNumber(number),
    }
}

/// A fake with MR !7 (head `h1`, base `b1`, by `dev`) and a client.
async fn setup() -> (FakeGitLab, GitLabClient, PrRef) {
    let fake = FakeGitLab::start().await;
    fake.project(PROJECT);
    fake.mr(PROJECT, 7, MrSpec::new("h1", "b1").author("dev"));
    let client = client_for(&fake);
    (fake, client, mr_ref(7))
}

#[tokio::test]
async fn a_merge_request_reads_head_base_author_and_state() {
    let (fake, client, pr) = setup().await;
    fake.update_mr(PROJECT, 7, |mr| mr.merge_base = Some("m0".to_owned()));
    let mr = client.pull_request(&pr).await.unwrap();
    assert_eq!(mr.head, Sha::from("h1"));
    assert_eq!(
        mr.base,
        Sha::from("b1"),
        "the target tip, not the merge base"
    );
    assert_eq!(mr.base_ref, "main");
    assert_eq!(mr.author, Login::from("dev"));
    assert!(mr.open && !mr.draft);
    assert!(!mr.is_fork(&pr.repo));
    assert!(fake.requests().iter().all(|r| r.had_token));

    fake.update_mr(PROJECT, 7, |mr| {
        mr.draft = true;
        mr.state = "merged".to_owned();
    });
    let mr = client.pull_request(&pr).await.unwrap();
    assert!(mr.draft && !mr.open);
}

#[tokio::test]
async fn a_fork_merge_request_names_the_source_project() {
    let (fake, client, _) = setup().await;
    fake.mr(PROJECT, 8, MrSpec::new("f1", "b1").fork("mallory/infra"));
    let pr = mr_ref(8);
    let mr = client.pull_request(&pr).await.unwrap();
    assert_eq!(mr.head_repo, RepoName::from("mallory/infra"));
    assert!(mr.is_fork(&pr.repo));

    fake.delete_project("mallory/infra");
    let mr = client.pull_request(&pr).await.unwrap();
    assert_eq!(mr.head_repo, RepoName::from(UNKNOWN_FORK));
    assert!(mr.is_fork(&pr.repo), "a vanished fork is still a fork");
}

#[tokio::test]
async fn a_diff_not_computed_yet_is_retried_later() {
    let (fake, client, pr) = setup().await;
    fake.mr_diff_pending(PROJECT, 7, true);
    let error = client.pull_request(&pr).await.unwrap_err();
    assert_eq!(error.retry, RetryClass::Retry, "{error}");
    let error = client.changed_files(&pr).await.unwrap_err();
    assert_eq!(error.retry, RetryClass::Retry, "{error}");
    fake.mr_diff_pending(PROJECT, 7, false);
    assert!(client.changed_files(&pr).await.is_ok());
}

/// A diff GitLab computes within the call's tries is waited for (read again after the backoff),
/// not turned into a failed job.
#[tokio::test]
async fn a_diff_computed_while_the_call_waits_is_read() {
    let (fake, client, pr) = setup().await;
    fake.mr_files(PROJECT, 7, ["infra/index.ts"]);
    fake.mr_diff_pending_for(PROJECT, 7, 2);
    let mr = client.pull_request(&pr).await.unwrap();
    assert_eq!(mr.base, Sha::from("b1"));
    assert_eq!(
        fake.count_requests(
            "GET",
            &format!("{}/merge_requests/7", FakeGitLab::project_api_path(PROJECT))
        ),
        3
    );
    fake.mr_diff_pending_for(PROJECT, 7, 2);
    let files = client.changed_files(&pr).await.unwrap();
    assert_eq!(files.paths, ["infra/index.ts"]);
}

#[tokio::test]
async fn changed_files_are_read_across_pages_with_renames() {
    let (fake, client, pr) = setup().await;
    let paths: Vec<String> = (0..250)
        .map(|i| format!("stacks/s{i:03}/index.ts"))
        .collect();
    fake.mr_files(PROJECT, 7, paths.clone());
    fake.mr_rename(PROJECT, 7, "old/Pulumi.yaml", "new/Pulumi.yaml");
    let files = client.changed_files(&pr).await.unwrap();
    assert!(!files.truncated);
    assert_eq!(files.paths.len(), 252);
    assert_eq!(files.paths[..250], paths[..]);
    assert!(files.paths.contains(&"old/Pulumi.yaml".to_owned()));
    assert!(files.paths.contains(&"new/Pulumi.yaml".to_owned()));
    assert_eq!(
        fake.count_requests("GET", &format!("{MR}/diffs")),
        3,
        "three pages of 100"
    );
}

#[tokio::test]
async fn an_overflowing_diff_is_truncated() {
    let (fake, client, pr) = setup().await;
    fake.mr_files(PROJECT, 7, (0..30).map(|i| format!("f{i}.ts")));
    fake.mr_overflow(PROJECT, 7, 20);
    let files = client.changed_files(&pr).await.unwrap();
    assert!(files.truncated);
    assert_eq!(files.paths.len(), 20);
}

#[tokio::test]
async fn older_instances_list_changes_instead_of_diffs() {
    let (fake, client, pr) = setup().await;
    fake.legacy_diffs();
    fake.mr_files(PROJECT, 7, ["a.ts", "b.ts"]);
    let files = client.changed_files(&pr).await.unwrap();
    assert_eq!(files.paths, ["a.ts", "b.ts"]);
    assert!(!files.truncated);
    fake.mr_overflow(PROJECT, 7, 1);
    let files = client.changed_files(&pr).await.unwrap();
    assert!(files.truncated);
    assert_eq!(files.paths, ["a.ts"]);
}

#[tokio::test]
async fn files_are_read_at_a_commit_and_missing_ones_are_none() {
    let (fake, client, pr) = setup().await;
    fake.file(PROJECT, "b1", ".iamgate.yml", "version: 1\n");
    fake.file(
        PROJECT,
        "b1",
        "infra/a dir/Pulumi.prod.yaml",
        "config: {}\n",
    );
    let read = client
        .file_at(&pr, ".iamgate.yml", &Sha::from("b1"))
        .await
        .unwrap();
    assert_eq!(read.as_deref(), Some(&b"version: 1\n"[..]));
    let nested = client
        .file_at(&pr, "infra/a dir/Pulumi.prod.yaml", &Sha::from("b1"))
        .await
        .unwrap();
    assert_eq!(nested.as_deref(), Some(&b"config: {}\n"[..]));
    assert!(
        fake.requests().iter().any(|r| r
            .path
            .contains("/repository/files/infra%2Fa%20dir%2FPulumi.prod.yaml/raw")),
        "the file path is one encoded segment"
    );
    let missing = client
        .file_at(&pr, ".iamgate.yml", &Sha::from("h1"))
        .await
        .unwrap();
    assert_eq!(missing, None);
    let before = fake.requests().len();
    for bad in ["../secrets", "a//b", "a/./b"] {
        assert!(client.file_at(&pr, bad, &Sha::from("b1")).await.is_err());
    }
    assert!(
        client
            .file_at(&pr, "x", &Sha::from("b1&ref=main"))
            .await
            .is_err()
    );
    assert_eq!(fake.requests().len(), before, "refused before sending");
}

#[tokio::test]
async fn archives_download_to_disk_within_the_limit() {
    let (fake, client, pr) = setup().await;
    fake.archive(
        PROJECT,
        "h1",
        &[
            ("index.ts", "export {}\n"),
            ("Pulumi.yaml", "name: infra\n"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("head.tar.gz");
    client
        .download_archive(&pr, &Sha::from("h1"), &dest, 1 << 20)
        .await
        .unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&dest).unwrap(),
    ));
    let mut names = Vec::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if name.ends_with("Pulumi.yaml") {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            assert_eq!(text, "name: infra\n");
        }
        names.push(name);
    }
    assert!(
        names.iter().any(|n| n == "infra-h1-h1/index.ts"),
        "{names:?}"
    );

    let small = dir.path().join("small.tar.gz");
    let error = client
        .download_archive(&pr, &Sha::from("h1"), &small, 10)
        .await
        .unwrap_err();
    assert_eq!(error.retry, RetryClass::GiveUp);
    assert!(error.message.contains("larger than"), "{error}");
    assert!(!small.exists(), "no partial archive left behind");

    let error = client
        .download_archive(&pr, &Sha::from("nope"), &small, 1 << 20)
        .await
        .unwrap_err();
    assert_eq!(error.status, Some(404));
}

#[tokio::test]
async fn archive_downloads_wait_out_the_rate_limit() {
    let (fake, client, pr) = setup().await;
    fake.archive(PROJECT, "h1", &[("index.ts", "export {}\n")]);
    fake.fail_next(
        "GET",
        &format!("{API}/repository/archive"),
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    client
        .download_archive(&pr, &Sha::from("h1"), &dir.path().join("a.tgz"), 1 << 20)
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn the_marked_note_is_found_across_pages_and_edited() {
    let (fake, client, pr) = setup().await;
    for i in 0..150 {
        fake.note(PROJECT, 7, "dev", &format!("comment {i}"));
    }
    // Anyone can paste the marker; a system note is never ours.
    fake.note(PROJECT, 7, "mallory", &format!("{MARKER}\nfake report"));
    fake.system_note(
        PROJECT,
        7,
        fake.bot_username(),
        &format!("{MARKER} added 1 commit"),
    );
    let ours = fake.note(PROJECT, 7, fake.bot_username(), &format!("{MARKER}\nold"));
    let found = client.find_own_comment(&pr, MARKER).await.unwrap();
    assert_eq!(found, Some(CommentId(ours)));
    assert_eq!(fake.count_requests("GET", &format!("{MR}/notes")), 2);

    client
        .update_comment(&pr, CommentId(ours), &format!("{MARKER}\nnew"))
        .await
        .unwrap();
    let note = fake
        .notes(PROJECT, 7)
        .into_iter()
        .find(|n| n.id == ours)
        .unwrap();
    assert_eq!(note.body, format!("{MARKER}\nnew"));
    assert_eq!(
        client
            .find_own_comment(&pr, "<!-- iamgate:other -->")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn notes_are_created_once_even_after_an_ambiguous_failure() {
    let (fake, client, pr) = setup().await;
    let body = format!("{MARKER}\n## Risk: high");
    fake.fail_next(
        "POST",
        &format!("{MR}/notes"),
        1,
        Fault::Error502AfterApplying,
    );
    let id = client.create_comment(&pr, &body).await.unwrap();
    let notes = fake.notes(PROJECT, 7);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(
        (notes[0].id, notes[0].author.as_str()),
        (id.0, "iamgate-bot")
    );
    assert_eq!(fake.count_requests("POST", &format!("{MR}/notes")), 1);

    // A failure that did not land: posted again, still once.
    let second = "<!-- iamgate:reply:1 -->\nok".to_owned();
    fake.fail_next("POST", &format!("{MR}/notes"), 1, Fault::Error502);
    client.create_comment(&pr, &second).await.unwrap();
    let bodies: Vec<String> = fake.notes(PROJECT, 7).into_iter().map(|n| n.body).collect();
    assert_eq!(bodies, [body, second]);
}

#[tokio::test]
async fn a_rate_limited_note_is_posted_again() {
    let (fake, client, pr) = setup().await;
    fake.fail_next(
        "POST",
        &format!("{MR}/notes"),
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    client.create_comment(&pr, "hello").await.unwrap();
    assert_eq!(fake.notes(PROJECT, 7).len(), 1);
}

#[tokio::test]
async fn notes_over_the_limit_are_refused_before_sending() {
    let (fake, client, pr) = setup().await;
    assert_eq!(client.comment_limit(), 1_000_000);
    let long = "x".repeat(1_000_001);
    let error = client.create_comment(&pr, &long).await.unwrap_err();
    assert_eq!(error.retry, RetryClass::GiveUp);
    assert_eq!(fake.count_requests("POST", MR), 0);
    let fits = "é".repeat(1_000_000);
    client.create_comment(&pr, &fits).await.unwrap();
}

#[tokio::test]
async fn award_emoji_are_idempotent() {
    let (fake, client, pr) = setup().await;
    let note = fake.note(PROJECT, 7, "alice", "/iamgate approve");
    client
        .react(&pr, CommentId(note), Reaction::Eyes)
        .await
        .unwrap();
    client
        .react(&pr, CommentId(note), Reaction::Eyes)
        .await
        .unwrap();
    client
        .react(&pr, CommentId(note), Reaction::PlusOne)
        .await
        .unwrap();
    let names: Vec<String> = fake
        .awards(PROJECT, 7, note)
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["eyes", "thumbsup"]);
    assert_eq!(
        fake.count_requests("POST", &format!("{MR}/notes/{note}/award_emoji")),
        2,
        "the second eyes was seen in the list"
    );
    // A retry of an award that had landed is refused by GitLab as taken: still fine.
    fake.fail_next(
        "POST",
        &format!("{MR}/notes/{note}/award_emoji"),
        1,
        Fault::Error502AfterApplying,
    );
    client
        .react(&pr, CommentId(note), Reaction::Confused)
        .await
        .unwrap();
    assert_eq!(fake.awards(PROJECT, 7, note).len(), 3);
    let error = client
        .react(&pr, CommentId(999_999), Reaction::Eyes)
        .await
        .unwrap_err();
    assert_eq!(error.status, Some(404));
}

#[tokio::test]
async fn statuses_map_states_and_attach_to_the_pipeline() {
    let (fake, client, pr) = setup().await;
    let status = |state, description: &str| CommitStatus {
        state,
        description: description.to_owned(),
        target_url: Some("https://iamgate.example/r/1".to_owned()),
    };
    client
        .set_status(
            &pr,
            &Sha::from("h1"),
            &status(GateState::Pending, "Analyzing"),
        )
        .await
        .unwrap();
    // Pending again: GitLab refuses the transition; the status is as wanted.
    client
        .set_status(
            &pr,
            &Sha::from("h1"),
            &status(GateState::Pending, "Analyzing"),
        )
        .await
        .unwrap();
    client
        .set_status(
            &pr,
            &Sha::from("h1"),
            &status(GateState::Failure, &"é".repeat(300)),
        )
        .await
        .unwrap();
    let posted = fake.statuses(PROJECT, "h1");
    let states: Vec<&str> = posted.iter().map(|s| s.state.as_str()).collect();
    assert_eq!(states, ["pending", "failed"]);
    let latest = fake.latest_status(PROJECT, "h1").unwrap();
    assert_eq!(latest.name, "iamgate");
    assert_eq!(latest.author, "iamgate-bot");
    assert_eq!(latest.description.chars().count(), 255);
    assert_eq!(
        latest.target_url.as_deref(),
        Some("https://iamgate.example/r/1")
    );
    assert_eq!(latest.pipeline_id, None);
    assert_eq!(
        latest.git_ref.as_deref(),
        Some("feature"),
        "without a pipeline, the external one is on the merge request's source branch"
    );

    let pipeline = fake.pipeline(PROJECT, "h2", "refs/merge-requests/7/head");
    client
        .set_status(&pr, &Sha::from("h2"), &status(GateState::Success, "ok"))
        .await
        .unwrap();
    let latest = fake.latest_status(PROJECT, "h2").unwrap();
    assert_eq!(latest.state, "success");
    assert_eq!(latest.pipeline_id, Some(pipeline));
    assert_eq!(
        latest.git_ref.as_deref(),
        Some("refs/merge-requests/7/head")
    );

    // A retry of a status that had landed is refused as a transition: still fine.
    fake.fail_next(
        "POST",
        &format!("{API}/statuses/"),
        1,
        Fault::Error502AfterApplying,
    );
    client
        .set_status(&pr, &Sha::from("h2"), &status(GateState::Failure, "no"))
        .await
        .unwrap();
    assert_eq!(fake.latest_status(PROJECT, "h2").unwrap().state, "failed");
}

fn pending(description: &str) -> CommitStatus {
    CommitStatus {
        state: GateState::Pending,
        description: description.to_owned(),
        target_url: None,
    }
}

/// A fork merge request !7 from `contrib/infra`'s branch `feature` (head `h1`).
async fn fork_setup() -> (FakeGitLab, GitLabClient, PrRef) {
    let fake = FakeGitLab::start().await;
    fake.project(PROJECT);
    fake.project("contrib/infra");
    fake.mr(
        PROJECT,
        7,
        MrSpec::new("h1", "b1").author("dev").fork("contrib/infra"),
    );
    let client = client_for(&fake);
    (fake, client, mr_ref(7))
}

#[tokio::test]
async fn a_fork_merge_request_without_pipelines_gets_its_status_on_its_own_ref() {
    let (fake, client, pr) = fork_setup().await;
    // The fork's branch is not a ref of this project: left to GitLab, the status would be
    // refused with 404 "References for commit".
    client
        .set_status(&pr, &Sha::from("h1"), &pending("needs 1 approval"))
        .await
        .unwrap();
    let latest = fake.latest_status(PROJECT, "h1").unwrap();
    assert_eq!(
        latest.git_ref.as_deref(),
        Some("refs/merge-requests/7/head")
    );
    assert_eq!(latest.state, "pending");
}

#[tokio::test]
async fn a_fork_merge_request_with_pipelines_in_the_parent_gets_its_status_in_that_pipeline() {
    let (fake, client, pr) = fork_setup().await;
    // The fork's own CI ran first; then "run pipelines in the parent project" made one here.
    fake.pipeline("contrib/infra", "h1", "feature");
    let parent = fake.pipeline(PROJECT, "h1", "refs/merge-requests/7/head");
    client
        .set_status(&pr, &Sha::from("h1"), &pending("needs 1 approval"))
        .await
        .unwrap();
    let latest = fake.latest_status(PROJECT, "h1").unwrap();
    assert_eq!(latest.pipeline_id, Some(parent));
    assert_eq!(
        latest.git_ref.as_deref(),
        Some("refs/merge-requests/7/head")
    );
}

#[tokio::test]
async fn a_fork_merge_request_whose_ci_runs_in_the_fork_is_not_sent_the_forks_pipeline() {
    let (fake, client, pr) = fork_setup().await;
    let fork_pipeline = fake.pipeline("contrib/infra", "h1", "feature");
    // The head pipeline is the fork's: its id in this project would be answered 404
    // "Pipeline for pipeline_id, sha and ref", and the status would never land.
    client
        .set_status(&pr, &Sha::from("h1"), &pending("needs 1 approval"))
        .await
        .unwrap();
    let latest = fake.latest_status(PROJECT, "h1").unwrap();
    assert_ne!(latest.pipeline_id, Some(fork_pipeline));
    assert_eq!(
        latest.git_ref.as_deref(),
        Some("refs/merge-requests/7/head")
    );
    assert!(
        client.pull_request(&pr).await.unwrap().is_fork(&pr.repo),
        "still a fork"
    );
}

#[tokio::test]
async fn merged_results_and_merge_train_pipelines_get_the_status_on_their_merge_commit() {
    let (fake, client, pr) = setup().await;
    fake.pipeline(PROJECT, "h1", "feature");
    let merged = fake.merge_pipeline(PROJECT, 7, "merge", "h1", "m1");
    client
        .set_status(&pr, &Sha::from("h1"), &pending("needs 1 approval"))
        .await
        .unwrap();
    let latest = fake.latest_status(PROJECT, "m1").unwrap();
    assert_eq!(
        latest.pipeline_id,
        Some(merged),
        "the pipeline GitLab judges"
    );
    assert_eq!(
        latest.git_ref.as_deref(),
        Some("refs/merge-requests/7/merge")
    );
    assert!(fake.latest_status(PROJECT, "h1").is_none());

    let train = fake.merge_pipeline(PROJECT, 7, "train", "h1", "t1");
    client
        .set_status(&pr, &Sha::from("h1"), &pending("needs 1 approval"))
        .await
        .unwrap();
    let latest = fake.latest_status(PROJECT, "t1").unwrap();
    assert_eq!(latest.pipeline_id, Some(train));

    // A status for an older head never lands in the pipeline of the head that replaced it.
    fake.update_mr(PROJECT, 7, |mr| mr.head = "h2".to_owned());
    fake.merge_pipeline(PROJECT, 7, "merge", "h2", "m2");
    client
        .set_status(&pr, &Sha::from("h1"), &pending("analyzing"))
        .await
        .unwrap();
    assert!(fake.latest_status(PROJECT, "m2").is_none());
}

#[tokio::test]
async fn a_status_refused_on_a_protected_branch_says_what_right_is_missing() {
    let (fake, client, pr) = setup().await;
    fake.protect_branch(PROJECT, "feature", &["maintainer"]);
    let error = client
        .set_status(&pr, &Sha::from("h1"), &pending("analyzing"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ForgeErrorKind::Forbidden);
    assert!(
        error.message.contains("protected branch") && error.message.contains("feature"),
        "{}",
        error.message
    );
    assert!(fake.latest_status(PROJECT, "h1").is_none());
}

#[tokio::test]
async fn a_pending_text_change_reads_the_status_of_its_own_pipeline() {
    let (fake, client, pr) = setup().await;
    let first = fake.pipeline(PROJECT, "h1", "feature");
    client
        .set_status(&pr, &Sha::from("h1"), &pending("analyzing"))
        .await
        .unwrap();
    // A second pipeline of the same commit, holding a pending status of the same text.
    let second = fake.pipeline(PROJECT, "h1", "refs/merge-requests/7/head");
    client
        .set_status(&pr, &Sha::from("h1"), &pending("analyzing"))
        .await
        .unwrap();
    client
        .set_status(&pr, &Sha::from("h1"), &pending("needs 1 approval"))
        .await
        .unwrap();
    let in_second: Vec<(String, String)> = fake
        .statuses(PROJECT, "h1")
        .into_iter()
        .filter(|s| s.pipeline_id == Some(second))
        .map(|s| (s.state, s.description))
        .collect();
    assert_eq!(
        in_second,
        [
            ("pending".to_owned(), "analyzing".to_owned()),
            ("canceled".to_owned(), "analyzing".to_owned()),
            ("pending".to_owned(), "needs 1 approval".to_owned()),
        ]
    );
    assert!(
        fake.statuses(PROJECT, "h1")
            .iter()
            .filter(|s| s.pipeline_id == Some(first))
            .all(|s| s.state == "pending" && s.description == "analyzing"),
        "the first pipeline is left alone"
    );
}

#[tokio::test]
async fn on_free_the_required_reviewer_is_the_one_gitlab_keeps() {
    let (fake, client, pr) = setup().await;
    fake.free_tier();
    fake.user("alice");
    fake.user("carol");
    // The author asked carol; iamgate requires alice.
    client
        .request_reviewers(&pr, &[Login::from("carol")], &[])
        .await
        .unwrap();
    client
        .request_reviewers(&pr, &[Login::from("alice")], &[])
        .await
        .unwrap();
    assert_eq!(fake.reviewers(PROJECT, 7), ["alice"]);
}

#[tokio::test]
async fn approvals_become_approved_reviews() {
    let (fake, client, pr) = setup().await;
    assert!(client.reviews(&pr).await.unwrap().is_empty());
    fake.approve(PROJECT, 7, "alice");
    fake.bot_user("project_42_bot_1a2b");
    fake.approve(PROJECT, 7, "project_42_bot_1a2b");
    let reviews = client.reviews(&pr).await.unwrap();
    assert_eq!(reviews.len(), 2);
    assert!(
        reviews
            .iter()
            .all(|r| r.state == ReviewState::Approved && r.commit.is_none())
    );
    assert_eq!(reviews[0].author.login, Login::from("alice"));
    assert_eq!(reviews[0].author.kind, ActorKind::User);
    assert!(reviews[0].submitted_at.is_some());
    assert_eq!(reviews[1].author.kind, ActorKind::Bot);
    fake.unapprove(PROJECT, 7, "alice");
    assert_eq!(client.reviews(&pr).await.unwrap().len(), 1);
}

#[tokio::test]
async fn reviewers_are_added_to_those_already_asked() {
    let (fake, client, pr) = setup().await;
    fake.user("alice");
    fake.user("bob");
    client
        .request_reviewers(&pr, &[Login::from("alice")], &[])
        .await
        .unwrap();
    client
        .request_reviewers(
            &pr,
            &[Login::from("bob"), Login::from("nobody-here")],
            &["acme/security".to_owned()],
        )
        .await
        .unwrap();
    assert_eq!(
        fake.reviewers(PROJECT, 7),
        ["bob", "alice"],
        "the required first, then those already asked"
    );
    let puts = fake.count_requests("PUT", MR);
    client
        .request_reviewers(&pr, &[Login::from("alice")], &["acme/security".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        fake.count_requests("PUT", MR),
        puts,
        "nothing new, nothing sent"
    );
}

#[tokio::test]
async fn inherited_membership_counts_only_when_the_config_asks_for_it() {
    let (fake, client, pr) = setup().await;
    fake.group("acme");
    fake.group("acme/security");
    fake.group_member("acme", "carol", 40);
    fake.group_member("acme", "grace", 20);
    let inherited = client.clone().with_options(GitLabOptions {
        team_membership: TeamMembership::Inherited,
        ..GitLabOptions::default()
    });
    let carol = Login::from("carol");
    let grace = Login::from("grace");
    assert!(
        !client
            .is_team_member(&pr, "acme/security", UserRef::login(&carol))
            .await
            .unwrap(),
        "direct members only by default"
    );
    assert!(
        inherited
            .is_team_member(&pr, "acme/security", UserRef::login(&carol))
            .await
            .unwrap()
    );
    assert!(
        !inherited
            .is_team_member(&pr, "acme/security", UserRef::login(&grace))
            .await
            .unwrap(),
        "a Reporter still does not count"
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path.contains("/members/all/")),
        "asked through members/all"
    );
}

#[tokio::test]
async fn a_group_gitlab_does_not_show_is_an_error_not_a_non_member() {
    let (fake, client, pr) = setup().await;
    fake.group("acme/security");
    fake.user("alice");
    let alice = Login::from("alice");
    assert!(
        !client
            .is_team_member(&pr, "acme/security", UserRef::login(&alice))
            .await
            .unwrap(),
        "a group shown, alice not in it"
    );
    let error = client
        .is_team_member(&pr, "acme/secuirty", UserRef::login(&alice))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ForgeErrorKind::NotFound);
    assert!(
        error.message.contains("no group acme/secuirty") && error.message.contains(".iamgate.yml"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn group_membership_requires_an_active_member() {
    let (fake, client, pr) = setup().await;
    fake.group("acme");
    fake.group("acme/security");
    fake.group_member("acme/security", "alice", 30);
    fake.group_member("acme", "carol", 40);
    fake.awaiting_group_member("acme/security", "dave");
    fake.group_member("acme/security", "erin", 30);
    fake.user_state("erin", "blocked");
    fake.group_member("acme/security", "frank", 5);
    fake.group_member("acme/security", "grace", 20);
    fake.user("mallory");
    let member = |login: &str, group: &str| {
        let client = client.clone();
        let pr = pr.clone();
        let (login, group) = (Login::from(login), group.to_owned());
        async move {
            client
                .is_team_member(&pr, &group, UserRef::login(&login))
                .await
        }
    };
    assert!(member("alice", "acme/security").await.unwrap());
    assert!(
        member("ALICE", "acme/security").await.unwrap(),
        "usernames ignore case"
    );
    assert!(
        !member("carol", "acme/security").await.unwrap(),
        "a member of the parent group only is not on the team"
    );
    assert!(
        !member("grace", "acme/security").await.unwrap(),
        "a Reporter is not on the team: Developer or above"
    );
    assert!(
        !member("dave", "acme/security").await.unwrap(),
        "awaiting a seat"
    );
    assert!(!member("erin", "acme/security").await.unwrap(), "blocked");
    assert!(
        !member("frank", "acme/security").await.unwrap(),
        "minimal access"
    );
    assert!(!member("mallory", "acme/security").await.unwrap());
    assert!(!member("nobody-here", "acme/security").await.unwrap());
    assert_eq!(
        member("alice", "acme/unknown").await.unwrap_err().kind,
        ForgeErrorKind::NotFound,
        "a group GitLab does not show is an error, never false"
    );
    assert!(member("alice", "acme/../x").await.is_err());

    let alice = fake.user("alice");
    let path = format!("/groups/acme%2Fsecurity/members/{alice}");
    let before = fake.count_requests("GET", &path);
    fake.fail_next("GET", &path, 10, Fault::Error502);
    let error = member("alice", "acme/security").await.unwrap_err();
    assert_eq!(
        error.retry,
        RetryClass::Retry,
        "a 5xx is an error, never false"
    );
    assert_eq!(fake.count_requests("GET", &path) - before, 3, "three tries");
}

#[tokio::test]
async fn project_access_levels_map_to_permissions() {
    let (fake, client, pr) = setup().await;
    for (user, level) in [
        ("guest", 10),
        ("planner", 15),
        ("reporter", 20),
        ("developer", 30),
        ("maintainer", 40),
        ("owner", 50),
    ] {
        fake.project_member(PROJECT, user, level);
    }
    fake.project_member(PROJECT, "gone", 40);
    fake.user_state("gone", "blocked");
    fake.user("stranger");
    let expected = [
        ("guest", RepoPermission::Read),
        ("planner", RepoPermission::Read),
        ("reporter", RepoPermission::Read),
        ("developer", RepoPermission::Write),
        ("maintainer", RepoPermission::Write),
        ("owner", RepoPermission::Admin),
        ("gone", RepoPermission::None),
        ("stranger", RepoPermission::None),
        ("nobody-here", RepoPermission::None),
    ];
    for (user, permission) in expected {
        assert_eq!(
            client
                .collaborator_permission(&pr, UserRef::login(&Login::from(user)))
                .await
                .unwrap(),
            permission,
            "{user}"
        );
    }
}

#[tokio::test]
async fn transient_failures_and_short_rate_limits_are_retried() {
    let (fake, client, pr) = setup().await;
    fake.fail_next("GET", MR, 2, Fault::Error500);
    client.pull_request(&pr).await.unwrap();
    assert_eq!(fake.count_requests("GET", MR), 3);

    fake.fail_next(
        "GET",
        MR,
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let started = Instant::now();
    client.pull_request(&pr).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));

    fake.fail_next(
        "GET",
        MR,
        1,
        Fault::RateLimitedUntilReset { reset_in_secs: 1 },
    );
    client.pull_request(&pr).await.unwrap();
}

#[tokio::test]
async fn long_rate_limits_and_persistent_failures_go_back_to_the_caller() {
    let (fake, client, pr) = setup().await;
    fake.fail_next(
        "GET",
        MR,
        1,
        Fault::RateLimited {
            retry_after_secs: 120,
        },
    );
    let error = client.pull_request(&pr).await.unwrap_err();
    assert_eq!(
        error.retry,
        RetryClass::RetryAfter(Duration::from_secs(120))
    );
    assert_eq!(error.status, Some(429));
    assert_eq!(error.kind, ForgeErrorKind::RateLimited);

    fake.fail_next("GET", MR, 5, Fault::Error502);
    let error = client.pull_request(&pr).await.unwrap_err();
    assert_eq!(error.retry, RetryClass::Retry);
    assert_eq!(error.kind, ForgeErrorKind::Server);
    fake.clear_faults();

    let missing = client.pull_request(&mr_ref(404)).await.unwrap_err();
    assert_eq!(missing.retry, RetryClass::GiveUp);
    assert_eq!(missing.status, Some(404));
    assert_eq!(missing.kind, ForgeErrorKind::NotFound);
    assert!(missing.message.contains("404"), "{missing}");
}

#[tokio::test]
async fn a_bad_token_is_refused_and_never_retried() {
    let (fake, _, pr) = setup().await;
    let client =
        GitLabClient::with_retry_policy(&fake.url(), "glpat-wrong", fast_policy()).unwrap();
    let error = client.pull_request(&pr).await.unwrap_err();
    assert_eq!((error.status, error.retry), (Some(401), RetryClass::GiveUp));
    assert_eq!(error.kind, ForgeErrorKind::Unauthorized);
    assert_eq!(fake.count_requests("GET", MR), 1);
    assert!(!format!("{client:?}").contains("glpat-wrong"));
    assert!(!error.to_string().contains("glpat-wrong"));
}

#[tokio::test]
async fn a_github_reference_is_refused() {
    let (_fake, client, pr) = setup().await;
    let github = PrRef {
        forge: ForgeKind::GitHub,
        installation: Some(1),
        ..pr
    };
    let error = client.pull_request(&github).await.unwrap_err();
    assert_eq!(error.retry, RetryClass::GiveUp);
}

#[tokio::test]
async fn branch_tips_and_the_opened_merge_requests_of_a_target_branch() {
    let (fake, client, pr) = setup().await;
    let repo = pr.repo_ref();
    // Without an explicit branch, `main` is where the opened MR's target tip is.
    assert_eq!(
        client.branch_tip(&repo, "main").await.unwrap(),
        Some(Sha::from("b1"))
    );
    fake.branch(PROJECT, "main", "b2")
        .branch(PROJECT, "release/1.x", "r1");
    assert_eq!(
        client.branch_tip(&repo, "main").await.unwrap(),
        Some(Sha::from("b2"))
    );
    assert_eq!(
        client.branch_tip(&repo, "release/1.x").await.unwrap(),
        Some(Sha::from("r1")),
        "a branch name with a slash, sent as %2F"
    );
    assert_eq!(client.branch_tip(&repo, "gone").await.unwrap(), None);
    assert!(client.branch_tip(&repo, "a/../b").await.is_err());

    // 120 opened MRs on main (over two pages), one merged, one on another branch.
    for iid in 10..130 {
        fake.mr(PROJECT, iid, MrSpec::new("h1", "b2"));
    }
    fake.mr(PROJECT, 200, MrSpec::new("h1", "b2").state("merged"))
        .mr(
            PROJECT,
            201,
            MrSpec::new("h1", "r1").target_branch("release/1.x"),
        );
    let mut open = client
        .open_pull_requests(&repo, "main", BranchRole::Base)
        .await
        .unwrap();
    open.sort();
    let mut expected: Vec<PrNumber> = (10..130).chain([7]).map(PrNumber).collect();
    expected.sort();
    assert_eq!(open, expected);
    assert_eq!(
        client
            .open_pull_requests(&repo, "release/1.x", BranchRole::Base)
            .await
            .unwrap(),
        [PrNumber(201)]
    );
    // The pull requests from a branch of the repository itself, not from a fork's namesake.
    fake.project("mallory/infra");
    fake.mr(PROJECT, 202, MrSpec::new("h9", "b2").fork("mallory/infra"));
    let mut from_feature = client
        .open_pull_requests(&repo, "feature", BranchRole::Head)
        .await
        .unwrap();
    from_feature.sort();
    let mut expected: Vec<PrNumber> = (10..130).chain([7, 201]).map(PrNumber).collect();
    expected.sort();
    assert_eq!(from_feature, expected);
    assert!(
        client
            .open_pull_requests(&repo, "elsewhere", BranchRole::Head)
            .await
            .unwrap()
            .is_empty()
    );
}
