//! Structure rules of the wildcard family: what one statement says (`Action: "*"`,
//! `service:*`, NotAction, NotResource, condition patterns), reported with the access the
//! subject really gets from it. Statements that make a subject admin are left to AWS-WC-001.

use std::collections::BTreeMap;

use super::rules::{WC_002, WC_003, WC_006, WC_007, WC_010, WC_011};
use super::sets;
use crate::engine::iam::actions::{ActionSet, db};
use crate::engine::iam::policy::{Effect, NameSpec, Statement};
use crate::engine::risk::effective::index::{index, names};
use crate::engine::risk::effective::{Access, Hit, Strength, View, describe_access};
use crate::engine::risk::{Confidence, Finding, Scope, Severity};

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

/// True when the statement is part of what makes an admin subject admin (already reported).
pub(super) fn feeds_admin(v: &View<'_>, si: usize, ti: usize) -> bool {
    v.admin.is_some()
        && v.effective
            .statement_grants(si, ti)
            .any(|g| g.reach.is_everything() && g.strength != Strength::Limiting)
}

pub(super) fn check_statement(
    v: &View<'_>,
    si: usize,
    ti: usize,
    s: &Statement,
    out: &mut Vec<Finding>,
) {
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
pub(super) fn check_services(v: &View<'_>, out: &mut Vec<Finding>) {
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
