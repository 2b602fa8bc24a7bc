//! Steps of IAM-relevant types that no reader models (the table of `iam::unmodeled`): which ones
//! change something, and what they look like before and after, so that they are reported,
//! diffed and fingerprinted instead of passed over as "no IAM change". Their properties are
//! shown as the preview gives them (inputs, or the one policy input of the row), with unknown
//! and secret values made readable and Pulumi's bookkeeping keys removed; nothing is judged.

use serde_json::{Map, Value};

use super::raw;
use super::{CanonicalText, ResourceIam};
use crate::engine::iam::policy::UNKNOWN_TEXT;
use crate::engine::iam::unmodeled::{self, Unmodeled};
use crate::engine::preview::{Marker, Op, State, Step, classify, strip_defaults};

/// What a step does to a resource it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Creates, updates or replaces it: it exists after the change, as shown.
    Writes,
    /// Deletes it (or drops it from the stack).
    Removes,
}

/// A step that changes a resource of an IAM-relevant type iamgate does not model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnanalyzedStep {
    pub urn: String,
    pub type_: String,
    pub op: Op,
    /// The row of the table that covers the type.
    pub row: &'static Unmodeled,
    pub change: Change,
}

/// What a step changes, by its op, the same way extraction reads the modeled types: `same`,
/// `read` and `refresh` change nothing; an import brings a resource that already exists, as it
/// is, under the program (the preview fails when its inputs differ), so it changes nothing either.
fn change_of(op: &Op) -> Option<Change> {
    match op {
        Op::Same
        | Op::Read
        | Op::ReadReplacement
        | Op::Refresh
        | Op::Import
        | Op::ImportReplacement => None,
        op if op.has_after() => Some(Change::Writes),
        _ => Some(Change::Removes),
    }
}

/// The step and its resource entry, when the type is in the table and the step changes it (for
/// a row with a `property`: when that input is set, changed or removed).
pub(super) fn read(step: &Step<'_>) -> Option<(UnanalyzedStep, ResourceIam)> {
    let row = unmodeled::lookup(&step.type_)?;
    let change = change_of(&step.op)?;
    let view = |state: Option<&State<'_>>| state.and_then(|s| shown(s, row));
    let before = view(step.before());
    let after = view(step.after());
    if row.property.is_some() && before == after {
        return None;
    }
    let resource = ResourceIam {
        urn: step.urn.clone(),
        type_: step.type_.clone(),
        op: step.op.clone(),
        before: before.as_ref().map(CanonicalText::of),
        after: after.as_ref().map(CanonicalText::of),
        changed: true,
    };
    let step = UnanalyzedStep {
        urn: step.urn.clone(),
        type_: step.type_.clone(),
        op: step.op.clone(),
        row,
        change,
    };
    Some((step, resource))
}

/// What the report shows of one state: its inputs (an old state without inputs: its outputs),
/// or `{property: value}` for a row with a property (`None` when it is unset or empty).
fn shown(state: &State<'_>, row: &Unmodeled) -> Option<Value> {
    let source = state.inputs.or(state.outputs);
    let Some(property) = row.property else {
        let parsed = raw::parse(source);
        let mut value = parsed.value;
        if let Value::Object(map) = &mut value {
            for u in &parsed.unreadable {
                map.insert(u.property.clone(), Value::String(u.placeholder()));
            }
        } else if let Some(u) = parsed.unreadable.first() {
            value = Value::String(u.placeholder());
        }
        if value.is_null() {
            value = Value::Object(Map::new());
        }
        strip_defaults(&mut value);
        return Some(readable(value));
    };
    let raw = raw::properties(source?.get())?.remove(property)?;
    let value = match raw::parse_value(property, raw) {
        Ok(mut v) => {
            strip_defaults(&mut v);
            readable(v)
        }
        Err(u) => Value::String(u.placeholder()),
    };
    match &value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        _ => Some(Value::Object(Map::from_iter([(
            property.to_owned(),
            value,
        )]))),
    }
}

/// The value with Pulumi's unknown and secret markers as readable text, at every depth.
fn readable(value: Value) -> Value {
    match classify(&value) {
        Marker::Unknown => return Value::from(UNKNOWN_TEXT),
        Marker::Secret => return Value::from("<secret>"),
        Marker::Known => {}
    }
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, readable(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(readable).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::engine::preview::{self, UNKNOWN};

    fn one(steps: Value) -> Option<(UnanalyzedStep, ResourceIam)> {
        let text = json!({ "steps": steps }).to_string();
        let p = preview::parse(text.as_bytes()).unwrap();
        read(&p.steps[0])
    }

    fn state(type_: &str, inputs: Value) -> Value {
        json!({"urn": format!("urn:pulumi:dev::p::{type_}::x"), "type": type_, "inputs": inputs})
    }

    fn step(op: &str, type_: &str, old: Option<Value>, new: Option<Value>) -> Value {
        let mut s = json!({"op": op, "urn": format!("urn:pulumi:dev::p::{type_}::x")});
        if let Some(old) = old {
            s["oldState"] = state(type_, old);
        }
        if let Some(new) = new {
            s["newState"] = state(type_, new);
        }
        json!([s])
    }

    const PS: &str = "aws:ssoadmin/permissionSet:PermissionSet";

    #[test]
    fn ops_that_change_nothing_are_not_read() {
        let inputs = json!({"name": "admins"});
        for op in ["same", "read", "refresh", "import", "import-replacement"] {
            let s = step(op, PS, Some(inputs.clone()), Some(inputs.clone()));
            assert!(one(s).is_none(), "{op}");
        }
        for (op, change) in [
            ("create", Change::Writes),
            ("update", Change::Writes),
            ("replace", Change::Writes),
            ("create-replacement", Change::Writes),
            ("delete", Change::Removes),
            ("delete-replaced", Change::Removes),
            ("discard", Change::Removes),
            ("some-future-op", Change::Writes),
        ] {
            let s = step(op, PS, Some(inputs.clone()), Some(inputs.clone()));
            let (u, r) = one(s).unwrap_or_else(|| panic!("{op}"));
            assert_eq!(u.change, change, "{op}");
            assert!(r.changed(), "{op}");
        }
    }

    #[test]
    fn the_inputs_are_shown_readable_without_bookkeeping() {
        let s = step(
            "create",
            PS,
            None,
            Some(
                json!({"__defaults": ["sessionDuration"], "name": "admins", "instanceArn": UNKNOWN, "relayState": "[secret]"}),
            ),
        );
        let (_, r) = one(s).unwrap();
        assert!(r.before.is_none());
        assert_eq!(
            r.after.unwrap().compact,
            json!({"instanceArn": UNKNOWN_TEXT, "name": "admins", "relayState": "<secret>"})
                .to_string()
        );
    }

    #[test]
    fn a_policy_input_counts_only_when_it_changes() {
        const Q: &str = "aws:sqs/queue:Queue";
        let policy = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}]}"#;
        // No policy at all: not IAM-relevant.
        assert!(one(step("create", Q, None, Some(json!({"name": "jobs"})))).is_none());
        assert!(
            one(step(
                "create",
                Q,
                None,
                Some(json!({"name": "jobs", "policy": ""}))
            ))
            .is_none()
        );
        // A tag change beside an unchanged policy: nothing.
        let s = step(
            "update",
            Q,
            Some(json!({"name": "jobs", "policy": policy, "tags": {"a": "1"}})),
            Some(json!({"name": "jobs", "policy": policy, "tags": {"a": "2"}})),
        );
        assert!(one(s).is_none());
        // The policy set: only it is shown.
        let (u, r) = one(step(
            "create",
            Q,
            None,
            Some(json!({"name": "jobs", "policy": policy})),
        ))
        .unwrap();
        assert_eq!(u.change, Change::Writes);
        assert_eq!(
            r.after.unwrap().compact,
            json!({"policy": policy}).to_string()
        );
        // The policy removed from a queue that stays.
        let (u, r) = one(step(
            "update",
            Q,
            Some(json!({"policy": policy})),
            Some(json!({})),
        ))
        .unwrap();
        assert_eq!(u.change, Change::Writes);
        assert!(r.after.is_none() && r.before.is_some());
    }

    #[test]
    fn an_unreadable_input_is_shown_by_its_digest() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let text = format!(
            r#"{{"steps": [{{"op": "create", "urn": "urn:pulumi:dev::p::{PS}::x", "newState": {{"type": "{PS}", "inputs": {{"name": "admins", "tags": {deep}}}}}}}]}}"#
        );
        let p = preview::parse(text.as_bytes()).unwrap();
        let (_, r) = read(&p.steps[0]).unwrap();
        let after = r.after.unwrap().compact;
        assert!(after.contains("\"name\":\"admins\""), "{after}");
        assert!(
            after.contains(
                "<unreadable: it nests deeper than the 128 levels iamgate reads; sha256 "
            ),
            "{after}"
        );
    }
}
