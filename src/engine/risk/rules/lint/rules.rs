//! The catalog entries of the lint family.

use crate::engine::risk::{Category, Rule, Severity};

pub const MALFORMED: Rule = Rule {
    id: "AWS-LINT-MALFORMED",
    category: Category::Malformed,
    severity: Severity::Low,
    title: "Policy document AWS rejects",
    rationale: "The document is not valid JSON, or a statement is malformed (unknown element, missing Effect, both Action and NotAction, ...). AWS rejects it when the change is applied, so the deploy fails; a broken statement in a Deny (medium) means the guardrail it was written to be does not exist.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*","Condtion":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
    remediation: "Fix the document as the message says; `aws accessanalyzer validate-policy` reports the same problems with their position.",
};

pub const BROKEN: Rule = Rule {
    id: "AWS-LINT-BROKEN",
    category: Category::Malformed,
    severity: Severity::Medium,
    title: "A valid policy document becomes invalid",
    rationale: "The change turns a valid policy into one AWS rejects. The deploy fails on that resource, and while it is broken the statements it held (its Deny guardrails included) are not what the program says.",
    example: r#"{"before":{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]},"after":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"iam:*\",\"Resource\":\"*\"}"}"#,
    remediation: "Fix the document before merging; build policies from objects with `JSON.stringify` (or `aws.iam.getPolicyDocument`) rather than by hand-written strings.",
};

pub const UNREADABLE: Rule = Rule {
    id: "AWS-LINT-UNREADABLE",
    category: Category::Malformed,
    severity: Severity::High,
    title: "IAM resource property iamgate cannot read",
    rationale: "A property of an IAM resource (an aws-native role's `policies`, a role's tags, ...) nests deeper than the 128 levels iamgate reads, so iamgate cannot see what it holds: a policy in it could grant anything. Unlike a document AWS rejects, nothing shows that the deploy fails. No IAM property legitimately nests this deep, so this is a broken program or an attempt to hide a grant from review.",
    example: r#"{"type":"aws-native:iam:Role","inputs":{"roleName":"r","policies":[{"policyName":"p","policyDocument":{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"a":{"a":{"a":"... 200 levels ..."}}}}]}}]}}"#,
    remediation: "Find what produces the nesting in the program and remove it; build policy documents from plain objects (or `aws.iam.getPolicyDocument`). The other properties of the resource are analyzed as usual.",
};

pub const UNKNOWN_ACTION: Rule = Rule {
    id: "AWS-LINT-UNKNOWN-ACTION",
    category: Category::Malformed,
    severity: Severity::Low,
    title: "Action name or pattern that matches no action",
    rationale: "A misspelled action (or a pattern that matches nothing) grants or denies nothing. In an Allow the intended access is missing; in a Deny the guardrail is missing, silently. Names that AWS's own managed policies use are actions newer than iamgate's action database, not typos: they are reported together, as one info finding per document.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObjects","Resource":"arn:aws:s3:::my-bucket/*"}]}"#,
    remediation: "Use the exact name from the AWS Service Authorization Reference (e.g. `s3:GetObject`).",
};

pub const UNKNOWN_PREFIX: Rule = Rule {
    id: "AWS-LINT-UNKNOWN-PREFIX",
    category: Category::Malformed,
    severity: Severity::Low,
    title: "Unknown service prefix",
    rationale: "The part before `:` is not an AWS service prefix, so the action matches nothing: the intended grant or guardrail does not exist. Names that AWS's own managed policies use belong to a service newer than iamgate's action database, not typos: they are reported together, as one info AWS-LINT-UNKNOWN-ACTION finding per document.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s4:GetObject","Resource":"*"}]}"#,
    remediation: "Use the service prefix from the AWS Service Authorization Reference (e.g. `s3`, `dynamodb`, `secretsmanager`).",
};

pub const RESOURCE_MISMATCH: Rule = Rule {
    id: "AWS-LINT-RESOURCE-MISMATCH",
    category: Category::Malformed,
    severity: Severity::Info,
    title: "Resource that the action cannot apply to",
    rationale: "None of the listed Resource values names a resource type the action works on (e.g. `s3:GetObject` on `arn:aws:s3:::bucket` instead of `arn:aws:s3:::bucket/*`), so the statement has no effect for that action. In a Deny (medium) the guardrail does not work.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::my-bucket"}]}"#,
    remediation: "Use the ARN form the action expects (for S3 objects `arn:aws:s3:::my-bucket/*`), or move the action to a statement with the right Resource.",
};

pub const UNK_001: Rule = Rule {
    id: "AWS-UNK-001",
    category: Category::UnknownValue,
    severity: Severity::Medium,
    title: "Policy unknown until apply",
    rationale: "The whole policy is computed from values Pulumi only knows after apply (e.g. built with `apply()` from the outputs of resources being created), so iamgate cannot say what it grants. It is neither assumed safe nor assumed to be a wildcard.",
    example: r#"{"type":"aws:iam/rolePolicy:RolePolicy","inputs":{"policy":"04da6b54-80e4-46f7-96ec-b56ff0331ba9"}}"#,
    remediation: "Review the program source that builds the policy. To let iamgate analyze it, build the document from known values (ARNs you can compute from names, `pulumi.interpolate` only in Resource) or create the referenced resources in an earlier change.",
};

pub const UNK_002: Rule = Rule {
    id: "AWS-UNK-002",
    category: Category::UnknownValue,
    severity: Severity::Medium,
    title: "Unknown value inside a policy",
    rationale: "A Resource, Principal, Condition or Action value is only known after apply, so the grant it belongs to cannot be judged (it could name one bucket or every bucket, one account or anyone). It is neither assumed safe nor assumed to be a wildcard.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"04da6b54-80e4-46f7-96ec-b56ff0331ba9"}]}"#,
    remediation: "Review the program source for that value. If it is the ARN of a resource created in this change, the finding goes away on the next change once the resource exists.",
};

pub const UNK_003: Rule = Rule {
    id: "AWS-UNK-003",
    category: Category::UnknownValue,
    severity: Severity::Low,
    title: "Policy stored as a secret",
    rationale: "The policy is a Pulumi secret, so the preview shows it only as `[secret]` and iamgate cannot see what it grants. Policies are rarely secret; this usually comes from building the document from a secret output.",
    example: r#"{"type":"aws:iam/rolePolicy:RolePolicy","inputs":{"policy":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","value":"..."}}}"#,
    remediation: "Build the policy from non-secret values (use `pulumi.unsecret` on parts that are not sensitive) so that it can be reviewed.",
};

pub const RULES: &[Rule] = &[
    MALFORMED,
    BROKEN,
    UNREADABLE,
    UNKNOWN_ACTION,
    UNKNOWN_PREFIX,
    RESOURCE_MISMATCH,
    UNK_001,
    UNK_002,
    UNK_003,
];
