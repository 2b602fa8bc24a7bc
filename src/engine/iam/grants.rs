//! Access as Google Cloud, Azure and Kubernetes RBAC express it: a role granted to a member at a
//! scope, roles defined by their permissions, and credentials issued to an identity. Every form a
//! provider offers for the same grant (GCP's `IAMPolicy` documents, `IAMBinding` and `IAMMember`;
//! Kubernetes' `RoleBinding` subjects, one per subject) is read into the same `Binding`, so moving
//! a grant from one form to another changes nothing the rules see.
//!
//! The provider readers (`extract::gcp`, `extract::azure`, `extract::kubernetes`) produce these;
//! the rule families of the same names judge them. Each cloud spells its scopes, roles and
//! members in its own canonical text, documented on its reader.

use super::unmodeled::Cloud;

/// One grant: `role` for `member` on `scope`, optionally only while `condition` holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Binding {
    pub cloud: Cloud,
    /// Where the grant applies, canonical per cloud: `organizations/1`, `folders/2`,
    /// `projects/p`, `projects/p/buckets/b` (GCP); `/subscriptions/s/resourceGroups/g` (Azure);
    /// `cluster`, `namespace/ns` (Kubernetes). `UNKNOWN_TEXT` when computed during preview.
    pub scope: String,
    /// The role granted: `roles/owner`, `projects/p/roles/custom` (GCP); a role definition id
    /// (Azure); `ClusterRole/name`, `Role/ns/name` (Kubernetes).
    pub role: String,
    /// Who receives it: `user:a@example.com`, `allUsers` (GCP); a principal id (Azure);
    /// `ServiceAccount/ns/name`, `User/name`, `Group/name` (Kubernetes).
    pub member: String,
    /// The condition the grant is subject to (GCP IAM conditions, Azure ABAC conditions), as
    /// canonical text; `None` when unconditional.
    pub condition: Option<String>,
}

/// A role defined in the preview (GCP custom roles, Azure role definitions, Kubernetes roles and
/// cluster roles): what it permits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDef {
    pub cloud: Cloud,
    /// The name bindings use for it (same spelling as `Binding::role`).
    pub id: String,
    /// Permissions as each cloud spells them: GCP permissions (`iam.serviceAccounts.actAs`);
    /// Azure actions (`Microsoft.Authorization/*`, data actions prefixed `data:`); Kubernetes
    /// rules flattened to `verb group/resource[/subresource][#name]` and `verb url:/path`.
    pub permissions: Vec<String>,
    /// Permissions taken away again (Azure `notActions`, `notDataActions` prefixed `data:`).
    pub not_permissions: Vec<String>,
    /// Where the role can be used (Azure `assignableScopes`); empty when not applicable.
    pub assignable_scopes: Vec<String>,
    /// Kubernetes aggregation: the label selectors (`key=value`) whose cluster roles' rules this
    /// role receives; empty when not aggregated.
    pub aggregate_from: Vec<String>,
    /// Kubernetes labels (`key=value`), which aggregating roles select on.
    pub labels: Vec<String>,
}

/// Long-lived credentials issued to an identity (a GCP service account key, an Entra ID
/// application password or certificate, a Kubernetes service account token secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub cloud: Cloud,
    /// The identity that the credential authenticates as, in the member spelling of its cloud.
    pub owner: String,
    /// What it is, for messages: `service account key`, `application password`, ...
    pub kind: String,
}
