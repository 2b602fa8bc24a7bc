//! The delta: which findings of the after state this change introduces. A finding is new when its
//! key (rule, subject, evidence) is absent before or its severity as reported rose (so widening a
//! grant from one bucket to every bucket is new). Findings of the before state that disappear or
//! weaken are improvements: listed, never offsetting new risk.

use std::collections::HashMap;

use super::score::reported_severity;
use super::{Finding, Severity};
use crate::engine::Reported;

/// After-state findings with their `new` flag, and the improvements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub findings: Vec<Reported>,
    pub improvements: Vec<Reported>,
}

impl Delta {
    pub fn new_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|r| r.new).map(|r| &r.finding)
    }
}

/// Compares the findings of the two states; `change` holds findings about the change itself
/// (guardrails removed), which are new by definition.
pub fn compare(before: Vec<Finding>, after: Vec<Finding>, change: Vec<Finding>) -> Delta {
    let mut before_sev: HashMap<(&str, &str, &str), Severity> = HashMap::new();
    for f in &before {
        let sev = reported_severity(f);
        let e = before_sev.entry(f.key()).or_insert(sev);
        *e = (*e).max(sev);
    }
    let mut after_sev: HashMap<(&str, &str, &str), Severity> = HashMap::new();
    for f in &after {
        let sev = reported_severity(f);
        let e = after_sev.entry(f.key()).or_insert(sev);
        *e = (*e).max(sev);
    }

    let improvements: Vec<Reported> = before
        .iter()
        .filter(|f| {
            after_sev
                .get(&f.key())
                .is_none_or(|sev| *sev < reported_severity(f))
        })
        .map(|f| Reported {
            finding: f.clone(),
            new: false,
            before: Some(reported_severity(f)),
        })
        .collect();

    let mut findings: Vec<Reported> = after
        .iter()
        .map(|f| {
            let prior = before_sev.get(&f.key()).copied();
            Reported {
                finding: f.clone(),
                new: prior.is_none_or(|sev| reported_severity(f) > sev),
                before: prior,
            }
        })
        .collect();
    findings.extend(change.into_iter().map(|f| Reported {
        finding: f,
        new: true,
        before: None,
    }));
    findings.sort_by(|a, b| {
        reported_severity(&b.finding)
            .cmp(&reported_severity(&a.finding))
            .then_with(|| b.new.cmp(&a.new))
            .then_with(|| a.finding.rule_id.cmp(b.finding.rule_id))
            .then_with(|| a.finding.subject.cmp(&b.finding.subject))
    });
    Delta {
        findings,
        improvements,
    }
}

impl Delta {
    /// Gives every finding the severity it is reported with (`score::reported_severity`). The
    /// scores are computed first: a finding's points come from its rule's severity.
    pub fn into_reported(mut self) -> Delta {
        for r in self.findings.iter_mut().chain(self.improvements.iter_mut()) {
            r.finding.severity = reported_severity(&r.finding);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::risk::{Category, Confidence, Exposure, Scope};

    fn f(rule: &'static str, subject: &str, severity: Severity) -> Finding {
        Finding {
            rule_id: rule,
            category: Category::Wildcard,
            severity,
            resource: format!("urn:{subject}"),
            subject: subject.into(),
            evidence: "e".into(),
            message: String::new(),
            scope: Scope::All,
            exposure: Exposure::Internal,
            confidence: Confidence::Direct,
        }
    }

    #[test]
    fn unchanged_findings_are_not_new() {
        let d = compare(
            vec![f("A", "r", Severity::High)],
            vec![f("A", "r", Severity::High)],
            vec![],
        );
        assert_eq!(d.findings.len(), 1);
        assert!(!d.findings[0].new);
        assert!(d.improvements.is_empty());
    }

    #[test]
    fn a_finding_absent_before_is_new() {
        let d = compare(vec![], vec![f("A", "r", Severity::Low)], vec![]);
        assert!(d.findings[0].new);
        assert_eq!(d.findings[0].before, None);
    }

    #[test]
    fn a_raised_severity_is_new_and_a_lowered_one_is_an_improvement() {
        let raised = compare(
            vec![f("A", "r", Severity::Medium)],
            vec![f("A", "r", Severity::Critical)],
            vec![],
        );
        assert!(raised.findings[0].new);
        assert_eq!(raised.findings[0].before, Some(Severity::Medium));
        let lowered = compare(
            vec![f("A", "r", Severity::Critical)],
            vec![f("A", "r", Severity::Medium)],
            vec![],
        );
        assert!(!lowered.findings[0].new);
        assert_eq!(lowered.improvements.len(), 1);
    }

    #[test]
    fn removed_risk_is_an_improvement_and_does_not_hide_new_risk() {
        let d = compare(
            vec![f("A", "old", Severity::Critical)],
            vec![f("B", "new", Severity::High)],
            vec![],
        );
        assert_eq!(d.improvements.len(), 1);
        assert_eq!(d.new_findings().count(), 1);
    }

    #[test]
    fn change_findings_are_always_new() {
        let d = compare(vec![], vec![], vec![f("GR", "r", Severity::High)]);
        assert!(d.findings[0].new);
    }
}
