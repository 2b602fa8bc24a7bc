//! Combining the facts of one side of a preview into an `IamState`: every policy that applies to
//! a role, user or group lands on that principal, whichever resource carried it (inline, attached
//! by name, ARN or dependency, managed ARNs, a user's groups).

use std::collections::HashMap;

use super::facts::{Fact, Ref};
use crate::engine::iam::managed;
use crate::engine::iam::model::{
    AccessKey, IamState, OidcProvider, Principal, PrincipalKind, PublicAccessBlock, ResourcePolicy,
    Sourced, Unreadable,
};
use crate::engine::iam::normalize::parse_text;
use crate::engine::iam::policy::{Document, UNKNOWN_TEXT};

/// The facts of one resource state, with the resource's URN. `assemble` consumes the facts:
/// their documents move into the state instead of being copied.
#[derive(Debug)]
pub struct Carrier<'f> {
    pub urn: &'f str,
    pub facts: Vec<Fact>,
}

/// A customer managed policy defined in the preview: its entry in `standalone_policies`.
struct Standalone {
    name: String,
    index: usize,
    /// Its ARN is known in this state (an existing policy); a created one's is computed.
    arn_known: bool,
}

#[derive(Default)]
struct Builder<'f> {
    state: IamState,
    by_name: HashMap<(PrincipalKind, String), usize>,
    by_urn: HashMap<(PrincipalKind, &'f str), usize>,
    policies: Vec<Standalone>,
    /// Standalone policies (indexes into `policies`) by URN, by ARN and by name; the first
    /// policy of the preview wins, as a scan in preview order would find it.
    policy_by_urn: HashMap<&'f str, usize>,
    policy_by_arn: HashMap<String, usize>,
    policy_by_name: HashMap<String, usize>,
    /// AWS managed documents, parsed once per ARN of the catalog.
    managed_documents: HashMap<&'static str, Document>,
}

/// Builds the IAM state of one side from its carriers.
pub fn assemble(carriers: Vec<Carrier<'_>>) -> IamState {
    let mut carriers = carriers;
    let mut b = Builder::default();
    // Pass 1: principals and standalone policies, so that references can be resolved. The
    // documents move out of the facts here; pass 2 reads only what is left.
    for c in &mut carriers {
        for fact in &mut c.facts {
            b.collect(c.urn, fact);
        }
    }
    // Pass 2: everything that refers to principals or policies.
    for c in carriers {
        for fact in c.facts {
            b.apply(c.urn, fact);
        }
    }
    b.inherit_group_policies();
    b.state
}

fn sourced<T>(urn: &str, label: &str, value: T) -> Sourced<T> {
    Sourced {
        urn: urn.to_owned(),
        label: label.to_owned(),
        value,
    }
}

/// The name part of an IAM ARN (`arn:aws:iam::1:role/path/name` -> `name`), or the text itself.
fn last_segment(text: &str) -> &str {
    if text.starts_with("arn:") {
        text.rsplit('/').next().unwrap_or(text)
    } else {
        text
    }
}

impl<'f> Builder<'f> {
    fn principal_entry(&mut self, kind: PrincipalKind, name: &str, urn: Option<&'f str>) -> usize {
        if let Some(&idx) = urn.and_then(|urn| self.by_urn.get(&(kind, urn))) {
            return idx;
        }
        let idx = match self.by_name.get(&(kind, name.to_owned())) {
            Some(&idx) if name != UNKNOWN_TEXT => idx,
            _ => {
                self.state.principals.push(Principal {
                    kind,
                    name: name.to_owned(),
                    urn: urn.map(str::to_owned),
                    trust: None,
                    policies: Vec::new(),
                    managed_arns: Vec::new(),
                    boundary: None,
                    groups: Vec::new(),
                });
                let idx = self.state.principals.len() - 1;
                if name != UNKNOWN_TEXT {
                    self.by_name.insert((kind, name.to_owned()), idx);
                }
                idx
            }
        };
        if let Some(urn) = urn {
            self.by_urn.insert((kind, urn), idx);
            let p = &mut self.state.principals[idx];
            if p.urn.is_none() {
                p.urn = Some(urn.to_owned());
            }
        }
        idx
    }

    /// The principal a reference points to: by dependency URN, then by name or ARN; a principal
    /// outside the preview otherwise (known only by its name). A name unknown until apply with
    /// no dependency recorded (the event stream records none) is the one principal of its kind
    /// the preview defines, when there is exactly one.
    fn resolve(&mut self, kind: PrincipalKind, target: &Ref, source: &str) -> usize {
        if let Some(&idx) = target
            .urn
            .as_deref()
            .and_then(|urn| self.by_urn.get(&(kind, urn)))
        {
            return idx;
        }
        if target.text == UNKNOWN_TEXT
            && target.urn.is_none()
            && let Some(idx) = self.only_defined(kind)
        {
            return idx;
        }
        let name = if target.text == UNKNOWN_TEXT {
            // Keep unresolvable unknown targets apart: one placeholder per referring resource.
            format!(
                "{UNKNOWN_TEXT} ({})",
                source.rsplit("::").next().unwrap_or(source)
            )
        } else {
            last_segment(&target.text).to_owned()
        };
        self.principal_entry(kind, &name, None)
    }

    /// The one principal of `kind` that a resource of the preview defines, if there is one.
    fn only_defined(&self, kind: PrincipalKind) -> Option<usize> {
        let mut defined = self
            .by_urn
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, &idx)| idx);
        let first = defined.next()?;
        defined.all(|idx| idx == first).then_some(first)
    }

    /// Pass 1 for one fact: principals with what they carry themselves, and standalone
    /// policies. Moves the documents out of the fact (pass 2 does not read them).
    fn collect(&mut self, urn: &'f str, fact: &mut Fact) {
        match fact {
            Fact::Principal {
                kind,
                name,
                arn,
                trust,
                inline,
                boundary,
                ..
            } => {
                let idx = self.principal_entry(*kind, name, Some(urn));
                if let Some(arn) = arn {
                    self.by_name
                        .entry((*kind, last_segment(arn).to_owned()))
                        .or_insert(idx);
                }
                let p = &mut self.state.principals[idx];
                if let Some(t) = trust.take() {
                    p.trust = Some(sourced(urn, "trust policy", t));
                }
                for (policy_name, doc) in std::mem::take(inline) {
                    p.policies
                        .push(sourced(urn, &format!("inline policy {policy_name}"), doc));
                }
                if let Some(bd) = boundary.take() {
                    p.boundary = Some(sourced(urn, "permissions boundary", bd));
                }
            }
            Fact::Policy {
                name,
                arn,
                document,
                ..
            } => {
                let index = self.state.standalone_policies.len();
                let document = std::mem::replace(document, Document::Unknown);
                self.state.standalone_policies.push(sourced(
                    urn,
                    &format!("policy {name}"),
                    document,
                ));
                let at = self.policies.len();
                self.policy_by_urn.entry(urn).or_insert(at);
                if let Some(arn) = arn {
                    self.policy_by_arn.entry(arn.clone()).or_insert(at);
                }
                self.policy_by_name.entry(name.clone()).or_insert(at);
                self.policies.push(Standalone {
                    name: name.clone(),
                    index,
                    arn_known: arn.as_deref().is_some_and(|a| a != UNKNOWN_TEXT),
                });
            }
            _ => {}
        }
    }

    /// The standalone policy a reference names: by dependency URN, else the first by ARN or
    /// (for a `:policy/` ARN) by name. An ARN unknown until apply with no dependency recorded
    /// (the event stream records none) names the one policy of the state whose ARN is not
    /// known yet, when there is exactly one: what `propertyDependencies` would have said.
    fn standalone(&self, policy: &Ref) -> Option<&Standalone> {
        let by_urn = policy
            .urn
            .as_deref()
            .and_then(|u| self.policy_by_urn.get(u));
        let at = match by_urn {
            Some(&at) => at,
            None if policy.text == UNKNOWN_TEXT => {
                let mut pending = self.policies.iter().filter(|p| !p.arn_known);
                return match (pending.next(), pending.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                };
            }
            None => {
                let by_arn = self.policy_by_arn.get(policy.text.as_str()).copied();
                let by_name = if policy.text.contains(":policy/") {
                    self.policy_by_name.get(last_segment(&policy.text)).copied()
                } else {
                    None
                };
                match (by_arn, by_name) {
                    (Some(a), Some(n)) => a.min(n),
                    (a, n) => a.or(n)?,
                }
            }
        };
        self.policies.get(at)
    }

    /// The document of a policy given by ARN (or dependency): a policy of the preview, or an
    /// AWS managed policy of the table (in any partition), parsed once per ARN per state. An AWS
    /// managed ARN (account `aws`) is never a policy of the preview, even one of the same name.
    fn policy_document(&mut self, policy: &Ref) -> Option<(String, Document)> {
        if !managed::is_aws_managed(&policy.text) {
            let p = self.standalone(policy)?;
            let doc = &self.state.standalone_policies.get(p.index)?.value;
            return Some((p.name.clone(), doc.clone()));
        }
        let m = managed::lookup(&policy.text)?;
        let doc = self
            .managed_documents
            .entry(m.arn)
            .or_insert_with(|| parse_text(m.document));
        Some((m.name.to_owned(), doc.clone()))
    }

    fn attach(&mut self, idx: usize, source: &str, policy: Ref) {
        if let Some(p) = self.standalone(&policy) {
            let urn = self.state.standalone_policies[p.index].urn.clone();
            self.state.attached_policies.insert(urn);
        }
        let resolved = self.policy_document(&policy);
        let p = &mut self.state.principals[idx];
        p.managed_arns
            .push(sourced(source, "attached policy", policy.text));
        if let Some((name, doc)) = resolved {
            p.policies
                .push(sourced(source, &format!("attached policy {name}"), doc));
        }
    }

    /// Pass 2 for one fact (whose documents pass 1 may have taken).
    fn apply(&mut self, urn: &'f str, fact: Fact) {
        match fact {
            Fact::Principal {
                kind,
                name,
                managed_arns,
                groups,
                ..
            } => {
                let idx = self.principal_entry(kind, &name, Some(urn));
                for arn in managed_arns {
                    self.attach(
                        idx,
                        urn,
                        Ref {
                            text: arn,
                            urn: None,
                        },
                    );
                }
                for g in groups {
                    self.state.principals[idx]
                        .groups
                        .push(sourced(urn, "group", g));
                }
            }
            Fact::Policy { attached, .. } => {
                for (kind, target) in attached {
                    let idx = self.resolve(kind, &target, urn);
                    self.attach(
                        idx,
                        urn,
                        Ref {
                            text: urn.to_owned(),
                            urn: Some(urn.to_owned()),
                        },
                    );
                }
            }
            Fact::InlinePolicy {
                kind,
                target,
                name,
                document,
            } => {
                let idx = self.resolve(kind, &target, urn);
                self.state.principals[idx].policies.push(sourced(
                    urn,
                    &format!("inline policy {name}"),
                    document,
                ));
            }
            Fact::Attachment {
                kind,
                target,
                policy,
            } => {
                let idx = self.resolve(kind, &target, urn);
                self.attach(idx, urn, policy);
            }
            Fact::Membership { user, group } => {
                let idx = self.resolve(PrincipalKind::User, &user, urn);
                let gname = last_segment(&group.text).to_owned();
                self.state.principals[idx]
                    .groups
                    .push(sourced(urn, "group membership", gname));
            }
            Fact::AccessKey { user, active } => self.state.access_keys.push(AccessKey {
                urn: urn.to_owned(),
                user: last_segment(&user.text).to_owned(),
                active,
            }),
            Fact::OidcProvider { url, client_ids } => {
                self.state.oidc_providers.push(OidcProvider {
                    urn: urn.to_owned(),
                    url,
                    client_ids,
                })
            }
            Fact::InstanceProfile { role } => {
                self.state
                    .instance_profiles
                    .push(sourced(urn, "instance profile role", role.text));
            }
            Fact::ResourcePolicy {
                kind,
                target,
                document,
            } => self.state.resource_policies.push(ResourcePolicy {
                urn: urn.to_owned(),
                kind,
                target,
                document: sourced(urn, "resource policy", document),
            }),
            Fact::PublicAccessBlock {
                target,
                block_public_acls,
                block_public_policy,
                ignore_public_acls,
                restrict_public_buckets,
            } => self.state.public_access_blocks.push(PublicAccessBlock {
                urn: urn.to_owned(),
                target,
                block_public_acls,
                block_public_policy,
                ignore_public_acls,
                restrict_public_buckets,
            }),
            Fact::Binding(b) => self.state.bindings.push(sourced(urn, "binding", b)),
            Fact::RoleDef(r) => self.state.role_defs.push(sourced(urn, "role", r)),
            Fact::Credential(c) => self.state.credentials.push(sourced(urn, "credential", c)),
            Fact::Unreadable {
                property,
                reason,
                digest,
            } => self.state.unreadable.push(Unreadable {
                urn: urn.to_owned(),
                property,
                reason,
                digest,
            }),
        }
    }

    /// A user's effective policies include those of its groups.
    fn inherit_group_policies(&mut self) {
        let groups: HashMap<String, Vec<Sourced<Document>>> = self
            .state
            .principals
            .iter()
            .filter(|p| p.kind == PrincipalKind::Group)
            .map(|g| (g.name.clone(), g.policies.clone()))
            .collect();
        for p in self
            .state
            .principals
            .iter_mut()
            .filter(|p| p.kind == PrincipalKind::User)
        {
            let mut inherited = Vec::new();
            for g in &p.groups {
                for pol in groups.get(&g.value).into_iter().flatten() {
                    inherited.push(Sourced {
                        urn: pol.urn.clone(),
                        label: format!("{} (via group {})", pol.label, g.value),
                        value: pol.value.clone(),
                    });
                }
            }
            p.policies.extend(inherited);
        }
    }
}
