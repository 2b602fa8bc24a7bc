use serde_json::{Value, json};

use super::*;
use crate::engine::risk::effective::testing::*;
use crate::engine::risk::{Category, RiskConfig, Scope, Severity};

fn findings_for(docs: &[Value]) -> Vec<Finding> {
    run(check, &state(vec![role("app", docs)]))
}

fn fires(docs: &[Value], rule_id: &str) -> bool {
    !of(&findings_for(docs), rule_id).is_empty()
}

/// The example's sensitive resource (AWS-RE-003 needs one configured).
const STATE_BUCKET: &str = "arn:aws:s3:::acme-pulumi-state/*";

fn sensitive_findings(sensitive: &[&str], docs: &[Value]) -> Vec<Finding> {
    let config = RiskConfig {
        sensitive_resources: sensitive.iter().map(|s| (*s).to_owned()).collect(),
        ..RiskConfig::default()
    };
    let mut out = Vec::new();
    check(
        &state(vec![role("app", docs)]),
        EvalCtx { config: &config },
        &mut out,
    );
    out
}

#[test]
fn every_example_fires_its_rule() {
    for rule in RULES {
        let doc: Value =
            serde_json::from_str(rule.example).unwrap_or_else(|e| panic!("{}: {e}", rule.id));
        assert!(
            !of(&sensitive_findings(&[STATE_BUCKET], &[doc]), rule.id).is_empty(),
            "the example of {} does not fire it",
            rule.id
        );
    }
}

#[test]
fn re003_any_grant_that_reaches_a_sensitive_resource() {
    // By name, by a covering wildcard, by `*`: each reaches the state bucket's objects.
    for resource in [
        "arn:aws:s3:::acme-pulumi-state/*",
        "arn:aws:s3:::acme-pulumi-state/prod/*",
        "arn:aws:s3:::acme-*",
        "*",
    ] {
        let found = sensitive_findings(
            &[STATE_BUCKET],
            &[allow(&["s3:GetObject", "s3:PutObject"], &[resource])],
        );
        let f = one(&found, "AWS-RE-003");
        assert_eq!(f.severity, Severity::High, "{resource}");
        assert_eq!(f.category, Category::DataExfiltration);
        assert!(
            f.message.contains("`arn:aws:s3:::acme-pulumi-state/*`")
                && f.message.contains("s3:GetObject")
                && f.message.contains("risk.sensitive_resources"),
            "{resource}: {}",
            f.message
        );
    }
    // Another bucket, actions that do not apply to objects, a NotResource that excludes it,
    // and no configured resource: nothing.
    let quiet: [(&[&str], Value); 4] = [
        (
            &[STATE_BUCKET],
            allow(&["s3:GetObject"], &["arn:aws:s3:::app-data/*"]),
        ),
        (&[STATE_BUCKET], allow(&["sqs:SendMessage"], &["*"])),
        (
            &[STATE_BUCKET],
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                "NotResource": "arn:aws:s3:::acme-pulumi-state/*"}]}),
        ),
        (&[], allow(&["s3:GetObject"], &["*"])),
    ];
    for (sensitive, doc) in quiet {
        let found = sensitive_findings(sensitive, std::slice::from_ref(&doc));
        assert!(of(&found, "AWS-RE-003").is_empty(), "{doc}: {found:#?}");
    }
    // Two sensitive resources reached: one finding each, told apart by their evidence.
    let key = "arn:aws:kms:eu-west-1:111122223333:key/prod-*";
    let found = sensitive_findings(
        &[STATE_BUCKET, key],
        &[allow(&["s3:GetObject", "kms:Decrypt"], &["*"])],
    );
    let hits = of(&found, "AWS-RE-003");
    assert_eq!(hits.len(), 2, "{hits:#?}");
    assert!(
        hits[0].evidence.starts_with(STATE_BUCKET) && hits[0].evidence.ends_with("s3:GetObject")
    );
    assert!(hits[1].evidence.starts_with(key) && hits[1].evidence.ends_with("kms:Decrypt"));
}

#[test]
fn listed_actions_are_in_the_database() {
    // Listed by cloudsplaining but absent from the AWS reference: they can never be granted.
    let absent = ["connect:GetFederationTokens", "sso:GetRoleCredentials"];
    let lists: [&[&str]; 7] = [
        &HIGH_VALUE_EXPOSURE,
        &POLICY_SETTING_WRITES,
        &RESOURCE_POLICY_WRITERS,
        &CREDENTIAL_ACTIONS,
        &EXFILTRATION_ACTIONS,
        &BULK_READ_ACTIONS,
        &SNAPSHOT_SHARE_PAIR,
    ];
    for name in lists.into_iter().flatten() {
        assert!(
            absent.contains(name) || db().lookup(name).is_some(),
            "{name} is not an AWS action"
        );
    }
}

#[test]
fn re001_permissions_management_on_every_resource() {
    let found = findings_for(&[allow(&["s3:PutBucketPolicy", "s3:GetObject"], &["*"])]);
    let f = one(&found, "AWS-RE-001");
    assert_eq!(f.category, Category::PermissionsManagement);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.evidence, "s3:PutBucketPolicy");
    assert!(
        f.message.contains("including s3:PutBucketPolicy"),
        "{}",
        f.message
    );
    assert!(!fires(
        &[allow(&["s3:PutBucketPolicy"], &["arn:aws:s3:::app-data"])],
        "AWS-RE-001"
    ));
    assert!(!fires(&[allow(&["s3:GetObject"], &["*"])], "AWS-RE-001"));
}

#[test]
fn re001_counts_writes_that_set_policies() {
    let found = findings_for(&[allow(&["sqs:SetQueueAttributes"], &["*"])]);
    let f = one(&found, "AWS-RE-001");
    assert_eq!(f.evidence, "sqs:SetQueueAttributes");
    assert!(
        f.message.contains("1 permissions-management action on"),
        "{}",
        f.message
    );
}

#[test]
fn re001_leaves_pass_role_to_the_escalation_rules() {
    assert!(!fires(&[allow(&["iam:PassRole"], &["*"])], "AWS-RE-001"));
}

#[test]
fn re001_leaves_out_permissions_management_reads() {
    // Excerpts of SecurityAudit and ReadOnlyAccess: AWS classes these reads "Permissions
    // management" (Service Authorization Reference, access levels); they change no one's access.
    let audit = allow(
        &[
            "quicksight:DescribeDataSetPermissions",
            "quicksight:DescribeDataSourcePermissions",
            "billing:GetResourcePolicy",
            "backup:ListIndexedRecoveryPointsForSearch",
            "secretsmanager:ValidateResourcePolicy",
        ],
        &["*"],
    );
    assert!(findings_for(&[audit]).is_empty());
}

#[test]
fn permissions_management_reads_are_the_ones_named_by_read_verbs() {
    // The actions of the database RE-001 leaves out as reads: a change of this list (a new
    // database) is reviewed here.
    let db = db();
    let mut reads: Vec<&str> = index()
        .permissions
        .iter()
        .map(|id| db.name(id))
        .filter(|n| reads_only(n))
        .collect();
    reads.sort_unstable();
    assert_eq!(
        reads,
        vec![
            "arc-region-switch:GetResourcePolicy",
            "backup:ListIndexedRecoveryPointsForSearch",
            "backup:SearchRecoveryPoint",
            "billing:GetResourcePolicy",
            "cognito-identity:GetId",
            "datazone:GetIamPortalLoginUrl",
            "fsx:GetResourcePolicy",
            "glue:BatchGetStageFiles",
            "glue:DescribeConnectionType",
            "glue:DescribeEntity",
            "glue:GetDataPreviewStatement",
            "glue:GetEnvironment",
            "glue:GetExecutors",
            "glue:GetExecutorsThreads",
            "glue:GetLogParsingStatus",
            "glue:GetNotebookInstanceStatus",
            "glue:GetQueries",
            "glue:GetQuery",
            "glue:GetRecipeAction",
            "glue:GetStage",
            "glue:GetStageAttempt",
            "glue:GetStageAttemptTaskList",
            "glue:GetStageAttemptTaskSummary",
            "glue:GetStageFiles",
            "glue:GetStages",
            "glue:GetStorage",
            "glue:GetStorageUnit",
            "glue:ListConnectionTypes",
            "glue:ListEntities",
            "lightsail:GetRelationalDatabaseMasterUserPassword",
            "monitron:ListProjectAdminUsers",
            "quicksight:DescribeDataSetPermissions",
            "quicksight:DescribeDataSourcePermissions",
            "quicksight:DescribeTopicPermissions",
            "secretsmanager:ValidateResourcePolicy",
            "ssm-sap:GetResourcePermission",
        ]
    );
    assert!(reads_only("s3:GetBucketPolicy") && reads_only("ec2:DescribeInstances"));
    assert!(!reads_only("s3:PutBucketPolicy") && !reads_only("svc:Getaway"));
    // The one that returns a password is a credential action.
    assert!(CREDENTIAL_ACTIONS.contains(&"lightsail:GetRelationalDatabaseMasterUserPassword"));
}

#[test]
fn re004_service_linked_roles_for_any_service_are_low() {
    // IAM User Guide, "Using service-linked roles": the service defines the role's permissions
    // and trust, and only it can assume the role. Creating one is not escalation.
    let any = allow(&["iam:CreateServiceLinkedRole"], &["*"]);
    let found = findings_for(&[any]);
    let f = one(&found, "AWS-RE-004");
    assert_eq!((f.severity, f.scope), (Severity::Low, Scope::All));
    assert!(of(&found, "AWS-RE-001").is_empty(), "{found:#?}");
    let every_service = allow(
        &["iam:CreateServiceLinkedRole"],
        &["arn:aws:iam::*:role/aws-service-role/*"],
    );
    assert!(fires(&[every_service], "AWS-RE-004"));
    // Pinned by iam:AWSServiceName (IAM User Guide, "IAM and AWS STS condition context keys"):
    // excerpt of the AWS Load Balancer Controller's install policy; or by the role path of one
    // service (excerpt of AmazonEKSComputePolicy, without its condition).
    let lbc = allow_if(
        &["iam:CreateServiceLinkedRole"],
        &["*"],
        json!({"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}),
    );
    let spot = allow(
        &["iam:CreateServiceLinkedRole"],
        &["arn:aws:iam::*:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot"],
    );
    for pinned in [lbc, spot] {
        let found = findings_for(std::slice::from_ref(&pinned));
        assert!(found.is_empty(), "{pinned}: {found:#?}");
    }
}

#[test]
fn ce001_leaves_out_tokens_of_the_callers_own_rights() {
    // Excerpts of AmazonEC2ContainerRegistryReadOnly and AmazonECSTaskExecutionRolePolicy, and
    // the other token actions of HARMLESS_TOKEN_ACTIONS (reasons there).
    for token in HARMLESS_TOKEN_ACTIONS {
        assert!(
            CREDENTIAL_ACTIONS.contains(&token),
            "{token} is on cloudsplaining's list"
        );
        let found = findings_for(&[allow(&[token], &["*"])]);
        assert!(of(&found, "AWS-CE-001").is_empty(), "{token}: {found:#?}");
    }
    let node = allow(
        &[
            "ecr:GetAuthorizationToken",
            "ecr:BatchGetImage",
            "sts:GetServiceBearerToken",
        ],
        &["*"],
    );
    assert!(findings_for(&[node]).is_empty());
    // A real credential next to them is still reported, alone.
    let found = findings_for(&[allow(
        &["ecr:GetAuthorizationToken", "ec2:GetPasswordData"],
        &["*"],
    )]);
    assert_eq!(one(&found, "AWS-CE-001").evidence, "ec2:GetPasswordData");
}

#[test]
fn re002_policy_writer_without_the_rest_of_the_service() {
    let bucket = ["arn:aws:s3:::app-data", "arn:aws:s3:::app-data/*"];
    let found = findings_for(&[allow(&["s3:GetObject", "s3:PutBucketPolicy"], &bucket)]);
    let f = one(&found, "AWS-RE-002");
    assert_eq!(f.evidence, "s3:PutBucketPolicy");
    assert_eq!(f.scope, Scope::Pinned);
    // Holding every action that applies to those resources leaves nothing to gain.
    assert!(!fires(&[allow(&["s3:*"], &bucket)], "AWS-RE-002"));
    assert!(!fires(&[allow(&["s3:GetObject"], &bucket)], "AWS-RE-002"));
}

#[test]
fn ce001_credential_actions_on_every_resource() {
    let found = findings_for(&[allow(
        &["sts:AssumeRole", "ecr:GetAuthorizationToken"],
        &["*"],
    )]);
    let f = one(&found, "AWS-CE-001");
    assert_eq!(f.category, Category::CredentialsExposure);
    assert_eq!(f.evidence, "sts:AssumeRole");
    assert!(!fires(
        &[allow(
            &["sts:AssumeRole"],
            &["arn:aws:iam::111122223333:role/deployer"]
        )],
        "AWS-CE-001"
    ));
    let limited = allow_if(
        &["sts:AssumeRole"],
        &["*"],
        json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
    );
    assert!(!fires(&[limited], "AWS-CE-001"));
}

#[test]
fn dx001_bulk_reads_on_every_resource() {
    let found = findings_for(&[allow(
        &["secretsmanager:GetSecretValue", "ssm:GetParameter"],
        &["*"],
    )]);
    let f = one(&found, "AWS-DX-001");
    assert_eq!(f.category, Category::DataExfiltration);
    assert_eq!(f.evidence, "secretsmanager:GetSecretValue,ssm:GetParameter");
    assert_eq!(f.scope, Scope::All);
    let weak = allow_if(
        &["s3:GetObject"],
        &["*"],
        json!({"Bool": {"aws:SecureTransport": "true"}}),
    );
    assert_eq!(
        one(&findings_for(&[weak]), "AWS-DX-001").scope,
        Scope::Wildcard
    );
    assert!(!fires(
        &[allow(&["s3:GetObject"], &["arn:aws:s3:::app-data/*"])],
        "AWS-DX-001"
    ));
}

#[test]
fn dx002_decrypt_scan_and_the_snapshot_pair() {
    assert_eq!(
        one(
            &findings_for(&[allow(&["kms:Decrypt"], &["*"])]),
            "AWS-DX-002"
        )
        .evidence,
        "kms:Decrypt"
    );
    assert!(!fires(
        &[allow(&["ec2:CreateSnapshot"], &["*"])],
        "AWS-DX-002"
    ));
    let pair = findings_for(&[allow(
        &["ec2:CreateSnapshot", "ec2:ModifySnapshotAttribute"],
        &["*"],
    )]);
    assert_eq!(
        one(&pair, "AWS-DX-002").evidence,
        "ec2:CreateSnapshot,ec2:ModifySnapshotAttribute"
    );
    assert!(!fires(
        &[allow(
            &["kms:Decrypt"],
            &["arn:aws:kms:eu-west-1:111122223333:key/1234"]
        )],
        "AWS-DX-002"
    ));
}

#[test]
fn nothing_for_an_admin() {
    assert!(findings_for(&[allow(&["*"], &["*"])]).is_empty());
}
