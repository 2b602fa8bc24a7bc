//! The catalog entries of the Azure family (Azure RBAC, Entra ID, anonymous blob access).

use crate::engine::risk::{Category, Rule, Severity};

const OWNER_EXAMPLE: &str = r#"{"type":"azure-native:authorization:RoleAssignment","inputs":{"scope":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590","roleDefinitionId":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635","principalId":"7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20","principalType":"ServicePrincipal"}}"#;

pub const ADM_001: Rule = Rule {
    id: "AZURE-ADM-001",
    category: Category::AdminAccess,
    severity: Severity::Critical,
    title: "Principal holds every action, role assignment included (Owner)",
    rationale: "Every control-plane action including `Microsoft.Authorization/roleAssignments/write` (Owner, or a custom role with `*` that does not take the authorization writes away), combined over all of the principal's assignments: at a management group or subscription the principal controls every resource and can grant anyone anything, itself included. Microsoft lists Owner among the privileged administrator roles and recommends against assigning it at subscription or management group scope to workloads (Microsoft Learn, \"Azure built-in roles for Privileged\"; \"Best practices for Azure RBAC: limit privileged administrator role assignments\").",
    example: OWNER_EXAMPLE,
    remediation: "Assign the built-in role that covers what the principal does (Reader, a service's Contributor role) at the resource group or resource it manages; keep Owner for break-glass accounts, eligible through PIM rather than active.",
};

pub const ADM_002: Rule = Rule {
    id: "AZURE-ADM-002",
    category: Category::AdminAccess,
    severity: Severity::High,
    title: "Principal can manage every resource (Contributor)",
    rationale: "Every control-plane action except the authorization writes (Contributor, or a custom role with `*` minus `Microsoft.Authorization/*/Write`): the principal reads every storage account key and Key Vault it can reach, and runs code on virtual machines, App Service and Automation accounts as their managed identities, which often hold more (Microsoft Learn, \"Azure built-in roles for Privileged\": Contributor is a privileged administrator role; SpecterOps, \"Managed Identity Attack Paths\").",
    example: r#"{"type":"azure:authorization/assignment:Assignment","inputs":{"scope":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590","roleDefinitionName":"Contributor","principalId":"7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20"}}"#,
    remediation: "Assign the service-specific Contributor roles the principal needs, at the resource groups it deploys to.",
};

pub const PE_001: Rule = Rule {
    id: "AZURE-PE-001",
    category: Category::PrivilegeEscalation,
    severity: Severity::Critical,
    title: "Principal can create role assignments (User Access Administrator, RBAC Administrator)",
    rationale: "`Microsoft.Authorization/roleAssignments/write` lets the principal assign any role assignable at the scope, Owner included, to itself or anyone: one step from full control (User Access Administrator, Role Based Access Control Administrator, or a custom role with `Microsoft.Authorization/*`). An ABAC `condition` that limits which roles and principals it may assign (Microsoft's recommended constraint for RBAC Administrator) makes it conditioned (Microsoft Learn, \"Delegate Azure role assignment management to others with conditions\").",
    example: r#"{"type":"azure-native:authorization:RoleAssignment","inputs":{"scope":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590","roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/18d7d88d-d35e-4fb5-a5c3-7773c20a72d9","principalId":"7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20"}}"#,
    remediation: "Use Role Based Access Control Administrator with a condition that lists the roles it may assign (never Owner, User Access Administrator or RBAC Administrator) and the principals it may assign them to.",
};

pub const PE_002: Rule = Rule {
    id: "AZURE-PE-002",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "Principal can write role definitions",
    rationale: "`Microsoft.Authorization/roleDefinitions/write` lets the principal add any action to a custom role that it (or an accomplice) already holds, which widens every assignment of that role at once; Contributor's `NotActions` exclude it for that reason (Microsoft Learn, \"Azure custom roles\").",
    example: r#"{"type":"azure-native:authorization:RoleDefinition","inputs":{"roleName":"role-editor","scope":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590","permissions":[{"actions":["Microsoft.Authorization/roleDefinitions/write"]}]}}"#,
    remediation: "Manage custom roles from the reviewed infrastructure program only; give workloads no authorization write.",
};

pub const RD_001: Rule = Rule {
    id: "AZURE-RD-001",
    category: Category::Wildcard,
    severity: Severity::High,
    title: "Custom role allows every action (`*`)",
    rationale: "A custom role whose `actions` include `*` grants whatever exists today and every action Azure adds later; without `notActions` on `Microsoft.Authorization` it is a custom Owner, which Checkov's CKV_AZURE_39 (\"Ensure that no custom subscription owner roles are created\") and the CIS Azure Foundations benchmark forbid.",
    example: r#"{"type":"azure:authorization/roleDefinition:RoleDefinition","inputs":{"name":"ops-everything","scope":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590","permissions":[{"actions":["*"],"notActions":[]}],"assignableScopes":["/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"]}}"#,
    remediation: "List the actions the role needs (`Microsoft.Web/sites/*`, `Microsoft.Storage/storageAccounts/read`).",
};

pub const RD_002: Rule = Rule {
    id: "AZURE-RD-002",
    category: Category::PermissionsManagement,
    severity: Severity::High,
    title: "Custom role can write role assignments or role definitions",
    rationale: "`Microsoft.Authorization/roleAssignments/write`, `roleDefinitions/write` (directly or through `Microsoft.Authorization/*`) or `elevateAccess/Action` in a custom role make whoever is assigned it a permissions manager: it can grant access, and so escalate (Contributor's `NotActions` exclude exactly these).",
    example: r#"{"type":"azure-native:authorization:RoleDefinition","inputs":{"roleName":"access-manager","scope":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590","permissions":[{"actions":["Microsoft.Authorization/*","*/read"]}]}}"#,
    remediation: "Remove the authorization writes; delegate role assignment with the built-in RBAC Administrator role and a condition instead.",
};

pub const DIR_001: Rule = Rule {
    id: "AZURE-DIR-001",
    category: Category::AdminAccess,
    severity: Severity::Critical,
    title: "Principal is made Global Administrator",
    rationale: "Global Administrator manages every aspect of Entra ID and the Microsoft services that use it, and can elevate itself to User Access Administrator over every Azure subscription of the tenant (Microsoft Learn, \"Microsoft Entra built-in roles\", \"Elevate access to manage all Azure subscriptions\").",
    example: r#"{"type":"azuread:index/directoryRoleAssignment:DirectoryRoleAssignment","inputs":{"roleId":"62e90394-69f5-4237-9190-012177145e10","principalObjectId":"7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20"}}"#,
    remediation: "Keep Global Administrator to a few break-glass accounts, eligible through PIM; give automation the least privileged role for its task.",
};

pub const DIR_002: Rule = Rule {
    id: "AZURE-DIR-002",
    category: Category::PrivilegeEscalation,
    severity: Severity::Critical,
    title: "Directory role one step from Global Administrator",
    rationale: "Privileged Role Administrator assigns any directory role, Global Administrator included, and grants any application permission; Privileged Authentication Administrator resets the passwords and sign-in methods of Global Administrators (Microsoft Learn, \"Microsoft Entra built-in roles\", privileged label; Emilien Socchi, \"azure-tiering\", Tier 0 Entra roles).",
    example: r#"{"type":"azuread:index/directoryRoleAssignment:DirectoryRoleAssignment","inputs":{"roleId":"e8611ab8-c189-46e8-94e1-60213ab1f814","principalObjectId":"7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20"}}"#,
    remediation: "Make the assignment eligible through PIM with approval, for people only; automation should not hold these roles.",
};

pub const DIR_003: Rule = Rule {
    id: "AZURE-DIR-003",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "Directory role with a known path to Global Administrator",
    rationale: "Application Administrator and Cloud Application Administrator add credentials to any service principal and act as it, with every role and Graph permission it holds; Authentication, Helpdesk and User Administrators take over the accounts they can reset; Conditional Access, Security, Hybrid Identity, Domain Name and External Identity Provider Administrators can remove sign-in protections or federate sign-in to an identity provider they control (Microsoft Learn, \"Microsoft Entra built-in roles\", privileged label; Dirk-jan Mollema, \"Azure AD privilege escalation - Taking over default application permissions as Application Admin\"; Emilien Socchi, \"azure-tiering\").",
    example: r#"{"type":"azuread:index/directoryRoleAssignment:DirectoryRoleAssignment","inputs":{"roleId":"9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3","principalObjectId":"7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20"}}"#,
    remediation: "Scope the role to an administrative unit or to the one application concerned (`directoryScopeId`), or make it eligible through PIM.",
};

pub const APP_001: Rule = Rule {
    id: "AZURE-APP-001",
    category: Category::PrivilegeEscalation,
    severity: Severity::Critical,
    title: "Microsoft Graph application permission one step from Global Administrator",
    rationale: "An application granted `RoleManagement.ReadWrite.Directory` assigns itself Global Administrator; `AppRoleAssignment.ReadWrite.All` grants itself that permission first; the PIM and authentication-method permissions of the same tier reach it as directly. Anyone who holds the application's credentials, or can add one, owns the tenant (Andy Robbins, \"Azure Privilege Escalation via Azure API Permissions Abuse\", SpecterOps 2021; Emilien Socchi, \"azure-tiering\", Tier 0 Graph application permissions).",
    example: r#"{"type":"azuread:index/appRoleAssignment:AppRoleAssignment","inputs":{"appRoleId":"9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8","principalObjectId":"7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20","resourceObjectId":"3c4b7a61-5f0e-4d8c-9a2b-1e6f7d8c9b0a"}}"#,
    remediation: "Grant the narrowest permission for the task (`RoleManagement.Read.Directory`, `Application.ReadWrite.OwnedBy`), or use a directory role scoped to an administrative unit.",
};

pub const APP_002: Rule = Rule {
    id: "AZURE-APP-002",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "Microsoft Graph application permission with a known path to Global Administrator",
    rationale: "`Application.ReadWrite.All` adds credentials to any service principal, so the application becomes whichever holds the most; `Directory.ReadWrite.All`, `Group.ReadWrite.All` and `GroupMember.ReadWrite.All` join groups that hold roles; the policy permissions can switch off consent or conditional-access protection (Andy Robbins, \"Azure Privilege Escalation via Azure API Permissions Abuse\"; Emilien Socchi, \"azure-tiering\").",
    example: r#"{"type":"azuread:index/appRoleAssignment:AppRoleAssignment","inputs":{"appRoleId":"1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9","principalObjectId":"7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20","resourceObjectId":"3c4b7a61-5f0e-4d8c-9a2b-1e6f7d8c9b0a"}}"#,
    remediation: "Use the `OwnedBy` or read-only variant, or a directory role scoped to an administrative unit.",
};

pub const CE_001: Rule = Rule {
    id: "AZURE-CE-001",
    category: Category::CredentialsExposure,
    severity: Severity::Medium,
    title: "Password or certificate added to an application or service principal",
    rationale: "A client secret or certificate lets whoever holds it sign in as the application from anywhere, with every role and permission the application holds; the secret ends up in the stack's state and outputs. Workload identity federation or managed identities need no secret (Microsoft Learn, \"Securing service principals in Microsoft Entra ID\").",
    example: r#"{"type":"azuread:index/applicationPassword:ApplicationPassword","inputs":{"applicationId":"/applications/0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f","displayName":"ci"}}"#,
    remediation: "Use a managed identity, or a federated identity credential for the CI or workload that signs in; if a secret is unavoidable, keep its lifetime short and rotate it.",
};

pub const CE_002: Rule = Rule {
    id: "AZURE-CE-002",
    category: Category::CredentialsExposure,
    severity: Severity::Low,
    title: "Federated identity credential lets an external issuer sign in as an application or managed identity",
    rationale: "Tokens issued by the `issuer` for the `subject` (a GitHub repository's branch or environment, a Kubernetes service account) sign in as the application or user-assigned managed identity: whoever controls that subject holds its roles and permissions. Exact subjects keep this narrow; a branch anyone can push to does not (Microsoft Learn, \"Workload identity federation\").",
    example: r#"{"type":"azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential","inputs":{"applicationId":"/applications/0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f","displayName":"gh","issuer":"https://token.actions.githubusercontent.com","subject":"repo:example/app:ref:refs/heads/main","audiences":["api://AzureADTokenExchange"]}}"#,
    remediation: "Use a protected environment (`repo:org/app:environment:prod`) as the subject, with required reviewers.",
};

pub const PUB_001: Rule = Rule {
    id: "AZURE-PUB-001",
    category: Category::PublicExposure,
    severity: Severity::Critical,
    title: "Blob container readable by anyone",
    rationale: "A container with public access level `Container` lets anyone on the internet list and read its blobs; `Blob` lets anyone read a blob whose name they know or guess (Microsoft Learn, \"Configure anonymous read access for containers and blobs\"; Checkov CKV_AZURE_34 / CKV2_AZURE_21).",
    example: r#"{"type":"azure-native:storage:BlobContainer","inputs":{"accountName":"assets","resourceGroupName":"rg","containerName":"exports","publicAccess":"Container"}}"#,
    remediation: "Set the access level to `None` and share with SAS tokens or a CDN with authentication; set `allowBlobPublicAccess: false` on the account.",
};

pub const PUB_002: Rule = Rule {
    id: "AZURE-PUB-002",
    category: Category::PublicExposure,
    severity: Severity::Medium,
    title: "Storage account allows public blob access",
    rationale: "With `allowBlobPublicAccess` (classic `allowNestedItemsToBePublic`) true, anyone who can write a container's settings can make it readable by the internet; Microsoft disallows it by default for new accounts and CIS Azure 3.7 requires it off (Microsoft Learn, \"Prevent anonymous read access to containers and blobs\").",
    example: r#"{"type":"azure-native:storage:StorageAccount","inputs":{"accountName":"assets","resourceGroupName":"rg","kind":"StorageV2","sku":{"name":"Standard_LRS"},"allowBlobPublicAccess":true}}"#,
    remediation: "Set `allowBlobPublicAccess: false`.",
};

pub const UNK_001: Rule = Rule {
    id: "AZURE-UNK-001",
    category: Category::UnknownValue,
    severity: Severity::Medium,
    title: "Grant whose role, principal or scope is unknown until apply",
    rationale: "The role definition, the principal or the scope of an assignment (or the actions of a role definition it uses) are computed during the deployment: the preview cannot show what is granted to whom, so iamgate can neither clear it nor score it.",
    example: r#"{"type":"azure-native:authorization:RoleAssignment","inputs":{"scope":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590","roleDefinitionId":"04da6b54-80e4-46f7-96ec-b56ff0331ba9","principalId":"7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20"}}"#,
    remediation: "Use values known at preview (the built-in role's GUID, ids of resources that already exist), or review the applied assignment by hand.",
};

pub const UNA_001: Rule = Rule {
    id: "AZURE-UNA-001",
    category: Category::Unanalyzed,
    severity: Severity::Medium,
    title: "Assignment of a role iamgate cannot see",
    rationale: "The assignment names a role definition that is neither defined in this stack nor in iamgate's table of built-in roles (or an Entra ID role outside its table of privileged roles): it may grant anything.",
    example: r#"{"type":"azure:authorization/assignment:Assignment","inputs":{"scope":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590","roleDefinitionId":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/providers/Microsoft.Authorization/roleDefinitions/5d1c7d3a-0f6b-4c4e-9d51-6f0b2b8c1a90","principalId":"7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20"}}"#,
    remediation: "Define the role in the same stack, or review its actions (`az role definition list --name <id>`) with the change.",
};

pub const MAL_001: Rule = Rule {
    id: "AZURE-MAL-001",
    category: Category::Malformed,
    severity: Severity::High,
    title: "Azure or Entra ID IAM resource iamgate cannot read",
    rationale: "A role definition's permissions, a principal id or a public access level is not in the shape the provider defines: iamgate cannot tell what it grants, and the provider may still accept another reading of it.",
    example: r#"{"type":"azure-native:authorization:RoleDefinition","inputs":{"roleName":"r","scope":"/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590","permissions":[{"actions":"*"}]}}"#,
    remediation: "Write the resource with the typed arguments of the provider SDK (lists of strings for actions).",
};

pub const RULES: &[Rule] = &[
    ADM_001, ADM_002, PE_001, PE_002, DIR_001, DIR_002, DIR_003, APP_001, APP_002, RD_001, RD_002,
    PUB_001, PUB_002, CE_001, CE_002, UNK_001, UNA_001, MAL_001,
];
