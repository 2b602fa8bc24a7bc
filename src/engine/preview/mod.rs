//! Pulumi preview input: both `pulumi preview --json` forms (the PreviewDigest document and the
//! engine-event stream) decoded into one model of steps. Pure: no I/O; the caller reads the bytes.
//!
//! Resource states keep their `inputs`/`outputs` as borrowed raw JSON so that the large bulk of
//! a preview (non-IAM resources) is never materialized; IAM extraction parses what it needs.

mod digest;
mod events;
mod value;

use serde_json::value::RawValue;

pub use value::{Marker, SECRET_SIG, UNKNOWN, classify, strip_defaults};

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
    pub type_: String,
    pub inputs: Option<&'a RawValue>,
    pub outputs: Option<&'a RawValue>,
    /// `propertyDependencies` (digest only): input key -> URNs it depends on.
    pub property_dependencies: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub urn: Option<String>,
    pub severity: String,
    pub message: String,
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

    /// Whether this op is one of the non-logical halves of a replacement.
    pub fn is_replacement_half(&self) -> bool {
        matches!(
            self,
            Op::CreateReplacement | Op::DeleteReplaced | Op::ReadReplacement | Op::ImportReplacement
        )
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

/// Decodes a preview in either form. The form is detected from the document itself.
pub fn parse(input: &[u8]) -> Result<Preview<'_>, PreviewError> {
    match detect(input)? {
        Form::Digest => digest::parse(input),
        Form::EventStream => events::parse(input),
    }
}

/// Tells the two forms apart by the first object's keys: a stream event always has `sequence`
/// and one `*Event` key; a digest has `steps`, `config`, `diagnostics`, ... or nothing at all.
fn detect(input: &[u8]) -> Result<Form, PreviewError> {
    events::detect(input)
}
