//! Well-known AWS managed policies, known by ARN without network access: their risk tier
//! (rule catalog §2.8, AWS-MP-001..005) and, for a few stable ones, their policy document.
//! Owns ARN recognition across partitions; must not fetch anything or evaluate documents.

/// The risk tier of an AWS managed policy (rule catalog §2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// AWS-MP-001: full administrator.
    Admin,
    /// AWS-MP-002: grants privilege escalation (IAM write or an equivalent).
    Escalation,
    /// AWS-MP-003: risky actions, some escalation paths.
    Risky,
    /// AWS-MP-004: a service-role policy (risky on a human/user principal).
    ServiceRole,
    /// AWS-MP-005: a service-wide `*FullAccess` policy.
    FullAccess,
}

impl Tier {
    /// The catalog rule id of the tier.
    pub fn rule_id(self) -> &'static str {
        match self {
            Tier::Admin => "AWS-MP-001",
            Tier::Escalation => "AWS-MP-002",
            Tier::Risky => "AWS-MP-003",
            Tier::ServiceRole => "AWS-MP-004",
            Tier::FullAccess => "AWS-MP-005",
        }
    }
}

/// A well-known AWS managed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub name: &'static str,
    /// The ARN in the `aws` partition.
    pub arn: &'static str,
    /// The policy document as JSON, when it is known offline.
    pub document: Option<&'static str>,
    /// The catalog tier; None for a well-known policy no rule flags (e.g. `ReadOnlyAccess`).
    pub tier: Option<Tier>,
}

// AdministratorAccess, default version v1 (unchanged since 2015).
const ADMINISTRATOR_ACCESS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

// PowerUserAccess, default version v12 (edited 2026-02-12).
const POWER_USER_ACCESS: &str = r#"{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},
{"Effect":"Allow","Action":["account:GetAccountInformation","account:GetGovCloudAccountInformation",
"account:GetPrimaryEmail","account:ListRegions","iam:CreateServiceLinkedRole",
"iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeEffectivePolicy",
"organizations:DescribeOrganization"],"Resource":"*"}]}"#;

// IAMFullAccess, default version v2 (edited 2019-06-21).
const IAM_FULL_ACCESS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[
"iam:*","organizations:DescribeAccount","organizations:DescribeOrganization",
"organizations:DescribeOrganizationalUnit","organizations:DescribePolicy",
"organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget",
"organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],
"Resource":"*"}]}"#;

// AmazonS3FullAccess, default version v2 (edited 2021-09-27).
const AMAZON_S3_FULL_ACCESS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
"Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}"#;

// AmazonS3ReadOnlyAccess, default version v3 (edited 2023-08-10).
const AMAZON_S3_READ_ONLY_ACCESS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
"Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],
"Resource":"*"}]}"#;

const fn policy(name: &'static str, arn: &'static str, tier: Option<Tier>) -> ManagedPolicy {
    ManagedPolicy {
        name,
        arn,
        document: None,
        tier,
    }
}

const fn with_document(
    name: &'static str,
    arn: &'static str,
    tier: Option<Tier>,
    doc: &'static str,
) -> ManagedPolicy {
    ManagedPolicy {
        name,
        arn,
        document: Some(doc),
        tier,
    }
}

/// The prefix of every AWS managed policy ARN of the table.
pub const ARN_PREFIX: &str = "arn:aws:iam::aws:policy/";

macro_rules! arn {
    ($path:literal) => {
        concat!("arn:aws:iam::aws:policy/", $path)
    };
}

/// The table, in catalog order.
pub static POLICIES: &[ManagedPolicy] = &[
    // AWS-MP-001
    with_document(
        "AdministratorAccess",
        arn!("AdministratorAccess"),
        Some(Tier::Admin),
        ADMINISTRATOR_ACCESS,
    ),
    // AWS-MP-002
    with_document(
        "IAMFullAccess",
        arn!("IAMFullAccess"),
        Some(Tier::Escalation),
        IAM_FULL_ACCESS,
    ),
    policy(
        "AdministratorAccess-Amplify",
        arn!("AdministratorAccess-Amplify"),
        Some(Tier::Escalation),
    ),
    policy(
        "AWSElasticBeanstalkFullAccess",
        arn!("AWSElasticBeanstalkFullAccess"),
        Some(Tier::Escalation),
    ),
    with_document(
        "PowerUserAccess",
        arn!("PowerUserAccess"),
        Some(Tier::Escalation),
        POWER_USER_ACCESS,
    ),
    // AWS-MP-003
    policy(
        "AmazonDynamoDBFullAccesswithDataPipeline",
        arn!("AmazonDynamoDBFullAccesswithDataPipeline"),
        Some(Tier::Risky),
    ),
    policy(
        "AWSLambdaFullAccess",
        arn!("AWSLambdaFullAccess"),
        Some(Tier::Risky),
    ),
    policy(
        "AmazonEC2ContainerServiceFullAccess",
        arn!("AmazonEC2ContainerServiceFullAccess"),
        Some(Tier::Risky),
    ),
    policy(
        "SystemAdministrator",
        arn!("job-function/SystemAdministrator"),
        Some(Tier::Risky),
    ),
    policy(
        "AWSOpsWorksRegisterCLI",
        arn!("AWSOpsWorksRegisterCLI"),
        Some(Tier::Risky),
    ),
    policy(
        "AWSLambda_FullAccess",
        arn!("AWSLambda_FullAccess"),
        Some(Tier::Risky),
    ),
    policy(
        "AmazonElasticMapReduceFullAccess",
        arn!("AmazonElasticMapReduceFullAccess"),
        Some(Tier::Risky),
    ),
    policy(
        "SageMakerStudioAdminIAMPermissiveExecutionPolicy",
        arn!("SageMakerStudioAdminIAMPermissiveExecutionPolicy"),
        Some(Tier::Risky),
    ),
    policy(
        "SageMakerStudioUserIAMPermissiveExecutionPolicy",
        arn!("SageMakerStudioUserIAMPermissiveExecutionPolicy"),
        Some(Tier::Risky),
    ),
    policy(
        "AmazonEC2FullAccess",
        arn!("AmazonEC2FullAccess"),
        Some(Tier::Risky),
    ),
    policy(
        "DataScientist",
        arn!("job-function/DataScientist"),
        Some(Tier::Risky),
    ),
    policy(
        "AWSCloudFormationFullAccess",
        arn!("AWSCloudFormationFullAccess"),
        Some(Tier::Risky),
    ),
    policy(
        "SecretsManagerReadWrite",
        arn!("SecretsManagerReadWrite"),
        Some(Tier::Risky),
    ),
    policy(
        "AmazonECS_FullAccess",
        arn!("AmazonECS_FullAccess"),
        Some(Tier::Risky),
    ),
    policy(
        "EC2InstanceConnect",
        arn!("EC2InstanceConnect"),
        Some(Tier::Risky),
    ),
    // AWS-MP-004 (plus any `*ServiceRolePolicy`, see `classify`)
    policy(
        "AWSDataPipelineRole",
        arn!("service-role/AWSDataPipelineRole"),
        Some(Tier::ServiceRole),
    ),
    policy(
        "AmazonElasticMapReduceRole",
        arn!("service-role/AmazonElasticMapReduceRole"),
        Some(Tier::ServiceRole),
    ),
    policy(
        "AWSGlueServiceRole",
        arn!("service-role/AWSGlueServiceRole"),
        Some(Tier::ServiceRole),
    ),
    policy(
        "AmazonEC2SpotFleetRole",
        arn!("service-role/AmazonEC2SpotFleetRole"),
        Some(Tier::ServiceRole),
    ),
    policy(
        "AWSCodeStarServiceRole",
        arn!("service-role/AWSCodeStarServiceRole"),
        Some(Tier::ServiceRole),
    ),
    policy(
        "AWSElasticBeanstalkService",
        arn!("service-role/AWSElasticBeanstalkService"),
        Some(Tier::ServiceRole),
    ),
    // AWS-MP-005 (plus any other `*FullAccess`, see `classify`)
    with_document(
        "AmazonS3FullAccess",
        arn!("AmazonS3FullAccess"),
        Some(Tier::FullAccess),
        AMAZON_S3_FULL_ACCESS,
    ),
    // Well known, flagged by no managed-policy rule.
    with_document(
        "AmazonS3ReadOnlyAccess",
        arn!("AmazonS3ReadOnlyAccess"),
        None,
        AMAZON_S3_READ_ONLY_ACCESS,
    ),
    // Too large to embed; its tier-less entry still names it.
    policy("ReadOnlyAccess", arn!("ReadOnlyAccess"), None),
    policy("SecurityAudit", arn!("SecurityAudit"), None),
    policy("ViewOnlyAccess", arn!("job-function/ViewOnlyAccess"), None),
];

/// The part after `arn:<partition>` of an AWS managed policy ARN in any partition
/// (`arn:aws-us-gov:iam::aws:policy/X` → `:iam::aws:policy/X`); None for anything else.
fn partition_free(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_at(rest.find(':')?);
    let valid = partition == "aws"
        || partition.strip_prefix("aws-").is_some_and(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    (valid && rest.starts_with(":iam::aws:policy/")).then_some(rest)
}

/// The well-known policy with this ARN, in any partition; otherwise exact (case and path).
pub fn lookup(arn: &str) -> Option<&'static ManagedPolicy> {
    let rest = partition_free(arn)?;
    POLICIES
        .iter()
        .find(|p| p.arn.strip_prefix("arn:aws") == Some(rest))
}

/// The tier of an AWS managed policy ARN: the table's, else by name (catalog §2.8) for AWS
/// managed policies (`:iam::aws:policy/`): a name ending in `ServiceRolePolicy` is a service
/// role, one ending in `FullAccess` (or `FullAccessV2`, ...) a full-access policy.
pub fn classify(arn: &str) -> Option<Tier> {
    if let Some(known) = lookup(arn) {
        return known.tier;
    }
    let rest = partition_free(arn)?;
    let name = rest.rsplit('/').next().unwrap_or_default();
    if name.ends_with("ServiceRolePolicy") {
        return Some(Tier::ServiceRole);
    }
    let unversioned = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let unversioned = if unversioned.len() < name.len() {
        unversioned.strip_suffix('V').unwrap_or(name)
    } else {
        name
    };
    unversioned
        .ends_with("FullAccess")
        .then_some(Tier::FullAccess)
}

#[cfg(test)]
mod tests {
    use super::super::actions::db;
    use super::*;

    #[test]
    fn table_entries_are_consistent() {
        for p in POLICIES {
            assert!(p.arn.starts_with(ARN_PREFIX), "{}", p.arn);
            assert_eq!(p.arn.rsplit('/').next(), Some(p.name), "{}", p.arn);
            assert_eq!(lookup(p.arn), Some(p), "{}", p.arn);
            assert_eq!(classify(p.arn), p.tier, "{}", p.arn);
        }
        let names: std::collections::BTreeSet<_> = POLICIES.iter().map(|p| p.name).collect();
        assert_eq!(names.len(), POLICIES.len(), "duplicate names");
    }

    #[test]
    fn documents_are_valid_policies_of_known_actions() {
        let with_docs: Vec<_> = POLICIES
            .iter()
            .filter(|p| p.document.is_some())
            .map(|p| p.name)
            .collect();
        assert_eq!(
            with_docs,
            [
                "AdministratorAccess",
                "IAMFullAccess",
                "PowerUserAccess",
                "AmazonS3FullAccess",
                "AmazonS3ReadOnlyAccess"
            ]
        );
        for p in POLICIES {
            let Some(doc) = p.document else { continue };
            let value: serde_json::Value =
                serde_json::from_str(doc).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!(value["Version"], "2012-10-17", "{}", p.name);
            let statements = value["Statement"]
                .as_array()
                .unwrap_or_else(|| panic!("{}", p.name));
            for s in statements {
                let actions = s
                    .get("Action")
                    .or_else(|| s.get("NotAction"))
                    .unwrap_or_else(|| panic!("{}", p.name));
                let list: Vec<&str> = match actions {
                    serde_json::Value::String(a) => vec![a.as_str()],
                    other => other
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str())
                        .collect(),
                };
                assert!(!list.is_empty(), "{}", p.name);
                for a in list {
                    assert!(
                        !db().expand(a).is_empty(),
                        "{}: {a} matches no action",
                        p.name
                    );
                }
            }
        }
    }

    #[test]
    fn lookup_accepts_every_partition_and_is_exact_otherwise() {
        let admin = lookup("arn:aws:iam::aws:policy/AdministratorAccess").map(|p| p.name);
        assert_eq!(admin, Some("AdministratorAccess"));
        assert_eq!(
            lookup("arn:aws-us-gov:iam::aws:policy/AdministratorAccess").map(|p| p.name),
            admin
        );
        assert_eq!(
            lookup("arn:aws-cn:iam::aws:policy/AdministratorAccess").map(|p| p.name),
            admin
        );
        let sysadmin = lookup("arn:aws-cn:iam::aws:policy/job-function/SystemAdministrator");
        assert_eq!(sysadmin.and_then(|p| p.tier), Some(Tier::Risky));
        assert_eq!(lookup("arn:aws:iam::aws:policy/administratoraccess"), None);
        assert_eq!(lookup("arn:aws:iam::aws:policy/SystemAdministrator"), None);
        assert_eq!(
            lookup("arn:aws:iam::123456789012:policy/AdministratorAccess"),
            None
        );
        assert_eq!(lookup("arn:gcp:iam::aws:policy/AdministratorAccess"), None);
        assert_eq!(lookup("arn:aws:iam::aws:policy/AdministratorAccess2"), None);
        assert_eq!(lookup("AdministratorAccess"), None);
        assert_eq!(lookup(""), None);
    }

    #[test]
    fn tiers_of_catalog_policies() {
        assert_eq!(
            classify("arn:aws:iam::aws:policy/AdministratorAccess"),
            Some(Tier::Admin)
        );
        assert_eq!(
            classify("arn:aws:iam::aws:policy/PowerUserAccess"),
            Some(Tier::Escalation)
        );
        assert_eq!(
            classify("arn:aws:iam::aws:policy/AWSLambda_FullAccess"),
            Some(Tier::Risky)
        );
        assert_eq!(
            classify("arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"),
            Some(Tier::ServiceRole)
        );
        assert_eq!(
            classify("arn:aws:iam::aws:policy/AmazonS3FullAccess"),
            Some(Tier::FullAccess)
        );
        assert_eq!(classify("arn:aws:iam::aws:policy/ReadOnlyAccess"), None);
        assert_eq!(Tier::Escalation.rule_id(), "AWS-MP-002");
    }

    #[test]
    fn classify_patterns_apply_to_aws_managed_policies_only() {
        let tier = |arn| classify(arn);
        assert_eq!(
            tier("arn:aws:iam::aws:policy/AmazonSQSFullAccess"),
            Some(Tier::FullAccess)
        );
        assert_eq!(
            tier("arn:aws-cn:iam::aws:policy/AmazonDynamoDBFullAccess"),
            Some(Tier::FullAccess)
        );
        assert_eq!(
            tier("arn:aws:iam::aws:policy/CloudWatchFullAccessV2"),
            Some(Tier::FullAccess)
        );
        assert_eq!(
            tier("arn:aws:iam::aws:policy/aws-service-role/AmazonECSServiceRolePolicy"),
            Some(Tier::ServiceRole)
        );
        assert_eq!(tier("arn:aws:iam::123456789012:policy/MyFullAccess"), None);
        assert_eq!(
            tier("arn:aws:iam::123456789012:policy/MyServiceRolePolicy"),
            None
        );
        assert_eq!(
            tier("arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess"),
            None
        );
        assert_eq!(tier("arn:aws:iam::aws:policy/FullAccessNot"), None);
        assert_eq!(tier("arn:aws:iam::aws:policy/AmazonSQSFullAccess2"), None);
    }
}
