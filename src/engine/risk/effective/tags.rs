//! Tagging one's way past a resource-tag condition. `aws:ResourceTag/<key>` (and
//! `<service>:ResourceTag/<key>`) limits a grant to the resources that already carry the tag
//! (IAM User Guide, "Controlling access to AWS resources using tags"), unless the same subject may
//! put that tag on those resources itself: then it tags any resource and the condition limits
//! nothing ("attribute-based access control" needs the tags to be out of the principal's reach,
//! IAM User Guide, "Define permissions based on attributes with ABAC authorization").
//!
//! Only grants that the tags alone limit are concerned: a positive test on a key of the service
//! as well (`ram:ResourceShareName`, `ssm:DocumentType`) may narrow the resources in a way
//! iamgate does not read, and the grant stays limited (`grant::restriction`).
//!
//! A subject can put tag `<key>` on a resource when one of its grants holds a tagging action
//! (AWS access level "Tagging") that applies to the resource, is not itself limited (a tagging
//! grant limited by the tag, by `ec2:CreateAction` to tagging at creation, ... cannot retag an
//! existing resource), and whose condition does not keep `<key>` out: `Null` true on
//! `aws:RequestTag/<key>`, or `ForAllValues:` `aws:TagKeys` values that do not match it. Keys starting
//! with `aws:` are AWS's own and no principal can set them ("The aws: prefix is reserved for AWS
//! use", Tagging AWS Resources User Guide, "Tag naming limits and requirements").

use std::collections::HashSet;

use crate::engine::iam::actions::{ActionId, ActionSet, db};
use crate::engine::iam::policy::{Conditions, NameSpec, UNKNOWN_TEXT};
use crate::engine::risk::conditions;

use super::index::index;
use super::{Grant, Source, Strength};

/// The pending grants with every grant limited only by resource tags split in two: the actions
/// on resources where the subject may set all of those tags become weakly conditioned (the
/// condition does not limit them), the others stay limited.
pub(super) fn resolve(
    sources: &[Source<'_>],
    pending: Vec<(Grant, Vec<String>)>,
) -> Vec<(Grant, Vec<String>)> {
    let tagging = &index().tagging;
    let taggers: Vec<Tagger<'_>> = pending
        .iter()
        .filter(|(g, _)| g.strength != Strength::Limiting && !g.actions.0.is_disjoint(&tagging.0))
        .map(|(g, _)| Tagger::new(sources, g))
        .collect();
    if taggers.is_empty() {
        return pending;
    }
    let mut out = Vec::with_capacity(pending.len());
    for (g, tags) in pending {
        if tags.is_empty() {
            out.push((g, tags));
            continue;
        }
        // The conditions on several keys combine with AND: every tag must be settable.
        let setters: Vec<Vec<&Tagger<'_>>> = tags
            .iter()
            .map(|key| taggers.iter().filter(|t| t.can_set(key)).collect())
            .collect();
        let open: ActionSet = if setters.iter().any(Vec::is_empty) {
            ActionSet::new()
        } else {
            g.actions
                .iter()
                .filter(|&a| setters.iter().all(|ts| ts.iter().any(|t| t.reaches(a))))
                .collect()
        };
        if open.is_empty() {
            out.push((g, tags));
            continue;
        }
        let mut rest = g.actions.clone();
        rest.difference_with(&open);
        out.push((
            Grant {
                actions: open,
                strength: Strength::Weak,
                ..g.clone()
            },
            Vec::new(),
        ));
        if !rest.is_empty() {
            out.push((Grant { actions: rest, ..g }, tags));
        }
    }
    out
}

/// A grant of tagging actions.
struct Tagger<'a> {
    condition: &'a Conditions,
    reach: TagReach,
}

/// The resources a tagging grant may tag.
enum TagReach {
    /// Every resource of these types (ARN templates, compared as text: `ssm:StartSession` and
    /// `ec2:CreateTags` both name `arn:${Partition}:ec2:${Region}:${Account}:instance/...`),
    /// for a grant on `*`, and every action of these services for tagging actions that only
    /// accept `*`.
    Types {
        templates: HashSet<&'static str>,
        services: ActionSet,
    },
    /// The resources of the statement's patterns, as the actions that apply to them.
    Actions(ActionSet),
}

impl<'a> Tagger<'a> {
    fn new(sources: &[Source<'a>], g: &Grant) -> Tagger<'a> {
        let db = db();
        let statement = &sources[g.source].policy.statements[g.statement];
        let tagging = g.actions.intersection(&index().tagging);
        let reach = match &statement.resource {
            Some(NameSpec::Only(names)) if !names.contains("*") => {
                let mut actions = ActionSet::new();
                for name in names {
                    let name = name.replace(UNKNOWN_TEXT, "${iamgate:unknown}");
                    if tagging.iter().any(|t| db.resource_matches(t, &name)) {
                        actions.union_with(&db.actions_for_resource(&name));
                    }
                }
                TagReach::Actions(actions)
            }
            // `*`, no Resource or NotResource: every resource each tagging action applies to.
            _ => {
                let mut templates = HashSet::new();
                let mut services = ActionSet::new();
                for t in tagging.iter() {
                    let types = db.resource_types(t);
                    if types.is_empty() {
                        services.union_with(&index().service_set(db.service(t)));
                    }
                    templates.extend(types.iter().map(|ty| ty.arn_template));
                }
                TagReach::Types {
                    templates,
                    services,
                }
            }
        };
        Tagger {
            condition: &statement.condition,
            reach,
        }
    }

    /// Whether this grant may tag a resource that action `a` applies to.
    fn reaches(&self, a: ActionId) -> bool {
        match &self.reach {
            TagReach::Actions(actions) => actions.contains(a),
            TagReach::Types {
                templates,
                services,
            } => {
                services.contains(a)
                    || db()
                        .resource_types(a)
                        .iter()
                        .any(|ty| templates.contains(ty.arn_template))
            }
        }
    }

    /// Whether this grant's condition lets the subject set tag `key` (lowercased).
    fn can_set(&self, key: &str) -> bool {
        if key.starts_with("aws:") {
            return false;
        }
        self.condition.iter().all(|(op, keys)| {
            keys.iter().all(|(k, values)| {
                if k.ends_with(&format!(":requesttag/{key}")) {
                    // `Null: true`: the request must not carry the tag.
                    !(conditions::base_operator(op) == "null"
                        && values.iter().all(|v| v.eq_ignore_ascii_case("true")))
                } else if k == "aws:tagkeys"
                    && conditions::is_positive_operator(op)
                    && op.to_ascii_lowercase().starts_with("forallvalues:")
                {
                    // Every tag key of the request must be one of these.
                    values
                        .iter()
                        .any(|v| conditions::is_unknown(v) || conditions::like_match(v, key, true))
                } else {
                    true
                }
            })
        })
    }
}
