//! The semantic diff: unified diffs of canonical IAM properties, and the fingerprint of a whole
//! change, which approvals are bound to. Both only ever see canonical JSON, so two spellings of
//! the same policy give no diff and the same fingerprint.

use serde_json::Value;
use sha2::{Digest, Sha256};
use similar::TextDiff;

/// A stable hash of the whole normalized IAM change of a preview (hex SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub String);

impl Fingerprint {
    /// The first 12 hex digits, for display.
    pub fn short(&self) -> &str {
        self.0.get(..12).unwrap_or(&self.0)
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Canonical pretty JSON of one side, for display and diffing.
pub fn pretty(value: &Value) -> String {
    // Serializing a `Value` cannot fail: every key is a string.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// A unified diff (3 lines of context) of two canonical texts; `None` is an absent side.
pub fn unified(before: Option<&str>, after: Option<&str>) -> String {
    let old = before.unwrap_or("");
    let new = after.unwrap_or("");
    let diff = TextDiff::from_lines(old, new);
    let header_old = if before.is_some() {
        "before"
    } else {
        "/dev/null"
    };
    let header_new = if after.is_some() {
        "after"
    } else {
        "/dev/null"
    };
    diff.unified_diff()
        .context_radius(3)
        .header(header_old, header_new)
        .to_string()
}

/// One changed resource as the fingerprint sees it.
#[derive(Debug, Clone, Copy)]
pub struct ChangeRef<'a> {
    pub urn: &'a str,
    pub before: Option<&'a Value>,
    pub after: Option<&'a Value>,
}

/// The fingerprint of a set of changes: SHA-256 over the sorted (URN, before, after) canonical
/// JSON. Independent of step order, formatting, and of resources whose IAM did not change.
pub fn fingerprint(changes: &[ChangeRef<'_>]) -> Fingerprint {
    let texts: Vec<(&str, Option<String>, Option<String>)> = changes
        .iter()
        .filter(|c| c.before != c.after)
        .map(|c| {
            (
                c.urn,
                c.before.map(Value::to_string),
                c.after.map(Value::to_string),
            )
        })
        .collect();
    fingerprint_texts(
        &texts
            .iter()
            .map(|(urn, before, after)| ChangeText {
                urn,
                before: before.as_deref(),
                after: after.as_deref(),
            })
            .collect::<Vec<_>>(),
    )
}

/// One changed resource for `fingerprint_texts`: its sides as compact canonical JSON
/// (`Value::to_string` of the canonical `Value`).
#[derive(Debug, Clone, Copy)]
pub struct ChangeText<'a> {
    pub urn: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

/// `fingerprint` of sides already rendered as compact JSON text (the same hash).
pub fn fingerprint_texts(changes: &[ChangeText<'_>]) -> Fingerprint {
    let mut entries: Vec<String> = changes
        .iter()
        .filter(|c| c.before != c.after)
        .map(|c| {
            format!(
                "{}\u{1f}{}\u{1f}{}",
                c.urn,
                c.before.unwrap_or("null"),
                c.after.unwrap_or("null")
            )
        })
        .collect();
    entries.sort();
    let mut hasher = Sha256::new();
    hasher.update(b"iamgate-fingerprint-v1\n");
    for e in &entries {
        hasher.update(e.as_bytes());
        hasher.update(b"\n");
    }
    Fingerprint(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unified_diff_shows_the_changed_line_only() {
        let before = pretty(&json!({"a": ["x"], "b": 1}));
        let after = pretty(&json!({"a": ["y"], "b": 1}));
        let d = unified(Some(&before), Some(&after));
        assert!(d.contains("--- before\n+++ after\n"), "{d}");
        assert!(d.contains("-    \"x\"\n+    \"y\"\n"), "{d}");
        assert!(!d.contains("-  \"b\""), "{d}");
    }

    #[test]
    fn create_and_delete_diff_against_dev_null() {
        let text = pretty(&json!({"a": 1}));
        assert!(unified(None, Some(&text)).starts_with("--- /dev/null\n+++ after\n"));
        assert!(unified(Some(&text), None).starts_with("--- before\n+++ /dev/null\n"));
        assert_eq!(unified(Some(&text), Some(&text)), "");
    }

    #[test]
    fn fingerprint_ignores_order_and_unchanged_resources() {
        let (a, b, c) = (json!({"p": 1}), json!({"p": 2}), json!({"q": 3}));
        let x = ChangeRef {
            urn: "urn:x",
            before: Some(&a),
            after: Some(&b),
        };
        let y = ChangeRef {
            urn: "urn:y",
            before: None,
            after: Some(&c),
        };
        let same = ChangeRef {
            urn: "urn:z",
            before: Some(&a),
            after: Some(&a),
        };
        assert_eq!(fingerprint(&[x, y]), fingerprint(&[y, same, x]));
        assert_eq!(fingerprint(&[x]).0.len(), 64);
    }

    #[test]
    fn fingerprint_changes_with_any_side_or_urn() {
        let (a, b) = (json!({"p": 1}), json!({"p": 2}));
        let base = fingerprint(&[ChangeRef {
            urn: "urn:x",
            before: Some(&a),
            after: Some(&b),
        }]);
        assert_ne!(
            base,
            fingerprint(&[ChangeRef {
                urn: "urn:x",
                before: Some(&b),
                after: Some(&a)
            }])
        );
        assert_ne!(
            base,
            fingerprint(&[ChangeRef {
                urn: "urn:y",
                before: Some(&a),
                after: Some(&b)
            }])
        );
        assert_ne!(
            base,
            fingerprint(&[ChangeRef {
                urn: "urn:x",
                before: None,
                after: Some(&b)
            }])
        );
        assert_ne!(base, fingerprint(&[]));
    }
}
