//! What one IAM-relevant resource state says, independent of the provider that said it. The
//! provider readers (`aws`, `aws_native`) produce `Fact`s; `assemble` combines them into an
//! `IamState`; `canonical` renders them for the per-resource diff.

use crate::engine::iam::grants::{Binding, Credential, RoleDef};
use crate::engine::iam::model::{PrincipalKind, ResourceKind};
use crate::engine::iam::policy::Document;

/// A reference to another resource by name or ARN, as the preview gives it, with the URN the
/// property depends on when the engine recorded it (`propertyDependencies`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    /// The name or ARN, or `UNKNOWN_TEXT` when it is computed during preview.
    pub text: String,
    pub urn: Option<String>,
}

/// One IAM-relevant fact carried by a resource state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// A role, user or group, with what it carries itself.
    Principal {
        kind: PrincipalKind,
        name: String,
        arn: Option<String>,
        trust: Option<Document>,
        inline: Vec<(String, Document)>,
        managed_arns: Vec<String>,
        boundary: Option<String>,
        /// Groups (users only, aws-native).
        groups: Vec<String>,
    },
    /// A standalone (customer managed) policy, optionally attached to principals (aws-native).
    Policy {
        name: String,
        arn: Option<String>,
        document: Document,
        attached: Vec<(PrincipalKind, Ref)>,
    },
    /// An inline policy on a principal (`RolePolicy`, `UserPolicy`, `GroupPolicy`).
    InlinePolicy {
        kind: PrincipalKind,
        target: Ref,
        name: String,
        document: Document,
    },
    /// A managed policy attached to a principal.
    Attachment {
        kind: PrincipalKind,
        target: Ref,
        policy: Ref,
    },
    /// Group membership: user -> group.
    Membership {
        user: Ref,
        group: Ref,
    },
    AccessKey {
        user: Ref,
        active: bool,
    },
    OidcProvider {
        url: String,
        client_ids: Vec<String>,
    },
    InstanceProfile {
        role: Ref,
    },
    ResourcePolicy {
        kind: ResourceKind,
        target: String,
        document: Document,
    },
    PublicAccessBlock {
        target: String,
        block_public_acls: Option<bool>,
        block_public_policy: Option<bool>,
        ignore_public_acls: Option<bool>,
        restrict_public_buckets: Option<bool>,
    },
    /// A role granted to a member at a scope (Google Cloud, Azure, Kubernetes RBAC).
    Binding(Binding),
    /// A role definition (GCP custom role, Azure role definition, Kubernetes (cluster) role).
    RoleDef(RoleDef),
    /// Long-lived credentials of an identity (GCP, Azure, Kubernetes).
    Credential(Credential),
    /// A property of the state that could not be read (it nests too deep): whatever it holds is
    /// unknown, and is reported as such, never taken as absent.
    Unreadable {
        /// The top-level property; empty when the state as a whole is unreadable.
        property: String,
        reason: String,
        /// Tells two unreadable values apart (the start of the SHA-256 of the text).
        digest: String,
    },
}
