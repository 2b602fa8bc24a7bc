use super::*;
use crate::engine::diff::Fingerprint;
use crate::engine::preview::Op;
use crate::engine::report::budget::GITHUB_COMMENT_LIMIT;
use crate::engine::report::fixture;
use crate::engine::{Reported, ResourceChange};

fn md(comment: &Comment<'_>) -> String {
    render_with(comment, GITHUB_COMMENT_LIMIT, fixture::rules)
}

fn pos(body: &str, needle: &str) -> usize {
    body.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{body}"))
}

fn server_comment(a: &Analysis) -> Comment<'_> {
    Comment {
        sections: vec![
            Section { name: Some("prod".to_owned()), outcome: Outcome::Analyzed(a) },
            Section {
                name: Some("staging".to_owned()),
                outcome: Outcome::Failed {
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
        commands: CommandHelp::standard(),
        notes: vec!["This pull request changes .iamgate.yml: @org/admins must look <b>closely</b>.".to_owned()],
    }
}

/// The text outside fenced code blocks, and (second) that text without its code spans.
fn prose(body: &str) -> (String, String) {
    let mut outside = String::new();
    let mut fence: Option<String> = None;
    for line in body.lines() {
        let ticks: String = line.chars().take_while(|c| *c == '`').collect();
        match &fence {
            Some(open) if ticks.len() >= open.len() && line.trim_end() == ticks => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                outside.push_str(line);
                outside.push('\n');
            }
        }
    }
    assert!(fence.is_none(), "unclosed code block:\n{body}");
    let chars: Vec<char> = outside.chars().collect();
    let mut bare = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                bare.extend(chars.get(i..i + 2).unwrap_or(&chars[i..]));
                i += 2;
            }
            '`' => {
                let n = chars[i..].iter().take_while(|c| **c == '`').count();
                let mut j = i + n;
                // Find the closing run of exactly n backticks.
                loop {
                    if j >= chars.len() {
                        panic!("unclosed code span in: {outside}");
                    }
                    let m = chars[j..].iter().take_while(|c| **c == '`').count();
                    if m == n {
                        break;
                    }
                    j += m.max(1);
                }
                bare.push_str("CODE");
                i = j + n;
            }
            c => {
                bare.push(c);
                i += 1;
            }
        }
    }
    (outside, bare)
}

/// No command-like line, no live mention, no HTML but our own tags, one marker.
fn assert_inert(body: &str) {
    for line in body.lines() {
        assert!(
            !line.trim_start().starts_with('/'),
            "command-like line: {line:?}"
        );
    }
    assert_eq!(
        body.matches("<!--").count(),
        1,
        "only the bot's own marker:\n{body}"
    );
    assert!(body.starts_with(&format!("{MARKER}\n")));
    let (outside, bare) = prose(body);
    let chars: Vec<char> = outside.chars().collect();
    for w in chars.windows(2) {
        if w[0] == '@' {
            assert!(!w[1].is_alphanumeric(), "live mention in:\n{body}");
        }
    }
    const OURS: [&str; 9] = [
        MARKER,
        "<details>",
        "</details>",
        "<summary>",
        "</summary>",
        "<code>",
        "</code>",
        "<sub>",
        "</sub>",
    ];
    for (i, _) in bare.match_indices('<') {
        assert!(
            OURS.iter().any(|t| bare[i..].starts_with(t)),
            "HTML from input: {}",
            &bare[i..]
        );
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
    assert!(!md(&Comment::for_analysis(&a)).contains("Commands"));
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
    assert!(md(&server_comment(&a)).contains("change fingerprint prod `3f1c9a7e5b2d`</sub>"));
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
fn snapshot_of_server_comment() {
    let a = fixture::analysis();
    let body = md(&server_comment(&a)).replace(VERSION, "[version]");
    insta::assert_snapshot!(body);
}

#[test]
fn a_stack_not_previewed_is_neither_a_failure_nor_a_result() {
    let comment = Comment {
        sections: vec![Section {
            name: Some("prod".to_owned()),
            outcome: Outcome::NotRun {
                reason:
                    "The pull request comes from a fork: its code is not run here.\n@org/admins"
                        .to_owned(),
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
