//! Condition analysis shared by the rules: which conditions really limit who or what a statement
//! applies to (catalog §2.6, cloudsplaining's `resource_policy_document.py` logic), and small
//! read helpers over a statement's `Conditions`. Pure; it never decides a rule's severity.
//!
//! A value unknown until apply is never taken as limiting nor as public: `limiting` says
//! `Unknown` and the rules leave the judgement to the `unknown-value` findings.

use std::collections::BTreeSet;

use crate::calendar::days_from_civil;
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

/// Whether a request in which the single-valued `key` is `value` meets every test of the
/// conditions on `key` (other keys are not looked at): the values of one test combine with OR,
/// a negated operator (`StringNotEquals`, `StringNotLike`) is met when no value matches. Only
/// string operators decide; a test with any other operator (`Null`, `Bool`, `Arn...`) counts as
/// met, and so does a value unknown until apply (it may be this one). The set prefixes and
/// `IfExists` change nothing for a key present in the request. IAM User Guide, "IAM JSON policy
/// elements: Condition operators", "String condition operators".
pub fn admits(conditions: &Conditions, key: &str, value: &str) -> bool {
    conditions.iter().all(|(op, keys)| {
        keys.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .all(|(_, values)| string_test_admits(op, values, value))
    })
}

fn string_test_admits(op: &str, values: &BTreeSet<String>, value: &str) -> bool {
    let base = base_operator(op);
    let (negated, positive) = match base.strip_prefix("stringnot") {
        Some(rest) => (true, format!("string{rest}")),
        None => (false, base),
    };
    let ignore_case = positive.ends_with("ignorecase");
    let like = positive.starts_with("stringlike");
    if !like && !positive.starts_with("stringequals") {
        return true;
    }
    let matches = |v: &String| {
        if like {
            like_match(v, value, ignore_case)
        } else if ignore_case {
            v.eq_ignore_ascii_case(value)
        } else {
            v == value
        }
    };
    if negated {
        !values.iter().any(|v| !is_unknown(v) && matches(v))
    } else {
        values.iter().any(|v| is_unknown(v) || matches(v))
    }
}

/// The longest any temporary credentials live: 36 hours (`GetSessionToken` and
/// `GetFederationToken`; role sessions last at most 12 hours). IAM User Guide, "Compare AWS STS
/// credentials"; AWS STS API Reference, `GetSessionToken` `DurationSeconds` (at most 129,600).
pub const MAX_SESSION_SECONDS: i64 = 36 * 3600;

/// True when a date test of the conditions can no longer be met at any time from `now` on
/// (seconds since the Unix epoch), so the statement grants nothing: `DateLessThan` or
/// `DateLessThanEquals` with every value before
/// * `now` on `aws:CurrentTime` or `aws:EpochTime` (the window has closed);
/// * `now − MAX_SESSION_SECONDS` on `aws:TokenIssueTime`: every token issued before that has
///   expired, and long-term keys carry no `aws:TokenIssueTime`, for which a `Date` test is false.
///
/// `...IfExists` and `ForAllValues:` tests are met without the key (long-term keys) and never
/// close; an unknown or unreadable value does not either. IAM User Guide, "AWS global condition
/// context keys" (`aws:CurrentTime`, `aws:EpochTime`, `aws:TokenIssueTime`: "only in requests
/// that are signed using temporary security credentials"); "IAM JSON policy elements: Condition
/// operators", "Date condition operators".
pub fn never_met(conditions: &Conditions, now: i64) -> bool {
    conditions.iter().any(|(op, keys)| {
        let base = base_operator(op);
        if met_when_absent(op) || !matches!(base.as_str(), "datelessthan" | "datelessthanequals") {
            return false;
        }
        keys.iter().any(|(key, values)| {
            let cutoff = match key.to_ascii_lowercase().as_str() {
                "aws:currenttime" | "aws:epochtime" => now,
                "aws:tokenissuetime" => now - MAX_SESSION_SECONDS,
                _ => return false,
            };
            !values.is_empty()
                && values
                    .iter()
                    .all(|v| parse_date(v).is_some_and(|t| t < cutoff))
        })
    })
}

/// A condition date as seconds since the Unix epoch: an integer (epoch seconds), or ISO 8601
/// `YYYY-MM-DD` with an optional `Thh:mm[:ss[.fff]]` and zone (`Z`, `±hh:mm`, `±hhmm`; none is
/// UTC). None for anything else, which no rule then reads.
pub fn parse_date(text: &str) -> Option<i64> {
    let text = text.trim();
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if let Some(epoch) = num(text) {
        return Some(epoch);
    }
    let (date, time) = match text.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let (year, month, day) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) * 86_400;
    if let Some(time) = time {
        let (clock, zone) = time.split_at(time.find(['Z', 'z', '+', '-']).unwrap_or(time.len()));
        let mut fields = clock.splitn(3, ':');
        let (hours, minutes) = (num(fields.next()?)?, num(fields.next()?)?);
        let secs = match fields.next() {
            Some(s) => num(s.split('.').next()?)?,
            None => 0,
        };
        if hours > 23 || minutes > 59 || secs > 60 {
            return None;
        }
        seconds += hours * 3600 + minutes * 60 + secs;
        match zone.chars().next() {
            None | Some('Z' | 'z') if zone.len() <= 1 => {}
            Some(sign @ ('+' | '-')) => {
                let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
                if digits.len() != 4 {
                    return None;
                }
                let shift = num(&digits[..2])? * 3600 + num(&digits[2..])? * 60;
                seconds += if sign == '+' { -shift } else { shift };
            }
            _ => return None,
        }
    }
    Some(seconds)
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

/// The text with each `${...}` variable as `*`: a policy variable (`${aws:username}`) or an ARN
/// template's placeholder (`${InstanceId}`) may be anything. An unclosed `${` is kept as text.
pub fn variables_as_wildcards(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push('*');
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
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
    fn admits_reads_string_tests_on_one_key() {
        // IAM User Guide, "IAM and AWS STS condition context keys", iam:PassedToService: the
        // service principal a role is passed to; "Condition operators", "String condition
        // operators" (StringLike: `*` and `?`; values of one key OR-ed; negated operators).
        let pts = "iam:passedtoservice";
        let equals = conds(
            json!({"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}),
        );
        assert!(admits(&equals, pts, "ec2.amazonaws.com"));
        assert!(admits(&equals, pts, "ec2.amazonaws.com.cn"));
        assert!(!admits(&equals, pts, "lambda.amazonaws.com"));
        assert!(
            !admits(&equals, pts, "EC2.amazonaws.com"),
            "StringEquals is case-sensitive"
        );
        let like = conds(json!({"StringLike": {"iam:PassedToService": "ec2.amazonaws.co?"}}));
        assert!(admits(&like, pts, "ec2.amazonaws.com"));
        assert!(!admits(&like, pts, "ec2.amazonaws.com.cn"));
        assert!(admits(
            &conds(json!({"StringLike": {"iam:PassedToService": "*"}})),
            pts,
            "x"
        ));
        let any = conds(
            json!({"ForAnyValue:StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
        );
        assert!(admits(&any, pts, "ecs-tasks.amazonaws.com"));
        assert!(!admits(&any, pts, "ec2.amazonaws.com"));
        let ignore_case =
            conds(json!({"StringEqualsIgnoreCase": {"iam:PassedToService": "EC2.AMAZONAWS.COM"}}));
        assert!(admits(&ignore_case, pts, "ec2.amazonaws.com"));
        let not =
            conds(json!({"StringNotEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}));
        assert!(admits(&not, pts, "ec2.amazonaws.com"));
        assert!(!admits(&not, pts, "lambda.amazonaws.com"));
        // Tests on one key AND together; other keys and operators are not read.
        let both = conds(json!({
            "StringLike": {"iam:PassedToService": "*.amazonaws.com"},
            "StringNotLike": {"iam:PassedToService": "lambda.*"},
            "Bool": {"aws:SecureTransport": "true"}
        }));
        assert!(admits(&both, pts, "ec2.amazonaws.com"));
        assert!(!admits(&both, pts, "lambda.amazonaws.com"));
        assert!(admits(&Conditions::new(), pts, "anything"));
        // A value unknown until apply may be this one.
        let unknown = conds(
            json!({"StringEquals": {"iam:PassedToService": crate::engine::preview::UNKNOWN}}),
        );
        assert!(admits(&unknown, pts, "ec2.amazonaws.com"));
    }

    #[test]
    fn dates_parse_in_the_formats_iam_accepts() {
        // IAM User Guide, "Condition operators", "Date condition operators": W3C ISO 8601
        // dates or epoch (UNIX) time.
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("2020-01-01T00:00:01Z"), Some(1_577_836_801));
        assert_eq!(parse_date("2020-01-01"), Some(1_577_836_800));
        assert_eq!(parse_date("2020-01-01T01:00:00+01:00"), Some(1_577_836_800));
        assert_eq!(parse_date("2019-12-31T23:00:00-01:00"), Some(1_577_836_800));
        assert_eq!(parse_date("2020-01-01T01:00+0100"), Some(1_577_836_800));
        assert_eq!(parse_date("2020-01-01T00:00:00"), Some(1_577_836_800));
        assert_eq!(parse_date("2020-01-01T00:00:00.123Z"), Some(1_577_836_800));
        assert_eq!(parse_date("1577836800"), Some(1_577_836_800));
        assert_eq!(parse_date("2026-04-01"), Some(1_775_001_600));
        for bad in [
            "",
            "yesterday",
            "2020-13-01",
            "2020-01-01T25:00:00Z",
            "2020-01-01T00:00:00Q",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn date_windows_that_closed_are_never_met() {
        // IAM User Guide, "AWS global condition context keys", aws:TokenIssueTime: only in
        // requests signed with temporary credentials, which live at most 36 hours
        // (GetSessionToken); aws:CurrentTime. The iam-vulnerable lab's
        // fp5-NonExploitableConditionConstraint: DateLessThan aws:TokenIssueTime 2020-01-01.
        let now = parse_date("2026-04-01").expect("a date");
        let fp5 = conds(json!({"DateLessThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}));
        assert!(never_met(&fp5, now));
        // A token issued a day ago is still alive: not closed.
        let recent = conds(json!({"DateLessThan": {"aws:TokenIssueTime": "2026-03-31T00:00:00Z"}}));
        assert!(!never_met(&recent, now));
        let old_enough =
            conds(json!({"DateLessThan": {"aws:TokenIssueTime": "2026-03-30T00:00:00Z"}}));
        assert!(never_met(&old_enough, now));
        // IfExists: long-term keys carry no aws:TokenIssueTime and meet it.
        let if_exists =
            conds(json!({"DateLessThanIfExists": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}));
        assert!(!never_met(&if_exists, now));
        // After a date: every new token meets it.
        let after =
            conds(json!({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}}));
        assert!(!never_met(&after, now));
        let expired = conds(json!({"DateLessThan": {"aws:CurrentTime": "2025-12-31T23:59:59Z"}}));
        assert!(never_met(&expired, now));
        let open = conds(json!({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}));
        assert!(!never_met(&open, now));
        // One value still open keeps it open (values OR together); unreadable values too.
        let mixed = conds(
            json!({"DateLessThan": {"aws:CurrentTime": ["2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z"]}}),
        );
        assert!(!never_met(&mixed, now));
        let unreadable = conds(json!({"DateLessThan": {"aws:CurrentTime": "soon"}}));
        assert!(!never_met(&unreadable, now));
        assert!(!never_met(&Conditions::new(), now));
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
        assert_eq!(
            variables_as_wildcards(
                "arn:${Partition}:ec2:${Region}:${Account}:instance/${InstanceId}"
            ),
            "arn:*:ec2:*:*:instance/*"
        );
        assert_eq!(variables_as_wildcards("home/${aws:username}/x"), "home/*/x");
        assert_eq!(variables_as_wildcards("a${b"), "a${b");
    }
}
