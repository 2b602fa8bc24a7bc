//! Pulumi's value encodings inside `inputs`/`outputs`: secrets (`"[secret]"` and the secret
//! signature object), the unknown sentinels, and the `__defaults`/`__meta` bookkeeping keys.
//! It only classifies and cleans values; it never interprets what a property means.

use serde_json::Value;
use serde_json::value::RawValue;

/// The string Pulumi writes where a value is computed during preview.
pub const UNKNOWN: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/// The secret signature under the [`SIG_KEY`] key.
pub const SECRET_SIG: &str = "1b47061264138c4ac30d75fd1eb44270";
/// The key that marks a special (signed) object: secret, asset, archive, resource reference...
pub const SIG_KEY: &str = "4dabf18193072939515e22adb298388d";
/// The signature of an output value (`{sig, value?, secret?, dependencies?}`).
pub const OUTPUT_SIG: &str = "d0e6a833031e9bbcd3f4e8bde6ca49a4";
/// What the blinding crypter writes for a secret in the digest (the whole value is replaced).
pub const SECRET_TEXT: &str = "[secret]";

/// Every unknown sentinel: the string one that JSON output uses, then the typed ones of the
/// gRPC wire (bool, number, array, asset, archive, object), which cost nothing to recognise.
pub const UNKNOWN_SENTINELS: [&str; 7] = [
    UNKNOWN,
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "030794c1-ac77-496b-92df-f27374a8bd58",
    "e48ece36-62e2-4504-bad9-02848725956a",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
];

/// What a property value is, before looking inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Known,
    Secret,
    Unknown,
}

/// Classifies one value at its top level (a known object may still hold markers deeper down).
pub fn classify(v: &Value) -> Marker {
    match v {
        Value::String(s) if s == SECRET_TEXT => Marker::Secret,
        Value::String(s) if is_unknown_str(s) => Marker::Unknown,
        Value::Object(map) => match map.get(SIG_KEY).and_then(Value::as_str) {
            Some(SECRET_SIG) => Marker::Secret,
            Some(OUTPUT_SIG) => {
                if map.get("secret").and_then(Value::as_bool) == Some(true) {
                    Marker::Secret
                } else if map.get("value").is_none() {
                    Marker::Unknown
                } else {
                    Marker::Known
                }
            }
            _ => Marker::Known,
        },
        _ => Marker::Known,
    }
}

/// Whether a string is one of Pulumi's unknown sentinels.
pub fn is_unknown_str(s: &str) -> bool {
    // All sentinels are 36-byte UUIDs: a length check rejects almost every string at once.
    s.len() == UNKNOWN.len() && UNKNOWN_SENTINELS.contains(&s)
}

/// Whether a value is a secret (`"[secret]"` or a secret signature object).
pub fn is_secret(v: &Value) -> bool {
    classify(v) == Marker::Secret
}

/// Removes `__defaults` at every depth and a top-level `__meta` (bridged providers' bookkeeping).
pub fn strip_defaults(v: &mut Value) {
    if let Value::Object(map) = v {
        map.remove("__meta");
    }
    strip_nested_defaults(v);
}

fn strip_nested_defaults(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("__defaults");
            map.values_mut().for_each(strip_nested_defaults);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nested_defaults),
        _ => {}
    }
}

/// Parses raw `inputs`/`outputs` into a value and strips the bookkeeping keys from it.
pub fn parse_props(raw: &RawValue) -> Result<Value, serde_json::Error> {
    let mut value: Value = serde_json::from_str(raw.get())?;
    strip_defaults(&mut value);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_secret_forms() {
        assert_eq!(classify(&json!("[secret]")), Marker::Secret);
        let blinded = json!({SIG_KEY: SECRET_SIG, "ciphertext": "[secret]"});
        assert_eq!(classify(&blinded), Marker::Secret);
        assert!(is_secret(&blinded));
        assert_eq!(
            classify(&json!({SIG_KEY: OUTPUT_SIG, "value": "x", "secret": true})),
            Marker::Secret
        );
        // Near misses stay known.
        assert_eq!(classify(&json!("[secret] ")), Marker::Known);
        assert_eq!(classify(&json!({"ciphertext": "[secret]"})), Marker::Known);
        assert!(!is_secret(
            &json!({SIG_KEY: "c44067f5952c0a294b673a41bacd8c17", "text": "asset"})
        ));
    }

    #[test]
    fn classifies_every_unknown_sentinel() {
        for s in UNKNOWN_SENTINELS {
            assert_eq!(classify(&json!(s)), Marker::Unknown, "{s}");
            assert!(is_unknown_str(s));
        }
        assert_eq!(
            classify(&json!({SIG_KEY: OUTPUT_SIG, "dependencies": []})),
            Marker::Unknown
        );
        assert!(!is_unknown_str("04da6b54-80e4-46f7-96ec-b56ff0331ba8"));
        assert!(!is_unknown_str(&format!("{UNKNOWN}x")));
        assert!(!is_unknown_str(""));
    }

    #[test]
    fn known_values_stay_known() {
        for v in [
            json!("arn:aws:iam::aws:policy/ReadOnlyAccess"),
            json!(null),
            json!(3),
            json!([UNKNOWN]),
        ] {
            assert_eq!(classify(&v), Marker::Known, "{v}");
        }
        // An unknown nested in an object does not make the object unknown.
        assert_eq!(classify(&json!({"role": UNKNOWN})), Marker::Known);
        assert_eq!(
            classify(&json!({SIG_KEY: OUTPUT_SIG, "value": 1})),
            Marker::Known
        );
    }

    #[test]
    fn strips_defaults_at_every_depth_and_meta_at_top_only() {
        let mut v = json!({
            "__defaults": ["acl"],
            "__meta": "{\"schema_version\":\"0\"}",
            "tags": {"a": "b", "__defaults": []},
            "rules": [{"x": 1, "__defaults": ["y"]}],
            "nested": {"__meta": "kept"}
        });
        strip_defaults(&mut v);
        assert_eq!(
            v,
            json!({"tags": {"a": "b"}, "rules": [{"x": 1}], "nested": {"__meta": "kept"}})
        );
    }

    #[test]
    fn parse_props_parses_and_strips() -> Result<(), serde_json::Error> {
        let raw: Box<RawValue> = serde_json::from_str(r#"{"__defaults":[],"policy":"{}"}"#)?;
        assert_eq!(parse_props(&raw)?, json!({"policy": "{}"}));
        let bad: Box<RawValue> = serde_json::from_str("[1]")?;
        assert_eq!(parse_props(&bad)?, json!([1]));
        Ok(())
    }
}
