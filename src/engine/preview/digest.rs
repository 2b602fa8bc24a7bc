//! The PreviewDigest form (`pulumi preview --json` without streaming): its `steps` and
//! `diagnostics`, and the resource-state shape both forms share. Decoding only: the top-level
//! document and form detection live in `mod.rs`, the stream envelope in `events.rs`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::diagnostics::diagnostic;
use super::{Diagnostic, Op, State, Step, urn_type};

/// A resource state as written by either form (digest `oldState`/`newState`, stream `old`/`new`).
/// Everything not listed here is skipped without being materialized.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a resource state object")]
pub(super) struct RawState<'a> {
    #[serde(default)]
    urn: Option<String>,
    #[serde(default, rename = "type")]
    type_: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(borrow, default)]
    inputs: Option<&'a RawValue>,
    #[serde(borrow, default)]
    outputs: Option<&'a RawValue>,
    #[serde(default)]
    property_dependencies: Option<PropertyDependencies>,
}

impl<'a> RawState<'a> {
    pub(super) fn type_token(&self) -> Option<&str> {
        self.type_.as_deref().filter(|t| !t.is_empty())
    }

    /// Fills what the state lacks from its step: the URN and the type token.
    pub(super) fn into_state(self, step_urn: &str, step_type: &str) -> State<'a> {
        State {
            urn: self
                .urn
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| step_urn.to_owned()),
            type_: self
                .type_
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| step_type.to_owned()),
            id: self.id.filter(|id| !id.is_empty()),
            inputs: self.inputs.filter(|raw| !is_empty_object(raw)),
            outputs: self.outputs.filter(|raw| !is_empty_object(raw)),
            property_dependencies: self.property_dependencies.map(|p| p.0).unwrap_or_default(),
        }
    }
}

/// `{}` (the stream's way of saying "none") and `null` carry nothing: both become `None`.
fn is_empty_object(raw: &RawValue) -> bool {
    let text = raw.get().trim();
    text == "null"
        || (text.starts_with('{')
            && text.ends_with('}')
            && text[1..text.len() - 1].trim().is_empty())
}

/// `propertyDependencies`: input key -> URNs, in document order; `null` lists are empty.
struct PropertyDependencies(Vec<(String, Vec<String>)>);

impl<'de> Deserialize<'de> for PropertyDependencies {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DepsVisitor;
        impl<'de> Visitor<'de> for DepsVisitor {
            type Value = PropertyDependencies;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`propertyDependencies` as an object of URN lists")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut deps = Vec::new();
                while let Some((key, urns)) = map.next_entry::<String, Option<Vec<String>>>()? {
                    deps.push((key, urns.unwrap_or_default()));
                }
                Ok(PropertyDependencies(deps))
            }
        }
        deserializer.deserialize_map(DepsVisitor)
    }
}

/// One digest step. `op` and `urn` are required: serde reports their absence at the step's end.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a step object")]
struct RawStep<'a> {
    op: Op,
    urn: String,
    #[serde(borrow, default)]
    old_state: Option<RawState<'a>>,
    #[serde(borrow, default)]
    new_state: Option<RawState<'a>>,
    #[serde(default)]
    diff_reasons: Option<Vec<String>>,
    #[serde(default)]
    replace_reasons: Option<Vec<String>>,
}

/// The fields of a step in either form, before the type token is resolved.
pub(super) struct StepParts<'a> {
    pub(super) op: Op,
    pub(super) urn: String,
    pub(super) type_: Option<String>,
    pub(super) old: Option<RawState<'a>>,
    pub(super) new: Option<RawState<'a>>,
    pub(super) replace_reasons: Option<Vec<String>>,
    pub(super) diff_reasons: Option<Vec<String>>,
}

impl<'a> StepParts<'a> {
    /// Builds the step, resolving the type token: the step's own, else the new state's, else
    /// the old state's, else the URN's.
    pub(super) fn into_step(self) -> Step<'a> {
        let StepParts {
            op,
            urn,
            type_,
            old,
            new,
            replace_reasons,
            diff_reasons,
        } = self;
        let type_ = type_
            .filter(|t| !t.is_empty())
            .or_else(|| {
                new.as_ref()
                    .and_then(RawState::type_token)
                    .map(str::to_owned)
            })
            .or_else(|| {
                old.as_ref()
                    .and_then(RawState::type_token)
                    .map(str::to_owned)
            })
            .or_else(|| urn_type(&urn).map(str::to_owned))
            .unwrap_or_default();
        Step {
            old: old.map(|s| s.into_state(&urn, &type_)),
            new: new.map(|s| s.into_state(&urn, &type_)),
            replace_reasons: dedup(replace_reasons.unwrap_or_default()),
            diff_reasons: dedup(diff_reasons.unwrap_or_default()),
            op,
            urn,
            type_,
        }
    }
}

/// Keeps the first occurrence of each key (the stream's `diffs` may repeat keys).
fn dedup(mut keys: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.retain(|k| seen.insert(k.clone()));
    keys
}

/// The digest's `steps` list, converted step by step so that an error points at its step.
pub(super) struct Steps<'a>(pub(super) Vec<Step<'a>>);

impl<'de> Deserialize<'de> for Steps<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StepsVisitor;
        impl<'de> Visitor<'de> for StepsVisitor {
            type Value = Steps<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`steps` as a list of step objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut steps = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(raw) = seq.next_element::<RawStep<'de>>()? {
                    let parts = StepParts {
                        op: raw.op,
                        urn: raw.urn,
                        type_: None,
                        old: raw.old_state,
                        new: raw.new_state,
                        replace_reasons: raw.replace_reasons,
                        diff_reasons: raw.diff_reasons,
                    };
                    steps.push(parts.into_step());
                }
                Ok(Steps(steps))
            }
        }
        deserializer.deserialize_seq(StepsVisitor)
    }
}

/// A digest diagnostic (`PreviewDiagnostic`): the prefix is already folded into `message`.
#[derive(Deserialize)]
#[serde(expecting = "a diagnostic object")]
struct RawDiagnostic {
    #[serde(default)]
    urn: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    severity: Option<String>,
}

/// The digest's `diagnostics` list, keeping errors and warnings only.
pub(super) struct Diagnostics(pub(super) Vec<Diagnostic>);

impl<'de> Deserialize<'de> for Diagnostics {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Vec::<RawDiagnostic>::deserialize(deserializer)?;
        let kept = raw
            .into_iter()
            .filter_map(|d| diagnostic(d.urn, None, d.message, d.severity))
            .collect();
        Ok(Diagnostics(kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(json: &str) -> RawState<'_> {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn empty_inputs_and_ids_read_as_absent() {
        let s = state(r#"{"inputs": { }, "outputs": null, "id": ""}"#).into_state("urn:x", "t:m:T");
        assert!(s.inputs.is_none() && s.outputs.is_none() && s.id.is_none());
        assert_eq!((s.urn.as_str(), s.type_.as_str()), ("urn:x", "t:m:T"));
        let s = state(r#"{"inputs": {"a": 1}, "id": "i-1", "urn": "urn:own", "type": "own"}"#)
            .into_state("urn:x", "t:m:T");
        assert_eq!(s.inputs.map(RawValue::get), Some(r#"{"a": 1}"#));
        assert_eq!(
            (s.id.as_deref(), s.urn.as_str(), s.type_.as_str()),
            (Some("i-1"), "urn:own", "own")
        );
    }

    #[test]
    fn property_dependencies_keep_order_and_accept_null() {
        let s = state(r#"{"propertyDependencies": {"tags": null, "role": ["urn:r"], "arn": []}}"#)
            .into_state("u", "t");
        let expected = vec![
            ("tags".to_owned(), vec![]),
            ("role".to_owned(), vec!["urn:r".to_owned()]),
            ("arn".to_owned(), vec![]),
        ];
        assert_eq!(s.property_dependencies, expected);
        assert!(serde_json::from_str::<RawState<'_>>(r#"{"propertyDependencies": [1]}"#).is_err());
    }

    fn parts<'a>(
        op: Op,
        urn: &str,
        old: Option<RawState<'a>>,
        new: Option<RawState<'a>>,
    ) -> StepParts<'a> {
        StepParts {
            op,
            urn: urn.to_owned(),
            type_: None,
            old,
            new,
            replace_reasons: None,
            diff_reasons: None,
        }
    }

    #[test]
    fn step_type_falls_back_from_states_to_urn() {
        let urn =
            "urn:pulumi:dev::p::aws:iam/role:Role$aws:iam/rolePolicy:RolePolicy::rp".to_owned();
        let step = parts(Op::Create, &urn, None, Some(state("{}"))).into_step();
        assert_eq!(step.type_, "aws:iam/rolePolicy:RolePolicy");
        let new = Some(state(r#"{"type": "aws:iam/policy:Policy"}"#));
        let step = parts(Op::Create, &urn, Some(state("{}")), new).into_step();
        assert_eq!(step.type_, "aws:iam/policy:Policy");
        assert_eq!(
            step.old.map(|s| s.type_).as_deref(),
            Some("aws:iam/policy:Policy")
        );
    }

    #[test]
    fn reasons_are_deduplicated_in_order() {
        let reasons = Some(vec!["b".to_owned(), "a".to_owned(), "b".to_owned()]);
        let step = StepParts {
            diff_reasons: reasons,
            ..parts(Op::Update, "u", None, None)
        }
        .into_step();
        assert_eq!(step.diff_reasons, ["b", "a"]);
        assert!(step.replace_reasons.is_empty());
    }
}
