//! Condition analysis shared by the rules: which conditions really limit who or what a statement
//! applies to (catalog §2.6, cloudsplaining's `resource_policy_document.py` logic), and small
//! read helpers over a statement's `Conditions`. Pure; it never decides a rule's severity.
//!
//! A value unknown until apply is never taken as limiting nor as public: `limiting` says
//! `Unknown` and the rules leave the judgement to the `unknown-value` findings.

use std::collections::BTreeSet;

use crate::engine::iam::policy::{Conditions, UNKNOWN_TEXT};

/// What a limiting condition key restricts, which decides when its value is still public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    Arn,
    Account,
    Organization,
    UserId,
    Cidr,
    Vpc,
    Vpce,
    SamlAudience,
}

/// The keys (lowercased, as stored) that can limit a statement to specific principals,
/// sources or networks.
pub const LIMITING_KEYS: [(&str, KeyClass); 13] = [
    ("aws:sourcearn", KeyClass::Arn),
    ("aws:principalarn", KeyClass::Arn),
    ("aws:sourceowner", KeyClass::Account),
    ("aws:sourceaccount", KeyClass::Account),
    ("aws:principalaccount", KeyClass::Account),
    ("aws:principalorgid", KeyClass::Organization),
    ("aws:principalorgpaths", KeyClass::Organization),
    ("kms:calleraccount", KeyClass::Account),
    ("aws:userid", KeyClass::UserId),
    ("aws:sourceip", KeyClass::Cidr),
    ("aws:sourcevpc", KeyClass::Vpc),
    ("aws:sourcevpce", KeyClass::Vpce),
    ("saml:aud", KeyClass::SamlAudience),
];

/// Whether a statement's conditions limit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiting {
    /// At least one limiting key with only non-public values.
    Yes,
    /// No limiting key, or each one allows everyone.
    No,
    /// Not limiting as far as is known, but a limiting key holds a value unknown until apply.
    Unknown,
}

/// The class of a limiting key (`key` in any case), or `None` for a key that limits nothing.
pub fn key_class(key: &str) -> Option<KeyClass> {
    LIMITING_KEYS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, c)| *c)
}

/// True for the positive operators cloudsplaining counts: `StringEquals`, `StringLike` (with
/// optional `IgnoreCase`), `ArnEquals`, `ArnLike`, `IpAddress`, each with an optional
/// `ForAnyValue:`/`ForAllValues:` prefix and `IfExists` suffix, in any letter case.
pub fn is_positive_operator(op: &str) -> bool {
    matches!(
        base_operator(op).as_str(),
        "stringequals"
            | "stringlike"
            | "stringequalsignorecase"
            | "stringlikeignorecase"
            | "arnequals"
            | "arnlike"
            | "ipaddress"
    )
}

/// The operator lowercased, without its set prefix and `IfExists` suffix: `stringlike` for
/// `ForAnyValue:StringLikeIfExists`.
pub fn base_operator(op: &str) -> String {
    let lower = op.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("forallvalues:")
        .or_else(|| lower.strip_prefix("foranyvalue:"))
        .unwrap_or(&lower);
    rest.strip_suffix("ifexists").unwrap_or(rest).to_owned()
}

/// True when the value stands for something computed during preview.
pub fn is_unknown(value: &str) -> bool {
    value.contains(UNKNOWN_TEXT)
}

/// True when a value of a limiting key still lets everyone in.
pub fn is_public_value(class: KeyClass, value: &str) -> bool {
    match class {
        KeyClass::Arn => is_public_arn(value),
        KeyClass::Cidr => value.ends_with("/0"),
        KeyClass::Organization => value.contains("o-*"),
        // Trailing wildcards are fine (`AROAEXAMPLE:*`); any other wildcard is not.
        KeyClass::UserId => value
            .char_indices()
            .any(|(i, c)| c == '*' && i + 1 != value.len()),
        KeyClass::Account | KeyClass::Vpc | KeyClass::Vpce | KeyClass::SamlAudience => {
            value.contains('*')
        }
    }
}

/// True for an ARN (principal or condition value) that any AWS account matches: `*`, or an
/// ARN whose account field is `*` (S3 ARNs carry no account and never count).
pub fn is_public_arn(value: &str) -> bool {
    if value == "*" {
        return true;
    }
    if !value.starts_with("arn:") {
        // An account id or a service name.
        return false;
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    if parts.len() < 6 {
        return value.contains('*');
    }
    let (service, account) = (parts[2], parts[4]);
    if service == "s3" {
        return false;
    }
    if account.is_empty() && service.is_empty() {
        return true;
    }
    account == "*"
}

/// True when a test with this operator is met by a request that lacks the key, so it cannot
/// limit anyone who can leave the key out: `...IfExists` ("if the key is not present, evaluate
/// the condition element as true") and `ForAllValues:` (true when the request has no value for
/// the key). IAM User Guide, "IAM JSON policy elements: Condition operators", "...IfExists
/// condition operators"; "Set operators for multivalued context keys" (`ForAllValues`).
pub fn met_when_absent(op: &str) -> bool {
    let lower = op.to_ascii_lowercase();
    lower.ends_with("ifexists") || lower.starts_with("forallvalues:")
}

/// Whether the conditions limit the statement (catalog §2.6). Keys combine with AND, so one
/// limiting (operator, key) pair is enough; values of one key combine with OR, so a pair limits
/// only when none of its values is public. A test that a request without the key meets
/// (`met_when_absent`) limits nothing: every key here is missing from some requests (no
/// `aws:PrincipalOrgID` outside an organization or for anonymous callers, no `aws:SourceVpce`
/// outside a VPC endpoint, no `aws:SourceIp` through one).
pub fn limiting(conditions: &Conditions) -> Limiting {
    let mut unknown = false;
    for (op, keys) in conditions {
        if !is_positive_operator(op) || met_when_absent(op) {
            continue;
        }
        for (key, values) in keys {
            let Some(class) = key_class(key) else {
                continue;
            };
            if values.iter().any(|v| is_unknown(v)) {
                unknown = true;
            } else if !values.is_empty() && !values.iter().any(|v| is_public_value(class, v)) {
                return Limiting::Yes;
            }
        }
    }
    if unknown {
        Limiting::Unknown
    } else {
        Limiting::No
    }
}

/// True when the conditions restrict the statement to specific principals, sources or networks
/// (positive operators on limiting keys, with non-public values). A condition whose only
/// limiting value is unknown until apply is not proven limiting: false.
pub fn is_limiting(conditions: &Conditions) -> bool {
    limiting(conditions) == Limiting::Yes
}

/// The limiting keys that really limit (sorted), for evidence.
pub fn limiting_keys(conditions: &Conditions) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    for (op, keys) in conditions {
        if !is_positive_operator(op) || met_when_absent(op) {
            continue;
        }
        for (key, values) in keys {
            if let Some(class) = key_class(key)
                && !values.is_empty()
                && !values
                    .iter()
                    .any(|v| is_unknown(v) || is_public_value(class, v))
            {
                out.insert(key.as_str());
            }
        }
    }
    out
}

/// True when any operator tests `key` (case-insensitive).
pub fn has_key(conditions: &Conditions, key: &str) -> bool {
    conditions
        .values()
        .any(|keys| keys.keys().any(|k| k.eq_ignore_ascii_case(key)))
}

/// Every (operator, value) tested against `key` (case-insensitive).
pub fn values<'a>(
    conditions: &'a Conditions,
    key: &'a str,
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    conditions.iter().flat_map(move |(op, keys)| {
        keys.iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .flat_map(move |(_, vs)| vs.iter().map(move |v| (op.as_str(), v.as_str())))
    })
}

/// The (operator, value) pairs tested against `key` with a positive operator: what the key is
/// required to be. Negated operators (`StringNotEquals`, ...) are left out.
pub fn positive_values<'a>(
    conditions: &'a Conditions,
    key: &'a str,
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    values(conditions, key).filter(|(op, _)| is_positive_operator(op))
}

/// `StringLike` matching: `*` matches any run of characters, `?` any one character; no other
/// special characters. With `ignore_case`, ASCII letters compare case-insensitively (as IAM
/// compares action names).
pub fn like_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let eq = |a: u8, b: u8| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == b'?' || eq(c, t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// True when the text holds a `StringLike` wildcard.
pub fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// Every condition key, sorted.
pub fn keys(conditions: &Conditions) -> BTreeSet<&str> {
    conditions
        .values()
        .flat_map(|keys| keys.keys().map(String::as_str))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::engine::iam::normalize::parse_document;

    /// The conditions of the single statement of a policy whose Condition is `condition`.
    fn conds(condition: serde_json::Value) -> Conditions {
        let doc = parse_document(&json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": "arn:aws:s3:::b/*", "Condition": condition}]
        }));
        let policy = doc.known().expect("a valid policy").clone();
        assert!(policy.problems.is_empty(), "{:?}", policy.problems);
        policy.statements[0].condition.clone()
    }

    #[test]
    fn positive_operators_match_in_any_case_with_prefix_and_suffix() {
        for op in [
            "StringEquals",
            "stringequals",
            "STRINGLIKE",
            "ArnLike",
            "ArnEqualsIfExists",
            "IpAddress",
            "ForAnyValue:StringLike",
            "ForAllValues:StringEquals",
            "foranyvalue:stringequalsifexists",
            "StringEqualsIgnoreCase",
        ] {
            assert!(is_positive_operator(op), "{op} should be positive");
        }
        for op in [
            "StringNotEquals",
            "StringNotLike",
            "ArnNotLike",
            "NotIpAddress",
            "Null",
            "Bool",
            "ForAnyValue:StringNotEquals",
            "NumericEquals",
            "StringEqualsX",
        ] {
            assert!(!is_positive_operator(op), "{op} should not be positive");
        }
    }

    #[test]
    fn org_id_condition_limits_but_org_wildcard_does_not() {
        assert!(is_limiting(&conds(
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})
        )));
        assert!(!is_limiting(&conds(
            json!({"StringLike": {"aws:PrincipalOrgID": "o-*"}})
        )));
        assert!(!is_limiting(&conds(
            json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-*/r-ab12/*"}})
        )));
    }

    #[test]
    fn variants_of_operators_limit() {
        assert!(is_limiting(&conds(
            json!({"ForAnyValue:StringEquals": {"aws:SourceVpce": "vpce-1"}})
        )));
        assert!(is_limiting(&conds(
            json!({"stringequals": {"AWS:SourceAccount": "111122223333"}})
        )));
        assert!(is_limiting(&conds(
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:t"}})
        )));
    }

    #[test]
    fn tests_met_without_the_key_do_not_limit() {
        // IAM User Guide, "IAM JSON policy elements: Condition operators", "...IfExists
        // condition operators": "If the key is not present, evaluate the condition element as
        // true". No aws:SourceVpce outside a VPC endpoint, no aws:PrincipalOrgID for an anonymous
        // caller or one outside any organization.
        for c in [
            json!({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}),
            json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
            json!({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:t"}}),
            // "Set operators for multivalued context keys": ForAllValues is true when the
            // request has no value for the key.
            json!({"ForAllValues:StringEquals": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/*"}}),
        ] {
            let c = conds(c);
            assert_eq!(limiting(&c), Limiting::No, "{c:?}");
            assert!(limiting_keys(&c).is_empty(), "{c:?}");
        }
        assert!(met_when_absent("StringEqualsIfExists"));
        assert!(met_when_absent("forallvalues:stringlike"));
        assert!(!met_when_absent("ForAnyValue:StringEquals"));
        assert!(!met_when_absent("StringEquals"));
    }

    #[test]
    fn negated_operators_and_weak_keys_do_not_limit() {
        assert!(!is_limiting(&conds(
            json!({"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}})
        )));
        assert!(!is_limiting(&conds(
            json!({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})
        )));
        assert!(!is_limiting(&conds(
            json!({"Bool": {"aws:SecureTransport": "true"}})
        )));
        assert!(!is_limiting(&Conditions::new()));
    }

    #[test]
    fn public_values_do_not_limit() {
        assert!(!is_limiting(&conds(
            json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})
        )));
        assert!(is_limiting(&conds(
            json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
        )));
        // One public value among several makes the key public: values are OR-ed.
        assert!(!is_limiting(&conds(
            json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::/0"]}})
        )));
        assert!(!is_limiting(&conds(
            json!({"StringEquals": {"aws:SourceAccount": "*"}})
        )));
        assert!(!is_limiting(&conds(
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}})
        )));
        assert!(is_limiting(&conds(
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/*"}})
        )));
        // A second, limiting key still limits: keys are AND-ed.
        assert!(is_limiting(&conds(
            json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"},
                                            "StringEquals": {"aws:SourceAccount": "111122223333"}})
        )));
    }

    #[test]
    fn userid_wildcard_only_at_the_end() {
        assert!(is_limiting(&conds(
            json!({"StringLike": {"aws:userid": "AROAEXAMPLE:*"}})
        )));
        assert!(is_limiting(&conds(
            json!({"StringLike": {"aws:userid": "AIDAEXAMPLE"}})
        )));
        assert!(!is_limiting(&conds(
            json!({"StringLike": {"aws:userid": "*:alice"}})
        )));
        assert!(!is_limiting(&conds(
            json!({"StringLike": {"aws:userid": "AROA*:*"}})
        )));
    }

    #[test]
    fn unknown_values_are_neither_limiting_nor_public() {
        let c = conds(json!({"StringEquals": {"aws:SourceVpce": crate::engine::preview::UNKNOWN}}));
        assert_eq!(limiting(&c), Limiting::Unknown);
        assert!(!is_limiting(&c));
        let c = conds(
            json!({"StringEquals": {"aws:SourceVpce": "vpce-1", "aws:SourceArn": crate::engine::preview::UNKNOWN}}),
        );
        assert_eq!(limiting(&c), Limiting::Yes);
        assert_eq!(
            limiting_keys(&c).into_iter().collect::<Vec<_>>(),
            vec!["aws:sourcevpce"]
        );
    }

    #[test]
    fn public_arns() {
        assert!(is_public_arn("*"));
        assert!(is_public_arn("arn:aws:iam::*:root"));
        assert!(!is_public_arn("arn:aws:iam::111122223333:root"));
        assert!(!is_public_arn("arn:aws:s3:::*"));
        assert!(!is_public_arn("111122223333"));
        assert!(is_public_arn("arn:*"));
    }

    #[test]
    fn key_and_value_helpers() {
        let c = conds(json!({
            "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"},
            "StringNotEquals": {"token.actions.githubusercontent.com:sub": "repo:acme/bad:*"},
            "StringEquals": {"Token.Actions.GithubUserContent.com:aud": "sts.amazonaws.com"}
        }));
        assert!(has_key(&c, "token.actions.githubusercontent.com:aud"));
        assert!(has_key(&c, "TOKEN.actions.githubusercontent.com:SUB"));
        assert!(!has_key(&c, "sts:externalid"));
        let all: Vec<_> = values(&c, "token.actions.githubusercontent.com:sub").collect();
        assert_eq!(all.len(), 2);
        let pos: Vec<_> = positive_values(&c, "token.actions.githubusercontent.com:sub").collect();
        assert_eq!(pos, vec![("StringLike", "repo:acme/*")]);
        assert_eq!(keys(&c).len(), 2);
    }

    #[test]
    fn like_matching() {
        assert!(like_match(
            "sts:AssumeRole*",
            "sts:AssumeRoleWithSAML",
            false
        ));
        assert!(!like_match(
            "sts:AssumeRole*",
            "STS:assumerolewithsaml",
            false
        ));
        assert!(like_match(
            "sts:AssumeRole*",
            "STS:assumerolewithsaml",
            true
        ));
        assert!(like_match("*", "", false));
        assert!(like_match("a?c", "abc", false));
        assert!(!like_match("a?c", "ac", false));
        assert!(like_match(
            "repo:acme/*:ref:*",
            "repo:acme/app:ref:refs/heads/main",
            false
        ));
        assert!(!like_match("repo:acme/*", "repo:other/app", false));
        assert!(like_match("*a*b", "xxaxxab", false));
        assert!(!like_match("*a*b", "xxaxxa", false));
        assert!(
            has_wildcard("repo:acme/*") && has_wildcard("a?") && !has_wildcard("repo:acme/app")
        );
    }
}
