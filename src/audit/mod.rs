//! The tamper-evident audit trail: every analysis, approval, withdrawal, dropped approval,
//! override, command refusal and status change, with its actor and time, as an append-only chain
//! (each record carries the link of the previous one, keyed with a secret that is not in the
//! store). This module is pure: the record model, the keys, the canonical encoding,
//! verification and export. The store keeps the records
//! (`Store::append_audit`); `iamgate audit` exports and verifies them. See `docs/audit.md`.

pub mod chain;
pub mod export;
pub mod key;
pub mod record;
pub mod time;

pub use chain::{Break, GENESIS, KeySpan, Tampered, Verified, verify};
pub use key::{AuditKey, AuditKeys, KeyError};
pub use record::{
    APP_ACTOR, ApprovalSource, AuditChain, AuditEntry, AuditEvent, AuditFilter, AuditRecord,
    ChainHead, GateState, WithdrawalSource,
};
pub use time::{TimeError, Timestamp};
