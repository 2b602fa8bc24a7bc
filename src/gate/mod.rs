//! The merge gate, pure: which review requirements a change triggers, and the commit status
//! that follows from the analysis and the requirements. No I/O.

pub mod approvals;
pub mod decision;
pub mod requirements;
pub mod reviews;

pub use decision::{Decision, GateState, decide, decide_reviews, for_commit};
pub use requirements::{Change, Triggered, triggered};
pub use reviews::{DroppedApproval, Override, Requirement, Reviewer, Reviews};
