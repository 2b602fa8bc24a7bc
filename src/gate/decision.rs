//! The status decision: `success` only when the analysis finished and every triggered
//! requirement is met (or nothing IAM changed); `failure` when the analysis failed or a required
//! reviewer asked for changes; `pending` otherwise. The description says what is needed.

use serde::{Deserialize, Serialize};

use super::requirements::Change;
use super::reviews::{Requirement, Reviewer, Reviews};
use crate::engine::StackOutcome;

/// The gate's state, as the contract names it: the `iamgate` status on the forge and the state
/// the audit trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateState {
    Pending,
    Success,
    Failure,
}

impl GateState {
    /// The state named by [`GateState::as_str`].
    pub fn parse(text: &str) -> Option<GateState> {
        match text {
            "pending" => Some(GateState::Pending),
            "success" => Some(GateState::Success),
            "failure" => Some(GateState::Failure),
            _ => None,
        }
    }

    /// How far from mergeable: success, pending, failure.
    fn severity(self) -> u8 {
        match self {
            GateState::Success => 0,
            GateState::Pending => 1,
            GateState::Failure => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GateState::Pending => "pending",
            GateState::Success => "success",
            GateState::Failure => "failure",
        }
    }
}

/// The status to set, with its description (at most 140 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub state: GateState,
    pub description: String,
}

impl Decision {
    /// A decision whose description is clipped to 140 characters.
    pub fn new(state: GateState, description: impl Into<String>) -> Decision {
        Decision {
            state,
            description: clip(&description.into(), 140),
        }
    }
}

/// The status of a commit that other open pull requests share (`others`: each one's label, such
/// as `#8`, and its own decision). A status belongs to the commit, not to one pull request: it
/// says `success` only if every one of them would, else it is the furthest from mergeable
/// (failure before pending), naming the pull request it comes from when that is another one.
pub fn for_commit(own: &Decision, others: &[(String, Decision)]) -> Decision {
    let worst = others
        .iter()
        .filter(|(_, other)| other.state.severity() > own.state.severity())
        .max_by_key(|(_, other)| other.state.severity());
    match worst {
        None => own.clone(),
        Some((label, other)) => Decision::new(
            other.state,
            format!("{label} shares this commit: {}", other.description),
        ),
    }
}

/// Decides the status from the change and its review state: a valid override (bound to this
/// change) lets it through whatever else holds; otherwise as [`decide`].
pub fn decide_reviews(change: &Change<'_>, reviews: &Reviews) -> Decision {
    if let Some(o) = &reviews.overridden {
        return Decision::new(
            GateState::Success,
            format!(
                "overridden by {}: {}",
                o.by,
                o.reason.replace(['\n', '\r'], " ")
            ),
        );
    }
    decide(change, &reviews.requirements)
}

/// Decides the status from the change and the state of its triggered requirements.
pub fn decide(change: &Change<'_>, requirements: &[Requirement]) -> Decision {
    let failed: Vec<&str> = change
        .stacks
        .iter()
        .filter(|(_, r)| matches!(r, StackOutcome::Failed { .. }))
        .map(|(s, _)| s.name.as_str())
        .collect();
    if !failed.is_empty() {
        return Decision::new(
            GateState::Failure,
            format!(
                "analysis failed for {}: see the iamgate comment",
                failed.join(", ")
            ),
        );
    }
    if let Some(summary) = change.stacks.iter().find_map(|(_, r)| match r {
        StackOutcome::NotRun { summary, .. } => Some(summary),
        _ => None,
    }) {
        return Decision::new(GateState::Pending, summary.as_str());
    }
    if !change.changes_iam() {
        return Decision::new(GateState::Success, "no IAM change");
    }
    let asked: Vec<&str> = requirements
        .iter()
        .flat_map(|r| r.changes_requested_by.iter())
        .map(String::as_str)
        .collect();
    if !asked.is_empty() {
        return Decision::new(
            GateState::Failure,
            format!("changes requested by {}", asked.join(", ")),
        );
    }
    let missing: Vec<String> = requirements
        .iter()
        .filter(|r| r.missing() > 0)
        .map(|r| {
            let n = r.missing();
            let who: Vec<&str> = r
                .from
                .iter()
                .map(|f| match f {
                    Reviewer::Team(t) | Reviewer::User(t) => t.as_str(),
                })
                .collect();
            format!(
                "{n} approval{} from {}",
                if n == 1 { "" } else { "s" },
                who.join(" or ")
            )
        })
        .collect();
    let level = change.level();
    if missing.is_empty() {
        let why = if requirements.is_empty() {
            "no approval required"
        } else {
            "required approvals given"
        };
        return Decision::new(GateState::Success, format!("IAM risk {level}: {why}"));
    }
    Decision::new(GateState::Pending, format!("needs {}", missing.join("; ")))
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::repo::StackConfig;

    fn stack(name: &str) -> StackConfig {
        StackConfig {
            name: name.into(),
            dir: "infra".into(),
            stack: "acme/prod".into(),
            paths: vec!["infra/**".into()],
            preview: Default::default(),
        }
    }

    fn requirement(needed: u32, approved: &[&str], from: &[&str]) -> Requirement {
        Requirement {
            name: "security".into(),
            needed,
            approved_by: approved.iter().map(|s| s.to_string()).collect(),
            from: from.iter().map(|t| Reviewer::Team(t.to_string())).collect(),
            changes_requested_by: Vec::new(),
        }
    }

    #[test]
    fn a_failed_stack_fails_closed() {
        let s = stack("prod");
        let change = Change {
            stacks: vec![(
                &s,
                StackOutcome::Failed {
                    reason: String::new(),
                },
            )],
            changed_paths: &[],
            config_changed: false,
        };
        let d = decide(&change, &[]);
        assert_eq!(d.state, GateState::Failure);
        assert!(d.description.contains("prod"));
    }

    #[test]
    fn missing_approvals_are_pending_and_named() {
        let s = stack("prod");
        let change = Change {
            stacks: vec![(
                &s,
                StackOutcome::NotRun {
                    reason: String::new(),
                    summary: "fork PR not previewed".to_owned(),
                },
            )],
            changed_paths: &[],
            config_changed: true,
        };
        assert_eq!(
            decide(&change, &[]).state,
            GateState::Pending,
            "a fork that was not run is never success"
        );

        let change = Change {
            stacks: vec![],
            changed_paths: &[],
            config_changed: true,
        };
        let d = decide(&change, &[requirement(1, &[], &["acme/security"])]);
        assert_eq!(
            d,
            Decision {
                state: GateState::Pending,
                description: "needs 1 approval from acme/security".into()
            }
        );
        let d = decide(&change, &[requirement(1, &["alice"], &["acme/security"])]);
        assert_eq!(d.state, GateState::Success);
    }

    #[test]
    fn no_iam_change_is_success() {
        let s = stack("prod");
        let change = Change {
            stacks: vec![(
                &s,
                StackOutcome::Failed {
                    reason: String::new(),
                },
            )],
            changed_paths: &[],
            config_changed: false,
        };
        assert_ne!(decide(&change, &[]).state, GateState::Success);
        let change = Change {
            stacks: vec![],
            changed_paths: &[],
            config_changed: false,
        };
        assert_eq!(
            decide(&change, &[]),
            Decision {
                state: GateState::Success,
                description: "no IAM change".into()
            }
        );
    }

    #[test]
    fn a_shared_commit_is_success_only_if_every_pull_request_would_pass() {
        let decision = |state, text: &str| Decision::new(state, text);
        let own = decision(
            GateState::Success,
            "IAM risk critical: required approvals given",
        );
        assert_eq!(for_commit(&own, &[]), own);
        let others = [
            (
                "#8".to_owned(),
                decision(GateState::Success, "no IAM change"),
            ),
            (
                "#9".to_owned(),
                decision(GateState::Pending, "needs 1 approval from acme/security"),
            ),
        ];
        assert_eq!(
            for_commit(&own, &others),
            decision(
                GateState::Pending,
                "#9 shares this commit: needs 1 approval from acme/security"
            )
        );
        let failing = [(
            "#10".to_owned(),
            decision(GateState::Failure, "analysis failed for prod"),
        )];
        let both: Vec<_> = others.iter().chain(&failing).cloned().collect();
        assert_eq!(for_commit(&own, &both).state, GateState::Failure);
        // Its own decision stands when no other is further from mergeable.
        let pending = decision(GateState::Pending, "needs 2 approvals");
        assert_eq!(for_commit(&pending, &others), pending);
        for state in [GateState::Pending, GateState::Success, GateState::Failure] {
            assert_eq!(GateState::parse(state.as_str()), Some(state));
        }
        assert_eq!(GateState::parse("green"), None);
    }

    #[test]
    fn descriptions_fit_140_characters() {
        let change = Change {
            stacks: vec![],
            changed_paths: &[],
            config_changed: true,
        };
        let many: Vec<&str> = vec!["acme/a-very-long-team-name-for-security-reviews"; 6];
        let d = decide(&change, &[requirement(3, &[], &many)]);
        assert!(d.description.chars().count() <= 140, "{}", d.description);
        assert!(d.description.ends_with('…'));
    }

    #[test]
    fn a_valid_override_is_success_whatever_else_holds() {
        use crate::gate::reviews::Override;
        let s = stack("prod");
        let change = Change {
            stacks: vec![(
                &s,
                StackOutcome::Failed {
                    reason: String::new(),
                },
            )],
            changed_paths: &[],
            config_changed: false,
        };
        let mut reviews = Reviews::default();
        assert_eq!(decide_reviews(&change, &reviews).state, GateState::Failure);
        reviews.overridden = Some(Override {
            by: "lead".into(),
            reason: "incident 42\nrollback".into(),
        });
        let d = decide_reviews(&change, &reviews);
        assert_eq!(d.state, GateState::Success);
        assert_eq!(d.description, "overridden by lead: incident 42 rollback");
    }
}
