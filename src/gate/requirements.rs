//! Requirements: each `reviews[]` entry of `.iamgate.yml` whose `when` holds for this change
//! (every given condition must hold) becomes a requirement. A change with no IAM effect triggers
//! none; a change to `.iamgate.yml` itself counts as high risk.

use globset::{Glob, GlobSetBuilder};

use crate::config::repo::{RepoConfig, ReviewRule, StackConfig};
use crate::engine::{Analysis, Level, StackOutcome};

/// Everything the gate needs to know about a pull request's change.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub stacks: Vec<(&'a StackConfig, StackOutcome<&'a Analysis>)>,
    pub changed_paths: &'a [String],
    /// The pull request edits `.iamgate.yml`: the guardrails themselves change.
    pub config_changed: bool,
}

impl Change<'_> {
    /// Whether the change alters IAM in any stack (or the guardrails).
    pub fn changes_iam(&self) -> bool {
        self.config_changed
            || self.stacks.iter().any(|(_, r)| match r {
                StackOutcome::Analyzed(a) => {
                    !a.resources.is_empty() || a.findings.iter().any(|f| f.new)
                }
                StackOutcome::Failed { .. } | StackOutcome::NotRun { .. } => false,
            })
    }

    /// The overall level: the highest stack level, at least high when the config changes.
    pub fn level(&self) -> Level {
        let stacks = self.stacks.iter().filter_map(|(_, r)| match r {
            StackOutcome::Analyzed(a) => Some(a.risk.level),
            _ => None,
        });
        let floor = if self.config_changed {
            Level::High
        } else {
            Level::None
        };
        stacks.fold(floor, Level::max)
    }

    fn analyses(&self) -> impl Iterator<Item = (&StackConfig, &Analysis)> {
        self.stacks.iter().filter_map(|(s, r)| match r {
            StackOutcome::Analyzed(a) => Some((*s, *a)),
            _ => None,
        })
    }
}

/// A triggered requirement: the review entry and why it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triggered<'c> {
    pub review: &'c ReviewRule,
    /// Human-readable reasons, e.g. `risk high ≥ high`, `category public-exposure`.
    pub because: Vec<String>,
}

/// The requirements a change triggers, in config order.
pub fn triggered<'c>(config: &'c RepoConfig, change: &Change<'_>) -> Vec<Triggered<'c>> {
    if !change.changes_iam() {
        return Vec::new();
    }
    config
        .reviews
        .iter()
        .filter_map(|review| matches(review, change).map(|because| Triggered { review, because }))
        .collect()
}

/// Every given condition must hold; returns the reasons when they do.
fn matches(review: &ReviewRule, change: &Change<'_>) -> Option<Vec<String>> {
    let when = &review.when;
    let mut because = Vec::new();
    if let Some(min) = when.min_risk {
        let level = change.level();
        if level < min {
            return None;
        }
        because.push(format!("risk {level} ≥ {min}"));
    }
    let new_findings = || {
        change
            .analyses()
            .flat_map(|(_, a)| a.findings.iter().filter(|f| f.new))
    };
    if !when.categories.is_empty() {
        let hit: Vec<&str> = when
            .categories
            .iter()
            .filter(|c| new_findings().any(|f| f.finding.category == **c))
            .map(|c| c.as_str())
            .collect();
        if hit.is_empty() {
            return None;
        }
        because.push(format!("category {}", hit.join(", ")));
    }
    if !when.rules.is_empty() {
        let hit: Vec<&str> = when
            .rules
            .iter()
            .filter(|r| new_findings().any(|f| f.finding.rule_id == r.as_str()))
            .map(String::as_str)
            .collect();
        if hit.is_empty() {
            return None;
        }
        because.push(format!("rule {}", hit.join(", ")));
    }
    if !when.stacks.is_empty() {
        let hit: Vec<&str> = change
            .analyses()
            .filter(|(s, a)| {
                when.stacks.contains(&s.name)
                    && (!a.resources.is_empty() || a.findings.iter().any(|f| f.new))
            })
            .map(|(s, _)| s.name.as_str())
            .collect();
        if hit.is_empty() {
            return None;
        }
        because.push(format!("stack {}", hit.join(", ")));
    }
    if !when.resource_types.is_empty() {
        let set = glob_set(&when.resource_types)?;
        let mut hit: Vec<&str> = change
            .analyses()
            .flat_map(|(_, a)| a.resources.iter())
            .map(|r| r.type_.as_str())
            .filter(|t| set.is_match(t))
            .collect();
        hit.sort_unstable();
        hit.dedup();
        if hit.is_empty() {
            return None;
        }
        because.push(format!("resource type {}", hit.join(", ")));
    }
    if !when.paths.is_empty() {
        let set = glob_set(&when.paths)?;
        let hit = change
            .changed_paths
            .iter()
            .filter(|p| set.is_match(p.as_str()))
            .count();
        if hit == 0 {
            return None;
        }
        because.push(format!(
            "{hit} changed file(s) under {}",
            when.paths.join(", ")
        ));
    }
    if because.is_empty() {
        because.push("any IAM change".to_owned());
    }
    Some(because)
}

/// A glob set over `/`-separated paths or type tokens; `None` when a pattern is invalid (the
/// config validation rejects those, so this only guards against drift).
pub fn glob_set(patterns: &[String]) -> Option<globset::GlobSet> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).ok()?);
    }
    b.build().ok()
}

/// The stacks whose `paths` match at least one changed file.
pub fn selected_stacks<'c>(
    config: &'c RepoConfig,
    changed_paths: &[String],
) -> Vec<&'c StackConfig> {
    config
        .stacks
        .iter()
        .filter(|s| {
            glob_set(&s.paths)
                .is_some_and(|set| changed_paths.iter().any(|p| set.is_match(p.as_str())))
        })
        .collect()
}
