//! Federated principals of trust policies: GitHub Actions OIDC (AWS-TR-006/008), other OIDC
//! and web-identity providers (TR-007/008) and SAML providers (TR-009).

use std::collections::BTreeSet;

use super::rules::{TR_006, TR_007, TR_008, TR_009};
use super::{Site, evidence};
use crate::engine::iam::policy::Conditions;
use crate::engine::risk::Finding;
use crate::engine::risk::conditions;

const GITHUB_PROVIDER: &str = "token.actions.githubusercontent.com";

/// GitHub OIDC claims that do not pin a repository when they come first in `sub`.
const GITHUB_ABUSABLE_CLAIMS: [&str; 6] = [
    "workflow",
    "environment",
    "ref",
    "context",
    "head_ref",
    "base_ref",
];

pub(super) fn check_federated(
    site: &Site<'_>,
    value: &str,
    conds: &Conditions,
    out: &mut Vec<Finding>,
) {
    if value.contains(":saml-provider/") {
        check_saml(site, value, conds, out);
        return;
    }
    // `arn:aws:iam::<account>:oidc-provider/<host/path>`, or a built-in web identity provider
    // (`cognito-identity.amazonaws.com`, `accounts.google.com`, ...).
    let provider = value
        .split_once(":oidc-provider/")
        .map_or(value, |(_, p)| p)
        .to_ascii_lowercase();
    if provider == GITHUB_PROVIDER {
        check_github(site, value, conds, out);
        return;
    }
    let (required, what) = if provider.starts_with("oidc.eks.") {
        (
            "sub",
            "the service account (`system:serviceaccount:<namespace>:<name>`)",
        )
    } else {
        ("aud", "the audience (the client id of your application)")
    };
    let key = format!("{provider}:{required}");
    let values: Vec<&str> = conditions::positive_values(conds, &key)
        .map(|(_, v)| v)
        .collect();
    if values.iter().any(|v| conditions::is_unknown(v)) {
        return;
    }
    if values.iter().all(|v| *v == "*") {
        out.push(site.finding(
            &TR_007,
            evidence("Federated", value, provider_keys(conds, &provider)),
            format!(
                "Role `{}` trusts the identity provider `{provider}` without a `{key}` condition pinning {what}: any identity that provider issues tokens for can assume it.",
                site.name()
            ),
        ));
    }
    check_sub_wildcard(site, value, &provider, conds, out);
}

/// TR-008: a `StringLike` wildcard in an OIDC `sub` that is otherwise pinned.
fn check_sub_wildcard(
    site: &Site<'_>,
    value: &str,
    provider: &str,
    conds: &Conditions,
    out: &mut Vec<Finding>,
) {
    let key = format!("{provider}:sub");
    let wild: Vec<&str> = conditions::positive_values(conds, &key)
        .filter(|(op, v)| {
            conditions::base_operator(op).starts_with("stringlike") && conditions::has_wildcard(v)
        })
        .map(|(_, v)| v)
        .collect();
    if wild.is_empty() {
        return;
    }
    out.push(site.finding(
        &TR_008,
        evidence("Federated", value, provider_keys(conds, provider)),
        format!(
            "Role `{}` trusts `{provider}` tokens whose subject matches the wildcard {}: every workload matching it (other repositories, branches or service accounts) can assume the role.",
            site.name(),
            wild.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
        ),
    ));
}

/// The GitHub Actions `sub` condition keys: `token.actions.githubusercontent.com:sub` or the
/// enterprise form `token.actions.githubusercontent.com/<slug>:sub`.
fn is_github_sub_key(key: &str) -> bool {
    let Some(rest) = key.strip_prefix(GITHUB_PROVIDER) else {
        return false;
    };
    let Some(middle) = rest.strip_suffix(":sub") else {
        return false;
    };
    middle.is_empty()
        || middle.strip_prefix('/').is_some_and(|slug| {
            !slug.is_empty()
                && slug
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

fn check_github(site: &Site<'_>, value: &str, conds: &Conditions, out: &mut Vec<Finding>) {
    let subs: Vec<&str> = conds
        .iter()
        .filter(|(op, _)| conditions::is_positive_operator(op))
        .flat_map(|(_, keys)| keys.iter())
        .filter(|(k, _)| is_github_sub_key(k))
        .flat_map(|(_, vs)| vs.iter().map(String::as_str))
        .collect();
    let bad: Vec<&str> = subs
        .iter()
        .copied()
        .filter(|v| !conditions::is_unknown(v) && !github_sub_is_safe(v))
        .collect();
    let problem = if subs.is_empty() {
        Some("without any `token.actions.githubusercontent.com:sub` condition: every GitHub Actions workflow of every repository on github.com can assume it".to_owned())
    } else if !bad.is_empty() {
        Some(format!(
            "with a `sub` condition that does not pin a repository ({}): workflows of other repositories can assume it",
            bad.iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else {
        None
    };
    match problem {
        Some(problem) => out.push(site.finding(
            &TR_006,
            evidence("Federated", value, provider_keys(conds, GITHUB_PROVIDER)),
            format!(
                "Role `{}` trusts GitHub Actions OIDC {problem}.",
                site.name()
            ),
        )),
        None => check_sub_wildcard(site, value, GITHUB_PROVIDER, conds, out),
    }
}

/// Checkov's GitHub `sub` checks: a `claim:value` pair, neither part `*`, the first claim not
/// one that leaves the repository open, and `repo:` followed by `owner/name`.
fn github_sub_is_safe(sub: &str) -> bool {
    let parts: Vec<&str> = sub.split(':').collect();
    let [claim, value, ..] = parts.as_slice() else {
        return false;
    };
    if *claim == "*" || *value == "*" || GITHUB_ABUSABLE_CLAIMS.contains(claim) {
        return false;
    }
    *claim != "repo" || github_repo_is_pinned(value)
}

/// `owner/name` where `owner` is made of `[A-Za-z0-9_-]` segments joined by dots (optionally
/// `${...}` and an `@id` suffix): no wildcard in the owner.
fn github_repo_is_pinned(repo: &str) -> bool {
    let repo = repo.strip_prefix("${").unwrap_or(repo);
    let Some((owner, name)) = repo.split_once('/') else {
        return false;
    };
    let owner = owner.strip_suffix('}').unwrap_or(owner);
    let owner = match owner.split_once('@') {
        Some((o, id)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => o,
        Some(_) => return false,
        None => owner,
    };
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    owner.split('.').all(segment_ok) && !name.is_empty()
}

fn check_saml(site: &Site<'_>, value: &str, conds: &Conditions, out: &mut Vec<Finding>) {
    let values: Vec<&str> = conditions::positive_values(conds, "saml:aud")
        .map(|(_, v)| v)
        .collect();
    if values.iter().any(|v| conditions::is_unknown(v)) {
        return;
    }
    if values.iter().all(|v| v.contains('*')) {
        out.push(site.finding(
            &TR_009,
            evidence("Federated", value, provider_keys(conds, "saml")),
            format!(
                "Role `{}` trusts the SAML provider `{value}` without a `saml:aud` condition: an assertion meant for another service provider can be replayed to assume it.",
                site.name()
            ),
        ));
    }
}

/// The condition keys of one provider (`<provider>:sub`, `<provider>/<slug>:sub`, `saml:aud`),
/// sorted, for evidence: other keys do not change what the finding is about.
fn provider_keys<'a>(conds: &'a Conditions, provider: &str) -> BTreeSet<&'a str> {
    conditions::keys(conds)
        .into_iter()
        .filter(|k| {
            k.strip_prefix(provider)
                .is_some_and(|rest| rest.starts_with(':') || rest.starts_with('/'))
        })
        .collect()
}
