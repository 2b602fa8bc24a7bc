//! Rules: wildcards and policy structure in identity policies (catalog §2.1, AWS-WC-001..011).
//! Structure rules (`Action: "*"`, `service:*`, NotAction, NotResource, condition patterns) read
//! each statement; the others read the subject's effective permissions (`effective`). A full
//! administrator is reported once (WC-001); the permission rules it implies stay quiet.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::engine::iam::IamState;
use crate::engine::iam::actions::{ActionSet, db};
use crate::engine::iam::managed::{self, Tier};
use crate::engine::iam::policy::{Effect, NameSpec, Statement};
use crate::engine::risk::effective::index::{Universe, compact, index, named, names, shorten};
use crate::engine::risk::effective::{
    Access, Hit, Owner, Reach, Strength, View, describe_access, views,
};
use crate::engine::risk::{Confidence, EvalCtx, Finding, Scope, Severity};

mod rules;

pub use self::rules::RULES;
use self::rules::{
    WC_001, WC_002, WC_003, WC_004, WC_005, WC_006, WC_007, WC_008, WC_009, WC_010, WC_011,
};

/// Services whose `service:*` is high rather than medium (catalog §2.1 WC-003).
const SENSITIVE_SERVICES: [&str; 8] = [
    "iam",
    "sts",
    "organizations",
    "kms",
    "lambda",
    "ec2",
    "ssm",
    "secretsmanager",
];

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

/// Multi-valued condition keys (lowercased): `ForAllValues:` is right for them.
const MULTI_VALUED_KEYS: [&str; 15] = [
    "aws:tagkeys",
    "aws:calledvia",
    "aws:principalservicenameslist",
    "aws:principalorgpaths",
    "aws:sourceorgpaths",
    "kms:encryptioncontextkeys",
    "kms:grantoperations",
    "dynamodb:attributes",
    "dynamodb:leadingkeys",
    "ses:recipients",
    "lambda:layer",
    "sagemaker:vpcsubnets",
    "sagemaker:vpcsecuritygroupids",
    "sagemaker:instancetypes",
    "route53:changeresourcerecordsetsrecordtypes",
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
        if let Some(access) = v.admin
            && !has_managed_admin(v)
        {
            out.push(admin(v, access));
        }
        for (si, source) in v.sources.iter().enumerate() {
            for (ti, s) in source.policy.statements.iter().enumerate() {
                check_statement(v, si, ti, s, out);
            }
        }
        check_services(v, out);
        if v.admin.is_none() {
            check_unconstrained_writes(v, out);
            check_pass_role(v, out);
            check_tagging(v, out);
        }
    }
}

/// An AWS managed admin policy is attached: AWS-MP-001 reports the admin access.
fn has_managed_admin(v: &View<'_>) -> bool {
    matches!(v.owner, Owner::Principal(p) if p.managed_arns.iter().any(|a| managed::classify(&a.value) == Some(Tier::Admin)))
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

/// True when the statement is part of what makes an admin subject admin (already reported).
fn feeds_admin(v: &View<'_>, si: usize, ti: usize) -> bool {
    v.admin.is_some()
        && v.effective
            .statement_grants(si, ti)
            .any(|g| g.reach.is_everything() && g.strength != Strength::Limiting)
}

fn check_statement(v: &View<'_>, si: usize, ti: usize, s: &Statement, out: &mut Vec<Finding>) {
    check_conditions(v, si, s, out);
    if s.effect != Effect::Allow || feeds_admin(v, si, ti) {
        return;
    }
    let Some(access) = v.effective.statement_access(si, ti) else {
        return;
    };
    match &s.action {
        NameSpec::Only(actions) if actions.contains("*") || actions.contains("*:*") => {
            let (source, resources) = (v.describe_source(si), render_resources(s));
            let hit = Hit {
                rule: &WC_002,
                severity: WC_002.severity,
                evidence: format!("Action=*;{resources}"),
                message: format!(
                    "{} is allowed every action (`*`) {} ({resources}) in {source}.",
                    v.display(),
                    describe_access(access)
                ),
                scope: access.scope,
                confidence: access.confidence(),
            };
            out.push(v.report_sources(hit, &[si]));
        }
        NameSpec::Not(excluded) => {
            let (source, resources) = (v.describe_source(si), render_resources(s));
            let granted = statement_actions(v, si, ti);
            let notable = names(&granted.intersection(&sets().notable));
            let including = if notable.is_empty() {
                String::new()
            } else {
                format!(", including {}", notable.join(", "))
            };
            let excluded: Vec<&str> = excluded.iter().map(String::as_str).collect();
            let hit = Hit {
                rule: &WC_006,
                severity: WC_006.severity,
                evidence: format!("NotAction={};{resources}", excluded.join(",")),
                message: format!(
                    "{} is allowed every action except {} {} in {source}: {} actions{including}.",
                    v.display(),
                    excluded.join(", "),
                    describe_access(access),
                    granted.len()
                ),
                scope: access.scope,
                confidence: access.confidence(),
            };
            out.push(v.report_sources(hit, &[si]));
        }
        NameSpec::Only(_) => {}
    }
    if let Some(NameSpec::Not(_)) = &s.resource {
        let (source, resources) = (v.describe_source(si), render_resources(s));
        let actions: Vec<&str> = s.action.names().iter().map(String::as_str).collect();
        let verb = if s.action.is_negated() {
            "every action except "
        } else {
            ""
        };
        let hit = Hit {
            rule: &WC_007,
            severity: WC_007.severity,
            evidence: format!(
                "{}={};{resources}",
                if s.action.is_negated() {
                    "NotAction"
                } else {
                    "Action"
                },
                actions.join(",")
            ),
            message: format!(
                "{} is allowed {verb}{} on every resource except the listed ones ({resources}) in {source}.",
                v.display(),
                actions.join(", ")
            ),
            scope: access.scope,
            confidence: access.confidence(),
        };
        out.push(v.report_sources(hit, &[si]));
    }
}

/// The actions one statement grants (all its reaches).
fn statement_actions(v: &View<'_>, si: usize, ti: usize) -> ActionSet {
    let mut set = ActionSet::new();
    for g in v.effective.statement_grants(si, ti) {
        set.union_with(&g.actions);
    }
    set
}

/// `Resource=a,b` or `NotResource=a`: a statement's resources for evidence and messages.
fn render_resources(s: &Statement) -> String {
    match &s.resource {
        None => "Resource=*".to_owned(),
        Some(spec) => {
            let key = if spec.is_negated() {
                "NotResource"
            } else {
                "Resource"
            };
            let names: Vec<&str> = spec.names().iter().map(String::as_str).collect();
            format!("{key}={}", names.join(","))
        }
    }
}

/// WC-003: one finding per `service:*` pattern, with the broadest access any statement gives it.
fn check_services(v: &View<'_>, out: &mut Vec<Finding>) {
    let mut best: BTreeMap<&str, (Access, Vec<usize>)> = BTreeMap::new();
    for (si, source) in v.sources.iter().enumerate() {
        for (ti, s) in source.policy.statements.iter().enumerate() {
            let NameSpec::Only(actions) = &s.action else {
                continue;
            };
            if s.effect != Effect::Allow || feeds_admin(v, si, ti) {
                continue;
            }
            for pattern in actions {
                let Some(service) = pattern.strip_suffix(":*") else {
                    continue;
                };
                if service.contains(['*', '?']) || !db().has_service(service) {
                    continue;
                }
                let of_service = index().service_set(service);
                let access = v
                    .effective
                    .statement_grants(si, ti)
                    .filter(|g| !g.actions.0.is_disjoint(&of_service.0))
                    .map(|g| g.access())
                    .min_by_key(|a| a.rank());
                let Some(access) = access else { continue };
                let entry = best.entry(service).or_insert((access, Vec::new()));
                if access.rank() < entry.0.rank() {
                    entry.0 = access;
                }
                entry.1.push(si);
            }
        }
    }
    for (service, (access, mut sources)) in best {
        sources.sort_unstable();
        sources.dedup();
        let severity = if SENSITIVE_SERVICES.contains(&service) {
            Severity::High
        } else {
            WC_003.severity
        };
        let origin: Vec<String> = sources.iter().map(|&si| v.describe_source(si)).collect();
        let hit = Hit {
            rule: &WC_003,
            severity,
            evidence: format!("{service}:*"),
            message: format!(
                "{} is allowed every `{service}` action (`{service}:*`) {}, from {}.",
                v.display(),
                describe_access(access),
                origin.join("; ")
            ),
            scope: access.scope,
            confidence: access.confidence(),
        };
        out.push(v.report_sources(hit, &sources));
    }
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
        let items = compact(&set, writes);
        let hit = Hit {
            rule,
            severity: rule.severity,
            evidence: items.join(","),
            message: format!(
                "{} may perform {} write actions {on} without a limiting condition: {}, from {}.",
                v.display(),
                set.len(),
                shorten(&items, 8),
                v.origin(&set)
            ),
            scope: access.scope,
            confidence: Confidence::Direct,
        };
        out.push(v.report(hit, &set));
    }
}

/// WC-008: `iam:PassRole` on every role, with no condition that limits it (such as
/// `iam:PassedToService`).
fn check_pass_role(v: &View<'_>, out: &mut Vec<Finding>) {
    let pass_role = &sets().pass_role;
    let Some(access) = v.effective.unconstrained_access(pass_role) else {
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

/// WC-009: tagging actions on every resource without a limiting condition.
fn check_tagging(v: &View<'_>, out: &mut Vec<Finding>) {
    let tagging = &sets().tagging;
    let set = v.effective.unconstrained().intersection(&tagging.set);
    let Some(access) = v.effective.unconstrained_access(&set) else {
        return;
    };
    let items = compact(&set, tagging);
    let hit = Hit {
        rule: &WC_009,
        severity: WC_009.severity,
        evidence: items.join(","),
        message: format!(
            "{} may tag or untag every resource with {} tagging actions ({}), from {}.",
            v.display(),
            set.len(),
            shorten(&items, 8),
            v.origin(&set)
        ),
        scope: access.scope,
        confidence: Confidence::Direct,
    };
    out.push(v.report(hit, &set));
}

/// WC-010 and WC-011: condition patterns that do not do what they seem to, in Allow and Deny
/// statements alike.
fn check_conditions(v: &View<'_>, si: usize, s: &Statement, out: &mut Vec<Finding>) {
    for (op, keys) in &s.condition {
        let lower = op.to_ascii_lowercase();
        for (key, values) in keys {
            if lower.starts_with("forallvalues:") && !is_multi_valued(key) {
                let source = v.describe_source(si);
                let hit = Hit {
                    rule: &WC_010,
                    severity: WC_010.severity,
                    evidence: format!("{} {op} {key}", s.effect.as_str()),
                    message: format!(
                        "A {} statement in {source} ({}) tests the single-valued key `{key}` with `{op}`, which is true when the request has no `{key}` at all.",
                        s.effect.as_str(),
                        v.display()
                    ),
                    scope: Scope::All,
                    confidence: Confidence::Direct,
                };
                out.push(v.report_sources(hit, &[si]));
            }
            let mfa = key == "aws:multifactorauthpresent"
                && values.iter().any(|x| x.eq_ignore_ascii_case("false"));
            if mfa && (lower == "bool" || lower == "null") {
                let source = v.describe_source(si);
                let hit = Hit {
                    rule: &WC_011,
                    severity: WC_011.severity,
                    evidence: format!(
                        "{} {op} aws:MultiFactorAuthPresent=false",
                        s.effect.as_str()
                    ),
                    message: format!(
                        "A {} statement in {source} ({}) checks MFA with `{op}: aws:MultiFactorAuthPresent = false`, which requests signed with long-term access keys never match.",
                        s.effect.as_str(),
                        v.display()
                    ),
                    scope: Scope::All,
                    confidence: Confidence::Direct,
                };
                out.push(v.report_sources(hit, &[si]));
            }
        }
    }
}

/// True for keys that carry a set of values in a request.
fn is_multi_valued(key: &str) -> bool {
    MULTI_VALUED_KEYS.contains(&key)
        || key.ends_with("keys")
        || key.ends_with("list")
        || key.ends_with("paths")
}

#[cfg(test)]
mod tests;
