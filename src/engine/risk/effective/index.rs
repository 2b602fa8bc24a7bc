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
    /// Services in id order (the database numbers actions in sorted name order, service by
    /// service).
    pub services: Vec<ServiceRange>,
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
            services: Vec::new(),
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
        index.restrictable_write = index.write.clone();
        index
            .restrictable_write
            .difference_with(&index.wildcard_only);
        index.all = all;
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

/// A short, stable rendering of `set`: per service, `svc:*` when `set` holds every action of
/// the service that is in `universe` (and more than one), else the action names. Sorted.
pub fn compact(set: &ActionSet, universe: &ActionSet) -> Vec<String> {
    let db = db();
    let idx = index();
    let mut out = Vec::new();
    // The service of the previous action: its end, and whether it was collapsed.
    let mut current: Option<(u32, bool)> = None;
    for id in set.iter() {
        let collapsed = match current {
            Some((end, collapsed)) if id.0 < end => collapsed,
            _ => {
                let Some(service) = idx.service_of(id) else {
                    out.push(db.name(id).to_owned());
                    continue;
                };
                let range = service.start..service.end;
                let in_set = set.0.range_cardinality(range.clone());
                let collapsed = in_set > 1 && in_set == universe.0.range_cardinality(range);
                if collapsed {
                    out.push(format!("{}:*", service.prefix));
                }
                current = Some((service.end, collapsed));
                collapsed
            }
        };
        if !collapsed {
            out.push(db.name(id).to_owned());
        }
    }
    out
}

/// Up to `max` items, then `(+N more)`.
pub fn shorten(items: &[String], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!("{} (+{} more)", items[..max].join(", "), items.len() - max)
    }
}
