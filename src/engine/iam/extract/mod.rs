//! Extraction: from the steps of a preview to the IAM state before and after the change, and the
//! canonical IAM properties of every resource whose IAM changes. Pure: no I/O.
//!
//! Which side a step contributes to follows its op: creates and imports only after (an import's
//! resource already exists, so it counts before too), deletes only before, updates and replaces
//! both, `same` and `read` both (unchanged). Before = old inputs (falling back to old outputs per
//! property); after = new inputs. A property that cannot be read is a fact of its own
//! (`Fact::Unreadable`), never a silent absence. Steps of IAM-relevant types that no reader
//! models are listed apart (`unanalyzed`), with their inputs as their canonical properties.

mod assemble;
mod azure;
mod canonical;
mod facts;
mod gcp;
mod kubernetes;
mod props;
mod raw;
mod readers;
mod unanalyzed;

use std::collections::BTreeSet;

use rayon::prelude::*;
use serde_json::Value;
use serde_json::value::RawValue;

pub use facts::{Fact, Ref};
pub use unanalyzed::{Change, UnanalyzedStep};

use self::assemble::{Carrier, assemble};
use self::props::{DocMemo, Props};
use self::raw::Parsed;
use super::model::IamState;
use crate::engine::preview::{Op, Preview, State, Step};

/// The reader of a type, whichever cloud it belongs to.
fn reader(type_: &str) -> Option<readers::Reader> {
    readers::reader(type_)
        .or_else(|| gcp::reader(type_))
        .or_else(|| azure::reader(type_))
        .or_else(|| kubernetes::reader(type_))
}

/// Whether a resource type can carry IAM facts (cheap: called for every step).
pub fn is_iam_type(type_: &str) -> bool {
    reader(type_).is_some()
}

/// The IAM view of a whole preview.
#[derive(Debug, Clone, Default)]
pub struct Extraction {
    pub before: IamState,
    pub after: IamState,
    /// Every IAM-relevant resource of the preview, in step order, changed or not (an unanalyzed
    /// step only when it changes something).
    pub resources: Vec<ResourceIam>,
    /// The steps that change a resource of an IAM-relevant type iamgate does not model.
    pub unanalyzed: Vec<UnanalyzedStep>,
    /// Accounts the stack's own resources live in (from the ARNs of its roles, users, groups
    /// and policies): principals of these accounts are not external.
    pub home_accounts: BTreeSet<String>,
}

/// The canonical IAM properties of one resource, before and after (None: absent on that side).
/// Only a changed resource carries them: an unchanged one has `None` on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceIam {
    pub urn: String,
    pub type_: String,
    pub op: Op,
    pub before: Option<CanonicalText>,
    pub after: Option<CanonicalText>,
    changed: bool,
}

/// One side's canonical JSON, rendered once (text takes far less memory than a `Value` tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalText {
    /// Compact (`Value::to_string`): what the fingerprint hashes.
    pub compact: String,
    /// Pretty, with a final newline (`diff::pretty`): what the report shows and diffs.
    pub pretty: String,
}

impl CanonicalText {
    fn of(value: &Value) -> CanonicalText {
        CanonicalText {
            compact: value.to_string(),
            pretty: crate::engine::diff::pretty(value),
        }
    }
}

impl ResourceIam {
    /// Whether the change alters what this resource grants.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The resource of a step, from the facts of both sides. The canonical JSON is built only
    /// when the two sides can differ in it (facts that are equal but for the ARNs, which the
    /// canonical form leaves out, render the same).
    fn new(step: &Step<'_>, before: Option<&[Fact]>, after: Option<&[Fact]>) -> ResourceIam {
        let same = match (before, after) {
            (Some(b), Some(a)) => canonical::same_facts(b, a),
            (None, None) => true,
            _ => false,
        };
        let (before, after) = if same {
            (None, None)
        } else {
            let before = before.map(canonical::facts_json);
            let after = after.map(canonical::facts_json);
            if before == after {
                (None, None)
            } else {
                (
                    before.as_ref().map(CanonicalText::of),
                    after.as_ref().map(CanonicalText::of),
                )
            }
        };
        ResourceIam {
            urn: step.urn.clone(),
            type_: step.type_.clone(),
            op: step.op.clone(),
            changed: before.is_some() || after.is_some(),
            before,
            after,
        }
    }
}

struct StepFacts<'p> {
    step: &'p Step<'p>,
    before: Option<Vec<Fact>>,
    after: Option<Vec<Fact>>,
}

/// What one step of the preview is to the IAM view.
enum Read<'p> {
    Modeled(StepFacts<'p>),
    /// The step and its resource (taken out into `resources`). Boxed: rare, and far larger than
    /// the facts of a modeled step.
    Unanalyzed(Box<(UnanalyzedStep, Option<ResourceIam>)>),
}

/// Extracts the IAM view of a preview.
pub fn extract<'p>(preview: &'p Preview<'p>) -> Extraction {
    let mut read: Vec<Read<'p>> = preview
        .steps
        .par_iter()
        .filter_map(|s| {
            if is_iam_type(&s.type_) {
                Some(Read::Modeled(read_step(s)))
            } else {
                let (step, resource) = unanalyzed::read(s)?;
                Some(Read::Unanalyzed(Box::new((step, Some(resource)))))
            }
        })
        .collect();

    // In step order; the canonical JSON of each side is the costly part, built in parallel.
    let resources = read
        .par_iter_mut()
        .filter_map(|item| match item {
            Read::Modeled(sf) if sf.before.is_some() || sf.after.is_some() => Some(
                ResourceIam::new(sf.step, sf.before.as_deref(), sf.after.as_deref()),
            ),
            Read::Modeled(_) => None,
            Read::Unanalyzed(u) => u.1.take(),
        })
        .collect();
    let mut per_step = Vec::with_capacity(read.len());
    let mut unanalyzed = Vec::new();
    for item in read {
        match item {
            Read::Modeled(sf) => per_step.push(sf),
            Read::Unanalyzed(u) => unanalyzed.push(u.0),
        }
    }
    let home_accounts = per_step
        .iter()
        .flat_map(|sf| sf.before.iter().chain(sf.after.iter()).flatten())
        .filter_map(|fact| match fact {
            Fact::Principal { arn: Some(arn), .. } | Fact::Policy { arn: Some(arn), .. } => {
                account_of(arn)
            }
            _ => None,
        })
        .collect();

    // The facts move into the states: each side owns its own.
    let mut before_carriers = Vec::new();
    let mut after_carriers = Vec::new();
    for sf in per_step {
        let urn = sf.step.urn.as_str();
        if let Some(facts) = sf.before {
            before_carriers.push(Carrier { urn, facts });
        }
        if let Some(facts) = sf.after {
            after_carriers.push(Carrier { urn, facts });
        }
    }
    let (before, after) = rayon::join(|| assemble(before_carriers), || assemble(after_carriers));
    Extraction {
        before,
        after,
        resources,
        unanalyzed,
        home_accounts,
    }
}

/// The account id of an ARN (`arn:aws:iam::123456789012:role/x`), when it has one.
fn account_of(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_owned())
}

fn read_step<'p>(step: &'p Step<'p>) -> StepFacts<'p> {
    let name = step.urn.rsplit("::").next().unwrap_or(&step.urn);
    // The states the op uses: reading one it drops would be wasted work.
    let (use_old, use_new) = match step.op {
        Op::Create | Op::CreateReplacement | Op::Import | Op::ImportReplacement => (false, true),
        Op::Delete
        | Op::DeleteReplaced
        | Op::Discard
        | Op::DiscardReplaced
        | Op::RemovePendingReplace => (true, false),
        _ => (true, true),
    };
    let old_state = step.old.as_ref().filter(|_| use_old);
    let new_state = step.new.as_ref().filter(|_| use_new);
    let memo = DocMemo::default();
    let old_values = old_state.map(|s| (raw::parse(s.inputs), raw::parse(s.outputs)));
    // An unchanged resource's new inputs are usually its old ones, byte for byte: parsed once.
    let new_owned;
    let new_inputs: Option<&Parsed> = match (new_state, old_state, &old_values) {
        (None, ..) => None,
        (Some(n), Some(o), Some((inputs, _))) if raw_text(n.inputs) == raw_text(o.inputs) => {
            Some(inputs)
        }
        (Some(n), ..) => {
            new_owned = raw::parse(n.inputs);
            Some(&new_owned)
        }
    };
    let old = old_state
        .zip(old_values.as_ref())
        .map(|(s, (inputs, outputs))| read_state(step, s, inputs, Some(outputs), name, &memo));
    let new = new_state
        .zip(new_inputs)
        .map(|(s, inputs)| read_state(step, s, inputs, None, name, &memo));
    let (before, after) = match step.op {
        Op::Create | Op::CreateReplacement => (None, new),
        Op::Delete
        | Op::DeleteReplaced
        | Op::Discard
        | Op::DiscardReplaced
        | Op::RemovePendingReplace => (old, None),
        // An imported resource already exists with these properties.
        Op::Import | Op::ImportReplacement => (new.clone(), new),
        Op::Same | Op::Read | Op::ReadReplacement | Op::Refresh => match (old, new) {
            (Some(o), Some(n)) => (Some(o), Some(n)),
            (Some(o), None) => (Some(o.clone()), Some(o)),
            (None, Some(n)) => (Some(n.clone()), Some(n)),
            (None, None) => (None, None),
        },
        Op::Update | Op::Replace | Op::Other(_) => (old, new),
    };
    StepFacts {
        step,
        before: present(before),
        after: present(after),
    }
}

fn raw_text(raw: Option<&RawValue>) -> Option<&str> {
    raw.map(RawValue::get)
}

/// The facts of one state: `inputs`, falling back to `outputs` (old states only), and a fact for
/// each property that could not be read (of the outputs, those the inputs do not give).
fn read_state(
    step: &Step<'_>,
    state: &State<'_>,
    inputs: &Parsed,
    outputs: Option<&Parsed>,
    name: &str,
    memo: &DocMemo,
) -> Vec<Fact> {
    let props = Props {
        primary: &inputs.value,
        fallback: outputs.map(|o| &o.value),
        deps: &state.property_dependencies,
        memo,
    };
    let type_ = if state.type_.is_empty() {
        &step.type_
    } else {
        &state.type_
    };
    let mut facts = if type_.starts_with("gcp:") {
        // Google Cloud's reader builds a resource's scope from its type.
        gcp::read(type_, &props, name)
    } else {
        reader(type_).map(|r| r(&props, name)).unwrap_or_default()
    };
    let in_inputs = |property: &str| match &inputs.value {
        Value::Object(map) => map.contains_key(property),
        _ => false,
    };
    let unread_outputs = outputs.into_iter().flat_map(|o| &o.unreadable).filter(|u| {
        !in_inputs(&u.property) && !inputs.unreadable.iter().any(|i| i.property == u.property)
    });
    facts.extend(
        inputs
            .unreadable
            .iter()
            .chain(unread_outputs)
            .map(|u| Fact::Unreadable {
                property: u.property.clone(),
                reason: u.reason.clone(),
                digest: u.digest.clone(),
            }),
    );
    facts
}

/// A side that carries no IAM facts (a bucket without a policy) is absent, so that a resource
/// gaining or losing its only policy shows as such and one that never had any is not a change.
fn present(facts: Option<Vec<Fact>>) -> Option<Vec<Fact>> {
    facts.filter(|f| !f.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::engine::iam::model::{Principal, PrincipalKind, ResourceKind};
    use crate::engine::iam::policy::Document;
    use crate::engine::preview;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/previews/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).unwrap()
    }

    fn principal<'s>(state: &'s IamState, kind: PrincipalKind, name: &str) -> &'s Principal {
        state
            .principals
            .iter()
            .find(|p| p.kind == kind && p.name == name)
            .unwrap_or_else(|| panic!("no {kind:?} {name} in {:#?}", state.principals))
    }

    #[test]
    fn attachments_with_unknown_role_names_resolve_through_property_dependencies() {
        let bytes = fixture("stratify-aws-lambda-iam-creates.preview.json");
        let p = preview::parse(&bytes).unwrap();
        let ex = extract(&p);
        assert!(
            ex.before.principals.is_empty(),
            "a fresh stack has nothing before"
        );
        let role = principal(&ex.after, PrincipalKind::Role, "docsHandler-ae85f73");
        assert_eq!(role.managed_arns.len(), 9, "{:#?}", role.managed_arns);
        assert!(
            role.managed_arns
                .iter()
                .any(|a| a.value == "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess")
        );
        assert!(matches!(
            role.trust.as_ref().map(|t| &t.value),
            Some(Document::Known(_))
        ));
        // The Lambda permission becomes a resource policy.
        assert_eq!(ex.after.resource_policies.len(), 1);
        assert_eq!(
            ex.after.resource_policies[0].kind,
            ResourceKind::LambdaFunction
        );
        // Every IAM resource is created: all are changes.
        assert!(ex.resources.iter().all(ResourceIam::changed));
        assert_eq!(ex.resources.len(), 11, "role, 9 attachments, permission");
    }

    #[test]
    fn deletes_only_have_a_before_side_and_sames_are_unchanged() {
        let bytes = fixture("stratify-aws-lambda-iam-deletes.preview.json");
        let ex = extract(&preview::parse(&bytes).unwrap());
        assert!(ex.after.principals.is_empty());
        let role = principal(&ex.before, PrincipalKind::Role, "docsHandler-9eca035");
        assert_eq!(role.managed_arns.len(), 9);

        let bytes = fixture("stratify-aws-lambda-iam-update-show-sames.preview.json");
        let ex = extract(&preview::parse(&bytes).unwrap());
        assert!(!ex.resources.is_empty());
        assert!(
            ex.resources.iter().all(|r| !r.changed()),
            "only `same` IAM steps"
        );
        assert_eq!(ex.before, ex.after);
    }

    fn digest(steps: serde_json::Value) -> String {
        json!({ "steps": steps }).to_string()
    }

    fn create(
        type_: &str,
        name: &str,
        inputs: serde_json::Value,
        deps: serde_json::Value,
    ) -> serde_json::Value {
        let urn = format!("urn:pulumi:dev::p::{type_}::{name}");
        json!({"op": "create", "urn": urn, "newState": {"urn": urn, "type": type_, "inputs": inputs, "propertyDependencies": deps}})
    }

    #[test]
    fn a_user_combines_inline_attached_and_group_policies() {
        let doc = |action: &str| {
            json!({"Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
                .to_string()
        };
        let text = digest(json!([
            create(
                "aws:iam/user:User",
                "bob",
                json!({"name": "bob"}),
                json!({})
            ),
            create(
                "aws:iam/group:Group",
                "devs",
                json!({"name": "devs"}),
                json!({})
            ),
            create(
                "aws:iam/groupPolicy:GroupPolicy",
                "devs-p",
                json!({"group": "devs", "name": "g", "policy": doc("lambda:CreateFunction")}),
                json!({})
            ),
            create(
                "aws:iam/groupMembership:GroupMembership",
                "m",
                json!({"group": "devs", "users": ["bob"]}),
                json!({})
            ),
            create(
                "aws:iam/userPolicy:UserPolicy",
                "bob-p",
                json!({"user": "bob", "name": "u", "policy": doc("iam:PassRole")}),
                json!({})
            ),
            create(
                "aws:iam/policy:Policy",
                "invoke",
                json!({"name": "invoke", "policy": doc("lambda:InvokeFunction")}),
                json!({})
            ),
            create(
                "aws:iam/userPolicyAttachment:UserPolicyAttachment",
                "bob-a",
                json!({"user": "bob", "policyArn": crate::engine::preview::UNKNOWN}),
                json!({"policyArn": ["urn:pulumi:dev::p::aws:iam/policy:Policy::invoke"]})
            ),
            create(
                "aws:iam/userPolicyAttachment:UserPolicyAttachment",
                "bob-admin",
                json!({"user": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
                json!({})
            ),
        ]));
        let p = preview::parse(text.as_bytes()).unwrap();
        let ex = extract(&p);
        let bob = principal(&ex.after, PrincipalKind::User, "bob");
        let labels: Vec<&str> = bob.policies.iter().map(|s| s.label.as_str()).collect();
        assert!(labels.contains(&"inline policy u"), "{labels:?}");
        assert!(labels.contains(&"attached policy invoke"), "{labels:?}");
        assert!(
            labels.contains(&"attached policy AdministratorAccess"),
            "known offline: {labels:?}"
        );
        assert!(
            labels.contains(&"inline policy g (via group devs)"),
            "{labels:?}"
        );
        assert_eq!(
            bob.urn.as_deref(),
            Some("urn:pulumi:dev::p::aws:iam/user:User::bob")
        );
    }

    #[test]
    fn an_attachment_to_a_role_outside_the_preview_gets_a_principal_by_name() {
        let text = digest(json!([
            create(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "a",
                json!({"role": "existing", "policyArn": "arn:aws:iam::aws:policy/IAMFullAccess"}),
                json!({})
            ),
            create(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "b",
                json!({"role": "arn:aws:iam::123456789012:role/path/existing", "policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"}),
                json!({})
            ),
        ]));
        let p = preview::parse(text.as_bytes()).unwrap();
        let ex = extract(&p);
        assert_eq!(
            ex.after.principals.len(),
            1,
            "name and ARN are the same role"
        );
        let role = principal(&ex.after, PrincipalKind::Role, "existing");
        assert_eq!(role.urn, None);
        assert_eq!(
            role.report_urn(),
            "urn:pulumi:dev::p::aws:iam/rolePolicyAttachment:RolePolicyAttachment::a"
        );
        assert_eq!(role.managed_arns.len(), 2);
    }

    #[test]
    fn aws_native_documents_are_objects() {
        let text = digest(json!([
            create(
                "aws-native:iam:Role",
                "r",
                json!({
                    "roleName": "r",
                    "assumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                    "policies": [{"policyName": "p", "policyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}],
                    "managedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
                }),
                json!({})
            ),
            create(
                "aws-native:kms:Key",
                "k",
                json!({"keyPolicy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}}),
                json!({})
            ),
        ]));
        let p = preview::parse(text.as_bytes()).unwrap();
        let ex = extract(&p);
        let role = principal(&ex.after, PrincipalKind::Role, "r");
        assert!(matches!(
            role.trust.as_ref().map(|t| &t.value),
            Some(Document::Known(_))
        ));
        // ReadOnlyAccess is known by ARN: its document is attached from the managed-policy table.
        assert_eq!(role.policies.len(), 2, "{:?}", role.policies);
        assert_eq!(role.policies[1].label, "attached policy ReadOnlyAccess");
        assert!(matches!(role.policies[1].value, Document::Known(_)));
        assert_eq!(
            role.managed_arns[0].value,
            "arn:aws:iam::aws:policy/ReadOnlyAccess"
        );
        assert_eq!(ex.after.resource_policies[0].kind, ResourceKind::KmsKey);
    }

    #[test]
    fn modeled_types_are_read_by_their_readers_never_unanalyzed() {
        // The table's catch-alls (`aws:iam:*`, `*Permission`, ...) match modeled types too.
        let types = [
            "aws:iam/role:Role",
            "aws:iam/rolePolicy:RolePolicy",
            "aws:s3/bucketPolicy:BucketPolicy",
            "aws:lambda/permission:Permission",
            "aws-native:iam:Role",
            "azure-native:authorization:RoleAssignment",
            "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment",
        ];
        for t in types {
            assert!(is_iam_type(t), "{t}");
            assert!(crate::engine::iam::unmodeled::lookup(t).is_some(), "{t}");
        }
        let steps: Vec<serde_json::Value> = types
            .iter()
            .map(|t| create(t, "x", json!({}), json!({})))
            .collect();
        let text = digest(json!(steps));
        let ex = extract(&preview::parse(text.as_bytes()).unwrap());
        assert!(ex.unanalyzed.is_empty(), "{:?}", ex.unanalyzed);
    }

    #[test]
    fn home_accounts_come_from_the_stacks_own_arns() {
        let urn = "urn:pulumi:dev::p::aws:iam/role:Role::r";
        let text = json!({"steps": [{"op": "same", "urn": urn,
            "oldState": {"urn": urn, "type": "aws:iam/role:Role", "inputs": {"name": "r"}, "outputs": {"arn": "arn:aws:iam::111122223333:role/r", "name": "r"}},
            "newState": {"urn": urn, "type": "aws:iam/role:Role", "inputs": {"name": "r"}}}]})
        .to_string();
        let ex = extract(&preview::parse(text.as_bytes()).unwrap());
        assert!(ex.home_accounts.contains("111122223333"));
    }

    const UNKNOWN: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

    fn admin_policy(name: &str) -> serde_json::Value {
        create(
            "aws:iam/policy:Policy",
            name,
            json!({"name": name, "policy": json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}).to_string()}),
            json!({}),
        )
    }

    fn role(name: &str) -> serde_json::Value {
        create(
            "aws:iam/role:Role",
            name,
            json!({"name": name, "assumeRolePolicy": "{}"}),
            json!({}),
        )
    }

    /// An attachment as the event stream gives it on a create: both references computed, and
    /// no `propertyDependencies`.
    fn computed_attachment(name: &str) -> serde_json::Value {
        create(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            name,
            json!({"role": UNKNOWN, "policyArn": UNKNOWN}),
            json!({}),
        )
    }

    #[test]
    fn without_dependencies_the_one_created_policy_and_role_are_what_an_attachment_names() {
        let text = digest(json!([
            role("app"),
            admin_policy("admin"),
            computed_attachment("attach")
        ]));
        let ex = extract(&preview::parse(text.as_bytes()).unwrap());
        let app = principal(&ex.after, PrincipalKind::Role, "app");
        assert_eq!(app.policies.len(), 1, "{:#?}", app.policies);
        assert_eq!(app.policies[0].label, "attached policy admin");
        assert_eq!(ex.after.principals.len(), 1, "no placeholder role");
        let policy_urn = "urn:pulumi:dev::p::aws:iam/policy:Policy::admin";
        assert!(ex.after.attached_policies.contains(policy_urn));
    }

    #[test]
    fn without_dependencies_two_candidates_link_nothing_and_lose_nothing() {
        let text = digest(json!([
            role("app"),
            role("other"),
            admin_policy("admin"),
            admin_policy("admin2"),
            computed_attachment("attach")
        ]));
        let ex = extract(&preview::parse(text.as_bytes()).unwrap());
        // Ambiguous: neither policy is taken as attached, so each is still judged on its own.
        assert!(ex.after.attached_policies.is_empty());
        assert_eq!(ex.after.standalone_policies.len(), 2);
        for name in ["app", "other"] {
            assert!(
                principal(&ex.after, PrincipalKind::Role, name)
                    .policies
                    .is_empty()
            );
        }
        // The attachment's target stays an unknown placeholder of its own.
        let placeholder = ex
            .after
            .principals
            .iter()
            .find(|p| p.name.contains("attach"))
            .expect("a placeholder for the unknown role");
        assert_eq!(placeholder.managed_arns.len(), 1);
    }

    #[test]
    fn a_known_policy_arn_is_never_replaced_by_the_one_candidate() {
        let text = digest(json!([
            role("app"),
            admin_policy("admin"),
            create(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "attach",
                json!({"role": "app", "policyArn": "arn:aws:iam::111122223333:policy/elsewhere"}),
                json!({}),
            )
        ]));
        let ex = extract(&preview::parse(text.as_bytes()).unwrap());
        assert!(ex.after.attached_policies.is_empty());
        let app = principal(&ex.after, PrincipalKind::Role, "app");
        assert!(app.policies.is_empty(), "{:#?}", app.policies);
        assert_eq!(app.managed_arns.len(), 1);
    }
}
