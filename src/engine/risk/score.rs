//! The score: points per finding and their noisy-OR aggregation (docs/scoring.md, catalog §6).
//!
//! `p = base[severity] × scope × exposure × confidence`, clipped to [0, 95]; the score is
//! `round(100 × (1 − Π(1 − p/100)))` over the new findings, then clamped to at least the floor of
//! the band of the highest single `p` and at most the top of the band above it.

use super::{Confidence, Exposure, Finding, Scope, Severity};
use crate::engine::{Level, Risk};

pub fn base(severity: Severity) -> f64 {
    match severity {
        Severity::Critical => 90.0,
        Severity::High => 60.0,
        Severity::Medium => 25.0,
        Severity::Low => 8.0,
        Severity::Info => 0.0,
    }
}

pub fn scope_factor(scope: Scope) -> f64 {
    match scope {
        Scope::All => 1.0,
        Scope::Wildcard => 0.8,
        Scope::Pinned => 0.5,
    }
}

pub fn exposure_factor(exposure: Exposure) -> f64 {
    match exposure {
        Exposure::Public => 1.3,
        Exposure::External => 1.15,
        Exposure::Internal => 1.0,
        Exposure::Service => 0.9,
    }
}

pub fn confidence_factor(confidence: Confidence) -> f64 {
    match confidence {
        Confidence::Direct => 1.0,
        Confidence::Conditioned => 0.6,
        Confidence::Partial => 0.5,
        Confidence::Lint => 0.3,
    }
}

/// The points of one finding, in [0, 95].
pub fn points(f: &Finding) -> f64 {
    let p = base(f.severity)
        * scope_factor(f.scope)
        * exposure_factor(f.exposure)
        * confidence_factor(f.confidence);
    p.clamp(0.0, 95.0)
}

fn band(level: Level) -> (u8, u8) {
    match level {
        Level::None => (0, 0),
        Level::Low => (1, 24),
        Level::Medium => (25, 49),
        Level::High => (50, 79),
        Level::Critical => (80, 100),
    }
}

fn next(level: Level) -> Level {
    match level {
        Level::None => Level::Low,
        Level::Low => Level::Medium,
        Level::Medium => Level::High,
        Level::High | Level::Critical => Level::Critical,
    }
}

/// The aggregate risk of a set of new findings.
pub fn aggregate<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Risk {
    let mut keep = 1.0_f64;
    let mut max_p = 0.0_f64;
    for f in findings {
        let p = points(f);
        keep *= 1.0 - p / 100.0;
        max_p = max_p.max(p);
    }
    let raw = (100.0 * (1.0 - keep)).round();
    let top = max_p.round();
    if top <= 0.0 && raw <= 0.0 {
        return Risk::NONE;
    }
    // Both are within 0..=100 by construction; the casts cannot truncate.
    let top_level = Level::of_score(top.max(1.0) as u8);
    let (floor, _) = band(top_level);
    let (_, ceiling) = band(next(top_level));
    let score = (raw as u8).clamp(floor.max(1), ceiling);
    Risk::from_score(score)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::risk::Category;

    fn finding(
        severity: Severity,
        scope: Scope,
        exposure: Exposure,
        confidence: Confidence,
    ) -> Finding {
        Finding {
            rule_id: "T",
            category: Category::Wildcard,
            severity,
            resource: "urn".into(),
            subject: "s".into(),
            evidence: format!("{severity:?}{scope:?}{exposure:?}{confidence:?}"),
            message: String::new(),
            scope,
            exposure,
            confidence,
        }
    }

    #[test]
    fn nothing_new_scores_zero() {
        assert_eq!(aggregate([]), Risk::NONE);
        let info = finding(
            Severity::Info,
            Scope::All,
            Exposure::Internal,
            Confidence::Direct,
        );
        assert_eq!(aggregate([&info]), Risk::NONE);
    }

    #[test]
    fn catalog_example_critical_plus_medium_is_93() {
        let pe = finding(
            Severity::Critical,
            Scope::All,
            Exposure::Internal,
            Confidence::Direct,
        );
        let dx = finding(
            Severity::Medium,
            Scope::All,
            Exposure::Internal,
            Confidence::Direct,
        );
        let r = aggregate([&pe, &dx]);
        assert_eq!(r.score, 93);
        assert_eq!(r.level, Level::Critical);
    }

    #[test]
    fn catalog_example_medium_plus_low_is_31() {
        let wc = finding(
            Severity::Medium,
            Scope::All,
            Exposure::Internal,
            Confidence::Direct,
        );
        let tag = finding(
            Severity::Low,
            Scope::All,
            Exposure::Internal,
            Confidence::Direct,
        );
        let r = aggregate([&wc, &tag]);
        assert_eq!(r.score, 31);
        assert_eq!(r.level, Level::Medium);
    }

    #[test]
    fn one_critical_is_never_below_80() {
        let pe = finding(
            Severity::Critical,
            Scope::All,
            Exposure::Internal,
            Confidence::Direct,
        );
        assert!(aggregate([&pe]).score >= 80);
    }

    #[test]
    fn many_mediums_cannot_read_critical() {
        let many: Vec<Finding> = (0..20)
            .map(|i| {
                let mut f = finding(
                    Severity::Medium,
                    Scope::All,
                    Exposure::Internal,
                    Confidence::Direct,
                );
                f.evidence = i.to_string();
                f
            })
            .collect();
        let r = aggregate(&many);
        assert_eq!(r.level, Level::High);
        assert_eq!(r.score, 79);
    }

    #[test]
    fn a_low_finding_scores_low_not_none() {
        let lint = finding(
            Severity::Low,
            Scope::Pinned,
            Exposure::Internal,
            Confidence::Lint,
        );
        let r = aggregate([&lint]);
        assert_eq!(r.level, Level::Low);
        assert!(r.score >= 1);
    }

    #[test]
    fn points_are_clipped_at_95() {
        let public = finding(
            Severity::Critical,
            Scope::All,
            Exposure::Public,
            Confidence::Direct,
        );
        assert_eq!(points(&public), 95.0);
    }
}
