//! Rules: resource exposure, credentials exposure and data exfiltration through identity
//! policies (catalog §2.4 AWS-RE-001/002/003/004, §2.5 AWS-CE-001, AWS-DX-001/002). They read the
//! subject's effective permissions; "unconstrained" means granted on every resource (`*`,
//! NotResource or ARNs covering every resource) without a limiting condition (catalog §1).
//! AWS-RE-003 reports every grant that reaches a resource of `risk.sensitive_resources`.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::engine::iam::IamState;
use crate::engine::iam::actions::{ActionId, ActionSet, db};
use crate::engine::iam::policy::{NameSpec, UNKNOWN_TEXT};
use crate::engine::risk::conditions::like_match;
use crate::engine::risk::effective::index::{
    Universe, compact_names, count, index, named, names, shorten,
};
use crate::engine::risk::effective::{Hit, Strength, View, describe_access, views};
use crate::engine::risk::{Confidence, EvalCtx, Finding, Rule};

mod rules;

pub use self::rules::RULES;
use self::rules::{CE_001, DX_001, DX_002, RE_001, RE_002, RE_003, RE_004};

/// The most damaging permissions-management actions, named in RE-001 messages (catalog §2.4).
const HIGH_VALUE_EXPOSURE: [&str; 28] = [
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutAccountPublicAccessBlock",
    "s3:PutAccessPointPolicy",
    "kms:PutKeyPolicy",
    "kms:CreateGrant",
    "lambda:AddPermission",
    "lambda:AddLayerVersionPermission",
    "sqs:AddPermission",
    "sns:AddPermission",
    "secretsmanager:PutResourcePolicy",
    "ecr:SetRepositoryPolicy",
    "ec2:ModifySnapshotAttribute",
    "ec2:ModifyImageAttribute",
    "rds:ModifyDBSnapshotAttribute",
    "ram:CreateResourceShare",
    "glacier:SetVaultAccessPolicy",
    "logs:PutResourcePolicy",
    "backup:PutBackupVaultAccessPolicy",
    "glue:PutResourcePolicy",
    "iam:UpdateAssumeRolePolicy",
    "sqs:SetQueueAttributes",
    "sns:SetTopicAttributes",
    "es:UpdateElasticsearchDomainConfig",
];

/// Write-level actions that can also set a resource policy: counted with the
/// permissions-management actions by RE-001.
const POLICY_SETTING_WRITES: [&str; 3] = [
    "sqs:SetQueueAttributes",
    "sns:SetTopicAttributes",
    "es:UpdateElasticsearchDomainConfig",
];

/// Actions that rewrite a resource-based policy or ACL (RE-002).
const RESOURCE_POLICY_WRITERS: [&str; 30] = [
    "s3:PutBucketPolicy",
    "s3:PutAccessPointPolicy",
    "s3:PutMultiRegionAccessPointPolicy",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
    "kms:PutKeyPolicy",
    "kms:CreateGrant",
    "lambda:AddPermission",
    "lambda:AddLayerVersionPermission",
    "sqs:AddPermission",
    "sqs:SetQueueAttributes",
    "sns:AddPermission",
    "sns:SetTopicAttributes",
    "secretsmanager:PutResourcePolicy",
    "ecr:SetRepositoryPolicy",
    "ecr-public:SetRepositoryPolicy",
    "glacier:SetVaultAccessPolicy",
    "logs:PutResourcePolicy",
    "backup:PutBackupVaultAccessPolicy",
    "glue:PutResourcePolicy",
    "es:UpdateElasticsearchDomainConfig",
    "es:UpdateDomainConfig",
    "dynamodb:PutResourcePolicy",
    "kinesis:PutResourcePolicy",
    "events:PutPermission",
    "codeartifact:PutDomainPermissionsPolicy",
    "codeartifact:PutRepositoryPermissionsPolicy",
    "elasticfilesystem:PutFileSystemPolicy",
    "apigateway:UpdateRestApiPolicy",
    "mediastore:PutContainerPolicy",
];

/// Actions that return credentials (catalog §2.5: cloudsplaining 0.9.1 plus parliament's two);
/// AWS-CE-001 counts them without `HARMLESS_TOKEN_ACTIONS`.
pub(crate) const CREDENTIAL_ACTIONS: [&str; 47] = [
    "airflow:CreateCliToken",
    "airflow:CreateWebLoginToken",
    "appsync:CreateApiKey",
    "chime:CreateApiKey",
    "cloud9:CreateEnvironmentToken",
    "codeartifact:GetAuthorizationToken",
    "codepipeline:PollForJobs",
    "cognito-identity:GetOpenIdToken",
    "cognito-identity:GetOpenIdTokenForDeveloperIdentity",
    "cognito-identity:GetCredentialsForIdentity",
    "cognito-idp:GetSigningCertificate",
    "connect:GetFederationToken",
    "connect:GetFederationTokens",
    "ec2:GetPasswordData",
    "ecr:GetAuthorizationToken",
    "ecr-public:GetAuthorizationToken",
    "emr-containers:GetManagedEndpointSessionCredentials",
    "finspace-api:GetProgrammaticAccessCredentials",
    "gamelift:RequestUploadCredentials",
    "gamelift:GetInstanceAccess",
    "gamelift:GetComputeAccess",
    "gamelift:GetComputeAuthToken",
    "grafana:CreateWorkspaceApiKey",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:CreateServiceSpecificCredential",
    "iam:ResetServiceSpecificCredential",
    "iam:UpdateAccessKey",
    "license-manager:GetAccessToken",
    "lightsail:GetInstanceAccessDetails",
    "lightsail:DownloadDefaultKeyPair",
    "lightsail:CreateBucketAccessKey",
    "lightsail:GetRelationalDatabaseMasterUserPassword",
    "mediapackage:RotateChannelCredentials",
    "mediapackage:RotateIngestEndpointCredentials",
    "rds-db:Connect",
    "redshift:GetClusterCredentials",
    "redshift:GetClusterCredentialsWithIAM",
    "redshift-serverless:GetCredentials",
    "sso:GetRoleCredentials",
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:GetFederationToken",
    "sts:GetSessionToken",
    "cognito-idp:AssociateSoftwareToken",
    "cognito-idp:DescribeUserPoolClient",
];

/// Token actions of cloudsplaining's credential list that AWS-CE-001 leaves out: granting them
/// gives the principal nothing it does not already have.
/// * `ecr:GetAuthorizationToken`, `ecr-public:GetAuthorizationToken`: a registry password that
///   "can be used to access any Amazon ECR registry that your IAM principal has access to"
///   (Amazon ECR API Reference, `GetAuthorizationToken`);
/// * `codeartifact:GetAuthorizationToken`: a token with "the same permissions as the IAM
///   principal that created it" (CodeArtifact User Guide, "AWS CodeArtifact authentication and
///   tokens"); `sts:GetServiceBearerToken`, which it needs, likewise (and is not on the list);
/// * `sts:GetSessionToken`: temporary credentials of the calling user with its own permissions
///   (IAM User Guide, "Permissions for GetSessionToken": callers need no permission for it);
/// * `cognito-identity:GetCredentialsForIdentity`, `cognito-identity:GetOpenIdToken`: "This is a
///   public API. You do not need any credentials to call this API" (Amazon Cognito Federated
///   Identities API Reference); the identity pool's own settings decide what they return;
/// * `cognito-idp:GetSigningCertificate`: the user pool's public SAML signing certificate.
///
/// `sts:GetFederationToken` stays: its sessions hold at most the user's rights but outlive the
/// deletion of the user's keys, a known way to keep access.
pub(crate) const HARMLESS_TOKEN_ACTIONS: [&str; 7] = [
    "ecr:GetAuthorizationToken",
    "ecr-public:GetAuthorizationToken",
    "codeartifact:GetAuthorizationToken",
    "sts:GetSessionToken",
    "cognito-identity:GetCredentialsForIdentity",
    "cognito-identity:GetOpenIdToken",
    "cognito-idp:GetSigningCertificate",
];

/// Verbs of permissions-management actions that only read (`quicksight:DescribeDataSetPermissions`,
/// `billing:GetResourcePolicy`, `backup:ListIndexedRecoveryPointsForSearch`). AWS classes them
/// "Permissions management" because they read permissions or serve permission flows; a Get,
/// List, Describe, Search or Validate call changes no one's access, so AWS-RE-001 leaves them
/// out (the credential ones among them, such as
/// `lightsail:GetRelationalDatabaseMasterUserPassword`, are AWS-CE-001).
const READ_VERBS: [&str; 6] = ["Get", "List", "Describe", "Search", "BatchGet", "Validate"];

/// True for an action whose name starts with one of `READ_VERBS` (`GetResourcePolicy`, not
/// `Getaway`).
fn reads_only(name: &str) -> bool {
    let action = name.split_once(':').map_or(name, |(_, a)| a);
    READ_VERBS.iter().any(|verb| {
        action
            .strip_prefix(verb)
            .is_some_and(|rest| rest.chars().next().is_none_or(|c| c.is_ascii_uppercase()))
    })
}

/// The action of AWS-RE-004.
const SERVICE_LINKED_ROLE: &str = "iam:CreateServiceLinkedRole";

/// Read actions that exfiltrate data (catalog §2.5 DX-001).
pub(crate) const EXFILTRATION_ACTIONS: [&str; 7] = [
    "s3:GetObject",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "secretsmanager:GetSecretValue",
    "rds:CopyDBSnapshot",
    "rds:CreateDBSnapshot",
];

/// Further exfiltration actions (catalog §2.5 DX-002); the snapshot pair counts only together.
pub(crate) const BULK_READ_ACTIONS: [&str; 4] = [
    "kms:Decrypt",
    "dynamodb:Scan",
    "dynamodb:Query",
    "s3:GetObjectVersion",
];
pub(crate) const SNAPSHOT_SHARE_PAIR: [&str; 2] =
    ["ec2:CreateSnapshot", "ec2:ModifySnapshotAttribute"];

pub fn check(state: &IamState, ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    check_views(&views(state), ctx, out);
}

/// Runs the family over precomputed views (shared with the other identity families).
pub fn check_views(views: &[View<'_>], ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    let sets = sets();
    for v in views.iter().filter(|v| v.admin.is_none()) {
        for sensitive in &ctx.config.sensitive_resources {
            check_sensitive(v, sensitive, out);
        }
        let free = v.effective.unconstrained();
        let exposed = free.intersection(&sets.exposure.set);
        if !exposed.is_empty() {
            let items = compact_names(&exposed, &sets.exposure);
            let notable = names_of(&exposed.intersection(&sets.high_value));
            let detail = if notable.is_empty() {
                shorten(&items, 8)
            } else {
                format!("including {}", shorten(&notable, 8))
            };
            let what = format!(
                "may change who can access resources: {} on every resource without a limiting condition ({detail})",
                count(exposed.len(), "permissions-management action")
            );
            out.extend(unconstrained(v, &RE_001, &exposed, items, &what));
        }
        if !v.effective.allowed().0.is_disjoint(&sets.writers.0) {
            check_policy_rewrite(v, &sets.writers, out);
        }
        if let Some(id) = sets.service_linked_role
            && v.effective.allows(id)
        {
            check_service_linked_role(v, id, out);
        }
        let creds = free.intersection(&sets.credentials);
        if !creds.is_empty() {
            let listed = names_of(&creds);
            let what = format!("may obtain credentials: {}", listed.join(", "));
            out.extend(unconstrained(v, &CE_001, &creds, listed, &what));
        }
        let reads = free.intersection(&sets.exfiltration);
        if !reads.is_empty() {
            let listed = names_of(&reads);
            let what = format!(
                "may read data in bulk on every resource: {}",
                listed.join(", ")
            );
            out.extend(unconstrained(v, &DX_001, &reads, listed, &what));
        }
        let mut more = free.intersection(&sets.bulk);
        if sets.pair.len() == SNAPSHOT_SHARE_PAIR.len() && sets.pair.is_subset(free) {
            more.union_with(&sets.pair);
        }
        if !more.is_empty() {
            let listed = names_of(&more);
            let what = format!(
                "may read or share data in bulk on every resource: {}",
                listed.join(", ")
            );
            out.extend(unconstrained(v, &DX_002, &more, listed, &what));
        }
    }
}

/// RE-003: the grants of the view whose statement's resources reach `sensitive` (a configured
/// ARN pattern) with actions that apply to it. `*`, a wildcard that covers it, a NotResource
/// that does not exclude it and an unknown ARN (computed at apply time: it may be it) all reach.
fn check_sensitive(v: &View<'_>, sensitive: &str, out: &mut Vec<Finding>) {
    let applicable = db().actions_for_resource(sensitive);
    let overlaps = |r: &str| {
        let r = r.replace(UNKNOWN_TEXT, "*");
        r == "*" || like_match(&r, sensitive, false) || like_match(sensitive, &r, false)
    };
    let mut reached = ActionSet::new();
    let mut broadest: Option<crate::engine::risk::effective::Access> = None;
    for g in &v.effective.grants {
        let statement = &v.sources[g.source].policy.statements[g.statement];
        let covers = match &statement.resource {
            None => true,
            Some(NameSpec::Only(resources)) => resources.iter().any(|r| overlaps(r)),
            Some(NameSpec::Not(excluded)) => !excluded
                .iter()
                .any(|r| like_match(&r.replace(UNKNOWN_TEXT, "*"), sensitive, false)),
        };
        if !covers {
            continue;
        }
        let actions = g.actions.intersection(&applicable);
        if actions.is_empty() {
            continue;
        }
        reached.union_with(&actions);
        let access = g.access();
        if broadest.is_none_or(|b| access.rank() < b.rank()) {
            broadest = Some(access);
        }
    }
    let Some(access) = broadest else {
        return;
    };
    let listed = names(&reached);
    let hit = Hit {
        rule: &RE_003,
        severity: RE_003.severity,
        evidence: format!("{sensitive}:{}", listed.join(",")),
        message: format!(
            "{} may use `{sensitive}`, named in `risk.sensitive_resources`: {} ({}), from {}.",
            v.display(),
            shorten(&listed, 8),
            describe_access(access),
            v.origin(&reached)
        ),
        scope: access.scope,
        confidence: access.confidence(),
    };
    out.push(v.report(hit, &reached));
}

/// The family's action sets, built once.
struct Sets {
    /// Permissions-management actions and the writes that set resource policies.
    exposure: Universe,
    high_value: ActionSet,
    writers: ActionSet,
    credentials: ActionSet,
    exfiltration: ActionSet,
    bulk: ActionSet,
    pair: ActionSet,
    service_linked_role: Option<ActionId>,
}

fn sets() -> &'static Sets {
    static SETS: OnceLock<Sets> = OnceLock::new();
    SETS.get_or_init(|| {
        let db = db();
        let mut exposure: ActionSet = index()
            .permissions
            .iter()
            .filter(|&id| !reads_only(db.name(id)))
            .collect();
        exposure.union_with(&named(&POLICY_SETTING_WRITES));
        // Passing roles is escalation, not exposure: AWS-WC-008 and the AWS-PE paths report it.
        // A service-linked role's permissions and trust are AWS's: AWS-RE-004.
        exposure.difference_with(&named(&["iam:PassRole", SERVICE_LINKED_ROLE]));
        Sets {
            exposure: Universe::new(exposure),
            high_value: named(&HIGH_VALUE_EXPOSURE),
            writers: named(&RESOURCE_POLICY_WRITERS),
            credentials: {
                let mut credentials = named(&CREDENTIAL_ACTIONS);
                credentials.difference_with(&named(&HARMLESS_TOKEN_ACTIONS));
                credentials
            },
            exfiltration: named(&EXFILTRATION_ACTIONS),
            bulk: named(&BULK_READ_ACTIONS),
            pair: named(&SNAPSHOT_SHARE_PAIR),
            service_linked_role: db.lookup(SERVICE_LINKED_ROLE),
        }
    })
}

fn names_of(set: &ActionSet) -> Vec<&'static str> {
    names(set)
}

/// A finding about unconstrained actions, or None when they are not all unconstrained.
fn unconstrained(
    v: &View<'_>,
    rule: &Rule,
    set: &ActionSet,
    evidence: Vec<&'static str>,
    what: &str,
) -> Option<Finding> {
    let access = v.effective.unconstrained_access(set)?;
    let hit = Hit {
        rule,
        severity: rule.severity,
        evidence: evidence.join(","),
        message: format!("{} {what}, from {}.", v.display(), v.origin(set)),
        scope: access.scope,
        confidence: Confidence::Direct,
    };
    Some(v.report(hit, set))
}

/// RE-004: `iam:CreateServiceLinkedRole` for any service: a grant not limited by
/// `iam:AWSServiceName` (a limiting key) whose resources do not name the service either
/// (`role/aws-service-role/<service>/...`, the path of every service-linked role: IAM User
/// Guide, "Using service-linked roles").
fn check_service_linked_role(v: &View<'_>, id: ActionId, out: &mut Vec<Finding>) {
    let Some(access) = v
        .effective
        .grants
        .iter()
        .filter(|g| g.actions.contains(id) && g.strength != Strength::Limiting)
        .filter(|g| {
            g.reach.is_everything()
                || match &v.sources[g.source].policy.statements[g.statement].resource {
                    Some(NameSpec::Only(resources)) => {
                        resources.iter().any(|r| !names_one_service(r))
                    }
                    _ => true,
                }
        })
        .map(|g| g.access())
        .min_by_key(|a| a.rank())
    else {
        return;
    };
    let set = ActionSet::single(id);
    let hit = Hit {
        rule: &RE_004,
        severity: RE_004.severity,
        evidence: SERVICE_LINKED_ROLE.to_owned(),
        message: format!(
            "{} may create the service-linked role of any AWS service (`{SERVICE_LINKED_ROLE}` {}, no `iam:AWSServiceName` condition), from {}.",
            v.display(),
            describe_access(access),
            v.origin(&set)
        ),
        scope: access.scope,
        confidence: access.confidence(),
    };
    out.push(v.report(hit, &set));
}

/// True for a role ARN pattern under `aws-service-role/<service>/` with no wildcard in the
/// service (a policy variable or an unknown value may be any service).
fn names_one_service(resource: &str) -> bool {
    resource
        .split_once(":role/aws-service-role/")
        .and_then(|(_, rest)| rest.split_once('/'))
        .is_some_and(|(service, _)| {
            !service.is_empty()
                && !service.contains(['*', '?', '$'])
                && !service.contains(UNKNOWN_TEXT)
        })
}

/// RE-002: the subject may rewrite a resource policy on resources where it lacks other actions
/// of that service, so it can grant itself (or anyone) the rest through that policy.
fn check_policy_rewrite(v: &View<'_>, writers: &ActionSet, out: &mut Vec<Finding>) {
    let allowed = v.effective.allowed();
    let held = allowed.intersection(writers);
    let reaches = grant_reaches(v, &held);
    // Writers of one service held through the same grants reach the same actions: decide once.
    let mut decided: HashMap<(u32, Vec<bool>), bool> = HashMap::new();
    let escalating: Vec<ActionId> = held
        .iter()
        .filter(|&id| {
            let service = index().service_of(id).map_or(u32::MAX, |s| s.start);
            let through: Vec<bool> = reaches.iter().map(|g| g.actions.contains(id)).collect();
            *decided.entry((service, through)).or_insert_with(|| {
                let mut missing = reachable_by_policy(&reaches, id);
                missing.difference_with(allowed);
                !missing.is_empty()
            })
        })
        .collect();
    let Some(access) = escalating
        .iter()
        .filter_map(|&id| v.effective.access(id))
        .min_by_key(|a| a.rank())
    else {
        return;
    };
    let set: ActionSet = escalating.iter().copied().collect();
    let listed = names(&set);
    let hit = Hit {
        rule: &RE_002,
        severity: RE_002.severity,
        evidence: listed.join(","),
        message: format!(
            "{} may rewrite resource policies ({}) {} without holding the other actions on those resources: it can grant itself the rest through the policy, from {}.",
            v.display(),
            listed.join(", "),
            describe_access(access),
            v.origin(&set)
        ),
        scope: access.scope,
        confidence: access.confidence(),
    };
    out.push(v.report(hit, &set));
}

/// A grant that holds a resource-policy writer, with the actions its statement's resources
/// apply to (`None`: every action of the service, for `*` or NotResource).
struct GrantReach<'v> {
    actions: &'v ActionSet,
    resources: Option<ActionSet>,
}

/// The grants of the view that hold any of `writers`, with what their resources reach
/// (computed once per grant, not once per writer).
fn grant_reaches<'v>(v: &'v View<'_>, writers: &ActionSet) -> Vec<GrantReach<'v>> {
    let db = db();
    v.effective
        .grants
        .iter()
        .filter(|g| !g.actions.0.is_disjoint(&writers.0))
        .map(|g| {
            let resources =
                match &v.sources[g.source].policy.statements[g.statement].resource {
                    Some(NameSpec::Only(resources)) if !resources.contains("*") => {
                        let mut reach = ActionSet::new();
                        for r in resources {
                            reach.union_with(&db.actions_for_resource(
                                &r.replace(UNKNOWN_TEXT, "${iamgate:unknown}"),
                            ));
                        }
                        Some(reach)
                    }
                    _ => None,
                };
            GrantReach {
                actions: &g.actions,
                resources,
            }
        })
        .collect()
}

/// The actions of the writer's service that a resource policy on the resources it may rewrite
/// could grant: those that apply to the statement's resources (every one of the service for `*`
/// or NotResource). `reaches`: the grants holding writers (`grant_reaches`).
fn reachable_by_policy(reaches: &[GrantReach<'_>], writer: ActionId) -> ActionSet {
    let Some(service) = index().service_of(writer) else {
        return ActionSet::new();
    };
    let mut of_service = ActionSet::new();
    of_service.0.insert_range(service.start..service.end);
    let mut reachable = ActionSet::new();
    for g in reaches.iter().filter(|g| g.actions.contains(writer)) {
        match &g.resources {
            Some(reach) => reachable.union_with(reach),
            None => reachable.union_with(&of_service),
        }
    }
    reachable.intersect_with(&of_service);
    reachable
}

#[cfg(test)]
mod tests;
