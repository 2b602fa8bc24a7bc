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
        Event::PullRequest {
            pr, action, head, ..
        } => (pr, action, head),
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
            pushed_by: None,
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

/// `issue_comment.created.4.json` (on an issue) made into a comment on PR #1, the way GitHub
/// marks a PR: an `issue.pull_request` object.
fn pr_comment(body: &str, action: &str) -> Vec<u8> {
    let mut payload: serde_json::Value =
        serde_json::from_slice(fixture!("issue_comment.created.4.json")).expect("json");
    payload["action"] = action.into();
    payload["issue"]["pull_request"] = serde_json::json!({
        "url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1",
        "merged_at": null
    });
    payload["comment"]["body"] = body.into();
    serde_json::to_vec(&payload).expect("json")
}

#[test]
fn a_comment_created_on_a_pull_request() {
    let event = decode("issue_comment", &pr_comment("/iamgate approve", "created")).expect("ok");
    assert_eq!(
        event,
        Event::Comment {
            pr: pr(Some(1), "Codertocat/Hello-World", 1),
            action: CommentAction::Created,
            id: CommentId(492700400),
            body: "/iamgate approve".into(),
            author: Actor {
                login: Login::from("Codertocat"),
                kind: ActorKind::User,
                id: Some(UserId(21031067)),
            },
            via_app: None,
            // 2019-05-15T15:20:21Z
            created_ms: Some(1_557_933_621_000),
            seen_head: None,
        }
    );
}

#[test]
fn real_edited_and_deleted_pr_comments_by_a_bot() {
    let Event::Comment {
        pr: got_pr,
        action,
        id,
        body,
        author,
        via_app,
        created_ms,
        ..
    } = decode("issue_comment", fixture!("issue_comment.edited.3.json")).expect("decodes")
    else {
        panic!("a comment event");
    };
    assert_eq!(got_pr, pr(Some(7777777), "gagbo/ouro-closures", 5));
    assert_eq!(action, CommentAction::Edited);
    assert_eq!(id, CommentId(1640255529));
    assert_eq!(created_ms, Some(1_689_687_810_000), "2023-07-18T13:43:30Z");
    assert!(body.starts_with("# ![Autometrics logo]"), "{body}");
    assert_eq!(
        author,
        Actor {
            login: Login::from("gagbo-test-app[bot]"),
            kind: ActorKind::Bot,
            id: Some(UserId(139451816)),
        }
    );
    assert_eq!(via_app, None);

    let deleted = decode("issue_comment", fixture!("issue_comment.deleted.3.json")).expect("ok");
    assert!(matches!(
        deleted,
        Event::Comment {
            action: CommentAction::Deleted,
            id: CommentId(1640276806),
            author: Actor {
                kind: ActorKind::Bot,
                ..
            },
            ..
        }
    ));
}

#[test]
fn comments_on_issues_and_other_comment_actions_are_ignored() {
    for (name, body) in [
        ("created.4", fixture!("issue_comment.created.4.json")),
        ("created.6", fixture!("issue_comment.created.6.json")),
    ] {
        assert_eq!(
            decode("issue_comment", body),
            Ok(Event::Ignored {
                event: "issue_comment".into(),
                action: Some("created".into())
            }),
            "{name}"
        );
    }
    assert_eq!(
        decode("issue_comment", &pr_comment("x", "pinned")),
        Ok(Event::Ignored {
            event: "issue_comment".into(),
            action: Some("pinned".into())
        })
    );
}

#[test]
fn a_comment_made_through_an_app_says_which() {
    let mut payload: serde_json::Value =
        serde_json::from_slice(&pr_comment("/iamgate approve", "created")).expect("json");
    payload["comment"]["performed_via_github_app"] =
        serde_json::json!({"id": 42, "slug": "helper-app", "name": "Helper"});
    let body = serde_json::to_vec(&payload).expect("json");
    let Ok(Event::Comment {
        via_app, author, ..
    }) = decode("issue_comment", &body)
    else {
        panic!("a comment event");
    };
    assert_eq!(
        via_app,
        Some(ViaApp {
            id: 42,
            slug: "helper-app".into()
        })
    );
    assert_eq!(author.kind, ActorKind::User);
}

#[test]
fn comment_fields_that_are_missing_or_unsafe_are_errors() {
    let mut payload: serde_json::Value =
        serde_json::from_slice(&pr_comment("x", "created")).expect("json");
    payload["comment"]["user"]["login"] = "../../orgs/acme".into();
    let body = serde_json::to_vec(&payload).expect("json");
    assert_eq!(
        decode("issue_comment", &body)
            .expect_err("unsafe login")
            .to_string(),
        "issue_comment.created: missing or invalid `comment.user.login`"
    );
    payload["comment"]["id"] = serde_json::Value::Null;
    let body = serde_json::to_vec(&payload).expect("json");
    assert!(matches!(
        decode("issue_comment", &body),
        Err(DecodeError::Field {
            field: "comment.id",
            ..
        })
    ));
    // A user without a type is never taken for a person.
    let mut payload: serde_json::Value =
        serde_json::from_slice(&pr_comment("x", "created")).expect("json");
    payload["comment"]["user"]
        .as_object_mut()
        .expect("user")
        .remove("type");
    let body = serde_json::to_vec(&payload).expect("json");
    let Ok(Event::Comment { author, .. }) = decode("issue_comment", &body) else {
        panic!("a comment event");
    };
    assert_eq!(author.kind, ActorKind::Other);
}

fn review_with_state(state: &str) -> Vec<u8> {
    let mut payload: serde_json::Value =
        serde_json::from_slice(fixture!("pull_request_review.submitted.2.json")).expect("json");
    payload["review"]["state"] = state.into();
    serde_json::to_vec(&payload).expect("json")
}

#[test]
fn a_real_submitted_review() {
    let event = decode(
        "pull_request_review",
        fixture!("pull_request_review.submitted.2.json"),
    )
    .expect("decodes");
    assert_eq!(
        event,
        Event::Review {
            pr: pr(Some(1), "Codertocat/Hello-World", 2),
            action: ReviewAction::Submitted,
            id: ReviewId(237895671),
            state: ReviewState::Commented,
            commit: Sha::from("ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
            reviewer: Actor {
                login: Login::from("Codertocat"),
                kind: ActorKind::User,
                id: Some(UserId(21031067)),
            },
        }
    );
}

#[test]
fn review_states_decode_in_either_case_and_unknown_ones_are_kept() {
    for (raw, want) in [
        ("approved", ReviewState::Approved),
        ("APPROVED", ReviewState::Approved),
        ("changes_requested", ReviewState::ChangesRequested),
        ("pending", ReviewState::Pending),
        ("superseded", ReviewState::Other("superseded".into())),
    ] {
        let Ok(Event::Review { state, .. }) =
            decode("pull_request_review", &review_with_state(raw))
        else {
            panic!("a review event for {raw}");
        };
        assert_eq!(state, want, "{raw}");
    }
}

#[test]
fn a_real_dismissed_review_and_other_review_actions() {
    let event = decode(
        "pull_request_review",
        fixture!("pull_request_review.dismissed.1.json"),
    )
    .expect("decodes");
    assert!(matches!(
        event,
        Event::Review {
            action: ReviewAction::Dismissed,
            state: ReviewState::Dismissed,
            ..
        }
    ));
    let mut payload: serde_json::Value =
        serde_json::from_slice(&review_with_state("approved")).expect("json");
    payload["action"] = "edited".into();
    let body = serde_json::to_vec(&payload).expect("json");
    assert!(matches!(
        decode("pull_request_review", &body),
        Ok(Event::Review {
            action: ReviewAction::Edited,
            state: ReviewState::Approved,
            ..
        })
    ));
    payload["action"] = "requested".into();
    let body = serde_json::to_vec(&payload).expect("json");
    assert_eq!(
        decode("pull_request_review", &body),
        Ok(Event::Ignored {
            event: "pull_request_review".into(),
            action: Some("requested".into())
        })
    );
}

#[test]
fn review_fields_that_are_missing_or_invalid_are_errors() {
    let mut payload: serde_json::Value =
        serde_json::from_slice(&review_with_state("approved")).expect("json");
    payload["review"]["commit_id"] = "main".into();
    let body = serde_json::to_vec(&payload).expect("json");
    assert_eq!(
        decode("pull_request_review", &body)
            .expect_err("no sha")
            .to_string(),
        "pull_request_review.submitted: missing or invalid `review.commit_id`"
    );
    let mut payload: serde_json::Value =
        serde_json::from_slice(&review_with_state("approved")).expect("json");
    payload["pull_request"]
        .as_object_mut()
        .expect("pr")
        .remove("number");
    let body = serde_json::to_vec(&payload).expect("json");
    assert!(matches!(
        decode("pull_request_review", &body),
        Err(DecodeError::Field {
            field: "pull_request.number",
            ..
        })
    ));
}

#[test]
fn new_events_round_trip_through_the_stored_json() {
    for event in [
        decode("issue_comment", &pr_comment("/iamgate approve", "created")).expect("ok"),
        decode("pull_request_review", &review_with_state("approved")).expect("ok"),
        decode("pull_request_review", &review_with_state("odd")).expect("ok"),
    ] {
        let json = serde_json::to_string(&event).expect("serializes");
        assert_eq!(serde_json::from_str::<Event>(&json).expect("back"), event);
    }
    // Existing variants keep their stored shape.
    assert_eq!(
        serde_json::to_value(Event::Ping).expect("json"),
        serde_json::json!({"kind": "ping"})
    );
    let json =
        serde_json::to_value(decode("issue_comment", &pr_comment("hi", "deleted")).expect("ok"))
            .expect("json");
    assert_eq!(json["kind"], "comment");
    assert_eq!(json["action"], "deleted");
}

/// A `push` delivery in GitHub's documented shape (no capture of one is in the fixtures).
fn push_payload(git_ref: &str, forced: bool, deleted: bool, commits: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ref": git_ref,
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": if deleted { "0000000000000000000000000000000000000000" } else { "76AE82C7B1A177C8D03F9E96E0ADF2466113728F" },
        "created": false,
        "deleted": deleted,
        "forced": forced,
        "base_ref": null,
        "compare": "https://github.com/acme/infra/compare/6113728f27ae...76ae82c7b1a1",
        "commits": commits,
        "head_commit": null,
        "repository": { "id": 1, "full_name": "acme/infra", "name": "infra", "owner": { "login": "acme" } },
        "pusher": { "name": "dev", "email": "dev@example.com" },
        "sender": { "login": "dev", "id": 7, "type": "User" },
        "installation": { "id": 42, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=" }
    }))
    .expect("json")
}

fn commit(added: &[&str], modified: &[&str], removed: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "id": "76ae82c7b1a177c8d03f9e96e0adf2466113728f",
        "message": "change",
        "added": added,
        "removed": removed,
        "modified": modified
    })
}

fn pushed(body: &[u8]) -> (RepoRef, String, Sha, bool) {
    match decode("push", body).expect("decodes") {
        Event::BranchPush {
            repo,
            branch,
            after,
            config_may_have_changed,
        } => (repo, branch, after, config_may_have_changed),
        other => panic!("not a branch push: {other:?}"),
    }
}

#[test]
fn a_push_that_touches_the_config_may_have_changed_it() {
    let commits = serde_json::json!([
        commit(&["infra/new.ts"], &[], &[]),
        commit(&[], &[".iamgate.yml", "README.md"], &[]),
    ]);
    let (repo, branch, after, changed) = pushed(&push_payload(
        "refs/heads/release/1.x",
        false,
        false,
        commits,
    ));
    assert_eq!(
        repo,
        RepoRef {
            forge: ForgeKind::GitHub,
            installation: Some(42),
            repo: RepoName::from("acme/infra"),
        }
    );
    assert_eq!(branch, "release/1.x");
    assert_eq!(after, Sha::from("76ae82c7b1a177c8d03f9e96e0adf2466113728f"));
    assert!(changed);
    // Removed counts too; a nested file of the same name does not.
    let removed = serde_json::json!([commit(&[], &[], &[".iamgate.yml"])]);
    assert!(pushed(&push_payload("refs/heads/main", false, false, removed)).3);
    let nested = serde_json::json!([commit(&[], &["infra/.iamgate.yml"], &[])]);
    assert!(!pushed(&push_payload("refs/heads/main", false, false, nested)).3);
}

#[test]
fn a_push_that_cannot_be_ruled_out_may_have_changed_the_config() {
    let unrelated = serde_json::json!([commit(&[], &["infra/index.ts"], &[])]);
    assert!(
        !pushed(&push_payload(
            "refs/heads/main",
            false,
            false,
            unrelated.clone()
        ))
        .3
    );
    // A forced push may have dropped commits the listing does not show.
    assert!(pushed(&push_payload("refs/heads/main", true, false, unrelated)).3);
    // A listing at GitHub's caps may be cut.
    let many: Vec<serde_json::Value> = (0..2048).map(|_| commit(&[], &["a.ts"], &[])).collect();
    assert!(pushed(&push_payload("refs/heads/main", false, false, many.into())).3);
    let paths: Vec<String> = (0..5000).map(|i| format!("f{i}.ts")).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let wide = serde_json::json!([commit(&paths, &[], &[])]);
    assert!(pushed(&push_payload("refs/heads/main", false, false, wide)).3);
    // A very large commit comes with no file lists at all.
    let unlisted = serde_json::json!([commit(&[], &["a.ts"], &[]), commit(&[], &[], &[])]);
    assert!(pushed(&push_payload("refs/heads/main", false, false, unlisted)).3);
}

#[test]
fn tag_pushes_and_branch_deletions_are_ignored_and_bad_pushes_are_errors() {
    let none = serde_json::json!([]);
    assert!(matches!(
        decode(
            "push",
            &push_payload("refs/tags/v1.0", false, false, none.clone())
        ),
        Ok(Event::Ignored { .. })
    ));
    assert!(matches!(
        decode(
            "push",
            &push_payload("refs/heads/main", false, true, none.clone())
        ),
        Ok(Event::Ignored { .. })
    ));
    let mut bad: serde_json::Value =
        serde_json::from_slice(&push_payload("refs/heads/main", false, false, none)).unwrap();
    bad["after"] = "not-a-sha".into();
    assert!(matches!(
        decode("push", &serde_json::to_vec(&bad).unwrap()),
        Err(DecodeError::Field { field: "after", .. })
    ));
}

#[test]
fn a_push_names_its_pusher_and_other_actions_nobody() {
    let Event::PullRequest { pushed_by, .. } =
        decode("pull_request", fixture!("pull_request.synchronize.2.json")).expect("decodes")
    else {
        panic!("a pull request event");
    };
    assert_eq!(pushed_by, Some(Login::from("gagbo")));
    let Event::PullRequest { pushed_by, .. } =
        decode("pull_request", fixture!("pull_request.opened.5.json")).expect("decodes")
    else {
        panic!("a pull request event");
    };
    assert_eq!(pushed_by, None);
}

#[test]
fn membership_team_and_organization_events_say_membership_changed() {
    for event in ["membership", "team", "organization"] {
        assert_eq!(
            decode(event, br#"{"action":"removed"}"#).expect("decodes"),
            Event::MembershipChanged {
                forge: ForgeKind::GitHub
            },
            "{event}"
        );
    }
    assert!(decode("membership", b"not json").is_err());
}
