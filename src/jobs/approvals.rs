//! Gathering the ballot of a pull request — its reviews (from the forge, now), its command votes
//! and analyzed fingerprints (from the store), the membership of every voter in every team that
//! matters (from the forge, through the short cache) — and evaluating it with the pure
//! [`crate::gate::approvals`]. Also audits what changed since the last evaluation.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::audit::{ApprovalSource, AuditEntry, AuditEvent, Timestamp, WithdrawalSource};
use crate::config::repo::{RepoConfig, Review};
use crate::engine::report::markdown::Reviews;
use crate::event::{ActorKind, Login, PrRef, ReviewState};
use crate::forge::{Forge, PullRequest};
use crate::gate::approvals::{
    Ballot, Membership, MembershipNeeds, OverrideVote, Vote, VoteKind, VoteSource, evaluate,
    membership_queries,
};
use crate::queue::JobFailure;
use crate::store::{self, PrState};

use super::ctx::JobCtx;

/// The review state of the pull request at its current head.
pub async fn gather(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    pr: &PullRequest,
    config: &RepoConfig,
    requirements: &[&Review],
    state: &mut PrState,
) -> Result<Reviews, JobFailure> {
    let reviews = forge.reviews(pr_ref).await?;
    let fingerprints = ctx.store.fingerprints(pr_ref).await?;
    let mut stored = ctx.store.votes(pr_ref).await?;
    // Approvals the forge reports without a commit (GitLab's) are bound to the head current
    // when iamgate first sees them: that sighting is stored, so a later push cannot move it.
    for review in &reviews {
        if review.commit.is_some() || review.state != ReviewState::Approved {
            continue;
        }
        let source = sighting_source(review);
        if stored.iter().any(|v| v.source == source) {
            continue;
        }
        let sighting = store::CommandVote {
            source,
            login: review.author.login.as_str().to_owned(),
            kind: store::VoteKind::Approve,
            head: pr.head.as_str().to_owned(),
            reason: None,
            at_ms: review.submitted_at.map_or(0, millis),
        };
        ctx.store.add_vote(pr_ref, &sighting).await?;
        stored.push(sighting);
    }
    let sightings: std::collections::BTreeMap<String, String> = stored
        .iter()
        .filter(|v| v.source.starts_with(SIGHTING))
        .map(|v| (v.source.clone(), v.head.clone()))
        .collect();
    let stored: Vec<store::CommandVote> = stored
        .into_iter()
        .filter(|v| !v.source.starts_with(SIGHTING))
        .collect();

    let mut votes = Vec::new();
    for review in &reviews {
        // Only a person's review can grant or block anything.
        if review.author.kind != ActorKind::User {
            continue;
        }
        let kind = match review.state {
            ReviewState::Approved => VoteKind::Approve,
            ReviewState::ChangesRequested => VoteKind::ChangesRequested,
            ReviewState::Dismissed => VoteKind::Withdraw,
            _ => continue,
        };
        votes.push(Vote {
            login: review.author.login.as_str().to_owned(),
            kind,
            source: VoteSource::Review,
            head: match &review.commit {
                Some(commit) => Some(commit.as_str().to_owned()),
                None => sightings.get(&sighting_source(review)).cloned(),
            },
            at: review.submitted_at.map_or(0, millis),
        });
    }
    let mut overrides = Vec::new();
    for vote in &stored {
        match vote.kind {
            store::VoteKind::Approve | store::VoteKind::Withdraw => votes.push(Vote {
                login: vote.login.clone(),
                kind: if vote.kind == store::VoteKind::Approve {
                    VoteKind::Approve
                } else {
                    VoteKind::Withdraw
                },
                source: VoteSource::Command,
                head: Some(vote.head.clone()),
                at: vote.at_ms,
            }),
            store::VoteKind::Override => overrides.push(OverrideVote {
                login: vote.login.clone(),
                reason: vote.reason.clone().unwrap_or_default(),
                head: vote.head.clone(),
                at: vote.at_ms,
            }),
        }
    }

    let mut membership = Membership::default();
    for (team, login) in membership_queries(MembershipNeeds {
        requirements,
        votes: &votes,
        overrides: &overrides,
        override_members: &config.overrides,
    }) {
        let member = ctx
            .membership
            .is_team_member(forge, pr_ref, &team, &Login::from(login.as_str()))
            .await?;
        membership.insert(&team, &login, member);
    }

    let ballot = Ballot {
        requirements,
        votes: &votes,
        overrides: &overrides,
        override_members: &config.overrides,
        author: pr.author.as_str(),
        allow_author_approval: config.allow_author_approval,
        invalidation: config.invalidate_approvals,
        head: pr.head.as_str(),
        fingerprints: &fingerprints,
        membership: &membership,
    };
    let result = evaluate(&ballot);
    audit_changes(ctx, pr_ref, pr, &reviews, &result, &fingerprints, state).await?;
    Ok(result)
}

/// Records reviews not seen before (approvals, change requests, dismissals) and approvals
/// dropped for a reason not recorded before.
async fn audit_changes(
    ctx: &JobCtx,
    pr_ref: &PrRef,
    pr: &PullRequest,
    reviews: &[crate::forge::Review],
    result: &Reviews,
    fingerprints: &std::collections::BTreeMap<String, String>,
    state: &mut PrState,
) -> Result<(), JobFailure> {
    let now = Timestamp::from_system_time(SystemTime::now());
    let current = fingerprints.get(pr.head.as_str()).cloned();
    for review in reviews {
        if review.author.kind != ActorKind::User {
            continue;
        }
        // A review keeps its id when it is dismissed: an approval audited before must still have
        // its withdrawal recorded, so a dismissal is remembered apart from the review's id.
        let dismissal = review.state == ReviewState::Dismissed;
        let seen = if dismissal {
            state.audited.dismissed_reviews.contains(&review.id.0)
        } else {
            state.audited.reviews.contains(&review.id.0)
        };
        if seen {
            continue;
        }
        let at_fingerprint = review
            .commit
            .as_ref()
            .and_then(|c| fingerprints.get(c.as_str()).cloned());
        let counts_for: Vec<String> = result
            .requirements
            .iter()
            .filter(|r| {
                r.approved_by
                    .iter()
                    .any(|l| l.eq_ignore_ascii_case(review.author.login.as_str()))
            })
            .map(|r| r.name.clone())
            .collect();
        let event = match review.state {
            // An approval that counts for no requirement (a stranger's) is not an approval of
            // the gate: nothing to record. It is looked at again when something changes.
            ReviewState::Approved if counts_for.is_empty() => continue,
            ReviewState::Approved => AuditEvent::Approval {
                via: ApprovalSource::Review,
                fingerprint: at_fingerprint,
                requirements: counts_for,
                reason: None,
            },
            ReviewState::ChangesRequested => AuditEvent::ChangesRequested {
                fingerprint: at_fingerprint,
            },
            ReviewState::Dismissed => AuditEvent::Withdrawal {
                via: WithdrawalSource::DismissedReview,
                approver: review.author.login.clone(),
            },
            _ => continue,
        };
        let mut entry = AuditEntry::by(now, pr_ref, review.author.login.clone(), event);
        if let Some(commit) = &review.commit {
            entry = entry.at(commit.clone());
        }
        ctx.store.append_audit(entry).await?;
        if dismissal {
            state.audited.dismissed_reviews.insert(review.id.0);
        } else {
            state.audited.reviews.insert(review.id.0);
        }
    }
    for dropped in &result.dropped {
        let key = format!(
            "{} {} {}",
            dropped.login,
            dropped.reason,
            current.as_deref().unwrap_or("-")
        );
        if !state.audited.drops.insert(key) {
            continue;
        }
        let event = AuditEvent::ApprovalDropped {
            approver: Login::from(dropped.login.as_str()),
            approved_sha: None,
            approved_fingerprint: None,
            reason: dropped.reason.clone(),
        };
        ctx.store
            .append_audit(AuditEntry::by_app(now, pr_ref, event).at(pr.head.clone()))
            .await?;
    }
    Ok(())
}

/// Sources of stored sightings start with this (they are not command votes).
const SIGHTING: &str = "review-sighting:";

/// The key of a commit-less approval's sighting: the review and when it was given (a new
/// approval after a withdrawal is a new sighting).
fn sighting_source(review: &crate::forge::Review) -> String {
    format!(
        "{SIGHTING}{}:{}",
        review.id.0,
        review.submitted_at.map_or(0, millis)
    )
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
