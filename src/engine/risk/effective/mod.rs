//! Effective identity permissions: for one principal (all its policies combined, catalog §1
//! "per principal") or one standalone policy, the actions its Allow statements grant after
//! unconditional Deny subtraction, how broadly each is granted (scope), whether a limiting
//! condition applies, and which source granted it. Computed once per subject and read by the
//! identity-policy rule families (wildcard, escalation, exposure). Decides no finding.

mod grant;
pub mod index;
mod tags;
mod view;

pub use grant::{Access, PASSED_TO_SERVICE, Reach, Strength};
pub use view::{Hit, Owner, View, describe_access, each_view, exposure_of, urn_name, views};

use std::collections::HashMap;

use crate::engine::iam::actions::{ActionId, ActionSet, db};
use crate::engine::iam::policy::{Effect, NameSpec, Policy};

use self::index::index;

/// A policy document that applies to the subject, with where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub urn: &'a str,
    /// Which property or attachment (`inline policy deploy`, `attached policy ReadOnly`).
    pub label: &'a str,
    pub policy: &'a Policy,
}

/// The actions one Allow statement grants with one reach, after unconditional Denies.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Index into the subject's sources.
    pub source: usize,
    /// Index into that source's statements.
    pub statement: usize,
    pub reach: Reach,
    pub strength: Strength,
    pub actions: ActionSet,
}

impl Grant {
    pub fn access(&self) -> Access {
        Access::of(self.reach, self.strength)
    }
}

/// What a subject may do.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    pub grants: Vec<Grant>,
    /// Allowed actions by the rank of their broadest access (`Access::rank`); disjoint.
    classes: [ActionSet; 5],
    allowed: ActionSet,
    /// Granted on every resource without a limiting condition (catalog §1 "unconstrained"),
    /// and the part of it granted with no condition at all.
    unconstrained: ActionSet,
    unconditioned: ActionSet,
    /// Actions named by Deny statements that were not subtracted (conditional or scoped).
    kept_denies: ActionSet,
}

impl Effective {
    /// Evaluates the sources together.
    pub fn compute(sources: &[Source<'_>]) -> Effective {
        Effective::compute_with(sources, &mut Expansions::default())
    }

    /// Evaluates the sources together, reusing the expansions of elements seen before.
    pub fn compute_with(sources: &[Source<'_>], expansions: &mut Expansions) -> Effective {
        let mut denied = ActionSet::new();
        let mut kept_denies = ActionSet::new();
        for source in sources {
            for s in source
                .policy
                .statements
                .iter()
                .filter(|s| s.effect == Effect::Deny)
            {
                let actions = expansions.of(&s.action);
                if s.is_unconditional_star() {
                    denied.union_with(&actions);
                } else {
                    kept_denies.union_with(&actions);
                }
            }
        }
        let mut eff = Effective {
            kept_denies,
            ..Effective::default()
        };
        let mut pending: Vec<(Grant, Vec<String>)> = Vec::new();
        for (si, source) in sources.iter().enumerate() {
            for (ti, s) in source.policy.statements.iter().enumerate() {
                if s.effect != Effect::Allow
                    || s.principal.is_some()
                    || grant::never_met(&s.condition)
                {
                    continue;
                }
                let mut actions = expansions.of(&s.action);
                actions.difference_with(&denied);
                if actions.is_empty() {
                    continue;
                }
                for (actions, restriction) in restrictions(&s.condition, actions) {
                    for (reach, actions) in grant::split_by_reach(s.resource.as_ref(), actions) {
                        let g = Grant {
                            source: si,
                            statement: ti,
                            reach,
                            strength: restriction.strength,
                            actions,
                        };
                        pending.push((g, restriction.tags.clone()));
                    }
                }
            }
        }
        if pending.iter().any(|(_, tags)| !tags.is_empty()) {
            pending = tags::resolve(sources, pending);
        }
        for (g, _) in pending {
            eff.add(g);
        }
        eff.finish();
        eff
    }

    fn add(&mut self, g: Grant) {
        let rank = g.access().rank();
        self.classes[rank].union_with(&g.actions);
        self.allowed.union_with(&g.actions);
        if g.reach.is_everything() && g.strength != Strength::Limiting {
            self.unconstrained.union_with(&g.actions);
            if g.strength == Strength::None {
                self.unconditioned.union_with(&g.actions);
            }
        }
        self.grants.push(g);
    }

    /// Makes the classes disjoint (each action stays in its broadest class only) and keeps every
    /// set in plain containers: roaring's run containers make subset tests walk every element.
    fn finish(&mut self) {
        let mut seen = ActionSet::new();
        for class in &mut self.classes {
            class.difference_with(&seen);
            seen.union_with(class);
            class.0.remove_run_compression();
        }
        for set in [
            &mut self.allowed,
            &mut self.unconstrained,
            &mut self.unconditioned,
            &mut self.kept_denies,
        ] {
            set.0.remove_run_compression();
        }
    }

    /// Every allowed action, whatever its scope.
    pub fn allowed(&self) -> &ActionSet {
        &self.allowed
    }

    pub fn allows(&self, id: ActionId) -> bool {
        self.allowed.contains(id)
    }

    /// The broadest access `id` is granted with.
    pub fn access(&self, id: ActionId) -> Option<Access> {
        self.classes
            .iter()
            .position(|c| c.contains(id))
            .map(Access::from_rank)
    }

    /// The narrowest of the broadest accesses of `ids` (a path is only as broad as its weakest
    /// step); None if any is not allowed.
    pub fn weakest(&self, ids: &[ActionId]) -> Option<Access> {
        ids.iter()
            .map(|&id| self.access(id))
            .try_fold(Access::from_rank(0), |worst, a| {
                a.map(|a| if a.rank() > worst.rank() { a } else { worst })
            })
    }

    /// Actions granted on every resource without a limiting condition.
    pub fn unconstrained(&self) -> &ActionSet {
        &self.unconstrained
    }

    /// The access of an unconstrained action: `All` when some grant has no condition at all,
    /// `Wildcard` when only weak conditions grant it; None when it is not unconstrained.
    pub fn unconstrained_access(&self, ids: &ActionSet) -> Option<Access> {
        if ids.is_empty() || !ids.is_subset(&self.unconstrained) {
            return None;
        }
        let scope = if ids.is_subset(&self.unconditioned) {
            crate::engine::risk::Scope::All
        } else {
            crate::engine::risk::Scope::Wildcard
        };
        Some(Access {
            scope,
            conditioned: false,
        })
    }

    /// Full administrator: every action of the database unconstrained (catalog WC-001).
    pub fn admin(&self) -> Option<Access> {
        let all = &index().all;
        if all.is_empty() || self.unconstrained.len() < all.len() {
            return None;
        }
        self.unconstrained_access(all)
    }

    /// True when a Deny that was not subtracted (it has a condition or specific resources)
    /// names one of `ids`.
    pub fn maybe_denied(&self, ids: &ActionSet) -> bool {
        !self.kept_denies.0.is_disjoint(&ids.0)
    }

    /// The sources that grant any of `ids`, in order, without repeats.
    pub fn sources_of(&self, ids: &ActionSet) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .grants
            .iter()
            .filter(|g| !g.actions.0.is_disjoint(&ids.0))
            .map(|g| g.source)
            .collect();
        out.dedup();
        out
    }

    /// The broadest access among the grants of one statement, if it grants anything.
    pub fn statement_access(&self, source: usize, statement: usize) -> Option<Access> {
        self.statement_grants(source, statement)
            .map(Grant::access)
            .min_by_key(|a| a.rank())
    }

    /// The grants of one statement.
    pub fn statement_grants(
        &self,
        source: usize,
        statement: usize,
    ) -> impl Iterator<Item = &Grant> {
        self.grants
            .iter()
            .filter(move |g| g.source == source && g.statement == statement)
    }
}

/// The actions of an Allow statement grouped by the restriction its Condition puts on them:
/// `iam:PassRole` is judged without `iam:PassedToService` (which only names the services a role
/// may be passed to; the escalation paths read it), every other action with the whole Condition.
fn restrictions(
    condition: &crate::engine::iam::policy::Conditions,
    mut actions: ActionSet,
) -> Vec<(ActionSet, grant::Restriction)> {
    let whole = grant::restriction(condition, None);
    let pass_role = index().pass_role;
    if !actions.contains(pass_role)
        || !crate::engine::risk::conditions::has_key(condition, PASSED_TO_SERVICE)
    {
        return vec![(actions, whole)];
    }
    actions.remove(pass_role);
    let mut out = vec![(
        ActionSet::single(pass_role),
        grant::restriction(condition, Some(PASSED_TO_SERVICE)),
    )];
    if !actions.is_empty() {
        out.push((actions, whole));
    }
    out
}

/// The number of names from which an `Action`/`NotAction` element's expansion is remembered.
const LARGE_SPEC: usize = 32;

/// The expansions of large `Action`/`NotAction` elements (AWS managed policies list up to
/// thousands of names), by the element's address. A document attached to many principals is one
/// shared `Arc<Policy>`, so it is expanded once. The addresses stay those of the same elements
/// only while the documents are borrowed: keep one `Expansions` per state, never longer.
#[derive(Debug, Default)]
pub struct Expansions(HashMap<usize, ActionSet>);

impl Expansions {
    /// The actions the element names (see `expand`).
    pub fn of(&mut self, spec: &NameSpec) -> ActionSet {
        if spec.names().len() < LARGE_SPEC {
            return expand(spec);
        }
        let address = std::ptr::from_ref(spec) as usize;
        self.0
            .entry(address)
            .or_insert_with(|| expand(spec))
            .clone()
    }
}

/// The actions an `Action`/`NotAction` element names (NotAction: all the others).
pub fn expand(spec: &NameSpec) -> ActionSet {
    let db = db();
    let mut set = ActionSet::new();
    for name in spec.names() {
        db.expand_into(name, &mut set);
    }
    match spec {
        NameSpec::Only(_) => set,
        NameSpec::Not(_) => {
            let mut all = index().all.clone();
            all.difference_with(&set);
            all
        }
    }
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
