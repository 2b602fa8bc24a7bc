//! What one run may use: a preview that writes more than `[pulumi] disk_mb` into its project is
//! stopped, the check fails and the comment says why; the same program within the limit is
//! previewed as usual. (Memory and process limits are the sandbox's: the runner's own tests check
//! that the kernel holds a program to them.)

use crate::support::app::{Forge, Options, STACK, TestApp, fixture};

const ADMIN_ATTACH: &str = "corpus/admin-attach.preview.json";

crate::both_forges!(
    a_preview_that_fills_the_disk_is_stopped_and_fails_the_check,
    a_preview_within_its_disk_limit_is_analyzed,
);

async fn a_preview_that_fills_the_disk_is_stopped_and_fails_the_check<F: Forge>() {
    let s = TestApp::<F>::start_with(Options {
        pulumi_keys: "disk_mb = 1\n",
        ..Options::default()
    })
    .await;
    let head = s.enroll(7, "h1");
    s.pulumi().fill_disk(STACK, fixture(ADMIN_ATTACH), 1 << 20);
    s.open(7).await;
    s.settle().await;

    let body = s.the_comment(7);
    assert!(
        body.contains(
            "pulumi preview wrote more than 1 MiB to its workspace, HOME and caches, so iamgate \
             stopped it; raise \\[pulumi\\] disk\\_mb if the program really needs that much"
        ),
        "{body}"
    );
    assert!(!body.contains("AWS-MP-001"), "analyzed anyway: {body}");
    assert_eq!(s.status(&head).0, "failure");
}

async fn a_preview_within_its_disk_limit_is_analyzed<F: Forge>() {
    let s = TestApp::<F>::start_with(Options {
        pulumi_keys: "disk_mb = 8\n",
        ..Options::default()
    })
    .await;
    s.enroll(7, "h1");
    s.pulumi().fill_disk(STACK, fixture(ADMIN_ATTACH), 1 << 20);
    s.open(7).await;
    s.settle().await;

    let body = s.the_comment(7);
    assert!(body.contains("AWS-MP-001"), "{body}");
}
