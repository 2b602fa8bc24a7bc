use super::*;
use crate::engine::diff::Fingerprint;
use crate::engine::preview::Op;
use crate::engine::report::budget::GITHUB_COMMENT_LIMIT;
use crate::engine::report::fixture::{self, assert_inert, pos};
use crate::engine::{Reported, ResourceChange};

fn md(comment: &Comment<'_>) -> String {
    render_with(comment, GITHUB_COMMENT_LIMIT, fixture::rules)
}

#[test]
fn table_lists_resources_most_risky_first_with_name_type_op_risk() {
    let a = fixture::analysis();
    let body = md(&Comment::for_analysis(&a));
    let role =
        "| `deployer-inline` | `aws:iam/rolePolicy:RolePolicy` | update | 🔴 critical (92) |";
    let bucket = "| `assets` | `aws:s3/bucketPolicy:BucketPolicy` | update | ✅ none (0) |";
    assert!(pos(&body, role) < pos(&body, bucket));
}

#[test]
fn findings_mark_new_collapse_preexisting_and_list_removed_risk() {
    let mut a = fixture::analysis();
    // A low new finding listed before the critical one must still come after it.
    let mut low = a.findings[0].clone();
    low.finding.severity = Severity::Low;
    low.finding.rule_id = "AWS-PUB-002";
    a.findings.insert(0, low);
    let body = md(&Comment::for_analysis(&a));
    let critical = pos(
        &body,
        "- 🔴 **critical** · **new** · `AWS-ADM-001` Full administrator access on `deployer-inline`",
    );
    let low = pos(&body, "- 🟢 **low** · **new** · `AWS-PUB-002`");
    assert!(critical < low);
    let details = pos(
        &body,
        "<details><summary>1 pre-existing finding (not introduced by this change)</summary>",
    );
    let old = pos(&body, "- 🟠 **high** · `AWS-PE-009`");
    assert!(details < old && old < pos(&body, "</details>"));
    assert!(!body.contains("**high** · **new**"));
    assert!(
        body.contains("- ✅ was **medium** · `AWS-PUB-002` Bucket readable by anyone on `assets`")
    );
}

#[test]
fn a_raised_severity_says_from_what() {
    let mut a = fixture::analysis();
    a.findings[0].before = Some(Severity::Medium);
    let body = md(&Comment::for_analysis(&a));
    assert!(
        body.contains("**critical** · **raised** from medium"),
        "{body}"
    );
}

#[test]
fn diffs_are_collapsed_diff_blocks() {
    let a = fixture::analysis();
    let body = md(&Comment::for_analysis(&a));
    let start = pos(
        &body,
        "<details><summary>Policy diff: <code>deployer-inline</code> (update, critical risk)</summary>\n\n```diff\n",
    );
    assert!(body[start..].contains("+      \"Action\": [\"*\"],\n"));
    assert!(body[start..].contains("```\n\n</details>"));
}

#[test]
fn no_iam_change_says_so() {
    let a = Analysis {
        risk: Risk::NONE,
        resources: vec![],
        findings: vec![],
        improvements: vec![],
        fingerprint: Fingerprint("00".repeat(32)),
        errors: vec![],
    };
    let body = md(&Comment::for_analysis(&a));
    assert!(body.contains("## ✅ iamgate: no IAM risk\n"), "{body}");
    assert!(body.contains("This preview changes no IAM."));
    assert!(!body.contains("| Resource |"));
}

#[test]
fn preview_errors_are_shown_escaped() {
    let mut a = fixture::analysis();
    a.errors = vec!["<b>boom</b> @alice".to_owned()];
    let body = md(&Comment::for_analysis(&a));
    assert!(body.contains("The preview reported errors"));
    assert!(
        body.contains("- &lt;b&gt;boom&lt;/b&gt; @\u{200D}alice"),
        "{body}"
    );
}

#[test]
fn footer_has_version_and_short_fingerprint() {
    let a = fixture::analysis();
    let body = md(&Comment::for_analysis(&a));
    assert!(
        body.ends_with(&format!(
            "<sub>iamgate {VERSION} · change fingerprint `3f1c9a7e5b2d`</sub>\n"
        )),
        "{body}"
    );
}

fn huge(resources: usize, findings: usize) -> Analysis {
    let mut a = fixture::analysis();
    a.resources = (0..resources)
        .map(|i| ResourceChange {
            urn: format!("urn:pulumi:prod::infra::aws:iam/policy:Policy::policy-{i}"),
            type_: "aws:iam/policy:Policy".to_owned(),
            op: Op::Create,
            risk: Risk::from_score(u8::try_from(i % 100).unwrap_or(0)),
            before: None,
            after: Some("{}".to_owned()),
            diff: format!("+ \"Action\": \"s3:GetObject{i}\",\n").repeat(60),
        })
        .collect();
    a.findings = (0..findings)
        .map(|i| Reported {
            finding: fixture::finding(
                "AWS-PE-009",
                if i % 2 == 0 {
                    Severity::High
                } else {
                    Severity::Low
                },
                &format!("urn:pulumi:prod::infra::aws:iam/policy:Policy::policy-{i}"),
                &format!("policy/{i}"),
                "policy can attach any managed policy to any role.",
            ),
            new: true,
            before: None,
        })
        .collect();
    a
}

#[test]
fn a_huge_analysis_fits_the_budget_and_says_what_was_left_out() {
    let a = huge(400, 60);
    let full = render_with(&Comment::for_analysis(&a), usize::MAX, fixture::rules);
    assert!(
        full.chars().count() > GITHUB_COMMENT_LIMIT,
        "the test needs an oversized comment"
    );
    let body = md(&Comment::for_analysis(&a));
    assert!(body.chars().count() <= GITHUB_COMMENT_LIMIT);
    let shown = body.matches("Policy diff: ").count();
    let omitted = 400 - shown;
    assert!(omitted > 0 && shown > 0);
    assert!(
        body.contains(&format!(
            "> **Note:** {omitted} policy diffs were left out to fit the comment size limit (65,536 characters); \
             run `iamgate analyze --format json` for the full report."
        )),
        "{}",
        &body[..600]
    );
    // Summary and every finding are kept; the most risky resources keep their diffs.
    assert!(body.contains("400 IAM resources changed · 60 new findings"));
    assert_eq!(body.matches("`AWS-PE-009`").count(), 60);
    assert!(body.contains("Policy diff: <code>policy-99</code>"));
    assert!(!body.contains("Policy diff: <code>policy-0</code>"));
    assert_inert(&body);
}

#[test]
fn when_diffs_are_not_enough_rows_then_findings_go() {
    let a = huge(3000, 400);
    let body = md(&Comment::for_analysis(&a));
    assert!(body.chars().count() <= GITHUB_COMMENT_LIMIT);
    assert!(!body.contains("Policy diff: "));
    assert!(body.contains("3000 policy diffs"), "{}", &body[..600]);
    assert!(body.contains("rows of the resource table"));
    assert!(body.contains("3000 IAM resources changed · 400 new findings"));
    // Findings, when cut, go least severe first.
    if body.contains("new finding") && body.contains("left out") {
        assert!(
            body.matches("**high** · **new**").count() >= body.matches("**low** · **new**").count()
        );
    }
    for budget in [2_000, 10_000, 30_000] {
        let small = render_with(&Comment::for_analysis(&a), budget, fixture::rules);
        assert!(small.chars().count() <= budget, "{budget}");
        assert!(small.starts_with(MARKER));
        assert!(
            small.contains("new finding"),
            "{budget}: the note counts the cut findings"
        );
    }
}

#[test]
fn snapshot_of_analyze_output() {
    let a = fixture::analysis();
    let body = md(&Comment::for_analysis(&a)).replace(VERSION, "[version]");
    insta::assert_snapshot!(body);
}

#[test]
fn a_stack_not_previewed_is_neither_a_failure_nor_a_result() {
    let comment = Comment {
        sections: vec![Section {
            name: Some("prod".to_owned()),
            outcome: StackOutcome::NotRun {
                reason:
                    "The pull request comes from a fork: its code is not run here.\n@org/admins"
                        .to_owned(),
                summary: "fork PR not previewed".to_owned(),
            },
        }],
        ..Comment::default()
    };
    let body = md(&comment);
    assert!(
        body.contains("## ⏸️ iamgate: 1 of 1 stack not previewed"),
        "{body}"
    );
    assert!(
        body.contains("### Stack `prod`: ⏸️ not previewed"),
        "{body}"
    );
    assert!(!body.contains("analysis failed"), "{body}");
    assert!(
        !body.contains("change fingerprint"),
        "no fingerprint without a result: {body}"
    );
    assert!(
        !body.contains(" @org/admins"),
        "the reason is escaped: {body}"
    );
}
