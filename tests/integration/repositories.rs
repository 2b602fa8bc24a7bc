//! Previews per repository: `[pulumi] repositories`, the allow-list of repositories the server
//! previews at all (a pull request of any other repository runs no code: no install, no preview,
//! and the comment and a pending status say why; one of a listed repository is previewed as
//! usual), and `[pulumi.repo_env."owner/name"]` / `"owner/name:stack"`, the credentials of one
//! repository's (and one stack's) previews, which no other repository gets and which are masked.

use crate::support::app::{Forge, Options, STACK, TestApp, fixture};

const ADMIN_ATTACH: &str = "corpus/admin-attach.preview.json";
const NEEDS_SECURITY: &str = "needs 1 approval from acme/security or alice";

crate::both_forges!(
    a_repository_off_the_list_runs_no_code_and_says_why,
    a_repository_on_the_list_is_previewed,
    a_repository_and_its_stack_get_their_own_credentials_masked,
);

const REPO_ENV: &str = "[pulumi.repo_env.\"ACME/infra\"]\n\
                        REPO_ROLE = \"arn:aws:iam::222233334444:role/acme-infra-preview\"\n\
                        SHARED = \"overridden-for-acme-infra\"\n\
                        [pulumi.repo_env.\"acme/infra:acme/prod\"]\n\
                        STACK_TOKEN = \"stack-only-token-0123\"\n\
                        [pulumi.repo_env.\"acme/other\"]\n\
                        OTHER_REPO_TOKEN = \"never-for-acme-infra\"\n";

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

async fn a_repository_and_its_stack_get_their_own_credentials_masked<F: Forge>() {
    let s = TestApp::<F>::start_with(Options {
        extra: REPO_ENV,
        ..Options::default()
    })
    .await;
    s.enroll(7, "h1");
    s.pulumi().env_to_stderr(STACK);
    s.open(7).await;
    s.settle().await;

    // The comment escapes Markdown (`\_`): read it without the escapes.
    let body = s.the_comment(7).replace('\\', "");
    // What reached the program, as the comment quotes it: each per-repository variable, masked.
    for set in [
        "REPO_ROLE=***",
        "STACK_TOKEN=***",
        "SHARED=***",
        "AWS_REGION=***",
    ] {
        assert!(
            body.contains(set),
            "{set} did not reach the program:\n{body}"
        );
    }
    for value in [
        "222233334444",
        "overridden-for-acme-infra",
        "stack-only-token-0123",
        "never-for-acme-infra",
    ] {
        assert!(!body.contains(value), "{value} shown:\n{body}");
    }
    assert!(
        !body.contains("OTHER_REPO_TOKEN"),
        "another repository's credential:\n{body}"
    );
}
