//! Risk: the rule catalog, the rules (by family, over one `IamState`), the delta between the
//! before and after findings, and the score. Pure: no I/O.

pub mod catalog;
pub mod conditions;
pub mod delta;
pub mod effective;
pub mod rules;
pub mod score;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::engine::iam::IamState;
use crate::engine::iam::extract::UnanalyzedStep;

/// Finding severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// One step up, capped at critical.
    pub fn raised(self) -> Severity {
        match self {
            Severity::Info => Severity::Low,
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The contract's category vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    AdminAccess,
    PrivilegeEscalation,
    PermissionsManagement,
    DataExfiltration,
    CredentialsExposure,
    PublicExposure,
    CrossAccount,
    TrustPolicy,
    Wildcard,
    GuardrailRemoved,
    UnknownValue,
    Malformed,
    Unanalyzed,
}

impl Category {
    pub const ALL: [Category; 13] = [
        Category::AdminAccess,
        Category::PrivilegeEscalation,
        Category::PermissionsManagement,
        Category::DataExfiltration,
        Category::CredentialsExposure,
        Category::PublicExposure,
        Category::CrossAccount,
        Category::TrustPolicy,
        Category::Wildcard,
        Category::GuardrailRemoved,
        Category::UnknownValue,
        Category::Malformed,
        Category::Unanalyzed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::AdminAccess => "admin-access",
            Category::PrivilegeEscalation => "privilege-escalation",
            Category::PermissionsManagement => "permissions-management",
            Category::DataExfiltration => "data-exfiltration",
            Category::CredentialsExposure => "credentials-exposure",
            Category::PublicExposure => "public-exposure",
            Category::CrossAccount => "cross-account",
            Category::TrustPolicy => "trust-policy",
            Category::Wildcard => "wildcard",
            Category::GuardrailRemoved => "guardrail-removed",
            Category::UnknownValue => "unknown-value",
            Category::Malformed => "malformed",
            Category::Unanalyzed => "unanalyzed",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule of the catalog. Everything a user needs to understand and fix a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// One line: what the rule detects.
    pub title: &'static str,
    /// Why it matters: the attack it enables.
    pub rationale: &'static str,
    /// A minimal policy (or resource) that triggers it.
    pub example: &'static str,
    /// How to fix it.
    pub remediation: &'static str,
}

/// How much of the account a grant covers (catalog §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// `Resource: "*"`, whole account.
    All,
    /// Wildcard ARNs.
    Wildcard,
    /// Pinned ARNs or a single resource.
    Pinned,
}

/// Who receives the grant (catalog §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exposure {
    Public,
    External,
    Internal,
    Service,
}

/// How sure the finding is (catalog §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// A complete path or a direct grant.
    Direct,
    /// A limiting condition is present.
    Conditioned,
    /// A partial path (e.g. PassRole alone).
    Partial,
    /// A lint-only finding.
    Lint,
}

/// One rule firing on one subject in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule_id: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// The URN the finding is reported on.
    pub resource: String,
    /// What the finding is about: `role/name`, a resource URN, a principal pattern.
    pub subject: String,
    /// The normalized evidence (sorted core actions, principal value, ...). With `rule_id` and
    /// `subject` it forms the finding's identity across before and after.
    pub evidence: String,
    /// Human-readable, one or two sentences. Preview text in it is escaped by the reports.
    pub message: String,
    pub scope: Scope,
    pub exposure: Exposure,
    pub confidence: Confidence,
}

impl Finding {
    /// Identity of the finding across the before and after states.
    pub fn key(&self) -> (&str, &str, &str) {
        (self.rule_id, &self.subject, &self.evidence)
    }
}

/// The `risk:` section of `.iamgate.yml`, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskConfig {
    /// Rule ids that never fire.
    pub disable: BTreeSet<String>,
    /// Rule id -> severity that replaces the rule's default (and its computed severity).
    pub severity: std::collections::BTreeMap<String, Severity>,
    /// Accounts that count as ours: cross-account rules do not fire for them.
    pub trusted_accounts: BTreeSet<String>,
    /// Google Cloud email domains that count as ours (lowercase; subdomains included): a
    /// member outside them is reported by GCP-XA-001. Consumer domains (gmail.com) never do.
    pub trusted_domains: BTreeSet<String>,
    /// ARNs (with `*` and `?` wildcards) of resources whose every grant is reported
    /// (AWS-RE-003): the state bucket, the production keys, the deploy role.
    pub sensitive_resources: Vec<String>,
}

/// What rules get besides the state.
#[derive(Debug, Clone, Copy)]
pub struct EvalCtx<'a> {
    pub config: &'a RiskConfig,
}

/// Runs every rule over one state. Disabled rules are dropped and severity overrides applied.
pub fn evaluate(state: &IamState, ctx: EvalCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    rules::check_all(state, ctx, &mut out);
    configured(out, ctx.config)
}

/// Runs the rules about the change itself (guardrails removed): every finding is new.
pub fn evaluate_change(before: &IamState, after: &IamState, ctx: EvalCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    rules::guardrail::check_change(before, after, ctx, &mut out);
    configured(out, ctx.config)
}

/// Adds the findings on the steps of IAM-relevant types iamgate does not model to the findings
/// of the before state and to those about the change: a step that writes such a resource, or
/// deletes one that can restrict access, is about the change (always new); deleting one that
/// only grants is a finding of the before state, so it is listed as an improvement.
pub fn with_unanalyzed(
    before: Vec<Finding>,
    change: Vec<Finding>,
    steps: &[UnanalyzedStep],
    ctx: EvalCtx<'_>,
) -> (Vec<Finding>, Vec<Finding>) {
    if steps.is_empty() {
        return (before, change);
    }
    let (mut before, mut change) = (before, change);
    rules::unanalyzed::check(steps, &mut before, &mut change);
    (
        configured(before, ctx.config),
        configured(change, ctx.config),
    )
}

/// Applies the `risk:` config (disable, severity overrides), then sorts and deduplicates.
fn configured(mut out: Vec<Finding>, config: &RiskConfig) -> Vec<Finding> {
    out.retain(|f| !config.disable.contains(f.rule_id));
    for f in &mut out {
        if let Some(sev) = config.severity.get(f.rule_id) {
            f.severity = *sev;
        }
    }
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule_id.cmp(b.rule_id))
            .then_with(|| a.subject.cmp(&b.subject))
            .then_with(|| a.evidence.cmp(&b.evidence))
            .then_with(|| a.resource.cmp(&b.resource))
    });
    out.dedup_by(|a, b| a.key() == b.key() && a.resource == b.resource);
    out
}
