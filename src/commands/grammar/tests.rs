use super::*;
use crate::commands::MAX_REASON_CHARS;

fn one(body: &str) -> Result<Command, CommandError> {
    let mut all = parse(body);
    assert_eq!(all.len(), 1, "{body:?} gave {all:?}");
    all.remove(0)
}

fn ok(body: &str) -> Command {
    one(body).unwrap_or_else(|e| panic!("{body:?}: {e}"))
}

fn err(body: &str) -> CommandError {
    one(body).expect_err(body)
}

fn reason(text: &str) -> Reason {
    Reason::new(text).expect("a reason")
}

#[test]
fn help_and_a_bare_prefix() {
    assert_eq!(ok("/iamgate help"), Command::Help);
    assert_eq!(ok("/iamgate"), Command::Help);
    assert_eq!(ok("/iamgate   "), Command::Help);
    assert_eq!(
        err("/iamgate help me"),
        CommandError::UnexpectedArgument {
            command: CommandKind::Help,
            extra: "me".into()
        }
    );
}

#[test]
fn rerun_and_unapprove_take_no_argument() {
    assert_eq!(ok("/iamgate rerun"), Command::Rerun);
    assert_eq!(ok("/iamgate unapprove"), Command::Unapprove);
    // Someone trying to withdraw another person's approval learns that it is not possible.
    let e = err("/iamgate unapprove @alice");
    assert_eq!(
        e,
        CommandError::UnexpectedArgument {
            command: CommandKind::Unapprove,
            extra: "@alice".into()
        }
    );
    let message = e.to_string();
    assert!(message.contains("takes no arguments"), "{message}");
    assert!(
        !message.contains("@a"),
        "a mention slipped through: {message}"
    );
    assert!(message.contains("`/iamgate unapprove` alone on its line"));
    assert!(matches!(
        err("/iamgate rerun now"),
        CommandError::UnexpectedArgument {
            command: CommandKind::Rerun,
            ..
        }
    ));
}

#[test]
fn approve_with_and_without_a_reason() {
    assert_eq!(ok("/iamgate approve"), Command::Approve { reason: None });
    assert_eq!(
        ok("/iamgate approve   \t"),
        Command::Approve { reason: None }
    );
    assert_eq!(
        ok("/iamgate approve  checked with   the data team  "),
        Command::Approve {
            reason: Some(reason("checked with   the data team"))
        }
    );
}

#[test]
fn override_needs_a_reason() {
    assert_eq!(
        ok("/iamgate override INC-1234: prod is down"),
        Command::Override {
            reason: reason("INC-1234: prod is down")
        }
    );
    for body in ["/iamgate override", "/iamgate override    "] {
        let e = err(body);
        assert_eq!(
            e,
            CommandError::MissingArgument {
                command: CommandKind::Override
            }
        );
        let message = e.to_string();
        assert!(
            message.starts_with(
                "`/iamgate override` needs a reason: write `/iamgate override <reason>`"
            ),
            "{message}"
        );
    }
}

#[test]
fn explain_needs_one_known_rule_id() {
    assert_eq!(
        ok("/iamgate explain aws-pe-009"),
        Command::Explain {
            rule_id: "AWS-PE-009".into()
        }
    );
    let e = err("/iamgate explain");
    assert_eq!(
        e,
        CommandError::MissingArgument {
            command: CommandKind::Explain
        }
    );
    assert!(e.to_string().contains("needs a rule id"), "{e}");
    let e = err("/iamgate explain AWS-PE-009 AWS-PE-010");
    assert!(
        matches!(
            e,
            CommandError::UnexpectedArgument {
                command: CommandKind::Explain,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("one per line"), "{e}");
    assert!(matches!(
        err("/iamgate explain AWS-PE-999"),
        CommandError::UnknownRule { .. }
    ));
}

#[test]
fn command_names_are_case_insensitive_and_arguments_keep_their_case() {
    assert_eq!(
        ok("/IAMGATE APPROVE Looks Fine"),
        Command::Approve {
            reason: Some(reason("Looks Fine"))
        }
    );
    assert_eq!(ok("/Iamgate Rerun"), Command::Rerun);
    assert_eq!(
        ok("/iamgate EXPLAIN aws-wc-001"),
        Command::Explain {
            rule_id: "AWS-WC-001".into()
        }
    );
}

#[test]
fn unknown_commands_suggest_the_closest() {
    for (typo, want) in [
        ("aprove", Some("approve")),
        ("approved", Some("approve")),
        ("APROVE", Some("approve")),
        ("unaprove", Some("unapprove")),
        ("overide", Some("override")),
        ("explian", Some("explain")),
        ("re-run", Some("rerun")),
        ("hlep", Some("help")),
        ("unapp", Some("unapprove")),
        ("lgtm", None),
        ("merge", None),
    ] {
        let e = err(&format!("/iamgate {typo} x"));
        assert_eq!(
            e,
            CommandError::Unknown {
                word: typo.into(),
                suggestion: want
            },
            "{typo}"
        );
        let message = e.to_string();
        assert!(
            message.contains("`/iamgate help` lists the commands"),
            "{message}"
        );
        match want {
            Some(name) => assert!(
                message.contains(&format!("Did you mean `/iamgate {name}`?")),
                "{message}"
            ),
            None => assert!(!message.contains("Did you mean"), "{message}"),
        }
    }
}

#[test]
fn echoed_words_cannot_mention_close_a_block_or_imitate_the_bot() {
    let message = err("/iamgate @acme/security").to_string();
    assert!(!message.contains("@a"), "{message}");
    let message = err("/iamgate <!--iamgate:report-->").to_string();
    assert!(!message.contains("<!--"), "{message}");
    let message = err("/iamgate ```").to_string();
    assert!(message.starts_with("```` ``` ````"), "{message}");
    // Long junk is cut.
    let long = "x".repeat(5000);
    let message = err(&format!("/iamgate {long}")).to_string();
    assert!(message.len() < 300, "{}", message.len());
}

#[test]
fn reasons_are_trimmed_capped_and_escaped_when_shown() {
    let long = format!("  {}  ", "a".repeat(MAX_REASON_CHARS + 100));
    let Command::Approve {
        reason: Some(reason),
    } = ok(&format!("/iamgate approve {long}"))
    else {
        panic!("an approval");
    };
    assert_eq!(reason.as_str().chars().count(), MAX_REASON_CHARS);
    assert!(reason.as_str().ends_with('…'));

    let Command::Override { reason } =
        ok("/iamgate override ask @alice <!-- iamgate:report --> `x` [y](z) /iamgate approve")
    else {
        panic!("an override");
    };
    // Verbatim for the audit trail...
    assert_eq!(
        reason.as_str(),
        "ask @alice <!-- iamgate:report --> `x` [y](z) /iamgate approve"
    );
    // ...and inert in Markdown.
    let shown = reason.markdown();
    assert!(!shown.contains("@a"), "{shown}");
    assert!(!shown.contains("<!--"), "{shown}");
    assert!(!shown.contains(" `x`"), "{shown}");
    assert!(shown.contains("\\[y\\]"), "{shown}");
    assert!(parse(&shown).is_empty());
    // Blank is no reason at all.
    assert_eq!(Reason::new(" \t "), None);
}

#[test]
fn several_commands_in_one_comment_each_get_a_result() {
    let body = "Thanks!\n/iamgate explain AWS-PE-009\n/iamgate aprove\n\n/iamgate approve ok\n";
    let got = parse(body);
    assert_eq!(got.len(), 3);
    assert!(matches!(got[0], Ok(Command::Explain { .. })));
    assert!(matches!(got[1], Err(CommandError::Unknown { .. })));
    assert_eq!(
        got[2],
        Ok(Command::Approve {
            reason: Some(reason("ok"))
        })
    );
    assert!(parse("no commands here").is_empty());
    assert!(parse("").is_empty());
}

#[test]
fn more_than_the_cap_is_one_error_and_nothing_runs() {
    let at_cap = "/iamgate help\n".repeat(MAX_COMMANDS);
    assert_eq!(parse(&at_cap).len(), MAX_COMMANDS);
    let over = "/iamgate approve\n".repeat(MAX_COMMANDS + 1);
    let got = parse(&over);
    assert_eq!(
        got,
        vec![Err(CommandError::TooMany {
            found: MAX_COMMANDS + 1
        })]
    );
    let message = got[0].as_ref().expect_err("too many").to_string();
    assert!(message.contains("none of them was run"), "{message}");
    // Lines in code blocks do not count toward the cap.
    let fenced = format!("```\n{over}```\n/iamgate rerun");
    assert_eq!(parse(&fenced), vec![Ok(Command::Rerun)]);
}

#[test]
fn code_blocks_and_quotes_are_not_commands() {
    let body = "\
> /iamgate override quoted from someone else

```
/iamgate approve
```

    /iamgate override indented

~~~
/iamgate unapprove
~~~
/iamgate rerun";
    assert_eq!(parse(body), vec![Ok(Command::Rerun)]);
}

#[test]
fn commands_round_trip_through_json() {
    for command in [
        Command::Help,
        Command::Rerun,
        Command::Approve { reason: None },
        Command::Approve {
            reason: Some(reason("fine")),
        },
        Command::Unapprove,
        Command::Override {
            reason: reason("INC-1"),
        },
        Command::Explain {
            rule_id: "AWS-PE-009".into(),
        },
    ] {
        let json = serde_json::to_string(&command).expect("json");
        assert_eq!(
            serde_json::from_str::<Command>(&json).expect("back"),
            command,
            "{json}"
        );
    }
    assert_eq!(
        serde_json::to_value(Command::Override {
            reason: reason("INC-1")
        })
        .expect("json"),
        serde_json::json!({"command": "override", "reason": "INC-1"})
    );
}

#[test]
fn edit_distance_counts_swaps_as_one() {
    assert_eq!(strsim::osa_distance("approve", "approve"), 0);
    assert_eq!(strsim::osa_distance("aprove", "approve"), 1);
    assert_eq!(strsim::osa_distance("explian", "explain"), 1);
    assert_eq!(strsim::osa_distance("", "help"), 4);
    assert_eq!(strsim::osa_distance("lgtm", "help"), 4);
}
