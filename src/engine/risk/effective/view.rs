//! The subjects the identity-policy rules run on: every principal (its policies combined) and
//! every standalone customer managed policy (on its own), each with its effective permissions,
//! who receives them (exposure) and how findings about it are attributed and worded.

use crate::engine::iam::actions::ActionSet;
use crate::engine::iam::model::{IamState, Principal, PrincipalKind, Sourced};
use crate::engine::iam::policy::{Document, Effect};
use crate::engine::risk::{Confidence, Exposure, Finding, Rule, Scope, Severity};

use super::{Access, Effective, Expansions, Source};

/// Whose permissions a view holds.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    Principal(&'a Principal),
    /// A standalone customer managed policy, checked on its own.
    Policy(&'a Sourced<Document>),
}

/// One subject with its effective permissions.
#[derive(Debug)]
pub struct View<'a> {
    pub owner: Owner<'a>,
    pub sources: Vec<Source<'a>>,
    pub effective: Effective,
    pub exposure: Exposure,
    /// Full administrator (WC-001): the other identity rules stay quiet, admin is reported once.
    pub admin: Option<Access>,
}

/// What a rule found on a view, before attribution.
#[derive(Debug, Clone)]
pub struct Hit<'r> {
    pub rule: &'r Rule,
    pub severity: Severity,
    pub evidence: String,
    pub message: String,
    pub scope: Scope,
    pub confidence: Confidence,
}

/// Compute-service principals: a role only they can assume is a service role (catalog §6
/// exposure 0.9).
const COMPUTE_SERVICES: [&str; 12] = [
    "ec2",
    "ecs-tasks",
    "eks",
    "eks-fargate-pods",
    "lambda",
    "edgelambda",
    "batch",
    "codebuild",
    "glue",
    "sagemaker",
    "apprunner",
    "elasticmapreduce",
];

/// The views of a state: principals first (in state order), then the standalone policies no
/// principal of the state has attached. An attached policy's grants are scored on each
/// principal that has it, with everything else that principal holds, and not a second time on
/// the policy: the same grant reads the same whether it is inline or attached.
pub fn views(state: &IamState) -> Vec<View<'_>> {
    each_view(state).collect()
}

/// The views of `views`, one at a time: a view's effective permissions can be large (an AWS
/// managed policy such as ReadOnlyAccess names most of the action database), so rules that need
/// one view at a time need not hold them all.
pub fn each_view(state: &IamState) -> impl Iterator<Item = View<'_>> {
    let mut expansions = Expansions::default();
    let principals = state.principals.iter().map(Owner::Principal);
    let policies = state
        .standalone_policies
        .iter()
        .filter(|doc| !state.attached_policies.contains(&doc.urn))
        .map(Owner::Policy);
    principals.chain(policies).filter_map(move |owner| {
        let (sources, exposure) = match owner {
            Owner::Principal(p) => (
                p.policies.iter().filter_map(source).collect(),
                exposure_of(p),
            ),
            Owner::Policy(doc) => (vec![source(doc)?], Exposure::Internal),
        };
        Some(View::new(owner, sources, exposure, &mut expansions))
    })
}

fn source(doc: &Sourced<Document>) -> Option<Source<'_>> {
    doc.value.known().map(|policy| Source {
        urn: &doc.urn,
        label: &doc.label,
        policy,
    })
}

/// `Service` for a role that only compute services may assume, else `Internal` (the trust
/// rules handle public and external principals).
pub fn exposure_of(p: &Principal) -> Exposure {
    let Some(trust) = p.trust.as_ref().and_then(|t| t.value.known()) else {
        return Exposure::Internal;
    };
    let allows: Vec<_> = trust
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
        .collect();
    let only_compute = !allows.is_empty()
        && allows.iter().all(|s| {
            s.principal.as_ref().is_some_and(|ps| {
                !ps.negated
                    && ps.all().next().is_some()
                    && ps
                        .all()
                        .all(|(kind, value)| kind == "Service" && is_compute_service(value))
            })
        });
    if only_compute {
        Exposure::Service
    } else {
        Exposure::Internal
    }
}

fn is_compute_service(principal: &str) -> bool {
    let name = principal
        .strip_suffix(".amazonaws.com")
        .or_else(|| principal.strip_suffix(".amazonaws.com.cn"));
    name.is_some_and(|n| COMPUTE_SERVICES.contains(&n))
}

impl<'a> View<'a> {
    fn new(
        owner: Owner<'a>,
        sources: Vec<Source<'a>>,
        exposure: Exposure,
        expansions: &mut Expansions,
    ) -> View<'a> {
        let effective = Effective::compute_with(&sources, expansions);
        let admin = effective.admin();
        View {
            owner,
            sources,
            effective,
            exposure,
            admin,
        }
    }

    /// The finding subject: `role/name`, or the standalone policy's URN.
    pub fn subject(&self) -> String {
        match self.owner {
            Owner::Principal(p) => p.subject(),
            Owner::Policy(doc) => doc.urn.clone(),
        }
    }

    /// How messages name the subject: ``role `app` ``, or the standalone policy's label.
    pub fn display(&self) -> String {
        match self.owner {
            Owner::Principal(p) => format!("{} `{}`", p.kind.as_str(), p.name),
            Owner::Policy(doc) => doc.label.clone(),
        }
    }

    /// True for users and groups (people), false for roles and standalone policies.
    pub fn is_human(&self) -> bool {
        matches!(self.owner, Owner::Principal(p) if matches!(p.kind, PrincipalKind::User | PrincipalKind::Group))
    }

    /// The URN a finding is reported on: the principal's own resource, else the first of the
    /// sources that granted what the finding is about.
    pub fn resource(&self, sources: &[usize]) -> &'a str {
        match self.owner {
            Owner::Policy(doc) => &doc.urn,
            Owner::Principal(p) => match &p.urn {
                Some(urn) => urn,
                None => sources
                    .first()
                    .map_or_else(|| p.report_urn(), |&si| self.sources[si].urn),
            },
        }
    }

    /// A source as messages name it: `inline policy deploy in app-role`.
    pub fn describe_source(&self, si: usize) -> String {
        let s = &self.sources[si];
        format!("{} in {}", s.label, urn_name(s.urn))
    }

    /// Where the decisive actions came from, each source once.
    pub fn origin(&self, decisive: &ActionSet) -> String {
        let names: Vec<String> = self
            .effective
            .sources_of(decisive)
            .into_iter()
            .map(|si| self.describe_source(si))
            .collect();
        if names.is_empty() {
            "its policies".to_owned()
        } else {
            names.join("; ")
        }
    }

    /// The finding for a hit about actions, attributed to the sources that grant them. A note is
    /// added when a Deny that was not subtracted (conditional or scoped) may limit them.
    pub fn report(&self, hit: Hit<'_>, decisive: &ActionSet) -> Finding {
        let mut finding = self.report_sources(hit, &self.effective.sources_of(decisive));
        if self.effective.maybe_denied(decisive) {
            finding
                .message
                .push_str(" A conditional or resource-scoped Deny may limit this.");
        }
        finding
    }

    /// The finding for a hit about given sources (a statement, a set of grants).
    pub fn report_sources(&self, hit: Hit<'_>, sources: &[usize]) -> Finding {
        Finding {
            rule_id: hit.rule.id,
            category: hit.rule.category,
            severity: hit.severity,
            resource: self.resource(sources).to_owned(),
            subject: self.subject(),
            evidence: hit.evidence,
            message: hit.message,
            scope: hit.scope,
            exposure: self.exposure,
            confidence: hit.confidence,
        }
    }
}

/// The last part of a URN (the resource's logical name), or the text itself.
pub fn urn_name(urn: &str) -> &str {
    urn.rsplit("::").next().unwrap_or(urn)
}

/// How messages describe an access: `on Resource "*"`, `on wildcard resources`, ...
pub fn describe_access(access: Access) -> &'static str {
    match (access.scope, access.conditioned) {
        (Scope::All, _) => "on all resources",
        (Scope::Wildcard, false) => {
            "on wildcard resources or under a condition that does not limit it"
        }
        (Scope::Wildcard, true) => "on wildcard resources under a limiting condition",
        (Scope::Pinned, false) => "on specific resources",
        (Scope::Pinned, true) => "on specific resources under a limiting condition",
    }
}
