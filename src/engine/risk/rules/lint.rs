//! Rules: validity and unknown values of every policy document of a state (catalog §2.9):
//! documents AWS rejects and the problems found while reading them (`malformed`), properties of
//! IAM resources iamgate cannot read (`malformed`, high), action names and resources that match
//! nothing, and policy values that cannot be judged before apply (`unknown-value`). An unknown value is reported here and nowhere treated as a wildcard or as
//! harmless. Lint does not judge what a valid, known grant allows: the other families do.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::engine::iam::actions::db;
use crate::engine::iam::managed;
use crate::engine::iam::policy::{Document, Effect, NameSpec, Policy, Statement};
use crate::engine::iam::unmodeled::Cloud;
use crate::engine::iam::{IamState, Principal, ResourcePolicy, Sourced};
use crate::engine::risk::conditions;
use crate::engine::risk::effective::index::shorten;
use crate::engine::risk::{Confidence, EvalCtx, Exposure, Finding, Rule, Scope, Severity};

mod rules;

pub use self::rules::RULES;
use self::rules::{
    BROKEN, MALFORMED, RESOURCE_MISMATCH, UNK_001, UNK_002, UNK_003, UNKNOWN_ACTION,
    UNKNOWN_PREFIX, UNREADABLE,
};

/// Marks a `Policy::problems` entry that comes from a Deny statement.
const DENY_MARKER: &str = "deny statement";

pub fn check(state: &IamState, _ctx: EvalCtx<'_>, out: &mut Vec<Finding>) {
    check_unreadable(state, out);
    // By document: one AWS managed policy attached to many principals is one shared `Arc`.
    let mut names: HashMap<(*const Policy, bool), Names> = HashMap::new();
    for doc in documents(state) {
        match &doc.source.value {
            Document::Known(policy) => {
                let found = names
                    .entry((Arc::as_ptr(policy), doc.attached))
                    .or_insert_with(|| Names::of(policy, doc.attached));
                check_policy(&doc, policy, found, out);
            }
            Document::Unknown => out.push(doc.finding(
                &UNK_001,
                String::new(),
                format!("The {} is unknown until apply: review the program source to see what it grants.", doc.what()),
            )),
            Document::Secret => out.push(doc.finding(
                &UNK_003,
                String::new(),
                format!("The {} is a secret value: iamgate cannot see what it grants; review the program source.", doc.what()),
            )),
            Document::Malformed(reason) => out.push(doc.finding(
                &MALFORMED,
                String::new(),
                format!("The {} is not a valid policy document: {reason}. AWS rejects it at apply.", doc.what()),
            )),
        }
    }
}

/// AWS-LINT-UNREADABLE: properties of IAM resources that could not be read. The digest is part of
/// the evidence, so an unreadable value that changes is new again.
fn check_unreadable(state: &IamState, out: &mut Vec<Finding>) {
    unreadable_findings(state, Cloud::Aws, &UNREADABLE, out);
}

/// One `malformed` finding (of `rule`) per unreadable property of a resource of `cloud`: each
/// cloud's family reports its own resources'. The digest is part of the evidence, so an
/// unreadable value that changes is new again.
pub(super) fn unreadable_findings(
    state: &IamState,
    cloud: Cloud,
    rule: &Rule,
    out: &mut Vec<Finding>,
) {
    for u in state
        .unreadable
        .iter()
        .filter(|u| Cloud::of_urn(&u.urn) == cloud)
    {
        let what = if u.property.is_empty() {
            "The properties of this resource cannot be read".to_owned()
        } else {
            format!(
                "The `{}` property of this resource cannot be read",
                u.property
            )
        };
        out.push(Finding {
            rule_id: rule.id,
            category: rule.category,
            severity: rule.severity,
            resource: u.urn.clone(),
            subject: u.urn.clone(),
            evidence: format!("{} sha256:{}", u.property, u.digest),
            message: format!(
                "{what}: {}. iamgate cannot see what it holds, so it cannot judge what the resource grants; review it by hand.",
                u.reason
            ),
            scope: Scope::All,
            exposure: Exposure::Internal,
            confidence: Confidence::Direct,
        });
    }
}

/// Documents that were valid before and are malformed after: a guardrail may silently stop
/// working. Called by `guardrail::check_change`.
pub fn check_change(
    before: &IamState,
    after: &IamState,
    _ctx: EvalCtx<'_>,
    out: &mut Vec<Finding>,
) {
    let was_known: HashSet<(&str, &str)> = documents(before)
        .into_iter()
        .filter(|d| matches!(d.source.value, Document::Known(_)))
        .map(|d| (d.source.urn.as_str(), d.source.label.as_str()))
        .collect();
    for doc in documents(after) {
        let Document::Malformed(reason) = &doc.source.value else {
            continue;
        };
        if was_known.contains(&(doc.source.urn.as_str(), doc.source.label.as_str())) {
            out.push(doc.finding(
                &BROKEN,
                String::new(),
                format!(
                    "The {} was a valid policy and becomes invalid: {reason}. AWS rejects it at apply, and until it is fixed none of its statements, Deny included, protect anything.",
                    doc.what()
                ),
            ));
        }
    }
}

/// A policy document of the state with what holds it, for findings.
struct Doc<'a> {
    source: &'a Sourced<Document>,
    /// What holds it, for messages (rendered by `what` only when a finding needs it).
    holder: Holder<'a>,
    /// A resource policy: its Resource can only name the resource it is attached to (AWS
    /// rejects anything else), so an unknown Resource there does not widen the grant.
    attached: bool,
}

/// What holds a document, and how.
#[derive(Clone, Copy)]
enum Holder<'a> {
    /// The trust policy of a principal.
    Trust(&'a Principal),
    /// A policy attached to (or inline in) a principal.
    Attached(&'a Principal),
    /// A standalone policy.
    Standalone,
    /// The resource policy of a resource.
    Resource(&'a ResourcePolicy),
}

impl Doc<'_> {
    /// For messages: "trust policy `assumeRolePolicy` of role `deploy`".
    fn what(&self) -> String {
        let label = &self.source.label;
        match self.holder {
            Holder::Trust(p) => {
                format!("trust policy `{label}` of {} `{}`", p.kind.as_str(), p.name)
            }
            Holder::Attached(p) => format!(
                "policy `{label}` attached to {} `{}`",
                p.kind.as_str(),
                p.name
            ),
            Holder::Standalone => format!("policy `{label}`"),
            Holder::Resource(rp) => format!("{label} of {} `{}`", rp.kind.as_str(), rp.target),
        }
    }

    /// A finding on the document; `detail` (may be empty) completes the evidence after the label.
    fn finding(&self, rule: &Rule, detail: String, message: String) -> Finding {
        let label = &self.source.label;
        Finding {
            rule_id: rule.id,
            category: rule.category,
            severity: rule.severity,
            resource: self.source.urn.clone(),
            subject: self.source.urn.clone(),
            evidence: if detail.is_empty() {
                label.clone()
            } else {
                format!("{label}: {detail}")
            },
            message,
            scope: if rule.id == UNK_001.id {
                Scope::All
            } else {
                Scope::Pinned
            },
            exposure: Exposure::Internal,
            // A policy unknown as a whole could grant anything, like a resource iamgate does
            // not model: a direct grant at the rule's severity. One unknown value inside a
            // policy is part of a grant.
            confidence: if rule.id == UNK_001.id {
                Confidence::Direct
            } else if rule.id.starts_with("AWS-UNK") {
                Confidence::Partial
            } else {
                Confidence::Lint
            },
        }
    }
}

/// Every document of the state once (a policy attached to several principals is linted once):
/// trust and identity policies of principals, standalone policies, resource policies.
fn documents(state: &IamState) -> Vec<Doc<'_>> {
    let doc = |source, holder, attached| Doc {
        source,
        holder,
        attached,
    };
    let mut all: Vec<Doc<'_>> = Vec::new();
    for p in &state.principals {
        if let Some(t) = &p.trust {
            all.push(doc(t, Holder::Trust(p), false));
        }
        // Copies are linted where they are defined: an attached standalone policy on its own,
        // a group's policies on the group; an AWS managed policy is AWS's text, not the
        // program's, so a problem in it is nothing the pull request can fix.
        for d in p.policies.iter().filter(|d| !is_copy(d)) {
            all.push(doc(d, Holder::Attached(p), false));
        }
    }
    for d in &state.standalone_policies {
        all.push(doc(d, Holder::Standalone, false));
    }
    for rp in &state.resource_policies {
        all.push(doc(&rp.document, Holder::Resource(rp), true));
    }
    let mut seen = HashSet::with_capacity(all.len());
    all.retain(|d| seen.insert((d.source.urn.as_str(), d.source.label.as_str())));
    all
}

/// A principal's policy that is a copy of a document defined elsewhere: attached (a standalone
/// or AWS managed policy) or inherited from a group (labels of `extract::assemble`).
fn is_copy(d: &Sourced<Document>) -> bool {
    d.label.starts_with("attached policy ") || d.label.contains(" (via group ")
}

/// What the action names, resources and unknown values of one document give, whatever holds it:
/// the costly part of linting a document, computed once per document (and kind of holder).
struct Names {
    /// AWS-LINT-UNKNOWN-ACTION / -PREFIX: (rule, name, why).
    unknown: Vec<(&'static Rule, String, &'static str)>,
    /// Names that match nothing but AWS managed policies use: newer than the database.
    newer: Vec<String>,
    /// AWS-LINT-RESOURCE-MISMATCH: (action, the statement's Resource values, in a Deny).
    mismatches: Vec<(String, Vec<String>, bool)>,
    /// AWS-UNK-002: the elements holding a value unknown until apply, with their effect.
    unknown_elements: BTreeSet<(String, &'static str)>,
}

impl Names {
    /// `attached`: a resource policy, whose Resource can only name its resource.
    fn of(policy: &Policy, attached: bool) -> Names {
        let mut names = BTreeSet::new();
        let mut mismatches = Vec::new();
        let mut unknown_elements = BTreeSet::new();
        for statement in &policy.statements {
            names.extend(statement.action.names().iter().map(String::as_str));
            mismatches.extend(resource_mismatches(statement));
            unknown_elements.extend(unknown_elements_of(statement, !attached));
        }
        let mut found = Names {
            unknown: Vec::new(),
            newer: Vec::new(),
            mismatches,
            unknown_elements,
        };
        for name in names {
            match check_action_name(name) {
                Name::Matches => {}
                Name::Newer => found.newer.push(name.to_owned()),
                Name::Unknown(rule, why) => found.unknown.push((rule, name.to_owned(), why)),
            }
        }
        found
    }
}

fn check_policy(doc: &Doc<'_>, policy: &Policy, names: &Names, out: &mut Vec<Finding>) {
    for problem in &policy.problems {
        let mut f = doc.finding(
            &MALFORMED,
            problem.clone(),
            format!(
                "The {} has a problem AWS rejects at apply: {problem}.",
                doc.what()
            ),
        );
        if problem.to_ascii_lowercase().contains(DENY_MARKER) {
            f.severity = Severity::Medium;
            f.message.push_str(
                " It is in a Deny statement: the guardrail it was meant to be does not work.",
            );
        }
        out.push(f);
    }
    for (action, listed, deny) in &names.mismatches {
        out.push(resource_mismatch(doc, action, listed, *deny));
    }
    for (rule, name, why) in &names.unknown {
        out.push(doc.finding(
            rule,
            name.clone(),
            format!("`{name}` in the {} {why}: it grants or denies nothing (check the spelling against the AWS Service Authorization Reference).", doc.what()),
        ));
    }
    let newer = &names.newer;
    if !newer.is_empty() {
        let mut f = doc.finding(
            &UNKNOWN_ACTION,
            "names newer than the action database".to_owned(),
            format!(
                "{} action names in the {} are not in iamgate's action database ({}), but AWS managed policies use them: actions newer than the database, whose grant iamgate cannot judge (update iamgate): {}.",
                newer.len(),
                doc.what(),
                db().version(),
                shorten(newer, 8)
            ),
        );
        f.severity = Severity::Info;
        out.push(f);
    }
    for &(ref element, effect) in &names.unknown_elements {
        out.push(doc.finding(
            &UNK_002,
            element.clone(),
            format!(
                "The {element} of a{} {effect} statement in the {} is unknown until apply: the grant cannot be judged; review the program source.",
                if effect == "Allow" { "n" } else { "" },
                doc.what()
            ),
        ));
    }
}

/// The elements of a statement holding a value unknown until apply: `Action`, `Resource`,
/// `Principal`, `Condition <key>`; with the statement's effect.
fn unknown_elements_of(
    statement: &Statement,
    resource_counts: bool,
) -> Vec<(String, &'static str)> {
    let effect = statement.effect.as_str();
    let has_unknown = |spec: &NameSpec| spec.names().iter().any(|n| conditions::is_unknown(n));
    let mut out = Vec::new();
    if has_unknown(&statement.action) {
        out.push(("Action".to_owned(), effect));
    }
    if resource_counts && statement.resource.as_ref().is_some_and(has_unknown) {
        out.push(("Resource".to_owned(), effect));
    }
    if statement
        .principal
        .as_ref()
        .is_some_and(|p| p.all().any(|(_, v)| conditions::is_unknown(v)))
    {
        out.push(("Principal".to_owned(), effect));
    }
    for keys in statement.condition.values() {
        for (key, values) in keys {
            if values.iter().any(|v| conditions::is_unknown(v)) {
                out.push((format!("Condition {key}"), effect));
            }
        }
    }
    out
}

/// What an action name or pattern in a document matches.
enum Name {
    Matches,
    /// Matches nothing, but AWS managed policies use it: newer than the database, not a typo.
    Newer,
    /// AWS-LINT-UNKNOWN-ACTION / -PREFIX, and why.
    Unknown(&'static Rule, &'static str),
}

fn check_action_name(name: &str) -> Name {
    if name == "*" || conditions::is_unknown(name) {
        return Name::Matches;
    }
    let db = db();
    let (rule, why) = match name.split_once(':') {
        None => (&UNKNOWN_ACTION, "is not of the form `service:Action`"),
        Some((service, _)) if !conditions::has_wildcard(service) && !db.has_service(service) => (
            &UNKNOWN_PREFIX,
            "names a service prefix that does not exist",
        ),
        Some(_) if db.expand(name).is_empty() => {
            if conditions::has_wildcard(name) {
                (&UNKNOWN_ACTION, "is a pattern that matches no action")
            } else {
                (&UNKNOWN_ACTION, "is not an action of that service")
            }
        }
        Some(_) => return Name::Matches,
    };
    if managed::names_action(name) {
        Name::Newer
    } else {
        Name::Unknown(rule, why)
    }
}

/// AWS-LINT-RESOURCE-MISMATCH: the exact actions none of whose resource types the Resource
/// values can name (e.g. `s3:GetObject` on a bucket ARN), with the Resource values and whether
/// the statement is a Deny.
fn resource_mismatches(statement: &Statement) -> Vec<(String, Vec<String>, bool)> {
    let (NameSpec::Only(actions), Some(NameSpec::Only(resources))) =
        (&statement.action, &statement.resource)
    else {
        return Vec::new();
    };
    // Only ARNs are judged: a bare name (a Lambda permission's function) is not a pattern.
    if resources
        .iter()
        .any(|r| !r.starts_with("arn:") || conditions::is_unknown(r))
    {
        return Vec::new();
    }
    let db = db();
    let deny = statement.effect == Effect::Deny;
    actions
        .iter()
        .filter(|a| !conditions::has_wildcard(a))
        .filter(|action| {
            db.lookup(action)
                .is_some_and(|id| !resources.iter().any(|r| db.resource_matches(id, r)))
        })
        .map(|action| (action.clone(), resources.iter().cloned().collect(), deny))
        .collect()
}

/// A resource mismatch of the document: dead for that action; in a Deny, a guardrail that does
/// not work (medium).
fn resource_mismatch(doc: &Doc<'_>, action: &str, listed: &[String], deny: bool) -> Finding {
    let mut f = doc.finding(
        &RESOURCE_MISMATCH,
        format!("{action} on {}", listed.join(",")),
        format!(
            "In the {}, `{action}` is listed with Resource {}, which names none of the resource types `{action}` applies to: the {} has no effect for it.",
            doc.what(),
            listed.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", "),
            if deny { "Deny" } else { "grant" }
        ),
    );
    if deny {
        f.severity = Severity::Medium;
        f.message
            .push_str(" The guardrail it was meant to be does not work.");
    }
    f
}

#[cfg(test)]
mod tests;
