//! The catalog entries of the trust-policy family.

use crate::engine::risk::{Category, Rule, Severity};

pub const TR_001: Rule = Rule {
    id: "AWS-TR-001",
    category: Category::TrustPolicy,
    severity: Severity::Critical,
    title: "Role assumable by any AWS principal, with no condition",
    rationale: "A trust policy that allows `sts:AssumeRole` to `{\"AWS\": \"*\"}` (or `arn:aws:iam::*:root`) without a Condition lets anyone with an AWS account, in any account, assume the role and act with all of its permissions.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#,
    remediation: "Name the accounts or roles that need the role in `Principal` (e.g. `arn:aws:iam::111122223333:role/deployer`), or at least add a Condition on `aws:PrincipalOrgID` or `aws:PrincipalArn`.",
};

pub const TR_002: Rule = Rule {
    id: "AWS-TR-002",
    category: Category::TrustPolicy,
    severity: Severity::High,
    title: "Role assumable by any AWS principal, protected only by a condition",
    rationale: "With `{\"AWS\": \"*\"}` as principal, only the Condition stands between the role and every AWS account. A condition on an organization, account, principal ARN or network limits it (medium); any other condition (MFA, time, tags) does not (high).",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#,
    remediation: "Replace `*` with the account or role ARNs that need the role. If a wildcard principal is required, keep a positive condition on `aws:PrincipalOrgID` (e.g. `o-a1b2c3d4e5`) or `aws:PrincipalArn`.",
};

pub const TR_003: Rule = Rule {
    id: "AWS-TR-003",
    category: Category::CrossAccount,
    severity: Severity::Medium,
    title: "Role assumable from an account outside the trusted accounts",
    rationale: "Principals of another AWS account can assume the role. Whoever controls that account controls what the role can do here; this should be a deliberate, reviewed decision.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:role/ci"},"Action":"sts:AssumeRole"}]}"#,
    remediation: "If the account is yours, add it to `risk.trusted_accounts` in `.iamgate.yml`. Otherwise confirm the third party needs the role and keep its permissions minimal.",
};

pub const TR_004: Rule = Rule {
    id: "AWS-TR-004",
    category: Category::CrossAccount,
    severity: Severity::High,
    title: "Role trusts a whole account",
    rationale: "`arn:aws:iam::<account>:root` (or a bare account id) delegates the decision to that account: every user and role there that has `sts:AssumeRole` on `*` can assume this role. Medium for a trusted account, high for any other.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}"#,
    remediation: "Name the specific role that needs access (`arn:aws:iam::999988887777:role/deployer`), or add a Condition on `aws:PrincipalArn`.",
};

pub const TR_005: Rule = Rule {
    id: "AWS-TR-005",
    category: Category::CrossAccount,
    severity: Severity::High,
    title: "Cross-account trust without sts:ExternalId",
    rationale: "A third party that assumes roles for many customers can be tricked by another customer into using your role (the confused deputy problem). AWS's defence is a secret `sts:ExternalId` the third party must pass.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}"#,
    remediation: "Add `\"Condition\": {\"StringEquals\": {\"sts:ExternalId\": \"<id the third party gave you>\"}}`, or add the account to `risk.trusted_accounts` if it is one of yours.",
};

pub const TR_006: Rule = Rule {
    id: "AWS-TR-006",
    category: Category::TrustPolicy,
    severity: Severity::Critical,
    title: "GitHub Actions OIDC trust that does not pin a repository",
    rationale: "Every repository on github.com can request a token from `token.actions.githubusercontent.com`. Without a `sub` condition naming your repository (or with `*`, an owner wildcard, or a first claim like `environment` or `ref` that any repository can have), any GitHub workflow can assume the role.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}"#,
    remediation: "Add `\"StringEquals\": {\"token.actions.githubusercontent.com:sub\": \"repo:<owner>/<repo>:ref:refs/heads/main\"}` (or `:environment:<name>`) next to the `aud` condition.",
};

pub const TR_007: Rule = Rule {
    id: "AWS-TR-007",
    category: Category::TrustPolicy,
    severity: Severity::High,
    title: "OIDC or web-identity trust without an audience (or EKS service-account) condition",
    rationale: "An identity provider issues tokens for many applications. Without `<provider>:aud` pinned to your client id (for Cognito `cognito-identity.amazonaws.com:aud`; for EKS IRSA `<provider>:sub` pinned to `system:serviceaccount:<namespace>:<name>`), tokens meant for someone else assume the role.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#,
    remediation: "Add a `StringEquals` condition on `<provider>:aud` with your client id; for EKS, on `<provider>:sub` with `system:serviceaccount:<namespace>:<service-account>`.",
};

pub const TR_008: Rule = Rule {
    id: "AWS-TR-008",
    category: Category::TrustPolicy,
    severity: Severity::Medium,
    title: "Wildcard in an OIDC subject condition",
    rationale: "A `StringLike` pattern such as `repo:acme/*` or `system:serviceaccount:ci:*` lets every repository, branch, pull request or service account that matches assume the role, including ones created later.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}}]}"#,
    remediation: "Use `StringEquals` with the exact subject, e.g. `repo:acme/app:ref:refs/heads/main` or `repo:acme/app:environment:prod`.",
};

pub const TR_009: Rule = Rule {
    id: "AWS-TR-009",
    category: Category::TrustPolicy,
    severity: Severity::Medium,
    title: "SAML trust without saml:aud",
    rationale: "Without `saml:aud` pinned to the AWS sign-in endpoint, an assertion your identity provider issued for another service provider can be used to assume the role.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/corp"},"Action":"sts:AssumeRoleWithSAML"}]}"#,
    remediation: "Add `\"Condition\": {\"StringEquals\": {\"SAML:aud\": \"https://signin.aws.amazon.com/saml\"}}`.",
};

pub const TR_010: Rule = Rule {
    id: "AWS-TR-010",
    category: Category::TrustPolicy,
    severity: Severity::High,
    title: "NotPrincipal in a trust policy",
    rationale: "IAM rejects `NotPrincipal` in role trust policies, so the apply fails; and an Allow with `NotPrincipal` means \"everyone except these\", which opens the role to every other principal.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:AssumeRole"}]}"#,
    remediation: "List the allowed principals in `Principal`; to exclude someone, add a Deny statement with a Condition on `aws:PrincipalArn`.",
};

pub const TR_011: Rule = Rule {
    id: "AWS-TR-011",
    category: Category::TrustPolicy,
    severity: Severity::Info,
    title: "Role assumable by a compute service",
    rationale: "Code running on EC2, ECS, EKS or Lambda gets this role's permissions. Anyone who can run code there (or pass the role to new compute) inherits them, which multiplies the weight of the role's other findings.",
    example: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    remediation: "Nothing to change if the role is meant for that service; keep its permissions minimal and restrict `iam:PassRole` on it.",
};

pub const RULES: &[Rule] = &[
    TR_001, TR_002, TR_003, TR_004, TR_005, TR_006, TR_007, TR_008, TR_009, TR_010, TR_011,
];
