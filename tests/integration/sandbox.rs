//! The preview sandbox against a hostile pull request. The program under review tries to read
//! the environment of every process it can see (iamgate's included), read iamgate's store and
//! the GitHub App key, write outside its workspace, signal iamgate, and leave a `setsid` daemon
//! behind. In the sandbox it learns nothing and leaves nothing, and the same pull request is
//! previewed and analyzed as usual. Without the sandbox (the control) the same program gets
//! through on every count, so the attempts are real.
//!
//! These need bubblewrap (`bwrap`), which `.ci/run` installs: on a machine without it they say so
//! and pass, unless `CI` is set, where they fail.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::app::{Forge, Options, STACK, TestApp, fixture, wait_until};
use crate::support::fake_github::FakeGitHub;
use crate::support::fake_pulumi::FakePulumi;

const ADMIN_ATTACH: &str = "corpus/admin-attach.preview.json";
const NEEDS_SECURITY: &str = "needs 1 approval from acme/security or alice";
const KEY: &str = "keys/test-app.private-key.pem";

crate::both_forges!(a_hostile_program_learns_nothing_and_leaves_nothing_in_the_sandbox);

/// Whether `bwrap` can be run here; without it, fails under CI and skips elsewhere.
fn bubblewrap_present() -> bool {
    let present = std::process::Command::new("bwrap")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "bubblewrap (`bwrap`) is needed for the sandbox tests; .ci/run installs it"
        );
        eprintln!("skipped: bubblewrap (`bwrap`) is not installed");
    }
    present
}

/// A daemon length no other test of this binary uses: the tests run at once, and one test's
/// daemon, alive inside its own sandbox while that test runs, must not count as left behind by
/// another.
fn unique_daemon_secs() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(31_337);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What the hostile program is pointed at: the store, the App key, and a canary file outside
/// the workspace (read and appended to); and the test process itself (signalled).
fn point_hostile<F: Forge>(s: &TestApp<F>, canary: &Path, daemon_secs: u32) {
    let store = s.service().store().sqlite_path().unwrap().to_path_buf();
    let key = fixture(KEY);
    s.pulumi().hostile(
        STACK,
        fixture(ADMIN_ATTACH),
        &[&store, &key, canary],
        &[canary],
        &[std::process::id()],
        daemon_secs,
    );
}

async fn a_hostile_program_learns_nothing_and_leaves_nothing_in_the_sandbox<F: Forge>() {
    if !bubblewrap_present() {
        return;
    }
    let s = TestApp::<F>::start_with(Options {
        sandbox: true,
        ..Options::default()
    })
    .await;
    let canary = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(canary.path(), b"canary\n").unwrap();
    let head = s.enroll(7, "h1");
    let daemon_secs = unique_daemon_secs();
    point_hostile(&s, canary.path(), daemon_secs);
    s.open(7).await;
    s.settle().await;

    let body = s.the_comment(7);
    assert!(!body.contains("escaped"), "the program got out:\n{body}");
    assert!(!body.contains("BEGIN"), "the App key leaked:\n{body}");
    // The same pull request was previewed and analyzed as usual.
    assert!(body.contains("AWS-MP-001"), "not analyzed:\n{body}");
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
    assert_eq!(std::fs::read(canary.path()).unwrap(), b"canary\n");
    assert_eq!(
        FakePulumi::left_behind(daemon_secs),
        Vec::<u32>::new(),
        "a daemon outlived the sandboxed run"
    );
    // `pulumi install` ran in the sandbox too, writing into the repository's cache.
    let caches = s.service().data_dir().join("caches");
    let repo = std::fs::read_dir(&caches)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let record = std::fs::read_to_string(repo.join("npm").join("fake-pulumi-installs")).unwrap();
    assert_eq!(record.lines().count(), 1, "{record}");
}

#[tokio::test]
async fn without_the_sandbox_the_same_program_gets_through() {
    let s = TestApp::<FakeGitHub>::start().await; // `sandbox = false`: the explicit opt-out
    let canary = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(canary.path(), b"canary\n").unwrap();
    s.enroll(7, "h1");
    let daemon_secs = unique_daemon_secs();
    point_hostile(&s, canary.path(), daemon_secs);
    s.open(7).await;
    s.settle().await;

    // The daemon first, so that a failed assertion leaves nothing running.
    let mut daemons = Vec::new();
    wait_until("the daemon shows", Duration::from_secs(5), || {
        daemons = FakePulumi::left_behind(daemon_secs);
        !daemons.is_empty()
    })
    .await;
    for pid in &daemons {
        let pid = Pid::from_raw(i32::try_from(*pid).unwrap());
        let _ = kill(pid, Signal::SIGKILL);
    }

    let body = s.the_comment(7);
    for escape in [
        "[read the environment of /proc/",
        "[read ",
        "iamgate.db: SQLite format",
        "BEGIN RSA PRIVATE KEY",
        "[wrote ",
        &format!("[can signal {}", std::process::id()),
    ] {
        assert!(body.contains(escape), "{escape:?} not in:\n{body}");
    }
    assert_eq!(
        std::fs::read_to_string(canary.path()).unwrap(),
        "canary\nescaped\n"
    );
}
