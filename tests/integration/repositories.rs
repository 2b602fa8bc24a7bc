//! `[pulumi] repositories`: the allow-list of repositories the server previews at all. A pull
//! request of any other repository runs no code: no install, no preview, and the comment and a
//! pending status say why; one of a listed repository is previewed as usual.

use crate::support::app::{Forge, Options, STACK, TestApp, fixture};

const ADMIN_ATTACH: &str = "corpus/admin-attach.preview.json";
const NEEDS_SECURITY: &str = "needs 1 approval from acme/security or alice";

crate::both_forges!(
    a_repository_off_the_list_runs_no_code_and_says_why,
    a_repository_on_the_list_is_previewed,
);

async fn a_repository_off_the_list_runs_no_code_and_says_why<F: Forge>() {
    let s = TestApp::<F>::start_with(Options {
        repositories: Some("platform/*, acme/infra-*"),
        ..Options::default()
    })
    .await;
    let head = s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;

    assert!(s.pulumi().installs().is_empty() && s.pulumi().invocations().is_empty());
    let body = s.the_comment(7);
    assert!(
        body.contains("This repository is not among the repositories this iamgate server previews"),
        "{body}"
    );
    assert!(
        body.contains("The repository is not served by this iamgate server"),
        "{body}"
    );
    s.assert_gate(
        &head,
        "pending",
        "repository not served by this iamgate: not previewed (see the iamgate comment)",
    )
    .await;
}

async fn a_repository_on_the_list_is_previewed<F: Forge>() {
    let s = TestApp::<F>::start_with(Options {
        repositories: Some("platform/*, ACME/*"),
        ..Options::default()
    })
    .await;
    let head = s.enroll(7, "h1");
    s.pulumi().replay(STACK, fixture(ADMIN_ATTACH));
    s.open(7).await;
    s.settle().await;

    assert_eq!(s.pulumi().invocations().len(), 1);
    s.assert_gate(&head, "pending", NEEDS_SECURITY).await;
}
