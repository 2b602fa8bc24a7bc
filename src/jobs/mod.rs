//! Jobs: the work a queued job does, wiring the forge, the store, the preview runner and the
//! pure engine and gate together. One context (`JobCtx`) carries everything a job needs.

pub mod approvals;
pub mod command;
pub mod ctx;
pub mod handler;
pub mod pr;
pub mod recheck;
pub mod repo_config;

pub use ctx::{ForgeProvider, JobCtx, JobSettings};
pub use handler::{Forges, Jobs};

pub mod failure {
    //! How job errors map onto the queue's retry decisions.

    use crate::forge::{ForgeError, RetryClass};
    use crate::queue::{JobFailure, Retry};

    /// A transient failure: retry with backoff.
    pub fn backoff(reason: impl Into<String>) -> JobFailure {
        JobFailure {
            reason: reason.into(),
            retry: Retry::Backoff,
        }
    }

    impl From<ForgeError> for JobFailure {
        fn from(e: ForgeError) -> JobFailure {
            let retry = match e.retry {
                RetryClass::Retry => Retry::Backoff,
                RetryClass::RetryAfter(d) => Retry::After(d),
                RetryClass::GiveUp => Retry::Never,
            };
            JobFailure {
                reason: e.to_string(),
                retry,
            }
        }
    }

    impl From<crate::store::StoreError> for JobFailure {
        fn from(e: crate::store::StoreError) -> JobFailure {
            backoff(e.to_string())
        }
    }
}
