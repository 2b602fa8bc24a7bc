//! Reading policy documents (a JSON string or an object, as providers store them) into the
//! canonical `Policy`, and writing the canonical form back as JSON for diffs and fingerprints.
//!
//! Canonical form: `Statement` always a list; every element a sorted, deduplicated set; action
//! names in the database's casing; `Sid` dropped; a bare account id principal as its root ARN;
//! condition keys lowercased and values as strings; statements that differ only in their actions
//! (or only in their resources) merged; statements sorted. Two spellings of the same policy have
//! the same canonical form. Structural problems are collected in `Policy::problems`; statements
//! that AWS would reject are dropped from the effective policy.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::actions::db;
use super::policy::{
    Conditions, Document, Effect, NameSpec, Policy, PrincipalSpec, Statement, UNKNOWN_TEXT,
};
use crate::engine::preview::{Marker, classify};

const VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];
const DEFAULT_VERSION: &str = "2008-10-17";

/// Reads a policy-bearing property value: a JSON string holding the document, or the document
/// itself; secret and unknown values are kept opaque.
pub fn parse_document(value: &Value) -> Document {
    match classify(value) {
        Marker::Secret => return Document::Secret,
        Marker::Unknown => return Document::Unknown,
        Marker::Known => {}
    }
    match value {
        Value::String(text) => parse_text(text),
        Value::Object(map) => parse_object(map),
        other => Document::Malformed(format!(
            "expected a policy document (a JSON object or a JSON string), found {}",
            kind_of(other)
        )),
    }
}

/// Reads a policy document from its JSON text.
pub fn parse_text(text: &str) -> Document {
    if text.trim().is_empty() {
        return Document::Malformed("the policy document is empty".to_owned());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => parse_object(&map),
        Ok(other) => Document::Malformed(format!(
            "expected a JSON object as policy document, found {}",
            kind_of(&other)
        )),
        // Valid JSON, but deeper than serde_json reads; IAM's policy grammar is a few levels deep.
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => Document::Malformed(
            "the policy nests deeper than the 128 levels iamgate reads (no valid policy does)"
                .to_owned(),
        ),
        Err(e) => Document::Malformed(format!("the policy is not valid JSON: {e}")),
    }
}

fn parse_object(map: &Map<String, Value>) -> Document {
    let mut problems = Vec::new();
    for key in map.keys() {
        if !matches!(key.as_str(), "Version" | "Statement" | "Id") {
            problems.push(format!("unknown top-level element `{key}`"));
        }
    }
    let version = match map.get("Version") {
        None => DEFAULT_VERSION.to_owned(),
        Some(Value::String(v)) if VERSIONS.contains(&v.as_str()) => v.clone(),
        Some(other) => {
            problems.push(format!("invalid Version {other}: use \"2012-10-17\""));
            DEFAULT_VERSION.to_owned()
        }
    };
    let raw_statements: Vec<&Value> = match map.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        Some(other) => {
            return Document::Malformed(format!(
                "Statement must be an object or a list of objects, found {}",
                kind_of(other)
            ));
        }
        None => return Document::Malformed("the policy has no Statement".to_owned()),
    };
    let mut statements = Vec::with_capacity(raw_statements.len());
    for (i, raw) in raw_statements.into_iter().enumerate() {
        match parse_statement(raw) {
            Ok(s) => statements.push(s),
            Err(reason) => {
                // A broken Deny is a guardrail that silently stops working: say so.
                let deny = raw.get("Effect").and_then(Value::as_str) == Some("Deny");
                let what = if deny { " (Deny statement)" } else { "" };
                problems.push(format!("Statement[{i}]{what}: {reason}"));
            }
        }
    }
    Document::Known(Arc::new(Policy {
        version,
        statements: canonical_statements(statements),
        problems,
    }))
}

fn parse_statement(raw: &Value) -> Result<Statement, String> {
    let Value::Object(map) = raw else {
        return Err(format!("expected an object, found {}", kind_of(raw)));
    };
    for key in map.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        ) {
            return Err(format!("unknown element `{key}`"));
        }
    }
    if let Some(sid) = map.get("Sid").filter(|sid| !sid.is_string()) {
        return Err(format!("Sid must be a string, found {}", kind_of(sid)));
    }
    let effect = match map.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(format!(
                "Effect must be \"Allow\" or \"Deny\", found {other}"
            ));
        }
        None => return Err("missing Effect".to_owned()),
    };
    let action = match (map.get("Action"), map.get("NotAction")) {
        (Some(a), None) => NameSpec::Only(actions(a, "Action")?),
        (None, Some(a)) => NameSpec::Not(actions(a, "NotAction")?),
        (Some(_), Some(_)) => return Err("has both Action and NotAction".to_owned()),
        (None, None) => return Err("has neither Action nor NotAction".to_owned()),
    };
    let resource = match (map.get("Resource"), map.get("NotResource")) {
        (Some(r), None) => Some(NameSpec::Only(strings(r, "Resource")?)),
        (None, Some(r)) => Some(NameSpec::Not(strings(r, "NotResource")?)),
        (Some(_), Some(_)) => return Err("has both Resource and NotResource".to_owned()),
        (None, None) => None,
    };
    let principal = match (map.get("Principal"), map.get("NotPrincipal")) {
        (Some(p), None) => Some(principals(p, false)?),
        (None, Some(p)) => Some(principals(p, true)?),
        (Some(_), Some(_)) => return Err("has both Principal and NotPrincipal".to_owned()),
        (None, None) => None,
    };
    let condition = match map.get("Condition") {
        Some(c) => conditions(c)?,
        None => Conditions::new(),
    };
    Ok(Statement {
        effect,
        principal,
        action,
        resource,
        condition,
    })
}

fn actions(value: &Value, element: &str) -> Result<BTreeSet<String>, String> {
    let db = db();
    strings_as(value, element, |s| db.canonical(text_ref(s)))
}

/// A string or a non-empty list of strings.
fn strings(value: &Value, element: &str) -> Result<BTreeSet<String>, String> {
    strings_as(value, element, text)
}

/// A string or a non-empty list of strings, each mapped by `each` (given the raw text).
fn strings_as(
    value: &Value,
    element: &str,
    each: impl Fn(&str) -> String,
) -> Result<BTreeSet<String>, String> {
    let set: BTreeSet<String> = match value {
        Value::String(s) => std::iter::once(each(s)).collect(),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(each(s)),
                other => Err(format!(
                    "{element} entries must be strings, found {}",
                    kind_of(other)
                )),
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(format!(
                "{element} must be a string or a list of strings, found {}",
                kind_of(other)
            ));
        }
    };
    if set.is_empty() {
        return Err(format!("{element} is an empty list"));
    }
    Ok(set)
}

/// A string value as canonical text: the unknown sentinel becomes `UNKNOWN_TEXT`.
fn text(s: &str) -> String {
    text_ref(s).to_owned()
}

/// `text` without the copy.
fn text_ref(s: &str) -> &str {
    if s == crate::engine::preview::UNKNOWN {
        UNKNOWN_TEXT
    } else {
        s
    }
}

fn principals(value: &Value, negated: bool) -> Result<PrincipalSpec, String> {
    let element = if negated { "NotPrincipal" } else { "Principal" };
    let mut entries: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    match value {
        Value::String(s) if s == "*" => {
            entries.insert("AWS".to_owned(), std::iter::once("*".to_owned()).collect());
        }
        Value::Object(map) => {
            for (kind, v) in map {
                if !matches!(
                    kind.as_str(),
                    "AWS" | "Service" | "Federated" | "CanonicalUser"
                ) {
                    return Err(format!("{element} has an unknown kind `{kind}`"));
                }
                let values = strings(v, element)?;
                let values = if kind == "AWS" {
                    values.into_iter().map(account_root).collect()
                } else {
                    values
                };
                entries.entry(kind.clone()).or_default().extend(values);
            }
            if entries.is_empty() {
                return Err(format!("{element} is empty"));
            }
        }
        other => {
            return Err(format!(
                "{element} must be \"*\" or an object, found {}",
                kind_of(other)
            ));
        }
    }
    Ok(PrincipalSpec { negated, entries })
}

/// IAM stores a bare account id principal as the account's root ARN.
fn account_root(value: String) -> String {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        format!("arn:aws:iam::{value}:root")
    } else {
        value
    }
}

fn conditions(value: &Value) -> Result<Conditions, String> {
    let Value::Object(ops) = value else {
        return Err(format!(
            "Condition must be an object, found {}",
            kind_of(value)
        ));
    };
    let mut out = Conditions::new();
    for (op, keys) in ops {
        let Value::Object(keys) = keys else {
            return Err(format!(
                "Condition operator `{op}` must map keys to values, found {}",
                kind_of(keys)
            ));
        };
        let entry = out.entry(op.clone()).or_default();
        for (key, v) in keys {
            let values: BTreeSet<String> = match v {
                Value::Array(items) => items
                    .iter()
                    .map(condition_value)
                    .collect::<Result<_, _>>()?,
                other => std::iter::once(condition_value(other)?).collect(),
            };
            entry
                .entry(key.to_ascii_lowercase())
                .or_default()
                .extend(values);
        }
        if entry.is_empty() {
            out.remove(op);
        }
    }
    Ok(out)
}

fn condition_value(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(text(s)),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "condition values must be strings, numbers or booleans, found {}",
            kind_of(other)
        )),
    }
}

/// Merges statements that differ only in their (positive) actions, then those that differ only
/// in their (positive) resources; sorts and deduplicates.
pub fn canonical_statements(statements: Vec<Statement>) -> Vec<Statement> {
    // One statement is canonical already (nothing to merge, sort or deduplicate).
    if statements.len() < 2 {
        return statements;
    }
    // Merging only regroups statements that share a key. When no two do (the common case: a
    // few statements, all different), the result is the statements sorted and deduplicated;
    // checking that compares in place instead of building a cloned key per statement.
    if statements.len() <= FEW_STATEMENTS && !any_merge(&statements) {
        let mut statements = statements;
        statements.sort();
        statements.dedup();
        return statements;
    }
    let merged = merge(
        statements,
        |s| matches!(s.action, NameSpec::Only(_)),
        |into, from| {
            if let (NameSpec::Only(a), NameSpec::Only(b)) = (&mut into.action, from.action) {
                a.extend(b);
            }
        },
        |s| Statement {
            effect: s.effect,
            principal: s.principal.clone(),
            action: NameSpec::Only(BTreeSet::new()),
            resource: s.resource.clone(),
            condition: s.condition.clone(),
        },
    );
    let mut merged = merge(
        merged,
        |s| matches!(s.resource, Some(NameSpec::Only(_))),
        |into, from| {
            if let (Some(NameSpec::Only(a)), Some(NameSpec::Only(b))) =
                (&mut into.resource, from.resource)
            {
                a.extend(b);
            }
        },
        |s| Statement {
            effect: s.effect,
            principal: s.principal.clone(),
            action: s.action.clone(),
            resource: Some(NameSpec::Only(BTreeSet::new())),
            condition: s.condition.clone(),
        },
    );
    merged.sort();
    merged.dedup();
    merged
}

/// Up to this many statements, `any_merge` (quadratic, but without allocation) decides.
const FEW_STATEMENTS: usize = 16;

/// Whether either merge pass of `canonical_statements` would combine two statements: two
/// positive-action statements equal but for their actions, or two positive-resource statements
/// equal but for their resources. (When the first pass merges nothing, the second sees the same
/// statements.)
fn any_merge(statements: &[Statement]) -> bool {
    let same_but_action = |a: &Statement, b: &Statement| {
        matches!(a.action, NameSpec::Only(_))
            && matches!(b.action, NameSpec::Only(_))
            && a.effect == b.effect
            && a.principal == b.principal
            && a.resource == b.resource
            && a.condition == b.condition
    };
    let same_but_resource = |a: &Statement, b: &Statement| {
        matches!(a.resource, Some(NameSpec::Only(_)))
            && matches!(b.resource, Some(NameSpec::Only(_)))
            && a.effect == b.effect
            && a.principal == b.principal
            && a.action == b.action
            && a.condition == b.condition
    };
    statements.iter().enumerate().any(|(i, a)| {
        statements[i + 1..]
            .iter()
            .any(|b| same_but_action(a, b) || same_but_resource(a, b))
    })
}

fn merge(
    statements: Vec<Statement>,
    mergeable: impl Fn(&Statement) -> bool,
    absorb: impl Fn(&mut Statement, Statement),
    key: impl Fn(&Statement) -> Statement,
) -> Vec<Statement> {
    let mut groups: BTreeMap<Statement, Statement> = BTreeMap::new();
    let mut rest = Vec::new();
    for s in statements {
        if !mergeable(&s) {
            rest.push(s);
            continue;
        }
        match groups.entry(key(&s)) {
            std::collections::btree_map::Entry::Occupied(mut e) => absorb(e.get_mut(), s),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(s);
            }
        }
    }
    rest.extend(groups.into_values());
    rest
}

/// The canonical JSON of a policy: keys sorted, every element a list.
pub fn to_json(policy: &Policy) -> Value {
    let statements: Vec<Value> = policy.statements.iter().map(statement_json).collect();
    json!({ "Version": policy.version, "Statement": statements })
}

fn statement_json(s: &Statement) -> Value {
    let mut m = Map::new();
    m.insert("Effect".into(), Value::from(s.effect.as_str()));
    let (key, names) = match &s.action {
        NameSpec::Only(n) => ("Action", n),
        NameSpec::Not(n) => ("NotAction", n),
    };
    m.insert(key.into(), list(names));
    if let Some(r) = &s.resource {
        let (key, names) = match r {
            NameSpec::Only(n) => ("Resource", n),
            NameSpec::Not(n) => ("NotResource", n),
        };
        m.insert(key.into(), list(names));
    }
    if let Some(p) = &s.principal {
        let key = if p.negated {
            "NotPrincipal"
        } else {
            "Principal"
        };
        let obj: Map<String, Value> = p
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), list(v)))
            .collect();
        m.insert(key.into(), Value::Object(obj));
    }
    if !s.condition.is_empty() {
        let obj: Map<String, Value> = s
            .condition
            .iter()
            .map(|(op, keys)| {
                let inner: Map<String, Value> =
                    keys.iter().map(|(k, v)| (k.clone(), list(v))).collect();
                (op.clone(), Value::Object(inner))
            })
            .collect();
        m.insert("Condition".into(), Value::Object(obj));
    }
    Value::Object(m)
}

fn list(names: &BTreeSet<String>) -> Value {
    Value::Array(names.iter().map(|n| Value::from(n.as_str())).collect())
}

/// The canonical JSON of a document, as shown in diffs.
pub fn document_json(doc: &Document) -> Value {
    match doc {
        Document::Known(p) => to_json(p),
        Document::Unknown => Value::from(UNKNOWN_TEXT),
        Document::Secret => Value::from("<secret>"),
        Document::Malformed(reason) => json!({ "<malformed>": reason }),
    }
}

/// How messages name the kind of a JSON value (`a list`, `a number`, ...).
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn known(v: Value) -> Policy {
        match parse_document(&v) {
            Document::Known(p) => Policy::clone(&p),
            other => panic!("expected a known policy, got {other:?}"),
        }
    }

    #[test]
    fn a_json_string_and_an_object_are_the_same_policy() {
        let obj = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
        assert_eq!(known(Value::String(obj.to_string())), known(obj));
    }

    #[test]
    fn spelling_does_not_matter() {
        let a = known(json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "One", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}
        ]}));
        let b = known(
            json!({"Statement": {"Effect": "Allow", "Action": ["S3:getobject", "s3:putobject", "s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}, "Version": "2012-10-17"}),
        );
        let c = known(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Sid": "Two", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}
        ]}));
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(
            to_json(&a)["Statement"][0]["Action"],
            json!(["s3:GetObject", "s3:PutObject"])
        );
    }

    #[test]
    fn statements_differing_only_in_resources_merge_but_not_across_effects() {
        let p = known(json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::a/*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::c/*"}
        ]}));
        assert_eq!(p.statements.len(), 2);
    }

    #[test]
    fn not_action_statements_are_never_merged() {
        // Allow NotAction A + Allow NotAction B = all but (A ∩ B): not a union of the lists.
        let p = known(json!({"Statement": [
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}
        ]}));
        assert_eq!(p.statements.len(), 2);
    }

    #[test]
    fn principals_are_normalized() {
        let star = known(
            json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}),
        );
        let aws_star = known(
            json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}),
        );
        assert_eq!(star, aws_star);
        let bare = known(
            json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}]}),
        );
        let root = known(
            json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]}, "Action": "sts:AssumeRole"}]}),
        );
        assert_eq!(bare, root);
    }

    #[test]
    fn condition_keys_are_case_insensitive_and_values_strings() {
        let a = known(
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": true}}}]}),
        );
        let b = known(
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"Bool": {"AWS:SecureTransport": ["true"]}}}]}),
        );
        assert_eq!(a, b);
        let c = known(
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": false}}}]}),
        );
        assert_ne!(a, c);
    }

    #[test]
    fn a_missing_version_is_the_2008_default() {
        let a = known(
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
        );
        let b = known(
            json!({"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
        );
        assert_eq!(a, b);
        let c = known(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
        );
        assert_ne!(a, c, "the version changes how policy variables are read");
    }

    #[test]
    fn opaque_values_stay_opaque() {
        assert_eq!(
            parse_document(&json!(crate::engine::preview::UNKNOWN)),
            Document::Unknown
        );
        assert_eq!(parse_document(&json!("[secret]")), Document::Secret);
        let p = known(
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": crate::engine::preview::UNKNOWN}]}),
        );
        assert_eq!(
            to_json(&p)["Statement"][0]["Resource"],
            json!([UNKNOWN_TEXT])
        );
    }

    #[test]
    fn broken_documents_are_malformed_with_a_reason() {
        let cases = [
            (json!("{\"Statement\": ["), "not valid JSON"),
            (json!(""), "empty"),
            (json!(42), "found a number"),
            (json!("[1]"), "found a list"),
            (json!({"Version": "2012-10-17"}), "no Statement"),
            (json!({"Statement": "x"}), "found a string"),
            (
                json!(format!(
                    "{{\"Statement\": {}1{}}}",
                    "[".repeat(200),
                    "]".repeat(200)
                )),
                "nests deeper than the 128 levels",
            ),
        ];
        for (value, reason) in cases {
            match parse_document(&value) {
                Document::Malformed(r) => assert!(r.contains(reason), "{value}: {r}"),
                other => panic!("{value}: expected malformed, got {other:?}"),
            }
        }
    }

    #[test]
    fn statements_aws_rejects_are_dropped_and_reported() {
        let p = known(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:PutObject", "Resource": "*"},
            {"Effect": "allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Deny", "Resource": "*"},
            {"Effect": "Allow", "Action": [], "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Resources": "*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}
        ]}));
        assert_eq!(
            p.statements.len(),
            1,
            "only the valid statement is effective"
        );
        assert_eq!(p.problems.len(), 6, "{:?}", p.problems);
        assert!(p.problems[0].starts_with("Statement[0]: has both Action and NotAction"));
        assert!(p.problems[5].contains("unknown element `Resources`"));
    }

    #[test]
    fn canonical_json_is_a_fixed_point() {
        let p = known(json!({"Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}},
            {"Effect": "Deny", "NotAction": ["iam:*"], "NotResource": "arn:aws:s3:::x"}
        ]}));
        assert_eq!(known(to_json(&p)), p);
    }
}
