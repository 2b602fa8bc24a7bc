//! How broadly and how firmly one Allow statement grants its actions: the reach of its
//! resources per action (star, effectively star, wildcard ARNs, pinned ARNs) and the strength of
//! its condition (none, weak, limiting). Pure classification; no finding is decided here.

use crate::engine::iam::actions::{ActionSet, db};
use crate::engine::iam::policy::{Conditions, NameSpec, UNKNOWN_TEXT};
use crate::engine::risk::conditions;
use crate::engine::risk::{Confidence, Scope};

/// What the resources of a statement reach, for one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reach {
    /// `Resource: "*"` (or a list holding `*`), or no Resource at all.
    Star,
    /// `NotResource`: everything but the listed resources.
    NotResource,
    /// Wildcard ARNs that cover every resource type the action accepts
    /// (`arn:aws:iam::*:role/*` for `iam:PassRole`).
    Covering,
    /// Wildcard ARNs that cover only part of the action's resources.
    Wildcard,
    /// Specific ARNs.
    Pinned,
}

impl Reach {
    /// True when the grant covers every resource of the action.
    pub fn is_everything(self) -> bool {
        matches!(self, Reach::Star | Reach::NotResource | Reach::Covering)
    }
}

/// How much a statement's Condition restricts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strength {
    /// No Condition.
    None,
    /// A Condition that does not really limit who or what (e.g. `aws:TokenIssueTime`).
    Weak,
    /// A limiting Condition (catalog §2.6, plus identity-policy keys such as
    /// `iam:PassedToService` or `aws:ResourceTag/...`).
    Limiting,
}

/// The access an action is granted with, as scored (catalog §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Access {
    pub scope: Scope,
    /// A limiting condition applies.
    pub conditioned: bool,
}

impl Access {
    /// The access of a grant with this reach and condition strength: `All` needs every resource
    /// and no limiting condition; a condition (weak or limiting) lowers `All` to `Wildcard`.
    pub fn of(reach: Reach, strength: Strength) -> Access {
        let scope = match reach {
            Reach::Star | Reach::NotResource | Reach::Covering if strength == Strength::None => {
                Scope::All
            }
            Reach::Star | Reach::NotResource | Reach::Covering | Reach::Wildcard => Scope::Wildcard,
            Reach::Pinned => Scope::Pinned,
        };
        Access {
            scope,
            conditioned: strength == Strength::Limiting,
        }
    }

    /// Rank from broadest (0) to narrowest (4).
    pub fn rank(self) -> usize {
        match (self.scope, self.conditioned) {
            (Scope::All, _) => 0,
            (Scope::Wildcard, false) => 1,
            (Scope::Wildcard, true) => 2,
            (Scope::Pinned, false) => 3,
            (Scope::Pinned, true) => 4,
        }
    }

    /// The access of rank `rank`.
    pub fn from_rank(rank: usize) -> Access {
        match rank {
            0 => Access {
                scope: Scope::All,
                conditioned: false,
            },
            1 => Access {
                scope: Scope::Wildcard,
                conditioned: false,
            },
            2 => Access {
                scope: Scope::Wildcard,
                conditioned: true,
            },
            3 => Access {
                scope: Scope::Pinned,
                conditioned: false,
            },
            _ => Access {
                scope: Scope::Pinned,
                conditioned: true,
            },
        }
    }

    pub fn confidence(self) -> Confidence {
        if self.conditioned {
            Confidence::Conditioned
        } else {
            Confidence::Direct
        }
    }
}

/// Identity-policy condition keys (lowercased) that restrict which resources or services a grant
/// reaches, on top of the limiting keys of `conditions`.
const IDENTITY_LIMITING_KEYS: [&str; 5] = [
    "iam:passedtoservice",
    "iam:policyarn",
    "iam:permissionsboundary",
    "iam:associatedresourcearn",
    "kms:viaservice",
];

/// The strength of a statement's Condition.
pub fn strength(condition: &Conditions) -> Strength {
    if condition.is_empty() {
        Strength::None
    } else if conditions::is_limiting(condition) || limits_identity(condition) {
        Strength::Limiting
    } else {
        Strength::Weak
    }
}

/// True when a positive operator pins an identity-limiting key (or a resource tag) to values
/// that are neither `*` nor unknown until apply.
fn limits_identity(condition: &Conditions) -> bool {
    condition
        .iter()
        .filter(|(op, _)| conditions::is_positive_operator(op))
        .any(|(_, keys)| {
            keys.iter().any(|(key, values)| {
                let relevant =
                    IDENTITY_LIMITING_KEYS.contains(&key.as_str()) || key.contains(":resourcetag/");
                relevant
                    && !values.is_empty()
                    && values
                        .iter()
                        .all(|v| v != "*" && !conditions::is_unknown(v))
            })
        })
}

/// One resource of a statement, prepared for matching.
struct ResourcePattern {
    /// The resource with unknown-until-apply text as a policy variable, which the database
    /// treats as "could be anything, covers nothing", like `${aws:username}`.
    matcher: String,
    /// The same with a literal account id as `*`, to ask whether it covers every resource: an
    /// identity policy only reaches its own account, so `arn:aws:iam::111122223333:role/*` is
    /// every role.
    cover: String,
    /// A wildcard in the resource part (after the fifth `:`): more than one resource.
    wildcard: bool,
}

impl ResourcePattern {
    fn new(resource: &str) -> ResourcePattern {
        let matcher = resource.replace(UNKNOWN_TEXT, "${iamgate:unknown}");
        let fields: Vec<&str> = matcher.splitn(6, ':').collect();
        let cover = match fields.as_slice() {
            [arn, partition, service, region, account, rest]
                if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) =>
            {
                format!("{arn}:{partition}:{service}:{region}:*:{rest}")
            }
            _ => matcher.clone(),
        };
        // Account and region wildcards do not widen an identity policy: it only reaches its own
        // account. A placeholder stands for one value.
        let resource_part = fields.get(5).copied().unwrap_or(&matcher);
        let wildcard = strip_variables(resource_part).contains(['*', '?']);
        ResourcePattern {
            matcher,
            cover,
            wildcard,
        }
    }
}

/// The text without its `${...}` policy variables.
fn strip_variables(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => rest = &rest[start + end + 1..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// Splits the actions of one Allow statement by the reach of its resources. Actions that no
/// listed resource can match (wrong resource type, or a specific ARN for an action that only
/// accepts `*`) are dropped: that grant is dead (catalog §2.9 `RESOURCE_MISMATCH`).
pub fn split_by_reach(resource: Option<&NameSpec>, actions: ActionSet) -> Vec<(Reach, ActionSet)> {
    let names = match resource {
        None => return vec![(Reach::Star, actions)],
        Some(NameSpec::Not(_)) => return vec![(Reach::NotResource, actions)],
        Some(NameSpec::Only(names)) if names.contains("*") => return vec![(Reach::Star, actions)],
        Some(NameSpec::Only(names)) => names,
    };
    let db = db();
    let patterns: Vec<ResourcePattern> = names.iter().map(|r| ResourcePattern::new(r)).collect();
    let mut wild = ActionSet::new();
    let mut pinned = ActionSet::new();
    for p in &patterns {
        let mut matched = db.actions_for_resource(&p.matcher);
        matched.intersect_with(&actions);
        if p.wildcard {
            wild.union_with(&matched)
        } else {
            pinned.union_with(&matched)
        }
    }
    // Only wildcard resources can cover every resource of a type.
    let covering_candidates: Vec<&str> = patterns
        .iter()
        .filter(|p| p.wildcard)
        .map(|p| p.cover.as_str())
        .collect();
    let mut covering = ActionSet::new();
    if !covering_candidates.is_empty() {
        covering = db.covering_actions(&wild, &covering_candidates);
    }
    wild.difference_with(&covering);
    pinned.difference_with(&covering);
    pinned.difference_with(&wild);
    [
        (Reach::Covering, covering),
        (Reach::Wildcard, wild),
        (Reach::Pinned, pinned),
    ]
    .into_iter()
    .filter(|(_, set)| !set.is_empty())
    .collect()
}
