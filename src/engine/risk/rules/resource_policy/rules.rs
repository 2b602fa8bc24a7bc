//! The catalog entries of the resource-policy family.

use crate::engine::risk::{Category, Rule, Severity};

pub const PUB_001: Rule = Rule {
    id: "AWS-PUB-001",
    category: Category::PublicExposure,
    severity: Severity::Critical,
    title: "Resource policy lets anyone change the resource",
    rationale: "An Allow to `\"*\"` (or `{\"AWS\": \"*\"}`) with write or permissions-management actions and no limiting condition lets anyone on the internet write, delete or re-share the resource (e.g. upload objects, send messages, rewrite the policy).",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::my-bucket/*"}]}"#,
    remediation: "Grant the specific account or role ARNs instead of `*`, or add a positive condition that limits who can use it (`aws:PrincipalOrgID`, `aws:SourceVpce`, `aws:SourceAccount`).",
};

pub const PUB_002: Rule = Rule {
    id: "AWS-PUB-002",
    category: Category::PublicExposure,
    severity: Severity::High,
    title: "Resource policy lets anyone read the resource",
    rationale: "An Allow to `\"*\"` with read or list actions and no limiting condition makes the data public: objects, messages, secrets or images can be downloaded by anyone.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::my-bucket/*"}]}"#,
    remediation: "If the content must be public, serve it through CloudFront with origin access control; otherwise name the principals or add an `aws:PrincipalOrgID` / `aws:SourceVpce` condition.",
};

pub const PUB_003: Rule = Rule {
    id: "AWS-PUB-003",
    category: Category::PublicExposure,
    severity: Severity::Medium,
    title: "Service principal without aws:SourceArn or aws:SourceAccount",
    rationale: "A service principal (e.g. `sns.amazonaws.com`, `s3.amazonaws.com`) acts for every AWS customer. Without a source condition, another account can point the service at your resource (the confused deputy problem), e.g. invoke your Lambda from its own bucket.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"*"}]}"#,
    remediation: "Add `\"Condition\": {\"ArnLike\": {\"aws:SourceArn\": \"<the source resource ARN>\"}}` or `{\"StringEquals\": {\"aws:SourceAccount\": \"<your account>\"}}` (for a Lambda permission: set `sourceArn` / `sourceAccount`).",
};

pub const PUB_004: Rule = Rule {
    id: "AWS-PUB-004",
    category: Category::CrossAccount,
    severity: Severity::Medium,
    title: "Resource policy grants access to an account outside the trusted accounts",
    rationale: "Principals of another AWS account get access to the resource. Whoever controls that account controls that access; it should be a deliberate, reviewed decision.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sqs:SendMessage","Resource":"*"}]}"#,
    remediation: "If the account is yours, add it to `risk.trusted_accounts` in `.iamgate.yml`; otherwise confirm the grant is needed and keep its actions minimal.",
};

pub const PUB_006: Rule = Rule {
    id: "AWS-PUB-006",
    category: Category::PublicExposure,
    severity: Severity::Low,
    title: "Bucket policy locks everyone but the root user out of the policy",
    rationale: "A Deny of `s3:PutBucketPolicy` (or `s3:*`, `*`) to `\"*\"` without a condition also denies your administrators and deployment role: only the account root user can fix the bucket policy afterwards, and the next deploy fails.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::my-bucket","arn:aws:s3:::my-bucket/*"]}]}"#,
    remediation: "Add a Condition that exempts your administrators and deployment role (e.g. `\"ArnNotLike\": {\"aws:PrincipalArn\": \"arn:aws:iam::111122223333:role/admin\"}`), or narrow the denied actions.",
};

pub const RULES: &[Rule] = &[PUB_001, PUB_002, PUB_003, PUB_004, PUB_006];
