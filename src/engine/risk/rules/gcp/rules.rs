//! The catalog entries of the Google Cloud family.

use crate::engine::risk::{Category, Rule, Severity};

pub const ADM_001: Rule = Rule {
    id: "GCP-ADM-001",
    category: Category::AdminAccess,
    severity: Severity::Critical,
    title: "Member is Owner of an organization, folder or project",
    rationale: "`roles/owner` holds every permission of every service in the project (or in every project under the folder or organization), including `setIamPolicy`: the member can read and delete all data, run code as every service account and grant anyone anything. Google recommends against basic roles in production (Google Cloud IAM docs, \"Basic roles\"; \"Use IAM securely\": \"avoid basic roles\").",
    example: r#"{"type":"gcp:projects/iAMMember:IAMMember","inputs":{"project":"acme-prod","role":"roles/owner","member":"user:dev@acme.com"}}"#,
    remediation: "Grant the predefined roles of the services the member uses (`roles/run.developer`, `roles/storage.objectAdmin`, ...) at the narrowest level; keep Owner to a break-glass group.",
};

pub const ADM_002: Rule = Rule {
    id: "GCP-ADM-002",
    category: Category::AdminAccess,
    severity: Severity::High,
    title: "Member is Editor of an organization, folder or project",
    rationale: "`roles/editor` can create, change and delete nearly every resource and read nearly every piece of data in scope, and acts as the project's service accounts (`iam.serviceAccounts.actAs`), several of which are themselves Editor; it only lacks IAM policy changes and billing (Google Cloud IAM docs, \"Basic roles\").",
    example: r#"{"type":"gcp:projects/iAMBinding:IAMBinding","inputs":{"project":"acme-prod","role":"roles/editor","members":["group:devs@acme.com"]}}"#,
    remediation: "Replace Editor with the predefined roles of the services the member works with.",
};

pub const PE_001: Rule = Rule {
    id: "GCP-PE-001",
    category: Category::PrivilegeEscalation,
    severity: Severity::Critical,
    title: "Member can change the IAM policy of an organization, folder or project",
    rationale: "`resourcemanager.{organizations,folders,projects}.setIamPolicy` (Organization Administrator, Security Admin, Project IAM Admin, Folder Admin, or a custom role with it) lets the member grant itself or anyone `roles/owner` there: it is Owner in all but name (Rhino Security Labs, \"Privilege Escalation in Google Cloud Platform\": resourcemanager.projects.setIamPolicy).",
    example: r#"{"type":"gcp:projects/iAMMember:IAMMember","inputs":{"project":"acme-prod","role":"roles/resourcemanager.projectIamAdmin","member":"serviceAccount:ci@acme-prod.iam.gserviceaccount.com"}}"#,
    remediation: "Manage IAM from the reviewed infrastructure program only; if a workload must grant roles, constrain it with an IAM condition on `api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', [])` to the roles it may hand out.",
};

pub const PE_002: Rule = Rule {
    id: "GCP-PE-002",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "Member can impersonate service accounts",
    rationale: "`iam.serviceAccounts.getAccessToken`, `signBlob`, `signJwt`, `implicitDelegation`, `iam.serviceAccountKeys.create` and `iam.serviceAccounts.setIamPolicy` each let the member obtain credentials of a service account (or grant itself the right to), and so everything the account holds; granted on a project, that is every service account of the project, including default accounts that are Editor (Rhino Security Labs, \"Privilege Escalation in Google Cloud Platform\"; Google Cloud docs, \"Service account impersonation\").",
    example: r#"{"type":"gcp:serviceaccount/iAMMember:IAMMember","inputs":{"serviceAccountId":"projects/acme-prod/serviceAccounts/deployer@acme-prod.iam.gserviceaccount.com","role":"roles/iam.serviceAccountTokenCreator","member":"user:dev@acme.com"}}"#,
    remediation: "Grant Service Account Token Creator on the one account needed, not on the project; prefer short-lived impersonation from a reviewed group over keys.",
};

pub const PE_003: Rule = Rule {
    id: "GCP-PE-003",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "Member can run code as a service account (actAs with a deploy permission)",
    rationale: "`iam.serviceAccounts.actAs` (Service Account User) together with a permission that deploys code or machines under an identity (`run.services.create`, `cloudfunctions.functions.create`, `compute.instances.create`, `cloudbuild.builds.create`, `composer.environments.create`, `dataproc.clusters.create`, ...) lets the member run its code as the service account and take its permissions; the two halves are combined across every binding of the member (Rhino Security Labs, \"Privilege Escalation in Google Cloud Platform\": cloudfunctions.functions.create, compute.instances.create, run.services.create, ...).",
    example: r#"{"type":"gcp:projects/iAMPolicy:IAMPolicy","inputs":{"project":"acme-prod","policyData":"{\"bindings\":[{\"role\":\"roles/run.admin\",\"members\":[\"user:dev@acme.com\"]},{\"role\":\"roles/iam.serviceAccountUser\",\"members\":[\"user:dev@acme.com\"]}]}"}}"#,
    remediation: "Grant Service Account User on the specific runtime service account only, and make sure that account holds no more than the workload needs.",
};

pub const PE_004: Rule = Rule {
    id: "GCP-PE-004",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "Member can run code as a Google-managed identity or log in to instances",
    rationale: "Some permissions escalate without `actAs`: `cloudbuild.builds.create` runs builds as the Cloud Build service account (Editor in older projects), `deploymentmanager.deployments.create` deploys as the Google APIs service agent (Editor), and `compute.instances.setMetadata` / `compute.projects.setCommonInstanceMetadata` add SSH keys to instances and so reach their service accounts' tokens (Rhino Security Labs, \"Privilege Escalation in Google Cloud Platform\").",
    example: r#"{"type":"gcp:projects/iAMMember:IAMMember","inputs":{"project":"acme-prod","role":"roles/cloudbuild.builds.editor","member":"user:dev@acme.com"}}"#,
    remediation: "Run builds with a dedicated, least-privileged build service account; use OS Login instead of metadata SSH keys.",
};

pub const PE_005: Rule = Rule {
    id: "GCP-PE-005",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "Member can change custom roles",
    rationale: "`iam.roles.update` lets the member add any permission to a custom role of the project or organization, including one bound to itself (Rhino Security Labs, \"Privilege Escalation in Google Cloud Platform\": iam.roles.update). Complete when the member holds a custom role there, partial otherwise.",
    example: r#"{"type":"gcp:projects/iAMMember:IAMMember","inputs":{"project":"acme-prod","role":"roles/iam.roleAdmin","member":"user:dev@acme.com"}}"#,
    remediation: "Keep custom role administration to the team that owns IAM; do not bind custom roles to members who can edit them.",
};

pub const PE_006: Rule = Rule {
    id: "GCP-PE-006",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "Member can set organization policies",
    rationale: "`orgpolicy.policy.set` lifts the organization policy constraints that guard everyone (`iam.allowedPolicyMemberDomains`, `iam.disableServiceAccountKeyCreation`, `storage.publicAccessPrevention`, ...), after which grants to outsiders, keys and public data are possible (Rhino Security Labs, \"Privilege Escalation in Google Cloud Platform\": orgpolicy.policy.set).",
    example: r#"{"type":"gcp:organizations/iAMMember:IAMMember","inputs":{"orgId":"123456789012","role":"roles/orgpolicy.policyAdmin","member":"user:dev@acme.com"}}"#,
    remediation: "Keep Organization Policy Administrator to the security team, at the organization level only.",
};

pub const PE_007: Rule = Rule {
    id: "GCP-PE-007",
    category: Category::PrivilegeEscalation,
    severity: Severity::Critical,
    title: "Member can take over a service account that is an administrator",
    rationale: "Impersonating a service account (Token Creator, key creation, `setIamPolicy` on it) or running code as it (`actAs` with a deploy permission) gives the member everything the account holds; when the account is Owner, or can set the IAM policy of its project, folder or organization, the member becomes administrator in one more step. The path is found across the stack's bindings: the member's grant on the account (or on its project) and the account's own grants (Rhino Security Labs, \"Privilege Escalation in Google Cloud Platform\", service account impersonation chains).",
    example: r#"{"type":"gcp:projects/iAMPolicy:IAMPolicy","inputs":{"project":"acme-prod","policyData":"{\"bindings\":[{\"role\":\"roles/owner\",\"members\":[\"serviceAccount:deployer@acme-prod.iam.gserviceaccount.com\"]},{\"role\":\"roles/iam.serviceAccountTokenCreator\",\"members\":[\"user:dev@acme.com\"]}]}"}}"#,
    remediation: "Do not let anyone impersonate administrator accounts; give the automation that needs Owner its own project, and grant Token Creator on narrowly privileged accounts only.",
};

pub const PM_001: Rule = Rule {
    id: "GCP-PM-001",
    category: Category::PermissionsManagement,
    severity: Severity::Medium,
    title: "Member can change the IAM policy of resources",
    rationale: "A `*.setIamPolicy` permission on resources (buckets, topics, secrets, keys, datasets, services: most `*Admin` roles carry it) lets the member hand access to those resources to anyone, `allUsers` included, without review. Read from the role's permissions, not its name.",
    example: r#"{"type":"gcp:projects/iAMMember:IAMMember","inputs":{"project":"acme-prod","role":"roles/storage.admin","member":"user:dev@acme.com"}}"#,
    remediation: "Grant the role without IAM administration (`roles/storage.objectAdmin` instead of `roles/storage.admin`), or on the few resources the member owns.",
};

pub const DE_001: Rule = Rule {
    id: "GCP-DE-001",
    category: Category::DataExfiltration,
    severity: Severity::High,
    title: "Member can read every secret or decrypt with every key of a project",
    rationale: "`secretmanager.versions.access` or `cloudkms.cryptoKeyVersions.useToDecrypt` at the project, folder or organization level reaches every secret or key in scope, present and future: credentials and encrypted data of every application there.",
    example: r#"{"type":"gcp:projects/iAMMember:IAMMember","inputs":{"project":"acme-prod","role":"roles/secretmanager.secretAccessor","member":"serviceAccount:app@acme-prod.iam.gserviceaccount.com"}}"#,
    remediation: "Grant Secret Accessor on the secrets the workload reads (`gcp.secretmanager.SecretIamMember`), and CryptoKey Decrypter on its keys.",
};

pub const PUB_001: Rule = Rule {
    id: "GCP-PUB-001",
    category: Category::PublicExposure,
    severity: Severity::Critical,
    title: "Role granted to allUsers or allAuthenticatedUsers",
    rationale: "`allUsers` is anyone on the internet and `allAuthenticatedUsers` anyone with any Google account: a role that writes or reads data granted to them publishes it. Critical when the role writes or reads data, medium for metadata only, low for invoking a service (a public Cloud Run service or function) (Google Cloud docs, \"Principal identifiers\"; Cloud Storage, \"Making data public\").",
    example: r#"{"type":"gcp:storage/bucketIAMMember:BucketIAMMember","inputs":{"bucket":"acme-exports","role":"roles/storage.objectViewer","member":"allUsers"}}"#,
    remediation: "Grant the role to named members; serve public content through a load balancer or signed URLs; enforce `storage.publicAccessPrevention` and `iam.allowedPolicyMemberDomains`.",
};

pub const XA_001: Rule = Rule {
    id: "GCP-XA-001",
    category: Category::CrossAccount,
    severity: Severity::High,
    title: "Role granted to a member outside the trusted domains",
    rationale: "A user, group or domain whose email domain is not in `risk.trusted_domains` (consumer accounts such as gmail.com always count as outside), or a service account of a project outside the stack when trusted domains are set, is an identity the organization does not manage: its credentials, recovery and departure are not under your control (Google Cloud docs, \"Restricting identities by domain\").",
    example: r#"{"type":"gcp:projects/iAMMember:IAMMember","inputs":{"project":"acme-prod","role":"roles/viewer","member":"user:contractor@gmail.com"}}"#,
    remediation: "Grant access to accounts of your Cloud Identity / Workspace domain, or add the partner's domain to `risk.trusted_domains` in `.iamgate.yml`; enforce `iam.allowedPolicyMemberDomains`.",
};

pub const CE_001: Rule = Rule {
    id: "GCP-CE-001",
    category: Category::CredentialsExposure,
    severity: Severity::High,
    title: "Service account key or HMAC key created",
    rationale: "A user-managed service account key (or a Cloud Storage HMAC key) is a long-lived secret that never expires by default; created by Pulumi, its private part is stored in the stack's state and outputs, and whoever reads it acts as the account (Google Cloud docs, \"Best practices for managing service account keys\").",
    example: r#"{"type":"gcp:serviceaccount/key:Key","inputs":{"serviceAccountId":"projects/acme-prod/serviceAccounts/ci@acme-prod.iam.gserviceaccount.com"}}"#,
    remediation: "Use workload identity federation or service account impersonation instead of keys; if a key is unavoidable, upload your own public key (`publicKeyData`) and rotate it.",
};

pub const UNK_001: Rule = Rule {
    id: "GCP-UNK-001",
    category: Category::UnknownValue,
    severity: Severity::Medium,
    title: "IAM grant whose role, member, resource or condition is unknown until apply",
    rationale: "The value is computed during the deployment (an output of a resource the change creates): the preview cannot show what is granted, to whom or where, so iamgate can neither clear it nor score it in full. The grant is still judged on what is known.",
    example: r#"{"type":"gcp:projects/iAMMember:IAMMember","inputs":{"project":"acme-prod","role":"roles/editor","member":"04da6b54-80e4-46f7-96ec-b56ff0331ba9"}}"#,
    remediation: "Use values known at preview (plain strings, or outputs of resources that already exist), or review the applied policy by hand.",
};

pub const UNA_001: Rule = Rule {
    id: "GCP-UNA-001",
    category: Category::Unanalyzed,
    severity: Severity::Medium,
    title: "Role iamgate does not know",
    rationale: "The role is neither a predefined role of iamgate's table (`data/gcp-roles.tsv`, from iam-dataset) nor a custom role defined in this stack: it may be newer than the table, defined elsewhere or misspelled, and may grant anything. It is never taken as harmless.",
    example: r#"{"type":"gcp:projects/iAMMember:IAMMember","inputs":{"project":"acme-prod","role":"projects/acme-prod/roles/legacyDeployer","member":"user:dev@acme.com"}}"#,
    remediation: "Define the custom role in the same stack, or review its permissions (`gcloud iam roles describe`) with the change.",
};

pub const MAL_001: Rule = Rule {
    id: "GCP-MAL-001",
    category: Category::Malformed,
    severity: Severity::High,
    title: "IAM policy or binding iamgate cannot read",
    rationale: "A `policyData` that is not JSON, bindings that are not a list, a member that is not text: iamgate cannot tell what is granted, and the provider may still apply another reading of it.",
    example: r#"{"type":"gcp:projects/iAMPolicy:IAMPolicy","inputs":{"project":"acme-prod","policyData":"{\"bindings\": {\"role\": \"roles/owner\"}}"}}"#,
    remediation: "Build the policy with `gcp.organizations.getIAMPolicy` (or write it as the IAM API defines it: a list of bindings, each with `role` and `members`).",
};

pub const RULES: &[Rule] = &[
    ADM_001, ADM_002, PE_001, PE_002, PE_003, PE_004, PE_005, PE_006, PE_007, PM_001, DE_001,
    PUB_001, XA_001, CE_001, UNK_001, UNA_001, MAL_001,
];
