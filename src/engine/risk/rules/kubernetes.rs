//! Rules: Kubernetes RBAC, over the state's Kubernetes `bindings`, `role_defs` and
//! `credentials` (see `iam::grants` and `extract::kubernetes` for the spellings).
//!
//! Each subject is judged on everything bound to it, combined: the rules of every role it is
//! bound to (built-in roles included: `cluster-admin`, `admin`, `edit`, `view`, with what the
//! stack's ClusterRoles aggregate into them), at the scope of each binding (cluster-wide for a
//! ClusterRoleBinding, the binding's namespace for a RoleBinding, where cluster-scoped resources
//! such as nodes and cluster roles are not granted). A capability is reported once per subject
//! and scope, at the widest grant that gives it; the finding's identity is the subject, the
//! capability and the scope, never the binding that carried it, so moving a grant from one
//! binding or role to another is not new risk.
//!
//! What is trusted: the roles and bindings of the preview and the built-in roles' rules as
//! Kubernetes ships them. A binding to a role the preview does not define and that is not
//! built in is `unanalyzed` (K8S-UNA-001); unknown names are `unknown-value` (K8S-UNK-001);
//! unreadable objects are `malformed` (K8S-MAL-001).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::engine::iam::grants::{Binding, RoleDef};
use crate::engine::iam::policy::UNKNOWN_TEXT;
use crate::engine::iam::unmodeled::Cloud;
use crate::engine::iam::{IamState, Sourced};
use crate::engine::risk::{Confidence, EvalCtx, Exposure, Finding, Rule, Scope, Severity};

mod builtin;
mod rules;
#[cfg(test)]
mod tests;

pub use self::rules::RULES;
use self::rules::{
    ADM_001, ADM_002, AGG_001, CE_001, DE_001, MAL_001, PE_001, PE_002, PE_003, PE_004, PE_005,
    PE_006, PM_001, PUB_001, UNA_001, UNK_001, WC_001,
};

/// The namespace whose workloads are the cluster's own controllers: rights there are rights
/// over the cluster.
const SYSTEM_NAMESPACE: &str = "kube-system";

/// Runs the family over one state.
pub fn check(state: &IamState, _ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    super::report_unreadable(state, Cloud::Kubernetes, &MAL_001, out);
    let roles = Roles::of(state);
    for def in state
        .role_defs
        .iter()
        .filter(|d| d.value.cloud == Cloud::Kubernetes)
    {
        check_wildcards(def, out);
        check_aggregation(def, &roles, out);
    }
    for c in state
        .credentials
        .iter()
        .filter(|c| c.value.cloud == Cloud::Kubernetes)
    {
        out.push(super::credential_finding(
            c,
            &CE_001,
            CE_001.severity,
            format!(
                "A long-lived {} is created for `{}`: it never expires and anyone who can read secrets in its namespace can act as the account.",
                c.value.kind, c.value.owner
            ),
        ));
    }

    // Everything bound to each subject, combined.
    let mut subjects: BTreeMap<&str, Vec<Grant<'_>>> = BTreeMap::new();
    for b in state
        .bindings
        .iter()
        .filter(|b| b.value.cloud == Cloud::Kubernetes)
    {
        let binding = &b.value;
        if binding.role.contains(UNKNOWN_TEXT) || binding.member.contains(UNKNOWN_TEXT) {
            out.push(binding_finding(
                b,
                &UNK_001,
                UNK_001.severity,
                format!(
                    "The binding of `{}` to `{}` ({}) names a role or subject that is unknown until apply: what it grants, and to whom, cannot be checked.",
                    binding.role,
                    binding.member,
                    scope_text(&binding.scope)
                ),
            ));
            continue;
        }
        let Some(permissions) = roles.permissions(&binding.role) else {
            out.push(binding_finding(
                b,
                &UNA_001,
                UNA_001.severity,
                format!(
                    "`{}` is bound to `{}` ({}), a role that is not defined in this stack and is not a built-in role iamgate knows: what it grants is not analyzed.",
                    binding.role,
                    binding.member,
                    scope_text(&binding.scope)
                ),
            ));
            continue;
        };
        if let Some(severity) = public_severity(&binding.member) {
            out.push(binding_finding(
                b,
                &PUB_001,
                severity,
                format!(
                    "`{}` is bound to `{}` ({}): everyone it stands for gets the role.",
                    binding.role,
                    binding.member,
                    scope_text(&binding.scope)
                ),
            ));
        }
        let scope = match binding.scope.strip_prefix("namespace/") {
            Some(ns) => Where::Namespace(ns),
            None => Where::Cluster,
        };
        let grants = subjects.entry(binding.member.as_str()).or_default();
        for perm in permissions {
            grants.push(Grant {
                perm: perm.clone(),
                scope,
                urn: roles.defined_at(&binding.role).unwrap_or(&b.urn),
                role: &binding.role,
            });
        }
    }
    for (member, grants) in &subjects {
        let groups: Vec<&Vec<Grant<'_>>> = implicit_groups(member)
            .iter()
            .filter_map(|g| subjects.get(g.as_str()))
            .collect();
        if groups.is_empty() {
            check_subject(member, grants, out);
            continue;
        }
        // The member also holds what its implicit groups are bound to: judged combined, less
        // what the groups alone give it (reported on the groups, and not new risk when only
        // the member's own binding is new).
        let mut combined = grants.clone();
        let mut inherited = Vec::new();
        for g in groups {
            combined.extend(g.iter().cloned());
            inherited.extend(g.iter().cloned());
        }
        let mut mine = Vec::new();
        check_subject(member, &combined, &mut mine);
        let mut theirs = Vec::new();
        check_subject(member, &inherited, &mut theirs);
        let same = |a: &Finding, b: &Finding| {
            a.rule_id == b.rule_id
                && a.evidence == b.evidence
                && a.severity == b.severity
                && a.confidence == b.confidence
        };
        out.extend(
            mine.into_iter()
                .filter(|f| !theirs.iter().any(|t| same(f, t))),
        );
    }
}

/// The groups Kubernetes puts a subject in by itself: every service account is in
/// `system:serviceaccounts` and `system:serviceaccounts:<namespace>`, and every authenticated
/// user or account in `system:authenticated`.
fn implicit_groups(member: &str) -> Vec<String> {
    if let Some(rest) = member.strip_prefix("ServiceAccount/") {
        let ns = rest.split_once('/').map_or(rest, |(ns, _)| ns);
        return vec![
            "Group/system:serviceaccounts".to_owned(),
            format!("Group/system:serviceaccounts:{ns}"),
            "Group/system:authenticated".to_owned(),
        ];
    }
    if member.starts_with("User/") && member != "User/system:anonymous" {
        return vec!["Group/system:authenticated".to_owned()];
    }
    Vec::new()
}

/// A finding about one binding.
fn binding_finding(
    b: &Sourced<Binding>,
    rule: &Rule,
    severity: Severity,
    message: String,
) -> Finding {
    Finding {
        rule_id: rule.id,
        category: rule.category,
        severity,
        resource: b.urn.clone(),
        subject: b.value.member.clone(),
        evidence: format!("{} @ {}", b.value.role, b.value.scope),
        message,
        scope: if b.value.scope == "cluster" {
            Scope::All
        } else {
            Scope::Wildcard
        },
        exposure: exposure_of(&b.value.member),
        confidence: Confidence::Direct,
    }
}

/// The severity of a binding to a subject that stands for everyone, if it is one.
fn public_severity(member: &str) -> Option<Severity> {
    match member {
        "User/system:anonymous" | "Group/system:unauthenticated" => Some(Severity::Critical),
        "Group/system:authenticated" => Some(Severity::High),
        _ => None,
    }
}

fn exposure_of(member: &str) -> Exposure {
    if public_severity(member).is_some() {
        Exposure::Public
    } else if member.starts_with("ServiceAccount/") {
        Exposure::Service
    } else {
        Exposure::Internal
    }
}

fn scope_text(scope: &str) -> String {
    match scope.strip_prefix("namespace/") {
        Some(ns) => format!("in namespace `{ns}`"),
        None => "cluster-wide".to_owned(),
    }
}

/// Where a grant applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Where<'a> {
    Cluster,
    Namespace(&'a str),
}

impl Where<'_> {
    fn key(self) -> String {
        match self {
            Where::Cluster => "cluster".to_owned(),
            Where::Namespace(ns) => format!("namespace/{ns}"),
        }
    }

    fn text(self) -> String {
        match self {
            Where::Cluster => "cluster-wide".to_owned(),
            Where::Namespace(ns) => format!("in namespace `{ns}`"),
        }
    }

    /// Rights here are rights over the cluster.
    fn is_cluster_level(self) -> bool {
        match self {
            Where::Cluster => true,
            Where::Namespace(ns) => ns == SYSTEM_NAMESPACE,
        }
    }
}

/// One permission: a verb on a resource (`group/resource`, optionally one named object) or on
/// a non-resource URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Perm<'a> {
    verb: &'a str,
    target: Target<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target<'a> {
    Resource {
        group: &'a str,
        resource: &'a str,
        name: Option<&'a str>,
    },
    Url(&'a str),
}

impl<'a> Perm<'a> {
    fn parse(text: &'a str) -> Option<Perm<'a>> {
        let (verb, target) = text.split_once(' ')?;
        if let Some(url) = target.strip_prefix("url:") {
            return Some(Perm {
                verb,
                target: Target::Url(url),
            });
        }
        let (what, name) = match target.split_once('#') {
            Some((what, name)) => (what, Some(name)),
            None => (target, None),
        };
        let (group, resource) = what.split_once('/')?;
        Some(Perm {
            verb,
            target: Target::Resource {
                group,
                resource,
                name,
            },
        })
    }

    /// Whether any capability the rules look for can match it (see `RELEVANT_RESOURCES`).
    fn is_relevant(&self) -> bool {
        let Target::Resource { resource, .. } = &self.target else {
            return false;
        };
        RELEVANT_VERBS.contains(&self.verb)
            && (*resource == "*"
                || resource.ends_with("/*")
                || RELEVANT_RESOURCES.contains(resource))
    }

    /// Whether it allows `verb` on `resource` of `group`; `Some(pinned)` when it does, pinned
    /// when only for named objects.
    fn allows(&self, verb: &str, group: &str, resource: &str) -> Option<bool> {
        let Target::Resource {
            group: g,
            resource: r,
            name,
        } = &self.target
        else {
            return None;
        };
        let verb_ok = self.verb == "*" || self.verb == verb;
        let group_ok = *g == "*" || *g == group;
        let resource_ok = *r == "*"
            || *r == resource
            || r.strip_suffix("/*").is_some_and(|parent| {
                resource
                    .strip_prefix(parent)
                    .is_some_and(|rest| rest.starts_with('/'))
            });
        (verb_ok && group_ok && resource_ok).then_some(name.is_some())
    }
}

/// A permission bound to a subject.
#[derive(Debug, Clone)]
struct Grant<'a> {
    perm: Perm<'a>,
    scope: Where<'a>,
    /// Where findings about it are reported: the role's definition when the stack defines the
    /// role (what it grants is read there), else the binding.
    urn: &'a str,
    role: &'a str,
}

/// The verbs of the capabilities the rules look for (`*` included).
const RELEVANT_VERBS: &[&str] = &[
    "*",
    "create",
    "get",
    "list",
    "watch",
    "update",
    "patch",
    "escalate",
    "bind",
    "impersonate",
];

/// The resources of the capabilities the rules look for: a permission on any other (named)
/// resource matches none of them. Kept in step with the targets below by a test.
const RELEVANT_RESOURCES: &[&str] = &[
    "pods",
    "replicationcontrollers",
    "deployments",
    "daemonsets",
    "statefulsets",
    "replicasets",
    "jobs",
    "cronjobs",
    "secrets",
    "pods/exec",
    "pods/attach",
    "nodes/proxy",
    "serviceaccounts",
    "serviceaccounts/token",
    "users",
    "groups",
    "roles",
    "clusterroles",
    "rolebindings",
    "clusterrolebindings",
];

/// Resources that exist outside namespaces: a RoleBinding never grants them.
const CLUSTER_SCOPED: &[&str] = &[
    "nodes",
    "nodes/proxy",
    "namespaces",
    "persistentvolumes",
    "clusterroles",
    "clusterrolebindings",
    "users",
    "groups",
    "userextras",
    "uids",
    "customresourcedefinitions",
    "certificatesigningrequests",
];

fn is_cluster_scoped(resource: &str) -> bool {
    CLUSTER_SCOPED.contains(&resource)
}

/// The widest grants of one capability, one per scope: cluster-wide first; a namespace hit only
/// where no cluster-wide unpinned grant covers it already.
#[derive(Debug)]
struct Hit<'a> {
    scope: Where<'a>,
    pinned: bool,
    grant: &'a Grant<'a>,
}

/// A subject's grants by the resource they name; those naming `*` or `<resource>/*` apart.
struct Index<'a> {
    by_resource: HashMap<&'a str, Vec<&'a Grant<'a>>>,
    wild: Vec<&'a Grant<'a>>,
}

impl<'a> Index<'a> {
    fn new(grants: &'a [Grant<'a>]) -> Index<'a> {
        let mut index = Index {
            by_resource: HashMap::new(),
            wild: Vec::new(),
        };
        for g in grants {
            match &g.perm.target {
                Target::Resource { resource, .. }
                    if *resource != "*" && !resource.ends_with("/*") =>
                {
                    index.by_resource.entry(resource).or_default().push(g);
                }
                _ => index.wild.push(g),
            }
        }
        index
    }

    /// The grants that may name `resource`.
    fn candidates(&self, resource: &str) -> impl Iterator<Item = &'a Grant<'a>> {
        self.by_resource
            .get(resource)
            .into_iter()
            .flatten()
            .chain(&self.wild)
            .copied()
    }
}

/// Who holds any of `verbs` on any of `resources` (in `group`).
fn hits<'a>(index: &Index<'a>, verbs: &[&str], targets: &[(&str, &str)]) -> Vec<Hit<'a>> {
    let mut best: BTreeMap<Where<'a>, Hit<'a>> = BTreeMap::new();
    for (group, resource) in targets {
        for g in index.candidates(resource) {
            if g.scope != Where::Cluster && is_cluster_scoped(resource) {
                continue;
            }
            for verb in verbs {
                if let Some(pinned) = g.perm.allows(verb, group, resource) {
                    let e = best.entry(g.scope).or_insert(Hit {
                        scope: g.scope,
                        pinned,
                        grant: g,
                    });
                    if e.pinned && !pinned {
                        e.pinned = false;
                        e.grant = g;
                    }
                }
            }
        }
    }
    let cluster_wide = best.get(&Where::Cluster).is_some_and(|h| !h.pinned);
    best.into_values()
        .filter(|h| !cluster_wide || h.scope == Where::Cluster)
        .collect()
}

/// (API group, resource) pairs.
type Targets = &'static [(&'static str, &'static str)];

const WORKLOADS: Targets = &[
    ("core", "pods"),
    ("core", "replicationcontrollers"),
    ("apps", "deployments"),
    ("apps", "daemonsets"),
    ("apps", "statefulsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const ROLES: Targets = &[(RBAC_GROUP, "roles"), (RBAC_GROUP, "clusterroles")];
const BINDINGS: Targets = &[
    (RBAC_GROUP, "rolebindings"),
    (RBAC_GROUP, "clusterrolebindings"),
];
const WRITE: &[&str] = &["create", "update", "patch"];

fn check_subject(member: &str, grants: &[Grant<'_>], out: &mut Vec<Finding>) {
    let exposure = exposure_of(member);
    let index = Index::new(grants);
    let emit = |out: &mut Vec<Finding>,
                rule: &Rule,
                hit: &Hit<'_>,
                severity: Severity,
                confidence: Confidence,
                what: &str| {
        let scope = if hit.pinned {
            Scope::Pinned
        } else if hit.scope == Where::Cluster {
            Scope::All
        } else {
            Scope::Wildcard
        };
        let pinned = if hit.pinned {
            " (named objects only)"
        } else {
            ""
        };
        out.push(Finding {
            rule_id: rule.id,
            category: rule.category,
            severity,
            resource: hit.grant.urn.to_owned(),
            subject: member.to_owned(),
            evidence: format!(
                "{}{}",
                hit.scope.key(),
                if hit.pinned { " named" } else { "" }
            ),
            message: format!(
                "`{member}` {what} {}{pinned}, through `{}`.",
                hit.scope.text(),
                hit.grant.role
            ),
            scope,
            exposure,
            confidence,
        });
    };

    // Administrator: every verb on everything.
    let all = hits(&index, &["*"], &[("*", "*")]);
    let admin_cluster = all.iter().any(|h| h.scope == Where::Cluster && !h.pinned);
    let mut admin_namespaces: BTreeSet<&str> = BTreeSet::new();
    for hit in all.iter().filter(|h| !h.pinned) {
        match hit.scope {
            Where::Cluster => emit(
                out,
                &ADM_001,
                hit,
                Severity::Critical,
                Confidence::Direct,
                "can do everything",
            ),
            Where::Namespace(ns) => {
                admin_namespaces.insert(ns);
                emit(
                    out,
                    &ADM_002,
                    hit,
                    raised_in_system(hit.scope, ADM_002.severity),
                    Confidence::Direct,
                    "can do everything",
                );
            }
        }
    }
    if admin_cluster {
        return;
    }
    // Namespace administration as the `admin` role gives it (not `*` on `*`, but the same).
    for hit in hits(&index, &["create"], &[(RBAC_GROUP, "rolebindings")]) {
        let Where::Namespace(ns) = hit.scope else {
            continue;
        };
        if hit.pinned || admin_namespaces.contains(ns) {
            continue;
        }
        let in_ns = |h: &Hit<'_>| h.scope == hit.scope && !h.pinned;
        let secrets = hits(&index, &["get"], &[("core", "secrets")]);
        let pods = hits(&index, &["create"], &[("core", "pods")]);
        if secrets.iter().any(in_ns) && pods.iter().any(in_ns) {
            admin_namespaces.insert(ns);
            emit(
                out,
                &ADM_002,
                &hit,
                raised_in_system(hit.scope, ADM_002.severity),
                Confidence::Direct,
                "administers the namespace",
            );
        }
    }
    let covered = |h: &Hit<'_>| match h.scope {
        Where::Namespace(ns) => admin_namespaces.contains(ns),
        Where::Cluster => false,
    };

    // Escalate or bind, with the write that uses it.
    let escalate = hits(&index, &["escalate"], ROLES);
    let bind = hits(&index, &["bind"], ROLES);
    let write_roles = hits(&index, WRITE, ROLES);
    let write_bindings = hits(&index, WRITE, BINDINGS);
    for (verb, found, needs) in [
        ("escalate", &escalate, &write_roles),
        ("bind", &bind, &write_bindings),
    ] {
        for hit in found.iter().filter(|h| !covered(h)) {
            let complete = needs
                .iter()
                .any(|n| n.scope == Where::Cluster || n.scope == hit.scope);
            let (confidence, what) = if complete {
                (
                    Confidence::Direct,
                    format!("can `{verb}` roles and write what uses it, so grant itself anything"),
                )
            } else {
                (
                    Confidence::Partial,
                    format!("can `{verb}` roles (without the write that uses it)"),
                )
            };
            emit(
                out,
                &PE_001,
                hit,
                namespace_severity(hit.scope, PE_001.severity),
                confidence,
                &what,
            );
        }
    }
    // Impersonation.
    for hit in hits(
        &index,
        &["impersonate"],
        &[
            ("core", "users"),
            ("core", "groups"),
            ("core", "serviceaccounts"),
        ],
    )
    .iter()
    .filter(|h| !covered(h))
    {
        emit(
            out,
            &PE_002,
            hit,
            if hit.scope.is_cluster_level() {
                Severity::Critical
            } else {
                Severity::High
            },
            Confidence::Direct,
            "can impersonate other identities",
        );
    }
    for (rule, verbs, targets, what) in [
        (&PE_003, &["create"][..], WORKLOADS, "can create workloads"),
        (
            &PE_004,
            &["create"][..],
            &[("core", "serviceaccounts/token")][..],
            "can mint service account tokens",
        ),
        (
            &PE_006,
            &["create", "get"][..],
            &[("core", "pods/exec"), ("core", "pods/attach")][..],
            "can run commands in pods",
        ),
    ] {
        for hit in hits(&index, verbs, targets).iter().filter(|h| !covered(h)) {
            let severity = if hit.scope.is_cluster_level() {
                Severity::Critical
            } else {
                Severity::High
            };
            emit(out, rule, hit, severity, Confidence::Direct, what);
        }
    }
    for hit in hits(&index, &["get", "create"], &[("core", "nodes/proxy")]) {
        emit(
            out,
            &PE_005,
            &hit,
            PE_005.severity,
            Confidence::Direct,
            "can reach every node's kubelet API",
        );
    }
    // RBAC writes without escalate or bind in the same scope.
    let escalation_scopes: BTreeSet<Where<'_>> =
        escalate.iter().chain(&bind).map(|h| h.scope).collect();
    for hit in write_roles
        .iter()
        .chain(&write_bindings)
        .filter(|h| !covered(h) && !escalation_scopes.contains(&h.scope))
        .fold(
            BTreeMap::new(),
            |mut m: BTreeMap<Where<'_>, &Hit<'_>>, h| {
                m.entry(h.scope).or_insert(h);
                m
            },
        )
        .into_values()
    {
        emit(
            out,
            &PM_001,
            hit,
            PM_001.severity,
            Confidence::Direct,
            "can write RBAC roles or bindings",
        );
    }
    for hit in hits(&index, &["get", "list", "watch"], &[("core", "secrets")])
        .iter()
        .filter(|h| !covered(h))
    {
        let severity = if hit.scope.is_cluster_level() {
            Severity::High
        } else {
            Severity::Medium
        };
        emit(
            out,
            &DE_001,
            hit,
            severity,
            Confidence::Direct,
            "can read secrets",
        );
    }
}

/// A namespace-level rule's severity, one band higher in `kube-system`.
fn raised_in_system(scope: Where<'_>, severity: Severity) -> Severity {
    if scope.is_cluster_level() {
        severity.raised()
    } else {
        severity
    }
}

/// A capability that is cluster-wide (or in `kube-system`) keeps the rule's severity; in
/// another namespace it is one band lower.
fn namespace_severity(scope: Where<'_>, severity: Severity) -> Severity {
    if scope.is_cluster_level() {
        return severity;
    }
    match severity {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        other => other,
    }
}

/// K8S-WC-001: a wildcard in a role's rules.
fn check_wildcards(def: &Sourced<RoleDef>, out: &mut Vec<Finding>) {
    let wild: Vec<&str> = def
        .value
        .permissions
        .iter()
        .map(String::as_str)
        .filter(|p| {
            Perm::parse(p).is_some_and(|perm| {
                perm.verb == "*"
                    || matches!(perm.target, Target::Resource { group, resource, .. }
                        if group == "*" || resource == "*" || resource.ends_with("/*"))
                    || matches!(perm.target, Target::Url(u) if u.ends_with('*'))
            })
        })
        .collect();
    if wild.is_empty() {
        return;
    }
    let scope = if def.value.id.starts_with("ClusterRole/") {
        Scope::All
    } else {
        Scope::Wildcard
    };
    out.push(Finding {
        rule_id: WC_001.id,
        category: WC_001.category,
        severity: WC_001.severity,
        resource: def.urn.clone(),
        subject: def.value.id.clone(),
        evidence: wild.join(", "),
        message: format!(
            "`{}` grants with wildcards: {}.",
            def.value.id,
            shorten(&wild)
        ),
        scope,
        exposure: Exposure::Internal,
        confidence: Confidence::Lint,
    });
}

fn shorten(items: &[&str]) -> String {
    const SHOWN: usize = 6;
    let mut text = items
        .iter()
        .take(SHOWN)
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

/// Permissions that matter when they reach many subjects at once.
fn is_sensitive(perm: &Perm<'_>) -> bool {
    let sensitive: &[(&[&str], Targets)] = &[
        (&["get", "list", "watch"], &[("core", "secrets")]),
        (
            &["create", "get"],
            &[("core", "pods/exec"), ("core", "pods/attach")],
        ),
        (&["create"], WORKLOADS),
        (&["create"], &[("core", "serviceaccounts/token")]),
        (&["escalate", "bind", "create", "update", "patch"], ROLES),
        (&["create", "update", "patch"], BINDINGS),
        (
            &["impersonate"],
            &[
                ("core", "users"),
                ("core", "groups"),
                ("core", "serviceaccounts"),
            ],
        ),
        (&["get", "create"], &[("core", "nodes/proxy")]),
    ];
    sensitive.iter().any(|(verbs, targets)| {
        verbs
            .iter()
            .any(|v| targets.iter().any(|(g, r)| perm.allows(v, g, r).is_some()))
    })
}

/// K8S-AGG-001: a ClusterRole whose labels put its sensitive rules into an aggregated role.
fn check_aggregation(def: &Sourced<RoleDef>, roles: &Roles<'_>, out: &mut Vec<Finding>) {
    if !def.value.id.starts_with("ClusterRole/") || def.value.labels.is_empty() {
        return;
    }
    let sensitive: Vec<&str> = def
        .value
        .permissions
        .iter()
        .filter(|p| Perm::parse(p).is_some_and(|perm| is_sensitive(&perm)))
        .map(String::as_str)
        .collect();
    if sensitive.is_empty() {
        return;
    }
    let targets = roles.aggregating_into(&def.value.id, &def.value.labels);
    if targets.is_empty() {
        return;
    }
    let named: Vec<String> = targets.iter().map(|t| format!("`{t}`")).collect();
    out.push(Finding {
        rule_id: AGG_001.id,
        category: AGG_001.category,
        severity: AGG_001.severity,
        resource: def.urn.clone(),
        subject: def.value.id.clone(),
        evidence: format!("{} <- {}", targets.join(", "), sensitive.join(", ")),
        message: format!(
            "`{}` is aggregated into {}, so everyone bound to them gets {}.",
            def.value.id,
            named.join(", "),
            shorten(&sensitive)
        ),
        scope: Scope::All,
        exposure: Exposure::Internal,
        confidence: Confidence::Direct,
    });
}

/// A role as defined: its own permissions, aggregation selectors and labels.
type Own<'s> = (BTreeSet<&'s str>, Vec<&'s str>, Vec<&'s str>);

/// The roles of a state, built-in ones included, with aggregation resolved.
struct Roles<'s> {
    /// Role id -> its permissions, aggregated ones included.
    resolved: HashMap<String, Vec<Perm<'s>>>,
    /// ClusterRoles that aggregate: id -> selectors (`k=v,...`).
    aggregating: Vec<(String, Vec<&'s str>)>,
    /// Role id -> labels (`k=v`).
    labels: HashMap<String, Vec<&'s str>>,
    /// Role id -> the URN of the resource that defines it in the stack (the first one).
    urns: HashMap<&'s str, &'s str>,
}

impl<'s> Roles<'s> {
    fn of(state: &'s IamState) -> Roles<'s> {
        let mut own: BTreeMap<String, Own<'s>> = BTreeMap::new();
        for b in builtin::ROLES {
            own.insert(
                format!("ClusterRole/{}", b.name),
                (
                    b.permissions.iter().copied().collect(),
                    b.aggregate_from.to_vec(),
                    b.labels.to_vec(),
                ),
            );
        }
        for d in state
            .role_defs
            .iter()
            .filter(|d| d.value.cloud == Cloud::Kubernetes)
        {
            // Definitions of one role combine: a role and its patch, and a built-in role and
            // what the stack sets on it (a `ClusterRolePatch` of `cluster-admin` that only
            // changes a label must not empty it; the cluster reconciles built-in roles back to
            // their rules anyway).
            let entry = own.entry(d.value.id.clone()).or_default();
            entry
                .0
                .extend(d.value.permissions.iter().map(String::as_str));
            entry
                .1
                .extend(d.value.aggregate_from.iter().map(String::as_str));
            entry.2.extend(d.value.labels.iter().map(String::as_str));
        }
        let aggregating: Vec<(String, Vec<&'s str>)> = own
            .iter()
            .filter(|(_, (_, from, _))| !from.is_empty())
            .map(|(id, (_, from, _))| (id.clone(), from.clone()))
            .collect();
        let mut resolved: HashMap<String, BTreeSet<&'s str>> = own
            .iter()
            .map(|(id, (perms, _, _))| (id.clone(), perms.clone()))
            .collect();
        // Aggregation chains (view -> edit -> admin) settle in a few rounds.
        for _ in 0..8 {
            let mut changed = false;
            for (id, selectors) in &aggregating {
                let mut add: BTreeSet<&'s str> = BTreeSet::new();
                for (other, (_, _, labels)) in &own {
                    if other != id
                        && other.starts_with("ClusterRole/")
                        && selectors.iter().any(|s| matches(s, labels))
                        && let Some(p) = resolved.get(other)
                    {
                        add.extend(p.iter().copied());
                    }
                }
                if let Some(mine) = resolved.get_mut(id) {
                    let before = mine.len();
                    mine.extend(add);
                    changed |= mine.len() != before;
                }
            }
            if !changed {
                break;
            }
        }
        let labels = own
            .into_iter()
            .map(|(id, (_, _, labels))| (id, labels))
            .collect();
        let mut urns = HashMap::new();
        for d in state
            .role_defs
            .iter()
            .filter(|d| d.value.cloud == Cloud::Kubernetes)
        {
            urns.entry(d.value.id.as_str()).or_insert(d.urn.as_str());
        }
        // Parsed once per role, and only what a capability can match: a subject holds the
        // permissions of every role bound to it, and most (reads of ordinary resources) match
        // no rule.
        let resolved = resolved
            .into_iter()
            .map(|(id, perms)| {
                let parsed = perms
                    .into_iter()
                    .filter_map(Perm::parse)
                    .filter(Perm::is_relevant)
                    .collect();
                (id, parsed)
            })
            .collect();
        Roles {
            resolved,
            aggregating,
            labels,
            urns,
        }
    }

    /// The URN of the resource that defines a role in the stack.
    fn defined_at(&self, id: &str) -> Option<&'s str> {
        self.urns.get(id).copied()
    }

    /// The permissions of a role, if iamgate knows it.
    /// The permissions of a role that a capability can match, if iamgate knows the role.
    fn permissions(&self, id: &str) -> Option<&[Perm<'s>]> {
        self.resolved.get(id).map(Vec::as_slice)
    }

    /// The aggregating ClusterRoles whose selectors match these labels, and those that
    /// aggregate them in turn (`view` is aggregated into `edit`, `edit` into `admin`).
    fn aggregating_into(&self, id: &str, labels: &[String]) -> Vec<&str> {
        let mut found: BTreeSet<&str> = BTreeSet::new();
        let mut queue: Vec<Vec<&str>> = vec![labels.iter().map(String::as_str).collect()];
        while let Some(labels) = queue.pop() {
            for (target, selectors) in &self.aggregating {
                if target != id
                    && !found.contains(target.as_str())
                    && selectors.iter().any(|s| matches(s, &labels))
                {
                    found.insert(target);
                    queue.push(self.labels.get(target).cloned().unwrap_or_default());
                }
            }
        }
        found.into_iter().collect()
    }
}

/// Whether labels (`k=v`) match a selector (`k=v,expr:k2`): every `matchLabels` pair is
/// present, and for each of its `matchExpressions` a label with the expression's key (whatever
/// the operator: over-reading an aggregation only ever over-reports what a role grants).
fn matches(selector: &str, labels: &[&str]) -> bool {
    if selector.is_empty() {
        return false;
    }
    selector
        .split(',')
        .all(|part| match part.strip_prefix("expr:") {
            Some(key) => labels
                .iter()
                .any(|l| l.split_once('=').is_some_and(|(k, _)| k == key)),
            None => labels.contains(&part),
        })
}
