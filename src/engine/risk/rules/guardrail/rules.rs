//! The catalog entries of the guardrail family.

use crate::engine::risk::{Category, Rule, Severity};

pub const GR_001: Rule = Rule {
    id: "AWS-GR-001",
    category: Category::GuardrailRemoved,
    severity: Severity::High,
    title: "Permissions boundary removed or replaced",
    rationale: "A permissions boundary caps what a role or user can do whatever its policies say. Removing or swapping it silently lifts that cap: every broad policy attached to the principal takes full effect.",
    example: r#"{"before":{"permissionsBoundary":"arn:aws:iam::111122223333:policy/dev-boundary"},"after":{"permissionsBoundary":null}}"#,
    remediation: "Keep the boundary. If it must change, make sure the new boundary is at least as strict and get the change approved by whoever owns the boundary policy.",
};

pub const GR_002: Rule = Rule {
    id: "AWS-GR-002",
    category: Category::GuardrailRemoved,
    severity: Severity::High,
    title: "Unconditional Deny removed from a principal's policies",
    rationale: "An unconditional Deny overrides every Allow the principal has, now or later. Removing or narrowing it re-enables those actions for the principal without any new Allow appearing in the diff.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["iam:*","organizations:*"],"Resource":"*"}]}"#,
    remediation: "Keep the Deny statement (or an equivalent one) on the principal; if an exception is needed, add a narrow Allow elsewhere and a Condition on the Deny rather than deleting it.",
};

pub const GR_003: Rule = Rule {
    id: "AWS-GR-003",
    category: Category::CredentialsExposure,
    severity: Severity::Medium,
    title: "Access key created or activated for an IAM user",
    rationale: "Access keys are long-lived credentials: they work from anywhere until rotated, are easily leaked in CI logs and laptops, and their secret ends up in the stack state.",
    example: r#"{"type":"aws:iam/accessKey:AccessKey","inputs":{"user":"ci","status":"Active"}}"#,
    remediation: "Prefer short-lived credentials: an IAM role assumed through OIDC (GitHub Actions, GitLab CI) or IAM Identity Center. If a key is unavoidable, scope the user tightly and rotate it.",
};

pub const GR_004: Rule = Rule {
    id: "AWS-GR-004",
    category: Category::GuardrailRemoved,
    severity: Severity::Medium,
    title: "Explicit Deny removed from a resource policy",
    rationale: "A Deny in a bucket, key, queue or topic policy (deny non-TLS access, deny outside the organization, deny deletion) protects the resource against every principal, including future ones. Removing or narrowing it lifts that protection.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::my-bucket/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
    remediation: "Keep the Deny statement; if it blocks a legitimate use, narrow it with a Condition (e.g. `aws:PrincipalArn`) instead of removing it.",
};

pub const PUB_005: Rule = Rule {
    id: "AWS-PUB-005",
    category: Category::GuardrailRemoved,
    severity: Severity::High,
    title: "S3 block public access weakened",
    rationale: "Block public access is the account- or bucket-wide switch that stops a public bucket policy or ACL from taking effect. Turning a flag off (or removing the block while the bucket stays) lets the next public grant, by mistake or by an attacker, expose the data.",
    example: r#"{"type":"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock","inputs":{"bucket":"logs","blockPublicPolicy":false,"restrictPublicBuckets":false}}"#,
    remediation: "Keep all four flags (`blockPublicAcls`, `blockPublicPolicy`, `ignorePublicAcls`, `restrictPublicBuckets`) true; serve public content through CloudFront with origin access control instead.",
};

pub const RULES: &[Rule] = &[GR_001, GR_002, GR_003, GR_004, PUB_005];
