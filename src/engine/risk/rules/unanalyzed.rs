//! Rules: the steps that change a resource of an IAM-relevant type iamgate does not model
//! (`iam::unmodeled`), one rule per cloud, medium by default so that a human reviews them. A
//! step that writes such a resource is new risk; deleting one is new risk only when the type can
//! restrict access (a guardrail may go away), otherwise it removes access and is listed as such.
//! The family reads steps, not states: nothing is known of what these resources grant.

use crate::engine::iam::extract::{Change, UnanalyzedStep};
use crate::engine::iam::unmodeled::{Cloud, Removal};
use crate::engine::risk::{Confidence, Exposure, Finding, Rule, Scope};

mod rules;

pub use self::rules::RULES;
use self::rules::{AWS_001, AZURE_001, GCP_001, K8S_001};

/// The rule of a cloud.
pub fn rule(cloud: Cloud) -> &'static Rule {
    match cloud {
        Cloud::Aws => &AWS_001,
        Cloud::Gcp => &GCP_001,
        Cloud::Azure => &AZURE_001,
        Cloud::Kubernetes => &K8S_001,
    }
}

/// One finding per step: about the change (`change`, always new), or, for the deletion of a type
/// that only grants, of the before state (`before`, which the delta lists as an improvement).
pub fn check(steps: &[UnanalyzedStep], before: &mut Vec<Finding>, change: &mut Vec<Finding>) {
    for step in steps {
        let row = step.row;
        let subject = match row.property {
            Some(p) => format!("the `{p}` input of `{}`", step.type_),
            None => format!("`{}`", step.type_),
        };
        let (message, out) = match (step.change, row.removal) {
            (Change::Writes, _) => (
                format!(
                    "iamgate does not model {subject} ({}): this {} is not analyzed, so a human must review what it grants.",
                    row.what, step.op
                ),
                &mut *change,
            ),
            (Change::Removes, Removal::Governs) => (
                format!(
                    "iamgate does not model {subject} ({}). Such a resource can restrict access, so this {} may lift a guardrail: a human must review it.",
                    row.what, step.op
                ),
                &mut *change,
            ),
            (Change::Removes, Removal::Grants) => (
                format!(
                    "iamgate does not model {subject} ({}); this {} removes it and the access it granted.",
                    row.what, step.op
                ),
                &mut *before,
            ),
        };
        let rule = rule(row.cloud);
        out.push(Finding {
            rule_id: rule.id,
            category: rule.category,
            severity: rule.severity,
            resource: step.urn.clone(),
            subject: step.urn.clone(),
            evidence: match row.property {
                Some(p) => format!("{}.{p}", step.type_),
                None => step.type_.clone(),
            },
            message,
            // Nothing is known of the grant: it counts as a direct one, so that the default
            // severity is the level it gives (medium: review required).
            scope: Scope::All,
            exposure: Exposure::Internal,
            confidence: Confidence::Direct,
        });
    }
}

#[cfg(test)]
mod tests;
