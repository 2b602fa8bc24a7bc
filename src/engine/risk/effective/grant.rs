//! How broadly and how firmly one Allow statement grants its actions: the reach of its
//! resources per action (star, effectively star, wildcard ARNs, pinned ARNs) and the strength of
//! its condition (none, weak, limiting). Pure classification; no finding is decided here.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use crate::engine::iam::actions::{self, ActionSet, db};
use crate::engine::iam::policy::{Conditions, NameSpec, UNKNOWN_TEXT};
use crate::engine::risk::conditions;
use crate::engine::risk::{Confidence, Scope};

use super::index::index;

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
    /// A limiting Condition (catalog §2.6, plus the identity-policy keys of `restriction`, such
    /// as `aws:CalledVia` or `aws:ResourceTag/...`).
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

/// Identity-policy condition keys (lowercased) whose positive tests restrict which resources,
/// services or callers a grant reaches, on top of the limiting keys of `conditions`:
/// * `iam:PassedToService` for the actions other than `iam:PassRole` that share its statement
///   (the key is only in `iam:PassRole` requests, so a string test on it fails for them); for
///   `iam:PassRole` itself it only says which services a role may be passed to, which the
///   escalation paths check against their own service (`PASSED_TO_SERVICE`);
/// * `iam:AWSServiceName`: which service-linked role `iam:CreateServiceLinkedRole` may create;
/// * `iam:PolicyARN`, `iam:PermissionsBoundary`, `iam:AssociatedResourceArn`: which policies,
///   boundaries or resources an IAM call may name (IAM User Guide, "IAM and AWS STS condition
///   context keys");
/// * `kms:ViaService`: the key is used only through the named service;
/// * `aws:CalledVia`, `aws:CalledViaFirst`, `aws:CalledViaLast`: the request must be made by the
///   named service on the principal's behalf, never by the principal directly (IAM User Guide,
///   "AWS global condition context keys", `aws:CalledVia`).
///
/// Not limiting, whatever their values: `aws:RequestTag/<key>` and `aws:TagKeys`, which the
/// caller sets in its own request (IAM User Guide, "AWS global condition context keys",
/// `aws:RequestTag/tag-key`: "the tag key-value pair that is passed in the request").
const IDENTITY_LIMITING_KEYS: [&str; 9] = [
    "iam:passedtoservice",
    "iam:awsservicename",
    "iam:policyarn",
    "iam:permissionsboundary",
    "iam:associatedresourcearn",
    "kms:viaservice",
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
];

/// The key naming the services `iam:PassRole` may pass a role to.
pub const PASSED_TO_SERVICE: &str = "iam:passedtoservice";

/// Identity keys present in every request of the actions they apply to: a test on them limits
/// even when it would be met without the key (`...IfExists`, `ForAllValues:`). Every other key
/// may be missing (no `aws:CalledVia` on a direct call, no `aws:ResourceTag/<key>` on an untagged
/// resource), and such a test is met by those requests.
const ALWAYS_PRESENT: [&str; 4] = [
    "iam:passedtoservice",
    "iam:awsservicename",
    "iam:policyarn",
    "aws:viaawsservice",
];

/// How a statement's Condition restricts it, before the subject's other grants are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    pub strength: Strength,
    /// The resource-tag keys (lowercased) whose presence on the resource is all that limits the
    /// grant; empty when something else limits it. A subject that may put such a tag on those
    /// resources tags its way in (`effective::tags`).
    pub tags: Vec<String>,
}

/// The restriction of a statement's Condition, leaving out the key `ignore` (lowercased) if
/// given: `iam:PassedToService` for `iam:PassRole`, whose values the paths read instead.
pub fn restriction(condition: &Conditions, ignore: Option<&str>) -> Restriction {
    let kept = |key: &str| ignore.is_none_or(|i| !key.eq_ignore_ascii_case(i));
    let tested: Vec<(&String, &String, &BTreeSet<String>)> = condition
        .iter()
        .flat_map(|(op, keys)| keys.iter().map(move |(k, v)| (op, k, v)))
        .filter(|(_, key, _)| kept(key))
        .collect();
    let restriction = |strength, tags| Restriction { strength, tags };
    if tested.is_empty() {
        return restriction(Strength::None, Vec::new());
    }
    if conditions::is_limiting(condition)
        || tested
            .iter()
            .any(|(op, key, values)| limits_identity(op, key, values))
    {
        return restriction(Strength::Limiting, Vec::new());
    }
    let mut tags: Vec<String> = tested
        .iter()
        .filter_map(|(op, key, values)| requires_resource_tag(op, key, values))
        .map(str::to_owned)
        .collect();
    tags.sort_unstable();
    tags.dedup();
    if tags.is_empty() {
        return restriction(Strength::Weak, tags);
    }
    // A positive test on a key of the service (`ram:ResourceShareName`, `ssm:DocumentType`)
    // usually narrows the resources too, in a way iamgate does not read: the tags are then not
    // all that limits the grant, and tagging one's way in is not assumed.
    let service_key = tested.iter().any(|(op, key, _)| {
        conditions::is_positive_operator(op)
            && !key.starts_with("aws:")
            && !key.contains(":resourcetag/")
            && !key.contains(":requesttag/")
    });
    // Tags of the `aws:` prefix are AWS's own: no principal sets them.
    if service_key || tags.iter().any(|t| t.starts_with("aws:")) {
        tags.clear();
    }
    restriction(Strength::Limiting, tags)
}

/// True when one test pins an identity-limiting key to values that are neither `*` nor unknown
/// until apply: a positive string or ARN operator on `IDENTITY_LIMITING_KEYS` or a
/// `<service>:CreateAction` key (tagging allowed only while creating the resource: EC2 User
/// Guide, "Grant permission to tag Amazon EC2 resources during creation"), or `aws:ViaAWSService`
/// required true (only an AWS service acting for the principal: IAM User Guide, "AWS global
/// condition context keys", `aws:ViaAWSService`).
fn limits_identity(op: &str, key: &str, values: &BTreeSet<String>) -> bool {
    if conditions::met_when_absent(op) && !ALWAYS_PRESENT.contains(&key) {
        return false;
    }
    if key == "aws:viaawsservice" {
        return conditions::base_operator(op) == "bool"
            && !values.is_empty()
            && values.iter().all(|v| v.eq_ignore_ascii_case("true"));
    }
    conditions::is_positive_operator(op)
        && (IDENTITY_LIMITING_KEYS.contains(&key) || key.ends_with(":createaction"))
        && !values.is_empty()
        && values
            .iter()
            .all(|v| v != "*" && !conditions::is_unknown(v))
}

/// The tag key of a test that requires the resource to carry it: a positive string test on
/// `<service>:ResourceTag/<key>` (any value, `*` included: the tag must be there), or
/// `Null` false on it (IAM User Guide, "Controlling access to AWS resources using tags";
/// "Condition operator to check existence of condition keys"). A value unknown until apply is
/// not proven to limit.
fn requires_resource_tag<'a>(op: &str, key: &'a str, values: &BTreeSet<String>) -> Option<&'a str> {
    let (_, tag) = key.split_once(":resourcetag/")?;
    if conditions::met_when_absent(op) || values.is_empty() {
        return None;
    }
    let requires = if conditions::base_operator(op) == "null" {
        values.iter().all(|v| v.eq_ignore_ascii_case("false"))
    } else {
        conditions::is_positive_operator(op) && !values.iter().any(|v| conditions::is_unknown(v))
    };
    requires.then_some(tag)
}

/// True when a statement's Condition can no longer be met (`conditions::never_met`) at the
/// date of the action database's data, which the current date is not before: a
/// `DateLessThan` window on `aws:TokenIssueTime` that no live token meets, or one on
/// `aws:CurrentTime` that has closed. Such a statement grants nothing.
pub fn never_met(condition: &Conditions) -> bool {
    static NOW: OnceLock<Option<i64>> = OnceLock::new();
    let now = *NOW.get_or_init(|| actions::data_date().and_then(conditions::parse_date));
    !condition.is_empty() && now.is_some_and(|now| conditions::never_met(condition, now))
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
    /// An IAM resource of the account `aws` (`arn:aws:iam::aws:policy/...`): an AWS managed
    /// policy, which only AWS can change ("You cannot change the permissions defined in AWS
    /// managed policies", IAM User Guide, "AWS managed policies"). Only reading it is possible.
    aws_owned: bool,
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
        let aws_owned = matches!(fields.as_slice(), [_, _, "iam", _, "aws", _]);
        ResourcePattern {
            matcher,
            cover,
            wildcard,
            aws_owned,
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
        if p.aws_owned {
            let idx = index();
            for changes in [&idx.write, &idx.tagging, &idx.permissions] {
                matched.difference_with(changes);
            }
        }
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
