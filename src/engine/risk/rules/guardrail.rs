//! Rules: guardrails the change removes, evaluated on the before and after states together
//! (AWS-GR-001..004, AWS-PUB-005, and the lint family's valid-to-malformed check). A guardrail
//! that disappears because its holder is deleted is not reported (deleting access never raises
//! risk); a guardrail whose new value is unknown until apply is reported as such, at lower
//! confidence, never as removed for sure nor as kept.

use std::collections::{HashMap, HashSet};

use crate::engine::iam::normalize::to_json;
use crate::engine::iam::policy::{Document, Effect, NameSpec, Policy, Statement};
use crate::engine::iam::{IamState, Principal, PublicAccessBlock, ResourceKind, ResourcePolicy};
use crate::engine::risk::conditions;
use crate::engine::risk::{Confidence, EvalCtx, Exposure, Finding, Rule, Scope, Severity};

mod rules;

pub use self::rules::RULES;
use self::rules::{GR_001, GR_002, GR_003, GR_004, PUB_005};

/// Findings about what the change removes: they are always new.
pub fn check_change(before: &IamState, after: &IamState, ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    let mut after_principals = HashMap::new();
    for p in &after.principals {
        after_principals
            .entry((p.kind, p.name.as_str()))
            .or_insert(p);
    }
    for old in &before.principals {
        let Some(new) = after_principals.get(&(old.kind, old.name.as_str())) else {
            continue;
        };
        check_boundary(old, new, out);
        check_identity_denies(old, new, out);
    }
    check_access_keys(before, after, out);
    check_public_access_blocks(before, after, out);
    check_resource_denies(before, after, out);
    super::lint::check_change(before, after, ctx, out);
}

fn finding(
    rule: &Rule,
    resource: &str,
    subject: String,
    evidence: String,
    message: String,
) -> Finding {
    Finding {
        rule_id: rule.id,
        category: rule.category,
        severity: rule.severity,
        resource: resource.to_owned(),
        subject,
        evidence,
        message,
        scope: Scope::All,
        exposure: Exposure::Internal,
        confidence: Confidence::Direct,
    }
}

/// AWS-GR-001: a permissions boundary removed or replaced.
fn check_boundary(old: &Principal, new: &Principal, out: &mut Vec<Finding>) {
    let Some(was) = &old.boundary else { return };
    let label = format!("{} `{}`", old.kind.as_str(), old.name);
    let (change, unknown) = match &new.boundary {
        None => (
            format!(
                "The permissions boundary `{}` is removed from {label}",
                was.value
            ),
            false,
        ),
        Some(now) if now.value == was.value || conditions::is_unknown(&was.value) => return,
        Some(now) if conditions::is_unknown(&now.value) => (
            format!(
                "The permissions boundary `{}` of {label} is replaced by a value unknown until apply",
                was.value
            ),
            true,
        ),
        Some(now) => (
            format!(
                "The permissions boundary of {label} changes from `{}` to `{}`",
                was.value, now.value
            ),
            false,
        ),
    };
    let mut f = finding(
        &GR_001,
        new.report_urn(),
        new.subject(),
        format!("boundary {}", was.value),
        format!(
            "{change}: the maximum permissions it enforced no longer apply; review what the principal's policies now allow."
        ),
    );
    if unknown {
        f.severity = Severity::Medium;
        f.confidence = Confidence::Partial;
    }
    out.push(f);
}

/// The statements of the known documents, and whether any document cannot be read (unknown or
/// secret), in which case a missing Deny cannot be shown to be gone.
fn statements<'a>(docs: impl Iterator<Item = &'a Document>) -> (Vec<&'a Statement>, bool) {
    let mut out = Vec::new();
    let mut opaque = false;
    for doc in docs {
        match doc {
            Document::Known(p) => out.extend(&p.statements),
            Document::Unknown | Document::Secret => opaque = true,
            Document::Malformed(_) => {}
        }
    }
    (out, opaque)
}

/// AWS-GR-002: an unconditional Deny of a principal's policies removed or narrowed.
fn check_identity_denies(old: &Principal, new: &Principal, out: &mut Vec<Finding>) {
    let (was, _) = statements(old.policies.iter().map(|p| &p.value));
    let (now, opaque) = statements(new.policies.iter().map(|p| &p.value));
    if opaque {
        return;
    }
    let is_guard = |s: &&Statement| s.effect == Effect::Deny && s.condition.is_empty();
    let now: Vec<&Statement> = now.into_iter().filter(is_guard).collect();
    for deny in was.into_iter().filter(is_guard) {
        let Some(lost) = lost_actions(deny, &now) else {
            continue;
        };
        out.push(finding(
            &GR_002,
            new.report_urn(),
            new.subject(),
            statement_text(deny),
            format!(
                "The unconditional Deny `{}` on {} `{}` is removed or narrowed: {} no longer denied; anything its other policies allow now goes through.",
                statement_text(deny),
                new.kind.as_str(),
                new.name,
                lost
            ),
        ));
    }
}

/// What of `deny` no longer holds under the `now` Deny statements (same principal and condition
/// already checked by the caller), described for a message; `None` when fully covered.
fn lost_actions(deny: &Statement, now: &[&Statement]) -> Option<String> {
    let resources: Vec<&str> = match &deny.resource {
        Some(NameSpec::Only(r)) => r.iter().map(String::as_str).collect(),
        None => vec!["*"],
        Some(NameSpec::Not(_)) => Vec::new(),
    };
    match &deny.action {
        NameSpec::Only(actions) if !resources.is_empty() => {
            let lost: Vec<String> = actions
                .iter()
                .filter(|a| {
                    !resources.iter().all(|r| {
                        now.iter()
                            .any(|n| spec_covers(&n.action, a, true) && resource_covers(n, r))
                    })
                })
                .map(|a| format!("`{a}`"))
                .collect();
            (!lost.is_empty()).then(|| format!("{} is", lost.join(", ")))
        }
        // Negated elements: only the same or a wider statement keeps the guard.
        _ => (!now.iter().any(|n| negated_covers(deny, n)))
            .then(|| "the statement's actions are".to_owned()),
    }
}

/// True when `spec` (a positive Action/Resource of the new statement) matches `name`.
fn spec_covers(spec: &NameSpec, name: &str, ignore_case: bool) -> bool {
    match spec {
        NameSpec::Only(patterns) => patterns
            .iter()
            .any(|p| conditions::like_match(p, name, ignore_case)),
        NameSpec::Not(_) => false,
    }
}

fn resource_covers(statement: &Statement, resource: &str) -> bool {
    statement
        .resource
        .as_ref()
        .is_none_or(|r| spec_covers(r, resource, false))
}

/// A statement with a negated element is kept when the new one negates no more and covers the
/// same positive elements.
fn negated_covers(old: &Statement, new: &Statement) -> bool {
    let part = |o: Option<&NameSpec>, n: Option<&NameSpec>, ignore_case: bool| match (o, n) {
        (_, None) => true,
        (None, Some(n)) => n.is_star(),
        (Some(NameSpec::Not(o)), Some(NameSpec::Not(n))) => n.is_subset(o),
        (Some(NameSpec::Only(o)), Some(n @ NameSpec::Only(_))) => {
            o.iter().all(|x| spec_covers(n, x, ignore_case))
        }
        (Some(NameSpec::Not(_)), Some(n @ NameSpec::Only(_))) => n.is_star(),
        (Some(NameSpec::Only(_)), Some(NameSpec::Not(_))) => false,
    };
    part(Some(&old.action), Some(&new.action), true)
        && part(old.resource.as_ref(), new.resource.as_ref(), false)
}

/// The statement as compact canonical JSON, for evidence and messages.
fn statement_text(statement: &Statement) -> String {
    let policy = Policy {
        version: String::new(),
        statements: vec![statement.clone()],
        problems: Vec::new(),
    };
    to_json(&policy)["Statement"][0].to_string()
}

/// AWS-GR-003: an access key created or made active.
fn check_access_keys(before: &IamState, after: &IamState, out: &mut Vec<Finding>) {
    let before_keys = first_by(&before.access_keys, |k| k.urn.as_str());
    for key in after.access_keys.iter().filter(|k| k.active) {
        let what = match before_keys.get(key.urn.as_str()) {
            None => "is created",
            Some(old) if !old.active => "is made active",
            Some(_) => continue,
        };
        let mut f = finding(
            &GR_003,
            &key.urn,
            format!("user/{}", key.user),
            key.urn.clone(),
            format!(
                "An access key for user `{}` {what}: long-lived credentials that work from anywhere until someone rotates them.",
                key.user
            ),
        );
        f.scope = Scope::Pinned;
        out.push(f);
    }
}

/// AWS-PUB-005: S3 block public access flags turned off (or the whole block removed while the
/// bucket keeps a policy, or an account-level block removed).
fn check_public_access_blocks(before: &IamState, after: &IamState, out: &mut Vec<Finding>) {
    let after_blocks = first_by(&after.public_access_blocks, |b| b.urn.as_str());
    let bucket_policies: HashSet<&str> = after
        .resource_policies
        .iter()
        .filter(|rp| rp.kind == ResourceKind::S3Bucket)
        .map(|rp| rp.target.as_str())
        .collect();
    for old in &before.public_access_blocks {
        let new = after_blocks.get(old.urn.as_str()).copied();
        if new.is_none() && !keeps_exposure(old, &bucket_policies) {
            continue;
        }
        let (mut off, mut unknown) = (Vec::new(), Vec::new());
        for (name, was, now) in flags(old, new) {
            match (was, now) {
                (Some(true), Some(Some(true))) => {}
                (Some(true), Some(None)) => unknown.push(name),
                (Some(true), _) => off.push(name),
                _ => {}
            }
        }
        if off.is_empty() && unknown.is_empty() {
            continue;
        }
        let target = if is_account_level(old) {
            "the account".to_owned()
        } else {
            format!("bucket `{}`", old.target)
        };
        let how = if new.is_none() {
            "is removed"
        } else {
            "is weakened"
        };
        let mut f = finding(
            &PUB_005,
            new.map_or(old.urn.as_str(), |n| n.urn.as_str()),
            old.urn.clone(),
            if off.is_empty() {
                format!("unknown {}", unknown.join(","))
            } else {
                off.join(",")
            },
            format!(
                "The S3 public access block of {target} {how}: {}{}. A public bucket policy or ACL is no longer blocked.",
                if off.is_empty() {
                    String::new()
                } else {
                    format!("{} turned off", off.join(", "))
                },
                if unknown.is_empty() {
                    String::new()
                } else {
                    format!(
                        "{}{} unknown until apply",
                        if off.is_empty() { "" } else { "; " },
                        unknown.join(", ")
                    )
                },
            ),
        );
        f.exposure = Exposure::Public;
        if off.is_empty() {
            f.severity = Severity::Medium;
            f.confidence = Confidence::Partial;
        }
        out.push(f);
    }
}

/// A flag's name, its value before, and its value after (`None`: the block is gone).
type FlagChange = (&'static str, Option<bool>, Option<Option<bool>>);

/// The four flags, before and after.
fn flags(old: &PublicAccessBlock, new: Option<&PublicAccessBlock>) -> [FlagChange; 4] {
    [
        (
            "block_public_acls",
            old.block_public_acls,
            new.map(|n| n.block_public_acls),
        ),
        (
            "block_public_policy",
            old.block_public_policy,
            new.map(|n| n.block_public_policy),
        ),
        (
            "ignore_public_acls",
            old.ignore_public_acls,
            new.map(|n| n.ignore_public_acls),
        ),
        (
            "restrict_public_buckets",
            old.restrict_public_buckets,
            new.map(|n| n.restrict_public_buckets),
        ),
    ]
}

/// An account-wide block (`aws:s3/accountPublicAccessBlock`): its target is the account id or
/// absent.
fn is_account_level(block: &PublicAccessBlock) -> bool {
    let t = block.target.as_str();
    t.is_empty() || t == "account" || (t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit()))
}

/// A removed block matters when it was account-wide, or when its bucket still has a policy in
/// the after state (the bucket itself is not being deleted; `bucket_policies`: the targets of
/// the after state's S3 bucket policies).
fn keeps_exposure(old: &PublicAccessBlock, bucket_policies: &HashSet<&str>) -> bool {
    is_account_level(old) || bucket_policies.contains(old.target.as_str())
}

/// AWS-GR-004: an explicit Deny of a resource policy removed or narrowed.
fn check_resource_denies(before: &IamState, after: &IamState, out: &mut Vec<Finding>) {
    let counterparts = Counterparts::new(after);
    for old in &before.resource_policies {
        let Document::Known(was) = &old.document.value else {
            continue;
        };
        let Some(new) = counterparts.of(old) else {
            continue;
        };
        let (now, opaque) = statements(std::iter::once(&new.document.value));
        if opaque {
            continue;
        }
        for deny in was.statements.iter().filter(|s| s.effect == Effect::Deny) {
            let same: Vec<&Statement> = now
                .iter()
                .copied()
                .filter(|n| {
                    n.effect == Effect::Deny
                        && n.principal == deny.principal
                        && n.condition == deny.condition
                })
                .collect();
            let Some(lost) = lost_actions(deny, &same) else {
                continue;
            };
            let mut f = finding(
                &GR_004,
                &new.urn,
                new.urn.clone(),
                statement_text(deny),
                format!(
                    "The Deny `{}` in the policy of {} `{}` is removed or narrowed: {lost} no longer denied there.",
                    statement_text(deny),
                    new.kind.as_str(),
                    new.target
                ),
            );
            f.scope = Scope::Pinned;
            out.push(f);
        }
    }
}

/// The first item of `items` for each key.
fn first_by<'a, T, K: std::hash::Hash + Eq>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> HashMap<K, &'a T> {
    let mut map = HashMap::with_capacity(items.len());
    for item in items {
        map.entry(key(item)).or_insert(item);
    }
    map
}

/// The after state's resource policies, indexed to find the counterpart of a before one.
struct Counterparts<'a> {
    by_urn: HashMap<&'a str, &'a ResourcePolicy>,
    by_target: HashMap<(ResourceKind, &'a str), &'a ResourcePolicy>,
}

impl<'a> Counterparts<'a> {
    fn new(after: &'a IamState) -> Self {
        Counterparts {
            by_urn: first_by(&after.resource_policies, |rp| rp.urn.as_str()),
            by_target: first_by(&after.resource_policies, |rp| (rp.kind, rp.target.as_str())),
        }
    }

    /// The after-state policy of the same resource: same URN, else same kind and target.
    fn of(&self, old: &ResourcePolicy) -> Option<&'a ResourcePolicy> {
        self.by_urn
            .get(old.urn.as_str())
            .or_else(|| self.by_target.get(&(old.kind, old.target.as_str())))
            .copied()
    }
}

#[cfg(test)]
mod tests;
