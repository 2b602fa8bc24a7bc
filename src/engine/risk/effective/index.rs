//! Process-wide action sets derived once from the action database (per access level, the
//! wildcard-only actions, per service), and the compact rendering of an action set used in
//! evidence and messages. Knows nothing about policies.

use std::sync::OnceLock;

use crate::engine::iam::actions::{AccessLevel, ActionId, ActionSet, db};

/// The contiguous id range of one service's actions.
#[derive(Debug, Clone, Copy)]
pub struct ServiceRange {
    pub prefix: &'static str,
    pub start: u32,
    pub end: u32,
}

/// Action sets derived from the database.
#[derive(Debug)]
pub struct ActionIndex {
    pub all: ActionSet,
    pub write: ActionSet,
    /// Write actions that support resource-level permissions.
    pub restrictable_write: ActionSet,
    pub tagging: ActionSet,
    pub permissions: ActionSet,
    /// Actions that accept only `Resource: "*"`.
    pub wildcard_only: ActionSet,
    /// `iam:PassRole`, whose `iam:PassedToService` condition is read per escalation path (an id
    /// no set holds if the database lacks it).
    pub pass_role: ActionId,
    /// Services in id order (the database numbers actions in sorted name order, service by
    /// service).
    pub services: Vec<ServiceRange>,
    /// `prefix:*` for each service of `services` (same order), rendered once.
    stars: Vec<String>,
}

impl ActionIndex {
    fn build() -> ActionIndex {
        let db = db();
        let all = db.all();
        let mut index = ActionIndex {
            all: ActionSet::new(),
            write: ActionSet::new(),
            restrictable_write: ActionSet::new(),
            tagging: ActionSet::new(),
            permissions: ActionSet::new(),
            wildcard_only: ActionSet::new(),
            pass_role: db.lookup("iam:PassRole").unwrap_or(ActionId(u32::MAX)),
            services: Vec::new(),
            stars: Vec::new(),
        };
        for id in all.iter() {
            match db.access_level(id) {
                AccessLevel::Write => index.write.insert(id),
                AccessLevel::Tagging => index.tagging.insert(id),
                AccessLevel::PermissionsManagement => index.permissions.insert(id),
                AccessLevel::List | AccessLevel::Read => false,
            };
            if db.is_wildcard_only(id) {
                index.wildcard_only.insert(id);
            }
            let prefix = db.service(id);
            match index.services.last_mut() {
                Some(last) if last.prefix == prefix && last.end == id.0 => last.end = id.0 + 1,
                _ => index.services.push(ServiceRange {
                    prefix,
                    start: id.0,
                    end: id.0 + 1,
                }),
            }
        }
        index.stars = index
            .services
            .iter()
            .map(|s| format!("{}:*", s.prefix))
            .collect();
        index.restrictable_write = index.write.clone();
        index
            .restrictable_write
            .difference_with(&index.wildcard_only);
        index.all = all;
        // Plain containers: run containers make subset tests walk every element.
        index.all.0.remove_run_compression();
        index
    }

    /// The service range holding `id`.
    pub fn service_of(&self, id: ActionId) -> Option<&ServiceRange> {
        let at = self.services.partition_point(|s| s.end <= id.0);
        self.services.get(at).filter(|s| s.start <= id.0)
    }

    /// Every action of the service `prefix` (exact, lowercase).
    pub fn service_set(&self, prefix: &str) -> ActionSet {
        let mut set = ActionSet::new();
        for s in self.services.iter().filter(|s| s.prefix == prefix) {
            set.0.insert_range(s.start..s.end);
        }
        set
    }
}

/// The index, built on first use.
pub fn index() -> &'static ActionIndex {
    static INDEX: OnceLock<ActionIndex> = OnceLock::new();
    INDEX.get_or_init(ActionIndex::build)
}

/// The set of the listed actions that the database knows (unknown names are skipped).
pub fn named(names: &[&str]) -> ActionSet {
    let db = db();
    names.iter().filter_map(|n| db.lookup(n)).collect()
}

/// The actions' names, in the database's (sorted) order.
pub fn names(set: &ActionSet) -> Vec<&'static str> {
    let db = db();
    set.iter().map(|id| db.name(id)).collect()
}

/// An action set that `compact` collapses against, with its size per service (counted once).
#[derive(Debug)]
pub struct Universe {
    pub set: ActionSet,
    per_service: Vec<u32>,
}

impl Universe {
    pub fn new(set: ActionSet) -> Universe {
        let idx = index();
        let mut per_service = vec![0; idx.services.len()];
        let mut at = 0;
        for id in set.iter() {
            while idx.services.get(at).is_some_and(|s| s.end <= id.0) {
                at += 1;
            }
            if let Some(count) = per_service.get_mut(at) {
                *count += 1;
            }
        }
        Universe { set, per_service }
    }
}

/// A short, stable rendering of `set`: per service, `svc:*` when `set` holds every action of
/// the service that is in `universe` (and more than one), else the action names. In the
/// database's (sorted) order.
pub fn compact(set: &ActionSet, universe: &Universe) -> Vec<String> {
    compact_names(set, universe)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// `compact` without copying the names (they live as long as the database and the index).
pub fn compact_names(set: &ActionSet, universe: &Universe) -> Vec<&'static str> {
    if set.len() * 2 > universe.set.len() && set.is_subset(&universe.set) {
        compact_large(set, universe)
    } else {
        compact_small(set, universe)
    }
}

/// The rendering of every action of service `at` of the index: `prefix:*`.
fn star(idx: &'static ActionIndex, at: usize, prefix: &'static str) -> &'static str {
    idx.stars.get(at).map_or(prefix, String::as_str)
}

/// `compact` by walking the set's actions.
fn compact_small(set: &ActionSet, universe: &Universe) -> Vec<&'static str> {
    let db = db();
    let idx = index();
    let mut out = Vec::new();
    let mut members: Vec<ActionId> = Vec::new();
    let mut ids = set.iter().peekable();
    while let Some(first) = ids.next() {
        let at = idx.services.partition_point(|s| s.end <= first.0);
        let Some(service) = idx.services.get(at).filter(|s| s.start <= first.0) else {
            out.push(db.name(first));
            continue;
        };
        members.clear();
        members.push(first);
        while let Some(id) = ids.next_if(|id| id.0 < service.end) {
            members.push(id);
        }
        let in_universe = universe.per_service.get(at).copied().unwrap_or(0) as usize;
        if members.len() > 1 && members.len() == in_universe {
            out.push(star(idx, at, service.prefix));
        } else {
            out.extend(members.iter().map(|&id| db.name(id)));
        }
    }
    out
}

/// `compact` for a set that holds most of its universe: walks what it lacks instead.
fn compact_large(set: &ActionSet, universe: &Universe) -> Vec<&'static str> {
    let db = db();
    let idx = index();
    let mut missing = universe.set.clone();
    missing.difference_with(set);
    let mut missing_per_service = vec![0u32; idx.services.len()];
    let mut at = 0;
    for id in missing.iter() {
        while idx.services.get(at).is_some_and(|s| s.end <= id.0) {
            at += 1;
        }
        if let Some(count) = missing_per_service.get_mut(at) {
            *count += 1;
        }
    }
    let mut out = Vec::new();
    for (at, ((service, &total), &lacking)) in idx
        .services
        .iter()
        .zip(&universe.per_service)
        .zip(&missing_per_service)
        .enumerate()
    {
        let held = total - lacking;
        if held > 1 && lacking == 0 {
            out.push(star(idx, at, service.prefix));
        } else if held > 0 {
            out.extend(
                set.0
                    .range(service.start..service.end)
                    .map(|id| db.name(ActionId(id))),
            );
        }
    }
    out
}

/// `1 write action`, `3 write actions`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Up to `max` items, then `(+N more)`.
pub fn shorten<S: std::borrow::Borrow<str>>(items: &[S], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!("{} (+{} more)", items[..max].join(", "), items.len() - max)
    }
}
