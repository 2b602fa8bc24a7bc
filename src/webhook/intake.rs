//! Intake of a verified, decoded delivery: decide its jobs, store it with them in one step, and
//! wake the worker. Forge-neutral. It never acknowledges anything itself: the caller replies 2xx
//! only after `accept` returned, so a 2xx always means "durably stored".

use tokio::sync::Notify;

use crate::commands;
use crate::event::{
    ActorKind, BranchRole, CommentAction, Event, PrAction, ReviewAction, ReviewState,
};
use crate::store::{
    CommandVote, CommandVoteKind, JobKind, NewDelivery, REVIEW_HOOK, Recorded, Store, StoreResult,
};

/// The jobs a decoded event asks for: an analysis for a PR event (a closed PR's releases its
/// head's status); the gate
/// recomputed after a review is submitted or dismissed; the commands of a comment that a person
/// just created. Edited and deleted comments, bots' comments (iamgate's own included) and
/// comments without a command line ask for nothing.
pub fn jobs_for(event: &Event) -> Vec<JobKind> {
    match event {
        // A pipeline's state change asks only for a check of the head's status there.
        Event::PullRequest {
            pr,
            action: PrAction::PipelineChanged,
            ..
        } => vec![JobKind::CheckStatus { pr: pr.clone() }],
        // A closed pull request is run too: it releases its head's status, which it may have
        // been holding back for another pull request of the same head.
        Event::PullRequest { pr, .. } => vec![JobKind::AnalyzePr { pr: pr.clone() }],
        Event::Review { pr, action, .. } if *action != ReviewAction::Edited => {
            vec![JobKind::AnalyzePr { pr: pr.clone() }]
        }
        Event::Comment {
            pr,
            action: CommentAction::Created,
            id,
            body,
            author,
            via_app: None,
            created_ms,
            seen_head,
        } if author.kind == ActorKind::User && !commands::parse(body).is_empty() => {
            vec![JobKind::Command {
                pr: pr.clone(),
                comment: *id,
                author: author.login.clone(),
                author_id: author.id,
                body: body.clone(),
                created_ms: *created_ms,
                seen_head: seen_head.clone(),
            }]
        }
        Event::BranchPush {
            repo,
            branch,
            config_may_have_changed: true,
            ..
        } => vec![JobKind::RecheckBranch {
            repo: repo.clone(),
            branch: branch.clone(),
            role: BranchRole::Base,
        }],
        Event::BranchPipeline { repo, branch, .. } => vec![JobKind::RecheckBranch {
            repo: repo.clone(),
            branch: branch.clone(),
            role: BranchRole::Head,
        }],
        Event::BranchPush { .. }
        | Event::MembershipChanged { .. }
        | Event::Review { .. }
        | Event::Comment { .. }
        | Event::Ping
        | Event::Ignored { .. } => Vec::new(),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Stores the delivery and its jobs (and, for an approval, the commit its webhook named); after
/// a fresh delivery with jobs, pokes the worker.
pub async fn accept(
    store: &dyn Store,
    notify: &Notify,
    delivery: NewDelivery,
) -> StoreResult<Recorded> {
    if let Event::Review {
        pr,
        action: ReviewAction::Submitted,
        state: ReviewState::Approved,
        commit,
        reviewer,
        ..
    } = &delivery.event
        && reviewer.kind == ActorKind::User
    {
        // Before the delivery (and its job) is stored: the job must find it. Keyed by the
        // delivery, so a redelivery adds nothing.
        let hook = CommandVote {
            source: format!("{REVIEW_HOOK}{}", delivery.id.0),
            login: reviewer.login.as_str().to_owned(),
            user_id: reviewer.id,
            kind: CommandVoteKind::Approve,
            head: commit.as_str().to_owned(),
            reason: None,
            at_ms: now_ms(),
        };
        store.add_vote(pr, &hook, None).await?;
    }
    let jobs = jobs_for(&delivery.event);
    let poke = !jobs.is_empty();
    let recorded = store.record_delivery(delivery, jobs).await?;
    if recorded == Recorded::Fresh && poke {
        notify.notify_one();
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DeliveryId, ForgeKind, PrAction, PrNumber, PrRef, RepoName, Sha};
    use crate::webhook::testing::FakeStore;

    fn pr_event(action: PrAction) -> Event {
        Event::PullRequest {
            pr: PrRef {
                forge: ForgeKind::GitHub,
                installation: Some(1),
                repo: RepoName::from("acme/infra"),
                number: PrNumber(4),
            },
            action,
            head: Sha::from("36afaef2afdf0ce794d7e4663e7f327664aaa4d7"),
            pushed_by: None,
        }
    }

    fn delivery(id: &str, event: Event) -> NewDelivery {
        NewDelivery {
            id: DeliveryId::from(id),
            forge: "github".into(),
            event_name: "pull_request".into(),
            event,
            body_sha256: None,
        }
    }

    #[test]
    fn a_push_that_may_have_changed_the_config_rechecks_the_branch() {
        let push = |config_may_have_changed| Event::BranchPush {
            repo: crate::event::RepoRef {
                forge: crate::event::ForgeKind::GitLab,
                installation: None,
                repo: crate::event::RepoName::from("acme/infra"),
            },
            branch: "main".into(),
            after: crate::event::Sha::from("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
            config_may_have_changed,
        };
        assert!(matches!(
            &jobs_for(&push(true))[..],
            [JobKind::RecheckBranch { repo, branch, role: BranchRole::Base }] if repo.repo.as_str() == "acme/infra" && branch == "main"
        ));
        assert!(jobs_for(&push(false)).is_empty());
        let pipeline = Event::BranchPipeline {
            repo: crate::event::RepoRef {
                forge: crate::event::ForgeKind::GitLab,
                installation: None,
                repo: crate::event::RepoName::from("acme/infra"),
            },
            branch: "feature".into(),
            sha: crate::event::Sha::from("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
        };
        assert!(matches!(
            &jobs_for(&pipeline)[..],
            [JobKind::RecheckBranch { branch, role: BranchRole::Head, .. }] if branch == "feature"
        ));
    }

    #[test]
    fn pull_request_events_get_one_analysis_job_and_the_rest_none() {
        for action in [
            PrAction::Opened,
            PrAction::Synchronize,
            PrAction::Reopened,
            PrAction::ReadyForReview,
            PrAction::BaseChanged,
            // A closed pull request's job releases its head's status.
            PrAction::Closed,
        ] {
            let jobs = jobs_for(&pr_event(action));
            assert_eq!(jobs.len(), 1, "{action:?}");
            assert!(matches!(&jobs[0], JobKind::AnalyzePr { pr } if pr.number == PrNumber(4)));
        }
        assert!(jobs_for(&Event::Ping).is_empty());
        assert!(
            jobs_for(&Event::Ignored {
                event: "issue_comment".into(),
                action: None
            })
            .is_empty()
        );
    }

    fn comment(body: &str, action: CommentAction, kind: ActorKind) -> Event {
        let pr = match pr_event(PrAction::Opened) {
            Event::PullRequest { pr, .. } => pr,
            _ => unreachable!(),
        };
        Event::Comment {
            pr,
            action,
            id: crate::event::CommentId(77),
            body: body.into(),
            author: crate::event::Actor {
                login: crate::event::Login::from("alice"),
                kind,
                id: Some(crate::event::UserId(5)),
            },
            via_app: None,
            created_ms: Some(1),
            seen_head: None,
        }
    }

    #[test]
    fn only_a_person_s_new_comment_with_a_command_line_gets_a_command_job() {
        let jobs = jobs_for(&comment(
            "LGTM\n/iamgate approve ok",
            CommentAction::Created,
            ActorKind::User,
        ));
        assert!(
            matches!(&jobs[..], [JobKind::Command { comment, author, author_id, .. }] if comment.0 == 77 && author.as_str() == "alice" && *author_id == Some(crate::event::UserId(5))),
            "{jobs:?}"
        );
        for (body, action, kind) in [
            ("/iamgate approve", CommentAction::Edited, ActorKind::User),
            ("/iamgate approve", CommentAction::Deleted, ActorKind::User),
            ("/iamgate approve", CommentAction::Created, ActorKind::Bot),
            ("just a comment", CommentAction::Created, ActorKind::User),
            (
                "> /iamgate approve",
                CommentAction::Created,
                ActorKind::User,
            ),
        ] {
            assert!(
                jobs_for(&comment(body, action, kind)).is_empty(),
                "{body:?} {action:?} {kind:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_fresh_delivery_with_jobs_wakes_the_worker_once() {
        let store = FakeStore::default();
        let notify = Notify::new();
        let got = accept(&store, &notify, delivery("d1", pr_event(PrAction::Opened))).await;
        assert_eq!(got.expect("stored"), Recorded::Fresh);
        // The permit was stored: a waiting worker returns at once.
        tokio::time::timeout(std::time::Duration::from_secs(1), notify.notified())
            .await
            .expect("worker poked");

        let again = accept(&store, &notify, delivery("d1", pr_event(PrAction::Opened))).await;
        assert_eq!(again.expect("stored"), Recorded::Duplicate);
        let ping = accept(&store, &notify, delivery("d2", Event::Ping)).await;
        assert_eq!(ping.expect("stored"), Recorded::Fresh);
        let woken =
            tokio::time::timeout(std::time::Duration::from_millis(50), notify.notified()).await;
        assert!(
            woken.is_err(),
            "no poke for a duplicate or a delivery without jobs"
        );
        assert_eq!(store.deliveries().len(), 2);
        assert_eq!(store.jobs().len(), 1);
    }

    #[tokio::test]
    async fn an_approval_records_the_commit_its_webhook_named_once() {
        let store = FakeStore::default();
        let notify = Notify::new();
        let pr = match pr_event(PrAction::Opened) {
            Event::PullRequest { pr, .. } => pr,
            _ => unreachable!(),
        };
        let review = |state: ReviewState| Event::Review {
            pr: pr.clone(),
            action: ReviewAction::Submitted,
            id: crate::event::ReviewId(5),
            state,
            commit: Sha::from("1111111111111111111111111111111111111111"),
            reviewer: crate::event::Actor {
                login: crate::event::Login::from("sec1"),
                kind: ActorKind::User,
                id: None,
            },
        };
        for id in ["r1", "r1"] {
            accept(&store, &notify, delivery(id, review(ReviewState::Approved)))
                .await
                .expect("stored");
        }
        accept(
            &store,
            &notify,
            delivery("r2", review(ReviewState::ChangesRequested)),
        )
        .await
        .expect("stored");
        let votes = store.votes(&pr).await.expect("votes");
        assert_eq!(
            votes.len(),
            1,
            "one row for the approval, none for the rest: {votes:?}"
        );
        assert_eq!(votes[0].source, "review-hook:r1");
        assert_eq!(votes[0].head, "1111111111111111111111111111111111111111");
        assert_eq!(votes[0].login, "sec1");
        assert_eq!(store.jobs().len(), 2, "both reviews recompute the gate");
    }

    #[tokio::test]
    async fn a_store_failure_is_returned_and_nobody_is_poked() {
        let store = FakeStore::failing();
        let notify = Notify::new();
        let got = accept(&store, &notify, delivery("d1", pr_event(PrAction::Opened))).await;
        assert!(got.is_err());
        let woken =
            tokio::time::timeout(std::time::Duration::from_millis(50), notify.notified()).await;
        assert!(woken.is_err());
    }
}
