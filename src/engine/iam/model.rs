//! The IAM view of one side (before or after) of a preview: principals with everything attached
//! to them combined, resource policies, and the other IAM-relevant objects. Built by `extract`,
//! read by the rules.

use super::grants::{Binding, Credential, RoleDef};
use super::policy::Document;

/// Something that came from a preview resource: the URN that contributed it and a label saying
/// which property (`assumeRolePolicy`, `inlinePolicies[ci]`, `policyArn`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub urn: String,
    pub label: String,
    pub value: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrincipalKind {
    Role,
    User,
    Group,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Role => "role",
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
        }
    }
}

/// A role, user or group with every identity policy that applies to it in this state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// The principal's name (physical name when known, else the resource's logical name).
    pub name: String,
    /// The URN of the resource that defines the principal, when it is part of the preview.
    /// Findings about the principal are reported on this URN, or on the first source otherwise.
    pub urn: Option<String>,
    /// The role's trust policy (roles only).
    pub trust: Option<Sourced<Document>>,
    /// Identity policies: inline, standalone attached, known managed policies, and (for users)
    /// those of the user's groups. Each says where it came from.
    pub policies: Vec<Sourced<Document>>,
    /// Managed policy ARNs attached (AWS managed or customer managed), with their source.
    pub managed_arns: Vec<Sourced<String>>,
    /// The permissions boundary ARN, if set.
    pub boundary: Option<Sourced<String>>,
    /// Groups a user belongs to, by name (users only).
    pub groups: Vec<Sourced<String>>,
}

impl Principal {
    /// The URN findings about this principal are attached to.
    pub fn report_urn(&self) -> &str {
        self.urn
            .as_deref()
            .or_else(|| self.policies.first().map(|p| p.urn.as_str()))
            .or_else(|| self.managed_arns.first().map(|p| p.urn.as_str()))
            .unwrap_or(self.name.as_str())
    }

    /// A stable subject for finding keys: `role/name`.
    pub fn subject(&self) -> String {
        format!("{}/{}", self.kind.as_str(), self.name)
    }
}

/// Which service a resource policy protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    S3Bucket,
    KmsKey,
    SqsQueue,
    SnsTopic,
    LambdaFunction,
    EcrRepository,
    SecretsManagerSecret,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::S3Bucket => "S3 bucket",
            ResourceKind::KmsKey => "KMS key",
            ResourceKind::SqsQueue => "SQS queue",
            ResourceKind::SnsTopic => "SNS topic",
            ResourceKind::LambdaFunction => "Lambda function",
            ResourceKind::EcrRepository => "ECR repository",
            ResourceKind::SecretsManagerSecret => "Secrets Manager secret",
        }
    }
}

/// A resource-based policy (bucket policy, key policy, Lambda permission, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePolicy {
    pub urn: String,
    pub kind: ResourceKind,
    /// The protected resource's name or ARN as the preview gives it (may be unknown text).
    pub target: String,
    pub document: Sourced<Document>,
}

/// An IAM user's access key (long-lived credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub urn: String,
    pub user: String,
    pub active: bool,
}

/// An OIDC identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    pub urn: String,
    pub url: String,
    pub client_ids: Vec<String>,
}

/// S3 public access block flags (bucket or account level). `None` is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicAccessBlock {
    pub urn: String,
    pub target: String,
    pub block_public_acls: Option<bool>,
    pub block_public_policy: Option<bool>,
    pub ignore_public_acls: Option<bool>,
    pub restrict_public_buckets: Option<bool>,
}

/// A property of an IAM resource that iamgate could not read (it nests deeper than the parser
/// goes): it may hold anything, so it is reported, never taken as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub urn: String,
    /// The top-level property (`policies`, `tags`, ...); empty when the whole state is unreadable.
    pub property: String,
    pub reason: String,
    /// The start of the SHA-256 of the unreadable text: a different text is a different finding.
    pub digest: String,
}

/// One side of the preview, IAM only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IamState {
    pub principals: Vec<Principal>,
    pub resource_policies: Vec<ResourcePolicy>,
    pub access_keys: Vec<AccessKey>,
    pub oidc_providers: Vec<OidcProvider>,
    pub public_access_blocks: Vec<PublicAccessBlock>,
    /// Standalone policies (`aws:iam/policy:Policy`, `aws-native:iam:ManagedPolicy`) by URN,
    /// whether attached or not: a customer managed policy is checked on its own too.
    pub standalone_policies: Vec<Sourced<Document>>,
    /// The URNs of the standalone policies attached to a principal of this state: their
    /// permissions are judged on the principal, once, not again on their own.
    pub attached_policies: std::collections::BTreeSet<String>,
    /// Instance profiles: (urn, role name).
    pub instance_profiles: Vec<Sourced<String>>,
    /// Properties of IAM resources that could not be read.
    pub unreadable: Vec<Unreadable>,
    /// Grants of Google Cloud, Azure and Kubernetes RBAC, one per (scope, role, member,
    /// condition), whatever form carried them.
    pub bindings: Vec<Sourced<Binding>>,
    /// Roles those clouds define in this state.
    pub role_defs: Vec<Sourced<RoleDef>>,
    /// Long-lived credentials those clouds issue in this state.
    pub credentials: Vec<Sourced<Credential>>,
}
