//! The score: points per finding and their noisy-OR aggregation (docs/scoring.md, catalog §6).
//!
//! A finding is reported with its rule's (or the configured) severity, one band lower for a
//! grant on specific resources and one lower under a limiting condition or for a partial path
//! (two for a lint-only finding): `reported_severity`. Its points stay within the band of that
//! severity, placed by who receives the grant and by wildcard resources; full administrator
//! access (every action on every resource, no condition) is 100, the top of the scale. The score
//! is `round(100 × (1 − Π(1 − p/100)))` over the new findings, clamped to at least the floor of
//! the band of the highest single `p` (so the level is never below the worst new finding's
//! severity), at most the top of the band above it, and at most `CEILING` unless full
//! administrator access is among them: every identity policy is a subset of `*` on `*`, so
//! nothing scores above it.

use super::{Category, Confidence, Exposure, Finding, Scope, Severity};
use crate::engine::{Level, Risk};

/// The points of a finding of this (reported) severity before the factors.
pub fn base(severity: Severity) -> f64 {
    match severity {
        Severity::Critical => 90.0,
        Severity::High => 60.0,
        Severity::Medium => 25.0,
        Severity::Low => 8.0,
        Severity::Info => 0.0,
    }
}

/// Wildcard resources weigh a little less than every resource; the band does not change.
pub fn scope_factor(scope: Scope) -> f64 {
    match scope {
        Scope::All => 1.0,
        Scope::Wildcard => 0.9,
        // Pinned resources lower the band itself (`reported_severity`).
        Scope::Pinned => 1.0,
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

/// A lint-only finding weighs little within its band too: many of them do not add up to a
/// higher band quickly.
fn lint_factor(f: &Finding) -> f64 {
    if f.confidence == Confidence::Lint {
        0.3
    } else {
        1.0
    }
}

/// How many bands the scope and the confidence lower a finding's severity.
fn steps_down(f: &Finding) -> u8 {
    let scope = u8::from(f.scope == Scope::Pinned);
    let confidence = match f.confidence {
        Confidence::Direct => 0,
        Confidence::Conditioned | Confidence::Partial => 1,
        Confidence::Lint => 2,
    };
    scope + confidence
}

/// The severity a finding is reported with: its rule's (or the configured) severity, one band
/// lower for a grant on specific resources, one lower under a limiting condition or for a
/// partial path, two lower for a lint-only finding; never below low (info stays info).
pub fn reported_severity(f: &Finding) -> Severity {
    let mut severity = f.severity;
    for _ in 0..steps_down(f) {
        severity = match severity {
            Severity::Critical => Severity::High,
            Severity::High => Severity::Medium,
            Severity::Medium | Severity::Low => Severity::Low,
            Severity::Info => Severity::Info,
        };
    }
    severity
}

/// The highest score of anything short of full administrator access.
pub const CEILING: u8 = 95;

/// The score of full administrator access: the top of the scale.
pub const FULL_ADMIN: u8 = 100;

/// True for full administrator access granted outright: every action on every resource with
/// no condition, at full severity.
fn is_full_admin(f: &Finding) -> bool {
    f.category == Category::AdminAccess
        && f.severity == Severity::Critical
        && f.scope == Scope::All
        && f.confidence == Confidence::Direct
}

fn severity_level(severity: Severity) -> Level {
    match severity {
        Severity::Info => Level::None,
        Severity::Low => Level::Low,
        Severity::Medium => Level::Medium,
        Severity::High => Level::High,
        Severity::Critical => Level::Critical,
    }
}

/// The points of one finding: within the band of its reported severity and at most 95, or 100
/// for full administrator access.
pub fn points(f: &Finding) -> f64 {
    if is_full_admin(f) {
        return f64::from(FULL_ADMIN);
    }
    let severity = reported_severity(f);
    if severity == Severity::Info {
        return 0.0;
    }
    let (floor, top) = band(severity_level(severity));
    let p = base(severity) * scope_factor(f.scope) * exposure_factor(f.exposure) * lint_factor(f);
    p.clamp(f64::from(floor), f64::from(top.min(CEILING)))
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
    let mut admin = false;
    for f in findings {
        let p = points(f);
        admin |= is_full_admin(f);
        keep *= 1.0 - p / 100.0;
        max_p = max_p.max(p);
    }
    if admin {
        return Risk::from_score(FULL_ADMIN);
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
    let score = (raw as u8).clamp(floor.max(1), ceiling.min(CEILING));
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

    #[test]
    fn full_admin_is_the_top_and_nothing_else_reaches_it() {
        let mut admin = finding(
            Severity::Critical,
            Scope::All,
            Exposure::Internal,
            Confidence::Direct,
        );
        admin.category = Category::AdminAccess;
        assert_eq!(aggregate([&admin]).score, 100);
        // ReadOnlyAccess-like: dozens of findings, none of them full admin.
        let many: Vec<Finding> = (0..40)
            .map(|i| {
                let mut f = finding(
                    if i % 2 == 0 {
                        Severity::Critical
                    } else {
                        Severity::High
                    },
                    Scope::All,
                    Exposure::Public,
                    Confidence::Direct,
                );
                f.evidence = i.to_string();
                f
            })
            .collect();
        assert_eq!(aggregate(&many).score, CEILING);
        // Admin under a weak condition (wildcard scope) is not the top either.
        admin.scope = Scope::Wildcard;
        assert!(aggregate([&admin]).score <= CEILING);
    }

    #[test]
    fn reported_severity_steps_down_by_scope_and_confidence() {
        let sev = |scope, confidence| {
            reported_severity(&finding(
                Severity::Critical,
                scope,
                Exposure::Internal,
                confidence,
            ))
        };
        assert_eq!(sev(Scope::All, Confidence::Direct), Severity::Critical);
        assert_eq!(sev(Scope::Wildcard, Confidence::Direct), Severity::Critical);
        assert_eq!(sev(Scope::Pinned, Confidence::Direct), Severity::High);
        assert_eq!(sev(Scope::All, Confidence::Conditioned), Severity::High);
        assert_eq!(sev(Scope::All, Confidence::Partial), Severity::High);
        assert_eq!(
            sev(Scope::Pinned, Confidence::Conditioned),
            Severity::Medium
        );
        assert_eq!(sev(Scope::All, Confidence::Lint), Severity::Medium);
        assert_eq!(sev(Scope::Pinned, Confidence::Lint), Severity::Low);
        let info = finding(
            Severity::Info,
            Scope::Pinned,
            Exposure::Public,
            Confidence::Lint,
        );
        assert_eq!(reported_severity(&info), Severity::Info);
        let low = finding(
            Severity::Low,
            Scope::Pinned,
            Exposure::Internal,
            Confidence::Lint,
        );
        assert_eq!(reported_severity(&low), Severity::Low);
    }

    #[test]
    fn a_service_role_keeps_the_band_of_its_findings() {
        // 25 × 0.9 would fall below medium's floor: exposure places a finding within its band.
        let f = finding(
            Severity::Medium,
            Scope::Wildcard,
            Exposure::Service,
            Confidence::Direct,
        );
        assert_eq!(points(&f), 25.0);
        assert_eq!(aggregate([&f]).level, Level::Medium);
    }

    fn any_finding() -> impl proptest::strategy::Strategy<Value = Finding> {
        use proptest::prelude::*;
        (
            prop::sample::select(Severity::ALL.to_vec()),
            prop::sample::select(vec![Scope::All, Scope::Wildcard, Scope::Pinned]),
            prop::sample::select(vec![
                Exposure::Public,
                Exposure::External,
                Exposure::Internal,
                Exposure::Service,
            ]),
            prop::sample::select(vec![
                Confidence::Direct,
                Confidence::Conditioned,
                Confidence::Partial,
                Confidence::Lint,
            ]),
            any::<bool>(),
        )
            .prop_map(|(severity, scope, exposure, confidence, admin)| {
                let mut f = finding(severity, scope, exposure, confidence);
                if admin {
                    f.category = Category::AdminAccess;
                }
                f
            })
    }

    proptest::proptest! {
        /// The contract: a level is never below its worst new finding; nothing scores above
        /// full administrator access; more findings never lower the score.
        #[test]
        fn the_scale_keeps_its_invariants(
            findings in proptest::collection::vec(any_finding(), 0..12),
            extra in any_finding(),
        ) {
            let risk = aggregate(&findings);
            let worst = findings.iter().map(reported_severity).max().unwrap_or(Severity::Info);
            proptest::prop_assert!(risk.level >= severity_level(worst), "{risk:?} < {worst:?}");
            proptest::prop_assert_eq!(risk.level, Level::of_score(risk.score));
            if findings.iter().any(is_full_admin) {
                proptest::prop_assert_eq!(risk.score, FULL_ADMIN);
            } else {
                proptest::prop_assert!(risk.score <= CEILING);
            }
            let mut more = findings.clone();
            more.push(extra);
            proptest::prop_assert!(aggregate(&more).score >= risk.score);
        }
    }
}
