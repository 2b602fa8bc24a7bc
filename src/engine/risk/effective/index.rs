//! Process-wide action sets derived once from the action database (per access level, the
//! wildcard-only actions, named lists), and the compact rendering of an action set used in
//! evidence and messages. Knows nothing about policies.

use std::sync::OnceLock;

use crate::engine::iam::actions::{AccessLevel, ActionSet, db};

/// Action sets derived from the database.
#[derive(Debug)]
pub struct ActionIndex {
    pub all: ActionSet,
    pub write: ActionSet,
    pub tagging: ActionSet,
    pub permissions: ActionSet,
    /// Actions that accept only `Resource: "*"`.
    pub wildcard_only: ActionSet,
}

/// The index, built on first use.
pub fn index() -> &'static ActionIndex {
    static INDEX: OnceLock<ActionIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let db = db();
        let all = db.all();
        let mut index = ActionIndex {
            all: ActionSet::new(),
            write: ActionSet::new(),
            tagging: ActionSet::new(),
            permissions: ActionSet::new(),
            wildcard_only: ActionSet::new(),
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
        }
        index.all = all;
        index
    })
}

/// The set of the listed actions that the database knows (unknown names are skipped).
pub fn named(names: &[&str]) -> ActionSet {
    let db = db();
    names.iter().filter_map(|n| db.lookup(n)).collect()
}

/// The actions' names, sorted.
pub fn names(set: &ActionSet) -> Vec<&'static str> {
    let db = db();
    let mut out: Vec<&'static str> = set.iter().map(|id| db.name(id)).collect();
    out.sort_unstable();
    out
}

/// A short, stable rendering of `set`: per service, `svc:*` when `set` holds every action of
/// the service that is in `universe`, else the action names. Sorted.
pub fn compact(set: &ActionSet, universe: &ActionSet) -> Vec<String> {
    let db = db();
    let mut out = Vec::new();
    let mut current: Option<(&str, Vec<&str>)> = None;
    let flush = |service: &str, members: Vec<&str>, out: &mut Vec<String>| {
        let mut of_service = db.expand(&format!("{service}:*"));
        of_service.intersect_with(universe);
        if members.len() > 1 && members.len() == of_service.len() {
            out.push(format!("{service}:*"));
        } else {
            out.extend(members.into_iter().map(str::to_owned));
        }
    };
    for name in names(set) {
        let service = name.split_once(':').map_or(name, |(s, _)| s);
        match &mut current {
            Some((s, members)) if *s == service => members.push(name),
            _ => {
                if let Some((s, members)) = current.take() {
                    flush(s, members, &mut out);
                }
                current = Some((service, vec![name]));
            }
        }
    }
    if let Some((s, members)) = current {
        flush(s, members, &mut out);
    }
    out.sort();
    out
}

/// Up to `max` names, then `(+N more)`.
pub fn shorten(items: &[String], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!("{} (+{} more)", items[..max].join(", "), items.len() - max)
    }
}
