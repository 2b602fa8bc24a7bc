//! The catalog entries of the unanalyzed family: one rule per cloud.

use crate::engine::risk::{Category, Rule, Severity};

const REMEDIATION: &str = "Review the change by hand: the report shows the resource's inputs before and after. Check who gains which access (and, for a deletion, which restriction goes away), then approve. `risk.severity` in `.iamgate.yml` sets how strongly these changes are gated; `risk.disable` turns the rule off for a cloud whose access is reviewed elsewhere.";

pub const AWS_001: Rule = Rule {
    id: "AWS-UNANALYZED-001",
    category: Category::Unanalyzed,
    severity: Severity::Medium,
    title: "AWS access control that iamgate does not model",
    rationale: "The resource grants or governs access (IAM Identity Center permission sets and assignments, Organizations SCPs, EKS access entries, Lake Formation permissions, RAM shares, KMS grants, resource policies of services iamgate does not read, ...), but iamgate does not analyze its type. An SSO permission set with AdministratorAccess, an EKS access policy that makes another account cluster-admin or a detached SCP would otherwise pass as \"no IAM change\". It is reported so that a human reviews it.",
    example: r#"{"type":"aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment","op":"create","inputs":{"instanceArn":"arn:aws:sso:::instance/ssoins-1","permissionSetArn":"arn:aws:sso:::permissionSet/ssoins-1/ps-1","managedPolicyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}"#,
    remediation: REMEDIATION,
};

pub const GCP_001: Rule = Rule {
    id: "GCP-UNANALYZED-001",
    category: Category::Unanalyzed,
    severity: Severity::Medium,
    title: "Google Cloud IAM that iamgate does not model",
    rationale: "The resource grants or governs access on Google Cloud (IAM members, bindings and policies at organization, folder, project or resource level, custom roles, service accounts and their keys, deny and organization policies), but iamgate does not analyze Google Cloud IAM yet. A binding of `roles/owner` to an outside account would otherwise pass as \"no IAM change\". It is reported so that a human reviews it.",
    example: r#"{"type":"gcp:projects/iAMMember:IAMMember","op":"create","inputs":{"project":"acme-prod","role":"roles/owner","member":"user:someone@example.com"}}"#,
    remediation: REMEDIATION,
};

pub const AZURE_001: Rule = Rule {
    id: "AZURE-UNANALYZED-001",
    category: Category::Unanalyzed,
    severity: Severity::Medium,
    title: "Azure or Entra ID access control that iamgate does not model",
    rationale: "The resource grants or governs access on Azure (role assignments and definitions, Azure Policy assignments and exemptions, federated identity credentials) or in Entra ID (app role and directory role assignments, group members, service principal and application credentials, conditional access), but iamgate does not analyze Azure yet. An Owner assignment at subscription scope would otherwise pass as \"no IAM change\". It is reported so that a human reviews it.",
    example: r#"{"type":"azure-native:authorization:RoleAssignment","op":"create","inputs":{"scope":"/subscriptions/00000000-0000-0000-0000-000000000000","roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635","principalId":"11111111-1111-1111-1111-111111111111"}}"#,
    remediation: REMEDIATION,
};

pub const K8S_001: Rule = Rule {
    id: "K8S-UNANALYZED-001",
    category: Category::Unanalyzed,
    severity: Severity::Medium,
    title: "Kubernetes access control that iamgate does not model",
    rationale: "The resource governs or grants access in a Kubernetes cluster outside RBAC (admission webhooks and policies, which enforce guardrails and see every object admitted; certificate signing requests, which can issue client certificates for any user or group), which iamgate does not analyze yet. A mutating webhook pointed at an outside endpoint would otherwise pass as \"no IAM change\". It is reported so that a human reviews it. RBAC itself is modeled (the K8S-ADM, PE, DE, ... rules).",
    example: r#"{"type":"kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration","op":"create","inputs":{"metadata":{"name":"inject"},"webhooks":[{"name":"inject.example.com","clientConfig":{"url":"https://hooks.example.com/mutate"},"rules":[{"apiGroups":["*"],"apiVersions":["*"],"operations":["CREATE"],"resources":["*"]}]}]}}"#,
    remediation: REMEDIATION,
};

pub const RULES: &[Rule] = &[AWS_001, GCP_001, AZURE_001, K8S_001];
