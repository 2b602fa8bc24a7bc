//! Provider readers: for each policy-bearing resource type of AWS classic (`aws:`) and AWS Cloud
//! Control (`aws-native:`), the facts its state carries. Types not listed here carry no IAM
//! facts; those that grant or govern access anyway are in the table of `iam::unmodeled`.

use serde_json::{Map, Value, json};

use super::facts::{Fact, Ref};
use super::props::{Props, text_of};
use crate::engine::iam::model::{PrincipalKind, ResourceKind};
use crate::engine::iam::normalize::{kind_of, parse_document};
use crate::engine::iam::policy::Document;
use crate::engine::preview::{Marker, classify};

use PrincipalKind::{Group, Role, User};

/// Whether a resource type can carry IAM facts (cheap: called for every step).
pub fn is_iam_type(type_: &str) -> bool {
    reader(type_).is_some()
}

/// Reads one state of a resource (its properties and logical name) into facts.
pub(super) type Reader = fn(&Props<'_>, &str) -> Vec<Fact>;

fn reader(type_: &str) -> Option<Reader> {
    Some(match type_ {
        "aws:iam/role:Role" => role,
        "aws:iam/user:User" => |p, n| principal(p, n, User, "name"),
        "aws:iam/group:Group" => |p, n| principal(p, n, Group, "name"),
        "aws:iam/policy:Policy" => policy,
        "aws:iam/rolePolicy:RolePolicy" => |p, _| inline(p, Role, "role", "name", "policy"),
        "aws:iam/userPolicy:UserPolicy" => |p, _| inline(p, User, "user", "name", "policy"),
        "aws:iam/groupPolicy:GroupPolicy" => |p, _| inline(p, Group, "group", "name", "policy"),
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment" => |p, _| attachment(p, Role, "role"),
        "aws:iam/userPolicyAttachment:UserPolicyAttachment" => |p, _| attachment(p, User, "user"),
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment" => {
            |p, _| attachment(p, Group, "group")
        }
        "aws:iam/policyAttachment:PolicyAttachment" => policy_attachment,
        "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive" => {
            |p, _| exclusive(p, Role, "roleName")
        }
        "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive" => {
            |p, _| exclusive(p, User, "userName")
        }
        "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive" => {
            |p, _| exclusive(p, Group, "groupName")
        }
        "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive"
        | "aws:iam/userPoliciesExclusive:UserPoliciesExclusive"
        | "aws:iam/groupPoliciesExclusive:GroupPoliciesExclusive" => |_, _| Vec::new(),
        "aws:iam/groupMembership:GroupMembership" => group_membership,
        "aws:iam/userGroupMembership:UserGroupMembership" => user_group_membership,
        "aws:iam/accessKey:AccessKey" => access_key,
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider" => {
            |p, _| oidc(p, "url", "clientIdLists")
        }
        "aws:iam/instanceProfile:InstanceProfile" => |p, _| instance_profile(p, "role"),
        "aws:s3/bucketPolicy:BucketPolicy" => {
            |p, _| resource_policy(p, ResourceKind::S3Bucket, "bucket", "policy")
        }
        "aws:s3/bucket:Bucket" | "aws:s3/bucketV2:BucketV2" => |p, n| {
            let target = p.text("bucket").unwrap_or_else(|| n.to_owned());
            doc_fact(p, "policy", |document| Fact::ResourcePolicy {
                kind: ResourceKind::S3Bucket,
                target,
                document,
            })
        },
        "aws:kms/key:Key" => |p, n| {
            let target = p.text("arn").unwrap_or_else(|| n.to_owned());
            doc_fact(p, "policy", |document| Fact::ResourcePolicy {
                kind: ResourceKind::KmsKey,
                target,
                document,
            })
        },
        "aws:sqs/queuePolicy:QueuePolicy" => {
            |p, _| resource_policy(p, ResourceKind::SqsQueue, "queueUrl", "policy")
        }
        "aws:sns/topicPolicy:TopicPolicy" => {
            |p, _| resource_policy(p, ResourceKind::SnsTopic, "arn", "policy")
        }
        "aws:ecr/repositoryPolicy:RepositoryPolicy" => {
            |p, _| resource_policy(p, ResourceKind::EcrRepository, "repository", "policy")
        }
        "aws:secretsmanager/secretPolicy:SecretPolicy" => {
            |p, _| resource_policy(p, ResourceKind::SecretsManagerSecret, "secretArn", "policy")
        }
        "aws:lambda/permission:Permission" => |p, _| lambda_permission(p, LAMBDA_CLASSIC),
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock" => {
            |p, _| public_access_block(p, "bucket")
        }
        "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock" => {
            |p, _| public_access_block(p, "accountId")
        }
        // AWS Cloud Control.
        "aws-native:iam:Role" => native_role,
        "aws-native:iam:User" => |p, n| native_principal(p, n, User, "userName"),
        "aws-native:iam:Group" => |p, n| native_principal(p, n, Group, "groupName"),
        "aws-native:iam:RolePolicy" => {
            |p, _| inline(p, Role, "roleName", "policyName", "policyDocument")
        }
        "aws-native:iam:UserPolicy" => {
            |p, _| inline(p, User, "userName", "policyName", "policyDocument")
        }
        "aws-native:iam:GroupPolicy" => {
            |p, _| inline(p, Group, "groupName", "policyName", "policyDocument")
        }
        "aws-native:iam:ManagedPolicy" => native_managed_policy,
        "aws-native:iam:OidcProvider" => |p, _| oidc(p, "url", "clientIdList"),
        "aws-native:iam:InstanceProfile" => |p, _| instance_profile(p, "roles"),
        "aws-native:s3:BucketPolicy" => {
            |p, _| resource_policy(p, ResourceKind::S3Bucket, "bucket", "policyDocument")
        }
        "aws-native:kms:Key" => |p, n| {
            let target = p.text("arn").unwrap_or_else(|| n.to_owned());
            doc_fact(p, "keyPolicy", |document| Fact::ResourcePolicy {
                kind: ResourceKind::KmsKey,
                target,
                document,
            })
        },
        "aws-native:sqs:QueuePolicy" => {
            |p, _| resource_policy(p, ResourceKind::SqsQueue, "queues", "policyDocument")
        }
        "aws-native:sns:TopicPolicy" => {
            |p, _| resource_policy(p, ResourceKind::SnsTopic, "topics", "policyDocument")
        }
        "aws-native:ecr:Repository" => |p, n| {
            let target = p.text("repositoryName").unwrap_or_else(|| n.to_owned());
            doc_fact(p, "repositoryPolicyText", |document| Fact::ResourcePolicy {
                kind: ResourceKind::EcrRepository,
                target,
                document,
            })
        },
        "aws-native:secretsmanager:ResourcePolicy" => |p, _| {
            resource_policy(
                p,
                ResourceKind::SecretsManagerSecret,
                "secretId",
                "resourcePolicy",
            )
        },
        "aws-native:lambda:Permission" => |p, _| lambda_permission(p, LAMBDA_NATIVE),
        _ => {
            return super::gcp::reader(type_)
                .or_else(|| super::azure::reader(type_))
                .or_else(|| super::kubernetes::reader(type_));
        }
    })
}

/// Reads the facts of one state of a resource of type `type_` whose logical name is `name`.
pub fn read(type_: &str, props: &Props<'_>, name: &str) -> Vec<Fact> {
    if type_.starts_with("gcp:") {
        return super::gcp::read(type_, props, name);
    }
    reader(type_).map(|r| r(props, name)).unwrap_or_default()
}

fn doc_fact(p: &Props<'_>, key: &str, make: impl FnOnce(Document) -> Fact) -> Vec<Fact> {
    p.document(key).map(make).into_iter().collect()
}

fn role(p: &Props<'_>, logical: &str) -> Vec<Fact> {
    vec![Fact::Principal {
        kind: Role,
        name: p.text("name").unwrap_or_else(|| logical.to_owned()),
        arn: p.text("arn"),
        trust: p.document("assumeRolePolicy"),
        inline: policy_list(p, "inlinePolicies", "name", "policy"),
        managed_arns: p.texts("managedPolicyArns"),
        boundary: p.text("permissionsBoundary").filter(|b| !b.is_empty()),
        groups: Vec::new(),
    }]
}

fn principal(p: &Props<'_>, logical: &str, kind: PrincipalKind, name_key: &str) -> Vec<Fact> {
    vec![Fact::Principal {
        kind,
        name: p.text(name_key).unwrap_or_else(|| logical.to_owned()),
        arn: p.text("arn"),
        trust: None,
        inline: Vec::new(),
        managed_arns: Vec::new(),
        boundary: p.text("permissionsBoundary").filter(|b| !b.is_empty()),
        groups: Vec::new(),
    }]
}

fn policy(p: &Props<'_>, logical: &str) -> Vec<Fact> {
    doc_fact(p, "policy", |document| Fact::Policy {
        name: p.text("name").unwrap_or_else(|| logical.to_owned()),
        arn: p.text("arn"),
        document,
        attached: Vec::new(),
    })
}

fn inline(p: &Props<'_>, kind: PrincipalKind, target: &str, name: &str, doc: &str) -> Vec<Fact> {
    let Some(target) = p.reference(target) else {
        return Vec::new();
    };
    let name = p
        .text(name)
        .or_else(|| p.text("namePrefix"))
        .unwrap_or_default();
    doc_fact(p, doc, |document| Fact::InlinePolicy {
        kind,
        target,
        name,
        document,
    })
}

fn attachment(p: &Props<'_>, kind: PrincipalKind, target: &str) -> Vec<Fact> {
    match (p.reference(target), p.reference("policyArn")) {
        (Some(target), Some(policy)) => vec![Fact::Attachment {
            kind,
            target,
            policy,
        }],
        _ => Vec::new(),
    }
}

fn policy_attachment(p: &Props<'_>, _: &str) -> Vec<Fact> {
    let Some(policy) = p.reference("policyArn") else {
        return Vec::new();
    };
    [(Role, "roles"), (User, "users"), (Group, "groups")]
        .into_iter()
        .flat_map(|(kind, key)| {
            let deps = p.dependencies(key);
            let policy = policy.clone();
            p.texts(key)
                .into_iter()
                .enumerate()
                .map(move |(i, text)| Fact::Attachment {
                    kind,
                    target: Ref {
                        text,
                        urn: if deps.len() == 1 {
                            deps.first().cloned()
                        } else {
                            deps.get(i).cloned()
                        },
                    },
                    policy: policy.clone(),
                })
        })
        .collect()
}

fn exclusive(p: &Props<'_>, kind: PrincipalKind, target: &str) -> Vec<Fact> {
    let Some(target) = p.reference(target) else {
        return Vec::new();
    };
    p.texts("policyArns")
        .into_iter()
        .map(|arn| Fact::Attachment {
            kind,
            target: target.clone(),
            policy: Ref {
                text: arn,
                urn: None,
            },
        })
        .collect()
}

fn group_membership(p: &Props<'_>, _: &str) -> Vec<Fact> {
    let Some(group) = p.reference("group") else {
        return Vec::new();
    };
    p.texts("users")
        .into_iter()
        .map(|user| Fact::Membership {
            user: Ref {
                text: user,
                urn: None,
            },
            group: group.clone(),
        })
        .collect()
}

fn user_group_membership(p: &Props<'_>, _: &str) -> Vec<Fact> {
    let Some(user) = p.reference("user") else {
        return Vec::new();
    };
    p.texts("groups")
        .into_iter()
        .map(|group| Fact::Membership {
            user: user.clone(),
            group: Ref {
                text: group,
                urn: None,
            },
        })
        .collect()
}

fn access_key(p: &Props<'_>, _: &str) -> Vec<Fact> {
    let Some(user) = p.reference("user") else {
        return Vec::new();
    };
    let active = p
        .text("status")
        .is_none_or(|s| !s.eq_ignore_ascii_case("inactive"));
    vec![Fact::AccessKey { user, active }]
}

fn oidc(p: &Props<'_>, url: &str, clients: &str) -> Vec<Fact> {
    vec![Fact::OidcProvider {
        url: p.text(url).unwrap_or_default(),
        client_ids: p.texts(clients),
    }]
}

fn instance_profile(p: &Props<'_>, key: &str) -> Vec<Fact> {
    p.texts(key)
        .into_iter()
        .map(|text| Fact::InstanceProfile {
            role: Ref {
                text,
                urn: p.dependency(key),
            },
        })
        .collect()
}

fn resource_policy(p: &Props<'_>, kind: ResourceKind, target: &str, doc: &str) -> Vec<Fact> {
    let target = p.texts(target).join(", ");
    doc_fact(p, doc, |document| Fact::ResourcePolicy {
        kind,
        target,
        document,
    })
}

fn public_access_block(p: &Props<'_>, target: &str) -> Vec<Fact> {
    vec![Fact::PublicAccessBlock {
        target: p.text(target).unwrap_or_else(|| "account".to_owned()),
        block_public_acls: p.bool("blockPublicAcls"),
        block_public_policy: p.bool("blockPublicPolicy"),
        ignore_public_acls: p.bool("ignorePublicAcls"),
        restrict_public_buckets: p.bool("restrictPublicBuckets"),
    }]
}

/// Property names of a Lambda permission, per provider.
struct LambdaKeys {
    function: &'static str,
    principal_org: &'static str,
    url_auth: &'static str,
}

const LAMBDA_CLASSIC: LambdaKeys = LambdaKeys {
    function: "function",
    principal_org: "principalOrgId",
    url_auth: "functionUrlAuthType",
};
const LAMBDA_NATIVE: LambdaKeys = LambdaKeys {
    function: "functionName",
    principal_org: "principalOrgId",
    url_auth: "functionUrlAuthType",
};

/// A Lambda permission is one statement of the function's resource policy; it is rebuilt as a
/// document so the resource-policy rules see it like any other.
fn lambda_permission(p: &Props<'_>, keys: LambdaKeys) -> Vec<Fact> {
    let function = p.text(keys.function).unwrap_or_default();
    let principal = p.text("principal").unwrap_or_default();
    let principal_json = if principal == "*" {
        json!("*")
    } else if principal.ends_with(".amazonaws.com") || principal.ends_with(".amazonaws.com.cn") {
        json!({ "Service": principal })
    } else {
        json!({ "AWS": principal })
    };
    let mut condition = Map::new();
    let mut add = |op: &str, key: &str, value: Option<String>| {
        if let Some(v) = value {
            let entry = condition.entry(op.to_owned()).or_insert_with(|| json!({}));
            if let Value::Object(m) = entry {
                m.insert(key.to_owned(), Value::String(v));
            }
        }
    };
    add("ArnLike", "AWS:SourceArn", p.text("sourceArn"));
    add("StringEquals", "AWS:SourceAccount", p.text("sourceAccount"));
    add(
        "StringEquals",
        "aws:PrincipalOrgID",
        p.text(keys.principal_org),
    );
    add(
        "StringEquals",
        "lambda:FunctionUrlAuthType",
        p.text(keys.url_auth),
    );
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": principal_json,
        "Action": p.text("action").unwrap_or_default(),
        "Resource": function.clone(),
    });
    if !condition.is_empty() {
        statement["Condition"] = Value::Object(condition);
    }
    let document = parse_document(&json!({ "Version": "2012-10-17", "Statement": [statement] }));
    vec![Fact::ResourcePolicy {
        kind: ResourceKind::LambdaFunction,
        target: function,
        document,
    }]
}

fn native_policies(p: &Props<'_>) -> Vec<(String, Document)> {
    policy_list(p, "policies", "policyName", "policyDocument")
}

/// A list of named policies (`inlinePolicies`, aws-native `policies`). A list that is unknown,
/// secret or not a list, and an entry that is not an object, is a document of its own named
/// `<key>` (unknown, secret or malformed): never read as "no policies".
fn policy_list(p: &Props<'_>, key: &str, name_key: &str, doc_key: &str) -> Vec<(String, Document)> {
    let whole = |value: &Value, expected: &str| (format!("<{key}>"), not_a_policy(value, expected));
    let items = match p.get(key) {
        None => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => return vec![whole(other, &format!("`{key}` must be a list of policies"))],
    };
    items
        .iter()
        .filter_map(|item| {
            if !item.is_object() {
                let expected = format!("`{key}` entries must be objects");
                return (!item.is_null()).then(|| whole(item, &expected));
            }
            let name = item.get(name_key).and_then(text_of).unwrap_or_default();
            let policy = item.get(doc_key)?;
            // aws 4.x outputs hold a placeholder `{"name": "", "policy": ""}`.
            if name.is_empty() && policy.as_str() == Some("") {
                return None;
            }
            Some((name, p.memo.parse(policy)))
        })
        .collect()
}

/// What a value found where a policy (or a list of them) belongs is: opaque when unknown or
/// secret, malformed otherwise.
fn not_a_policy(value: &Value, expected: &str) -> Document {
    match classify(value) {
        Marker::Unknown => Document::Unknown,
        Marker::Secret => Document::Secret,
        Marker::Known => Document::Malformed(format!("{expected}, found {}", kind_of(value))),
    }
}

fn native_role(p: &Props<'_>, logical: &str) -> Vec<Fact> {
    vec![Fact::Principal {
        kind: Role,
        name: p.text("roleName").unwrap_or_else(|| logical.to_owned()),
        arn: p.text("arn"),
        trust: p.document("assumeRolePolicyDocument"),
        inline: native_policies(p),
        managed_arns: p.texts("managedPolicyArns"),
        boundary: p.text("permissionsBoundary").filter(|b| !b.is_empty()),
        groups: Vec::new(),
    }]
}

fn native_principal(
    p: &Props<'_>,
    logical: &str,
    kind: PrincipalKind,
    name_key: &str,
) -> Vec<Fact> {
    vec![Fact::Principal {
        kind,
        name: p.text(name_key).unwrap_or_else(|| logical.to_owned()),
        arn: p.text("arn"),
        trust: None,
        inline: native_policies(p),
        managed_arns: p.texts("managedPolicyArns"),
        boundary: p.text("permissionsBoundary").filter(|b| !b.is_empty()),
        groups: p.texts("groups"),
    }]
}

fn native_managed_policy(p: &Props<'_>, logical: &str) -> Vec<Fact> {
    let attached = [(Role, "roles"), (User, "users"), (Group, "groups")]
        .into_iter()
        .flat_map(|(kind, key)| {
            let urn = p.dependency(key);
            p.texts(key).into_iter().map(move |text| {
                (
                    kind,
                    Ref {
                        text,
                        urn: urn.clone(),
                    },
                )
            })
        })
        .collect();
    doc_fact(p, "policyDocument", |document| Fact::Policy {
        name: p
            .text("managedPolicyName")
            .unwrap_or_else(|| logical.to_owned()),
        arn: p.text("policyArn"),
        document,
        attached,
    })
}
