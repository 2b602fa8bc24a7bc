//! Rules: role trust policies (catalog §2.6, AWS-TR-001..011): who can assume each role.
//! Reads only `Principal::trust` of roles; a trust document that is unknown, secret or malformed
//! is left to the lint family, and so is any principal or condition value unknown until apply.

use crate::engine::iam::policy::{Conditions, Document, Effect, NameSpec, Statement};
use crate::engine::iam::{IamState, Principal, PrincipalKind, Sourced};
use crate::engine::risk::conditions::{self, Limiting};
use crate::engine::risk::{Confidence, EvalCtx, Exposure, Finding, Rule, Scope, Severity};

mod federated;
mod rules;

pub use self::rules::RULES;
use self::rules::{TR_001, TR_002, TR_003, TR_004, TR_005, TR_010, TR_011};

/// The actions that let a principal assume a role.
const ASSUME_ACTIONS: [&str; 3] = [
    "sts:AssumeRole",
    "sts:AssumeRoleWithWebIdentity",
    "sts:AssumeRoleWithSAML",
];

/// Service principals whose roles end up on compute (CSPL `SERVICE_PREFIXES_WITH_COMPUTE_ROLES`).
const COMPUTE_SERVICES: [&str; 4] = [
    "ec2.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "eks.amazonaws.com",
    "lambda.amazonaws.com",
];

pub fn check(state: &IamState, ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    for role in state
        .principals
        .iter()
        .filter(|p| p.kind == PrincipalKind::Role)
    {
        let Some(trust) = &role.trust else { continue };
        let Document::Known(policy) = &trust.value else {
            continue;
        };
        let site = Site { role, trust };
        for statement in &policy.statements {
            check_statement(&site, statement, ctx, out);
        }
    }
}

/// Where a finding is reported.
struct Site<'a> {
    role: &'a Principal,
    trust: &'a Sourced<Document>,
}

impl Site<'_> {
    /// A finding with the rule's defaults; callers adjust severity, exposure and confidence.
    fn finding(&self, rule: &Rule, evidence: String, message: String) -> Finding {
        Finding {
            rule_id: rule.id,
            category: rule.category,
            severity: rule.severity,
            resource: self.trust.urn.clone(),
            subject: self.role.subject(),
            evidence,
            message,
            // A trust grant hands over the role's whole permission set.
            scope: Scope::All,
            exposure: Exposure::External,
            confidence: Confidence::Direct,
        }
    }

    fn name(&self) -> &str {
        &self.role.name
    }
}

fn check_statement(
    site: &Site<'_>,
    statement: &Statement,
    ctx: EvalCtx<'_>,
    out: &mut Vec<Finding>,
) {
    let Some(principal) = &statement.principal else {
        return;
    };
    if principal.negated {
        let values: Vec<String> = principal.all().map(|(k, v)| format!("{k}:{v}")).collect();
        let evidence = format!("NotPrincipal {}", values.join(","));
        let mut f = site.finding(
            &TR_010,
            evidence,
            format!(
                "The trust policy of role `{}` uses NotPrincipal ({}) in a {} statement: IAM rejects NotPrincipal in trust policies, and an Allow with NotPrincipal trusts everyone not listed.",
                site.name(),
                values.join(", "),
                statement.effect.as_str()
            ),
        );
        f.exposure = if statement.effect == Effect::Allow {
            Exposure::Public
        } else {
            Exposure::Internal
        };
        out.push(f);
        return;
    }
    if statement.effect != Effect::Allow || !grants_assume(&statement.action) {
        return;
    }
    for (kind, value) in principal.all() {
        if conditions::is_unknown(value) {
            continue;
        }
        match kind {
            "AWS" => check_aws(site, value, &statement.condition, ctx, out),
            "Service" => check_service(site, value, out),
            "Federated" => federated::check_federated(site, value, &statement.condition, out),
            _ => {}
        }
    }
}

/// True when the Action (or NotAction) element allows one of the assume actions.
fn grants_assume(action: &NameSpec) -> bool {
    let matched = |a: &str| {
        action
            .names()
            .iter()
            .any(|p| conditions::like_match(p, a, true))
    };
    match action {
        NameSpec::Only(_) => ASSUME_ACTIONS.iter().any(|a| matched(a)),
        NameSpec::Not(_) => ASSUME_ACTIONS.iter().any(|a| !matched(a)),
    }
}

/// `value` followed by the sorted condition keys, for evidence.
fn evidence(kind: &str, value: &str, keys: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let keys: Vec<String> = keys.into_iter().map(|k| k.as_ref().to_owned()).collect();
    if keys.is_empty() {
        format!("{kind}:{value}")
    } else {
        format!("{kind}:{value} [{}]", keys.join(","))
    }
}

fn check_aws(
    site: &Site<'_>,
    value: &str,
    conds: &Conditions,
    ctx: EvalCtx<'_>,
    out: &mut Vec<Finding>,
) {
    if conditions::is_public_arn(value) {
        check_public(site, value, conds, out);
        return;
    }
    let Some((account, resource)) = account_of(value) else {
        return;
    };
    let trusted = ctx.config.trusted_accounts.contains(account);
    let limited = conditions::is_limiting(conds);
    let confidence = if limited {
        Confidence::Conditioned
    } else {
        Confidence::Direct
    };
    let exposure = if trusted {
        Exposure::Internal
    } else {
        Exposure::External
    };
    if resource == "root" {
        let mut f = site.finding(
            &TR_004,
            evidence("AWS", value, conditions::limiting_keys(conds)),
            format!(
                "Role `{}` trusts the whole account {account} (`{value}`): any user or role in {} that is allowed `sts:AssumeRole` can assume it.",
                site.name(),
                if trusted { "that trusted account" } else { "that external account" }
            ),
        );
        f.severity = if trusted {
            Severity::Medium
        } else {
            Severity::High
        };
        f.exposure = exposure;
        f.confidence = confidence;
        out.push(f);
    }
    if trusted {
        return;
    }
    let mut f = site.finding(
        &TR_003,
        evidence("AWS", value, conditions::limiting_keys(conds)),
        format!(
            "Role `{}` can be assumed from account {account} (`{value}`), which is not in `risk.trusted_accounts`.",
            site.name()
        ),
    );
    f.confidence = confidence;
    out.push(f);
    if !has_external_id(conds) {
        out.push(site.finding(
            &TR_005,
            evidence("AWS", value, None::<&str>),
            format!(
                "Role `{}` trusts external account {account} (`{value}`) without an `sts:ExternalId` condition: a third party acting for several customers can be tricked into using it (confused deputy).",
                site.name()
            ),
        ));
    }
}

/// `{"AWS": "*"}` or an ARN in any account.
fn check_public(site: &Site<'_>, value: &str, conds: &Conditions, out: &mut Vec<Finding>) {
    if conds.is_empty() {
        let mut f = site.finding(
            &TR_001,
            evidence("AWS", value, None::<&str>),
            format!(
                "Role `{}` can be assumed by any AWS principal in any account (`{value}`) and the statement has no condition.",
                site.name()
            ),
        );
        f.exposure = Exposure::Public;
        out.push(f);
        return;
    }
    let (severity, confidence, why, keys) = match conditions::limiting(conds) {
        Limiting::Yes => (
            Severity::Medium,
            Confidence::Conditioned,
            "only its condition limits who can",
            conditions::limiting_keys(conds),
        ),
        Limiting::No => (
            Severity::High,
            Confidence::Direct,
            "its condition does not limit who can (no positive test of an account, organization, principal ARN or network)",
            conditions::keys(conds),
        ),
        Limiting::Unknown => (
            Severity::High,
            Confidence::Partial,
            "the value of its limiting condition is unknown until apply, so it cannot be shown to limit who can",
            conditions::keys(conds),
        ),
    };
    let mut f = site.finding(
        &TR_002,
        evidence("AWS", value, keys),
        format!(
            "Role `{}` names any AWS principal (`{value}`) as trusted; {why} assume it.",
            site.name()
        ),
    );
    f.severity = severity;
    f.confidence = confidence;
    f.exposure = Exposure::Public;
    out.push(f);
}

/// The account and the resource part of an `arn:<partition>:iam::<account>:<resource>` or
/// `arn:<partition>:sts::<account>:<resource>` principal.
fn account_of(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "iam" | "sts", _, account, resource]
            if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some((account, resource))
        }
        _ => None,
    }
}

/// A positive `sts:ExternalId` test with a value that is not a bare wildcard.
fn has_external_id(conds: &Conditions) -> bool {
    conditions::positive_values(conds, "sts:externalid").any(|(_, v)| v != "*")
}

fn check_service(site: &Site<'_>, value: &str, out: &mut Vec<Finding>) {
    if !COMPUTE_SERVICES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(value))
    {
        return;
    }
    let mut f = site.finding(
        &TR_011,
        evidence("Service", value, None::<&str>),
        format!(
            "Role `{}` can be assumed by the compute service `{value}`: code running there gets its permissions.",
            site.name()
        ),
    );
    f.exposure = Exposure::Service;
    out.push(f);
}

#[cfg(test)]
mod tests;
