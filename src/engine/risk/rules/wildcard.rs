//! Rules: wildcards and policy structure in identity policies (catalog §2.1, AWS-WC-001..011).
//! Structure rules (`Action: "*"`, `service:*`, NotAction, NotResource, condition patterns) read
//! each statement; the others read the subject's effective permissions (`effective`). A full
//! administrator is reported once (WC-001); the permission rules it implies stay quiet.

use std::sync::OnceLock;

use crate::engine::iam::IamState;
use crate::engine::iam::actions::ActionSet;
use crate::engine::iam::policy::Conditions;
use crate::engine::risk::conditions;
use crate::engine::risk::effective::index::{
    Universe, compact_names, count, index, named, shorten,
};
use crate::engine::risk::effective::{
    Access, Hit, PASSED_TO_SERVICE, Reach, Strength, View, describe_access, views,
};
use crate::engine::risk::{Confidence, EvalCtx, Finding, Scope};

mod rules;
mod structure;

pub use self::rules::RULES;
use self::rules::{WC_001, WC_004, WC_005, WC_008, WC_009};

/// Actions worth naming when a NotAction statement still allows them.
const NOTABLE: [&str; 14] = [
    "iam:PassRole",
    "iam:CreateAccessKey",
    "iam:AttachRolePolicy",
    "iam:PutRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "sts:AssumeRole",
    "ssm:SendCommand",
    "ssm:StartSession",
    "ec2:RunInstances",
    "lambda:CreateFunction",
    "lambda:UpdateFunctionCode",
    "cloudformation:CreateStack",
    "glue:CreateDevEndpoint",
];

/// The family's action sets, built once.
struct Sets {
    notable: ActionSet,
    pass_role: ActionSet,
    /// Write actions that support resource-level permissions (WC-004/005).
    writes: Universe,
    tagging: Universe,
}

fn sets() -> &'static Sets {
    static SETS: OnceLock<Sets> = OnceLock::new();
    SETS.get_or_init(|| Sets {
        notable: named(&NOTABLE),
        pass_role: named(&["iam:PassRole"]),
        writes: Universe::new(index().restrictable_write.clone()),
        tagging: Universe::new(index().tagging.clone()),
    })
}

pub fn check(state: &IamState, ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    check_views(&views(state), ctx, out);
}

/// Runs the family over precomputed views (shared with the other identity families).
pub fn check_views(views: &[View<'_>], _ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    for v in views {
        if let Some(access) = v.admin {
            out.push(admin(v, access));
        }
        for (si, source) in v.sources.iter().enumerate() {
            for (ti, s) in source.policy.statements.iter().enumerate() {
                structure::check_statement(v, si, ti, s, out);
            }
        }
        structure::check_services(v, out);
        if v.admin.is_none() {
            check_unconstrained_writes(v, out);
            check_pass_role(v, out);
            check_tagging(v, out);
        }
    }
}

fn admin(v: &View<'_>, access: Access) -> Finding {
    let sources = admin_sources(v);
    let how = if access.scope == Scope::All {
        ""
    } else {
        " (under a condition that does not limit it)"
    };
    let origin: Vec<String> = sources.iter().map(|&si| v.describe_source(si)).collect();
    let hit = Hit {
        rule: &WC_001,
        severity: WC_001.severity,
        evidence: "*".to_owned(),
        message: format!(
            "{} has full administrator access: every action on every resource{how}, from {}.",
            v.display(),
            origin.join("; ")
        ),
        scope: access.scope,
        confidence: Confidence::Direct,
    };
    v.report_sources(hit, &sources)
}

/// The sources of the grants that make a subject admin.
fn admin_sources(v: &View<'_>) -> Vec<usize> {
    let mut out: Vec<usize> = v
        .effective
        .grants
        .iter()
        .filter(|g| g.reach.is_everything() && g.strength != Strength::Limiting)
        .map(|g| g.source)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// WC-004 (`Resource: "*"`) and WC-005 (wildcard ARNs covering everything): restrictable Write
/// actions granted without a limiting condition. Permissions-management actions are AWS-RE-001,
/// tagging actions AWS-WC-009.
fn check_unconstrained_writes(v: &View<'_>, out: &mut Vec<Finding>) {
    let writes = &sets().writes;
    let mut star = ActionSet::new();
    let mut covering = ActionSet::new();
    for g in v
        .effective
        .grants
        .iter()
        .filter(|g| g.strength != Strength::Limiting)
    {
        match g.reach {
            Reach::Star => star.union_with(&g.actions),
            Reach::Covering => covering.union_with(&g.actions),
            _ => {}
        }
    }
    star.intersect_with(&writes.set);
    covering.intersect_with(&writes.set);
    covering.difference_with(&star);
    for (rule, set, on) in [
        (&WC_004, star, "on `Resource: \"*\"`"),
        (
            &WC_005,
            covering,
            "on wildcard ARNs that cover every resource they accept",
        ),
    ] {
        let Some(access) = v.effective.unconstrained_access(&set) else {
            continue;
        };
        let items = compact_names(&set, writes);
        let hit = Hit {
            rule,
            severity: rule.severity,
            evidence: items.join(","),
            message: format!(
                "{} may perform {} {on} without a limiting condition: {}, from {}.",
                v.display(),
                count(set.len(), "write action"),
                shorten(&items, 8),
                v.origin(&set)
            ),
            scope: access.scope,
            confidence: Confidence::Direct,
        };
        out.push(v.report(hit, &set));
    }
}

/// WC-008: `iam:PassRole` on every role, with no condition that limits it and no
/// `iam:PassedToService` naming the services it may pass roles to.
fn check_pass_role(v: &View<'_>, out: &mut Vec<Finding>) {
    let pass_role = &sets().pass_role;
    let Some(access) = v
        .effective
        .grants
        .iter()
        .filter(|g| {
            !g.actions.0.is_disjoint(&pass_role.0)
                && g.reach.is_everything()
                && g.strength != Strength::Limiting
                && !names_services(&v.sources[g.source].policy.statements[g.statement].condition)
        })
        .map(|g| g.access())
        .min_by_key(|a| a.rank())
    else {
        return;
    };
    let hit = Hit {
        rule: &WC_008,
        severity: WC_008.severity,
        evidence: "iam:PassRole".to_owned(),
        message: format!(
            "{} may pass any role of the account to an AWS service (`iam:PassRole` {}, no `iam:PassedToService` condition), from {}.",
            v.display(),
            describe_access(access),
            v.origin(pass_role)
        ),
        scope: access.scope,
        confidence: Confidence::Partial,
    };
    out.push(v.report(hit, pass_role));
}

/// True when a positive test on `iam:PassedToService` names services: none of its values
/// matches any service (as `*` and `*.amazonaws.com` do) or is unknown until apply.
fn names_services(condition: &Conditions) -> bool {
    condition
        .iter()
        .filter(|(op, _)| conditions::is_positive_operator(op))
        .flat_map(|(_, keys)| keys.iter())
        .any(|(key, values)| {
            key == PASSED_TO_SERVICE
                && !values.is_empty()
                && !values.iter().any(|v| {
                    conditions::is_unknown(v)
                        || conditions::like_match(v, "any-service.amazonaws.com", true)
                })
        })
}

/// WC-009: tagging actions on every resource without a limiting condition.
fn check_tagging(v: &View<'_>, out: &mut Vec<Finding>) {
    let tagging = &sets().tagging;
    let set = v.effective.unconstrained().intersection(&tagging.set);
    let Some(access) = v.effective.unconstrained_access(&set) else {
        return;
    };
    let items = compact_names(&set, tagging);
    let hit = Hit {
        rule: &WC_009,
        severity: WC_009.severity,
        evidence: items.join(","),
        message: format!(
            "{} may tag or untag every resource with {} ({}), from {}.",
            v.display(),
            count(set.len(), "tagging action"),
            shorten(&items, 8),
            v.origin(&set)
        ),
        scope: access.scope,
        confidence: Confidence::Direct,
    };
    out.push(v.report(hit, &set));
}

#[cfg(test)]
mod tests;
