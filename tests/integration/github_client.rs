//! The GitHub App client against the fake GitHub: App auth and token caching, pagination with
//! App auth, files, archives, comments, statuses, reviewers, reviews, team membership (and its
//! cache), permissions, reactions, retries and rate limits.

use std::io::Read;
use std::time::{Duration, Instant, SystemTime};

use iamgate::audit::Timestamp;
use iamgate::event::{
    ActorKind, BranchRole, ForgeKind, Login, PrNumber, PrRef, RepoName, Sha, UserRef,
};
use iamgate::forge::github::{GitHubApp, GitHubClient, RetryPolicy};
use iamgate::forge::{
    CommentId, CommitStatus, Forge, ForgeErrorKind, MembershipCache, Reaction, RepoPermission,
    RetryClass, ReviewState,
};
use iamgate::gate::GateState;

use crate::support::fake_github::{FakeGitHub, Fault, Host, OTHER_PRIVATE_KEY_PEM, PrSpec};

const REPO: &str = "acme/infra";
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

fn app_for(fake: &FakeGitHub) -> GitHubApp {
    GitHubApp::with_retry_policy(
        fake.app_id(),
        &fake.private_key_pem(),
        &fake.url(),
        fast_policy(),
    )
    .unwrap()
}

fn pr_ref(fake: &FakeGitHub, number: u64) -> PrRef {
    PrRef {
        forge: ForgeKind::GitHub,
        installation: Some(fake.installation_id()),
        repo: RepoName::from(REPO),
        number: PrNumber(number),
    }
}

/// A fake with PR #7 (head `h1`, base `b1`) and the client of its installation.
async fn setup() -> (FakeGitHub, GitHubClient, PrRef) {
    let fake = FakeGitHub::start().await;
    fake.repo(REPO)
        .pr(REPO, 7, PrSpec::new("h1", "b1").author("dev"));
    let client = app_for(&fake).installation(fake.installation_id());
    let pr = pr_ref(&fake, 7);
    (fake, client, pr)
}

#[tokio::test]
async fn one_token_is_minted_for_many_calls_and_sent_on_each() {
    let (fake, client, pr) = setup().await;
    fake.file(REPO, "b1", ".iamgate.yml", "version: 1\n");
    for _ in 0..3 {
        client.pull_request(&pr).await.unwrap();
        client
            .file_at(&pr, ".iamgate.yml", &Sha::from("b1"))
            .await
            .unwrap();
    }
    assert_eq!(fake.tokens_minted(), 1);
    let api = fake.requests();
    assert!(
        api.iter().all(|r| r.had_authorization && r.status < 400),
        "{api:#?}"
    );
}

#[tokio::test]
async fn tokens_close_to_expiry_are_replaced() {
    let (fake, client, pr) = setup().await;
    // A token living 30 s is already inside the 60 s refresh margin: never reused.
    fake.token_lifetime(Duration::from_secs(30));
    client.pull_request(&pr).await.unwrap();
    client.pull_request(&pr).await.unwrap();
    assert_eq!(fake.tokens_minted(), 2);
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once_and_the_call_succeeds() {
    let (fake, client, pr) = setup().await;
    client.pull_request(&pr).await.unwrap();
    fake.revoke_tokens();
    client.pull_request(&pr).await.unwrap();
    assert_eq!(fake.tokens_minted(), 2);
    assert_eq!(
        fake.count_requests("GET", "/repos/acme/infra/pulls/7"),
        3,
        "one 401, then the retry"
    );
    fake.archive(REPO, "h1", &[("index.ts", "export {}\n")]);
    fake.revoke_tokens();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("a.tgz");
    client
        .download_archive(&pr, &Sha::from("h1"), &dest, 1 << 20)
        .await
        .unwrap();
    assert_eq!(fake.tokens_minted(), 3, "the archive download re-mints too");
}

#[tokio::test]
async fn the_fake_verifies_the_jwt_signature() {
    let fake = FakeGitHub::start().await;
    fake.repo(REPO).pr(REPO, 7, PrSpec::new("h1", "b1"));
    let wrong = GitHubApp::with_retry_policy(
        fake.app_id(),
        OTHER_PRIVATE_KEY_PEM.as_bytes(),
        &fake.url(),
        fast_policy(),
    )
    .unwrap();
    let error = wrong
        .installation(1)
        .pull_request(&pr_ref(&fake, 7))
        .await
        .unwrap_err();
    assert_eq!(error.status, Some(401));
    assert_eq!(error.kind, ForgeErrorKind::Unauthorized);
    assert_eq!(error.retry, RetryClass::GiveUp);
    assert_eq!(fake.tokens_minted(), 0);
    let other_app =
        GitHubApp::with_retry_policy(9999, &fake.private_key_pem(), &fake.url(), fast_policy())
            .unwrap();
    assert_eq!(
        other_app.slug().await.unwrap_err().status,
        Some(401),
        "iss must be the App id"
    );
}

#[tokio::test]
async fn the_app_slug_is_read_once() {
    let (fake, client, pr) = setup().await;
    let app = app_for(&fake);
    assert_eq!(app.slug().await.unwrap(), "iamgate");
    assert_eq!(app.bot_login().await.unwrap(), Login::from("iamgate[bot]"));
    client.find_own_comment(&pr, MARKER).await.unwrap();
    client.find_own_comment(&pr, MARKER).await.unwrap();
    let app_reads = fake.requests().iter().filter(|r| r.path == "/app").count();
    assert_eq!(app_reads, 2, "one per GitHubApp instance");
}

#[tokio::test]
async fn pull_request_fields_are_read() {
    let (fake, client, pr) = setup().await;
    let read = client.pull_request(&pr).await.unwrap();
    assert_eq!(
        (
            read.head.as_str(),
            read.base.as_str(),
            read.base_ref.as_str()
        ),
        ("h1", "b1", "main")
    );
    assert_eq!(read.author, Login::from("dev"));
    assert!(read.open && !read.draft && !read.is_fork(&pr.repo));

    fake.pr(
        REPO,
        8,
        PrSpec::new("h2", "b1")
            .fork("mallory/infra")
            .draft()
            .base_ref("release"),
    );
    let fork = client.pull_request(&pr_ref(&fake, 8)).await.unwrap();
    assert!(fork.is_fork(&pr.repo) && fork.draft);
    assert_eq!(fork.base_ref, "release");

    fake.pr(REPO, 9, PrSpec::new("h3", "b1").deleted_fork().closed());
    let gone = client.pull_request(&pr_ref(&fake, 9)).await.unwrap();
    assert!(gone.is_fork(&pr.repo), "a deleted fork is still a fork");
    assert!(!gone.open);

    let missing = client.pull_request(&pr_ref(&fake, 404)).await.unwrap_err();
    assert_eq!(
        (missing.status, missing.retry),
        (Some(404), RetryClass::GiveUp)
    );
}

#[tokio::test]
async fn changed_files_are_paged_with_app_auth_and_include_renames() {
    let (fake, client, pr) = setup().await;
    fake.pr_files(REPO, 7, (0..250).map(|i| format!("infra/f{i:03}.ts")));
    fake.pr_rename(REPO, 7, "old/index.ts", "infra/index.ts");
    let files = client.changed_files(&pr).await.unwrap();
    assert!(!files.truncated);
    assert_eq!(
        files.paths.len(),
        252,
        "250 files, and a rename counts old and new path"
    );
    assert!(files.paths.contains(&"infra/f249.ts".to_owned()));
    assert!(
        files.paths.contains(&"old/index.ts".to_owned())
            && files.paths.contains(&"infra/index.ts".to_owned())
    );
    let pages: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/repos/acme/infra/pulls/7/files"))
        .collect();
    assert_eq!(pages.len(), 3, "100 per page: {pages:#?}");
    assert!(pages.iter().all(|p| p.status == 200 && p.had_authorization));
    assert!(pages[1].path.contains("page=2"));
}

#[tokio::test]
async fn three_thousand_files_mean_truncated() {
    let (fake, client, pr) = setup().await;
    fake.pr_files(REPO, 7, (0..2999).map(|i| format!("f{i}")));
    assert!(!client.changed_files(&pr).await.unwrap().truncated);
    fake.pr_files(REPO, 7, (0..3500).map(|i| format!("f{i}")));
    let files = client.changed_files(&pr).await.unwrap();
    assert!(files.truncated);
    assert_eq!(files.paths.len(), 3000, "GitHub lists no more");
}

#[tokio::test]
async fn file_at_reads_raw_bytes_or_none() {
    let (fake, client, pr) = setup().await;
    fake.file(REPO, "b1", ".iamgate.yml", "version: 1\n").file(
        REPO,
        "b1",
        "dir with space/é#1.bin",
        vec![0u8, 159, 146, 150],
    );
    let base = Sha::from("b1");
    assert_eq!(
        client
            .file_at(&pr, ".iamgate.yml", &base)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"version: 1\n"[..])
    );
    assert_eq!(
        client
            .file_at(&pr, "dir with space/é#1.bin", &base)
            .await
            .unwrap(),
        Some(vec![0u8, 159, 146, 150])
    );
    assert_eq!(
        client.file_at(&pr, "missing.yml", &base).await.unwrap(),
        None
    );
    assert_eq!(
        client
            .file_at(&pr, ".iamgate.yml", &Sha::from("h1"))
            .await
            .unwrap(),
        None,
        "read at the given SHA only"
    );
}

fn unpack(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.push((name, bytes));
    }
    out
}

#[tokio::test]
async fn archives_are_downloaded_through_the_redirect_without_the_token() {
    let (fake, client, pr) = setup().await;
    fake.archive(
        REPO,
        "h1abcdef99",
        &[
            ("Pulumi.yaml", "name: infra\n"),
            ("index.ts", "export {}\n"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("head.tar.gz");
    client
        .download_archive(&pr, &Sha::from("h1abcdef99"), &dest, 1 << 20)
        .await
        .unwrap();
    let entries = unpack(&dest);
    assert!(
        entries.contains(&(
            "acme-infra-h1abcde/Pulumi.yaml".to_owned(),
            b"name: infra\n".to_vec()
        )),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .any(|(name, _)| name == "acme-infra-h1abcde/index.ts")
    );
    let log = fake.requests();
    let api = log
        .iter()
        .find(|r| r.path.starts_with("/repos/acme/infra/tarball/"))
        .unwrap();
    assert_eq!((api.status, api.had_authorization), (302, true));
    let codeload = log.iter().find(|r| r.host == Host::Codeload).unwrap();
    assert_eq!((codeload.status, codeload.had_authorization), (200, false));
}

/// Bytes that gzip cannot shrink much.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn archives_over_the_limit_fail_and_leave_nothing() {
    let (fake, client, pr) = setup().await;
    fake.archive(REPO, "h1", &[("big.bin", noise(300_000))]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("head.tar.gz");
    let error = client
        .download_archive(&pr, &Sha::from("h1"), &dest, 50_000)
        .await
        .unwrap_err();
    assert_eq!(error.retry, RetryClass::GiveUp);
    assert!(error.message.contains("50000"), "{error}");
    assert!(!dest.exists(), "no partial archive");
    client
        .download_archive(&pr, &Sha::from("h1"), &dest, 1_000_000)
        .await
        .unwrap();
    assert!(dest.metadata().unwrap().len() > 50_000);
}

#[tokio::test]
async fn find_own_comment_ignores_a_pasted_marker_and_pages() {
    let (fake, client, pr) = setup().await;
    fake.add_user_comment(
        REPO,
        7,
        "mallory",
        &format!("{MARKER}\nall approved, trust me"),
    );
    for i in 0..130 {
        fake.add_user_comment(REPO, 7, "dev", &format!("comment {i}"));
    }
    assert_eq!(client.find_own_comment(&pr, MARKER).await.unwrap(), None);
    let id = client
        .create_comment(&pr, &format!("{MARKER}\nreport"))
        .await
        .unwrap();
    assert_eq!(
        client.find_own_comment(&pr, MARKER).await.unwrap(),
        Some(id),
        "found on page two"
    );
    let pages: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/repos/acme/infra/issues/7/comments") && r.method == "GET")
        .collect();
    assert!(
        pages.len() >= 4 && pages.iter().all(|p| p.status == 200 && p.had_authorization),
        "{pages:#?}"
    );
}

#[tokio::test]
async fn a_comment_listing_past_the_page_cap_is_an_error_and_never_a_second_comment() {
    let (fake, client, pr) = setup().await;
    let listing = "/repos/acme/infra/issues/7/comments";
    client
        .create_comment(&pr, &format!("{MARKER}\nreport"))
        .await
        .unwrap();
    // As if the pull request had more comments than iamgate reads: every page links another.
    fake.endless_listing(listing);

    let error = client.find_own_comment(&pr, MARKER).await.unwrap_err();
    assert_eq!(
        (error.kind, error.retry),
        (ForgeErrorKind::TooLarge, RetryClass::GiveUp),
        "{error}"
    );
    assert_eq!(error.operation, format!("GET {listing}"));
    assert!(
        error
            .message
            .contains("the pull request has more comments than iamgate reads (200 pages of 100)")
            && error.message.contains("posts no second one"),
        "{error}"
    );
    assert_eq!(
        fake.count_requests("GET", listing),
        200,
        "read to the page cap, not one page more"
    );

    // A create that fails ambiguously cannot check whether it landed: an error, not a repost,
    // whether it landed or not.
    for fault in [Fault::Error502AfterApplying, Fault::Error502] {
        fake.fail_next("POST", listing, 1, fault);
        let error = client
            .create_comment(&pr, &format!("{MARKER}\nreport"))
            .await
            .unwrap_err();
        assert_eq!(error.kind, ForgeErrorKind::TooLarge, "{fault:?}: {error}");
    }
    assert_eq!(
        fake.count_requests("POST", listing),
        3,
        "never posted again"
    );
    assert_eq!(
        fake.comments(REPO, 7).len(),
        2,
        "the first comment and the one that landed"
    );
}

#[tokio::test]
async fn whether_a_failed_create_landed_is_read_from_recent_comments_only() {
    let (fake, client, pr) = setup().await;
    let listing = "/repos/acme/infra/issues/7/comments";
    // A long conversation, all of it hours old.
    let hours_ago = Timestamp::from_system_time(SystemTime::now() - Duration::from_secs(3 * 3600));
    for i in 0..250 {
        fake.add_user_comment_at(
            REPO,
            7,
            "dev",
            &format!("comment {i}"),
            hours_ago.to_string(),
        );
    }
    fake.fail_next("POST", listing, 1, Fault::Error502AfterApplying);
    let id = client
        .create_comment(&pr, &format!("{MARKER}\nreport"))
        .await
        .unwrap();
    let comments = fake.comments(REPO, 7);
    assert_eq!(comments.len(), 251, "not posted twice");
    assert_eq!(comments[250].id, id.0);
    let reads: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with(listing))
        .collect();
    assert!(
        matches!(&reads[..], [read] if read.path.contains("since=")),
        "one page of the comments updated lately, not the 3 pages of them all: {reads:#?}"
    );
}

#[tokio::test]
async fn comments_are_created_then_updated_in_place() {
    let (fake, client, pr) = setup().await;
    let id = client
        .create_comment(&pr, &format!("{MARKER}\nfirst"))
        .await
        .unwrap();
    client
        .update_comment(&pr, id, &format!("{MARKER}\nsecond"))
        .await
        .unwrap();
    let comments = fake.comments(REPO, 7);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].id, id.0);
    assert_eq!(comments[0].body, format!("{MARKER}\nsecond"));
    assert_eq!(
        (
            comments[0].author.as_str(),
            comments[0].author_type.as_str()
        ),
        ("iamgate[bot]", "Bot")
    );
    assert_eq!(client.comment_limit(), 65_536);
    let too_long = client
        .create_comment(&pr, &"x".repeat(65_537))
        .await
        .unwrap_err();
    assert_eq!(too_long.retry, RetryClass::GiveUp);
    assert_eq!(fake.comments(REPO, 7).len(), 1);
}

#[tokio::test]
async fn status_descriptions_are_truncated_to_140_chars() {
    let (fake, client, pr) = setup().await;
    let status = CommitStatus {
        state: GateState::Pending,
        description: "needs approval from acme/security ".repeat(10),
        target_url: Some("https://iamgate.example/runs/1".into()),
    };
    client
        .set_status(&pr, &Sha::from("h1"), &status)
        .await
        .unwrap();
    let posted = fake.latest_status(REPO, "h1").unwrap();
    assert_eq!(posted.state, "pending");
    assert_eq!(posted.context, "iamgate");
    assert_eq!(posted.description.chars().count(), 140);
    assert!(
        posted
            .description
            .starts_with("needs approval from acme/security")
    );
    assert_eq!(
        posted.target_url.as_deref(),
        Some("https://iamgate.example/runs/1")
    );
    let success = CommitStatus {
        state: GateState::Success,
        description: "ok".into(),
        target_url: None,
    };
    client
        .set_status(&pr, &Sha::from("h1"), &success)
        .await
        .unwrap();
    assert_eq!(fake.statuses(REPO, "h1").len(), 2);
    assert_eq!(fake.latest_status(REPO, "h1").unwrap().state, "success");
}

#[tokio::test]
async fn reviewers_are_requested_and_unrequestable_ones_skipped() {
    let (fake, client, pr) = setup().await;
    fake.collaborator(REPO, "alice")
        .team("acme", "security", &["carol"]);
    let users = [
        Login::from("alice"),
        Login::from("dev"),
        Login::from("stranger"),
    ];
    let teams = [
        "acme/security".to_owned(),
        "acme/ghosts".to_owned(),
        "other-org/security".to_owned(),
    ];
    client.request_reviewers(&pr, &users, &teams).await.unwrap();
    let requested = fake.review_requests(REPO, 7);
    assert_eq!(requested.users, ["alice"]);
    assert_eq!(requested.teams, ["security"]);
    client.request_reviewers(&pr, &[], &[]).await.unwrap();
}

#[tokio::test]
async fn bad_gateway_twice_then_success_is_retried() {
    let (fake, client, pr) = setup().await;
    fake.fail_next("GET", "/repos/acme/infra/pulls/7", 2, Fault::Error502);
    assert_eq!(
        client.pull_request(&pr).await.unwrap().head,
        Sha::from("h1")
    );
    assert_eq!(fake.count_requests("GET", "/repos/acme/infra/pulls/7"), 3);
}

#[tokio::test]
async fn persistent_server_errors_come_back_as_retryable() {
    let (fake, client, pr) = setup().await;
    fake.fail_next("GET", "/repos/acme/infra/pulls/7", 10, Fault::Error500);
    let error = client.pull_request(&pr).await.unwrap_err();
    assert_eq!((error.retry, error.status), (RetryClass::Retry, Some(500)));
    assert_eq!(
        fake.count_requests("GET", "/repos/acme/infra/pulls/7"),
        3,
        "max_attempts"
    );
}

#[tokio::test]
async fn a_short_secondary_rate_limit_is_waited_out() {
    let (fake, client, pr) = setup().await;
    client.pull_request(&pr).await.unwrap();
    fake.fail_next(
        "GET",
        "/repos/acme/infra/pulls/7",
        1,
        Fault::SecondaryRateLimit,
    );
    let started = Instant::now();
    client.pull_request(&pr).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after honoured"
    );
}

#[tokio::test]
async fn a_long_rate_limit_is_returned_as_retry_after() {
    let (fake, client, pr) = setup().await;
    fake.fail_next(
        "POST",
        "/repos/acme/infra/statuses/h1",
        1,
        Fault::PrimaryRateLimit {
            reset_in_secs: 3600,
        },
    );
    let started = Instant::now();
    let status = CommitStatus {
        state: GateState::Pending,
        description: "analyzing".into(),
        target_url: None,
    };
    let error = client
        .set_status(&pr, &Sha::from("h1"), &status)
        .await
        .unwrap_err();
    let RetryClass::RetryAfter(wait) = error.retry else {
        panic!("{error:?}")
    };
    assert!(
        wait >= Duration::from_secs(3590) && wait <= Duration::from_secs(3602),
        "{wait:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1), "did not sleep");
    assert_eq!(fake.statuses(REPO, "h1").len(), 0);
}

#[tokio::test]
async fn an_ambiguous_502_on_comment_creation_does_not_duplicate() {
    let (fake, client, pr) = setup().await;
    let path = "/repos/acme/infra/issues/7/comments";
    fake.fail_next("POST", path, 1, Fault::Error502AfterApplying);
    let id = client
        .create_comment(&pr, &format!("{MARKER}\nreport"))
        .await
        .unwrap();
    assert_eq!(fake.comments(REPO, 7).len(), 1);
    assert_eq!(fake.comments(REPO, 7)[0].id, id.0);
    assert_eq!(fake.count_requests("POST", path), 1, "never re-posted");

    // A reply without a marker: recognised by its exact text as the newest own comment.
    fake.fail_next("POST", path, 1, Fault::Error502AfterApplying);
    let reply = client
        .create_comment(&pr, "@dev `/iamgate approve` needs a reason")
        .await
        .unwrap();
    assert_eq!(fake.comments(REPO, 7).len(), 2);
    assert_eq!(fake.comments(REPO, 7)[1].id, reply.0);

    // A 502 that did not apply: posted again, once.
    fake.fail_next("POST", path, 1, Fault::Error502);
    client.create_comment(&pr, "another reply").await.unwrap();
    assert_eq!(fake.comments(REPO, 7).len(), 3);
    assert_eq!(fake.count_requests("POST", path), 4);
}

#[tokio::test]
async fn enterprise_base_paths_work_with_pagination() {
    let fake = FakeGitHub::start_enterprise().await;
    assert!(fake.url().ends_with("/api/v3"));
    fake.repo(REPO).pr(REPO, 7, PrSpec::new("h1", "b1")).file(
        REPO,
        "b1",
        ".iamgate.yml",
        "version: 1\n",
    );
    fake.pr_files(REPO, 7, (0..150).map(|i| format!("f{i}")));
    let client = app_for(&fake).installation(fake.installation_id());
    let pr = pr_ref(&fake, 7);
    assert_eq!(client.changed_files(&pr).await.unwrap().paths.len(), 150);
    assert!(
        client
            .file_at(&pr, ".iamgate.yml", &Sha::from("b1"))
            .await
            .unwrap()
            .is_some()
    );
    let archive_dir = tempfile::tempdir().unwrap();
    client
        .download_archive(
            &pr,
            &Sha::from("b1"),
            &archive_dir.path().join("a.tgz"),
            1 << 20,
        )
        .await
        .unwrap();
    assert!(
        fake.requests().iter().all(|r| r.status < 400),
        "{:#?}",
        fake.requests()
    );
}

#[tokio::test]
async fn the_app_serves_the_installation_named_by_the_pull_request() {
    let (fake, _client, pr) = setup().await;
    let app = app_for(&fake);
    let client = app.client_for(&pr).unwrap();
    let forge: &dyn Forge = &client;
    assert_eq!(forge.pull_request(&pr).await.unwrap().head, Sha::from("h1"));
    let unknown = PrRef {
        installation: Some(77),
        ..pr.clone()
    };
    let forge: &dyn Forge = &app.client_for(&unknown).unwrap();
    assert_eq!(
        forge.pull_request(&unknown).await.unwrap_err().status,
        Some(404),
        "no such installation"
    );
    let without = PrRef {
        installation: None,
        ..pr
    };
    assert_eq!(
        app.client_for(&without).unwrap_err().retry,
        RetryClass::GiveUp
    );
}

#[tokio::test]
async fn debug_output_shows_no_secret() {
    let (_fake, client, pr) = setup().await;
    client.pull_request(&pr).await.unwrap();
    let shown = format!("{client:?}");
    assert!(
        !shown.contains("ghs_") && !shown.contains("PRIVATE KEY"),
        "{shown}"
    );
}

#[tokio::test]
async fn reviews_are_read_from_every_page_oldest_first_with_states_mapped() {
    let (fake, client, pr) = setup().await;
    let states = ["APPROVED", "CHANGES_REQUESTED", "COMMENTED"];
    let mut ids = Vec::new();
    for i in 0..130 {
        ids.push(fake.review(REPO, 7, &format!("user{i}"), states[i % 3], "h1"));
    }
    fake.review(REPO, 7, "drafter", "PENDING", "h1");
    fake.review(REPO, 7, "helper[bot]", "APPROVED", "h1");
    fake.dismiss_review(REPO, 7, ids[0]);
    let last = fake.review(REPO, 7, "late", "approved", "h2");

    let reviews = client.reviews(&pr).await.unwrap();
    assert_eq!(reviews.len(), 132, "every page, the pending draft left out");
    assert_eq!(
        reviews[130].author.kind,
        ActorKind::Bot,
        "an App's review is not a person's"
    );
    assert_eq!(reviews[0].state, ReviewState::Dismissed);
    assert_eq!(reviews[0].author.login, Login::from("user0"));
    assert_eq!(reviews[0].author.kind, ActorKind::User);
    assert_eq!(reviews[1].state, ReviewState::ChangesRequested);
    assert_eq!(reviews[2].state, ReviewState::Commented);
    assert_eq!(reviews[3].state, ReviewState::Approved);
    let newest = reviews.last().unwrap();
    assert_eq!(
        (
            newest.id.0,
            newest.author.login.as_str(),
            newest.state.clone()
        ),
        (last, "late", ReviewState::Approved)
    );
    assert_eq!(newest.commit, Some(Sha::from("h2")));
    assert!(newest.submitted_at.is_some());
    let read_ids: Vec<u64> = reviews.iter().map(|r| r.id.0).collect();
    let mut sorted = read_ids.clone();
    sorted.sort();
    assert_eq!(read_ids, sorted, "oldest first");
    assert!(reviews.iter().all(|r| r.author.login.as_str() != "drafter"));

    let pages: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/repos/acme/infra/pulls/7/reviews"))
        .collect();
    assert_eq!(pages.len(), 2, "100 per page: {pages:#?}");
    assert!(pages[0].path.contains("per_page=100"));
    assert!(pages.iter().all(|p| p.status == 200 && p.had_authorization));
    assert!(pages[1].path.contains("page=2"));

    fake.pr(REPO, 8, PrSpec::new("h3", "b1"));
    assert!(client.reviews(&pr_ref(&fake, 8)).await.unwrap().is_empty());
    let missing = client.reviews(&pr_ref(&fake, 404)).await.unwrap_err();
    assert_eq!(
        (missing.status, missing.retry),
        (Some(404), RetryClass::GiveUp)
    );
}

#[tokio::test]
async fn review_listing_is_retried_on_5xx_and_secondary_rate_limits() {
    let (fake, client, pr) = setup().await;
    fake.review(REPO, 7, "alice", "APPROVED", "h1");
    let path = "/repos/acme/infra/pulls/7/reviews";
    fake.fail_next("GET", path, 2, Fault::Error502);
    assert_eq!(client.reviews(&pr).await.unwrap().len(), 1);
    assert_eq!(fake.count_requests("GET", path), 3);

    fake.fail_next("GET", path, 1, Fault::SecondaryRateLimit);
    let started = Instant::now();
    assert_eq!(client.reviews(&pr).await.unwrap().len(), 1);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after honoured"
    );

    fake.fail_next("GET", path, 10, Fault::Error500);
    let error = client.reviews(&pr).await.unwrap_err();
    assert_eq!((error.retry, error.status), (RetryClass::Retry, Some(500)));
}

#[tokio::test]
async fn team_membership_counts_active_members_only() {
    let (fake, client, pr) = setup().await;
    fake.team("acme", "security", &["alice"])
        .pending_team_member("acme", "security", "bob");
    let member = |login: &str, team: &str| {
        let (client, pr) = (client.clone(), pr.clone());
        let (login, team) = (Login::from(login), team.to_owned());
        async move {
            client
                .is_team_member(&pr, &team, UserRef::login(&login))
                .await
        }
    };
    assert!(member("alice", "acme/security").await.unwrap());
    assert!(
        member("Alice", "acme/security").await.unwrap(),
        "logins ignore case"
    );
    assert!(
        !member("bob", "acme/security").await.unwrap(),
        "pending is not a member"
    );
    assert!(
        !member("carol", "acme/security").await.unwrap(),
        "404, then the team is shown: not a member"
    );
    assert!(
        !member("renovate[bot]", "acme/security").await.unwrap(),
        "a bot login is encoded, not refused"
    );
    let bad = member("alice", "security").await.unwrap_err();
    assert_eq!(bad.retry, RetryClass::GiveUp, "not org/slug");

    fake.add_team_member("acme", "security", "bob");
    assert!(member("bob", "acme/security").await.unwrap());
    fake.remove_team_member("acme", "security", "alice");
    assert!(!member("alice", "acme/security").await.unwrap());
    assert_eq!(
        fake.count_requests("GET", "/orgs/acme/teams/security/memberships/"),
        7,
        "one membership request per question, nothing for a malformed team"
    );
    assert_eq!(
        fake.count_requests("GET", "/orgs/"),
        7 + 3,
        "and the team asked after each of the three 404s"
    );
}

#[tokio::test]
async fn a_team_github_does_not_show_is_an_error_never_false() {
    let (fake, client, pr) = setup().await;
    fake.team("acme", "security", &["alice"])
        .hidden_team("acme", "secret", &["alice"]);
    let member = |login: &str, team: &str| {
        let (client, pr) = (client.clone(), pr.clone());
        let (login, team) = (Login::from(login), team.to_owned());
        async move {
            client
                .is_team_member(&pr, &team, UserRef::login(&login))
                .await
        }
    };
    // Shown, and the user is not in it: no.
    assert!(!member("mallory", "acme/security").await.unwrap());

    // A team that does not exist, one the installation cannot see (even asking about a real
    // member of it) and one of another organization: each an error naming the team.
    for team in ["acme/ghosts", "acme/secret", "other-org/security"] {
        let error = member("alice", team).await.unwrap_err();
        assert_eq!(
            (error.kind, error.retry, error.status),
            (ForgeErrorKind::NotFound, RetryClass::GiveUp, Some(404)),
            "{team}: {error}"
        );
        let (org, slug) = team.split_once('/').unwrap();
        assert_eq!(error.operation, format!("GET /orgs/{org}/teams/{slug}"));
        for needed in [team, "does not exist", "cannot see it", "\"Members: read\""] {
            assert!(error.message.contains(needed), "{needed:?}: {error}");
        }
    }

    // Through the membership cache, as the gate asks: the error is not kept as a "no".
    let cache = MembershipCache::default();
    let forge: &dyn Forge = &client;
    let alice = Login::from("alice");
    for _ in 0..2 {
        let error = cache
            .is_team_member(forge, &pr, "acme/secret", UserRef::login(&alice))
            .await
            .unwrap_err();
        assert_eq!(error.kind, ForgeErrorKind::NotFound);
    }
    assert_eq!(
        fake.count_requests("GET", "/orgs/acme/teams/secret/memberships/alice"),
        3,
        "asked every time"
    );

    // Once the App can see it, its members are members.
    fake.team("acme", "secret", &["alice"]);
    assert!(
        cache
            .is_team_member(forge, &pr, "acme/secret", UserRef::login(&alice))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn team_membership_errors_are_errors_never_false() {
    let (fake, client, pr) = setup().await;
    fake.team("acme", "security", &["alice"]);
    let alice = Login::from("alice");
    let path = "/orgs/acme/teams/security/memberships/alice";

    fake.fail_next("GET", path, 2, Fault::Error502);
    assert!(
        client
            .is_team_member(&pr, "acme/security", UserRef::login(&alice))
            .await
            .unwrap()
    );
    assert_eq!(fake.count_requests("GET", path), 3, "retried");

    fake.fail_next("GET", path, 1, Fault::SecondaryRateLimit);
    assert!(
        client
            .is_team_member(&pr, "acme/security", UserRef::login(&alice))
            .await
            .unwrap()
    );

    fake.fail_next("GET", path, 10, Fault::Error500);
    let error = client
        .is_team_member(&pr, "acme/security", UserRef::login(&alice))
        .await
        .unwrap_err();
    assert_eq!((error.retry, error.status), (RetryClass::Retry, Some(500)));
    fake.clear_faults();

    fake.fail_next(
        "GET",
        path,
        1,
        Fault::PrimaryRateLimit {
            reset_in_secs: 3600,
        },
    );
    let error = client
        .is_team_member(&pr, "acme/security", UserRef::login(&alice))
        .await
        .unwrap_err();
    assert!(
        matches!(error.retry, RetryClass::RetryAfter(_)),
        "{error:?}"
    );
    assert_eq!(error.kind, ForgeErrorKind::RateLimited);

    fake.without_members_permission();
    let error = client
        .is_team_member(&pr, "acme/security", UserRef::login(&alice))
        .await
        .unwrap_err();
    assert_eq!(
        (error.status, error.retry),
        (Some(403), RetryClass::GiveUp),
        "a missing Members permission is not 'no'"
    );
    assert_eq!(error.kind, ForgeErrorKind::Forbidden);
}

#[tokio::test]
async fn the_membership_cache_asks_once_per_ttl_and_never_keeps_errors() {
    let (fake, client, pr) = setup().await;
    fake.team("acme", "security", &["alice"]);
    let cache = MembershipCache::new(Duration::from_millis(300));
    let forge: &dyn Forge = &client;
    let (alice, mallory) = (Login::from("alice"), Login::from("mallory"));
    let path = "/orgs/acme/teams/security/memberships/";
    for _ in 0..3 {
        assert!(
            cache
                .is_team_member(forge, &pr, "acme/security", UserRef::login(&alice))
                .await
                .unwrap()
        );
        assert!(
            !cache
                .is_team_member(forge, &pr, "acme/security", UserRef::login(&mallory))
                .await
                .unwrap()
        );
    }
    assert_eq!(fake.count_requests("GET", path), 2, "yes and no both kept");

    fake.remove_team_member("acme", "security", "alice");
    assert!(
        cache
            .is_team_member(forge, &pr, "acme/security", UserRef::login(&alice))
            .await
            .unwrap(),
        "still within the TTL"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(
        !cache
            .is_team_member(forge, &pr, "acme/security", UserRef::login(&alice))
            .await
            .unwrap()
    );
    assert_eq!(fake.count_requests("GET", path), 3);

    fake.fail_next("GET", path, 3, Fault::Error500);
    let bob = Login::from("bob");
    assert!(
        cache
            .is_team_member(forge, &pr, "acme/security", UserRef::login(&bob))
            .await
            .is_err()
    );
    fake.add_team_member("acme", "security", "bob");
    assert!(
        cache
            .is_team_member(forge, &pr, "acme/security", UserRef::login(&bob))
            .await
            .unwrap(),
        "the error was not kept"
    );
}

#[tokio::test]
async fn collaborator_permissions_are_levels() {
    let (fake, client, pr) = setup().await;
    fake.permission(REPO, "root", "admin")
        .permission(REPO, "lead", "maintain")
        .collaborator(REPO, "dev")
        .permission(REPO, "triager", "triage")
        .permission(REPO, "reader", "read");
    let level = |login: &str| {
        let (client, pr, login) = (client.clone(), pr.clone(), Login::from(login));
        async move {
            client
                .collaborator_permission(&pr, UserRef::login(&login))
                .await
                .unwrap()
        }
    };
    assert_eq!(level("root").await, RepoPermission::Admin);
    assert_eq!(level("lead").await, RepoPermission::Write);
    assert_eq!(level("dev").await, RepoPermission::Write);
    assert_eq!(level("triager").await, RepoPermission::Read);
    assert_eq!(level("reader").await, RepoPermission::Read);
    assert_eq!(level("stranger").await, RepoPermission::None);
    assert!(level("lead").await >= RepoPermission::Write);

    let path = "/repos/acme/infra/collaborators/dev/permission";
    fake.fail_next("GET", path, 1, Fault::Error502);
    assert_eq!(level("dev").await, RepoPermission::Write);
    fake.fail_next("GET", path, 10, Fault::Error500);
    let error = client
        .collaborator_permission(&pr, UserRef::login(&Login::from("dev")))
        .await
        .unwrap_err();
    assert_eq!(error.retry, RetryClass::Retry);
}

#[tokio::test]
async fn reactions_are_recorded_once_and_retried_safely() {
    let (fake, client, pr) = setup().await;
    let comment = fake.add_user_comment(REPO, 7, "alice", "/iamgate approve");
    let id = CommentId(comment);
    client.react(&pr, id, Reaction::Eyes).await.unwrap();
    client.react(&pr, id, Reaction::Eyes).await.unwrap();
    let reactions = fake.reactions(REPO, comment);
    assert_eq!(
        reactions.len(),
        1,
        "the second POST answered 200: {reactions:?}"
    );
    assert_eq!(
        (reactions[0].content.as_str(), reactions[0].user.as_str()),
        ("eyes", "iamgate[bot]")
    );
    client.react(&pr, id, Reaction::PlusOne).await.unwrap();
    client.react(&pr, id, Reaction::Confused).await.unwrap();
    let contents: Vec<String> = fake
        .reactions(REPO, comment)
        .into_iter()
        .map(|r| r.content)
        .collect();
    assert_eq!(contents, ["eyes", "+1", "confused"]);

    // Applied, then 502: the retry finds the reaction there (200) and nothing is doubled.
    let other = fake.add_user_comment(REPO, 7, "bob", "/iamgate rerun");
    let path = format!("/repos/acme/infra/issues/comments/{other}/reactions");
    fake.fail_next("POST", &path, 1, Fault::Error502AfterApplying);
    client
        .react(&pr, CommentId(other), Reaction::Eyes)
        .await
        .unwrap();
    assert_eq!(fake.count_requests("POST", &path), 2);
    assert_eq!(fake.reactions(REPO, other).len(), 1);

    let missing = client
        .react(&pr, CommentId(999_999), Reaction::Eyes)
        .await
        .unwrap_err();
    assert_eq!(
        (missing.status, missing.retry),
        (Some(404), RetryClass::GiveUp)
    );
}

#[tokio::test]
async fn the_client_for_a_pull_request_serves_approval_calls() {
    let (fake, _client, pr) = setup().await;
    fake.team("acme", "security", &["alice"])
        .collaborator(REPO, "alice");
    fake.review(REPO, 7, "alice", "APPROVED", "h1");
    let comment = fake.add_user_comment(REPO, 7, "alice", "/iamgate approve");
    let app = app_for(&fake);
    let client = app.client_for(&pr).unwrap();
    let forge: &dyn Forge = &client;
    let alice = Login::from("alice");
    assert_eq!(forge.reviews(&pr).await.unwrap().len(), 1);
    assert!(
        forge
            .is_team_member(&pr, "acme/security", UserRef::login(&alice))
            .await
            .unwrap()
    );
    assert_eq!(
        forge
            .collaborator_permission(&pr, UserRef::login(&alice))
            .await
            .unwrap(),
        RepoPermission::Write
    );
    forge
        .react(&pr, CommentId(comment), Reaction::Eyes)
        .await
        .unwrap();
    assert_eq!(fake.reactions(REPO, comment).len(), 1);
    let without = PrRef {
        installation: None,
        ..pr
    };
    assert_eq!(
        app.client_for(&without).unwrap_err().retry,
        RetryClass::GiveUp
    );
}

#[tokio::test]
async fn commit_authors_past_the_250_github_lists_come_from_comparing_base_and_head() {
    let (fake, client, pr) = setup().await;
    // A short pull request: its own listing, nothing compared.
    fake.pr(REPO, 8, PrSpec::new("h8", "b1").author("dev"))
        .commit_by(REPO, 8, "carol");
    let authors = client.commit_authors(&pr_ref(&fake, 8)).await.unwrap();
    assert_eq!(authors, [Login::from("dev"), Login::from("carol")]);
    assert_eq!(fake.count_requests("GET", "/repos/acme/infra/compare/"), 0);

    // 251 commits: dev's first, 249 by carol, the last by late. GitHub's listing of the pull
    // request's commits stops at 250 and would never show late.
    fake.commits_by(REPO, 7, std::iter::repeat_n("carol", 249))
        .commit_by(REPO, 7, "late");
    let authors = client.commit_authors(&pr).await.unwrap();
    assert_eq!(
        authors,
        [
            Login::from("dev"),
            Login::from("carol"),
            Login::from("late")
        ],
        "the 251st commit's author is found"
    );
    let compare = "/repos/acme/infra/compare/b1...h1";
    assert_eq!(
        fake.count_requests("GET", compare),
        3,
        "three pages of 100: {:#?}",
        fake.requests()
    );

    // When the comparison cannot be read, the answer is an error, never the 250 listed.
    fake.fail_next("GET", compare, 10, Fault::Error500);
    let error = client.commit_authors(&pr).await.unwrap_err();
    assert_eq!(error.status, Some(500), "{error}");
    fake.clear_faults();

    // A listing cut at the page cap is an error too.
    fake.endless_listing("/repos/acme/infra/pulls/8/commits");
    let error = client.commit_authors(&pr_ref(&fake, 8)).await.unwrap_err();
    assert_eq!(
        (error.kind, error.retry),
        (ForgeErrorKind::TooLarge, RetryClass::GiveUp)
    );
    assert!(
        error
            .message
            .contains("more commits than iamgate reads (200 pages of 100)")
            && error.message.contains("cannot know every author"),
        "{error}"
    );
}

#[tokio::test]
async fn open_pull_requests_past_the_page_cap_are_an_error() {
    let (fake, client, pr) = setup().await;
    fake.endless_listing("/repos/acme/infra/pulls");
    let error = client
        .open_pull_requests(&pr.repo_ref(), "main", BranchRole::Base)
        .await
        .unwrap_err();
    assert_eq!(
        (error.kind, error.retry),
        (ForgeErrorKind::TooLarge, RetryClass::GiveUp),
        "{error}"
    );
    assert!(
        error
            .message
            .contains("more open pull requests than iamgate reads")
            && error.message.contains("cannot recheck every one of them"),
        "{error}"
    );
}

#[tokio::test]
async fn branch_tips_and_the_open_pull_requests_of_a_base_branch() {
    let (fake, client, pr) = setup().await;
    let repo = pr.repo_ref();
    // Without an explicit branch, `main` is where the open PR's base is.
    assert_eq!(
        client.branch_tip(&repo, "main").await.unwrap(),
        Some(Sha::from("b1"))
    );
    fake.branch(REPO, "main", "b2")
        .branch(REPO, "release/1.x", "r1");
    assert_eq!(
        client.branch_tip(&repo, "main").await.unwrap(),
        Some(Sha::from("b2"))
    );
    assert_eq!(
        client.branch_tip(&repo, "release/1.x").await.unwrap(),
        Some(Sha::from("r1")),
        "a branch name with a slash"
    );
    assert_eq!(client.branch_tip(&repo, "gone").await.unwrap(), None);
    assert!(client.branch_tip(&repo, "../pulls").await.is_err());

    // 120 open PRs on main (over two pages), one closed, one on another branch.
    for n in 10..130 {
        fake.pr(REPO, n, PrSpec::new("h1", "b2"));
    }
    fake.pr(REPO, 200, PrSpec::new("h1", "b2").closed()).pr(
        REPO,
        201,
        PrSpec::new("h1", "r1").base_ref("release/1.x"),
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
    fake.pr(REPO, 202, PrSpec::new("h9", "b2").fork("mallory/infra"));
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
