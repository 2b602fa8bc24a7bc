//! Pulumi preview input: both `pulumi preview --json` forms (the PreviewDigest document and the
//! engine-event stream) decoded into one model of steps. Pure: no I/O; the caller reads the bytes.
//!
//! Resource states keep their `inputs`/`outputs` as borrowed raw JSON so that the large bulk of
//! a preview (non-IAM resources) is never materialized; IAM extraction parses what it needs.
//! This module owns the public model, the reading loop and error positions; it must not
//! interpret properties (that is `engine::iam`).

mod diagnostics;
mod digest;
mod events;
mod value;

use serde_json::value::RawValue;

pub use value::{Marker, SECRET_SIG, UNKNOWN, classify, strip_defaults};
pub use value::{
    OUTPUT_SIG, SECRET_TEXT, SIG_KEY, UNKNOWN_SENTINELS, is_secret, is_unknown_str, parse_props,
};

/// One decoded preview: the logical steps in order, whichever input form they came from.
#[derive(Debug, Clone)]
pub struct Preview<'a> {
    pub form: Form,
    pub steps: Vec<Step<'a>>,
    /// Error and warning diagnostics the preview carried (program errors, provider errors).
    pub diagnostics: Vec<Diagnostic>,
}

/// Which `--json` output form the preview was given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Digest,
    EventStream,
}

/// A logical step of the preview (for a stream: deduplicated resourcePreEvents, with the
/// non-logical replacement steps dropped when a logical `replace` exists for the same URN).
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub op: Op,
    pub urn: String,
    /// The resource type token, e.g. `aws:iam/role:Role`.
    pub type_: String,
    pub old: Option<State<'a>>,
    pub new: Option<State<'a>>,
    /// Keys forcing replacement (`replaceReasons` / `keys`).
    pub replace_reasons: Vec<String>,
    /// Top-level keys that changed (`diffReasons` / `diffs`).
    pub diff_reasons: Vec<String>,
}

/// A resource state (`oldState`/`newState` or `old`/`new`). Inputs and outputs stay raw.
#[derive(Debug, Clone)]
pub struct State<'a> {
    /// The state's URN (the step's when the state does not carry one).
    pub urn: String,
    pub type_: String,
    /// The provider's resource id; `None` when absent or `""` (not created yet).
    pub id: Option<String>,
    /// Checked inputs, raw; `None` when absent, `null` or `{}`. See [`parse_props`].
    pub inputs: Option<&'a RawValue>,
    /// Outputs (live state), raw; `None` when absent, `null` or `{}`.
    pub outputs: Option<&'a RawValue>,
    /// `propertyDependencies` (digest only): input key -> URNs it depends on, in document order.
    pub property_dependencies: Vec<(String, Vec<String>)>,
}

/// An error or warning the preview reported. Color markup is stripped; in a stream the prefix
/// (`warning: `) is folded into the message as the digest does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub urn: Option<String>,
    /// `error` or `warning` (other severities are dropped).
    pub severity: String,
    pub message: String,
}

impl Step<'_> {
    /// The state the change starts from: `None` for ops that bring a resource into being
    /// (`create`, a lone `create-replacement`, `import`...), whatever the event carried.
    pub fn before(&self) -> Option<&State<'_>> {
        self.op.has_before().then_some(self.old.as_ref()).flatten()
    }

    /// The state the change ends in: `None` for ops that remove a resource (`delete`, a lone
    /// `delete-replaced`, `discard`...).
    pub fn after(&self) -> Option<&State<'_>> {
        self.op.has_after().then_some(self.new.as_ref()).flatten()
    }
}

/// Step operations, as the engine names them. Unknown names are kept, never rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Same,
    Create,
    Update,
    Delete,
    Replace,
    CreateReplacement,
    DeleteReplaced,
    Read,
    ReadReplacement,
    Refresh,
    Discard,
    DiscardReplaced,
    RemovePendingReplace,
    Import,
    ImportReplacement,
    Other(String),
}

impl Op {
    pub fn parse(s: &str) -> Op {
        match s {
            "same" => Op::Same,
            "create" => Op::Create,
            "update" => Op::Update,
            "delete" => Op::Delete,
            "replace" => Op::Replace,
            "create-replacement" => Op::CreateReplacement,
            "delete-replaced" => Op::DeleteReplaced,
            "read" => Op::Read,
            "read-replacement" => Op::ReadReplacement,
            "refresh" => Op::Refresh,
            "discard" => Op::Discard,
            "discard-replaced" => Op::DiscardReplaced,
            "remove-pending-replace" => Op::RemovePendingReplace,
            "import" => Op::Import,
            "import-replacement" => Op::ImportReplacement,
            other => Op::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Op::Same => "same",
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::Replace => "replace",
            Op::CreateReplacement => "create-replacement",
            Op::DeleteReplaced => "delete-replaced",
            Op::Read => "read",
            Op::ReadReplacement => "read-replacement",
            Op::Refresh => "refresh",
            Op::Discard => "discard",
            Op::DiscardReplaced => "discard-replaced",
            Op::RemovePendingReplace => "remove-pending-replace",
            Op::Import => "import",
            Op::ImportReplacement => "import-replacement",
            Op::Other(s) => s,
        }
    }

    /// Whether this op is one of the non-logical halves of a replacement (`*-replacement`,
    /// `*-replaced`, including unknown ops named that way).
    pub fn is_replacement_half(&self) -> bool {
        match self {
            Op::CreateReplacement
            | Op::DeleteReplaced
            | Op::ReadReplacement
            | Op::ImportReplacement
            | Op::DiscardReplaced => true,
            Op::Other(s) => s.ends_with("-replacement") || s.ends_with("-replaced"),
            _ => false,
        }
    }

    /// Whether the resource exists before this op (false for create-like ops).
    pub fn has_before(&self) -> bool {
        match self {
            Op::Create | Op::CreateReplacement | Op::Import | Op::ImportReplacement => false,
            Op::Other(s) => !s.ends_with("-replacement"),
            _ => true,
        }
    }

    /// Whether the resource exists after this op (false for delete-like ops).
    pub fn has_after(&self) -> bool {
        match self {
            Op::Delete
            | Op::DeleteReplaced
            | Op::Discard
            | Op::DiscardReplaced
            | Op::RemovePendingReplace => false,
            Op::Other(s) => !s.ends_with("-replaced"),
            _ => true,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Op {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OpVisitor;
        impl serde::de::Visitor<'_> for OpVisitor {
            type Value = Op;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`op` as a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Op, E> {
                Ok(Op::parse(s))
            }
        }
        deserializer.deserialize_str(OpVisitor)
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a preview could not be read: a position in the input (1-based) and a reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub struct PreviewError {
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

/// Decodes a preview in either form, detected from the document itself. A leading UTF-8 BOM and
/// whitespace are skipped (positions are counted after the BOM). Both forms are normalized the
/// same way: one step per (urn, op), no replacement halves beside a logical `replace`.
pub fn parse(input: &[u8]) -> Result<Preview<'_>, PreviewError> {
    let body = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let Some(start) = skip_space(body, 0) else {
        return Err(PreviewError::at(body, body.len(), EMPTY.to_owned()));
    };
    if body[start] != b'{' {
        return Err(non_object(body, start));
    }
    let mut docs = serde_json::Deserializer::from_slice(body).into_iter::<events::Document<'_>>();
    let first = match docs.next() {
        Some(Ok(doc)) => doc,
        Some(Err(e)) => return Err(PreviewError::from_json(&e)),
        None => return Err(PreviewError::at(body, start, EMPTY.to_owned())),
    };
    let first_end = docs.byte_offset();
    match first.form() {
        None => Err(PreviewError::at(body, start, NOT_PREVIEW.to_owned())),
        Some(Form::Digest) => {
            if let Some(extra) = skip_space(body, first_end) {
                let reason = "unexpected content after the PreviewDigest document".to_owned();
                return Err(PreviewError::at(body, extra, reason));
            }
            let steps = events::normalize(first.steps);
            Ok(Preview {
                form: Form::Digest,
                steps,
                diagnostics: first.diagnostics,
            })
        }
        Some(Form::EventStream) => {
            // One compact object per line: a broken line is reported on that line, not on the
            // next line where the JSON parser happens to notice.
            let compact = !body[start..first_end].contains(&b'\n');
            let mut preview = Preview {
                form: Form::EventStream,
                steps: Vec::new(),
                diagnostics: Vec::new(),
            };
            preview.absorb(first);
            loop {
                let begin = docs.byte_offset();
                match docs.next() {
                    None => break,
                    Some(Ok(doc)) => preview.absorb(doc),
                    Some(Err(e)) => return Err(stream_error(body, begin, &e, compact)),
                }
            }
            preview.steps = events::normalize(preview.steps);
            Ok(preview)
        }
    }
}

const EMPTY: &str = "empty input: expected pulumi preview --json output";
const NOT_PREVIEW: &str =
    "not a pulumi preview: expected a PreviewDigest (steps, ...) or an engine-event stream";

impl<'a> Preview<'a> {
    /// Adds one stream event (a pre-event step or an error/warning diagnostic).
    fn absorb(&mut self, doc: events::Document<'a>) {
        self.steps.extend(doc.pre);
        self.diagnostics.extend(doc.diagnostic);
    }
}

/// The first non-whitespace byte at or after `from`.
fn skip_space(body: &[u8], from: usize) -> Option<usize> {
    let rest = body.get(from..)?;
    rest.iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| from + i)
}

/// Input that does not start with `{`: either some other JSON value or not JSON at all.
fn non_object(body: &[u8], start: usize) -> PreviewError {
    match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        Ok(_) => PreviewError::at(body, start, NOT_PREVIEW.to_owned()),
        Err(e) => {
            let reason = format!(
                "not JSON ({}): expected pulumi preview --json output",
                message(&e)
            );
            PreviewError {
                line: e.line().max(1),
                column: e.column().max(1),
                reason,
            }
        }
    }
}

/// A stream object that failed to decode. In a compact stream an object must end on the line
/// where it starts: when that line alone ends inside its object, the broken line is reported
/// (the parser itself would only notice somewhere on a later line).
fn stream_error(body: &[u8], begin: usize, e: &serde_json::Error, compact: bool) -> PreviewError {
    let Some(object_start) = skip_space(body, begin).filter(|_| compact) else {
        return PreviewError::from_json(e);
    };
    let line_end = body[object_start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(body.len(), |i| object_start + i);
    match serde_json::from_slice::<serde::de::IgnoredAny>(&body[object_start..line_end]) {
        Err(alone) if alone.is_eof() => {
            let reason = format!(
                "broken event: the line ends inside its JSON object ({})",
                message(&alone)
            );
            PreviewError::at(body, line_end, reason)
        }
        _ => PreviewError::from_json(e),
    }
}

/// 1-based (line, column) of a byte offset; columns count bytes, as serde_json's do.
fn position(body: &[u8], offset: usize) -> (usize, usize) {
    let before = &body[..offset.min(body.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, before.len() - line_start + 1)
}

/// serde_json's message without its own " at line L column C" suffix.
fn message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

impl PreviewError {
    fn at(body: &[u8], offset: usize, reason: String) -> PreviewError {
        let (line, column) = position(body, offset);
        PreviewError {
            line,
            column,
            reason,
        }
    }

    fn from_json(e: &serde_json::Error) -> PreviewError {
        use serde_json::error::Category;
        let msg = message(e);
        let reason = match e.classify() {
            Category::Eof => {
                format!("truncated document: the input ends inside a JSON value ({msg})")
            }
            Category::Syntax => format!("not valid JSON: {msg}"),
            // Only steps have required fields (`op`, `urn`, and an event's `metadata`).
            Category::Data if msg.starts_with("missing field") => {
                format!("not a valid pulumi preview: a step lacks a required field ({msg})")
            }
            Category::Data | Category::Io => format!("not a valid pulumi preview: {msg}"),
        };
        PreviewError {
            line: e.line().max(1),
            column: e.column().max(1),
            reason,
        }
    }
}

/// The type token of a URN (`urn:pulumi:stack::project::parentType$type::name` -> `type`).
pub fn urn_type(urn: &str) -> Option<&str> {
    let (qualified, _) = urn_parts(urn)?;
    qualified.rsplit('$').next().filter(|t| !t.is_empty())
}

/// The resource name of a URN (everything after the type; names may contain `::`).
pub fn urn_name(urn: &str) -> Option<&str> {
    urn_parts(urn).map(|(_, name)| name)
}

fn urn_parts(urn: &str) -> Option<(&str, &str)> {
    let mut parts = urn.strip_prefix("urn:pulumi:")?.splitn(4, "::");
    let (_stack, _project) = (parts.next()?, parts.next()?);
    Some((parts.next()?, parts.next()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/previews/",
                $name
            ))
        };
    }

    const EC2_REPLACE: &[u8] = fixture!("pulumi-display-ec2-replace-preview.events.ndjson");
    const EKS_CREATES: &[u8] = fixture!("pulumi-display-eks-iam-creates-up.events.ndjson");
    const EKS_PREVIEW: &[u8] = fixture!("pulumi-display-eks-iam-preview.events.ndjson");
    const SECRET: &[u8] = fixture!("pulumi-display-secret-delete-replaced-up.events.ndjson");
    const UNKNOWNS: &[u8] = fixture!("pulumi-lifecycletest-unknowns-preview.events.ndjson");
    const PITFALL: &[u8] = fixture!("pitfall-aws-s3-tags-update-secret.preview.json");
    const CREATES: &[u8] = fixture!("stratify-aws-lambda-iam-creates.preview.json");
    const DELETES: &[u8] = fixture!("stratify-aws-lambda-iam-deletes.preview.json");
    const SHOW_SAMES: &[u8] = fixture!("stratify-aws-lambda-iam-update-show-sames.preview.json");

    fn ok(input: &[u8]) -> Preview<'_> {
        parse(input).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(input: &[u8]) -> PreviewError {
        match parse(input) {
            Ok(p) => panic!("expected an error, got {} steps", p.steps.len()),
            Err(e) => e,
        }
    }

    fn ops<'p>(preview: &'p Preview<'_>) -> Vec<&'p str> {
        preview.steps.iter().map(|s| s.op.as_str()).collect()
    }

    fn count(preview: &Preview<'_>, op: &Op) -> usize {
        preview.steps.iter().filter(|s| &s.op == op).count()
    }

    fn props(raw: Option<&RawValue>) -> Value {
        raw.map(|r| parse_props(r).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or(Value::Null)
    }

    fn state_shape(s: &State<'_>) -> Value {
        json!({"urn": s.urn, "type": s.type_, "id": s.id, "inputs": props(s.inputs),
               "outputs": props(s.outputs), "deps": s.property_dependencies})
    }

    /// Everything a step says, in comparable form (raw text differs between layouts).
    fn shape(step: &Step<'_>) -> Value {
        json!({"op": step.op.as_str(), "urn": step.urn, "type": step.type_,
               "old": step.old.as_ref().map(state_shape), "new": step.new.as_ref().map(state_shape),
               "replace": step.replace_reasons, "diffs": step.diff_reasons})
    }

    fn shapes(preview: &Preview<'_>) -> Vec<Value> {
        preview.steps.iter().map(shape).collect()
    }

    fn find<'p, 'a>(preview: &'p Preview<'a>, op: &Op, urn_suffix: &str) -> &'p Step<'a> {
        preview
            .steps
            .iter()
            .find(|s| &s.op == op && s.urn.ends_with(urn_suffix))
            .unwrap_or_else(|| panic!("no {op} step for {urn_suffix}"))
    }

    fn lines(input: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(input).unwrap_or_else(|e| panic!("{e}"));
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn digest_fixtures_parse_with_their_steps() {
        let creates = ok(CREATES);
        assert_eq!(creates.form, Form::Digest);
        assert_eq!(creates.steps.len(), 16);
        assert_eq!(count(&creates, &Op::Create), 16);
        assert!(
            creates
                .steps
                .iter()
                .all(|s| s.old.is_none() && s.new.is_some())
        );
        assert!(creates.diagnostics.is_empty());

        let deletes = ok(DELETES);
        assert_eq!(
            (deletes.steps.len(), count(&deletes, &Op::Delete)),
            (16, 14)
        );
        assert_eq!(count(&deletes, &Op::Same), 2);
        let role = find(&deletes, &Op::Delete, "aws:iam/role:Role::docsHandler");
        assert!(role.after().is_none() && role.before().is_some());
        let outputs = props(role.old.as_ref().and_then(|s| s.outputs));
        assert!(
            outputs["assumeRolePolicy"]
                .as_str()
                .is_some_and(|p| p.contains("lambda.amazonaws.com"))
        );

        let sames = ok(SHOW_SAMES);
        assert_eq!(
            (count(&sames, &Op::Same), count(&sames, &Op::Update)),
            (15, 1)
        );
        let update = find(&sames, &Op::Update, "");
        assert_eq!(update.diff_reasons, ["code"]);

        let pitfall = ok(PITFALL);
        assert_eq!(ops(&pitfall), ["same", "update"]);
        let bucket = &pitfall.steps[1];
        assert_eq!(bucket.type_, "aws:s3/bucket:Bucket");
        assert_eq!(bucket.diff_reasons, ["tags"]);
        let new_inputs = props(bucket.new.as_ref().and_then(|s| s.inputs));
        assert!(new_inputs.get("__defaults").is_none(), "defaults stripped");
        let secret_tags: Vec<&Value> = new_inputs["tags"]
            .as_object()
            .map(|m| m.values().filter(|v| is_secret(v)).collect())
            .unwrap_or_default();
        assert_eq!(secret_tags.len(), 1);
        // Old CLIs write `null` dependency lists.
        let deps = &bucket.new.as_ref().map(|s| s.property_dependencies.clone());
        assert_eq!(deps.as_deref(), Some(&[("tags".to_owned(), vec![])][..]));
    }

    #[test]
    fn digest_attachment_has_unknown_role_and_its_dependency() {
        let creates = ok(CREATES);
        let att = find(
            &creates,
            &Op::Create,
            "RolePolicyAttachment::docsHandler-a1de8170",
        );
        assert_eq!(
            att.type_,
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
        );
        let new = att
            .after()
            .unwrap_or_else(|| panic!("create has an after state"));
        let inputs = props(new.inputs);
        assert_eq!(classify(&inputs["role"]), Marker::Unknown);
        assert_eq!(classify(&inputs["policyArn"]), Marker::Known);
        let role_deps: Vec<&String> = new
            .property_dependencies
            .iter()
            .filter(|(k, _)| k == "role")
            .flat_map(|(_, v)| v)
            .collect();
        assert_eq!(role_deps.len(), 1);
        assert_eq!(urn_type(role_deps[0]), Some("aws:iam/role:Role"));
        assert_eq!(new.id, None);
    }

    #[test]
    fn ec2_replace_stream_gives_one_logical_replace() {
        let p = ok(EC2_REPLACE);
        assert_eq!(p.form, Form::EventStream);
        assert_eq!(ops(&p), ["same", "same", "replace"]);
        let replace = &p.steps[2];
        assert_eq!(replace.type_, "aws:ec2/instance:Instance");
        assert_eq!(replace.replace_reasons, ["userData"]);
        assert_eq!(replace.diff_reasons, ["userData"]);
        let (old, new) = (replace.before(), replace.after());
        assert!(old.is_some_and(|s| s.id.is_some()) && new.is_some());
        assert_ne!(
            props(old.and_then(|s| s.inputs))["userData"],
            props(new.and_then(|s| s.inputs))["userData"]
        );
    }

    #[test]
    fn lone_replacement_halves_keep_their_state() {
        // Keep only the create-replacement line of the ec2 stream: no logical replace remains.
        let text = std::str::from_utf8(EC2_REPLACE).unwrap_or_default();
        let lone: String = text
            .lines()
            .filter(|l| {
                !l.contains(r#""op":"replace""#) && !l.contains(r#""op":"delete-replaced""#)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let p = ok(lone.as_bytes());
        assert_eq!(ops(&p), ["same", "same", "create-replacement"]);
        let half = &p.steps[2];
        assert!(
            half.before().is_none(),
            "a lone create-replacement behaves as a create"
        );
        assert!(half.after().is_some_and(|s| s.inputs.is_some()));

        let secret = ok(SECRET);
        assert_eq!(ops(&secret), ["same", "update", "delete-replaced"]);
        let deleted = &secret.steps[2];
        assert!(
            deleted.after().is_none(),
            "a lone delete-replaced behaves as a delete"
        );
        let old_inputs = props(deleted.before().and_then(|s| s.inputs));
        assert_eq!(old_inputs["bar"], "bar9");
    }

    #[test]
    fn eks_stream_dedupes_pre_events_and_keeps_iam_resources() {
        let p = ok(EKS_PREVIEW);
        assert_eq!(p.steps.len(), 58);
        assert_eq!((count(&p, &Op::Same), count(&p, &Op::Update)), (57, 1));
        let roles = p
            .steps
            .iter()
            .filter(|s| s.type_ == "aws:iam/role:Role")
            .count();
        let attachments = p
            .steps
            .iter()
            .filter(|s| s.type_.ends_with("RolePolicyAttachment"))
            .count();
        assert_eq!((roles, attachments), (2, 5));
        // The first of the duplicated pre-events is the one kept.
        let update = find(&p, &Op::Update, "cluster-nodes");
        let body = props(update.old.as_ref().and_then(|s| s.inputs))["templateBody"].clone();
        assert!(body.as_str().is_some_and(|b| !b.starts_with("#foo")));

        let up = ok(EKS_CREATES);
        assert_eq!(ops(&up), ["create"; 6]);
        let role = find(&up, &Op::Create, "aws:iam/role:Role::eks-role");
        let policy = props(role.new.as_ref().and_then(|s| s.inputs))["assumeRolePolicy"].clone();
        assert!(
            policy
                .as_str()
                .is_some_and(|p| p.contains("eks.amazonaws.com"))
        );
        assert!(role.old.is_none(), "`old: null` is no state");
    }

    #[test]
    fn secret_and_unknown_inputs_classify() {
        let secret = ok(SECRET);
        let update = find(&secret, &Op::Update, "test-x");
        let inputs = props(update.old.as_ref().and_then(|s| s.inputs));
        assert_eq!(classify(&inputs["__provider"]), Marker::Secret);
        assert_eq!(classify(&inputs["quux"]), Marker::Known);

        let unknowns = ok(UNKNOWNS);
        assert_eq!(ops(&unknowns), ["update", "update", "same", "delete"]);
        let provider = find(&unknowns, &Op::Update, "provA");
        assert_eq!(provider.type_, "pulumi:providers:pkgA");
        assert_eq!(
            classify(&props(provider.new.as_ref().and_then(|s| s.inputs))["foo"]),
            Marker::Unknown
        );
        assert_eq!(
            classify(&props(provider.old.as_ref().and_then(|s| s.inputs))["foo"]),
            Marker::Known
        );
        let same = find(&unknowns, &Op::Same, "resB");
        assert!(
            same.new
                .as_ref()
                .is_some_and(|s| s.inputs.is_none() && s.outputs.is_none())
        );
        assert_eq!(unknowns.diagnostics.len(), 1);
        let warning = &unknowns.diagnostics[0];
        assert_eq!(
            (warning.severity.as_str(), warning.urn.as_deref()),
            ("warning", Some("urn:pulumi:test::test::pkgA:m:typA::resA"))
        );
        assert!(
            warning
                .message
                .starts_with("warning: The provider for this resource"),
            "{}",
            warning.message
        );
        assert!(!warning.message.contains("<{%"));
    }

    #[test]
    fn pretty_printed_stream_equals_compact() {
        for fixture in [EKS_PREVIEW, EC2_REPLACE, UNKNOWNS, SECRET] {
            let pretty: String = lines(fixture)
                .iter()
                .map(|v| serde_json::to_string_pretty(v).unwrap() + "\n")
                .collect();
            let (compact, pretty) = (ok(fixture), ok(pretty.as_bytes()));
            assert_eq!(pretty.form, Form::EventStream);
            assert_eq!(shapes(&pretty), shapes(&compact));
            assert_eq!(pretty.diagnostics, compact.diagnostics);
        }
    }

    /// The digest a CLI would print for the same pre-events: renamed keys, empty values omitted.
    fn as_digest(stream: &[u8]) -> String {
        let steps: Vec<Value> = lines(stream)
            .into_iter()
            .filter_map(|mut event| {
                event
                    .get_mut("resourcePreEvent")
                    .map(|p| p["metadata"].take())
            })
            .map(|m| {
                let state = |s: &Value| {
                    let mut s = s.clone();
                    if let Some(map) = s.as_object_mut() {
                        map.retain(|_, v| v != &json!("") && v != &json!({}));
                    }
                    s
                };
                let mut step = json!({"op": m["op"], "urn": m["urn"], "detailedDiff": null});
                if !m["old"].is_null() {
                    step["oldState"] = state(&m["old"]);
                }
                if !m["new"].is_null() {
                    step["newState"] = state(&m["new"]);
                }
                for (from, to) in [("keys", "replaceReasons"), ("diffs", "diffReasons")] {
                    if !m[from].is_null() {
                        step[to] = m[from].clone();
                    }
                }
                if let Some(dd) = m["detailedDiff"].as_object() {
                    let kinds = dd.iter().map(|(k, d)| {
                        (
                            k.clone(),
                            json!({"kind": d["diffKind"], "inputDiff": d["inputDiff"]}),
                        )
                    });
                    step["detailedDiff"] = Value::Object(kinds.collect());
                }
                step
            })
            .collect();
        serde_json::to_string_pretty(&json!({"config": {}, "steps": steps})).unwrap()
    }

    #[test]
    fn digest_and_stream_shapes_give_the_same_steps() {
        for fixture in [EC2_REPLACE, EKS_PREVIEW, EKS_CREATES, SECRET, UNKNOWNS] {
            let digest = as_digest(fixture);
            let (from_stream, from_digest) = (ok(fixture), ok(digest.as_bytes()));
            assert_eq!(from_digest.form, Form::Digest);
            assert_eq!(shapes(&from_digest), shapes(&from_stream));
        }
        // A stream without `type` in the metadata takes it from the state, then from the URN.
        let no_type = br#"{"sequence":1,"timestamp":0,"resourcePreEvent":{"metadata":{"op":"create","urn":"urn:pulumi:s::p::aws:iam/role:Role$aws:iam/policy:Policy::pol","new":{"inputs":{}}}}}"#;
        let p = ok(no_type);
        assert_eq!(p.steps[0].type_, "aws:iam/policy:Policy");
        assert_eq!(
            p.steps[0].new.as_ref().map(|s| s.urn.as_str()),
            Some(p.steps[0].urn.as_str())
        );
    }

    #[test]
    fn accepts_bom_whitespace_empty_digest_and_unknown_keys() {
        let mut bom = b"\xEF\xBB\xBF \n".to_vec();
        bom.extend_from_slice(UNKNOWNS);
        assert_eq!(ok(&bom).steps.len(), 4);
        let empty = ok(b" {} \n");
        assert_eq!((empty.form, empty.steps.len()), (Form::Digest, 0));
        let future = br#"{"steps":[{"op":"teleport","urn":"urn:pulumi:s::p::a:b:C::n","newState":{"type":"a:b:C","hooks":{"x":[1]}},"detailedDiff":{"x":{"kind":"add"}},"extra":1}],"newTopLevel":true}"#;
        let p = ok(future);
        assert_eq!(p.steps[0].op, Op::Other("teleport".into()));
        let unknown_event = br#"{"sequence":3,"timestamp":0,"teleportEvent":{"op":"x"}}
{"sequence":4,"timestamp":0,"resourcePreEvent":{"metadata":{"op":"read","urn":"urn:pulumi:s::p::a:b:C::n","type":"a:b:C","old":null,"new":null,"detailedDiff":null}}}"#;
        let p = ok(unknown_event);
        assert_eq!((p.form, ops(&p)), (Form::EventStream, vec!["read"]));
        let diags = br#"{"steps":[],"diagnostics":[{"message":"boom","severity":"error"},{"message":"hi","severity":"info"}]}"#;
        let p = ok(diags);
        assert_eq!(
            p.diagnostics,
            [Diagnostic {
                urn: None,
                severity: "error".into(),
                message: "boom".into()
            }]
        );
    }

    #[test]
    fn errors_name_the_problem_and_its_position() {
        for empty in [&b""[..], b"  \n\t ", b"\xEF\xBB\xBF"] {
            let e = err(empty);
            assert_eq!(e.reason, EMPTY);
        }
        let e = err(b"Previewing update (dev):\n");
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.reason.starts_with("not JSON"), "{}", e.reason);

        for neither in [
            &b"{\"foo\": 1}"[..],
            b"  [1, 2]",
            b"\"steps\"",
            b"{\"sequence\": 1}",
        ] {
            let e = err(neither);
            assert_eq!((e.line, e.reason.as_str()), (1, NOT_PREVIEW));
        }

        let half = &CREATES[..CREATES.len() / 2];
        let e = err(half);
        assert!(e.reason.starts_with("truncated document"), "{}", e.reason);
        assert_eq!(e.line, half.iter().filter(|&&b| b == b'\n').count() + 1);

        let no_op = b"{\n    \"steps\": [\n        {\n            \"urn\": \"urn:pulumi:s::p::a:b:C::n\"\n        }\n    ]\n}";
        let e = err(no_op);
        assert_eq!((e.line, e.column), (5, 9));
        assert!(
            e.reason
                .contains("a step lacks a required field (missing field `op`)"),
            "{}",
            e.reason
        );
        let no_urn = b"{\"steps\": [{\"op\": \"create\", \"urn\": \"urn:pulumi:s::p::a:b:C::n\"},\n {\"op\": \"create\"}]}";
        let e = err(no_urn);
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("missing field `urn`"), "{}", e.reason);

        let e = err(b"{\n    \"steps\": 3\n}");
        assert_eq!((e.line, e.column), (2, 14));
        assert!(
            e.reason
                .contains("expected `steps` as a list of step objects"),
            "{}",
            e.reason
        );
        let e = err(br#"{"steps": [{"op": 1, "urn": "u"}]}"#);
        assert!(e.reason.contains("`op` as a string"), "{}", e.reason);

        let e = err(b"{\"steps\": []}\n{\"steps\": []}");
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.reason.contains("after the PreviewDigest"), "{}", e.reason);
    }

    #[test]
    fn a_broken_stream_line_is_reported_on_that_line() {
        let text = std::str::from_utf8(UNKNOWNS).unwrap_or_default();
        let broken: Vec<String> = text.lines().map(str::to_owned).collect();
        for cut in [120, 60] {
            // The third line ends inside its object (inside a string, or between values).
            let mut broken = broken.clone();
            broken[2].truncate(cut);
            let e = err(broken.join("\n").as_bytes());
            assert_eq!((e.line, e.column), (3, cut + 1));
            assert!(
                e.reason.starts_with("broken event: the line ends inside"),
                "{}",
                e.reason
            );
        }

        let garbled = text.replacen(
            r#"{"sequence":0,"timestamp":0,"diagnosticEvent""#,
            r#"{"sequence":0,"timestamp":0 "diagnosticEvent""#,
            1,
        );
        let e = err(garbled.as_bytes());
        assert_eq!((e.line, e.column), (4, 29));
        assert!(e.reason.starts_with("not valid JSON"), "{}", e.reason);

        let missing_op = br#"{"sequence":1,"timestamp":0,"preludeEvent":{"config":{}}}
{"sequence":2,"timestamp":0,"resourcePreEvent":{"metadata":{"urn":"urn:pulumi:s::p::a:b:C::n"}}}"#;
        let e = err(missing_op);
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("missing field `op`"), "{}", e.reason);

        // At the very end of the input (no newline after it) the object is simply truncated.
        let cut = &UNKNOWNS[..UNKNOWNS.len() - 10];
        let e = err(cut);
        assert!(
            e.reason.starts_with("truncated document") || e.reason.starts_with("broken event"),
            "{}",
            e.reason
        );
        assert_eq!(e.line, cut.iter().filter(|&&b| b == b'\n').count() + 1);
    }

    #[test]
    fn urn_helpers_split_type_and_name() {
        let urn = "urn:pulumi:dev::proj::aws:s3/bucket:Bucket$aws:iam/role:Role::my::role";
        assert_eq!(urn_type(urn), Some("aws:iam/role:Role"));
        assert_eq!(urn_name(urn), Some("my::role"));
        assert_eq!(
            urn_type("urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"),
            Some("pulumi:pulumi:Stack")
        );
        assert_eq!(urn_type("urn:pulumi:dev::proj::aws:iam/role:Role"), None);
        assert_eq!(urn_name("not-a-urn"), None);
        assert_eq!(urn_type("urn:pulumi:dev::proj::::n"), None);
    }

    #[test]
    fn ops_round_trip_and_know_their_effect() {
        for name in [
            "same",
            "create",
            "delete-replaced",
            "discard-replaced",
            "import-replacement",
            "x",
        ] {
            assert_eq!(Op::parse(name).as_str(), name);
        }
        assert!(Op::parse("future-replacement").is_replacement_half());
        assert!(
            !Op::RemovePendingReplace.is_replacement_half() && !Op::Replace.is_replacement_half()
        );
        assert!(!Op::Create.has_before() && Op::Create.has_after());
        assert!(Op::Delete.has_before() && !Op::Delete.has_after());
        assert!(Op::Replace.has_before() && Op::Replace.has_after());
        assert!(!Op::Import.has_before() && !Op::Other("x-replaced".into()).has_after());
    }

    /// Times a ~50 MB preview of each form against serde_json parsing it into a `Value`.
    /// Run with `cargo test --release --lib engine::preview -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing; run in release"]
    fn large_previews_parse_within_1_5x_of_serde_value() {
        let digest: Value = serde_json::from_slice(CREATES).unwrap();
        let steps = digest["steps"].as_array().cloned().unwrap_or_default();
        let mut big = Vec::new();
        while big.len() * CREATES.len() / steps.len().max(1) < 50 * 1024 * 1024 {
            big.extend(steps.iter().cloned());
        }
        let big_digest = serde_json::to_vec_pretty(&json!({"config": {}, "steps": big})).unwrap();
        let events = lines(EKS_PREVIEW);
        let mut big_stream = Vec::new();
        while big_stream.len() < 50 * 1024 * 1024 {
            for event in &events {
                serde_json::to_writer(&mut big_stream, event).unwrap();
                big_stream.push(b'\n');
            }
        }
        for (name, input, lines_of_values) in [
            ("digest", &big_digest, false),
            ("stream", &big_stream, true),
        ] {
            let best = |f: &dyn Fn() -> usize| {
                (0..5)
                    .map(|_| {
                        let start = std::time::Instant::now();
                        std::hint::black_box(f());
                        start.elapsed()
                    })
                    .min()
                    .unwrap()
            };
            let value_time = best(&|| {
                if lines_of_values {
                    let values = serde_json::Deserializer::from_slice(input).into_iter::<Value>();
                    values.map(|v| v.unwrap().is_object() as usize).sum()
                } else {
                    serde_json::from_slice::<Value>(input).unwrap().is_object() as usize
                }
            });
            let parse_time = best(&|| parse(input).unwrap().steps.len());
            let ratio = parse_time.as_secs_f64() / value_time.as_secs_f64();
            println!(
                "{name}: {} MB, Value {value_time:?}, parse {parse_time:?}, ratio {ratio:.2}",
                input.len() >> 20
            );
            assert!(
                ratio <= 1.5,
                "{name}: parse takes {ratio:.2}x serde_json::Value"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn truncations_never_panic(fixture in 0usize..4, cut in 0.0f64..1.0) {
            let input = [CREATES, PITFALL, UNKNOWNS, SECRET][fixture];
            let end = ((input.len() as f64) * cut) as usize;
            let result = parse(&input[..end]);
            let cuts_content = input[end..].iter().any(|b| !b.is_ascii_whitespace());
            if fixture < 2 && cuts_content {
                prop_assert!(result.is_err(), "a cut digest is never a preview");
            }
        }

        #[test]
        fn byte_flips_never_panic(at in 0usize..5761, byte in any::<u8>()) {
            let mut input = UNKNOWNS.to_vec();
            let at = at % input.len();
            input[at] = byte;
            let _ = parse(&input);
        }
    }
}
