//! What became of one stack: analyzed, failed, or deliberately not previewed. One type from the
//! job that produces it to the gate that judges it and the report that shows it.

use super::Analysis;

/// One stack's outcome. `A` is how the analysis is held: owned (`Box<Analysis>`) by whoever
/// produced it, borrowed (`&Analysis`, see [`StackOutcome::as_ref`]) by the gate and the report.
#[derive(Debug, Clone)]
pub enum StackOutcome<A = Box<Analysis>> {
    Analyzed(A),
    /// The preview or the analysis failed; `reason` is shown as is (escaped) and should say how
    /// to fix it. The gate fails closed.
    Failed {
        reason: String,
    },
    /// Deliberately not previewed (a fork's code is not run; a repository the server does not
    /// serve); `reason` says why and what to do, `summary` says it in one line (the status).
    /// Not a failure of the analysis, and not a result either.
    NotRun {
        reason: String,
        summary: String,
    },
}

impl StackOutcome {
    /// The same outcome, borrowing the analysis.
    pub fn as_ref(&self) -> StackOutcome<&Analysis> {
        match self {
            StackOutcome::Analyzed(analysis) => StackOutcome::Analyzed(analysis),
            StackOutcome::Failed { reason } => StackOutcome::Failed {
                reason: reason.clone(),
            },
            StackOutcome::NotRun { reason, summary } => StackOutcome::NotRun {
                reason: reason.clone(),
                summary: summary.clone(),
            },
        }
    }
}

impl<A> StackOutcome<A> {
    /// The analysis, when there is one.
    pub fn analysis(&self) -> Option<&A> {
        match self {
            StackOutcome::Analyzed(analysis) => Some(analysis),
            StackOutcome::Failed { .. } | StackOutcome::NotRun { .. } => None,
        }
    }
}
