//! The gate's vocabulary for reviews: the requirements a change triggered, who approved each,
//! approvals that no longer count and why, and an override. `approvals` computes it, `decision`
//! turns it into the status, and `publish::comment` shows it; nothing here does any of that.

/// The state of the review requirements that this change triggers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reviews {
    pub requirements: Vec<Requirement>,
    /// Approvals that no longer count, and why (e.g. the IAM change differs from the one approved).
    pub dropped: Vec<DroppedApproval>,
    /// A valid override that lets the change through without the approvals.
    pub overridden: Option<Override>,
}

/// One triggered requirement (a `reviews[]` entry of `.iamgate.yml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    /// Approvals required.
    pub needed: u32,
    /// Logins whose approval counts for it.
    pub approved_by: Vec<String>,
    /// Who may approve: teams (`org/team`) and users.
    pub from: Vec<Reviewer>,
    /// Qualified reviewers who asked for changes.
    pub changes_requested_by: Vec<String>,
}

impl Requirement {
    pub fn missing(&self) -> u32 {
        let approved = u32::try_from(self.approved_by.len()).unwrap_or(u32::MAX);
        self.needed.saturating_sub(approved)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reviewer {
    User(String),
    /// `org/team-slug` (GitHub) or a group path (GitLab).
    Team(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedApproval {
    pub login: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub by: String,
    pub reason: String,
}
