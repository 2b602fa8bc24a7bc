//! The catalog entries of the wildcard and structure family (catalog §2.1).

use crate::engine::risk::{Category, Rule, Severity};

pub const WC_001: Rule = Rule {
    id: "AWS-WC-001",
    category: Category::AdminAccess,
    severity: Severity::Critical,
    title: "Full administrator access (`*` on `*`)",
    rationale: "The principal may perform every AWS action on every resource with no limiting condition. Anyone who can use it (a compromised CI job, a leaked key, code running as the role) owns the account: they can read every secret, delete every resource and create new admins for later.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    remediation: "List the services and actions the workload really calls (IAM Access Analyzer can generate a policy from CloudTrail activity) and scope `Resource` to its own ARNs. Keep administrator access to a few human break-glass roles that require MFA.",
};

pub const WC_002: Rule = Rule {
    id: "AWS-WC-002",
    category: Category::Wildcard,
    severity: Severity::High,
    title: "`Action: \"*\"` in an Allow statement",
    rationale: "`*` grants every current and future action of every service on the listed resources, including permissions management (policies, ACLs, sharing) that can hand the resources to someone else.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::app-data/*"}]}"#,
    remediation: "Replace `*` with the actions the workload needs, e.g. `[\"s3:GetObject\", \"s3:PutObject\"]`.",
};

pub const WC_003: Rule = Rule {
    id: "AWS-WC-003",
    category: Category::Wildcard,
    severity: Severity::Medium,
    title: "Service-wide wildcard action (`service:*`)",
    rationale: "`service:*` grants every action of the service, including ones added by AWS later, and usually its permissions-management actions. It is high for services that control identity, keys, compute or secrets (`iam`, `sts`, `organizations`, `kms`, `lambda`, `ec2`, `ssm`, `secretsmanager`).",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
    remediation: "List the actions the workload calls (`s3:GetObject`, `s3:PutObject`) instead of `service:*`, or at least use read-only patterns such as `s3:Get*` and `s3:List*`.",
};

pub const WC_004: Rule = Rule {
    id: "AWS-WC-004",
    category: Category::Wildcard,
    severity: Severity::Medium,
    title: "Write actions on `Resource: \"*\"` without a condition",
    rationale: "The actions support resource-level permissions but are granted on every resource of the account, so a mistake or a compromise of this principal can modify or delete resources that belong to other workloads.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#,
    remediation: "Name the resources in `Resource` (`arn:aws:s3:::app-data/*`), or add a condition that limits them (for example on `aws:ResourceTag/team`).",
};

pub const WC_005: Rule = Rule {
    id: "AWS-WC-005",
    category: Category::Wildcard,
    severity: Severity::Medium,
    title: "Write actions on resources that are `*` in effect",
    rationale: "The listed ARNs use wildcards that cover every resource the actions accept (`arn:aws:s3:::*` covers every bucket and object), so the statement is `Resource: \"*\"` in disguise.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::*"}]}"#,
    remediation: "Replace the wildcard ARNs by the resources the workload owns (`arn:aws:s3:::app-data/*`), or a prefix that only its resources use.",
};

pub const WC_006: Rule = Rule {
    id: "AWS-WC-006",
    category: Category::Wildcard,
    severity: Severity::High,
    title: "Allow with `NotAction`",
    rationale: "An Allow with `NotAction` grants every action except the listed ones, including every action AWS adds later. Excluding `iam:Create*` or `iam:Attach*` still leaves escalation paths open such as `ssm:SendCommand`, `ec2:RunInstances` with `iam:PassRole`, or `lambda:UpdateFunctionCode`.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:Update*","iam:Create*","iam:Attach*"],"Resource":"*"}]}"#,
    remediation: "List the allowed actions with `Action` instead. If the goal is \"everything but IAM\", grant the needed services explicitly and keep `NotAction` for Deny statements only.",
};

pub const WC_007: Rule = Rule {
    id: "AWS-WC-007",
    category: Category::Wildcard,
    severity: Severity::Medium,
    title: "Allow with `NotResource`",
    rationale: "An Allow with `NotResource` grants the actions on every resource except the listed ones, including resources created later by anyone in the account.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::audit-logs/*"}]}"#,
    remediation: "List the resources the actions apply to with `Resource`. To protect a resource from a broad grant, add a Deny statement for it instead.",
};

pub const WC_008: Rule = Rule {
    id: "AWS-WC-008",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "`iam:PassRole` on every role without `iam:PassedToService`",
    rationale: "PassRole on `*` (or `arn:aws:iam::*:role/*`) lets the principal hand any role of the account, including admin roles, to a service it can start (EC2, Lambda, ECS, Glue, CloudFormation...), then act as that role through it. Alone it is half of an escalation path.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}"#,
    remediation: "Scope `Resource` to the roles the workload passes (`arn:aws:iam::111122223333:role/app-task`) and add `\"Condition\": {\"StringEquals\": {\"iam:PassedToService\": \"ecs-tasks.amazonaws.com\"}}`.",
};

pub const WC_009: Rule = Rule {
    id: "AWS-WC-009",
    category: Category::Wildcard,
    severity: Severity::Low,
    title: "Tagging actions on every resource without a condition",
    rationale: "When access elsewhere depends on tags (`aws:ResourceTag` conditions, attribute-based access control), a principal that may tag any resource can tag its way into that access.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:TagRole","Resource":"*"}]}"#,
    remediation: "Scope tagging to the workload's own resources, and restrict the tag keys it may set with `aws:TagKeys` and `aws:RequestTag/<key>` conditions.",
};

pub const WC_010: Rule = Rule {
    id: "AWS-WC-010",
    category: Category::Wildcard,
    severity: Severity::Medium,
    title: "`ForAllValues:` used with a single-valued condition key",
    rationale: "`ForAllValues:` is true when the request has no value for the key, so with a single-valued key such as `aws:RequestedRegion` or `aws:PrincipalTag/team` the condition can be met by a request that lacks it: an Allow becomes wider and a Deny can be bypassed.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:RequestedRegion":"eu-west-1"}}}]}"#,
    remediation: "Drop the `ForAllValues:` prefix for single-valued keys (`\"StringEquals\": {\"aws:RequestedRegion\": \"eu-west-1\"}`). Use set operators only with multi-valued keys such as `aws:TagKeys`.",
};

pub const WC_011: Rule = Rule {
    id: "AWS-WC-011",
    category: Category::Wildcard,
    severity: Severity::Medium,
    title: "MFA check that long-term credentials pass",
    rationale: "`aws:MultiFactorAuthPresent` is absent for long-term access keys, so `{\"Bool\": {\"aws:MultiFactorAuthPresent\": \"false\"}}` never matches them (a Deny built on it lets access keys through) and `{\"Null\": {\"aws:MultiFactorAuthPresent\": \"false\"}}` only checks that the key exists, not that MFA was used.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
    remediation: "Deny with `\"BoolIfExists\": {\"aws:MultiFactorAuthPresent\": \"false\"}`, which also matches requests without the key, or Allow with `\"Bool\": {\"aws:MultiFactorAuthPresent\": \"true\"}`.",
};

/// The family's entries, in catalog order.
pub const RULES: &[Rule] = &[
    WC_001, WC_002, WC_003, WC_004, WC_005, WC_006, WC_007, WC_008, WC_009, WC_010, WC_011,
];
