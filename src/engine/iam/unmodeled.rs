//! The IAM-relevant resource types iamgate does not model: one table, matched on the Pulumi type
//! token (`<package>:<module>:<Type>`). A step of such a type is reported as `unanalyzed` instead
//! of being passed over as "no IAM change". Types with a reader (`extract::is_iam_type`) are
//! modeled and win over this table, so modeling a type later only needs its row removed (or
//! narrowed). It says what a type is, never how risky a change of it is (that is `risk`).

/// The cloud (or platform) a type belongs to: each has its own rule id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cloud {
    Aws,
    Gcp,
    Azure,
    Kubernetes,
}

impl Cloud {
    pub const ALL: [Cloud; 4] = [Cloud::Aws, Cloud::Gcp, Cloud::Azure, Cloud::Kubernetes];

    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "AWS",
            Cloud::Gcp => "Google Cloud",
            Cloud::Azure => "Azure",
            Cloud::Kubernetes => "Kubernetes",
        }
    }

    /// The cloud of a Pulumi type token, by its package (`gcp:...` is Google Cloud). Packages of
    /// no other cloud count as AWS, whose rules have always reported them.
    pub fn of_type(type_: &str) -> Cloud {
        match type_.split(':').next().unwrap_or_default() {
            "gcp" | "google-native" => Cloud::Gcp,
            "azure" | "azure-native" | "azuread" => Cloud::Azure,
            "kubernetes" => Cloud::Kubernetes,
            _ => Cloud::Aws,
        }
    }

    /// The cloud of the resource a URN names (see `of_type`).
    pub fn of_urn(urn: &str) -> Cloud {
        crate::engine::preview::urn_type(urn).map_or(Cloud::Aws, Cloud::of_type)
    }
}

/// What deleting a resource of the type does to access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// The type only grants (assignments, bindings, members, shares): deleting one removes access,
    /// which never raises risk.
    Grants,
    /// The type can restrict access (a policy that may hold a Deny, a boundary, an SCP, a deny
    /// or organization policy, a policy assignment or exemption): deleting one may lift a
    /// guardrail, so it is new risk.
    Governs,
}

/// Which type names of a module a row covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// Every type of the module.
    Any,
    /// These names exactly (case-sensitive, as the providers spell them).
    Exact(&'static [&'static str]),
    /// Names ending with one of these, ignoring ASCII case (providers spell `IAMMember`,
    /// `IamMember` and `iamMember` for the same thing).
    Suffix(&'static [&'static str]),
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmodeled {
    pub cloud: Cloud,
    /// The package part of the token (`aws`, `aws-native`, `gcp`, `kubernetes`, ...).
    pub packages: &'static [&'static str],
    /// The first segment of the module part: `ssoadmin` covers `ssoadmin/permissionSet` (AWS
    /// classic's file paths), `authorization` covers `authorization/v20220401` (API versions),
    /// `rbac.authorization.k8s.io` covers `rbac.authorization.k8s.io/v1`. `*`: any module.
    pub module: &'static str,
    pub names: Names,
    /// When set, only this input makes the resource IAM-relevant (a queue is not, its `policy`
    /// is): the step counts only when that input is set or changes, and only it is shown.
    pub property: Option<&'static str>,
    pub removal: Removal,
    /// What these resources are, for messages and docs (a plural noun phrase, no parentheses).
    pub what: &'static str,
}

const AWS: &[&str] = &["aws"];
const NATIVE: &[&str] = &["aws-native"];
const BOTH: &[&str] = &["aws", "aws-native"];
const GCP: &[&str] = &["gcp"];
const GOOGLE_NATIVE: &[&str] = &["google-native"];
const AZURE: &[&str] = &["azure"];
const AZURE_NATIVE: &[&str] = &["azure-native"];
const AZUREAD: &[&str] = &["azuread"];
const K8S: &[&str] = &["kubernetes"];

use Cloud::{Aws, Azure, Gcp, Kubernetes};
use Names::{Any, Exact, Suffix};
use Removal::{Governs, Grants};

const fn row(
    cloud: Cloud,
    packages: &'static [&'static str],
    module: &'static str,
    names: Names,
    removal: Removal,
    what: &'static str,
) -> Unmodeled {
    Unmodeled {
        cloud,
        packages,
        module,
        names,
        property: None,
        removal,
        what,
    }
}

/// A row for a type whose one policy-bearing input is what makes it IAM-relevant. Removing the
/// input from a resource that stays is a change like any other; deleting the resource deletes
/// the policy together with what it protects, so it only removes access.
const fn policy_input(
    packages: &'static [&'static str],
    module: &'static str,
    names: &'static [&'static str],
    property: &'static str,
) -> Unmodeled {
    Unmodeled {
        cloud: Aws,
        packages,
        module,
        names: Exact(names),
        property: Some(property),
        removal: Grants,
        what: "resource policies carried as an input of the resource",
    }
}

/// Resource-based policies by name: who else may use a resource (they may hold Deny statements).
const RESOURCE_POLICIES: &[&str] = &[
    "ResourcePolicy",
    "RepositoryPolicy",
    "RegistryPolicy",
    "FileSystemPolicy",
    "VaultPolicy",
    "DomainPolicy",
    "AccessPointPolicy",
    "BucketPolicy",
    "EndpointPolicy",
    "AuthPolicy",
    "BusPolicy",
    "DestinationPolicy",
    "RestApiPolicy",
    "PermissionsPolicy",
    "InlinePolicy",
    "AccessPolicy",
    "TopicPolicy",
    "QueuePolicy",
    "SecretPolicy",
    "KeyPolicy",
];

/// The table, first match wins: within a module, the exact rows come before its catch-all.
#[rustfmt::skip]
pub const TABLE: &[Unmodeled] = &[
    // AWS: IAM itself, beyond what the readers model.
    row(Aws, BOTH, "iam", Exact(&["AccountPasswordPolicy", "OrganizationsFeatures"]), Governs,
        "account-wide IAM settings: the password policy and centralized root access"),
    row(Aws, BOTH, "iam", Any, Grants,
        "IAM resources iamgate does not read, such as SAML providers, login profiles, service-specific credentials, SSH keys, signing certificates and service-linked roles"),
    // AWS: IAM Identity Center, its identity store, Organizations.
    row(Aws, AWS, "ssoadmin", Exact(&["AccountAssignment", "ApplicationAssignment", "PermissionSet", "ManagedPolicyAttachment"]), Grants,
        "IAM Identity Center permission sets and assignments, which decide who gets which permissions in which account"),
    row(Aws, AWS, "ssoadmin", Any, Governs,
        "IAM Identity Center permission set policies, permissions boundaries and access control settings"),
    row(Aws, NATIVE, "sso", Exact(&["Assignment", "ApplicationAssignment", "PermissionSet"]), Grants,
        "IAM Identity Center permission sets and assignments, which decide who gets which permissions in which account"),
    row(Aws, NATIVE, "sso", Any, Governs,
        "IAM Identity Center settings such as access control attributes, applications and trusted token issuers"),
    row(Aws, BOTH, "identitystore", Exact(&["GroupMembership"]), Grants,
        "IAM Identity Center group memberships, which give the member the group's account assignments"),
    row(Aws, BOTH, "organizations", Exact(&["DelegatedAdministrator"]), Grants,
        "AWS Organizations delegated administrators, accounts that administer a service for the whole organization"),
    row(Aws, BOTH, "organizations", Exact(&["Policy", "PolicyAttachment", "Organization", "ResourcePolicy"]), Governs,
        "AWS Organizations policies such as SCPs and RCPs, their attachments and the organization's settings, guardrails over whole accounts"),
    // AWS: services whose whole purpose is granting access.
    row(Aws, BOTH, "eks", Exact(&["AccessEntry", "AccessPolicyAssociation", "PodIdentityAssociation", "IdentityProviderConfig"]), Grants,
        "EKS cluster access entries, access policies such as cluster-admin, pod identities and OIDC identity providers"),
    row(Aws, BOTH, "lakeformation", Exact(&["Permissions", "PrincipalPermissions"]), Grants,
        "Lake Formation permissions on catalogs, databases, tables and tags"),
    row(Aws, BOTH, "lakeformation", Any, Governs,
        "Lake Formation settings, data filters and tags, which decide who sees which data"),
    row(Aws, BOTH, "ram", Any, Grants,
        "AWS RAM resource shares, which share resources with other accounts or the organization"),
    row(Aws, BOTH, "cognito", Exact(&["IdentityPool", "IdentityPoolRoleAttachment", "IdentityPoolRoleAttachments"]), Grants,
        "Cognito identity pools and their roles, which hand out AWS credentials to app users, guests included"),
    row(Aws, BOTH, "kms", Exact(&["Grant"]), Grants,
        "KMS grants, which let another principal use a key"),
    row(Aws, BOTH, "lambda", Exact(&["FunctionUrl", "Url"]), Grants,
        "Lambda function URLs, public when their auth type is NONE"),
    row(Aws, AWS, "s3", Exact(&["BucketAcl", "BucketAclV2"]), Grants,
        "S3 bucket ACLs, which can grant public or cross-account access"),
    // AWS: resource policies carried by one input of a resource.
    policy_input(AWS, "kms", &["ReplicaKey", "ExternalKey", "ReplicaExternalKey"], "policy"),
    policy_input(NATIVE, "kms", &["ReplicaKey"], "keyPolicy"),
    policy_input(AWS, "sqs", &["Queue"], "policy"),
    policy_input(AWS, "sns", &["Topic"], "policy"),
    policy_input(AWS, "secretsmanager", &["Secret"], "policy"),
    policy_input(AWS, "glacier", &["Vault"], "accessPolicy"),
    policy_input(AWS, "opensearch", &["Domain"], "accessPolicies"),
    policy_input(AWS, "elasticsearch", &["Domain"], "accessPolicies"),
    policy_input(BOTH, "apigateway", &["RestApi"], "policy"),
    policy_input(BOTH, "s3", &["AccessPoint"], "policy"),
    policy_input(AWS, "ec2", &["VpcEndpoint"], "policy"),
    policy_input(NATIVE, "ec2", &["VpcEndpoint"], "policyDocument"),
    policy_input(AWS, "ecr", &["RepositoryCreationTemplate"], "repositoryPolicy"),
    policy_input(NATIVE, "ecr", &["PublicRepository"], "repositoryPolicyText"),
    policy_input(NATIVE, "efs", &["FileSystem"], "fileSystemPolicy"),
    policy_input(NATIVE, "backup", &["BackupVault"], "accessPolicy"),
    policy_input(NATIVE, "opensearchservice", &["Domain"], "accessPolicies"),
    policy_input(NATIVE, "dynamodb", &["Table"], "resourcePolicy"),
    policy_input(NATIVE, "events", &["EventBus"], "policy"),
    policy_input(NATIVE, "logs", &["Destination"], "destinationPolicy"),
    // AWS: resource policies and permissions as resources of their own, in any service.
    row(Aws, BOTH, "*", Suffix(RESOURCE_POLICIES), Governs,
        "resource-based policies, which say who else may use a resource and may hold Deny statements"),
    row(Aws, BOTH, "*", Suffix(&["Permission", "Permissions", "Grant"]), Grants,
        "resource permissions and grants, which let another account or service use a resource"),
    // Google Cloud.
    row(Gcp, GCP, "*", Suffix(&["IamAuditConfig"]), Governs,
        "IAM audit logging configurations, which record who used access"),
    // IAM members, bindings and policies of every level, custom roles, service accounts and
    // their keys are modeled (`extract::gcp`).
    row(Gcp, GCP, "*", Suffix(&["IamMemberRemove"]), Governs,
        "IAM member removals, which keep a member out of a role: deleting one may let the member back"),
    row(Gcp, GCP, "projects", Exact(&["DefaultServiceAccounts"]), Governs,
        "the handling of a project's default service accounts, whose deletion can restore their Editor role"),
    row(Gcp, GCP, "iam", Any, Governs,
        "workload and workforce identity federation, deny policies and principal access boundaries"),
    row(Gcp, GCP, "orgpolicy", Any, Governs,
        "organization policy constraints"),
    row(Gcp, GCP, "*", Suffix(&["OrganizationPolicy"]), Governs,
        "organization policy constraints"),
    row(Gcp, GCP, "organizations", Exact(&["Policy"]), Governs,
        "organization policy constraints"),
    row(Gcp, GCP, "accesscontextmanager", Any, Governs,
        "VPC Service Controls perimeters and access levels"),
    row(Gcp, GCP, "storage", Suffix(&["AccessControl", "ACL"]), Grants,
        "Cloud Storage ACLs"),
    row(Gcp, GCP, "bigquery", Exact(&["DatasetAccess"]), Grants,
        "BigQuery dataset access entries"),
    row(Gcp, GOOGLE_NATIVE, "*", Suffix(&["IamPolicy", "IamMember", "IamBinding"]), Grants,
        "IAM policies, bindings and members"),
    row(Gcp, GOOGLE_NATIVE, "iam", Any, Governs,
        "service accounts, custom roles, keys, identity pools and deny policies"),
    // Azure.
    // Role assignments and definitions, PIM assignments, Entra ID role and app role assignments,
    // group members, credentials and public blob access are modeled (`extract::azure`).
    row(Azure, AZURE_NATIVE, "authorization", Any, Governs,
        "Azure Policy assignments, definitions and exemptions, management locks and PIM role management policies"),
    row(Azure, AZURE, "pim", Any, Governs,
        "Privileged Identity Management role management policies (activation rules: approval, MFA, duration)"),
    row(Azure, AZURE, "keyvault", Exact(&["AccessPolicy"]), Grants,
        "Key Vault access policies"),
    row(Azure, AZURE, "policy", Any, Governs,
        "Azure Policy definitions, assignments and exemptions"),
    row(Azure, AZURE, "*", Suffix(&["PolicyAssignment", "PolicyExemption", "PolicyDefinition", "PolicySetDefinition"]), Governs,
        "Azure Policy definitions, assignments and exemptions"),
    row(Azure, AZUREAD, "*", Exact(&["ConditionalAccessPolicy", "NamedLocation", "AuthenticationStrengthPolicy"]), Governs,
        "Entra ID conditional access policies and their conditions, guardrails on sign-in"),
    row(Azure, AZUREAD, "*", Any, Grants,
        "Entra ID objects other than the modeled assignments, members and credentials, such as applications and their API permissions, delegated permission grants, group owners and service principals"),
    // Kubernetes.
    // RBAC is modeled (`extract::kubernetes`).
    row(Kubernetes, K8S, "admissionregistration.k8s.io", Any, Governs,
        "admission webhooks and admission policies, which enforce guardrails on every write and see every object admitted"),
    row(Kubernetes, K8S, "certificates.k8s.io", Exact(&["CertificateSigningRequest", "CertificateSigningRequestList", "CertificateSigningRequestPatch"]), Grants,
        "certificate signing requests, which can issue client certificates for any user or group"),
];

/// The row of the table that covers a type token, if any. Cheap: called for every step that no
/// reader models; no allocation.
pub fn lookup(type_: &str) -> Option<&'static Unmodeled> {
    let (package, rest) = type_.split_once(':')?;
    let (module, name) = rest.rsplit_once(':')?;
    let module = module.split('/').next().unwrap_or(module);
    TABLE
        .iter()
        .find(|row| row.packages.contains(&package) && row.covers(module, name))
}

impl Unmodeled {
    fn covers(&self, module: &str, name: &str) -> bool {
        (self.module == "*" || self.module == module)
            && match self.names {
                Any => true,
                Exact(names) => names.contains(&name),
                Suffix(suffixes) => suffixes.iter().any(|s| ends_with_ignore_case(name, s)),
            }
    }

    /// The row as a pattern for the docs, e.g. `aws:ssoadmin:{AccountAssignment, PermissionSet}`.
    pub fn pattern(&self) -> String {
        let packages = match self.packages {
            [one] => (*one).to_owned(),
            many => format!("{{{}}}", many.join(", ")),
        };
        let names = match self.names {
            Any => "*".to_owned(),
            Exact([one]) => (*one).to_owned(),
            Exact(many) => format!("{{{}}}", many.join(", ")),
            Suffix([one]) => format!("*{one}"),
            Suffix(many) => {
                let all: Vec<String> = many.iter().map(|s| format!("*{s}")).collect();
                format!("{{{}}}", all.join(", "))
            }
        };
        format!("{packages}:{}:{names}", self.module)
    }
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.as_bytes()[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(type_: &str) -> Option<Cloud> {
        lookup(type_).map(|r| r.cloud)
    }

    #[test]
    fn the_types_of_the_issue_are_covered() {
        for t in [
            "aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment",
            "aws:ssoadmin/permissionSet:PermissionSet",
            "aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy",
            "aws:ssoadmin/accountAssignment:AccountAssignment",
            "aws:ssoadmin/permissionsBoundaryAttachment:PermissionsBoundaryAttachment",
            "aws:identitystore/groupMembership:GroupMembership",
            "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
            "aws:eks/accessEntry:AccessEntry",
            "aws:organizations/policy:Policy",
            "aws:organizations/policyAttachment:PolicyAttachment",
            "aws:lakeformation/permissions:Permissions",
            "aws:ram/resourceShare:ResourceShare",
            "aws:ram/principalAssociation:PrincipalAssociation",
            "aws:kms/grant:Grant",
            "aws:kms/keyPolicy:KeyPolicy",
            "aws:ecr/registryPolicy:RegistryPolicy",
            "aws:ecrpublic/repositoryPolicy:RepositoryPolicy",
            "aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment",
            "aws:iam/samlProvider:SamlProvider",
            "aws:iam/userLoginProfile:UserLoginProfile",
            "aws:cloudwatch/logResourcePolicy:LogResourcePolicy",
            "aws:ec2/amiLaunchPermission:AmiLaunchPermission",
            "aws-native:sso:PermissionSet",
            "aws-native:sqs:QueueInlinePolicy",
        ] {
            assert_eq!(cloud(t), Some(Cloud::Aws), "{t}");
        }
        for t in [
            "gcp:projects/iAMMemberRemove:IAMMemberRemove",
            "gcp:storage/bucketAccessControl:BucketAccessControl",
            "gcp:bigquery/datasetAccess:DatasetAccess",
            "gcp:projects/defaultServiceAccounts:DefaultServiceAccounts",
            "gcp:iam/denyPolicy:DenyPolicy",
        ] {
            assert_eq!(cloud(t), Some(Cloud::Gcp), "{t}");
        }
        for t in [
            "azure-native:authorization:RoleAssignment",
            "azure-native:authorization/v20220401:RoleAssignment",
            "azure-native:authorization:PolicyAssignment",
            "azure:pim/roleManagementPolicy:RoleManagementPolicy",
            "azure:keyvault/accessPolicy:AccessPolicy",
            "azuread:index/appRoleAssignment:AppRoleAssignment",
            "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment",
            "azuread:index/servicePrincipalPassword:ServicePrincipalPassword",
            "azuread:index/applicationPassword:ApplicationPassword",
        ] {
            assert_eq!(cloud(t), Some(Cloud::Azure), "{t}");
        }
        for t in [
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
            "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfigurationPatch",
            "kubernetes:certificates.k8s.io/v1:CertificateSigningRequest",
        ] {
            assert_eq!(cloud(t), Some(Cloud::Kubernetes), "{t}");
        }
    }

    #[test]
    fn other_types_are_not_covered() {
        for t in [
            "aws:ec2/instance:Instance",
            "aws:s3/bucketObject:BucketObject",
            "aws:ec2/networkAcl:NetworkAcl",
            "aws:wafv2/webAcl:WebAcl",
            "aws:autoscaling/policy:Policy",
            "aws:sqs/queue:Queue",
            "gcp:storage/bucket:Bucket",
            "gcp:compute/instance:Instance",
            "azure-native:storage:StorageAccount",
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:apps/v1:Deployment",
            "pulumi:pulumi:Stack",
            "pulumi:providers:aws",
            "random:index/randomPet:RandomPet",
            "not-a-token",
        ] {
            let row = lookup(t);
            // A queue is covered for its `policy` input only.
            assert!(row.is_none_or(|r| r.property.is_some()), "{t}: {row:?}");
        }
        assert_eq!(
            lookup("aws:sqs/queue:Queue").and_then(|r| r.property),
            Some("policy")
        );
    }

    #[test]
    fn deleting_a_guardrail_is_governs_and_a_binding_grants() {
        let removal = |t: &str| lookup(t).map(|r| r.removal);
        assert_eq!(
            removal("aws:organizations/policy:Policy"),
            Some(Removal::Governs)
        );
        assert_eq!(
            removal("aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy"),
            Some(Removal::Governs)
        );
        assert_eq!(
            removal("aws:ssoadmin/accountAssignment:AccountAssignment"),
            Some(Removal::Grants)
        );
        assert_eq!(
            removal("gcp:iam/denyPolicy:DenyPolicy"),
            Some(Removal::Governs)
        );
        assert_eq!(
            removal("kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration"),
            Some(Removal::Governs)
        );
        assert_eq!(
            removal("azure-native:authorization:PolicyExemption"),
            Some(Removal::Governs)
        );
    }

    #[test]
    fn patterns_read_like_tokens() {
        let p = |t: &str| lookup(t).map(Unmodeled::pattern).unwrap_or_default();
        assert_eq!(
            p("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"),
            "kubernetes:admissionregistration.k8s.io:*"
        );
        assert_eq!(
            p("aws:eks/accessEntry:AccessEntry"),
            "{aws, aws-native}:eks:{AccessEntry, AccessPolicyAssociation, PodIdentityAssociation, IdentityProviderConfig}"
        );
        assert_eq!(p("gcp:iam/denyPolicy:DenyPolicy"), "gcp:iam:*");
    }
}
