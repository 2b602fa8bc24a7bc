//! The engine-event stream form: the top-level object envelope (which also recognizes a digest),
//! `resourcePreEvent.metadata` steps and `diagnosticEvent`s, plus the normalization that makes a
//! stream read like the digest (one step per (urn, op), no replacement halves beside a logical
//! `replace`). Every other event kind is skipped unread.

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::Deserializer;

use super::diagnostics::diagnostic;
use super::digest::{Diagnostics, RawState, StepParts, Steps};
use super::{Diagnostic, Form, Op, Step};

/// `StepEventMetadata`: the stream's step shape (`old`/`new`, `keys`/`diffs`).
#[derive(Deserialize)]
#[serde(expecting = "resourcePreEvent `metadata` as an object")]
struct RawMetadata<'a> {
    op: Op,
    urn: String,
    #[serde(default, rename = "type")]
    type_: Option<String>,
    #[serde(borrow, default)]
    old: Option<RawState<'a>>,
    #[serde(borrow, default)]
    new: Option<RawState<'a>>,
    #[serde(default)]
    keys: Option<Vec<String>>,
    #[serde(default)]
    diffs: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(expecting = "`resourcePreEvent` as an object")]
struct RawPreEvent<'a> {
    #[serde(borrow)]
    metadata: RawMetadata<'a>,
}

/// One `resourcePreEvent`, already turned into a step.
pub(super) struct PreEvent<'a>(pub(super) Step<'a>);

impl<'de> Deserialize<'de> for PreEvent<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let meta = RawPreEvent::deserialize(deserializer)?.metadata;
        let parts = StepParts {
            op: meta.op,
            urn: meta.urn,
            type_: meta.type_,
            old: meta.old,
            new: meta.new,
            replace_reasons: meta.keys,
            diff_reasons: meta.diffs,
        };
        Ok(PreEvent(parts.into_step()))
    }
}

#[derive(Deserialize)]
#[serde(expecting = "`diagnosticEvent` as an object")]
struct RawDiagnosticEvent {
    #[serde(default)]
    urn: Option<String>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    severity: Option<String>,
}

/// One `diagnosticEvent`: `Some` for errors and warnings, `None` for everything else.
pub(super) struct DiagnosticEvent(pub(super) Option<Diagnostic>);

impl<'de> Deserialize<'de> for DiagnosticEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawDiagnosticEvent::deserialize(deserializer)?;
        Ok(DiagnosticEvent(diagnostic(
            raw.urn,
            raw.prefix,
            raw.message,
            raw.severity,
        )))
    }
}

/// Makes a list of steps read like the default digest: the first step per (urn, op) is kept,
/// and the non-logical halves of a replacement are dropped when the same URN has a logical
/// `replace` (wherever it stands: delete-before-replace puts `delete-replaced` first). A half
/// without a `replace` stays, with its state.
pub(super) fn normalize(steps: Vec<Step<'_>>) -> Vec<Step<'_>> {
    let mut seen: HashSet<(&str, &Op)> = HashSet::with_capacity(steps.len());
    let mut replaced: HashSet<&str> = HashSet::new();
    let mut keep = Vec::with_capacity(steps.len());
    for step in &steps {
        let first = seen.insert((step.urn.as_str(), &step.op));
        if first && step.op == Op::Replace {
            replaced.insert(step.urn.as_str());
        }
        keep.push(first);
    }
    for (step, kept) in steps.iter().zip(keep.iter_mut()) {
        if step.op.is_replacement_half() && replaced.contains(step.urn.as_str()) {
            *kept = false;
        }
    }
    drop((seen, replaced));
    steps
        .into_iter()
        .zip(keep)
        .filter_map(|(step, kept)| kept.then_some(step))
        .collect()
}

/// One top-level JSON object of either form. Its keys decide the form: a stream event has
/// `sequence`/`timestamp` and one `*Event` key; a digest has `steps`, `config`, ... or nothing.
#[derive(Default)]
pub(super) struct Document<'a> {
    any_key: bool,
    digest_key: bool,
    event_key: bool,
    sequence: bool,
    timestamp: bool,
    pub(super) steps: Vec<Step<'a>>,
    pub(super) diagnostics: Vec<Diagnostic>,
    pub(super) pre: Option<Step<'a>>,
    pub(super) diagnostic: Option<Diagnostic>,
}

impl Document<'_> {
    pub(super) fn form(&self) -> Option<Form> {
        if self.event_key || (self.sequence && self.timestamp) {
            Some(Form::EventStream)
        } else if self.digest_key || !self.any_key {
            Some(Form::Digest)
        } else {
            None
        }
    }
}

/// The top-level keys that matter, classified without allocating.
enum Key {
    Steps,
    Diagnostics,
    DigestOther,
    Sequence,
    Timestamp,
    ResourcePre,
    DiagnosticEvent,
    OtherEvent,
    Other,
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "steps" => Key::Steps,
                    "diagnostics" => Key::Diagnostics,
                    "config" | "duration" | "changeSummary" | "maybeCorrupt" => Key::DigestOther,
                    "sequence" => Key::Sequence,
                    "timestamp" => Key::Timestamp,
                    "resourcePreEvent" => Key::ResourcePre,
                    "diagnosticEvent" => Key::DiagnosticEvent,
                    s if s.ends_with("Event") => Key::OtherEvent,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> serde::Deserialize<'de> for Document<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, Visitor};
        struct DocumentVisitor;
        impl<'de> Visitor<'de> for DocumentVisitor {
            type Value = Document<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object (a PreviewDigest or an engine event)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut doc = Document::default();
                while let Some(key) = map.next_key::<Key>()? {
                    doc.any_key = true;
                    match key {
                        Key::Steps => {
                            doc.digest_key = true;
                            let steps = map.next_value::<Option<Steps<'de>>>()?;
                            doc.steps.extend(steps.map(|s| s.0).unwrap_or_default());
                        }
                        Key::Diagnostics => {
                            doc.digest_key = true;
                            let diags = map.next_value::<Option<Diagnostics>>()?;
                            doc.diagnostics
                                .extend(diags.map(|d| d.0).unwrap_or_default());
                        }
                        Key::ResourcePre => {
                            doc.event_key = true;
                            let pre = map.next_value::<Option<PreEvent<'de>>>()?;
                            doc.pre = pre.map(|p| p.0);
                        }
                        Key::DiagnosticEvent => {
                            doc.event_key = true;
                            let diag = map.next_value::<Option<DiagnosticEvent>>()?;
                            doc.diagnostic = diag.and_then(|d| d.0);
                        }
                        other => {
                            map.next_value::<IgnoredAny>()?;
                            match other {
                                Key::DigestOther => doc.digest_key = true,
                                Key::Sequence => doc.sequence = true,
                                Key::Timestamp => doc.timestamp = true,
                                Key::OtherEvent => doc.event_key = true,
                                _ => {}
                            }
                        }
                    }
                }
                Ok(doc)
            }
        }
        deserializer.deserialize_map(DocumentVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pre(json: &str) -> Result<Step<'_>, serde_json::Error> {
        serde_json::from_str::<PreEvent<'_>>(json).map(|p| p.0)
    }

    fn step(op: &str, urn: &str) -> String {
        format!(r#"{{"metadata":{{"op":"{op}","urn":"{urn}","old":null,"new":null}}}}"#)
    }

    #[test]
    fn pre_event_reads_metadata_with_stream_names() -> Result<(), serde_json::Error> {
        let json = r#"{"metadata":{"op":"replace","urn":"urn:pulumi:s::p::aws:iam/role:Role::r",
            "type":"aws:iam/role:Role","old":{"inputs":{"a":1},"id":"x"},"new":null,
            "keys":["name"],"diffs":["name","name","path"],
            "detailedDiff":{"name":{"diffKind":"update-replace","inputDiff":false}},
            "logical":true,"provider":"","future":[1]},"planning":true}"#;
        let s = pre(json)?;
        assert_eq!(s.op, Op::Replace);
        assert_eq!(s.type_, "aws:iam/role:Role");
        assert_eq!(s.replace_reasons, ["name"]);
        assert_eq!(s.diff_reasons, ["name", "path"]);
        assert!(s.new.is_none());
        let old = s
            .old
            .as_ref()
            .map(|o| (o.urn.as_str(), o.id.as_deref(), o.inputs.map(|r| r.get())));
        assert_eq!(
            old,
            Some((
                "urn:pulumi:s::p::aws:iam/role:Role::r",
                Some("x"),
                Some(r#"{"a":1}"#)
            ))
        );
        Ok(())
    }

    #[test]
    fn pre_event_without_op_urn_or_metadata_is_an_error() {
        let no_op = pre(r#"{"metadata":{"urn":"u"}}"#)
            .map(|s| s.urn)
            .unwrap_err()
            .to_string();
        assert!(no_op.contains("missing field `op`"), "{no_op}");
        let no_urn = pre(r#"{"metadata":{"op":"create"}}"#)
            .map(|s| s.urn)
            .unwrap_err()
            .to_string();
        assert!(no_urn.contains("missing field `urn`"), "{no_urn}");
        let no_meta = pre(r#"{"planning":true}"#)
            .map(|s| s.urn)
            .unwrap_err()
            .to_string();
        assert!(no_meta.contains("missing field `metadata`"), "{no_meta}");
        assert!(pre(r#"{"metadata":{"op":"create","urn":"u","old":"x"}}"#).is_err());
    }

    #[test]
    fn keeps_only_errors_and_warnings_without_color() -> Result<(), serde_json::Error> {
        let warn = r#"{"prefix":"<{%fg 3%}>warning: <{%reset%}>","message":"<{%reset%}>slow<{%reset%}>\n","severity":"warning","urn":""}"#;
        let d = serde_json::from_str::<DiagnosticEvent>(warn)?.0;
        let expected = Diagnostic {
            urn: None,
            severity: "warning".into(),
            message: "warning: slow".into(),
        };
        assert_eq!(d, Some(expected));
        for severity in ["info", "debug", "info#err"] {
            let json = format!(r#"{{"message":"m","severity":"{severity}"}}"#);
            assert_eq!(serde_json::from_str::<DiagnosticEvent>(&json)?.0, None);
        }
        Ok(())
    }

    #[test]
    fn normalize_dedupes_and_drops_halves_of_a_replace() -> Result<(), serde_json::Error> {
        let lines = [
            step("delete-replaced", "a"),
            step("replace", "a"),
            step("create-replacement", "a"),
            step("update", "b"),
            step("update", "b"),
            step("delete-replaced", "c"),
            step("create-replacement", "d"),
            step("discard-replaced", "a"),
        ];
        let steps = lines
            .iter()
            .map(|l| pre(l))
            .collect::<Result<Vec<_>, _>>()?;
        let got: Vec<(String, String)> = normalize(steps)
            .into_iter()
            .map(|s| (s.op.to_string(), s.urn))
            .collect();
        let want = [
            ("replace", "a"),
            ("update", "b"),
            ("delete-replaced", "c"),
            ("create-replacement", "d"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(o, u)| (o.to_string(), u.to_string()))
            .collect();
        assert_eq!(got, want);
        Ok(())
    }
}
