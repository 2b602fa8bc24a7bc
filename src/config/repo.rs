//! The repository config, `.iamgate.yml`: parsed raw (YAML), then validated into `RepoConfig`,
//! collecting every problem with its key path. Missing and broken are different cases, decided
//! by the caller (a missing file is "not enrolled").

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::{Mapping, Value};

use super::problems::Problems;
use crate::engine::Level;
use crate::engine::risk::{Category, RiskConfig, Severity, catalog};

/// Where the repository config lives, from the repository root.
pub const FILE_PATH: &str = ".iamgate.yml";

/// A validated `.iamgate.yml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoConfig {
    pub stacks: Vec<StackConfig>,
    /// `ci`: who may submit previews of `preview: ci` stacks.
    pub ci: CiConfig,
    pub reviews: Vec<ReviewRule>,
    pub allow_author_approval: bool,
    pub invalidate_approvals: Invalidation,
    pub overrides: Reviewers,
    pub risk: RiskConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackConfig {
    pub name: String,
    pub dir: String,
    pub stack: String,
    /// Globs over changed file paths; default `**` (a program can import code from anywhere in
    /// the repository, so narrowing is an explicit choice).
    pub paths: Vec<String>,
    /// Who runs the preview: iamgate (default) or a CI job that submits it.
    pub preview: PreviewSource,
}

/// `stacks[].preview`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PreviewSource {
    /// iamgate runs `pulumi preview` itself, in its sandbox.
    #[default]
    Server,
    /// A CI job runs it and submits the output (`POST /api/v1/previews`, `iamgate submit`).
    Ci,
}

impl PreviewSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PreviewSource::Server => "server",
            PreviewSource::Ci => "ci",
        }
    }
}

/// `ci`: the CI definitions allowed to submit previews.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiConfig {
    /// Globs matched against the ID token's workflow (GitHub `job_workflow_ref`, else
    /// `workflow_ref`; GitLab `ci_config_ref_uri`); empty: any workflow of the repository.
    pub workflows: Vec<String>,
}

impl CiConfig {
    /// Whether `workflow` (as the ID token names it) may submit previews.
    pub fn allows(&self, workflow: &str) -> bool {
        self.workflows.is_empty()
            || self.workflows.iter().any(|pattern| {
                globset::GlobBuilder::new(pattern)
                    .literal_separator(true)
                    .build()
                    .is_ok_and(|glob| glob.compile_matcher().is_match(workflow))
            })
    }
}

/// The default `paths` of a stack: every file.
pub const ALL_PATHS: &str = "**";

/// Notes on a valid config that weakens the gate without being wrong: each stack whose `paths`
/// narrow which changes are previewed (a change outside them, such as a shared module the program
/// imports or the root `package.json`, is never previewed), and `preview: ci` stacks without
/// `ci.workflows` (any workflow of the repository may submit their previews, including one a
/// pull request adds or edits).
pub fn notes(config: &RepoConfig) -> Vec<String> {
    let mut notes = paths_notes(config);
    let ci_stacks: Vec<&str> = config
        .stacks
        .iter()
        .filter(|s| s.preview == PreviewSource::Ci)
        .map(|s| s.name.as_str())
        .collect();
    if !ci_stacks.is_empty() && config.ci.workflows.is_empty() {
        notes.push(format!(
            "stacks {} are `preview: ci` and `ci.workflows` is not set: any workflow of the repository may \
             submit their previews, including one a pull request adds or edits (a `pull_request` workflow runs \
             the pull request's own copy), which could submit a preview with no IAM change. Pin `ci.workflows` \
             to a reusable workflow called at the default branch (docs/ci-previews.md).",
            ci_stacks.join(", ")
        ));
    }
    notes
}

fn paths_notes(config: &RepoConfig) -> Vec<String> {
    config
        .stacks
        .iter()
        .enumerate()
        .filter(|(_, stack)| !stack.paths.iter().any(|p| p == ALL_PATHS))
        .map(|(i, stack)| {
            format!(
                "stacks[{i}].paths ({}) narrows which changes stack `{}` is previewed for: a pull request \
                 that changes only other files (a shared module its program imports, the root package.json) \
                 is never previewed and passes as \"no IAM change\". Leave `paths` out (every file) unless \
                 the program truly imports nothing outside them.",
                stack.paths.join(", "),
                stack.name
            )
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRule {
    pub name: String,
    pub when: When,
    pub approvals: u32,
    pub from: Reviewers,
}

/// Conditions of a review requirement; all given conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct When {
    pub min_risk: Option<Level>,
    pub categories: Vec<Category>,
    pub rules: Vec<String>,
    pub stacks: Vec<String>,
    pub resource_types: Vec<String>,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reviewers {
    /// `org/slug` (GitHub) or group full paths (GitLab).
    pub teams: Vec<String>,
    pub users: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    OnIamChange,
    OnPush,
}

/// Parses the file as the forge returns it: [`parse`] once the bytes are known to be UTF-8.
pub fn parse_bytes(bytes: &[u8]) -> Result<RepoConfig, Problems> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(_) => {
            let mut problems = Problems::default();
            problems.push("", "the file is not UTF-8 text");
            Err(problems)
        }
    }
}

/// Parses and validates `.iamgate.yml` text.
pub fn parse(text: &str) -> Result<RepoConfig, Problems> {
    let mut problems = Problems::default();
    let doc: Value = match serde_norway::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let mut p = Problems::default();
            p.0.push(super::problems::Problem {
                path: String::new(),
                line: e.location().map(|l| l.line()),
                message: format!("not valid YAML: {e}"),
            });
            return Err(p);
        }
    };
    let Some(root) = doc.as_mapping() else {
        problems.push("", "expected a mapping with `version: 1` and `stacks`");
        return Err(problems);
    };
    let mut r = Reader {
        problems: &mut problems,
    };
    r.known_keys(
        "",
        root,
        &[
            "version",
            "stacks",
            "reviews",
            "allow_author_approval",
            "invalidate_approvals",
            "overrides",
            "risk",
            "ci",
        ],
    );
    match root.get("version") {
        Some(v) if v.as_u64() == Some(1) => {}
        Some(_) => r.problem("version", "unsupported version: expected 1"),
        None => r.problem("version", "missing: add `version: 1`"),
    }
    let stacks = r.list("stacks", root.get("stacks"), true, |r, path, v| {
        r.stack(path, v)
    });
    let mut names = BTreeSet::new();
    for (i, s) in stacks.iter().enumerate() {
        if !names.insert(s.name.clone()) {
            r.problem(
                &format!("stacks[{i}].name"),
                format!("duplicate stack name `{}`", s.name),
            );
        }
    }
    let reviews = r.list("reviews", root.get("reviews"), false, |r, path, v| {
        r.review(path, v)
    });
    let allow_author_approval = r
        .bool("allow_author_approval", root.get("allow_author_approval"))
        .unwrap_or(false);
    let invalidate_approvals = match root.get("invalidate_approvals") {
        None => Invalidation::OnIamChange,
        Some(v) => match v.as_str() {
            Some("on_iam_change") => Invalidation::OnIamChange,
            Some("on_push") => Invalidation::OnPush,
            _ => {
                r.problem(
                    "invalidate_approvals",
                    "expected `on_iam_change` or `on_push`",
                );
                Invalidation::OnIamChange
            }
        },
    };
    let overrides = match root.get("overrides") {
        None => Reviewers::default(),
        Some(v) => r.reviewers("overrides", v),
    };
    let risk = match root.get("risk") {
        None => RiskConfig::default(),
        Some(v) => r.risk("risk", v),
    };
    let ci = match root.get("ci") {
        None => CiConfig::default(),
        Some(v) => r.ci("ci", v),
    };
    for (i, review) in reviews.iter().enumerate() {
        for (j, s) in review.when.stacks.iter().enumerate() {
            if !names.contains(s) {
                r.problem(
                    &format!("reviews[{i}].when.stacks[{j}]"),
                    format!("no stack named `{s}` in `stacks`"),
                );
            }
        }
    }
    if !problems.is_empty() {
        let lines = super::yaml_lines::key_lines(text);
        for p in &mut problems.0 {
            if p.line.is_none() {
                p.line = super::yaml_lines::line_of(&lines, &p.path);
            }
        }
        return Err(problems);
    }
    Ok(RepoConfig {
        stacks,
        ci,
        reviews,
        allow_author_approval,
        invalidate_approvals,
        overrides,
        risk,
    })
}

/// Only the `risk:` section, for `iamgate analyze --config`: the rest of the file is validated
/// too (a broken config is never half-applied).
pub fn parse_risk(text: &str) -> Result<RiskConfig, Problems> {
    parse(text).map(|c| c.risk)
}

struct Reader<'p> {
    problems: &'p mut Problems,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

impl Reader<'_> {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(path, message);
    }

    fn known_keys(&mut self, path: &str, map: &Mapping, known: &[&str]) {
        for key in map.keys() {
            match key.as_str() {
                Some(k) if known.contains(&k) => {}
                Some(k) => self.problem(
                    &join(path, k),
                    format!("unknown key; expected one of: {}", known.join(", ")),
                ),
                None => self.problem(path, "keys must be strings"),
            }
        }
    }

    fn mapping<'v>(&mut self, path: &str, v: &'v Value) -> Option<&'v Mapping> {
        let m = v.as_mapping();
        if m.is_none() {
            self.problem(path, format!("expected a mapping, found {}", kind(v)));
        }
        m
    }

    fn list<T>(
        &mut self,
        path: &str,
        v: Option<&Value>,
        required: bool,
        mut item: impl FnMut(&mut Self, &str, &Value) -> Option<T>,
    ) -> Vec<T> {
        match v {
            None if required => {
                self.problem(path, "missing: at least one entry is needed");
                Vec::new()
            }
            None => Vec::new(),
            Some(Value::Sequence(items)) => {
                if required && items.is_empty() {
                    self.problem(path, "empty: at least one entry is needed");
                }
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| item(self, &format!("{path}[{i}]"), v))
                    .collect()
            }
            Some(other) => {
                self.problem(path, format!("expected a list, found {}", kind(other)));
                Vec::new()
            }
        }
    }

    fn string(&mut self, path: &str, v: Option<&Value>, required: bool) -> Option<String> {
        match v {
            None if required => {
                self.problem(path, "missing");
                None
            }
            None => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(Value::String(_)) => {
                self.problem(path, "must not be empty");
                None
            }
            Some(other) => {
                self.problem(path, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn strings(&mut self, path: &str, v: Option<&Value>) -> Vec<String> {
        self.list(path, v, false, |r, p, v| r.string(p, Some(v), true))
    }

    fn bool(&mut self, path: &str, v: Option<&Value>) -> Option<bool> {
        match v {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.problem(
                    path,
                    format!("expected true or false, found {}", kind(other)),
                );
                None
            }
        }
    }

    fn stack(&mut self, path: &str, v: &Value) -> Option<StackConfig> {
        let m = self.mapping(path, v)?;
        self.known_keys(path, m, &["name", "dir", "stack", "paths", "preview"]);
        let name = self.string(&join(path, "name"), m.get("name"), true);
        let dir = self.string(&join(path, "dir"), m.get("dir"), true);
        let stack = self.string(&join(path, "stack"), m.get("stack"), true);
        let mut paths = self.strings(&join(path, "paths"), m.get("paths"));
        if let Some(d) = &dir
            && (d.starts_with('/') || d.split('/').any(|seg| seg == ".."))
        {
            self.problem(
                &join(path, "dir"),
                "must be a relative path inside the repository (no `/` prefix, no `..`)",
            );
        }
        let preview = match m.get("preview") {
            None => PreviewSource::Server,
            Some(v) => match v.as_str() {
                Some("server") => PreviewSource::Server,
                Some("ci") => PreviewSource::Ci,
                _ => {
                    self.problem(
                        &join(path, "preview"),
                        "expected `server` (iamgate runs the preview) or `ci` (a CI job submits it)",
                    );
                    PreviewSource::Server
                }
            },
        };
        let (name, dir, stack) = (name?, dir?, stack?);
        if paths.is_empty() {
            paths.push(ALL_PATHS.to_owned());
        }
        Some(StackConfig {
            name,
            dir,
            stack,
            paths,
            preview,
        })
    }

    fn ci(&mut self, path: &str, v: &Value) -> CiConfig {
        let Some(m) = self.mapping(path, v) else {
            return CiConfig::default();
        };
        self.known_keys(path, m, &["workflows"]);
        let workflows = self.strings(&join(path, "workflows"), m.get("workflows"));
        for (i, pattern) in workflows.iter().enumerate() {
            if let Err(e) = globset::Glob::new(pattern) {
                self.problem(
                    &format!("{path}.workflows[{i}]"),
                    format!("not a valid glob: {}", e.kind()),
                );
            }
        }
        CiConfig { workflows }
    }

    fn review(&mut self, path: &str, v: &Value) -> Option<ReviewRule> {
        let m = self.mapping(path, v)?;
        self.known_keys(path, m, &["name", "when", "approvals", "from"]);
        let name = self.string(&join(path, "name"), m.get("name"), true);
        let when = match m.get("when") {
            None => When::default(),
            Some(w) => self.when(&join(path, "when"), w),
        };
        let approvals = match m.get("approvals") {
            None => 1,
            Some(a) => match a.as_u64() {
                Some(n @ 1..=20) => n as u32,
                _ => {
                    self.problem(
                        &join(path, "approvals"),
                        "expected a whole number from 1 to 20",
                    );
                    1
                }
            },
        };
        let from = match m.get("from") {
            None => {
                self.problem(
                    &join(path, "from"),
                    "missing: say who can approve (`teams` and/or `users`)",
                );
                Reviewers::default()
            }
            Some(f) => {
                let r = self.reviewers(&join(path, "from"), f);
                if r.teams.is_empty() && r.users.is_empty() {
                    self.problem(&join(path, "from"), "names nobody: add `teams` or `users`");
                }
                r
            }
        };
        Some(ReviewRule {
            name: name?,
            when,
            approvals,
            from,
        })
    }

    fn when(&mut self, path: &str, v: &Value) -> When {
        let Some(m) = self.mapping(path, v) else {
            return When::default();
        };
        self.known_keys(
            path,
            m,
            &[
                "min_risk",
                "categories",
                "rules",
                "stacks",
                "resource_types",
                "paths",
            ],
        );
        let min_risk = self
            .string(&join(path, "min_risk"), m.get("min_risk"), false)
            .and_then(|s| {
                let level = Level::parse(&s);
                if level.is_none() {
                    self.problem(
                        &join(path, "min_risk"),
                        format!("unknown level `{s}`; expected low, medium, high or critical"),
                    );
                }
                level
            });
        let cat_path = join(path, "categories");
        let categories = self
            .strings(&cat_path, m.get("categories"))
            .into_iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let parsed = Category::parse(&c);
                if parsed.is_none() {
                    self.problem(
                        &format!("{cat_path}[{i}]"),
                        format!("unknown category `{c}` (see `iamgate rules`)"),
                    );
                }
                parsed
            })
            .collect();
        let rules = self.rule_ids(&join(path, "rules"), m.get("rules"));
        When {
            min_risk,
            categories,
            rules,
            stacks: self.strings(&join(path, "stacks"), m.get("stacks")),
            resource_types: self.strings(&join(path, "resource_types"), m.get("resource_types")),
            paths: self.strings(&join(path, "paths"), m.get("paths")),
        }
    }

    fn rule_ids(&mut self, path: &str, v: Option<&Value>) -> Vec<String> {
        let ids = self.strings(path, v);
        for (i, id) in ids.iter().enumerate() {
            if catalog::rule(id).is_none() {
                self.problem(
                    &format!("{path}[{i}]"),
                    format!("unknown rule id `{id}` (see `iamgate rules`)"),
                );
            }
        }
        ids
    }

    fn reviewers(&mut self, path: &str, v: &Value) -> Reviewers {
        let Some(m) = self.mapping(path, v) else {
            return Reviewers::default();
        };
        self.known_keys(path, m, &["teams", "users"]);
        let teams_path = join(path, "teams");
        let teams = self.strings(&teams_path, m.get("teams"));
        for (i, t) in teams.iter().enumerate() {
            if !t.contains('/') || t.starts_with('/') || t.ends_with('/') {
                self.problem(
                    &format!("{teams_path}[{i}]"),
                    format!(
                        "`{t}` is not a team: use `org/team-slug` (GitLab: the group's full path)"
                    ),
                );
            }
        }
        let users = self.strings(&join(path, "users"), m.get("users"));
        Reviewers {
            teams,
            users: users
                .into_iter()
                .map(|u| u.trim_start_matches('@').to_owned())
                .collect(),
        }
    }

    fn risk(&mut self, path: &str, v: &Value) -> RiskConfig {
        let Some(m) = self.mapping(path, v) else {
            return RiskConfig::default();
        };
        self.known_keys(
            path,
            m,
            &[
                "disable",
                "severity",
                "trusted_accounts",
                "trusted_domains",
                "sensitive_resources",
            ],
        );
        let disable = self
            .rule_ids(&join(path, "disable"), m.get("disable"))
            .into_iter()
            .collect();
        let mut severity = BTreeMap::new();
        if let Some(s) = m.get("severity") {
            let sev_path = join(path, "severity");
            if let Some(map) = self.mapping(&sev_path, s) {
                for (k, v) in map {
                    let Some(id) = k.as_str() else {
                        self.problem(&sev_path, "keys must be rule ids");
                        continue;
                    };
                    let p = join(&sev_path, id);
                    if catalog::rule(id).is_none() {
                        self.problem(&p, format!("unknown rule id `{id}` (see `iamgate rules`)"));
                    }
                    match v.as_str().and_then(Severity::parse) {
                        Some(level) => {
                            severity.insert(id.to_owned(), level);
                        }
                        None => {
                            self.problem(&p, "expected one of: info, low, medium, high, critical")
                        }
                    }
                }
            }
        }
        let acc_path = join(path, "trusted_accounts");
        let trusted_accounts = self
            .list(&acc_path, m.get("trusted_accounts"), false, |r, p, v| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => {
                        r.problem(p, format!("expected a 12-digit account id, found {}", kind(other)));
                        return None;
                    }
                };
                if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
                    Some(text)
                } else {
                    r.problem(p, format!("`{text}` is not a 12-digit AWS account id (quote ids with leading zeros)"));
                    None
                }
            })
            .into_iter()
            .collect();
        let dom_path = join(path, "trusted_domains");
        let trusted_domains = self
            .list(&dom_path, m.get("trusted_domains"), false, |r, p, v| {
                let Value::String(text) = v else {
                    r.problem(p, format!("expected a domain name, found {}", kind(v)));
                    return None;
                };
                let domain = text.trim().to_ascii_lowercase();
                let valid = domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && domain
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                if !valid {
                    r.problem(
                        p,
                        format!(
                            "`{text}` is not a domain name (`acme.com`; no `@`, scheme or wildcard)"
                        ),
                    );
                    return None;
                }
                if domain == "gmail.com" || domain == "googlemail.com" {
                    r.problem(
                        p,
                        format!(
                            "`{domain}` holds consumer accounts of anyone: it cannot be trusted"
                        ),
                    );
                    return None;
                }
                Some(domain)
            })
            .into_iter()
            .collect();
        let sensitive_path = join(path, "sensitive_resources");
        let sensitive_resources = self.list(
            &sensitive_path,
            m.get("sensitive_resources"),
            false,
            |r, p, v| {
                let Value::String(arn) = v else {
                    r.problem(p, format!("expected an ARN, found {}", kind(v)));
                    return None;
                };
                // arn:partition:service:region:account:resource (wildcards allowed).
                let parts: Vec<&str> = arn.splitn(6, ':').collect();
                if parts.len() < 6 || parts[0] != "arn" || parts[2].is_empty() || parts[5].is_empty() {
                    r.problem(
                        p,
                        format!(
                            "`{arn}` is not an ARN (`arn:aws:s3:::acme-state/*`, `arn:aws:kms:*:111122223333:key/*`)"
                        ),
                    );
                    return None;
                }
                Some(arn.clone())
            },
        );
        RiskConfig {
            disable,
            severity,
            trusted_accounts,
            trusted_domains,
            sensitive_resources,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_stacks_without_pinned_workflows_get_a_note() {
        let unpinned = "version: 1\nstacks:\n  - { name: prod, dir: a, stack: o/a, preview: ci }\n";
        let notes = notes(&parse(unpinned).unwrap());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("`ci.workflows` is not set"), "{notes:?}");
        let pinned = format!(
            "{unpinned}ci:\n  workflows: [\"acme/infra/.github/workflows/iamgate.yml@refs/heads/main\"]\n"
        );
        assert!(super::notes(&parse(&pinned).unwrap()).is_empty());
        let server = "version: 1\nstacks:\n  - { name: prod, dir: a, stack: o/a }\n";
        assert!(super::notes(&parse(server).unwrap()).is_empty());
    }

    #[test]
    fn stacks_say_who_previews_them_and_ci_says_which_workflows_may_submit() {
        let text = "version: 1\nstacks:\n  - { name: a, dir: a, stack: o/a }\n  - { name: b, dir: b, stack: o/b, preview: ci }\nci:\n  workflows: [\"acme/infra/.github/workflows/iamgate.yml@refs/heads/main\", \"acme/shared/.github/workflows/*.yml@refs/tags/v*\"]\n";
        let config = parse(text).unwrap_or_else(|p| panic!("{p}"));
        assert_eq!(
            config.stacks.iter().map(|s| s.preview).collect::<Vec<_>>(),
            [PreviewSource::Server, PreviewSource::Ci]
        );
        let ci = &config.ci;
        assert!(ci.allows("acme/infra/.github/workflows/iamgate.yml@refs/heads/main"));
        assert!(ci.allows("acme/shared/.github/workflows/preview.yml@refs/tags/v1.2"));
        assert!(
            !ci.allows("acme/infra/.github/workflows/iamgate.yml@refs/heads/feature"),
            "a workflow file of a branch the PR author controls"
        );
        assert!(!ci.allows("mallory/infra/.github/workflows/iamgate.yml@refs/heads/main"));
        assert!(
            CiConfig::default().allows("anything"),
            "no `ci.workflows`: any workflow of the repository"
        );
    }

    #[test]
    fn a_bad_preview_source_or_workflow_glob_is_a_problem_with_its_line() {
        let text = "version: 1\nstacks:\n  - { name: a, dir: a, stack: o/a, preview: github }\nci:\n  workflows: [\"a/[b\"]\n  runners: 1\n";
        let problems = parse(text).expect_err("accepted");
        let paths: Vec<&str> = problems.0.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"stacks[0].preview"), "{problems}");
        assert!(paths.contains(&"ci.workflows[0]"), "{problems}");
        assert!(paths.contains(&"ci.runners"), "{problems}");
    }

    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../../config/iamgate.example.yml");
        let config = parse(text).unwrap_or_else(|p| panic!("example invalid: {p}"));
        assert_eq!(config.stacks.len(), 1);
        assert_eq!(config.reviews.len(), 3);
        assert_eq!(config.invalidate_approvals, Invalidation::OnIamChange);
        assert_eq!(
            config.risk.sensitive_resources,
            [
                "arn:aws:s3:::acme-pulumi-state/*",
                "arn:aws:kms:*:111122223333:key/prod-*"
            ]
        );
    }

    #[test]
    fn trusted_domains_are_lowercased_domain_names_and_never_consumer_ones() {
        let ok = "version: 1\nstacks: [{ name: p, dir: d, stack: a/p }]\nrisk:\n  trusted_domains: [Acme.com, \" corp.acme.io\"]\n";
        let config = parse(ok).unwrap_or_else(|p| panic!("{p}"));
        assert_eq!(
            config.risk.trusted_domains,
            ["acme.com".to_owned(), "corp.acme.io".to_owned()].into()
        );
        let bad = "version: 1\nstacks: [{ name: p, dir: d, stack: a/p }]\nrisk:\n  trusted_domains:\n    - acme.com\n    - user@acme.com\n    - gmail.com\n    - 42\n    - \"*.acme.com\"\n";
        let problems = match parse(bad) {
            Ok(_) => panic!("accepted an email, gmail.com and a number as trusted domains"),
            Err(p) => p,
        };
        let paths: Vec<&str> = problems.0.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "risk.trusted_domains[1]",
                "risk.trusted_domains[2]",
                "risk.trusted_domains[3]",
                "risk.trusted_domains[4]"
            ],
            "{problems}"
        );
        let text = problems.to_string();
        assert!(
            text.contains("`user@acme.com` is not a domain name"),
            "{text}"
        );
        assert!(
            text.contains("`gmail.com` holds consumer accounts"),
            "{text}"
        );
    }

    #[test]
    fn sensitive_resources_must_be_arns() {
        let text = "version: 1\nstacks: [{ name: p, dir: d, stack: a/p }]\nrisk:\n  sensitive_resources:\n    - arn:aws:s3:::state/*\n    - my-state-bucket\n    - 42\n";
        let problems = match parse(text) {
            Ok(_) => panic!("accepted a bucket name as an ARN"),
            Err(p) => p,
        };
        let paths: Vec<(&str, Option<usize>)> = problems
            .0
            .iter()
            .map(|p| (p.path.as_str(), p.line))
            .collect();
        assert!(
            paths.contains(&("risk.sensitive_resources[1]", Some(6)))
                && paths.contains(&("risk.sensitive_resources[2]", Some(7))),
            "{problems}"
        );
        assert!(
            problems
                .to_string()
                .contains("`my-state-bucket` is not an ARN"),
            "{problems}"
        );
        assert_eq!(problems.0.len(), 2, "{problems}");
    }

    #[test]
    fn every_problem_has_its_key_path_and_line() {
        let text = "version: 1\nstacks:\n  - name: prod\n    dir: infra\n    stack: acme/prod\n    colour: blue\n  - name: prod\n    dir: x\n    stack: acme/x\nreviews:\n  - name: sec\n    when: { stacks: [nope] }\n    approvals: 1\n    from: { teams: [acme/security] }\ninvalidate_approvals: sometimes\n";
        let problems = match parse(text) {
            Ok(_) => panic!("accepted an invalid config"),
            Err(p) => p,
        };
        let found: Vec<(String, Option<usize>)> = problems
            .0
            .iter()
            .map(|p| (p.path.clone(), p.line))
            .collect();
        for expected in [
            ("stacks[0].colour", Some(6)),
            ("stacks[1].name", Some(7)),
            ("reviews[0].when.stacks[0]", Some(12)),
            ("invalidate_approvals", Some(15)),
        ] {
            assert!(
                found.contains(&(expected.0.to_owned(), expected.1)),
                "{expected:?} not in {found:?}"
            );
        }
        assert!(
            problems.to_string().contains("stacks[0].colour (line 6)"),
            "{problems}"
        );
    }

    #[test]
    fn a_missing_key_is_reported_at_its_mapping() {
        let text = "version: 1\nstacks:\n  - name: prod\n    dir: infra\n";
        let problems = match parse(text) {
            Ok(_) => panic!("accepted a stack without `stack`"),
            Err(p) => p,
        };
        let missing = problems
            .0
            .iter()
            .find(|p| p.path == "stacks[0].stack")
            .unwrap_or_else(|| panic!("no problem for the missing key: {problems}"));
        assert_eq!(missing.line, Some(3));
    }
}
