//! Rules: privilege escalation (catalog §2.2 AWS-PE-001..031, §2.3 AWS-PE-040..060). A path
//! fires when every core step is allowed to the same subject, across all of its policies, after
//! unconditional Deny subtraction. Severity follows the narrowest scope among the steps:
//! critical on every resource, high on wildcard ARNs or under a condition, medium when pinned.
//! An administrator (AWS-WC-001) gets no path findings: admin is reported once.

use crate::engine::iam::IamState;
use std::sync::OnceLock;

use crate::engine::iam::actions::{ActionId, ActionSet, db};
use crate::engine::iam::model::{Principal, PrincipalKind};
use crate::engine::iam::policy::{Effect, NameSpec};
use crate::engine::risk::conditions;
use crate::engine::risk::effective::index::index;
use crate::engine::risk::effective::{
    Access, Hit, Owner, PASSED_TO_SERVICE, View, describe_access, views,
};
use crate::engine::risk::{EvalCtx, Finding, Scope, Severity};

mod paths;
mod ssm;

pub use self::paths::RULES;
use self::paths::{PATHS, Path};

pub fn check(state: &IamState, ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    check_views(&views(state), ctx, out);
}

/// Runs the family over precomputed views (shared with the other identity families).
pub fn check_views(views: &[View<'_>], _ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    let trusting = trusting_roles(views.iter().filter_map(|v| match v.owner {
        Owner::Principal(p) => Some(p),
        Owner::Policy(_) => None,
    }));
    check_views_with(views, &trusting, out);
}

/// The roles of a state that trust its whole account (the other end of the assume-role paths).
pub fn trusting_in(state: &IamState) -> Vec<TrustingRole<'_>> {
    trusting_roles(state.principals.iter())
}

/// Runs the family over views, with the state's roles that trust the whole account.
pub fn check_views_with(views: &[View<'_>], trusting: &[TrustingRole<'_>], out: &mut Vec<Finding>) {
    let compiled = compiled();
    for v in views.iter().filter(|v| v.admin.is_none()) {
        if v.effective.allowed().0.is_disjoint(&compiled.core.0) {
            continue;
        }
        for (path, ways) in PATHS.iter().zip(&compiled.ways) {
            let Some((steps, access)) = take(v, path, ways) else {
                continue;
            };
            if path.needs_trusting_role {
                check_assume(v, path, &steps, access, trusting, out);
            } else {
                out.push(report(v, path, &steps, access, ""));
            }
        }
    }
}

/// Severity by the narrowest scope among the steps (catalog §2.2).
pub fn severity_for(scope: Scope) -> Severity {
    match scope {
        Scope::All => Severity::Critical,
        Scope::Wildcard => Severity::High,
        Scope::Pinned => Severity::Medium,
    }
}

/// The core actions of each path as ids (names the database lacks are left out: they can
/// never be granted), and all of them together for a quick rejection.
struct Compiled {
    ways: Vec<Vec<Vec<Vec<ActionId>>>>,
    core: ActionSet,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let db = db();
        let mut core = ActionSet::new();
        let ways = PATHS
            .iter()
            .map(|path| {
                path.ways
                    .iter()
                    .map(|way| {
                        way.iter()
                            .map(|alternatives| {
                                let ids: Vec<ActionId> =
                                    alternatives.iter().filter_map(|n| db.lookup(n)).collect();
                                core.union_with(&ids.iter().copied().collect());
                                ids
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Compiled { ways, core }
    })
}

/// The broadest way the subject can take the path: the chosen action per step (the broadest
/// alternative) and the narrowest access among them. None when no way is fully allowed.
fn take(v: &View<'_>, path: &Path, ways: &[Vec<Vec<ActionId>>]) -> Option<(Vec<ActionId>, Access)> {
    let db = db();
    let allowed = v.effective.allowed();
    let mut best: Option<(Vec<ActionId>, Access)> = None;
    'ways: for way in ways {
        if !way
            .iter()
            .all(|alternatives| alternatives.iter().any(|&id| allowed.contains(id)))
        {
            continue;
        }
        let mut steps = Vec::with_capacity(way.len());
        let mut narrowest = Access::from_rank(0);
        for alternatives in way {
            let pick = alternatives
                .iter()
                .filter_map(|&id| step_access(v, path, id).map(|a| (id, a)))
                .min_by_key(|(id, a)| (a.rank(), db.name(*id)));
            match pick {
                Some((id, access)) => {
                    steps.push(id);
                    if access.rank() > narrowest.rank() {
                        narrowest = access;
                    }
                }
                None => continue 'ways,
            }
        }
        if best
            .as_ref()
            .is_none_or(|(_, b)| narrowest.rank() < b.rank())
        {
            best = Some((steps, narrowest));
        }
    }
    best
}

/// The broadest access with which `id` serves as a step of `path`: for `iam:PassRole`, only the
/// grants whose `iam:PassedToService` condition admits one of the path's services; for
/// `ssm:SendCommand` and `ssm:StartSession`, a target and a document that runs commands
/// (`ssm::access`); otherwise the action's broadest access.
fn step_access(v: &View<'_>, path: &Path, id: ActionId) -> Option<Access> {
    if id == index().pass_role {
        pass_role_access(v, path.passes_to)
    } else if let Some(command) = ssm::Command::of(id) {
        ssm::access(v, command)
    } else {
        v.effective.access(id)
    }
}

/// The broadest access of the grants of `iam:PassRole` whose condition lets a role be passed to
/// one of `services` (a service principal such as `ec2.amazonaws.com`, or its China form
/// `ec2.amazonaws.com.cn` when the condition names China forms). `iam:PassedToService` limits which service may receive the role, not
/// who may pass it: with the path's service admitted, the step is as broad as the grant's
/// resources and other conditions make it.
fn pass_role_access(v: &View<'_>, services: &[&str]) -> Option<Access> {
    let pass_role = index().pass_role;
    v.effective
        .grants
        .iter()
        .filter(|g| g.actions.contains(pass_role))
        .filter(|g| {
            let condition = &v.sources[g.source].policy.statements[g.statement].condition;
            // The China partition's form counts when the condition names it.
            let china =
                conditions::values(condition, PASSED_TO_SERVICE).any(|(_, v)| v.ends_with(".cn"));
            services.is_empty()
                || services.iter().any(|s| {
                    conditions::admits(condition, PASSED_TO_SERVICE, s)
                        || (china
                            && conditions::admits(condition, PASSED_TO_SERVICE, &format!("{s}.cn")))
                })
        })
        .map(|g| g.access())
        .min_by_key(|a| a.rank())
}

fn report(v: &View<'_>, path: &Path, steps: &[ActionId], access: Access, extra: &str) -> Finding {
    let db = db();
    let mut names: Vec<&str> = steps.iter().map(|&id| db.name(id)).collect();
    names.sort_unstable();
    names.dedup();
    let decisive: ActionSet = steps.iter().copied().collect();
    let hit = Hit {
        rule: &path.rule,
        severity: severity_for(access.scope),
        evidence: names.join(","),
        message: format!(
            "{} can escalate privileges ({}): it is allowed {} {}{extra}, from {}.",
            v.display(),
            path.rule.title,
            names.join(", "),
            describe_access(access),
            v.origin(&decisive)
        ),
        scope: access.scope,
        confidence: access.confidence(),
    };
    v.report(hit, &decisive)
}

/// A role of the state that any principal of an account may assume: its trust policy allows
/// `sts:AssumeRole` to an account root (or `*`) with no limiting condition.
/// A role that trusts its whole account: any principal allowed `sts:AssumeRole` on it may use it.
#[derive(Debug, Clone, Copy)]
pub struct TrustingRole<'a> {
    role: &'a Principal,
}

fn trusting_roles<'a>(principals: impl Iterator<Item = &'a Principal>) -> Vec<TrustingRole<'a>> {
    principals
        .filter(|p| p.kind == PrincipalKind::Role)
        .filter(|p| trusts_whole_account(p))
        .map(|role| TrustingRole { role })
        .collect()
}

fn trusts_whole_account(role: &Principal) -> bool {
    let Some(trust) = role.trust.as_ref().and_then(|t| t.value.known()) else {
        return false;
    };
    trust.statements.iter().any(|s| {
        s.effect == Effect::Allow
            && !conditions::is_limiting(&s.condition)
            && names_assume_role(&s.action)
            && s.principal.as_ref().is_some_and(|p| {
                !p.negated
                    && p.values("AWS")
                        .any(|value| value == "*" || is_account_root(value))
            })
    })
}

fn names_assume_role(spec: &NameSpec) -> bool {
    match spec {
        NameSpec::Only(names) => names.iter().any(|n| glob(n, "sts:AssumeRole")),
        NameSpec::Not(names) => !names.iter().any(|n| glob(n, "sts:AssumeRole")),
    }
}

/// `arn:aws:iam::<12 digits>:root`, in any partition.
fn is_account_root(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    matches!(parts.as_slice(), ["arn", _, "iam", "", account, "root"]
        if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
}

/// AWS-PE-030: `sts:AssumeRole` reaches a role that trusts the whole account. On every
/// resource any such role counts; on specific or wildcard ARNs only the roles they name.
fn check_assume(
    v: &View<'_>,
    path: &Path,
    steps: &[ActionId],
    access: Access,
    trusting: &[TrustingRole<'_>],
    out: &mut Vec<Finding>,
) {
    let me = match v.owner {
        Owner::Principal(p) => Some(p),
        Owner::Policy(_) => None,
    };
    let candidates = trusting
        .iter()
        .filter(|t| me.is_none_or(|m| !std::ptr::eq(m, t.role)));
    let mut reached: Vec<&str> = if access.scope == Scope::All {
        candidates.map(|t| t.role.name.as_str()).collect()
    } else {
        let resources = assume_resources(v, steps);
        candidates
            .filter(|t| resources.iter().any(|r| names_role(r, &t.role.name)))
            .map(|t| t.role.name.as_str())
            .collect()
    };
    if reached.is_empty() {
        return;
    }
    reached.sort_unstable();
    reached.dedup();
    let mut finding = report(
        v,
        path,
        steps,
        access,
        &format!(", and role {} trusts the whole account", reached.join(", ")),
    );
    finding.evidence = format!(
        "sts:AssumeRole->{}",
        reached
            .iter()
            .map(|r| format!("role/{r}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    out.push(finding);
}

/// The resources of the statements that grant the steps (`sts:AssumeRole`).
fn assume_resources<'a>(v: &View<'a>, steps: &[ActionId]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for g in v
        .effective
        .grants
        .iter()
        .filter(|g| steps.iter().any(|&id| g.actions.contains(id)))
    {
        let statement = &v.sources[g.source].policy.statements[g.statement];
        if let Some(NameSpec::Only(names)) = &statement.resource {
            out.extend(names.iter().map(String::as_str));
        }
    }
    out
}

/// True when a Resource pattern can name the role `name`: compared on the role-name part, or
/// as a whole for patterns without `:role/` (`arn:aws:iam::*:*`).
fn names_role(resource: &str, name: &str) -> bool {
    match resource.split_once(":role/") {
        Some((_, rest)) => glob(rest.rsplit('/').next().unwrap_or(rest), name) || glob(rest, name),
        None => glob(resource, &format!("arn:aws:iam::000000000000:role/{name}")),
    }
}

/// IAM glob: `*` any run, `?` one character, ASCII case-insensitive.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi + 1, ti));
                pi += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((after, absorbed)) => {
                    pi = after;
                    ti = absorbed + 1;
                    star = Some((after, absorbed + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests;
