//! The pure core: preview parsing, IAM extraction, normalization, diff, risk and reports.
//! No I/O and no async: `iamgate analyze` and the server share it.

pub mod diff;
pub mod iam;
pub mod outcome;
pub mod preview;
pub mod report;
pub mod risk;

pub use outcome::StackOutcome;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use self::diff::ChangeText;
use self::preview::{Op, Preview};
use self::risk::{EvalCtx, Finding, RiskConfig, Severity};

/// The risk bands of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::None,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The band a 0-100 score falls in: 0 none; 1-24 low; 25-49 medium; 50-79 high; 80-100 critical.
    pub fn of_score(score: u8) -> Level {
        match score {
            0 => Level::None,
            1..=24 => Level::Low,
            25..=49 => Level::Medium,
            50..=79 => Level::High,
            _ => Level::Critical,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 0-100 score with its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Risk {
    pub score: u8,
    pub level: Level,
}

impl Risk {
    pub const NONE: Risk = Risk {
        score: 0,
        level: Level::None,
    };

    pub fn from_score(score: u8) -> Risk {
        Risk {
            score,
            level: Level::of_score(score),
        }
    }
}

/// A step whose IAM-relevant properties change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    pub urn: String,
    pub type_: String,
    pub op: Op,
    /// Risk of the new findings reported on this resource.
    pub risk: Risk,
    /// Canonical pretty JSON of the IAM-relevant properties, before and after (None: absent).
    pub before: Option<String>,
    pub after: Option<String>,
    /// Unified diff of `before` -> `after`.
    pub diff: String,
}

/// A finding as reported: whether this change introduces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub finding: Finding,
    /// True when absent before, or its severity rose.
    pub new: bool,
    /// The severity it had before, when it existed before.
    pub before: Option<Severity>,
}

/// The complete result of analyzing one preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub risk: Risk,
    pub resources: Vec<ResourceChange>,
    /// Findings of the after state (new and pre-existing), most severe first.
    pub findings: Vec<Reported>,
    /// Findings of the before state that the change removes or weakens.
    pub improvements: Vec<Reported>,
    /// The fingerprint of the whole normalized IAM change.
    pub fingerprint: diff::Fingerprint,
    /// Error diagnostics of the preview (a failed preview is not a clean one).
    pub errors: Vec<String>,
}

/// Analyzes one preview: extraction, both states through the rules, the delta, the score, the
/// per-resource diffs and the fingerprint.
pub fn analyze(preview: &Preview<'_>, config: &RiskConfig) -> Analysis {
    let ex = iam::extract::extract(preview);
    // The stack's own accounts are never external, even when the config does not list them.
    let mut config = config.clone();
    config
        .trusted_accounts
        .extend(ex.home_accounts.iter().cloned());
    let ctx = EvalCtx { config: &config };
    let ((before, after), change) = rayon::join(
        || {
            rayon::join(
                || risk::evaluate(&ex.before, ctx),
                || risk::evaluate(&ex.after, ctx),
            )
        },
        || risk::evaluate_change(&ex.before, &ex.after, ctx),
    );
    let (before, change) = risk::with_unanalyzed(before, change, &ex.unanalyzed, ctx);
    let delta = risk::delta::compare(before, after, change);
    let risk = risk::score::aggregate(delta.new_findings());

    // The states are no longer needed; they are freed after the diffs, on this thread.
    let iam::extract::Extraction {
        before: before_state,
        after: after_state,
        resources: all_resources,
        ..
    } = ex;
    let (fingerprint, resources) = changes(all_resources, &delta);
    let delta = delta.into_reported();
    drop(before_state);
    drop(after_state);
    let errors = preview
        .diagnostics
        .iter()
        .filter(|d| d.severity == "error")
        .map(|d| d.message.clone())
        .collect();
    Analysis {
        risk,
        resources,
        findings: delta.findings,
        improvements: delta.improvements,
        fingerprint,
        errors,
    }
}

/// The fingerprint of the changed resources and their per-resource diffs and risks.
fn changes(
    all: Vec<iam::extract::ResourceIam>,
    delta: &risk::delta::Delta,
) -> (diff::Fingerprint, Vec<ResourceChange>) {
    let changed: Vec<iam::extract::ResourceIam> = all.into_iter().filter(|r| r.changed()).collect();
    let fingerprint = diff::fingerprint_texts(
        &changed
            .iter()
            .map(|r| ChangeText {
                urn: &r.urn,
                before: r.before.as_ref().map(|c| c.compact.as_str()),
                after: r.after.as_ref().map(|c| c.compact.as_str()),
            })
            .collect::<Vec<_>>(),
    );
    // The new findings of each resource, in report order (the score depends on the order).
    let mut new_by_resource: HashMap<&str, Vec<&Finding>> = HashMap::new();
    for f in delta.new_findings() {
        new_by_resource
            .entry(f.resource.as_str())
            .or_default()
            .push(f);
    }
    let resources = changed
        .into_par_iter()
        .map(|r| {
            let before = r.before.map(|c| c.pretty);
            let after = r.after.map(|c| c.pretty);
            let diff = diff::unified(before.as_deref(), after.as_deref());
            let risk = risk::score::aggregate(
                new_by_resource
                    .get(r.urn.as_str())
                    .into_iter()
                    .flatten()
                    .copied(),
            );
            ResourceChange {
                urn: r.urn,
                type_: r.type_,
                op: r.op,
                risk,
                before,
                after,
                diff,
            }
        })
        .collect();
    (fingerprint, resources)
}
