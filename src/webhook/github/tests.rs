use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/webhooks/github/",
            $name
        ))
        .as_slice()
    };
}

fn pr(installation: Option<u64>, repo: &str, number: u64) -> PrRef {
    PrRef {
        forge: ForgeKind::GitHub,
        installation,
        repo: RepoName::from(repo),
        number: PrNumber(number),
    }
}

fn pull_request_event(event: Event) -> (PrRef, PrAction, Sha) {
    match event {
        Event::PullRequest { pr, action, head } => (pr, action, head),
        other => panic!("expected a pull request event, got {other:?}"),
    }
}

#[test]
fn a_real_app_delivery_of_an_opened_pr() {
    let event = decode("pull_request", fixture!("pull_request.opened.5.json")).expect("decodes");
    assert_eq!(
        event,
        Event::PullRequest {
            pr: pr(Some(7777777), "gagbo/ouro-closures", 2),
            action: PrAction::Opened,
            head: Sha::from("36afaef2afdf0ce794d7e4663e7f327664aaa4d7"),
        }
    );
}

#[test]
fn every_triggering_action_decodes_with_its_head() {
    let cases = [
        (
            fixture!("pull_request.synchronize.2.json"),
            PrAction::Synchronize,
            "7e39d83fc6a99f2c6a02cc7637c4de8db50da6ca",
            5,
        ),
        (
            fixture!("pull_request.reopened.1.json"),
            PrAction::Reopened,
            "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
            2,
        ),
        (
            fixture!("pull_request.ready_for_review.2.json"),
            PrAction::ReadyForReview,
            "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
            2,
        ),
        (
            fixture!("pull_request.edited.1.json"),
            PrAction::BaseChanged,
            "36afaef2afdf0ce794d7e4663e7f327664aaa4d7",
            2,
        ),
        (
            fixture!("pull_request.closed.3.json"),
            PrAction::Closed,
            "36afaef2afdf0ce794d7e4663e7f327664aaa4d7",
            2,
        ),
    ];
    for (body, want_action, want_head, want_number) in cases {
        let (pr, action, head) = pull_request_event(decode("pull_request", body).expect("decodes"));
        assert_eq!(action, want_action);
        assert_eq!(head.as_str(), want_head, "{want_action:?}");
        assert_eq!(pr.number, PrNumber(want_number), "{want_action:?}");
        assert!(pr.installation.is_some(), "{want_action:?}");
    }
}

#[test]
fn a_repository_hook_delivery_has_no_installation() {
    let (pr, _, _) = pull_request_event(
        decode("pull_request", fixture!("pull_request.opened.1.json")).expect("decodes"),
    );
    assert_eq!(pr.installation, None);
    assert_eq!(pr.repo.as_str(), "Codertocat/Hello-World");
}

#[test]
fn other_actions_and_edits_without_a_base_change_are_ignored() {
    assert_eq!(
        decode("pull_request", fixture!("pull_request.edited.2.json")),
        Ok(Event::Ignored {
            event: "pull_request".into(),
            action: Some("edited".into())
        })
    );
    assert_eq!(
        decode("pull_request", fixture!("pull_request.labeled.1.json")),
        Ok(Event::Ignored {
            event: "pull_request".into(),
            action: Some("labeled".into())
        })
    );
    // An action GitHub adds later (it did add `stacked` in 2026) must not break decoding.
    let mut body: serde_json::Value =
        serde_json::from_slice(fixture!("pull_request.opened.5.json")).expect("json");
    body["action"] = "stacked".into();
    let body = serde_json::to_vec(&body).expect("json");
    assert_eq!(
        decode("pull_request", &body),
        Ok(Event::Ignored {
            event: "pull_request".into(),
            action: Some("stacked".into())
        })
    );
}

#[test]
fn ping_and_unhandled_events() {
    assert_eq!(
        decode("ping", fixture!("ping.none.1.json")),
        Ok(Event::Ping)
    );
    assert_eq!(
        decode("issue_comment", fixture!("issue_comment.created.6.json")),
        Ok(Event::Ignored {
            event: "issue_comment".into(),
            action: Some("created".into())
        })
    );
    assert_eq!(
        decode("brand_new_event", br#"{"action": {"odd": true}}"#),
        Ok(Event::Ignored {
            event: "brand_new_event".into(),
            action: None
        })
    );
}

#[test]
fn bodies_that_do_not_decode_say_why() {
    assert!(matches!(
        decode("pull_request", b"payload=%7B%7D"),
        Err(DecodeError::NotJson(_))
    ));
    assert!(matches!(
        decode("ping", b"[1,2]"),
        Err(DecodeError::NotJson(_))
    ));
    let no_head =
        br#"{"action":"opened","number":3,"repository":{"full_name":"a/b"},"pull_request":{}}"#;
    let err = decode("pull_request", no_head).expect_err("no head");
    assert_eq!(
        err.to_string(),
        "pull_request.opened: missing or invalid `pull_request.head.sha`"
    );
    let bad_repo = br#"{"action":"synchronize","number":3,"repository":{"full_name":"../x"},"pull_request":{"head":{"sha":"36afaef2afdf0ce794d7e4663e7f327664aaa4d7"}}}"#;
    assert!(matches!(
        decode("pull_request", bad_repo),
        Err(DecodeError::Field {
            field: "repository.full_name",
            ..
        })
    ));
    let no_number = br#"{"action":"opened","repository":{"full_name":"a/b"},"pull_request":{"head":{"sha":"36afaef2afdf0ce794d7e4663e7f327664aaa4d7"}}}"#;
    assert!(matches!(
        decode("pull_request", no_number),
        Err(DecodeError::Field {
            field: "number",
            ..
        })
    ));
}

#[test]
fn the_number_falls_back_to_the_pull_request_object() {
    let body = br#"{"action":"opened","repository":{"full_name":"a/b"},"pull_request":{"number":9,"head":{"sha":"36AFAEF2AFDF0CE794D7E4663E7F327664AAA4D7"}}}"#;
    let (pr, _, head) = pull_request_event(decode("pull_request", body).expect("decodes"));
    assert_eq!(pr.number, PrNumber(9));
    assert_eq!(head.as_str(), "36afaef2afdf0ce794d7e4663e7f327664aaa4d7");
}
