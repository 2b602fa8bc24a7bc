//! The catalog entries of the exposure family (catalog §2.4, §2.5).

use crate::engine::risk::{Category, Rule, Severity};

pub const RE_001: Rule = Rule {
    id: "AWS-RE-001",
    category: Category::PermissionsManagement,
    severity: Severity::High,
    title: "Permissions-management actions on every resource",
    rationale: "Permissions-management actions change who can use a resource: bucket policies and ACLs, key policies and grants, Lambda and queue permissions, snapshot sharing. On every resource, this principal can make any bucket public or share any snapshot or key with another account. Not counted: the actions of that AWS access level that only read (their names start with Get, List, Describe, Search, BatchGet or Validate, such as `quicksight:DescribeDataSetPermissions` or `billing:GetResourcePolicy`), which change no one's access; `iam:PassRole` (the escalation rules); `iam:CreateServiceLinkedRole` (AWS-RE-004).",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutBucketPolicy","Resource":"*"}]}"#,
    remediation: "Grant permissions-management actions only on the resources the workload owns (`arn:aws:s3:::app-data`), or drop them: resource policies are usually better managed in the infrastructure code than by the workload at run time.",
};

pub const RE_002: Rule = Rule {
    id: "AWS-RE-002",
    category: Category::PermissionsManagement,
    severity: Severity::Medium,
    title: "Can rewrite a resource policy to grant itself more",
    rationale: "The principal may change a resource-based policy (such as `s3:PutBucketPolicy`) of a service where it lacks other actions. A resource policy can name the principal itself, so it can grant itself every action it was not given, on those resources.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutBucketPolicy"],"Resource":["arn:aws:s3:::app-data","arn:aws:s3:::app-data/*"]}]}"#,
    remediation: "Remove the policy-writing action (`s3:PutBucketPolicy`, `kms:PutKeyPolicy`, `lambda:AddPermission`, ...) and manage the resource policy in the infrastructure code instead.",
};

pub const RE_003: Rule = Rule {
    id: "AWS-RE-003",
    category: Category::DataExfiltration,
    severity: Severity::High,
    title: "Access to a resource named sensitive in the config",
    rationale: "`risk.sensitive_resources` in `.iamgate.yml` names the resources whose access matters most (the Pulumi state bucket, production KMS keys, the deploy role). Any identity policy that reaches them, by name, by wildcard or by `*`, deserves a second look, however ordinary its actions.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-pulumi-state/*"}]}"#,
    remediation: "Confirm the principal needs this resource; otherwise remove it from the statement's `Resource` (a `*` or a wildcard that covers it counts too) or add an explicit `Deny` on it.",
};

pub const RE_004: Rule = Rule {
    id: "AWS-RE-004",
    category: Category::PermissionsManagement,
    severity: Severity::Low,
    title: "Creates the service-linked role of any service",
    rationale: "`iam:CreateServiceLinkedRole` creates the role an AWS service uses to act in the account. Its permissions and trust policy are set by AWS and only that service can assume it, so creating one is not privilege escalation: it lets a service start working in the account. Without `iam:AWSServiceName` (or a Resource under `role/aws-service-role/<service>/`), it can do that for any service. Pinned to named services it is not reported.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateServiceLinkedRole","Resource":"*"}]}"#,
    remediation: "Name the services: `\"Condition\": {\"StringEquals\": {\"iam:AWSServiceName\": \"elasticloadbalancing.amazonaws.com\"}}`.",
};

pub const CE_001: Rule = Rule {
    id: "AWS-CE-001",
    category: Category::CredentialsExposure,
    severity: Severity::High,
    title: "Actions that return credentials, on every resource",
    rationale: "These actions hand out credentials (access keys, passwords, tokens, role sessions). On every resource, the principal can obtain credentials for identities and systems beyond its own, such as assuming any role that trusts the account or creating keys for any user. Not counted, because they give the principal nothing it does not already have: tokens that carry only the caller's own rights (`ecr:GetAuthorizationToken`, `ecr-public:GetAuthorizationToken`, `codeartifact:GetAuthorizationToken`, `sts:GetServiceBearerToken`, `sts:GetSessionToken`), which every ECS task and EKS node role needs; Cognito identity pool calls that AWS serves to anyone without credentials (`cognito-identity:GetCredentialsForIdentity`, `cognito-identity:GetOpenIdToken`); `cognito-idp:GetSigningCertificate`, a public certificate.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
    remediation: "Scope the action to the specific resources it needs: `sts:AssumeRole` to the role ARNs, `iam:CreateAccessKey` to `arn:aws:iam::<account>:user/${aws:username}`, `redshift:GetClusterCredentials` to the cluster and database user.",
};

pub const DX_001: Rule = Rule {
    id: "AWS-DX-001",
    category: Category::DataExfiltration,
    severity: Severity::Medium,
    title: "Reads objects, parameters or secrets on every resource",
    rationale: "`s3:GetObject`, `ssm:GetParameter*`, `secretsmanager:GetSecretValue` (and RDS snapshot copies) on every resource let the principal read every object, parameter and secret of the account, including those of other teams.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#,
    remediation: "Name the buckets, parameter paths or secrets the workload reads (`arn:aws:ssm:eu-west-1:111122223333:parameter/app/*`).",
};

pub const DX_002: Rule = Rule {
    id: "AWS-DX-002",
    category: Category::DataExfiltration,
    severity: Severity::Medium,
    title: "Decrypts, scans tables or shares snapshots on every resource",
    rationale: "`kms:Decrypt`, `dynamodb:Scan`/`Query` and `s3:GetObjectVersion` on every resource read any encrypted or tabular data of the account; `ec2:CreateSnapshot` with `ec2:ModifySnapshotAttribute` copies any volume and shares it with another account.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#,
    remediation: "Name the keys, tables and volumes the workload uses, and use a `kms:ViaService` condition so keys are only used through the intended service.",
};

/// The family's entries, in catalog order.
pub const RULES: &[Rule] = &[RE_001, RE_002, RE_003, RE_004, CE_001, DX_001, DX_002];
