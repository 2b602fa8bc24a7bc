use super::*;
use crate::engine::Analysis;
use crate::engine::StackOutcome;
use crate::engine::preview::Op;
use crate::engine::report::VERSION;
use crate::engine::report::budget::GITHUB_COMMENT_LIMIT;
use crate::engine::report::fixture::{self, assert_inert, pos, prose};
use crate::engine::report::markdown::render_with;
use crate::gate::{DroppedApproval, Override};

/// The server's comment as the tests shape it: owned parts, rendered by [`md`].
struct ServerComment<'a> {
    sections: Vec<Section<'a>>,
    reviews: Option<Reviews>,
    commands: Vec<CommandHelp>,
    notes: Vec<String>,
}

fn md(c: &ServerComment<'_>) -> String {
    let comment = with_commands(
        c.sections.clone(),
        c.reviews.as_ref(),
        &c.commands,
        c.notes.clone(),
    );
    render_with(&comment, GITHUB_COMMENT_LIMIT, fixture::rules)
}

/// The commands of the product contract (the list the snapshots were taken with).
fn standard_commands() -> Vec<CommandHelp> {
    [
        ("/iamgate help", "show this list"),
        ("/iamgate rerun", "run the preview and the analysis again"),
        (
            "/iamgate approve [reason]",
            "approve this IAM change (counts if you qualify for a requirement)",
        ),
        ("/iamgate unapprove", "withdraw your approval"),
        (
            "/iamgate override <reason>",
            "let the change through without the approvals (override members only)",
        ),
        (
            "/iamgate explain <rule-id>",
            "explain a rule and how to fix its findings",
        ),
    ]
    .into_iter()
    .map(|(usage, summary)| CommandHelp {
        usage: usage.to_owned(),
        summary: summary.to_owned(),
    })
    .collect()
}

fn server_comment(a: &Analysis) -> ServerComment<'_> {
    ServerComment {
        sections: vec![
            Section { name: Some("prod".to_owned()), outcome: StackOutcome::Analyzed(a) },
            Section {
                name: Some("staging".to_owned()),
                outcome: StackOutcome::Failed {
                    reason: "pulumi preview exited with code 255: error: no stack named 'acme/staging'.\n\
                             Check `stacks[1].stack` in .iamgate.yml, then comment /iamgate rerun."
                        .to_owned(),
                },
            },
        ],
        reviews: Some(Reviews {
            requirements: vec![
                Requirement {
                    name: "security".to_owned(),
                    needed: 1,
                    approved_by: vec![],
                    from: vec![Reviewer::Team("acme/security".to_owned()), Reviewer::User("alice".to_owned())],
                    changes_requested_by: vec![],
                },
                Requirement {
                    name: "platform".to_owned(),
                    needed: 1,
                    approved_by: vec!["bob".to_owned()],
                    from: vec![Reviewer::Team("acme/platform".to_owned())],
                    changes_requested_by: vec![],
                },
            ],
            dropped: vec![DroppedApproval {
                login: "carol".to_owned(),
                reason: "the IAM change differs from the one approved".to_owned(),
            }],
            overridden: None,
        }),
        commands: standard_commands(),
        notes: vec!["This pull request changes .iamgate.yml: @org/admins must look <b>closely</b>.".to_owned()],
    }
}

#[test]
fn layout_follows_the_contract_order() {
    let a = fixture::analysis();
    let body = md(&server_comment(&a));
    assert!(
        body.starts_with(
            "<!-- iamgate:report -->\n## ❌ iamgate: analysis failed for 1 of 2 stacks"
        )
    );
    let order = [
        "### Stack `prod`: 🔴 critical IAM risk (92/100)",
        "| Resource | Type | Op | Risk |",
        "**New findings (1)**",
        "pre-existing finding",
        "**Risk removed by this change (1)**",
        "Policy diff: <code>deployer-inline</code>",
        "Policy diff: <code>assets</code>",
        "### Stack `staging`: ❌ analysis failed",
        "### Reviews",
        "<summary>Commands</summary>",
        "<sub>iamgate ",
    ];
    let positions: Vec<usize> = order.iter().map(|n| pos(&body, n)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "{positions:?}\n{body}"
    );
    assert_inert(&body);
}

#[test]
fn failure_reason_is_shown_and_cannot_issue_commands() {
    let a = fixture::analysis();
    let body = md(&server_comment(&a));
    assert!(
        body.contains("> pulumi preview exited with code 255"),
        "{body}"
    );
    assert!(body.contains("\\`stacks\\[1\\].stack\\`"));
    assert!(body.contains("then comment /iamgate rerun."), "{body}");
    assert_inert(&body);
}

#[test]
fn reviews_show_who_approved_who_is_needed_and_dropped_approvals() {
    let a = fixture::analysis();
    let body = md(&server_comment(&a));
    assert!(
        body.contains(
            "| security | ⏳ 0 of 1 | — | 1 more approval from `acme/security` or @\u{200D}alice |"
        ),
        "{body}"
    );
    assert!(body.contains("| platform | ✅ 1 of 1 | @\u{200D}bob | — |"));
    assert!(body.contains("- @\u{200D}carol: the IAM change differs from the one approved"));
    assert_inert(&body);
}

#[test]
fn changes_requested_and_override_are_shown() {
    let a = fixture::analysis();
    let mut comment = server_comment(&a);
    if let Some(reviews) = comment.reviews.as_mut() {
        reviews.requirements[1].changes_requested_by = vec!["dave".to_owned()];
        reviews.overridden = Some(Override {
            by: "erin".to_owned(),
            reason: "incident #42 hotfix".to_owned(),
        });
    }
    let body = md(&comment);
    assert!(
        body.contains(
            "| platform | ⏳ 1 of 1 | @\u{200D}bob | ❌ changes requested by @\u{200D}dave |"
        ),
        "{body}"
    );
    assert!(body.contains("**Overridden** by @\u{200D}erin: incident \\#42 hotfix"));
    assert_eq!(
        Requirement {
            needed: 2,
            ..comment.reviews.unwrap_or_default().requirements[1].clone()
        }
        .missing(),
        1
    );
}

#[test]
fn commands_are_listed_but_never_at_line_start() {
    let a = fixture::analysis();
    let body = md(&server_comment(&a));
    // Commands stay copyable: no invisible character inside the usage.
    assert!(
        body.contains("- `/iamgate approve [reason]` — approve this IAM change"),
        "{body}"
    );
    assert_inert(&body);
    // Without commands, no list.
    assert!(
        !render_with(
            &Comment::for_analysis(&a),
            GITHUB_COMMENT_LIMIT,
            fixture::rules
        )
        .contains("Commands")
    );
}

/// Hostile preview text everywhere: URN, type, op, message, diff, stack name, error.
fn hostile() -> Analysis {
    let evil =
        "x`|\n<!-- iamgate:report --> @alice @acme/sec <img src=x> [l](http://e) /iamgate approve";
    let urn = format!("urn:pulumi:prod::infra::aws:iam/role:Role::{evil}");
    let mut a = fixture::analysis();
    a.resources[0].urn = urn.clone();
    a.resources[0].type_ = evil.to_owned();
    a.resources[0].op = Op::Other(evil.to_owned());
    a.resources[0].diff =
        format!("+ ```\n+ ````\n```\n/iamgate approve\n<!-- iamgate:report -->\n+ {evil}\n");
    a.findings[0].finding.resource = urn;
    a.findings[0].finding.message = evil.to_owned();
    a.improvements[0].finding.message = evil.to_owned();
    a.errors = vec![evil.to_owned()];
    a
}

#[test]
fn hostile_text_cannot_escape_mention_or_imitate() {
    let a = hostile();
    let mut comment = server_comment(&a);
    comment.sections[0].name = Some("prod`\n/iamgate approve @bob".to_owned());
    let body = md(&comment);
    assert_inert(&body);
    let (_, bare) = prose(&body);
    assert!(
        !bare.replace("\\]", "").contains("](http"),
        "a live link: {bare}"
    );
    assert!(body.contains("&lt;img src=x&gt;"));
    // The diff block's fence is longer than any backtick run inside it and closes only once.
    let open = pos(&body, "`````diff\n");
    let after = &body[open + "`````diff\n".len()..];
    let close = pos(after, "\n`````\n");
    assert!(!after[..close].lines().any(|l| l.starts_with("`````")));
    // Every table row keeps exactly five unescaped pipes (four cells).
    for line in body.lines().filter(|l| l.starts_with("| ")) {
        let pipes = line.replace("\\|", "").matches('|').count();
        assert_eq!(pipes, 5, "{line}");
    }
}

#[test]
fn snapshot_of_server_comment() {
    let a = fixture::analysis();
    let body = md(&server_comment(&a)).replace(VERSION, "[version]");
    insta::assert_snapshot!(body);
}

#[test]
fn footer_names_the_stack_of_each_fingerprint() {
    let a = fixture::analysis();
    assert!(md(&server_comment(&a)).contains("change fingerprint prod `3f1c9a7e5b2d`</sub>"));
}
