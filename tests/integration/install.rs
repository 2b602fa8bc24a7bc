//! `pulumi install` before each preview (`[pulumi] install`, on by default): a Node.js program
//! cannot be previewed without its dependencies (the fake `pulumi`, like the real one, refuses),
//! the install goes through the repository's own caches, kept between runs, and a failed install
//! fails the check with its own error, named as such.

use std::path::PathBuf;

use crate::support::app::{Forge, Options, STACK, TestApp, fixture};

const ADMIN_ATTACH: &str = "corpus/admin-attach.preview.json";
const NEEDS_SECURITY: &str = "needs 1 approval from acme/security or alice";

crate::both_forges!(
    each_preview_is_installed_first_through_the_repository_cache,
    without_install_a_nodejs_program_cannot_be_previewed,
    a_failed_install_fails_the_check_with_its_own_error,
);

/// The repositories' cache directories, beside the store.
fn cache_dirs<F: Forge>(s: &TestApp<F>) -> Vec<PathBuf> {
    let root = s.service().data_dir().join("caches");
    match std::fs::read_dir(&root) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

async fn each_preview_is_installed_first_through_the_repository_cache<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let first = s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;
    s.assert_gate(&first, "pending", NEEDS_SECURITY).await;
    let second = s.push(7, "h2").await;
    s.settle().await;
    s.assert_gate(&second, "pending", NEEDS_SECURITY).await;

    let installs = s.pulumi().installs();
    assert_eq!(installs.len(), 2, "one install per preview");
    assert_eq!(s.pulumi().invocations().len(), 2);
    for install in &installs {
        assert_eq!(install.args, ["install"]);
        assert!(install.cwd.ends_with("infra"), "{:?}", install.cwd);
    }
    assert_ne!(
        installs[0].cwd, installs[1].cwd,
        "each run has a fresh workspace"
    );
    // One cache directory for the repository, which the second install found filled by the
    // first.
    let caches = cache_dirs(&s);
    assert_eq!(caches.len(), 1, "{caches:?}");
    let record =
        std::fs::read_to_string(caches[0].join("npm").join("fake-pulumi-installs")).unwrap();
    assert_eq!(record.lines().count(), 2, "{record}");
}

async fn without_install_a_nodejs_program_cannot_be_previewed<F: Forge>() {
    let s = TestApp::<F>::start_with(Options {
        install: false,
        ..Options::default()
    })
    .await;
    let head = s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;

    assert!(s.pulumi().installs().is_empty());
    let body = s.the_comment(7);
    assert!(
        body.contains("pulumi preview failed (exit code 255)"),
        "{body}"
    );
    assert!(
        body.contains("It looks like the Pulumi SDK has not been installed"),
        "{body}"
    );
    assert_eq!(s.status(&head).0, "failure");
}

async fn a_failed_install_fails_the_check_with_its_own_error<F: Forge>() {
    let s = TestApp::<F>::start().await;
    let head = s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.pulumi()
        .fail_install("npm error 404 Not Found - GET https://registry.npmjs.org/@acme%2fprivate\n");
    s.open(7).await;
    s.settle().await;

    let body = s.the_comment(7);
    assert!(
        body.contains(
            "pulumi install failed: the program's dependencies or plugins could not be installed \
             (exit code 1)"
        ),
        "{body}"
    );
    assert!(body.contains("npm error 404 Not Found"), "{body}");
    assert!(!body.contains("pulumi preview failed"), "{body}");
    assert!(
        s.pulumi().invocations().is_empty(),
        "no preview after a failed install"
    );
    assert_eq!(s.status(&head).0, "failure");
}
