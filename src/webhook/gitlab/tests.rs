use serde_json::{Value, json};

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/webhooks/gitlab/",
            $name
        ))
        .as_slice()
    };
}

fn pr(repo: &str, number: u64) -> PrRef {
    PrRef {
        forge: ForgeKind::GitLab,
        installation: None,
        repo: RepoName::from(repo),
        number: PrNumber(number),
    }
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("fixture is JSON")
}

/// A fixture with `edit` applied, re-serialised.
fn edited(bytes: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value = json_of(bytes);
    edit(&mut value);
    serde_json::to_vec(&value).expect("json")
}

fn mr(body: &[u8]) -> Event {
    decode(MERGE_REQUEST_HOOK, body).expect("decodes")
}

fn note_event(body: &[u8]) -> Event {
    decode(NOTE_HOOK, body).expect("decodes")
}

/// A user as an older payload names them: no `user.id`.
fn user(login: &str) -> Actor {
    Actor {
        login: Login::from(login),
        kind: ActorKind::User,
        id: None,
    }
}

fn user_with_id(login: &str, id: u64) -> Actor {
    Actor {
        id: Some(UserId(id)),
        ..user(login)
    }
}

#[test]
fn opened_merge_requests_decode_with_their_head() {
    // A gitlab.com capture whose `user` has no `id` (older payload shape).
    assert_eq!(
        mr(fixture!("merge_request.open.1.json")),
        Event::PullRequest {
            pr: pr("lkysow/atlantis-example", 12),
            action: PrAction::Opened,
            head: Sha::from("d2eae324ca26242abca45d7b49d582cddb2a4f15"),
            pushed_by: None,
        }
    );
    assert_eq!(
        mr(fixture!("merge_request.open.2.json")),
        Event::PullRequest {
            pr: pr("gitlabhq/gitlab-test", 1),
            action: PrAction::Opened,
            head: Sha::from("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
            pushed_by: None,
        }
    );
}

#[test]
fn an_update_with_oldrev_is_a_push() {
    for (body, repo, number, head, pusher) in [
        (
            fixture!("merge_request.update.1.json"),
            "quan.hoang/atlantis-example",
            3,
            "5ff66a1f7404deee915b50998c340e96d995f048",
            "quan.hoang",
        ),
        (
            fixture!("merge_request.update.2.json"),
            "testing/packit/hello-there",
            2,
            "45e272a57335e4e308f3176df6e9226a9e7805a9",
            "shreyaspapi",
        ),
    ] {
        assert_eq!(
            mr(body),
            Event::PullRequest {
                pr: pr(repo, number),
                action: PrAction::Synchronize,
                head: Sha::from(head),
                // The user of an update with new commits pushed them.
                pushed_by: Some(Login::from(pusher)),
            }
        );
    }
}

#[test]
fn updates_without_new_commits_are_ignored() {
    for body in [
        fixture!("merge_request.update.3.json"), // description
        fixture!("merge_request.update.5.json"), // reviewers
    ] {
        assert_eq!(
            mr(body),
            Event::Ignored {
                event: MERGE_REQUEST_HOOK.into(),
                action: Some("update".into()),
            }
        );
    }
    // An empty `oldrev` is no push either.
    let body = edited(fixture!("merge_request.update.3.json"), |v| {
        v["object_attributes"]["oldrev"] = "".into();
    });
    assert!(matches!(mr(&body), Event::Ignored { .. }));
}

#[test]
fn leaving_draft_is_ready_for_review() {
    // Older GitLab: only the title says it (`Draft: ...` -> `...`).
    assert_eq!(
        mr(fixture!("merge_request.update.4.json")),
        Event::PullRequest {
            pr: pr("sheather/test", 3),
            action: PrAction::ReadyForReview,
            head: Sha::from("386f281f2c9b1a3b659fc7a244ca6781174e1836"),
            pushed_by: None,
        }
    );
    // Recent GitLab: `changes.draft`.
    let body = edited(fixture!("merge_request.update.5.json"), |v| {
        v["changes"] = json!({"draft": {"previous": true, "current": false}});
    });
    assert!(matches!(
        mr(&body),
        Event::PullRequest {
            action: PrAction::ReadyForReview,
            ..
        }
    ));
    // Going into draft, or a title that merely mentions drafts, is nothing.
    for changes in [
        json!({"draft": {"previous": false, "current": true}}),
        json!({"title": {"previous": "Fix", "current": "Draft: Fix"}}),
        json!({"title": {"previous": "Drafting the policy", "current": "The policy"}}),
    ] {
        let body = edited(fixture!("merge_request.update.5.json"), |v| {
            v["changes"] = changes.clone();
        });
        assert!(matches!(mr(&body), Event::Ignored { .. }), "{changes}");
    }
}

#[test]
fn a_new_target_branch_is_a_base_change() {
    let body = edited(fixture!("merge_request.update.3.json"), |v| {
        v["changes"]["target_branch"] = json!({"previous": "main", "current": "release"});
    });
    assert_eq!(
        mr(&body),
        Event::PullRequest {
            pr: pr("quan.hoang/atlantis-example", 3),
            action: PrAction::BaseChanged,
            head: Sha::from("1ca7e340460796fe3eb17e2ea1b383ac4a1c95b7"),
            pushed_by: None,
        }
    );
    // New commits win over the retarget: both ask for the same analysis anyway.
    let body = edited(fixture!("merge_request.update.1.json"), |v| {
        v["changes"]["target_branch"] = json!({"previous": "main", "current": "release"});
    });
    assert!(matches!(
        mr(&body),
        Event::PullRequest {
            action: PrAction::Synchronize,
            ..
        }
    ));
    // A changes entry of an unexpected type is not a retarget, and not an error.
    let body = edited(fixture!("merge_request.update.3.json"), |v| {
        v["changes"]["target_branch"] = json!({"previous": 1, "current": [2]});
    });
    assert!(matches!(mr(&body), Event::Ignored { .. }));
}

#[test]
fn close_merge_and_reopen() {
    assert_eq!(
        mr(fixture!("merge_request.close.1.json")),
        Event::PullRequest {
            pr: pr("packit-service/hello-world", 19),
            action: PrAction::Closed,
            head: Sha::from("769beb0807cf0bafeb3357e787f8c2f8fd3ea42b"),
            pushed_by: None,
        }
    );
    // No upstream capture of `merge` or `reopen`: the open payload with the action changed.
    for (action, expected) in [("merge", PrAction::Closed), ("reopen", PrAction::Reopened)] {
        let body = edited(fixture!("merge_request.open.2.json"), |v| {
            v["object_attributes"]["action"] = action.into();
        });
        assert_eq!(
            mr(&body),
            Event::PullRequest {
                pr: pr("gitlabhq/gitlab-test", 1),
                action: expected,
                head: Sha::from("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
                pushed_by: None,
            },
            "{action}"
        );
    }
}

#[test]
fn approvals_are_reviews_by_the_acting_user() {
    // No upstream capture of approval hooks: the open payload (user id 1, `user1`) with the
    // action changed, which is the shape GitLab documents for them.
    for (action, review_action, state) in [
        ("approved", ReviewAction::Submitted, ReviewState::Approved),
        ("approval", ReviewAction::Submitted, ReviewState::Approved),
        (
            "unapproved",
            ReviewAction::Dismissed,
            ReviewState::Dismissed,
        ),
        (
            "unapproval",
            ReviewAction::Dismissed,
            ReviewState::Dismissed,
        ),
    ] {
        let body = edited(fixture!("merge_request.open.2.json"), |v| {
            v["object_attributes"]["action"] = action.into();
        });
        assert_eq!(
            mr(&body),
            Event::Review {
                pr: pr("gitlabhq/gitlab-test", 1),
                action: review_action,
                id: ReviewId(1),
                state,
                commit: Sha::from("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
                reviewer: user_with_id("user1", 1),
            },
            "{action}"
        );
    }
    // An older payload without `user.id`: the review id is 0, the reviewer still known.
    let body = edited(fixture!("merge_request.open.1.json"), |v| {
        v["object_attributes"]["action"] = "approved".into();
    });
    let Event::Review { id, reviewer, .. } = mr(&body) else {
        panic!("a review");
    };
    assert_eq!((id, reviewer), (ReviewId(0), user("lkysow")));
    // Without a user there is no reviewer: refused, not guessed.
    let body = edited(fixture!("merge_request.open.2.json"), |v| {
        v["object_attributes"]["action"] = "approved".into();
        v["user"] = Value::Null;
    });
    let err = decode(MERGE_REQUEST_HOOK, &body).expect_err("no user");
    assert!(err.to_string().contains("user.username"), "{err}");
}

#[test]
fn hooks_without_an_action_follow_the_state() {
    // Old GitLab (and time-tracking hooks today): an open MR is analysed.
    assert_eq!(
        mr(fixture!("merge_request.noaction.1.json")),
        Event::PullRequest {
            pr: pr("testing/packit/hello-there", 1),
            action: PrAction::Opened,
            head: Sha::from("1f6a716aa7a618a9ffe56970d77177d99d100022"),
            pushed_by: None,
        }
    );
    let with = |state: &str, oldrev: Option<&str>| {
        edited(fixture!("merge_request.noaction.1.json"), |v| {
            v["object_attributes"]["state"] = state.into();
            if let Some(rev) = oldrev {
                v["object_attributes"]["oldrev"] = rev.into();
            }
        })
    };
    let action = |body: &[u8]| match mr(body) {
        Event::PullRequest { action, .. } => Some(action),
        _ => None,
    };
    let rev = "94ccba9f986629e24b432c11d9c7fd20bb2ea51d";
    assert_eq!(
        action(&with("opened", Some(rev))),
        Some(PrAction::Synchronize)
    );
    assert_eq!(action(&with("merged", None)), Some(PrAction::Closed));
    assert_eq!(action(&with("closed", None)), Some(PrAction::Closed));
    assert_eq!(action(&with("locked", None)), None);
}

#[test]
fn unknown_actions_and_hooks_are_ignored() {
    let body = edited(fixture!("merge_request.open.2.json"), |v| {
        v["object_attributes"]["action"] = "stacked".into();
    });
    assert_eq!(
        mr(&body),
        Event::Ignored {
            event: MERGE_REQUEST_HOOK.into(),
            action: Some("stacked".into()),
        }
    );
    assert_eq!(
        decode("Job Hook", br#"{"object_kind":"build","ref":"main"}"#),
        Ok(Event::Ignored {
            event: "Job Hook".into(),
            action: None,
        })
    );
    assert_eq!(
        decode("Emoji Hook", br#"{"object_attributes":{"action":"award"}}"#),
        Ok(Event::Ignored {
            event: "Emoji Hook".into(),
            action: Some("award".into()),
        })
    );
    // A system hook carrying a merge request decodes as one.
    assert!(matches!(
        decode(SYSTEM_HOOK, fixture!("merge_request.update.1.json")),
        Ok(Event::PullRequest {
            action: PrAction::Synchronize,
            ..
        })
    ));
    assert!(matches!(
        decode(SYSTEM_HOOK, br#"{"event_name":"project_create"}"#),
        Ok(Event::Ignored { .. })
    ));
}

#[test]
fn notes_on_merge_requests_are_comments() {
    assert_eq!(
        note_event(fixture!("note.create.1.json")),
        Event::Comment {
            pr: pr("gitlab-org/gitlab-test", 1),
            action: CommentAction::Created,
            id: CommentId(1244),
            body: "This MR needs work.".into(),
            author: user_with_id("root", 1),
            via_app: None,
            // 2015-05-17 18:21:36 UTC
            created_ms: Some(1_431_886_896_000),
            seen_head: Some(Sha::from("562e173be03b8ff2efb05345d12df18815438a4b")),
        }
    );
    // Older payloads: no `action` (a creation), no `user.id`; a project in sub-subgroups.
    assert_eq!(
        note_event(fixture!("note.noaction.1.json")),
        Event::Comment {
            pr: pr("lkysow-test/subgroup/sub-subgroup/atlantis-example", 2),
            action: CommentAction::Created,
            id: CommentId(96056916),
            body: "atlantis plan".into(),
            author: user("lkysow"),
            via_app: None,
            created_ms: Some(1_534_918_464_000),
            seen_head: Some(Sha::from("901d9770ef1a6862e2a73ec1bacc73590abb9aff")),
        }
    );
    assert_eq!(
        note_event(fixture!("note.noaction.2.json")),
        Event::Comment {
            pr: pr("testing/packit/hello-there", 2),
            action: CommentAction::Created,
            id: CommentId(355648957),
            body: "must be reopened".into(),
            author: user("shreyaspapi"),
            via_app: None,
            created_ms: Some(1_591_303_937_000),
            seen_head: Some(Sha::from("45e272a57335e4e308f3176df6e9226a9e7805a9")),
        }
    );
    // An internal note arrives under its own event name.
    assert!(matches!(
        decode(CONFIDENTIAL_NOTE_HOOK, fixture!("note.create.1.json")),
        Ok(Event::Comment { .. })
    ));
}

#[test]
fn an_edited_note_is_an_edited_comment() {
    let body = edited(fixture!("note.create.1.json"), |v| {
        v["object_attributes"]["action"] = "update".into();
        v["object_attributes"]["note"] = "/iamgate approve".into();
    });
    let Event::Comment { action, body, .. } = note_event(&body) else {
        panic!("a comment");
    };
    assert_eq!(action, CommentAction::Edited);
    assert_eq!(body, "/iamgate approve");
}

#[test]
fn system_notes_other_noteables_and_unknown_note_actions_are_ignored() {
    let cases: [(&str, Value); 5] = [
        ("system", Value::Bool(true)),
        ("noteable_type", "Issue".into()),
        ("noteable_type", "Commit".into()),
        ("noteable_type", Value::Null),
        ("action", "destroy".into()),
    ];
    for (field, value) in cases {
        let body = edited(fixture!("note.create.1.json"), |v| {
            v["object_attributes"][field] = value.clone();
        });
        assert!(
            matches!(note_event(&body), Event::Ignored { ref event, .. } if event == NOTE_HOOK),
            "{field} = {value}"
        );
    }
}

#[test]
fn bots_are_told_apart_by_their_user_names() {
    for (username, kind) in [
        ("alice", ActorKind::User),
        ("project_278964_bot_1c9e5ff2e3a1b4c7", ActorKind::Bot),
        ("project_42_bot", ActorKind::Bot),
        ("group_9_bot_0a1b2c", ActorKind::Bot),
        ("service_account_group_9_abc", ActorKind::Bot),
        ("GitLab-Security-Bot", ActorKind::Bot),
        ("support-bot", ActorKind::Bot),
        ("ghost", ActorKind::Other),
        ("project_manager", ActorKind::User),
        ("group_bottles", ActorKind::User),
    ] {
        let body = edited(fixture!("note.create.1.json"), |v| {
            v["user"]["username"] = username.into();
        });
        let Event::Comment { author, .. } = note_event(&body) else {
            panic!("a comment");
        };
        assert_eq!(author.kind, kind, "{username}");
        assert_eq!(author.login.as_str(), username);
    }
}

#[test]
fn unusable_fields_are_refused_with_their_name() {
    type Case = (&'static [u8], &'static str, fn(&mut Value), &'static str);
    let cases: [Case; 6] = [
        (
            fixture!("merge_request.open.2.json"),
            MERGE_REQUEST_HOOK,
            |v| v["object_attributes"]["last_commit"]["id"] = "main".into(),
            "object_attributes.last_commit.id",
        ),
        (
            fixture!("merge_request.open.2.json"),
            MERGE_REQUEST_HOOK,
            |v| v["object_attributes"]["iid"] = 0.into(),
            "object_attributes.iid",
        ),
        (
            fixture!("merge_request.open.2.json"),
            MERGE_REQUEST_HOOK,
            |v| v["project"]["path_with_namespace"] = "../../admin".into(),
            "project.path_with_namespace",
        ),
        (
            fixture!("merge_request.open.2.json"),
            MERGE_REQUEST_HOOK,
            |v| v["project"]["path_with_namespace"] = "no-namespace".into(),
            "project.path_with_namespace",
        ),
        (
            fixture!("note.create.1.json"),
            NOTE_HOOK,
            |v| v["merge_request"] = Value::Null,
            "merge_request.iid",
        ),
        (
            fixture!("note.create.1.json"),
            NOTE_HOOK,
            |v| v["user"]["username"] = "al/../ice".into(),
            "user.username",
        ),
    ];
    for (fixture, event, edit, field) in cases {
        let body = edited(fixture, edit);
        let err = decode(event, &body).expect_err(field);
        assert!(
            matches!(&err, DecodeError::Field { field: f, .. } if *f == field),
            "{field}: {err}"
        );
    }
    assert!(matches!(
        decode(MERGE_REQUEST_HOOK, b"payload=%7B%7D"),
        Err(DecodeError::NotJson(_))
    ));
    assert!(matches!(
        decode("Push Hook", b"[1, 2"),
        Err(DecodeError::NotJson(_))
    ));
}

#[test]
fn upper_case_heads_are_normalised() {
    let body = edited(fixture!("merge_request.open.2.json"), |v| {
        v["object_attributes"]["last_commit"]["id"] =
            "DA1560886D4F094C3E6C9EF40349F7D38B5D27D7".into();
    });
    let Event::PullRequest { head, .. } = mr(&body) else {
        panic!("a PR event");
    };
    assert_eq!(head.as_str(), "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
}

/// A `Push Hook` delivery in GitLab's documented shape (no capture of one is in the fixtures).
fn push_hook(
    git_ref: &str,
    before: &str,
    after: &str,
    commits: serde_json::Value,
    total: usize,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "object_kind": "push",
        "event_name": "push",
        "before": before,
        "after": after,
        "ref": git_ref,
        "ref_protected": true,
        "checkout_sha": after,
        "user_id": 4,
        "user_name": "John Smith",
        "user_username": "jsmith",
        "project_id": 15,
        "project": {
            "id": 15,
            "name": "infra",
            "web_url": "https://gitlab.example/acme/infra",
            "path_with_namespace": "acme/infra",
            "default_branch": "main"
        },
        "commits": commits,
        "total_commits_count": total,
        "repository": { "name": "infra", "homepage": "https://gitlab.example/acme/infra" }
    }))
    .expect("json")
}

const BEFORE: &str = "95790bf891e76fee5e1747ab589903a6a1f80f22";
const AFTER: &str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";

fn pushed_commit(modified: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "id": AFTER,
        "message": "change",
        "title": "change",
        "added": [],
        "modified": modified,
        "removed": []
    })
}

fn branch_push(body: &[u8]) -> (RepoRef, String, bool) {
    match decode(PUSH_HOOK, body).expect("decodes") {
        Event::BranchPush {
            repo,
            branch,
            after,
            config_may_have_changed,
        } => {
            assert_eq!(after, Sha::from(AFTER));
            (repo, branch, config_may_have_changed)
        }
        other => panic!("not a branch push: {other:?}"),
    }
}

#[test]
fn a_push_hook_says_whether_the_config_may_have_changed() {
    let touched = serde_json::json!([
        pushed_commit(&["infra/index.ts"]),
        pushed_commit(&[".iamgate.yml"])
    ]);
    let (repo, branch, changed) =
        branch_push(&push_hook("refs/heads/main", BEFORE, AFTER, touched, 2));
    assert_eq!(
        repo,
        RepoRef {
            forge: ForgeKind::GitLab,
            installation: None,
            repo: RepoName::from("acme/infra"),
        }
    );
    assert_eq!(branch, "main");
    assert!(changed);
    let unrelated = serde_json::json!([pushed_commit(&["infra/index.ts"])]);
    assert!(
        !branch_push(&push_hook(
            "refs/heads/main",
            BEFORE,
            AFTER,
            unrelated.clone(),
            1
        ))
        .2
    );
    // GitLab lists the newest 20 commits: with more pushed, an unlisted one may have changed it.
    assert!(branch_push(&push_hook("refs/heads/main", BEFORE, AFTER, unrelated, 21)).2);
    // A force push back to an older commit lists none.
    assert!(
        branch_push(&push_hook(
            "refs/heads/main",
            BEFORE,
            AFTER,
            serde_json::json!([]),
            0
        ))
        .2
    );
}

#[test]
fn tag_pushes_and_deleted_branches_are_ignored() {
    let none = serde_json::json!([]);
    assert!(matches!(
        decode(
            PUSH_HOOK,
            &push_hook("refs/tags/v1", BEFORE, AFTER, none.clone(), 0)
        ),
        Ok(Event::Ignored { .. })
    ));
    let zeros = "0000000000000000000000000000000000000000";
    assert!(matches!(
        decode(
            PUSH_HOOK,
            &push_hook("refs/heads/old", BEFORE, zeros, none.clone(), 0)
        ),
        Ok(Event::Ignored { .. })
    ));
    assert!(matches!(
        decode(
            PUSH_HOOK,
            &push_hook("refs/heads/main", BEFORE, "nope", none, 0)
        ),
        Err(DecodeError::Field { field: "after", .. })
    ));
}

fn pipeline_hook(status: &str, tag: bool, mr: Option<u64>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "object_kind": "pipeline",
        "object_attributes": {
            "id": 31, "iid": 3, "ref": "feature", "tag": tag, "sha": AFTER,
            "source": "push", "status": status, "stages": ["test"]
        },
        "merge_request": mr.map(|iid| serde_json::json!({ "id": 99, "iid": iid, "state": "opened" })),
        "project": { "id": 15, "path_with_namespace": "acme/infra" },
        "builds": []
    }))
    .expect("json")
}

#[test]
fn every_pipeline_state_change_asks_for_a_status_check() {
    // Finished ones too: a status posted under iamgate's name finishes a pipeline.
    for status in [
        "created", "pending", "running", "success", "failed", "canceled",
    ] {
        assert_eq!(
            decode(PIPELINE_HOOK, &pipeline_hook(status, false, None)),
            Ok(Event::BranchPipeline {
                repo: RepoRef {
                    forge: ForgeKind::GitLab,
                    installation: None,
                    repo: RepoName::from("acme/infra"),
                },
                branch: "feature".into(),
                sha: Sha::from(AFTER),
            }),
            "{status}"
        );
        assert_eq!(
            decode(PIPELINE_HOOK, &pipeline_hook(status, false, Some(7))),
            Ok(Event::PullRequest {
                pr: pr("acme/infra", 7),
                action: PrAction::PipelineChanged,
                head: Sha::from(AFTER),
                pushed_by: None,
            }),
            "{status}"
        );
    }
    // Tag pipelines: nothing to do.
    assert!(matches!(
        decode(PIPELINE_HOOK, &pipeline_hook("pending", true, None)),
        Ok(Event::Ignored { .. })
    ));
}

#[test]
fn a_notes_time_is_read_in_gitlabs_hook_format_and_as_rfc3339() {
    assert_eq!(
        note_time("2015-05-17 18:21:36 UTC"),
        Some(1_431_886_896_000)
    );
    assert_eq!(
        note_time("2015-05-17T18:21:36.250Z"),
        Some(1_431_886_896_250)
    );
    assert_eq!(
        note_time("2015-05-17T20:21:36+02:00"),
        Some(1_431_886_896_000)
    );
    assert_eq!(note_time("yesterday"), None);
}

#[test]
fn group_member_events_say_membership_changed() {
    let body = br#"{"event_name":"user_remove_from_group","group_path":"acme/security","user_username":"sec1"}"#;
    assert_eq!(
        decode(MEMBER_HOOK, body).expect("decodes"),
        Event::MembershipChanged {
            forge: ForgeKind::GitLab
        }
    );
}
