//! Gathering the ballot of a pull request — its reviews (from the forge, now), its command votes
//! and analyzed fingerprints (from the store), the membership of every voter in every team that
//! matters (from the forge, through the short cache) — and evaluating it with the pure
//! [`crate::gate::approvals`]. Also audits what changed since the last evaluation.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::audit::{ApprovalSource, AuditEntry, AuditEvent, Timestamp, WithdrawalSource};
use crate::config::repo::{RepoConfig, ReviewRule};
use crate::event::{ActorKind, Login, PrRef, ReviewState, Sha, UserId, UserRef};
use crate::forge::{Forge, PullRequest};
use crate::gate::Reviews;
use crate::gate::approvals::{
    Ballot, Membership, MembershipNeeds, OverrideVote, Vote, VoteKind, VoteSource, evaluate,
    membership_queries,
};
use crate::publish::KeptState;
use crate::queue::JobFailure;
use crate::store;
use crate::store::backing::SIGHTING;

use super::ctx::JobCtx;

/// The account id behind each voter's lower-cased login, from the reviews and the stored votes
/// that carry one, so that membership is asked about the account that voted rather than whoever
/// holds the name now. A login seen with two different ids (renamed, and the name taken by
/// another account) maps to `None`: asked by name, as when no id is known.
fn account_ids(
    reviews: &[crate::forge::Review],
    stored: &[store::CommandVote],
) -> HashMap<String, Option<UserId>> {
    let mut ids: HashMap<String, Option<UserId>> = HashMap::new();
    let seen = reviews
        .iter()
        .filter_map(|r| Some((r.author.login.as_str(), r.author.id?)))
        .chain(
            stored
                .iter()
                .filter_map(|v| Some((v.login.as_str(), v.user_id?))),
        );
    for (login, id) in seen {
        ids.entry(login.to_ascii_lowercase())
            .and_modify(|known| {
                if *known != Some(id) {
                    *known = None;
                }
            })
            .or_insert(Some(id));
    }
    ids
}

/// The review state of the pull request at its current head.
pub async fn gather(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    pr: &PullRequest,
    config: &RepoConfig,
    requirements: &[&ReviewRule],
    kept: &mut KeptState,
) -> Result<Reviews, JobFailure> {
    let reviews = forge.reviews(pr_ref).await?;
    let fingerprints = ctx.store.fingerprints(pr_ref).await?;
    let mut stored = ctx.store.votes(pr_ref).await?;
    record_sightings(ctx, pr_ref, pr, &reviews, &mut stored).await?;
    let (sightings, stored) = split_sightings(stored);
    let (votes, overrides) = votes_of(&reviews, &stored, &sightings);
    let needs = MembershipNeeds {
        requirements,
        votes: &votes,
        overrides: &overrides,
        override_members: &config.overrides,
    };
    let ids = account_ids(&reviews, &stored);
    let membership = membership_of(ctx, forge, pr_ref, needs, &ids).await?;
    let contributors = contributors(ctx, forge, pr_ref, pr).await?;
    let ballot = Ballot {
        requirements,
        votes: &votes,
        overrides: &overrides,
        override_members: &config.overrides,
        author: pr.author.as_str(),
        contributors: &contributors,
        allow_author_approval: config.allow_author_approval,
        invalidation: config.invalidate_approvals,
        head: pr.head.as_str(),
        fingerprints: &fingerprints,
        membership: &membership,
    };
    let result = evaluate(&ballot);
    let bound = Bound {
        fingerprints: &fingerprints,
        sightings: &sightings,
    };
    audit_changes(kept, pr_ref, pr, &reviews, &result, &bound);
    Ok(result)
}

/// Who besides the opener is an author of the pull request: the accounts the forge links to
/// its commits' authors and committers, and whoever pushed to it (from the webhooks); lower-cased,
/// the opener left out.
pub async fn contributors(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    pr: &PullRequest,
) -> Result<Vec<String>, JobFailure> {
    let mut people: Vec<String> = forge
        .commit_authors(pr_ref)
        .await?
        .into_iter()
        .map(|login| login.as_str().to_ascii_lowercase())
        .chain(ctx.store.pr_authors(pr_ref).await?)
        .filter(|login| !login.eq_ignore_ascii_case(pr.author.as_str()))
        .collect();
    people.sort();
    people.dedup();
    Ok(people)
}

/// Approvals the forge reports without a commit (GitLab's) are bound to the commit their
/// webhook named (recorded at intake: `store::REVIEW_HOOK`), else to the head current when
/// iamgate first sees them; that sighting is stored, so a later push cannot move it.
async fn record_sightings(
    ctx: &JobCtx,
    pr_ref: &PrRef,
    pr: &PullRequest,
    reviews: &[crate::forge::Review],
    stored: &mut Vec<store::CommandVote>,
) -> Result<(), JobFailure> {
    for review in reviews {
        if review.commit.is_some() || review.state != ReviewState::Approved {
            continue;
        }
        let source = sighting_source(review);
        if stored.iter().any(|v| v.source == source) {
            continue;
        }
        let hooked = stored
            .iter()
            .filter(|v| {
                v.source.starts_with(store::REVIEW_HOOK)
                    && v.login.eq_ignore_ascii_case(review.author.login.as_str())
            })
            .max_by_key(|v| v.at_ms)
            .map(|v| v.head.clone());
        let sighting = store::CommandVote {
            source,
            login: review.author.login.as_str().to_owned(),
            user_id: review.author.id,
            kind: store::CommandVoteKind::Approve,
            head: hooked.unwrap_or_else(|| pr.head.as_str().to_owned()),
            reason: None,
            at_ms: review.submitted_at.map_or(0, millis),
        };
        if ctx.store.add_vote(pr_ref, &sighting, None).await? {
            stored.push(sighting);
        } else {
            // A row of that source is stored but does not count (`votes` left it out): written
            // by hand or before the audit key. The approval stays bound to no commit, so it
            // counts for nothing, rather than to whatever the head is now.
            tracing::warn!(
                pr = %pr_ref,
                source = %sighting.source,
                "an approval's sighting is stored without the audit key's MAC: the approval counts for nothing"
            );
        }
    }
    Ok(())
}

/// The head each sighted approval binds to (by sighting source), and the stored votes that are
/// votes (neither sightings nor review-hook records).
fn split_sightings(
    stored: Vec<store::CommandVote>,
) -> (BTreeMap<String, String>, Vec<store::CommandVote>) {
    let sightings: BTreeMap<String, String> = stored
        .iter()
        .filter(|v| v.source.starts_with(SIGHTING))
        .map(|v| (v.source.clone(), v.head.clone()))
        .collect();
    let votes = stored
        .into_iter()
        .filter(|v| !store::backing::is_binding(&v.source))
        .collect();
    (sightings, votes)
}

/// The votes of the ballot: people's reviews, then command votes; overrides apart.
fn votes_of(
    reviews: &[crate::forge::Review],
    stored: &[store::CommandVote],
    sightings: &BTreeMap<String, String>,
) -> (Vec<Vote>, Vec<OverrideVote>) {
    let mut votes = Vec::new();
    for review in reviews {
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
            head: review_head(review, sightings),
            at: review.submitted_at.map_or(0, millis),
        });
    }
    let mut overrides = Vec::new();
    for vote in stored {
        match vote.kind {
            store::CommandVoteKind::Approve | store::CommandVoteKind::Withdraw => {
                votes.push(Vote {
                    login: vote.login.clone(),
                    kind: if vote.kind == store::CommandVoteKind::Approve {
                        VoteKind::Approve
                    } else {
                        VoteKind::Withdraw
                    },
                    source: VoteSource::Command,
                    head: Some(vote.head.clone()),
                    at: vote.at_ms,
                })
            }
            store::CommandVoteKind::Override => overrides.push(OverrideVote {
                login: vote.login.clone(),
                reason: vote.reason.clone().unwrap_or_default(),
                head: vote.head.clone(),
                at: vote.at_ms,
            }),
        }
    }
    (votes, overrides)
}

/// Asks the forge (through the short cache) about every voter in every team that matters,
/// by account id where one is known.
async fn membership_of(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    needs: MembershipNeeds<'_>,
    ids: &HashMap<String, Option<UserId>>,
) -> Result<Membership, JobFailure> {
    let mut membership = Membership::default();
    for (team, login) in membership_queries(needs) {
        let name = Login::from(login.as_str());
        let user = UserRef {
            login: &name,
            id: ids.get(&login).copied().flatten(),
        };
        let member = ctx
            .membership
            .is_team_member(forge, pr_ref, &team, user)
            .await?;
        membership.insert(&team, &login, member);
    }
    Ok(membership)
}

/// Records reviews not seen before (approvals, change requests, dismissals), approvals the
/// forge no longer lists, and approvals dropped for a reason not recorded before, with the next
/// save of `kept`.
fn audit_changes(
    kept: &mut KeptState,
    pr_ref: &PrRef,
    pr: &PullRequest,
    reviews: &[crate::forge::Review],
    result: &Reviews,
    bound: &Bound<'_>,
) {
    let now = Timestamp::from_system_time(SystemTime::now());
    let audited = &mut kept.state.audited;
    let mut records = Vec::new();
    for review in reviews {
        if let Some(event) = new_review_event(audited, review, result, bound) {
            let mut entry = AuditEntry::by(now, pr_ref, review.author.login.clone(), event);
            if let Some(head) = review_head(review, bound.sightings) {
                entry = entry.at(Sha::from(head.as_str()));
            }
            records.push(entry);
        }
    }
    // An approval the forge no longer lists was revoked (GitLab has no dismissed state): record
    // the withdrawal, and forget the review so that approving again is recorded again.
    let vanished: Vec<(u64, String)> = audited
        .approvals
        .iter()
        .filter(|(id, _)| !reviews.iter().any(|r| r.id.0 == **id))
        .map(|(id, login)| (*id, login.clone()))
        .collect();
    for (id, login) in vanished {
        let event = AuditEvent::Withdrawal {
            via: WithdrawalSource::DismissedReview,
            approver: Login::from(login.as_str()),
        };
        records.push(
            AuditEntry::by(now, pr_ref, Login::from(login.as_str()), event).at(pr.head.clone()),
        );
        audited.approvals.remove(&id);
        audited.reviews.remove(&id);
    }
    let current = bound.fingerprints.get(pr.head.as_str());
    for dropped in &result.dropped {
        let key = format!(
            "{} {} {}",
            dropped.login,
            dropped.reason,
            current.map_or("-", String::as_str)
        );
        if !audited.drops.insert(key) {
            continue;
        }
        let event = AuditEvent::ApprovalDropped {
            approver: Login::from(dropped.login.as_str()),
            approved_sha: None,
            approved_fingerprint: None,
            reason: dropped.reason.clone(),
        };
        records.push(AuditEntry::by_app(now, pr_ref, event).at(pr.head.clone()));
    }
    for entry in records {
        kept.audit(entry);
    }
}

/// The audit event of a person's review iamgate has not recorded yet (`None`: nothing to
/// record), remembering it as recorded.
fn new_review_event(
    audited: &mut store::Audited,
    review: &crate::forge::Review,
    result: &Reviews,
    bound: &Bound<'_>,
) -> Option<AuditEvent> {
    if review.author.kind != ActorKind::User {
        return None;
    }
    // A review keeps its id when it is dismissed: an approval audited before must still have
    // its withdrawal recorded, so a dismissal is remembered apart from the review's id.
    let seen = if review.state == ReviewState::Dismissed {
        audited.dismissed_reviews.contains(&review.id.0)
    } else {
        audited.reviews.contains(&review.id.0)
    };
    if seen {
        return None;
    }
    // The commit it binds to: its own, or (GitLab) the head it was first seen on.
    let at_fingerprint =
        review_head(review, bound.sightings).and_then(|c| bound.fingerprints.get(&c).cloned());
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
        // An approval that counts for no requirement (a stranger's) is not an approval of the
        // gate: nothing to record. It is looked at again when something changes.
        ReviewState::Approved if counts_for.is_empty() => return None,
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
        _ => return None,
    };
    remember_review(audited, review);
    Some(event)
}

/// Marks a review as recorded: a dismissal apart from the review's id (which it keeps), and
/// an approval with its approver, so that its withdrawal can be recorded when it vanishes.
fn remember_review(audited: &mut store::Audited, review: &crate::forge::Review) {
    if review.state == ReviewState::Dismissed {
        audited.dismissed_reviews.insert(review.id.0);
        audited.approvals.remove(&review.id.0);
    } else {
        audited.reviews.insert(review.id.0);
        if review.state == ReviewState::Approved {
            audited
                .approvals
                .insert(review.id.0, review.author.login.as_str().to_owned());
        }
    }
}

/// What a review binds to: the fingerprints of analyzed heads, and the head each commit-less
/// approval was first seen on (by [`sighting_source`]).
struct Bound<'a> {
    fingerprints: &'a BTreeMap<String, String>,
    sightings: &'a BTreeMap<String, String>,
}

/// The commit a review was given on: the forge's, else the head its sighting recorded.
fn review_head(
    review: &crate::forge::Review,
    sightings: &BTreeMap<String, String>,
) -> Option<String> {
    match &review.commit {
        Some(commit) => Some(commit.as_str().to_owned()),
        None => sightings.get(&sighting_source(review)).cloned(),
    }
}

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::event::Actor;
    use crate::forge::{Review, ReviewId};

    fn review(commit: Option<&str>, at_secs: u64) -> Review {
        Review {
            id: ReviewId(42),
            author: Actor {
                login: Login::from("sec1"),
                kind: ActorKind::User,
                id: None,
            },
            state: ReviewState::Approved,
            commit: commit.map(Sha::from),
            submitted_at: Some(UNIX_EPOCH + Duration::from_secs(at_secs)),
        }
    }

    #[test]
    fn a_review_binds_to_its_commit_else_to_the_head_it_was_first_seen_on() {
        let mut sightings = BTreeMap::new();
        sightings.insert(sighting_source(&review(None, 100)), "h1".to_owned());
        assert_eq!(
            review_head(&review(Some("c0"), 100), &sightings).as_deref(),
            Some("c0")
        );
        assert_eq!(
            review_head(&review(None, 100), &sightings).as_deref(),
            Some("h1")
        );
        // Approved again later: another approval, not seen yet.
        assert_eq!(review_head(&review(None, 200), &sightings), None);
    }

    #[test]
    fn voters_map_to_the_account_ids_they_were_seen_with() {
        let mut by_alice = review(None, 1);
        by_alice.author.login = Login::from("Alice");
        by_alice.author.id = Some(UserId(7));
        let vote = |login: &str, id: Option<u64>| store::CommandVote {
            source: format!("comment:{login}"),
            login: login.to_owned(),
            user_id: id.map(UserId),
            kind: store::CommandVoteKind::Approve,
            head: "h1".into(),
            reason: None,
            at_ms: 1,
        };
        let stored = [
            vote("alice", Some(7)),
            vote("bob", None),
            // `carol` voted as account 8, then the name went to account 9.
            vote("carol", Some(8)),
            vote("carol", Some(9)),
        ];
        let ids = account_ids(&[by_alice], &stored);
        assert_eq!(ids.get("alice"), Some(&Some(UserId(7))));
        assert_eq!(ids.get("bob"), None, "no id known: asked by name");
        assert_eq!(ids.get("carol"), Some(&None), "two accounts: asked by name");
    }
}
