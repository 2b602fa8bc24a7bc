//! The canonical JSON of a resource's IAM facts: what the per-resource diff compares and the
//! fingerprint hashes. Keys are sorted (serde_json's map), documents are canonical, lists sorted.

use serde_json::{Map, Value, json};

use super::facts::{Fact, Ref};
use crate::engine::iam::azure_roles;
use crate::engine::iam::grants::Binding;
use crate::engine::iam::normalize::document_json;
use crate::engine::iam::policy::UNKNOWN_TEXT;
use crate::engine::iam::unmodeled::Cloud;

/// The canonical JSON of everything IAM-relevant one resource state carries.
pub fn facts_json(facts: &[Fact]) -> Value {
    match facts {
        [one] => fact_json(one),
        many => {
            let mut items: Vec<Value> = many.iter().map(fact_json).collect();
            items.sort_by_key(Value::to_string);
            Value::Array(items)
        }
    }
}

/// True when two resource states certainly render the same canonical JSON: their facts are
/// equal, fact by fact, but for the ARNs of principals and policies (which `facts_json` leaves
/// out). False does not mean that the JSON differs.
pub fn same_facts(a: &[Fact], b: &[Fact]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_fact(x, y))
}

fn same_fact(a: &Fact, b: &Fact) -> bool {
    match (a, b) {
        (
            Fact::Principal {
                kind,
                name,
                arn: _,
                trust,
                inline,
                managed_arns,
                boundary,
                groups,
            },
            Fact::Principal {
                kind: kind2,
                name: name2,
                arn: _,
                trust: trust2,
                inline: inline2,
                managed_arns: managed_arns2,
                boundary: boundary2,
                groups: groups2,
            },
        ) => {
            kind == kind2
                && name == name2
                && trust == trust2
                && inline == inline2
                && managed_arns == managed_arns2
                && boundary == boundary2
                && groups == groups2
        }
        (
            Fact::Policy {
                name,
                arn: _,
                document,
                attached,
            },
            Fact::Policy {
                name: name2,
                arn: _,
                document: document2,
                attached: attached2,
            },
        ) => name == name2 && document == document2 && attached == attached2,
        _ => a == b,
    }
}

fn reference(r: &Ref) -> Value {
    match (&r.urn, r.text == UNKNOWN_TEXT) {
        (Some(urn), true) => {
            let name = urn.rsplit("::").next().unwrap_or(urn);
            Value::String(format!("{UNKNOWN_TEXT} (from {name})"))
        }
        _ => Value::String(r.text.clone()),
    }
}

fn sorted(items: &[String]) -> Value {
    let mut v: Vec<&String> = items.iter().collect();
    v.sort();
    v.dedup();
    json!(v)
}

/// The name of a role that the preview gives by id only, when iamgate's tables know it (Azure
/// built-in roles, Entra ID directory roles, Microsoft Graph permissions): a reviewer reads
/// `Owner`, not `8e3af657-...`.
fn role_name(b: &Binding) -> Option<&'static str> {
    if b.cloud != Cloud::Azure {
        return None;
    }
    if let Some(id) = b.role.strip_prefix("directoryRole/") {
        return azure_roles::directory_role(id).map(|r| r.name);
    }
    if let Some(id) = b.role.strip_prefix("appRole/") {
        return azure_roles::graph_permission(id).map(|p| p.name);
    }
    azure_roles::builtin(&b.role).map(|r| r.name)
}

fn fact_json(fact: &Fact) -> Value {
    match fact {
        Fact::Principal {
            kind,
            name,
            arn: _,
            trust,
            inline,
            managed_arns,
            boundary,
            groups,
        } => {
            let mut m = Map::new();
            m.insert(kind.as_str().to_owned(), json!(name));
            if let Some(t) = trust {
                m.insert("trustPolicy".into(), document_json(t));
            }
            if !inline.is_empty() {
                let obj: Map<String, Value> = inline
                    .iter()
                    .map(|(n, d)| (n.clone(), document_json(d)))
                    .collect();
                m.insert("inlinePolicies".into(), Value::Object(obj));
            }
            if !managed_arns.is_empty() {
                m.insert("managedPolicyArns".into(), sorted(managed_arns));
            }
            if let Some(b) = boundary {
                m.insert("permissionsBoundary".into(), json!(b));
            }
            if !groups.is_empty() {
                m.insert("groups".into(), sorted(groups));
            }
            Value::Object(m)
        }
        Fact::Policy {
            name,
            arn: _,
            document,
            attached,
        } => {
            let mut m = Map::new();
            m.insert("policy".into(), json!(name));
            m.insert("document".into(), document_json(document));
            if !attached.is_empty() {
                let mut list: Vec<String> = attached
                    .iter()
                    .map(|(k, r)| {
                        format!(
                            "{}/{}",
                            k.as_str(),
                            reference(r).as_str().unwrap_or_default()
                        )
                    })
                    .collect();
                list.sort();
                m.insert("attachedTo".into(), json!(list));
            }
            Value::Object(m)
        }
        Fact::InlinePolicy {
            kind,
            target,
            name,
            document,
        } => json!({
            kind.as_str(): reference(target),
            "name": name,
            "policy": document_json(document),
        }),
        Fact::Attachment {
            kind,
            target,
            policy,
        } => json!({
            kind.as_str(): reference(target),
            "policyArn": reference(policy),
        }),
        Fact::Membership { user, group } => {
            json!({ "user": reference(user), "group": reference(group) })
        }
        Fact::AccessKey { user, active } => json!({
            "user": reference(user),
            "status": if *active { "Active" } else { "Inactive" },
        }),
        Fact::OidcProvider { url, client_ids } => {
            json!({ "url": url, "clientIds": sorted(client_ids) })
        }
        Fact::InstanceProfile { role } => json!({ "role": reference(role) }),
        Fact::ResourcePolicy {
            kind,
            target,
            document,
        } => json!({
            "resource": format!("{}: {target}", kind.as_str()),
            "policy": document_json(document),
        }),
        Fact::PublicAccessBlock {
            target,
            block_public_acls,
            block_public_policy,
            ignore_public_acls,
            restrict_public_buckets,
        } => json!({
            "target": target,
            "blockPublicAcls": block_public_acls,
            "blockPublicPolicy": block_public_policy,
            "ignorePublicAcls": ignore_public_acls,
            "restrictPublicBuckets": restrict_public_buckets,
        }),
        Fact::Binding(b) => {
            let mut m = Map::new();
            m.insert("scope".into(), json!(b.scope));
            m.insert("role".into(), json!(b.role));
            if let Some(name) = role_name(b) {
                m.insert("roleName".into(), json!(name));
            }
            m.insert("member".into(), json!(b.member));
            if let Some(c) = &b.condition {
                m.insert("condition".into(), json!(c));
            }
            Value::Object(m)
        }
        Fact::RoleDef(r) => {
            let mut m = Map::new();
            m.insert("role".into(), json!(r.id));
            m.insert("permissions".into(), sorted(&r.permissions));
            for (key, list) in [
                ("notPermissions", &r.not_permissions),
                ("assignableScopes", &r.assignable_scopes),
                ("aggregateFrom", &r.aggregate_from),
                ("labels", &r.labels),
            ] {
                if !list.is_empty() {
                    m.insert(key.into(), sorted(list));
                }
            }
            Value::Object(m)
        }
        Fact::Credential(c) => json!({ "credential": c.kind, "owner": c.owner }),
        Fact::Unreadable {
            property,
            reason,
            digest,
        } => json!({
            "unreadable": if property.is_empty() { "(all properties)" } else { property },
            "reason": reason,
            "sha256": digest,
        }),
    }
}
