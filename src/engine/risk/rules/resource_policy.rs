//! Rules: resource-based policies (catalog §2.7): buckets, keys, queues, topics, repositories,
//! secrets and Lambda permissions open to everyone (AWS-PUB-001/002), to a service without a
//! source condition (PUB-003) or to an account outside the trusted ones (PUB-004), and bucket
//! policies that lock everyone out (PUB-006). Reads `IamState::resource_policies` only; block
//! public access changes (PUB-005) are in `guardrail`. Values unknown until apply are never
//! taken as public nor as harmless: they are left to the `unknown-value` lint findings.

use std::collections::BTreeSet;

use crate::engine::iam::actions::{AccessLevel, ActionSet, db};
use crate::engine::iam::policy::{Conditions, Document, Effect, NameSpec, Statement};
use crate::engine::iam::{IamState, ResourceKind, ResourcePolicy};
use crate::engine::risk::conditions::{self, Limiting};
use crate::engine::risk::{Confidence, EvalCtx, Exposure, Finding, Rule, Scope, Severity};

mod rules;

pub use self::rules::RULES;
use self::rules::{PUB_001, PUB_002, PUB_003, PUB_004, PUB_006};

/// Condition keys that tie a service principal to the resource or account it acts for.
const SOURCE_KEYS: [&str; 5] = [
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
];

pub fn check(state: &IamState, ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    for rp in &state.resource_policies {
        let Document::Known(policy) = &rp.document.value else {
            continue;
        };
        check_public(rp, &policy.statements, out);
        for statement in policy
            .statements
            .iter()
            .filter(|s| s.effect == Effect::Allow)
        {
            check_service(rp, statement, out);
            check_accounts(rp, statement, ctx, out);
        }
        if rp.kind == ResourceKind::S3Bucket {
            check_lockout(rp, &policy.statements, out);
        }
    }
}

/// A finding on the resource policy, with the rule's defaults.
fn finding(rp: &ResourcePolicy, rule: &Rule, evidence: String, message: String) -> Finding {
    Finding {
        rule_id: rule.id,
        category: rule.category,
        severity: rule.severity,
        resource: rp.urn.clone(),
        subject: rp.urn.clone(),
        evidence,
        message,
        scope: Scope::Pinned,
        exposure: Exposure::Public,
        confidence: Confidence::Direct,
    }
}

/// What a resource policy is, for messages: `S3 bucket `logs``.
fn describe(rp: &ResourcePolicy) -> String {
    format!("{} `{}`", rp.kind.as_str(), rp.target)
}

/// The principal values of an Allow statement that everyone matches: `*`, an ARN in any
/// account, or everything outside a `NotPrincipal`.
fn public_principals(statement: &Statement) -> Vec<String> {
    let Some(principal) = &statement.principal else {
        return Vec::new();
    };
    if principal.negated {
        let listed: Vec<String> = principal.all().map(|(k, v)| format!("{k}:{v}")).collect();
        return vec![format!("NotPrincipal {}", listed.join(","))];
    }
    principal
        .values("AWS")
        .filter(|v| conditions::is_public_arn(v))
        .map(|v| format!("AWS:{v}"))
        .collect()
}

/// How wide the statement's Resource is.
fn scope_of(statement: &Statement) -> Scope {
    match &statement.resource {
        None | Some(NameSpec::Not(_)) => Scope::All,
        Some(NameSpec::Only(names)) if names.contains("*") => Scope::All,
        Some(NameSpec::Only(names)) if names.iter().any(|n| conditions::has_wildcard(n)) => {
            Scope::Wildcard
        }
        Some(NameSpec::Only(_)) => Scope::Pinned,
    }
}

/// The actions a statement allows, and a label for evidence. Unknown-until-apply names are left
/// out (the lint family reports them).
fn allowed_actions(statement: &Statement) -> (ActionSet, Vec<String>) {
    let db = db();
    let mut set = ActionSet::new();
    let names = statement
        .action
        .names()
        .iter()
        .filter(|n| !conditions::is_unknown(n));
    match &statement.action {
        NameSpec::Only(_) => {
            let names: Vec<String> = names.cloned().collect();
            for n in &names {
                db.expand_into(n, &mut set);
            }
            (set, names)
        }
        NameSpec::Not(_) => {
            let names: Vec<String> = names.map(|n| format!("NotAction {n}")).collect();
            let mut excluded = ActionSet::new();
            for n in statement.action.names() {
                db.expand_into(n, &mut excluded);
            }
            set = db.all();
            set.difference_with(&excluded);
            (set, names)
        }
    }
}

fn is_write(level: AccessLevel) -> bool {
    matches!(
        level,
        AccessLevel::Write | AccessLevel::PermissionsManagement | AccessLevel::Tagging
    )
}

/// PUB-001/002: one finding per resource at the worst level, listing the public actions.
fn check_public(rp: &ResourcePolicy, statements: &[Statement], out: &mut Vec<Finding>) {
    let db = db();
    let mut principals = BTreeSet::new();
    let (mut writes, mut reads) = (BTreeSet::new(), BTreeSet::new());
    let mut scope = Scope::Pinned;
    for statement in statements.iter().filter(|s| s.effect == Effect::Allow) {
        let public = public_principals(statement);
        if public.is_empty() || conditions::limiting(&statement.condition) != Limiting::No {
            continue;
        }
        let (set, labels) = allowed_actions(statement);
        if set.is_empty() {
            continue;
        }
        let write = set.iter().any(|id| is_write(db.access_level(id)));
        if write {
            writes.extend(labels);
        } else {
            reads.extend(labels);
        }
        principals.extend(public);
        scope = scope.min(scope_of(statement));
    }
    if writes.is_empty() && reads.is_empty() {
        return;
    }
    let who = principals.into_iter().collect::<Vec<_>>().join(",");
    let (rule, actions, what) = if writes.is_empty() {
        (&PUB_002, reads, "read")
    } else {
        (&PUB_001, writes, "change")
    };
    let actions: Vec<String> = actions.into_iter().collect();
    let mut f = finding(
        rp,
        rule,
        format!("{who} {}", actions.join(",")),
        format!(
            "The policy of {} lets anyone ({who}) {what} it with {}, and no condition limits who (no positive test of an account, organization, VPC endpoint or network).",
            describe(rp),
            actions
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    f.scope = scope;
    out.push(f);
}

/// PUB-003: a service principal without a source condition.
fn check_service(rp: &ResourcePolicy, statement: &Statement, out: &mut Vec<Finding>) {
    let Some(principal) = statement.principal.as_ref().filter(|p| !p.negated) else {
        return;
    };
    if has_source_condition(&statement.condition) {
        return;
    }
    for service in principal
        .values("Service")
        .filter(|v| !conditions::is_unknown(v))
    {
        let mut f = finding(
            rp,
            &PUB_003,
            format!("Service:{service}"),
            format!(
                "The policy of {} allows the service `{service}` without an `aws:SourceArn` or `aws:SourceAccount` condition: that service acting for any other AWS account can reach it.",
                describe(rp)
            ),
        );
        f.exposure = Exposure::External;
        f.scope = scope_of(statement);
        out.push(f);
    }
}

fn has_source_condition(conds: &Conditions) -> bool {
    SOURCE_KEYS
        .iter()
        .any(|key| conditions::positive_values(conds, key).next().is_some())
}

/// PUB-004: an account principal outside the trusted accounts.
fn check_accounts(
    rp: &ResourcePolicy,
    statement: &Statement,
    ctx: EvalCtx<'_>,
    out: &mut Vec<Finding>,
) {
    let Some(principal) = statement.principal.as_ref().filter(|p| !p.negated) else {
        return;
    };
    for value in principal
        .values("AWS")
        .filter(|v| !conditions::is_unknown(v))
    {
        let Some(account) = account_of(value) else {
            continue;
        };
        if ctx.config.trusted_accounts.contains(account) {
            continue;
        }
        let mut f = finding(
            rp,
            &PUB_004,
            format!("AWS:{value}"),
            format!(
                "The policy of {} grants access to `{value}` in account {account}, which is not in `risk.trusted_accounts`.",
                describe(rp)
            ),
        );
        f.exposure = Exposure::External;
        f.scope = scope_of(statement);
        if conditions::is_limiting(&statement.condition) {
            f.confidence = Confidence::Conditioned;
        }
        out.push(f);
    }
}

/// The 12-digit account of an ARN principal (`arn:aws:iam::<account>:...`).
fn account_of(arn: &str) -> Option<&str> {
    let account = arn.strip_prefix("arn:")?.split(':').nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// PUB-006: an unconditional Deny of `s3:PutBucketPolicy` to everyone (checkov CKV_AWS_93).
fn check_lockout(rp: &ResourcePolicy, statements: &[Statement], out: &mut Vec<Finding>) {
    for statement in statements {
        let everyone = statement
            .principal
            .as_ref()
            .is_some_and(|p| !p.negated && p.values("AWS").any(|v| v == "*"));
        let NameSpec::Only(actions) = &statement.action else {
            continue;
        };
        if statement.effect != Effect::Deny || !statement.condition.is_empty() || !everyone {
            continue;
        }
        let blocking: Vec<&str> = actions
            .iter()
            .map(String::as_str)
            .filter(|a| conditions::like_match(a, "s3:PutBucketPolicy", true))
            .collect();
        if blocking.is_empty() {
            continue;
        }
        let mut f = finding(
            rp,
            &PUB_006,
            format!("Deny AWS:* {}", blocking.join(",")),
            format!(
                "The policy of {} denies {} to everyone with no condition: only the account root user can change the bucket policy afterwards.",
                describe(rp),
                blocking
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        f.severity = Severity::Low;
        f.exposure = Exposure::Internal;
        out.push(f);
    }
}

#[cfg(test)]
mod tests;
