//! Rules: Google Cloud, over the state's `bindings`, `role_defs` and `credentials` of that cloud
//! (see `iam::grants` and `extract::gcp` for the spellings).
//!
//! Roles are judged on their permissions: predefined roles from the embedded table
//! (`iam::gcp_roles`), custom roles from their definition in the stack. Each member is judged
//! on everything bound to it, combined (an escalation path split across two bindings, say
//! Cloud Run Admin on the project and Service Account User on an account, is one path). A
//! capability is reported once per member and scope; the finding's identity is the member, the
//! capability and the scope (or, for grants judged one by one, the role and the scope), never
//! the resource or form that carried it, so moving a grant between `IAMPolicy`, `IAMBinding`
//! and `IAMMember` is not new risk.
//!
//! Levels: an organization, folder or project grant is `Scope::All` (it reaches every resource
//! below); a grant on one resource (a bucket, a service account, a secret) is `Scope::Pinned`.
//!
//! Conditions: a binding with an IAM condition is `Confidence::Conditioned` (one band lower),
//! unless the condition clearly does not limit it: an empty expression, `true` (alone or as one
//! alternative of an `||`), or only a start time (`request.time > timestamp(...)`, which never
//! ends). Every other expression is taken as limiting (an end time, a resource name prefix, a
//! tag, an access level): iamgate does not evaluate CEL. A condition unknown until apply is
//! reported (GCP-UNK-001) and the grant judged as unconditional. Where a capability is held both
//! with and without a condition at a scope, the unconditional grant is the one reported.
//!
//! What is trusted: the roles of the table and of the stack. A role in neither is `unanalyzed`
//! (GCP-UNA-001), never harmless; unknown values are `unknown-value` (GCP-UNK-001), judged on
//! what is known; unreadable policies are `malformed` (GCP-MAL-001). `deleted:` members hold
//! nothing (Google Cloud keeps them only as a record) and are not judged.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::engine::iam::gcp_roles;
use crate::engine::iam::grants::{Binding, RoleDef};
use crate::engine::iam::policy::UNKNOWN_TEXT;
use crate::engine::iam::unmodeled::Cloud;
use crate::engine::iam::{IamState, Sourced};
use crate::engine::risk::{
    Confidence, EvalCtx, Exposure, Finding, RiskConfig, Rule, Scope, Severity,
};

mod rules;
#[cfg(test)]
mod tests;

pub use self::rules::RULES;
use self::rules::{
    ADM_001, ADM_002, CE_001, DE_001, MAL_001, PE_001, PE_002, PE_003, PE_004, PE_005, PE_006,
    PE_007, PM_001, PUB_001, UNA_001, UNK_001, XA_001,
};

/// Runs the family over one state.
pub fn check(state: &IamState, ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    let start = out.len();
    super::report_unreadable(state, Cloud::Gcp, &MAL_001, out);
    let roles = Roles::of(state);
    let home = home_projects(state);
    for def in state
        .role_defs
        .iter()
        .filter(|d| d.value.cloud == Cloud::Gcp)
    {
        if def
            .value
            .permissions
            .iter()
            .any(|p| p.contains(UNKNOWN_TEXT))
        {
            out.push(Finding {
                rule_id: UNK_001.id,
                category: UNK_001.category,
                severity: UNK_001.severity,
                resource: def.urn.clone(),
                subject: def.value.id.clone(),
                evidence: "custom role".to_owned(),
                message: format!(
                    "The custom role `{}` has permissions unknown until apply: what it grants cannot be checked.",
                    def.value.id
                ),
                scope: Scope::All,
                exposure: Exposure::Internal,
                confidence: Confidence::Direct,
            });
        }
    }
    for c in state
        .credentials
        .iter()
        .filter(|c| c.value.cloud == Cloud::Gcp)
    {
        let uploaded = c.value.kind.contains("uploaded");
        let (severity, message) = if uploaded {
            (
                Severity::Medium,
                format!(
                    "A {} is created for `{}`: the private key stays with whoever generated it, but it is long-lived.",
                    c.value.kind, c.value.owner
                ),
            )
        } else {
            (
                CE_001.severity,
                format!(
                    "A long-lived {} is created for `{}`: its secret is stored in the stack's state, and whoever reads it acts as the account.",
                    c.value.kind, c.value.owner
                ),
            )
        };
        out.push(super::credential_finding(c, &CE_001, severity, message));
    }

    // Everything bound to each member, combined. Members unknown until apply are judged one
    // binding at a time (two unknown members are not one member).
    let mut members: BTreeMap<(String, usize), Vec<Grant<'_>>> = BTreeMap::new();
    for (i, orig) in state
        .bindings
        .iter()
        .enumerate()
        .filter(|(_, b)| b.value.cloud == Cloud::Gcp)
    {
        if orig.value.member.starts_with("deleted:") {
            continue;
        }
        // A role unknown until apply that comes from a custom role of the stack is that role.
        let role: &str = roles.resolve(&orig.value.role);
        let resolved;
        let b = if role == orig.value.role {
            orig
        } else {
            resolved = Sourced {
                value: Binding {
                    role: role.to_owned(),
                    ..orig.value.clone()
                },
                ..orig.clone()
            };
            &resolved
        };
        let binding = &b.value;
        let from_def = role != orig.value.role;
        let unknown: Vec<&str> = [
            ("role", if from_def { "" } else { binding.role.as_str() }),
            ("member", binding.member.as_str()),
            ("resource", binding.scope.as_str()),
            (
                "condition",
                binding.condition.as_deref().unwrap_or_default(),
            ),
        ]
        .into_iter()
        .filter(|(_, v)| v.contains(UNKNOWN_TEXT))
        .map(|(k, _)| k)
        .collect();
        if !unknown.is_empty() {
            out.push(binding_finding(
                b,
                &UNK_001,
                UNK_001.severity,
                Confidence::Direct,
                format!(
                    "The grant of `{}` to `{}` on `{}` has a {} unknown until apply: it cannot be checked in full.",
                    binding.role,
                    binding.member,
                    binding.scope,
                    unknown.join(", ")
                ),
                ctx.config,
                &home,
            ));
        }
        if !from_def && binding.role.contains(UNKNOWN_TEXT) {
            if is_public(&binding.member) {
                out.push(binding_finding(
                    b,
                    &PUB_001,
                    PUB_001.severity,
                    Confidence::Direct,
                    format!(
                        "`{}` is granted a role unknown until apply on `{}`: everyone it stands for may get anything.",
                        binding.member, binding.scope
                    ),
                    ctx.config,
                    &home,
                ));
            }
            continue;
        }
        let Some(perms) = roles.of_role(role) else {
            out.push(binding_finding(
                b,
                &UNA_001,
                UNA_001.severity,
                Confidence::Direct,
                format!(
                    "`{}` is granted `{}` on `{}`, a role that is neither a predefined role iamgate knows nor a custom role of this stack: what it grants is not analyzed.",
                    binding.member, binding.role, binding.scope
                ),
                ctx.config,
                &home,
            ));
            // Who receives it is known: a role that may grant anything, given to everyone or
            // to an outsider, is judged as the worst it could be.
            let confidence = if is_limiting(binding.condition.as_deref()) {
                Confidence::Conditioned
            } else {
                Confidence::Direct
            };
            if is_public(&binding.member) {
                out.push(binding_finding(
                    b,
                    &PUB_001,
                    PUB_001.severity,
                    confidence,
                    format!(
                        "`{}` is granted `{}` on `{}`, a role iamgate cannot see: everyone it stands for may get anything.",
                        binding.member, binding.role, binding.scope
                    ),
                    ctx.config,
                    &home,
                ));
            } else if is_external(&binding.member, ctx.config, &home) {
                out.push(binding_finding(
                    b,
                    &XA_001,
                    XA_001.severity,
                    confidence,
                    format!(
                        "`{}` is granted `{}` on `{}`, a role iamgate cannot see, and is outside the trusted domains (`risk.trusted_domains`).",
                        binding.member, binding.role, binding.scope
                    ),
                    ctx.config,
                    &home,
                ));
            }
            continue;
        };
        let conditioned = is_limiting(binding.condition.as_deref());
        let confidence = if conditioned {
            Confidence::Conditioned
        } else {
            Confidence::Direct
        };
        if is_public(&binding.member) {
            let (severity, what) = public_severity(&binding.role, &perms);
            out.push(binding_finding(
                b,
                &PUB_001,
                severity,
                confidence,
                format!(
                    "`{}` is granted `{}` on `{}`: everyone it stands for {what}.",
                    binding.member, binding.role, binding.scope
                ),
                ctx.config,
                &home,
            ));
        } else if is_external(&binding.member, ctx.config, &home) {
            let severity = if writes(&binding.role, &perms) {
                XA_001.severity
            } else {
                Severity::Medium
            };
            out.push(binding_finding(
                b,
                &XA_001,
                severity,
                confidence,
                format!(
                    "`{}` is granted `{}` on `{}`, and is outside the trusted domains (`risk.trusted_domains`).",
                    binding.member, binding.role, binding.scope
                ),
                ctx.config,
                &home,
            ));
        }
        // A new service account of the stack (`serviceAccount:<unknown> from <urn>`) is one
        // member; any other unknown member is judged alone.
        let key = if binding.member.contains(UNKNOWN_TEXT) && !binding.member.contains(" from urn:")
        {
            (binding.member.clone(), i + 1)
        } else {
            (binding.member.clone(), 0)
        };
        members.entry(key).or_default().push(Grant {
            scope: &orig.value.scope,
            level: Level::of(&orig.value.scope),
            role,
            perms,
            conditioned,
            urn: &orig.urn,
        });
    }
    let members_from = out.len();
    for ((member, _), grants) in &members {
        check_member(member, grants, &roles, ctx.config, &home, out);
    }
    // Service accounts that are administrators (Owner, or can set a container's IAM policy).
    let admins: BTreeSet<String> = out[members_from..]
        .iter()
        .filter(|f| {
            (f.rule_id == ADM_001.id || f.rule_id == PE_001.id)
                && f.confidence == Confidence::Direct
                && f.subject.starts_with("serviceAccount:")
        })
        .map(|f| f.subject.clone())
        .collect();
    if !admins.is_empty() {
        for ((member, _), grants) in &members {
            check_takeover(member, grants, &admins, ctx.config, &home, out);
        }
    }
    dedup(out, start);
}

/// GCP-PE-007: `member` can obtain the credentials of (or run code as) a service account that
/// is itself an administrator: one hop more than GCP-PE-002/003, to what the account holds.
fn check_takeover(
    member: &str,
    grants: &[Grant<'_>],
    admins: &BTreeSet<String>,
    config: &RiskConfig,
    home: &BTreeSet<String>,
    out: &mut Vec<Finding>,
) {
    let deploys = grants
        .iter()
        .any(|g| g.level.is_container() && DEPLOY.iter().any(|p| g.perms.has(p)));
    let mut paths: Vec<(&Grant<'_>, &str)> = Vec::new();
    // Owner is reported as such (GCP-ADM-001), with all it reaches.
    for g in grants.iter().filter(|g| g.role != "roles/owner") {
        if let Some(p) = IMPERSONATE.iter().find(|p| g.perms.has(p)) {
            paths.push((g, p));
        } else if deploys && g.perms.has(ACT_AS[0]) {
            paths.push((g, ACT_AS[0]));
        }
    }
    // One finding per (member, account), from the unconditional path when there is one.
    let mut best: BTreeMap<&str, (&Grant<'_>, &str)> = BTreeMap::new();
    for (g, via) in paths {
        for admin in admins {
            let email = admin.trim_start_matches("serviceAccount:");
            if admin == member || !reaches(g, email) {
                continue;
            }
            match best.get(admin.as_str()) {
                Some((h, _)) if !h.conditioned || g.conditioned => {}
                _ => {
                    best.insert(admin, (g, via));
                }
            }
        }
    }
    for (admin, (g, via)) in best {
        out.push(Finding {
            rule_id: PE_007.id,
            category: PE_007.category,
            severity: PE_007.severity,
            resource: g.urn.to_owned(),
            subject: member.to_owned(),
            evidence: admin.to_owned(),
            message: format!(
                "`{member}` can act as `{admin}` (`{via}` on `{}`, through `{}`), and that account is an administrator: it can become one too.",
                g.scope, g.role
            ),
            scope: Scope::All,
            exposure: exposure_of(member, config, home),
            confidence: if g.conditioned {
                Confidence::Conditioned
            } else {
                Confidence::Direct
            },
        });
    }
}

/// Whether a grant at `g.scope` covers the service account `email`: granted on the account
/// itself, on its project (`<name>@<project>.iam.gserviceaccount.com`), or on a folder or the
/// organization (which may hold its project).
fn reaches(g: &Grant<'_>, email: &str) -> bool {
    match g.level {
        Level::Organization | Level::Folder => true,
        Level::Project => {
            let project = g.scope.trim_start_matches("projects/");
            email
                .rsplit_once('@')
                .is_some_and(|(_, d)| d == format!("{project}.iam.gserviceaccount.com"))
        }
        Level::Resource => g
            .scope
            .strip_prefix("projects/-/serviceAccounts/")
            .is_some_and(|a| a == email),
    }
}

/// Keeps the first of the findings from `start` on with the same identity and severity (the
/// same grant carried by two resources).
fn dedup(out: &mut Vec<Finding>, start: usize) {
    let mut seen = BTreeSet::new();
    let mut i = start;
    while i < out.len() {
        let f = &out[i];
        let key = (
            f.rule_id,
            f.subject.clone(),
            f.evidence.clone(),
            f.severity,
            f.confidence,
        );
        if seen.insert(key) {
            i += 1;
        } else {
            out.remove(i);
        }
    }
}

/// The projects the stack grants on: their service accounts are not outsiders.
fn home_projects(state: &IamState) -> BTreeSet<String> {
    state
        .bindings
        .iter()
        .filter(|b| b.value.cloud == Cloud::Gcp)
        .filter_map(|b| {
            let rest = b.value.scope.strip_prefix("projects/")?;
            let p = rest.split('/').next()?;
            (p != "_" && p != "-" && !p.contains(UNKNOWN_TEXT)).then(|| p.to_ascii_lowercase())
        })
        .collect()
}

/// A finding about one binding.
fn binding_finding(
    b: &Sourced<Binding>,
    rule: &Rule,
    severity: Severity,
    confidence: Confidence,
    message: String,
    config: &RiskConfig,
    home: &BTreeSet<String>,
) -> Finding {
    Finding {
        rule_id: rule.id,
        category: rule.category,
        severity,
        resource: b.urn.clone(),
        subject: b.value.member.clone(),
        evidence: format!("{} @ {}", b.value.role, b.value.scope),
        message,
        scope: Level::of(&b.value.scope).scope(),
        exposure: exposure_of(&b.value.member, config, home),
        confidence,
    }
}

/// Where a grant applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Organization,
    Folder,
    Project,
    Resource,
}

impl Level {
    fn of(scope: &str) -> Level {
        if scope.starts_with("organizations/") {
            Level::Organization
        } else if scope.starts_with("folders/") {
            Level::Folder
        } else if scope
            .strip_prefix("projects/")
            .is_some_and(|rest| !rest.contains('/'))
        {
            Level::Project
        } else {
            Level::Resource
        }
    }

    /// An organization, folder or project: every resource below.
    fn is_container(self) -> bool {
        self != Level::Resource
    }

    fn scope(self) -> Scope {
        if self.is_container() {
            Scope::All
        } else {
            Scope::Pinned
        }
    }
}

/// What a role permits.
#[derive(Debug, Clone, Copy)]
enum Perms<'a> {
    /// A predefined role of the table.
    Predefined(&'a str),
    /// A custom role of the stack.
    Custom(&'a [String]),
}

impl Perms<'_> {
    fn has(&self, permission: &str) -> bool {
        match self {
            Perms::Predefined(role) => gcp_roles::has(role, permission) == Some(true),
            Perms::Custom(ps) => ps.iter().any(|p| p == permission),
        }
    }

    fn any(&self, f: impl Fn(&str) -> bool) -> bool {
        match self {
            Perms::Predefined(role) => gcp_roles::permissions(role).is_some_and(|mut ps| ps.any(f)),
            Perms::Custom(ps) => ps.iter().any(|p| f(p)),
        }
    }

    fn all(&self, f: impl Fn(&str) -> bool) -> bool {
        match self {
            Perms::Predefined(role) => gcp_roles::permissions(role).is_some_and(|mut ps| ps.all(f)),
            Perms::Custom(ps) => ps.iter().all(|p| f(p)),
        }
    }
}

/// The custom roles of the state, by id.
struct Roles<'a> {
    custom: HashMap<&'a str, &'a RoleDef>,
    /// The custom roles' ids by the URN of the resource that defines them.
    by_urn: HashMap<&'a str, &'a str>,
}

/// How the reader ties a role unknown until apply to the custom role resource it depends on.
const ROLE_FROM: &str = " from ";

impl<'a> Roles<'a> {
    fn of(state: &'a IamState) -> Roles<'a> {
        let custom = state
            .role_defs
            .iter()
            .filter(|d| d.value.cloud == Cloud::Gcp)
            .map(|d| (d.value.id.as_str(), &d.value))
            .collect();
        let by_urn = state
            .role_defs
            .iter()
            .filter(|d| d.value.cloud == Cloud::Gcp)
            .map(|d| (d.urn.as_str(), d.value.id.as_str()))
            .collect();
        Roles { custom, by_urn }
    }

    /// The role a binding names: a role unknown until apply that the reader tied to the custom
    /// role resource it comes from (`<unknown until apply> from <urn>`, see `extract::gcp`) is
    /// that role's id when the state defines it; any other role is itself.
    fn resolve(&self, role: &'a str) -> &'a str {
        let Some(urn) = role
            .strip_prefix(UNKNOWN_TEXT)
            .and_then(|r| r.strip_prefix(ROLE_FROM))
        else {
            return role;
        };
        self.by_urn.get(urn).copied().unwrap_or(role)
    }

    /// What `role` permits: a predefined role of the table, or a custom role of the state (by
    /// id; a custom role defined without a project, `projects/_/roles/<id>`, matches a binding
    /// that names any project's `<id>` when it is the only one of that id).
    fn of_role(&self, role: &'a str) -> Option<Perms<'a>> {
        if let Some(def) = self.custom.get(role) {
            return Some(Perms::Custom(&def.permissions));
        }
        if role.starts_with("roles/") {
            return gcp_roles::stage(role).map(|_| Perms::Predefined(role));
        }
        let (_, id) = role.rsplit_once("/roles/")?;
        let mut candidates = self
            .custom
            .iter()
            .filter(|(k, _)| k.starts_with("projects/_/") && k.ends_with(&format!("/roles/{id}")));
        match (candidates.next(), candidates.next()) {
            (Some((_, def)), None) if role.starts_with("projects/") => {
                Some(Perms::Custom(&def.permissions))
            }
            _ => None,
        }
    }

    /// Whether `member` holds a custom role defined under `container` (`projects/p`).
    fn holds_custom_under(&self, grants: &[Grant<'_>], container: &str) -> bool {
        grants.iter().any(|g| {
            g.role.starts_with(&format!("{container}/roles/")) && self.custom.contains_key(g.role)
        })
    }
}

/// Whether a condition limits the grant (see the module doc).
fn is_limiting(condition: Option<&str>) -> bool {
    let Some(c) = condition else {
        return false;
    };
    if c.contains(UNKNOWN_TEXT) {
        return false;
    }
    let compact: String = c.chars().filter(|ch| !ch.is_whitespace()).collect();
    let trivially_true = |e: &str| {
        let e = e.trim_start_matches('(').trim_end_matches(')');
        e == "true" || e == "!false" || e == "1==1"
    };
    // Empty, `true`, or `true` as one alternative of an `||` (`x || true`).
    if compact.is_empty() || compact.split("||").any(trivially_true) {
        return false;
    }
    // Only a start time: `request.time > timestamp("...")` (or `>=`), nothing else.
    if let Some(rest) = compact
        .strip_prefix("request.time>=timestamp(")
        .or_else(|| compact.strip_prefix("request.time>timestamp("))
    {
        let inner = rest.strip_suffix(')').unwrap_or(rest);
        if !inner.contains(['&', '|', '(', ')']) {
            return false;
        }
    }
    true
}

fn is_public(member: &str) -> bool {
    member == "allUsers" || member == "allAuthenticatedUsers"
}

/// Email domains of consumer accounts: outside any organization, whatever is trusted.
const CONSUMER_DOMAINS: &[&str] = &["gmail.com", "googlemail.com"];

/// Whether `member` is outside the trusted domains (see GCP-XA-001).
fn is_external(member: &str, config: &RiskConfig, home: &BTreeSet<String>) -> bool {
    let trusted = |domain: &str| {
        config
            .trusted_domains
            .iter()
            .any(|t| domain == t || domain.ends_with(&format!(".{t}")))
    };
    let (kind, rest) = match member.split_once(':') {
        Some(parts) => parts,
        None => return false,
    };
    let domain = match kind {
        "user" | "group" => match rest.rsplit_once('@') {
            Some((_, d)) => d,
            None => return false,
        },
        "domain" => rest,
        "serviceAccount" => {
            let Some((_, d)) = rest.rsplit_once('@') else {
                return false;
            };
            // User-managed accounts (`name@project.iam.gserviceaccount.com`); Google's service
            // agents (`service-1@gcp-sa-x.iam...`, `@cloudbuild.gserviceaccount.com`) are not.
            let Some(project) = d.strip_suffix(".iam.gserviceaccount.com") else {
                return false;
            };
            if project.starts_with("gcp-sa-") || config.trusted_domains.is_empty() {
                return false;
            }
            return !home.contains(project) && !trusted(d);
        }
        _ => return false,
    };
    if domain.contains(UNKNOWN_TEXT) {
        return false;
    }
    if CONSUMER_DOMAINS.contains(&domain) {
        return true;
    }
    !config.trusted_domains.is_empty() && !trusted(domain)
}

fn exposure_of(member: &str, config: &RiskConfig, home: &BTreeSet<String>) -> Exposure {
    if is_public(member) {
        Exposure::Public
    } else if is_external(member, config, home) {
        Exposure::External
    } else if member.starts_with("serviceAccount:")
        || member.starts_with("principal://")
        || member.starts_with("principalSet://")
    {
        Exposure::Service
    } else {
        Exposure::Internal
    }
}

/// Permissions that only call a service (a public Cloud Run service or function is how they
/// are served).
const INVOKE: &[&str] = &[
    "run.routes.invoke",
    "run.instances.invoke",
    "run.jobs.run",
    "cloudfunctions.functions.invoke",
    "iap.webServiceVersions.accessViaIAP",
];

/// Permissions that read data (not only metadata).
const DATA_READ: &[&str] = &[
    "storage.objects.get",
    "storage.objects.list",
    "bigquery.tables.getData",
    "bigquery.tables.export",
    "secretmanager.versions.access",
    "pubsub.subscriptions.consume",
    "cloudkms.cryptoKeyVersions.useToDecrypt",
    "spanner.databases.read",
    "spanner.databases.select",
    "datastore.entities.get",
    "bigtable.tables.readRows",
    "artifactregistry.repositories.downloadArtifacts",
    "logging.logEntries.list",
    "logging.privateLogEntries.list",
    "cloudsql.instances.connect",
    "source.repos.get",
];

/// Verbs that change something.
const WRITE_VERBS: &[&str] = &[
    "create", "update", "delete", "set", "patch", "insert", "upload", "undelete", "publish",
    "deploy", "import", "write", "put", "destroy", "actAs", "add", "remove", "move", "restore",
    "rollback", "start", "stop", "reset", "resize", "enable", "disable", "override", "approve",
];

/// Resources whose `create` only serves reading (query sessions, access reviews, BigQuery
/// query jobs): Google puts them in its viewer roles.
const READ_HELPERS: &[&str] = &[
    "bigquery.jobs",
    "bigquery.readsessions",
    "spanner.sessions",
    "container.selfSubjectAccessReviews",
    "container.selfSubjectRulesReviews",
    "container.tokenReviews",
    "cloudtrace.tasks",
];

/// Whether a permission changes something.
fn is_write(permission: &str) -> bool {
    let Some((resource, verb)) = permission.rsplit_once('.') else {
        return true;
    };
    WRITE_VERBS.iter().any(|w| verb.starts_with(w))
        && !verb.ends_with("ReadOnly")
        && !READ_HELPERS.contains(&resource)
}

/// Whether a role writes: a predefined viewer, reader or browser role never does (Google
/// defines them read-only); any other role by its permissions.
fn writes(role: &str, perms: &Perms<'_>) -> bool {
    if let Some(name) = role.strip_prefix("roles/") {
        let last = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
        if ["viewer", "reader", "browser"]
            .iter()
            .any(|r| last.ends_with(r))
        {
            return false;
        }
    }
    perms.any(is_write)
}

/// The severity of a grant to everyone, and what it gives them.
fn public_severity(role: &str, perms: &Perms<'_>) -> (Severity, &'static str) {
    if writes(role, perms) {
        (
            Severity::Critical,
            "can change or delete what the role covers",
        )
    } else if perms.any(|p| DATA_READ.contains(&p)) {
        (Severity::Critical, "can read the data the role covers")
    } else if perms.all(|p| INVOKE.contains(&p)) {
        (Severity::Low, "can invoke it")
    } else {
        (Severity::Medium, "can read metadata")
    }
}

/// A role bound to a member.
#[derive(Debug, Clone)]
struct Grant<'a> {
    scope: &'a str,
    level: Level,
    role: &'a str,
    perms: Perms<'a>,
    conditioned: bool,
    urn: &'a str,
}

/// The grant that gives a capability at one scope: unconditional ones first.
#[derive(Debug, Clone)]
struct Hit<'a, 'g> {
    grant: &'g Grant<'a>,
    /// The permission (or role) that gives it.
    via: String,
}

/// The grants that give any of `permissions` at a level `levels` accepts, one per scope,
/// unconditional ones preferred.
fn hits<'a, 'g>(
    grants: &'g [Grant<'a>],
    permissions: &[&str],
    levels: impl Fn(Level) -> bool,
) -> Vec<Hit<'a, 'g>> {
    let mut best: BTreeMap<&str, Hit<'a, 'g>> = BTreeMap::new();
    for g in grants.iter().filter(|g| levels(g.level)) {
        let Some(p) = permissions.iter().find(|p| g.perms.has(p)) else {
            continue;
        };
        let hit = Hit {
            grant: g,
            via: (*p).to_owned(),
        };
        match best.get(g.scope) {
            Some(h) if !h.grant.conditioned || g.conditioned => {}
            _ => {
                best.insert(g.scope, hit);
            }
        }
    }
    best.into_values().collect()
}

const SET_CONTAINER_POLICY: &[&str] = &[
    "resourcemanager.organizations.setIamPolicy",
    "resourcemanager.folders.setIamPolicy",
    "resourcemanager.projects.setIamPolicy",
];
const IMPERSONATE: &[&str] = &[
    "iam.serviceAccounts.getAccessToken",
    "iam.serviceAccounts.signBlob",
    "iam.serviceAccounts.signJwt",
    "iam.serviceAccounts.implicitDelegation",
    "iam.serviceAccountKeys.create",
    "iam.serviceAccounts.setIamPolicy",
];
const ACT_AS: &[&str] = &["iam.serviceAccounts.actAs"];
/// Permissions that deploy code or machines under a chosen service account.
const DEPLOY: &[&str] = &[
    "run.services.create",
    "run.services.update",
    "run.jobs.create",
    "run.jobs.update",
    "cloudfunctions.functions.create",
    "cloudfunctions.functions.update",
    "compute.instances.create",
    "compute.instances.setServiceAccount",
    "cloudbuild.builds.create",
    "composer.environments.create",
    "dataproc.clusters.create",
    "dataflow.jobs.create",
    "cloudscheduler.jobs.create",
    "appengine.versions.create",
    "notebooks.instances.create",
    "aiplatform.customJobs.create",
    "container.clusters.create",
    "deploymentmanager.deployments.create",
];
const SELF_ESCALATE: &[&str] = &[
    "cloudbuild.builds.create",
    "deploymentmanager.deployments.create",
    "compute.projects.setCommonInstanceMetadata",
    "compute.instances.setMetadata",
];
const ROLE_UPDATE: &[&str] = &["iam.roles.update"];
const ORG_POLICY: &[&str] = &["orgpolicy.policy.set"];
const SECRETS: &[&str] = &[
    "secretmanager.versions.access",
    "cloudkms.cryptoKeyVersions.useToDecrypt",
];

/// The scopes where a member is Owner (or Editor), each with whether only under a condition: a
/// capability there is part of that finding, unless the capability is held without the
/// condition the basic role is held with.
#[derive(Debug, Clone, Default)]
struct Cover<'a>(BTreeMap<&'a str, bool>);

impl Cover<'_> {
    fn covers(&self, grant: &Grant<'_>) -> bool {
        self.0
            .get(grant.scope)
            .is_some_and(|&conditioned| !conditioned || grant.conditioned)
    }
}

fn check_member(
    member: &str,
    grants: &[Grant<'_>],
    roles: &Roles<'_>,
    config: &RiskConfig,
    home: &BTreeSet<String>,
    out: &mut Vec<Finding>,
) {
    let exposure = exposure_of(member, config, home);
    let emit = |out: &mut Vec<Finding>,
                rule: &Rule,
                grant: &Grant<'_>,
                severity: Severity,
                partial: bool,
                evidence: String,
                what: String| {
        let confidence = if grant.conditioned {
            Confidence::Conditioned
        } else if partial {
            Confidence::Partial
        } else {
            Confidence::Direct
        };
        let condition = if grant.conditioned {
            " (under an IAM condition)"
        } else {
            ""
        };
        out.push(Finding {
            rule_id: rule.id,
            category: rule.category,
            severity,
            resource: grant.urn.to_owned(),
            subject: member.to_owned(),
            evidence,
            message: format!(
                "`{member}` {what} on `{}`{condition}, through `{}`.",
                grant.scope, grant.role
            ),
            scope: grant.level.scope(),
            exposure,
            confidence,
        });
    };
    let container = |l: Level| l.is_container();

    // Owner and Editor.
    let mut covered = Cover::default();
    let mut edited = Cover::default();
    for (role, rule, set) in [
        ("roles/owner", &ADM_001, &mut covered),
        ("roles/editor", &ADM_002, &mut edited),
    ] {
        let mut best: BTreeMap<&str, &Grant<'_>> = BTreeMap::new();
        for g in grants
            .iter()
            .filter(|g| g.role == role && g.level.is_container())
        {
            match best.get(g.scope) {
                Some(h) if !h.conditioned || g.conditioned => {}
                _ => {
                    best.insert(g.scope, g);
                }
            }
        }
        for (scope, g) in best {
            set.0.insert(scope, g.conditioned);
            let what = if role == "roles/owner" {
                "is Owner"
            } else {
                "is Editor"
            };
            emit(
                out,
                rule,
                g,
                rule.severity,
                false,
                scope.to_owned(),
                what.to_owned(),
            );
        }
    }
    let mut edited_too = edited.clone();
    for (scope, conditioned) in &covered.0 {
        let e = edited_too.0.entry(scope).or_insert(*conditioned);
        *e = *e && *conditioned;
    }

    let single = |out: &mut Vec<Finding>,
                  rule: &Rule,
                  perms: &[&str],
                  levels: &dyn Fn(Level) -> bool,
                  skip: &Cover<'_>,
                  what: &str| {
        for hit in hits(grants, perms, levels) {
            if skip.covers(hit.grant) {
                continue;
            }
            emit(
                out,
                rule,
                hit.grant,
                rule.severity,
                false,
                hit.grant.scope.to_owned(),
                format!("{what} (`{}`)", hit.via),
            );
        }
    };
    single(
        out,
        &PE_001,
        SET_CONTAINER_POLICY,
        &container,
        &covered,
        "can change the IAM policy, and so grant itself Owner,",
    );
    single(
        out,
        &PE_002,
        IMPERSONATE,
        &|_| true,
        &covered,
        "can obtain the credentials of service accounts",
    );

    // actAs with a deploy permission, combined across bindings.
    let act_as = hits(grants, ACT_AS, |_| true);
    if !act_as.is_empty() {
        let act_as_container = act_as
            .iter()
            .any(|h| h.grant.level.is_container() && !h.grant.conditioned);
        let act_as_conditioned = act_as.iter().all(|h| h.grant.conditioned);
        for hit in hits(grants, DEPLOY, container) {
            if edited_too.covers(hit.grant) {
                continue;
            }
            let accounts: Vec<&str> = act_as.iter().map(|h| h.grant.scope).collect();
            let mut grant = hit.grant.clone();
            grant.conditioned = grant.conditioned || act_as_conditioned;
            if !act_as_container {
                // Only some service accounts: the deploy is project-wide, the identity pinned.
                grant.level = Level::Resource;
            }
            emit(
                out,
                &PE_003,
                &grant,
                PE_003.severity,
                false,
                format!(
                    "{} actAs {}",
                    hit.grant.scope,
                    if act_as_container { "*" } else { "named" }
                ),
                format!(
                    "can deploy under a service account (`{}` with `iam.serviceAccounts.actAs` on {})",
                    hit.via,
                    accounts.join(", ")
                ),
            );
        }
    }
    single(
        out,
        &PE_004,
        SELF_ESCALATE,
        &container,
        &edited_too,
        "can run code as a Google-managed identity or reach instances' credentials",
    );
    for hit in hits(grants, ROLE_UPDATE, container) {
        if covered.covers(hit.grant) {
            continue;
        }
        let complete = roles.holds_custom_under(grants, hit.grant.scope);
        emit(
            out,
            &PE_005,
            hit.grant,
            PE_005.severity,
            !complete,
            hit.grant.scope.to_owned(),
            if complete {
                "can add permissions to a custom role it holds".to_owned()
            } else {
                "can change custom roles".to_owned()
            },
        );
    }
    single(
        out,
        &PE_006,
        ORG_POLICY,
        &container,
        &covered,
        "can lift organization policy constraints",
    );

    // setIamPolicy on resources, other than the containers' and service accounts' (above).
    let mut best: BTreeMap<&str, (&Grant<'_>, String)> = BTreeMap::new();
    for g in grants {
        if covered.covers(g) {
            continue;
        }
        let mut found: Option<String> = None;
        let probe = |p: &str| {
            p.ends_with(".setIamPolicy")
                && !SET_CONTAINER_POLICY.contains(&p)
                && !IMPERSONATE.contains(&p)
        };
        match g.perms {
            Perms::Predefined(role) => {
                if let Some(mut ps) = gcp_roles::permissions(role) {
                    found = ps.find(|p| probe(p)).map(str::to_owned);
                }
            }
            Perms::Custom(ps) => found = ps.iter().find(|p| probe(p)).cloned(),
        }
        let Some(p) = found else { continue };
        match best.get(g.scope) {
            Some((h, _)) if !h.conditioned || g.conditioned => {}
            _ => {
                best.insert(g.scope, (g, p));
            }
        }
    }
    for (scope, (g, p)) in best {
        emit(
            out,
            &PM_001,
            g,
            PM_001.severity,
            false,
            scope.to_owned(),
            format!("can change who has access (`{p}`)"),
        );
    }
    single(
        out,
        &DE_001,
        SECRETS,
        &container,
        &covered,
        "can read every secret or decrypt with every key",
    );
}
