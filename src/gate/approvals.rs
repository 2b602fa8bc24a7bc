//! Approvals, pure: which votes (forge reviews and `/iamgate` commands) count for which
//! triggered requirement, which were dropped and why, and whether a valid override exists.
//! Membership is looked up by the caller beforehand (it is I/O) and passed in as a table; the
//! binding of a vote to the IAM change is decided here from the fingerprints of analyzed heads.

use std::collections::{BTreeMap, HashMap};

use super::reviews::{DroppedApproval, Override, Requirement, Reviewer, Reviews};
use crate::config::repo::{Invalidation, ReviewRule, Reviewers};

/// What a vote says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteKind {
    /// A review `APPROVED`, or `/iamgate approve [reason]`.
    Approve,
    /// A review `CHANGES_REQUESTED`.
    ChangesRequested,
    /// A dismissed review, or `/iamgate unapprove`: the voter's earlier votes no longer count.
    Withdraw,
}

/// Where a vote came from (shown in the comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteSource {
    Review,
    Command,
}

/// One vote by one user on one head commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub login: String,
    pub kind: VoteKind,
    pub source: VoteSource,
    /// The head commit it was given on (a review's `commit_id`); `None` when the forge did not
    /// say (it then binds to nothing but the current head... and is dropped).
    pub head: Option<String>,
    /// When it was given (Unix milliseconds): the latest vote of a user wins.
    pub at: i64,
}

/// An `/iamgate override <reason>` that was accepted when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideVote {
    pub login: String,
    pub reason: String,
    pub head: String,
    pub at: i64,
}

/// Who is a member of which team (`org/slug` or group path), looked up by the caller for every
/// (team, voter) pair that matters. A pair missing from the table counts as "not a member".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership(pub HashMap<(String, String), bool>);

impl Membership {
    pub fn is_member(&self, team: &str, login: &str) -> bool {
        self.0
            .get(&(team.to_owned(), login.to_ascii_lowercase()))
            .copied()
            .unwrap_or(false)
    }

    pub fn insert(&mut self, team: &str, login: &str, member: bool) {
        self.0
            .insert((team.to_owned(), login.to_ascii_lowercase()), member);
    }
}

/// Everything the evaluation needs.
#[derive(Debug, Clone)]
pub struct Ballot<'a> {
    /// The triggered requirements (`reviews[]` entries whose `when` matched).
    pub requirements: &'a [&'a ReviewRule],
    pub votes: &'a [Vote],
    pub overrides: &'a [OverrideVote],
    /// Who may override (`overrides` of `.iamgate.yml`).
    pub override_members: &'a Reviewers,
    /// Who opened the pull request.
    pub author: &'a str,
    /// Who else authored, committed or pushed its commits: authors too.
    pub contributors: &'a [String],
    pub allow_author_approval: bool,
    pub invalidation: Invalidation,
    /// The pull request's current head, and the fingerprint of its IAM change when analyzed.
    pub head: &'a str,
    /// Fingerprints of the heads iamgate analyzed (the current one included).
    pub fingerprints: &'a BTreeMap<String, String>,
    pub membership: &'a Membership,
}

/// Whether `login` authored, committed or pushed commits of the pull request.
fn is_contributor(ballot: &Ballot<'_>, login: &str) -> bool {
    ballot
        .contributors
        .iter()
        .any(|c| c.eq_ignore_ascii_case(login))
}

/// Whether `login` may vote for `from` (a listed user, or an active member of a listed team).
pub fn qualifies(from: &Reviewers, login: &str, membership: &Membership) -> bool {
    from.users.iter().any(|u| u.eq_ignore_ascii_case(login))
        || from.teams.iter().any(|t| membership.is_member(t, login))
}

/// Why a vote given on `vote_head` does not bind to the current change, if it does not.
pub fn binding(ballot: &Ballot<'_>, vote_head: Option<&str>) -> Result<(), String> {
    let Some(vote_head) = vote_head else {
        return Err("the forge did not say which commit it was given on".to_owned());
    };
    if vote_head == ballot.head {
        return Ok(());
    }
    let short = |s: &str| s.chars().take(7).collect::<String>();
    match ballot.invalidation {
        Invalidation::OnPush => Err(format!(
            "given on {}, before the latest push (invalidate_approvals: on_push)",
            short(vote_head)
        )),
        Invalidation::OnIamChange => match (
            ballot.fingerprints.get(vote_head),
            ballot.fingerprints.get(ballot.head),
        ) {
            (Some(then), Some(now)) if then == now => Ok(()),
            (Some(_), Some(_)) => Err(format!(
                "the IAM change differs from the one approved on {}",
                short(vote_head)
            )),
            (None, _) => Err(format!(
                "given on {}, a commit iamgate did not analyze",
                short(vote_head)
            )),
            (Some(_), None) => Err("the current head is not analyzed yet".to_owned()),
        },
    }
}

/// Evaluates the ballot: each requirement with who approved it and who asked for changes, the
/// approvals that were dropped and why, and the override in force, if any.
pub fn evaluate(ballot: &Ballot<'_>) -> Reviews {
    // The latest vote of each user wins, across reviews and commands.
    let mut latest: BTreeMap<String, &Vote> = BTreeMap::new();
    for vote in ballot.votes {
        let key = vote.login.to_ascii_lowercase();
        match latest.get(&key) {
            Some(seen) if seen.at > vote.at => {}
            _ => {
                latest.insert(key, vote);
            }
        }
    }

    let mut dropped = Vec::new();
    let mut approvers: Vec<&Vote> = Vec::new();
    let mut objectors: Vec<&Vote> = Vec::new();
    for vote in latest.values() {
        let is_author = vote.login.eq_ignore_ascii_case(ballot.author);
        let is_contributor = is_contributor(ballot, &vote.login);
        match vote.kind {
            VoteKind::Withdraw => {}
            VoteKind::ChangesRequested => objectors.push(vote),
            VoteKind::Approve if is_author && !ballot.allow_author_approval => {
                dropped.push(DroppedApproval {
                    login: vote.login.clone(),
                    reason:
                        "the pull request's author does not count (allow_author_approval: false)"
                            .to_owned(),
                });
            }
            VoteKind::Approve if is_contributor && !ballot.allow_author_approval => {
                dropped.push(DroppedApproval {
                    login: vote.login.clone(),
                    reason: "an author of its commits (who authored, committed or pushed them) does not count \
                             (allow_author_approval: false)"
                        .to_owned(),
                });
            }
            VoteKind::Approve => match binding(ballot, vote.head.as_deref()) {
                Ok(()) => approvers.push(vote),
                Err(reason) => dropped.push(DroppedApproval {
                    login: vote.login.clone(),
                    reason,
                }),
            },
        }
    }

    let requirements = ballot
        .requirements
        .iter()
        .map(|review| {
            let approved_by = approvers
                .iter()
                .filter(|v| qualifies(&review.from, &v.login, ballot.membership))
                .map(|v| v.login.clone())
                .collect();
            let changes_requested_by = objectors
                .iter()
                .filter(|v| qualifies(&review.from, &v.login, ballot.membership))
                .map(|v| v.login.clone())
                .collect();
            Requirement {
                name: review.name.clone(),
                needed: review.approvals,
                approved_by,
                from: reviewers(&review.from),
                changes_requested_by,
            }
        })
        .collect();

    let overridden = ballot
        .overrides
        .iter()
        .filter(|o| qualifies(ballot.override_members, &o.login, ballot.membership))
        // Nobody overrides a pull request they are an author of.
        .filter(|o| {
            !o.login.eq_ignore_ascii_case(ballot.author) && !is_contributor(ballot, &o.login)
        })
        .filter(|o| binding(ballot, Some(&o.head)).is_ok())
        .max_by_key(|o| o.at)
        .map(|o| Override {
            by: o.login.clone(),
            reason: o.reason.clone(),
        });

    Reviews {
        requirements,
        dropped,
        overridden,
    }
}

/// The reviewers of a requirement, teams first, as the comment lists them.
pub fn reviewers(from: &Reviewers) -> Vec<Reviewer> {
    from.teams
        .iter()
        .map(|t| Reviewer::Team(t.clone()))
        .chain(from.users.iter().map(|u| Reviewer::User(u.clone())))
        .collect()
}

/// The (team, login) pairs whose membership the evaluation needs: every voter (and every
/// overrider) against every team of the triggered requirements and of `overrides`.
pub fn membership_queries(ballot_parts: MembershipNeeds<'_>) -> Vec<(String, String)> {
    let mut teams: Vec<&String> = ballot_parts
        .requirements
        .iter()
        .flat_map(|r| r.from.teams.iter())
        .collect();
    let mut logins: Vec<String> = ballot_parts
        .votes
        .iter()
        .filter(|v| v.kind != VoteKind::Withdraw)
        .map(|v| v.login.to_ascii_lowercase())
        .collect();
    if !ballot_parts.overrides.is_empty() {
        teams.extend(ballot_parts.override_members.teams.iter());
        logins.extend(
            ballot_parts
                .overrides
                .iter()
                .map(|o| o.login.to_ascii_lowercase()),
        );
    }
    teams.sort();
    teams.dedup();
    logins.sort();
    logins.dedup();
    let mut out = Vec::new();
    for team in &teams {
        for login in &logins {
            out.push(((*team).clone(), login.clone()));
        }
    }
    out
}

/// What [`membership_queries`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct MembershipNeeds<'a> {
    pub requirements: &'a [&'a ReviewRule],
    pub votes: &'a [Vote],
    pub overrides: &'a [OverrideVote],
    pub override_members: &'a Reviewers,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::repo::When;

    const H1: &str = "1111111";
    const H2: &str = "2222222";

    fn review(name: &str, approvals: u32, teams: &[&str], users: &[&str]) -> ReviewRule {
        ReviewRule {
            name: name.into(),
            when: When::default(),
            approvals,
            from: Reviewers {
                teams: teams.iter().map(|s| (*s).to_owned()).collect(),
                users: users.iter().map(|s| (*s).to_owned()).collect(),
            },
        }
    }

    fn vote(login: &str, kind: VoteKind, head: &str, at: i64) -> Vote {
        Vote {
            login: login.into(),
            kind,
            source: VoteSource::Review,
            head: Some(head.into()),
            at,
        }
    }

    struct World {
        reviews: Vec<ReviewRule>,
        membership: Membership,
        fingerprints: BTreeMap<String, String>,
        overrides: Reviewers,
        contributors: Vec<String>,
    }

    impl World {
        fn new() -> World {
            let mut membership = Membership::default();
            membership.insert("acme/security", "alice", true);
            membership.insert("acme/security", "bob", true);
            membership.insert("acme/security", "mallory", false);
            membership.insert("acme/platform", "carol", true);
            membership.insert("acme/leads", "lead", true);
            World {
                reviews: vec![review("security", 1, &["acme/security"], &["dave"])],
                membership,
                fingerprints: BTreeMap::from([
                    (H1.into(), "fp-a".into()),
                    (H2.into(), "fp-a".into()),
                ]),
                overrides: Reviewers {
                    teams: vec!["acme/leads".into()],
                    users: vec![],
                },
                contributors: Vec::new(),
            }
        }

        fn eval(
            &self,
            votes: &[Vote],
            overrides: &[OverrideVote],
            invalidation: Invalidation,
        ) -> Reviews {
            let reqs: Vec<&ReviewRule> = self.reviews.iter().collect();
            evaluate(&Ballot {
                requirements: &reqs,
                votes,
                overrides,
                override_members: &self.overrides,
                author: "dev",
                contributors: &self.contributors,
                allow_author_approval: false,
                invalidation,
                head: H2,
                fingerprints: &self.fingerprints,
                membership: &self.membership,
            })
        }
    }

    #[test]
    fn a_member_counts_a_non_member_does_not() {
        let w = World::new();
        let r = w.eval(
            &[
                vote("alice", VoteKind::Approve, H2, 1),
                vote("mallory", VoteKind::Approve, H2, 2),
            ],
            &[],
            Invalidation::OnIamChange,
        );
        assert_eq!(r.requirements[0].approved_by, vec!["alice".to_owned()]);
        assert_eq!(r.requirements[0].missing(), 0);
    }

    #[test]
    fn a_listed_user_counts_without_a_team() {
        let w = World::new();
        let r = w.eval(
            &[vote("Dave", VoteKind::Approve, H2, 1)],
            &[],
            Invalidation::OnIamChange,
        );
        assert_eq!(r.requirements[0].approved_by, vec!["Dave".to_owned()]);
    }

    #[test]
    fn the_author_never_counts_unless_allowed() {
        let mut w = World::new();
        w.membership.insert("acme/security", "dev", true);
        let votes = [vote("dev", VoteKind::Approve, H2, 1)];
        let r = w.eval(&votes, &[], Invalidation::OnIamChange);
        assert!(r.requirements[0].approved_by.is_empty());
        assert_eq!(r.dropped[0].login, "dev");
        let reqs: Vec<&ReviewRule> = w.reviews.iter().collect();
        let allowed = evaluate(&Ballot {
            requirements: &reqs,
            votes: &votes,
            overrides: &[],
            override_members: &w.overrides,
            author: "dev",
            contributors: &[],
            allow_author_approval: true,
            invalidation: Invalidation::OnIamChange,
            head: H2,
            fingerprints: &w.fingerprints,
            membership: &w.membership,
        });
        assert_eq!(allowed.requirements[0].approved_by, vec!["dev".to_owned()]);
    }

    #[test]
    fn whoever_authored_committed_or_pushed_commits_neither_approves_nor_overrides() {
        let mut w = World::new();
        w.contributors = vec!["Alice".to_owned()];
        w.membership.insert("acme/leads", "alice", true);
        let votes = [
            vote("alice", VoteKind::Approve, H2, 1),
            vote("bob", VoteKind::Approve, H2, 2),
        ];
        let overrides = [OverrideVote {
            login: "alice".into(),
            reason: "mine".into(),
            head: H2.into(),
            at: 3,
        }];
        let r = w.eval(&votes, &overrides, Invalidation::OnIamChange);
        assert_eq!(r.requirements[0].approved_by, vec!["bob".to_owned()]);
        assert_eq!(r.dropped[0].login, "alice");
        assert!(r.dropped[0].reason.starts_with("an author of its commits"));
        assert!(r.overridden.is_none(), "a contributor overrode alone");
    }

    #[test]
    fn on_iam_change_keeps_approvals_while_the_fingerprint_is_the_same() {
        let mut w = World::new();
        let votes = [vote("alice", VoteKind::Approve, H1, 1)];
        let r = w.eval(&votes, &[], Invalidation::OnIamChange);
        assert_eq!(
            r.requirements[0].approved_by,
            vec!["alice".to_owned()],
            "same fingerprint"
        );
        w.fingerprints.insert(H2.into(), "fp-b".into());
        let r = w.eval(&votes, &[], Invalidation::OnIamChange);
        assert!(r.requirements[0].approved_by.is_empty());
        assert!(
            r.dropped[0].reason.contains("IAM change differs"),
            "{:?}",
            r.dropped
        );
    }

    #[test]
    fn on_push_drops_approvals_of_any_earlier_head() {
        let w = World::new();
        let r = w.eval(
            &[vote("alice", VoteKind::Approve, H1, 1)],
            &[],
            Invalidation::OnPush,
        );
        assert!(r.requirements[0].approved_by.is_empty());
        assert!(r.dropped[0].reason.contains("on_push"));
        let r = w.eval(
            &[vote("alice", VoteKind::Approve, H2, 1)],
            &[],
            Invalidation::OnPush,
        );
        assert_eq!(r.requirements[0].approved_by.len(), 1);
    }

    #[test]
    fn an_unanalyzed_commit_binds_to_nothing() {
        let w = World::new();
        let r = w.eval(
            &[vote("alice", VoteKind::Approve, "9999999", 1)],
            &[],
            Invalidation::OnIamChange,
        );
        assert!(r.requirements[0].approved_by.is_empty());
        assert!(r.dropped[0].reason.contains("did not analyze"));
    }

    #[test]
    fn changes_requested_then_approved_then_withdrawn() {
        let w = World::new();
        let mut votes = vec![vote("bob", VoteKind::ChangesRequested, H1, 1)];
        let r = w.eval(&votes, &[], Invalidation::OnIamChange);
        assert_eq!(
            r.requirements[0].changes_requested_by,
            vec!["bob".to_owned()]
        );
        votes.push(vote("bob", VoteKind::Approve, H2, 2));
        let r = w.eval(&votes, &[], Invalidation::OnIamChange);
        assert!(r.requirements[0].changes_requested_by.is_empty());
        assert_eq!(r.requirements[0].approved_by, vec!["bob".to_owned()]);
        votes.push(Vote {
            source: VoteSource::Command,
            ..vote("bob", VoteKind::Withdraw, H2, 3)
        });
        let r = w.eval(&votes, &[], Invalidation::OnIamChange);
        assert!(r.requirements[0].approved_by.is_empty());
        assert!(
            r.dropped.is_empty(),
            "a withdrawal is not a dropped approval"
        );
    }

    #[test]
    fn a_non_member_asking_for_changes_blocks_nothing() {
        let w = World::new();
        let r = w.eval(
            &[vote("mallory", VoteKind::ChangesRequested, H2, 1)],
            &[],
            Invalidation::OnIamChange,
        );
        assert!(r.requirements[0].changes_requested_by.is_empty());
    }

    #[test]
    fn one_approval_counts_for_every_requirement_it_qualifies_for() {
        let mut w = World::new();
        w.reviews
            .push(review("platform", 2, &["acme/platform"], &["alice"]));
        let r = w.eval(
            &[vote("alice", VoteKind::Approve, H2, 1)],
            &[],
            Invalidation::OnIamChange,
        );
        assert_eq!(r.requirements[0].missing(), 0);
        assert_eq!(r.requirements[1].approved_by, vec!["alice".to_owned()]);
        assert_eq!(r.requirements[1].missing(), 1);
    }

    #[test]
    fn an_override_counts_only_from_a_member_and_for_the_same_change() {
        let mut w = World::new();
        let by_lead = OverrideVote {
            login: "lead".into(),
            reason: "incident 42".into(),
            head: H1.into(),
            at: 1,
        };
        let by_alice = OverrideVote {
            login: "alice".into(),
            reason: "trust me".into(),
            head: H2.into(),
            at: 2,
        };
        let r = w.eval(
            &[],
            std::slice::from_ref(&by_alice),
            Invalidation::OnIamChange,
        );
        assert_eq!(r.overridden, None, "alice is not in `overrides`");
        let r = w.eval(&[], &[by_lead.clone(), by_alice], Invalidation::OnIamChange);
        assert_eq!(r.overridden.map(|o| o.by), Some("lead".to_owned()));
        w.fingerprints.insert(H2.into(), "fp-b".into());
        let r = w.eval(&[], &[by_lead], Invalidation::OnIamChange);
        assert_eq!(
            r.overridden, None,
            "the change differs from the one overridden"
        );
    }

    #[test]
    fn membership_queries_cover_voters_against_required_and_override_teams() {
        let w = World::new();
        let reqs: Vec<&ReviewRule> = w.reviews.iter().collect();
        let votes = [
            vote("Alice", VoteKind::Approve, H2, 1),
            vote("bob", VoteKind::Withdraw, H2, 1),
        ];
        let overrides = [OverrideVote {
            login: "lead".into(),
            reason: "r".into(),
            head: H2.into(),
            at: 1,
        }];
        let q = membership_queries(MembershipNeeds {
            requirements: &reqs,
            votes: &votes,
            overrides: &overrides,
            override_members: &w.overrides,
        });
        assert!(q.contains(&("acme/security".to_owned(), "alice".to_owned())));
        assert!(q.contains(&("acme/leads".to_owned(), "lead".to_owned())));
        assert!(
            !q.iter().any(|(_, l)| l == "bob"),
            "a withdrawal needs no lookup"
        );
    }
}
