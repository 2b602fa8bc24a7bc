//! Rules: Azure, over the state's Azure `bindings`, `role_defs` and `credentials` (see
//! `iam::grants` and `extract::azure` for the spellings).
//!
//! Azure RBAC: each principal is judged on everything assigned to it, combined: the actions of
//! every role it holds (custom role definitions of the preview, built-in roles of
//! `iam::azure_roles`), each role's `notActions` taken from its own actions only (as Azure
//! evaluates them), at the scope of each assignment. A capability (every action; every action
//! but the authorization writes; role assignment; role definition) is reported once per
//! principal and scope, at the widest scope that gives it: a grant at a subscription covers its
//! resource groups and resources. The finding's identity is the principal, the capability and
//! the scope, never the resource nor the role that carried it, so moving a grant from one form or
//! role to another is not new risk. An assignment with an ABAC `condition` is `Conditioned`.
//!
//! Entra ID: directory role assignments and Microsoft Graph application permissions with a
//! known path to Global Administrator; application and service principal credentials.
//! Anonymous blob access: grants to `allUsers`.
//!
//! What is trusted: the preview's role definitions and the built-in tables. An assignment of a
//! role that is in neither is `unanalyzed` (AZURE-UNA-001); unknown values are `unknown-value`
//! (AZURE-UNK-001); unreadable resources are `malformed` (AZURE-MAL-001).

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::iam::azure_roles::{self, Path};
use crate::engine::iam::grants::{Binding, RoleDef};
use crate::engine::iam::policy::UNKNOWN_TEXT;
use crate::engine::iam::unmodeled::Cloud;
use crate::engine::iam::{IamState, Sourced};
use crate::engine::risk::{Confidence, EvalCtx, Exposure, Finding, Rule, Scope, Severity};

mod rules;
#[cfg(test)]
mod tests;

pub use self::rules::RULES;
use self::rules::{
    ADM_001, ADM_002, APP_001, APP_002, CE_001, CE_002, DIR_001, DIR_002, DIR_003, MAL_001, PE_001,
    PE_002, PUB_001, PUB_002, RD_001, RD_002, UNA_001, UNK_001,
};

/// The member of anonymous access (see `extract::azure`).
const ALL_USERS: &str = "allUsers";
const PUBLIC_BLOB: &str = "storage:publicAccess/blob";
const PUBLIC_CONTAINER: &str = "storage:publicAccess/container";
const ALLOW_PUBLIC: &str = "storage:allowBlobPublicAccess";
/// The role of a group membership (see `extract::azure`).
const GROUP_MEMBER: &str = "group:member";
/// The role of an assignment of a definition created alongside (see `extract::azure`).
const ROLE_DEFINITION_OF: &str = "<unknown until apply> role definition of ";

const ASSIGN: &str = "microsoft.authorization/roleassignments/write";
const DEFINE: &str = "microsoft.authorization/roledefinitions/write";
const ELEVATE: &str = "microsoft.authorization/elevateaccess/action";
/// Actions that stand for "every resource of every provider": a role allowing them all (an
/// unknown provider's action included) manages everything.
const EVERYTHING: &[&str] = &[
    "microsoft.compute/virtualmachines/write",
    "microsoft.compute/virtualmachines/runcommand/action",
    "microsoft.keyvault/vaults/write",
    "microsoft.storage/storageaccounts/listkeys/action",
    "microsoft.web/sites/write",
    "microsoft.resources/deployments/write",
    "microsoft.iamgate/any/action",
];

/// Runs the family over one state.
pub fn check(state: &IamState, _ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    super::report_unreadable(state, Cloud::Azure, &MAL_001, out);
    let defs: BTreeMap<&str, &RoleDef> = state
        .role_defs
        .iter()
        .filter(|d| d.value.cloud == Cloud::Azure)
        .map(|d| (d.value.id.as_str(), &d.value))
        .collect();
    let by_urn: BTreeMap<&str, &RoleDef> = state
        .role_defs
        .iter()
        .filter(|d| d.value.cloud == Cloud::Azure)
        .map(|d| (d.urn.as_str(), &d.value))
        .collect();
    for def in state
        .role_defs
        .iter()
        .filter(|d| d.value.cloud == Cloud::Azure)
    {
        check_definition(def, out);
    }
    for c in state
        .credentials
        .iter()
        .filter(|c| c.value.cloud == Cloud::Azure)
    {
        let federated = c.value.kind.starts_with("federated");
        let rule = if federated { &CE_002 } else { &CE_001 };
        let message = if federated {
            format!(
                "A {} lets the external identity sign in as `{}`, with every role and permission it holds.",
                c.value.kind, c.value.owner
            )
        } else {
            format!(
                "A long-lived {} is created for `{}`: whoever holds it signs in as it, with every role and permission it holds.",
                c.value.kind, c.value.owner
            )
        };
        out.push(super::credential_finding(c, rule, rule.severity, message));
    }

    // Group membership: whoever is in a group holds what is granted to it.
    let mut members_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for b in state
        .bindings
        .iter()
        .filter(|b| b.value.cloud == Cloud::Azure && b.value.role == GROUP_MEMBER)
    {
        if let Some(group) = b.value.scope.strip_prefix("group/") {
            members_of
                .entry(group)
                .or_default()
                .push(b.value.member.as_str());
        }
    }
    let mut principals: BTreeMap<&str, Vec<Grant<'_>>> = BTreeMap::new();
    for b in state
        .bindings
        .iter()
        .filter(|b| b.value.cloud == Cloud::Azure)
    {
        let binding = &b.value;
        if binding.role == GROUP_MEMBER {
            // Read with the group's grants. A group or member unknown until apply adds nothing
            // the group's own assignments do not show (and report as unknown).
            continue;
        }
        // A definition of this deployment whose id is not known yet, named by its URN.
        let alongside = binding
            .role
            .strip_prefix(ROLE_DEFINITION_OF)
            .and_then(|urn| by_urn.get(urn).copied());
        if [&binding.scope, &binding.member]
            .iter()
            .any(|t| t.contains(UNKNOWN_TEXT))
            || (alongside.is_none() && binding.role.contains(UNKNOWN_TEXT))
        {
            out.push(finding(
                b,
                &UNK_001,
                UNK_001.severity,
                format!(
                    "The grant of `{}` to `{}` at `{}` names a role, principal or scope that is unknown until apply: what it grants, and to whom, cannot be checked.",
                    binding.role, binding.member, binding.scope
                ),
            ));
            continue;
        }
        if binding.member == ALL_USERS {
            check_public(b, out);
            continue;
        }
        if let Some(template) = binding.role.strip_prefix("directoryRole/") {
            for (holder, through) in holders(&binding.member, &members_of) {
                check_directory_role(b, template, holder, through, out);
            }
            continue;
        }
        if let Some(app_role) = binding.role.strip_prefix("appRole/") {
            check_app_role(b, app_role, out);
            continue;
        }
        let resolved = match alongside {
            Some(def) => Some((
                format!("custom role {}", def.id),
                def.permissions.as_slice(),
                def.not_permissions.as_slice(),
            )),
            None => resolve(&binding.role, &defs),
        };
        let Some((name, permissions, not_permissions)) = resolved else {
            out.push(finding(
                b,
                &UNA_001,
                UNA_001.severity,
                format!(
                    "`{}` is assigned role `{}` at `{}`, a role definition that is not defined in this stack and is not a built-in role iamgate knows: what it grants is not analyzed.",
                    binding.member, binding.role, binding.scope
                ),
            ));
            continue;
        };
        if permissions
            .iter()
            .chain(not_permissions)
            .any(|p| p.contains(UNKNOWN_TEXT))
        {
            out.push(finding(
                b,
                &UNK_001,
                UNK_001.severity,
                format!(
                    "`{}` is assigned role `{name}` at `{}`, whose actions are unknown until apply.",
                    binding.member, binding.scope
                ),
            ));
            continue;
        }
        let conditioned = binding
            .condition
            .as_deref()
            .is_some_and(|c| !c.contains(UNKNOWN_TEXT));
        for (holder, through) in holders(&binding.member, &members_of) {
            let role = match through {
                Some(group) => format!("{name} (through group {group})"),
                None => name.clone(),
            };
            let grants = principals.entry(holder).or_default();
            for capability in capabilities(permissions, not_permissions) {
                grants.push(Grant {
                    capability,
                    scope: &binding.scope,
                    conditioned,
                    urn: &b.urn,
                    role: role.clone(),
                });
            }
        }
    }
    for (member, grants) in &principals {
        check_principal(member, grants, out);
    }
}

/// Who holds a grant to `member`: the member itself, and the members of the group it is (with
/// nested groups, to a bounded depth), each with the group it holds the grant through.
fn holders<'a>(
    member: &'a str,
    members_of: &BTreeMap<&'a str, Vec<&'a str>>,
) -> Vec<(&'a str, Option<&'a str>)> {
    const MAX_DEPTH: usize = 8;
    let mut out = vec![(member, None)];
    let mut seen: BTreeSet<&str> = BTreeSet::from([member]);
    let mut frontier = vec![member];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for group in frontier {
            for &m in members_of.get(group).map(Vec::as_slice).unwrap_or(&[]) {
                if !m.contains(UNKNOWN_TEXT) && seen.insert(m) {
                    out.push((m, Some(group)));
                    next.push(m);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    out
}

/// A role's name for messages and its permissions: a definition of the stack first (it may
/// shadow nothing: custom GUIDs are unique), else a built-in role.
fn resolve<'a>(
    role: &str,
    defs: &BTreeMap<&str, &'a RoleDef>,
) -> Option<(String, &'a [String], &'a [String])> {
    if let Some(def) = defs.get(role) {
        return Some((
            format!("custom role {}", def.id),
            &def.permissions,
            &def.not_permissions,
        ));
    }
    let builtin = azure_roles::builtin(role)?;
    Some((
        builtin.name.to_owned(),
        &builtin.permissions,
        &builtin.not_permissions,
    ))
}

/// A finding about one binding, identified by its principal, role and scope.
fn finding(b: &Sourced<Binding>, rule: &Rule, severity: Severity, message: String) -> Finding {
    Finding {
        rule_id: rule.id,
        category: rule.category,
        severity,
        resource: b.urn.clone(),
        subject: b.value.member.clone(),
        evidence: format!("{} @ {}", b.value.role, b.value.scope),
        message,
        scope: scope_of(&b.value.scope),
        exposure: if b.value.member == ALL_USERS {
            Exposure::Public
        } else {
            Exposure::Internal
        },
        confidence: if b.value.condition.is_some() {
            Confidence::Conditioned
        } else {
            Confidence::Direct
        },
    }
}

/// How wide a scope is: a management group, a subscription, the root or the whole tenant is
/// everything; a resource group or an administrative unit is a container; a resource is pinned.
pub(crate) fn scope_of(scope: &str) -> Scope {
    if let Some(directory) = scope.strip_prefix("directory:") {
        return if directory == "/" {
            Scope::All
        } else if directory.starts_with("/administrativeunits/") {
            Scope::Wildcard
        } else {
            Scope::Pinned
        };
    }
    let segments: Vec<&str> = scope.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [] | ["subscriptions", _] => Scope::All,
        ["providers", "microsoft.management", "managementgroups", _] => Scope::All,
        ["subscriptions", _, "resourcegroups", _] => Scope::Wildcard,
        _ => Scope::Pinned,
    }
}

/// Whether a grant at `outer` applies at `inner` (an ARM scope and its descendants).
fn covers(outer: &str, inner: &str) -> bool {
    outer == "/"
        || outer == inner
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `*` in an Azure action matches any run of characters, `/` included; both sides lowercase.
fn glob(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether a role's control-plane actions, less its not-actions, allow `action`.
fn allows(permissions: &[String], not_permissions: &[String], action: &str) -> bool {
    let control = |p: &&String| !p.starts_with("data:");
    permissions.iter().filter(control).any(|p| glob(p, action))
        && !not_permissions
            .iter()
            .filter(control)
            .any(|p| glob(p, action))
}

/// What a role lets its holder do, as far as these rules judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Capability {
    /// Every action, role assignment included.
    Admin,
    /// Every action but the authorization writes.
    Manage,
    /// Role assignment.
    Assign,
    /// Role definition.
    Define,
}

impl Capability {
    fn key(self) -> &'static str {
        match self {
            Capability::Admin => "every action",
            Capability::Manage => "every resource",
            Capability::Assign => "role assignments",
            Capability::Define => "role definitions",
        }
    }

    /// Whether holding `self` makes a finding of `other` at the same scope redundant.
    fn implies(self, other: Capability) -> bool {
        self == other || self == Capability::Admin
    }
}

fn capabilities(permissions: &[String], not_permissions: &[String]) -> Vec<Capability> {
    let everything = EVERYTHING
        .iter()
        .all(|a| allows(permissions, not_permissions, a));
    let assign = allows(permissions, not_permissions, ASSIGN);
    let mut out = Vec::new();
    if everything && assign {
        out.push(Capability::Admin);
        return out;
    }
    if everything {
        out.push(Capability::Manage);
    }
    if assign {
        out.push(Capability::Assign);
    }
    if allows(permissions, not_permissions, DEFINE) {
        out.push(Capability::Define);
    }
    out
}

/// One capability a principal holds at a scope, through one assignment.
#[derive(Debug, Clone)]
struct Grant<'a> {
    capability: Capability,
    scope: &'a str,
    conditioned: bool,
    urn: &'a str,
    role: String,
}

fn check_principal(member: &str, grants: &[Grant<'_>], out: &mut Vec<Finding>) {
    // Per (capability, scope): unconditioned if any assignment gives it without a condition.
    let mut held: BTreeMap<(Capability, &str), (bool, BTreeSet<&str>, &Grant<'_>)> =
        BTreeMap::new();
    for g in grants {
        let e = held
            .entry((g.capability, g.scope))
            .or_insert((g.conditioned, BTreeSet::new(), g));
        if e.0 && !g.conditioned {
            e.0 = false;
            e.2 = g;
        }
        e.1.insert(g.role.as_str());
    }
    for (&(capability, scope), (conditioned, roles, grant)) in &held {
        // Covered by a wider (or the same) unconditioned grant of this or a stronger capability.
        let covered = held.iter().any(|(&(c, s), (cond, _, _))| {
            (c, s) != (capability, scope) && !cond && c.implies(capability) && covers(s, scope)
        });
        if covered {
            continue;
        }
        let (rule, what) = match capability {
            Capability::Admin => (&ADM_001, "holds every action, role assignment included"),
            Capability::Manage => (
                &ADM_002,
                "can manage every resource (and run code as the managed identities there)",
            ),
            Capability::Assign => (
                &PE_001,
                "can create role assignments, and so grant itself any role",
            ),
            Capability::Define => (
                &PE_002,
                "can write role definitions, and so widen a role it holds",
            ),
        };
        let roles: Vec<&str> = roles.iter().copied().collect();
        out.push(Finding {
            rule_id: rule.id,
            category: rule.category,
            severity: rule.severity,
            resource: grant.urn.to_owned(),
            subject: member.to_owned(),
            evidence: format!("{} @ {scope}", capability.key()),
            message: format!(
                "`{member}` {what} at `{scope}`, through {}{}.",
                roles.join(", "),
                if *conditioned {
                    " (under an ABAC condition)"
                } else {
                    ""
                }
            ),
            scope: scope_of(scope),
            exposure: Exposure::Internal,
            confidence: if *conditioned {
                Confidence::Conditioned
            } else {
                Confidence::Direct
            },
        });
    }
}

fn check_definition(def: &Sourced<RoleDef>, out: &mut Vec<Finding>) {
    let d = &def.value;
    if d.permissions
        .iter()
        .chain(&d.not_permissions)
        .any(|p| p.contains(UNKNOWN_TEXT))
    {
        return; // Reported on the assignments that use it (AZURE-UNK-001).
    }
    let widest = d
        .assignable_scopes
        .iter()
        .map(|s| scope_of(s))
        .min()
        .unwrap_or(Scope::All);
    let scopes = if d.assignable_scopes.is_empty() {
        "its scope".to_owned()
    } else {
        d.assignable_scopes.join(", ")
    };
    let mut emit = |rule: &Rule, evidence: String, message: String| {
        out.push(Finding {
            rule_id: rule.id,
            category: rule.category,
            severity: rule.severity,
            resource: def.urn.clone(),
            subject: format!("roleDefinition/{}", d.id),
            evidence,
            message,
            scope: widest,
            exposure: Exposure::Internal,
            confidence: Confidence::Lint,
        });
    };
    let star = d
        .permissions
        .iter()
        .filter(|p| !p.starts_with("data:"))
        .any(|p| glob(p, "microsoft.iamgate/any/action") && glob(p, EVERYTHING[0]));
    if star {
        emit(
            &RD_001,
            "*".to_owned(),
            format!(
                "Custom role `{}` allows every action (`*`), assignable at {scopes}.",
                d.id
            ),
        );
    }
    let writes: Vec<&str> = [ASSIGN, DEFINE, ELEVATE]
        .into_iter()
        .filter(|a| allows(&d.permissions, &d.not_permissions, a))
        .collect();
    if !writes.is_empty() {
        emit(
            &RD_002,
            writes.join(" "),
            format!(
                "Custom role `{}` allows {}, assignable at {scopes}: whoever holds it manages access.",
                d.id,
                writes
                    .iter()
                    .map(|w| format!("`{w}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

fn check_public(b: &Sourced<Binding>, out: &mut Vec<Finding>) {
    let (rule, severity, what) = match b.value.role.as_str() {
        PUBLIC_CONTAINER => (
            &PUB_001,
            Severity::Critical,
            "can be listed and read by anyone on the internet",
        ),
        PUBLIC_BLOB => (
            &PUB_001,
            Severity::High,
            "has blobs that anyone on the internet can read by name",
        ),
        ALLOW_PUBLIC => (
            &PUB_002,
            PUB_002.severity,
            "lets its containers be made readable by anyone",
        ),
        _ => return,
    };
    let mut f = finding(b, rule, severity, format!("`{}` {what}.", b.value.scope));
    f.scope = Scope::Pinned;
    out.push(f);
}

fn check_directory_role(
    b: &Sourced<Binding>,
    template: &str,
    holder: &str,
    through: Option<&str>,
    out: &mut Vec<Finding>,
) {
    let Some(role) = azure_roles::directory_role(template) else {
        if through.is_some() {
            return; // Reported once, on the group.
        }
        out.push(finding(
            b,
            &UNA_001,
            Severity::Low,
            format!(
                "`{}` is assigned the Entra ID role `{template}` at `{}`, which is not one of the privileged roles iamgate knows: review what it allows.",
                b.value.member, b.value.scope
            ),
        ));
        return;
    };
    let (rule, what) = match role.path {
        Path::Admin => (&DIR_001, "administers the tenant"),
        Path::Direct => (&DIR_002, "is one step from Global Administrator"),
        Path::Indirect => (&DIR_003, "has a known path to Global Administrator"),
    };
    let via = through.map_or_else(String::new, |g| format!(" through group `{g}`"));
    let mut f = finding(
        b,
        rule,
        rule.severity,
        format!(
            "`{holder}` is made {}{via} (at `{}`): it {what}, as it {}.",
            role.name, b.value.scope, role.how
        ),
    );
    f.subject = holder.to_owned();
    f.evidence = format!("{} @ {}", role.name, b.value.scope);
    out.push(f);
}

fn check_app_role(b: &Sourced<Binding>, app_role: &str, out: &mut Vec<Finding>) {
    // App roles of other APIs are those APIs' own authorization, not the tenant's.
    let Some(permission) = azure_roles::graph_permission(app_role) else {
        return;
    };
    let rule = match permission.path {
        Path::Admin | Path::Direct => &APP_001,
        Path::Indirect => &APP_002,
    };
    let mut f = finding(
        b,
        rule,
        rule.severity,
        format!(
            "`{}` is granted the Microsoft Graph application permission {}: it {}.",
            b.value.member, permission.name, permission.how
        ),
    );
    // The permission, not the resource service principal's object id, names the risk.
    f.evidence = permission.name.to_owned();
    f.scope = Scope::All;
    f.exposure = Exposure::Service;
    out.push(f);
}
