//! The canonical IAM policy model. A `Policy` is always in canonical form: statements sorted and
//! merged, lists sorted and deduplicated, action names in the database's casing, Sid dropped from
//! equality. Parsing and normalization live in `normalize`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A policy-bearing property value as the preview gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Document {
    /// A parsed, canonical policy, shared: the same text read for both states, or a standalone
    /// policy attached to several principals, is held once.
    Known(Arc<Policy>),
    /// Computed during preview (the unknown sentinel): known only after apply.
    Unknown,
    /// A secret value: opaque.
    Secret,
    /// Not a valid policy document: the reason, for the `malformed` finding.
    Malformed(String),
}

impl Document {
    pub fn known(&self) -> Option<&Policy> {
        match self {
            Document::Known(p) => Some(p),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// `Action`/`NotAction`, `Resource`/`NotResource`: a sorted set of names, positive or negated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameSpec {
    Only(BTreeSet<String>),
    Not(BTreeSet<String>),
}

impl NameSpec {
    pub fn names(&self) -> &BTreeSet<String> {
        match self {
            NameSpec::Only(s) | NameSpec::Not(s) => s,
        }
    }
    pub fn is_negated(&self) -> bool {
        matches!(self, NameSpec::Not(_))
    }
    /// True for a positive spec that contains `*`.
    pub fn is_star(&self) -> bool {
        matches!(self, NameSpec::Only(s) if s.contains("*"))
    }
}

/// `Principal`/`NotPrincipal`: kind (`AWS`, `Service`, `Federated`, `CanonicalUser`) to values.
/// `"Principal": "*"` is stored as `{"AWS": ["*"]}`; a bare account id as its root ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrincipalSpec {
    pub negated: bool,
    pub entries: BTreeMap<String, BTreeSet<String>>,
}

impl PrincipalSpec {
    pub fn values(&self, kind: &str) -> impl Iterator<Item = &str> {
        self.entries
            .get(kind)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
    /// Every principal value with its kind.
    pub fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())))
    }
}

/// Condition operator (as written, e.g. `StringLike`, `ForAnyValue:StringEquals`,
/// `ArnLikeIfExists`) -> condition key (lowercased) -> sorted values (as strings).
pub type Conditions = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Statement {
    pub effect: Effect,
    pub principal: Option<PrincipalSpec>,
    pub action: NameSpec,
    pub resource: Option<NameSpec>,
    pub condition: Conditions,
}

impl Statement {
    /// Resource `*` (or absent, as in trust policies) and no Condition at all.
    pub fn is_unconditional_star(&self) -> bool {
        self.condition.is_empty() && self.resource.as_ref().is_none_or(NameSpec::is_star)
    }
}

/// A policy document in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Policy {
    /// `2012-10-17` or `2008-10-17` (the default when absent).
    pub version: String,
    pub statements: Vec<Statement>,
    /// Structural problems found while reading it (statements that were dropped, bad values).
    /// They do not take part in equality of the effective policy but are reported as findings.
    pub problems: Vec<String>,
}

/// The text that stands for a value computed during preview, inside a known document.
pub const UNKNOWN_TEXT: &str = "<unknown until apply>";
