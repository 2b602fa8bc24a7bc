//! Reading a state's raw `inputs` or `outputs` into a value. The whole object is read at once;
//! when that fails (it nests deeper than the 128 levels serde_json reads), it is read property by
//! property, so that one unreadable property neither hides the others nor vanishes: it is kept
//! with a digest of its text, for the `malformed` finding, the diff and the fingerprint.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A property that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The top-level property; empty when the state as a whole is unreadable.
    pub property: String,
    pub reason: String,
    /// The start of the SHA-256 of its text: tells two unreadable values apart.
    pub digest: String,
}

impl Unreadable {
    /// How the diff shows the value in place of its content.
    pub fn placeholder(&self) -> String {
        format!("<unreadable: {}; sha256 {}>", self.reason, self.digest)
    }
}

/// A state's properties as far as they could be read (`Null` when absent).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub value: Value,
    pub unreadable: Vec<Unreadable>,
}

/// Reads raw `inputs`/`outputs`; never fails: what cannot be read is listed in `unreadable`.
pub fn parse(raw: Option<&RawValue>) -> Parsed {
    let Some(raw) = raw else {
        return Parsed::default();
    };
    let text = raw.get();
    match serde_json::from_str::<Value>(text) {
        Ok(value) => Parsed {
            value,
            unreadable: Vec::new(),
        },
        Err(e) => match properties(text) {
            Some(props) => by_property(props),
            None => Parsed {
                value: Value::Null,
                unreadable: vec![unreadable(String::new(), text, &e)],
            },
        },
    }
}

/// The top-level properties of an object, each left as raw text; `None` when `text` is not an
/// object. Skipping a value has no depth limit, so this succeeds where reading it whole fails.
pub fn properties(text: &str) -> Option<BTreeMap<String, &RawValue>> {
    serde_json::from_str(text).ok()
}

/// Reads one property value (the same way as a whole state).
pub fn parse_value(property: &str, raw: &RawValue) -> Result<Value, Unreadable> {
    serde_json::from_str(raw.get()).map_err(|e| unreadable(property.to_owned(), raw.get(), &e))
}

fn by_property(props: BTreeMap<String, &RawValue>) -> Parsed {
    let mut value = Map::new();
    let mut unreadable = Vec::new();
    for (key, raw) in props {
        match parse_value(&key, raw) {
            Ok(v) => {
                value.insert(key, v);
            }
            Err(u) => unreadable.push(u),
        }
    }
    Parsed {
        value: Value::Object(value),
        unreadable,
    }
}

/// The digest an `Unreadable` carries for a value a reader could not make sense of (its compact
/// JSON text): a different value is a different finding.
pub fn digest_of(value: &Value) -> String {
    hex::encode(&Sha256::digest(value.to_string().as_bytes())[..8])
}

fn unreadable(property: String, text: &str, e: &serde_json::Error) -> Unreadable {
    let reason = if e.to_string().starts_with("recursion limit exceeded") {
        "it nests deeper than the 128 levels iamgate reads".to_owned()
    } else {
        format!("it is not valid JSON ({e})")
    };
    let digest = Sha256::digest(text.as_bytes());
    Unreadable {
        property,
        reason,
        digest: hex::encode(&digest[..8]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `{"a": {"a": ... "x" ...}}`, `depth` objects deep.
    fn nested(depth: usize) -> String {
        format!("{}\"x\"{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn a_readable_state_is_read_whole() {
        let p = parse(Some(&raw(r#"{"name": "r", "tags": {"a": "b"}}"#)));
        assert_eq!(p.value, json!({"name": "r", "tags": {"a": "b"}}));
        assert!(p.unreadable.is_empty());
        assert_eq!(parse(None), Parsed::default());
    }

    #[test]
    fn a_property_nested_too_deep_is_kept_apart_and_the_others_are_read() {
        let text = format!(
            r#"{{"name": "r", "tags": {}, "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}}"#,
            nested(200)
        );
        let p = parse(Some(&raw(&text)));
        assert_eq!(
            p.value,
            json!({"name": "r", "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]})
        );
        assert_eq!(p.unreadable.len(), 1);
        let u = &p.unreadable[0];
        assert_eq!(u.property, "tags");
        assert!(u.reason.contains("128 levels"), "{}", u.reason);
        assert_eq!(u.digest.len(), 16);
        // The same text gives the same digest; another text another one.
        let again = parse(Some(&raw(&text)));
        assert_eq!(again.unreadable[0].digest, u.digest);
        let other = format!(r#"{{"tags": {}}}"#, nested(201));
        assert_ne!(parse(Some(&raw(&other))).unreadable[0].digest, u.digest);
    }

    #[test]
    fn a_state_that_is_not_an_object_is_unreadable_as_a_whole() {
        let text = format!("[{}]", nested(200));
        let p = parse(Some(&raw(&text)));
        assert_eq!(p.value, Value::Null);
        assert_eq!(p.unreadable.len(), 1);
        assert_eq!(p.unreadable[0].property, "");
    }
}
