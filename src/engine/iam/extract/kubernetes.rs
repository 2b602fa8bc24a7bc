//! The reader of Kubernetes RBAC (`kubernetes:rbac.authorization.k8s.io/<version>:<Kind>`, as
//! pulumi-kubernetes spells the types: `Role`, `ClusterRole`, `RoleBinding`, `ClusterRoleBinding`,
//! their `*List` forms, which carry `items`, and their `*Patch` forms, which set what they carry on
//! an existing object), and service account token secrets (`kubernetes:core/v1:Secret` of type
//! `kubernetes.io/service-account-token`).
//!
//! Canonical spellings (see `iam::grants`):
//! - scope: `cluster` for a `ClusterRoleBinding`, `namespace/<ns>` for a `RoleBinding`;
//! - role: `ClusterRole/<name>`, `Role/<ns>/<name>` (a `RoleBinding` may name either);
//! - member: `ServiceAccount/<ns>/<name>`, `User/<name>`, `Group/<name>` (a service account
//!   subject without a namespace is in the binding's namespace);
//! - permissions of a role: one per (verb, API group, resource, resource name) of its rules:
//!   `<verb> <group>/<resource>[#<name>]`, the core group spelled `core`, and `<verb> url:<path>`
//!   for non-resource URLs. Lists are lowercased and deduplicated; a `*` in a list stands alone.
//!
//! A namespaced object without `metadata.namespace` is created in the namespace of the provider's
//! context, which the preview does not show: it is read as `default`, the namespace of a context
//! that names none. A missing `metadata.name` is the resource's logical name (pulumi-kubernetes
//! auto-names from it; the random suffix does not change what is granted).

use serde_json::Value;

use super::facts::Fact;
use super::props::{Props, text_of};
use super::readers::Reader;
use crate::engine::iam::grants::{Binding, Credential, RoleDef};
use crate::engine::iam::policy::UNKNOWN_TEXT;
use crate::engine::iam::unmodeled::Cloud;
use crate::engine::preview::{Marker, classify};

const RBAC: &str = "kubernetes:rbac.authorization.k8s.io/";

/// The namespace of a namespaced object that names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Permission strings of one role are capped: a rule whose lists multiply beyond this is kept as
/// the wildcard of what it names (never as less than it grants).
const MAX_PERMISSIONS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
}

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "Role" => Kind::Role,
            "ClusterRole" => Kind::ClusterRole,
            "RoleBinding" => Kind::RoleBinding,
            "ClusterRoleBinding" => Kind::ClusterRoleBinding,
            _ => return None,
        })
    }
}

/// The reader of an IAM type of Kubernetes, if iamgate models it.
pub(super) fn reader(type_: &str) -> Option<Reader> {
    if type_ == "kubernetes:core/v1:Secret" {
        return Some(secret);
    }
    let rest = type_.strip_prefix(RBAC)?;
    let (_version, name) = rest.split_once(':')?;
    let (base, list) = match name.strip_suffix("List") {
        Some(base) => (base, true),
        None => (name.strip_suffix("Patch").unwrap_or(name), false),
    };
    let kind = Kind::parse(base)?;
    Some(match (kind, list) {
        (Kind::Role, false) => |p, n| object(p.primary, p.fallback, n, Kind::Role),
        (Kind::ClusterRole, false) => |p, n| object(p.primary, p.fallback, n, Kind::ClusterRole),
        (Kind::RoleBinding, false) => |p, n| object(p.primary, p.fallback, n, Kind::RoleBinding),
        (Kind::ClusterRoleBinding, false) => {
            |p, n| object(p.primary, p.fallback, n, Kind::ClusterRoleBinding)
        }
        (Kind::Role, true) => |p, n| items(p, n, Kind::Role),
        (Kind::ClusterRole, true) => |p, n| items(p, n, Kind::ClusterRole),
        (Kind::RoleBinding, true) => |p, n| items(p, n, Kind::RoleBinding),
        (Kind::ClusterRoleBinding, true) => |p, n| items(p, n, Kind::ClusterRoleBinding),
    })
}

/// A `*List`: each item is a whole object of the kind.
fn items(p: &Props<'_>, logical: &str, kind: Kind) -> Vec<Fact> {
    match p.get("items") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .flat_map(|(i, item)| object(item, None, &format!("{logical}[{i}]"), kind))
            .collect(),
        Some(other) => vec![malformed(
            "items",
            other,
            "`items` is not a list of objects".into(),
        )],
    }
}

/// The facts of one RBAC object (inputs, with the outputs for what they lack).
fn object(primary: &Value, fallback: Option<&Value>, logical: &str, kind: Kind) -> Vec<Fact> {
    let get = |key: &str| -> Option<&Value> {
        match primary.get(key) {
            Some(Value::Null) | None => fallback.and_then(|f| f.get(key)).filter(|v| !v.is_null()),
            some => some,
        }
    };
    let meta = get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(text_of)
        .unwrap_or_else(|| logical.to_owned());
    let namespace = meta
        .and_then(|m| m.get("namespace"))
        .and_then(text_of)
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    match kind {
        Kind::Role | Kind::ClusterRole => {
            let id = match kind {
                Kind::Role => format!("Role/{namespace}/{name}"),
                _ => format!("ClusterRole/{name}"),
            };
            role(get, meta, id, kind)
        }
        Kind::RoleBinding | Kind::ClusterRoleBinding => binding(get, &namespace, kind),
    }
}

fn malformed(property: &str, value: &Value, reason: String) -> Fact {
    Fact::Unreadable {
        property: property.to_owned(),
        reason,
        digest: super::raw::digest_of(value),
    }
}

fn role<'v>(
    get: impl Fn(&str) -> Option<&'v Value>,
    meta: Option<&Value>,
    id: String,
    kind: Kind,
) -> Vec<Fact> {
    let mut facts = Vec::new();
    let mut permissions = Vec::new();
    match get("rules") {
        None => {}
        Some(Value::Array(rules)) => {
            for (i, rule) in rules.iter().enumerate() {
                match rule_permissions(rule) {
                    Ok(mut p) => permissions.append(&mut p),
                    Err(reason) => {
                        facts.push(malformed("rules", rule, format!("rules[{i}]: {reason}")))
                    }
                }
            }
        }
        Some(other) if classify(other) == Marker::Unknown => {
            permissions.push(format!("{UNKNOWN_TEXT} rules"));
        }
        Some(other) => facts.push(malformed("rules", other, "`rules` is not a list".into())),
    }
    permissions.sort();
    permissions.dedup();
    if permissions.len() > MAX_PERMISSIONS {
        permissions.truncate(MAX_PERMISSIONS);
    }
    let labels = meta
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|labels| {
            let mut l: Vec<String> = labels
                .iter()
                .filter_map(|(k, v)| Some(format!("{k}={}", text_of(v)?)))
                .collect();
            l.sort();
            l
        })
        .unwrap_or_default();
    let mut aggregate_from = Vec::new();
    if kind == Kind::ClusterRole {
        match get("aggregationRule").map(|a| a.get("clusterRoleSelectors")) {
            None | Some(None) => {}
            Some(Some(Value::Array(selectors))) => {
                for (i, s) in selectors.iter().enumerate() {
                    match selector(s) {
                        Ok(sel) => aggregate_from.push(sel),
                        Err(reason) => facts.push(malformed(
                            "aggregationRule",
                            s,
                            format!("clusterRoleSelectors[{i}]: {reason}"),
                        )),
                    }
                }
            }
            Some(Some(other)) => facts.push(malformed(
                "aggregationRule",
                other,
                "`clusterRoleSelectors` is not a list".into(),
            )),
        }
    }
    aggregate_from.sort();
    aggregate_from.dedup();
    facts.push(Fact::RoleDef(RoleDef {
        cloud: Cloud::Kubernetes,
        id,
        permissions,
        not_permissions: Vec::new(),
        assignable_scopes: Vec::new(),
        aggregate_from,
        labels,
    }));
    facts
}

/// A label selector as `k=v,k2=v2` (its `matchLabels`, sorted), each of its `matchExpressions`
/// as `expr:<key>`: the rules read an expression as matching every role with a label of that key,
/// never as matching nothing.
fn selector(s: &Value) -> Result<String, String> {
    let mut parts = Vec::new();
    if let Some(labels) = s.get("matchLabels") {
        let Value::Object(labels) = labels else {
            return Err("`matchLabels` is not an object".into());
        };
        for (k, v) in labels {
            let v = text_of(v).ok_or_else(|| format!("label `{k}` is not text"))?;
            parts.push(format!("{k}={v}"));
        }
    }
    if let Some(expr) = s.get("matchExpressions") {
        let Value::Array(expr) = expr else {
            return Err("`matchExpressions` is not a list".into());
        };
        for e in expr {
            let key = e
                .get("key")
                .and_then(text_of)
                .ok_or("a `matchExpressions` item has no `key`")?;
            parts.push(format!("expr:{key}"));
        }
    }
    parts.sort();
    Ok(parts.join(","))
}

/// A list of strings, lowercased (RBAC names are case-sensitive, but the built-in verbs,
/// groups and resources are lowercase: a capital never matches a real request, and reading it
/// as lowercase only ever over-reports); `*` alone when present.
fn list(rule: &Value, key: &str) -> Result<Vec<String>, String> {
    let items = match rule.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(v) if classify(v) == Marker::Unknown => return Ok(vec![UNKNOWN_TEXT.to_owned()]),
        Some(_) => return Err(format!("`{key}` is not a list")),
    };
    let mut out = Vec::new();
    for item in items {
        let text = text_of(item).ok_or_else(|| format!("`{key}` holds a non-text item"))?;
        out.push(text.trim().to_ascii_lowercase());
    }
    if out.iter().any(|s| s == "*") {
        return Ok(vec!["*".to_owned()]);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// One policy rule's permissions (see the module doc).
fn rule_permissions(rule: &Value) -> Result<Vec<String>, String> {
    if !rule.is_object() {
        return Err("a rule is not an object".into());
    }
    let verbs = list(rule, "verbs")?;
    let groups = list(rule, "apiGroups")?;
    let resources = list(rule, "resources")?;
    let names = match rule.get("resourceNames") {
        // Names are case-sensitive and not lowercased.
        Some(Value::Array(items)) => {
            let mut n: Vec<String> = items.iter().filter_map(text_of).collect();
            n.sort();
            n.dedup();
            n
        }
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err("`resourceNames` is not a list".into()),
    };
    let urls = list(rule, "nonResourceURLs")?;
    let mut out = Vec::new();
    for verb in &verbs {
        for url in &urls {
            out.push(format!("{verb} url:{url}"));
        }
        for group in &groups {
            let group = if group.is_empty() { "core" } else { group };
            for resource in &resources {
                if names.is_empty() {
                    out.push(format!("{verb} {group}/{resource}"));
                }
                for name in &names {
                    out.push(format!("{verb} {group}/{resource}#{name}"));
                }
                if out.len() > MAX_PERMISSIONS {
                    // Never less than granted: the rule's verb on everything in the group.
                    out.push(format!("{verb} {group}/*"));
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

fn binding<'v>(get: impl Fn(&str) -> Option<&'v Value>, namespace: &str, kind: Kind) -> Vec<Fact> {
    let mut facts = Vec::new();
    let scope = match kind {
        Kind::ClusterRoleBinding => "cluster".to_owned(),
        _ => format!("namespace/{namespace}"),
    };
    let role = match get("roleRef") {
        None => format!("{UNKNOWN_TEXT} roleRef"),
        Some(r) if classify(r) == Marker::Unknown => format!("{UNKNOWN_TEXT} roleRef"),
        Some(r @ Value::Object(_)) => {
            let name = r
                .get("name")
                .and_then(text_of)
                .unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
            match r.get("kind").and_then(text_of).as_deref() {
                Some("ClusterRole") => format!("ClusterRole/{name}"),
                // A ClusterRoleBinding can only name a ClusterRole; the API rejects a Role.
                Some("Role") if kind == Kind::RoleBinding => format!("Role/{namespace}/{name}"),
                Some(other) => format!("{other}/{name}"),
                None => format!("{UNKNOWN_TEXT}/{name}"),
            }
        }
        Some(other) => {
            facts.push(malformed(
                "roleRef",
                other,
                "`roleRef` is not an object".into(),
            ));
            return facts;
        }
    };
    let subjects = match get("subjects") {
        None => return facts,
        Some(Value::Array(s)) => s,
        Some(s) if classify(s) == Marker::Unknown => {
            facts.push(Fact::Binding(Binding {
                cloud: Cloud::Kubernetes,
                scope,
                role,
                member: format!("{UNKNOWN_TEXT} subjects"),
                condition: None,
            }));
            return facts;
        }
        Some(other) => {
            facts.push(malformed(
                "subjects",
                other,
                "`subjects` is not a list".into(),
            ));
            return facts;
        }
    };
    for (i, s) in subjects.iter().enumerate() {
        match subject(s, namespace) {
            Ok(member) => facts.push(Fact::Binding(Binding {
                cloud: Cloud::Kubernetes,
                scope: scope.clone(),
                role: role.clone(),
                member,
                condition: None,
            })),
            Err(reason) => facts.push(malformed("subjects", s, format!("subjects[{i}]: {reason}"))),
        }
    }
    facts
}

/// A subject in the member spelling.
fn subject(s: &Value, namespace: &str) -> Result<String, String> {
    if classify(s) == Marker::Unknown {
        return Ok(UNKNOWN_TEXT.to_owned());
    }
    if !s.is_object() {
        return Err("a subject is not an object".into());
    }
    let name = s
        .get("name")
        .and_then(text_of)
        .ok_or("a subject has no `name`")?;
    let kind = s
        .get("kind")
        .and_then(text_of)
        .ok_or("a subject has no `kind`")?;
    Ok(match kind.as_str() {
        "ServiceAccount" => {
            let ns = s
                .get("namespace")
                .and_then(text_of)
                .unwrap_or_else(|| namespace.to_owned());
            format!("ServiceAccount/{ns}/{name}")
        }
        "User" | "Group" => format!("{kind}/{name}"),
        other => format!("{other}/{name}"),
    })
}

/// A `kubernetes:core/v1:Secret` of type `kubernetes.io/service-account-token`: a token of the
/// service account that never expires. Other secrets carry no IAM facts (their data is never read).
fn secret(p: &Props<'_>, logical: &str) -> Vec<Fact> {
    if p.text("type").as_deref() != Some("kubernetes.io/service-account-token") {
        return Vec::new();
    }
    let meta = p.get("metadata");
    let namespace = meta
        .and_then(|m| m.get("namespace"))
        .and_then(text_of)
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    let account = meta
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get("kubernetes.io/service-account.name"))
        .and_then(text_of)
        .unwrap_or_else(|| UNKNOWN_TEXT.to_owned());
    let _ = logical;
    vec![Fact::Credential(Credential {
        cloud: Cloud::Kubernetes,
        owner: format!("ServiceAccount/{namespace}/{account}"),
        kind: "service account token secret".to_owned(),
    })]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn perms(rule: Value) -> Vec<String> {
        rule_permissions(&rule).unwrap()
    }

    #[test]
    fn rules_flatten_to_one_permission_per_verb_group_resource_and_name() {
        assert_eq!(
            perms(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]})),
            ["get core/secrets", "list core/secrets"]
        );
        assert_eq!(
            perms(
                json!({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app"], "verbs": ["GET "]})
            ),
            ["get core/configmaps#app"]
        );
        assert_eq!(
            perms(json!({"nonResourceURLs": ["/metrics"], "verbs": ["get"]})),
            ["get url:/metrics"]
        );
    }

    #[test]
    fn a_star_anywhere_in_a_list_is_the_whole_list() {
        assert_eq!(
            perms(
                json!({"apiGroups": ["apps", "*"], "resources": ["*", "pods"], "verbs": ["get", "*"]})
            ),
            ["* */*"]
        );
    }

    #[test]
    fn the_type_tokens_of_every_version_and_form_are_read() {
        for t in [
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
            "kubernetes:rbac.authorization.k8s.io/v1beta1:RoleBinding",
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRolePatch",
            "kubernetes:rbac.authorization.k8s.io/v1:RoleList",
            "kubernetes:core/v1:Secret",
        ] {
            assert!(reader(t).is_some(), "{t}");
        }
        for t in [
            "kubernetes:rbac.authorization.k8s.io/v1:Unknown",
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:apps/v1:Deployment",
        ] {
            assert!(reader(t).is_none(), "{t}");
        }
    }

    #[test]
    fn a_binding_yields_one_grant_per_subject_in_the_member_spelling() {
        let facts = object(
            &json!({
                "metadata": {"name": "ci", "namespace": "build"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
                "subjects": [
                    {"kind": "ServiceAccount", "name": "runner"},
                    {"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}
                ]
            }),
            None,
            "ci",
            Kind::RoleBinding,
        );
        let members: Vec<(String, String, String)> = facts
            .iter()
            .map(|f| match f {
                Fact::Binding(b) => (b.scope.clone(), b.role.clone(), b.member.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            members,
            [
                (
                    "namespace/build".to_owned(),
                    "Role/build/deployer".to_owned(),
                    "ServiceAccount/build/runner".to_owned()
                ),
                (
                    "namespace/build".to_owned(),
                    "Role/build/deployer".to_owned(),
                    "Group/devs".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn unreadable_rules_and_subjects_are_reported_never_dropped() {
        let facts = object(
            &json!({"metadata": {"name": "r"}, "rules": [{"verbs": "get"}, "nope"]}),
            None,
            "r",
            Kind::ClusterRole,
        );
        let unreadable = facts
            .iter()
            .filter(|f| matches!(f, Fact::Unreadable { .. }))
            .count();
        assert_eq!(unreadable, 2, "{facts:?}");
        let facts = object(
            &json!({"roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": {"kind": "User"}}),
            None,
            "b",
            Kind::ClusterRoleBinding,
        );
        assert!(
            matches!(facts.as_slice(), [Fact::Unreadable { property, .. }] if property == "subjects"),
            "{facts:?}"
        );
    }

    #[test]
    fn unknown_subjects_and_roles_stay_unknown() {
        let unknown = json!("04da6b54-80e4-46f7-96ec-b56ff0331ba9");
        let facts = object(
            &json!({"roleRef": {"kind": "ClusterRole", "name": unknown}, "subjects": [unknown]}),
            None,
            "b",
            Kind::ClusterRoleBinding,
        );
        match facts.as_slice() {
            [Fact::Binding(b)] => {
                assert!(b.role.contains(UNKNOWN_TEXT), "{b:?}");
                assert!(b.member.contains(UNKNOWN_TEXT), "{b:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
