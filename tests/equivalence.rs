//! Property tests: random equivalent rewrites of a policy give no diff, score 0, and the same
//! canonical form; a real change always shows.

use iamgate::engine::iam::normalize::{parse_document, to_json};
use iamgate::engine::iam::policy::Document;
use iamgate::engine::risk::RiskConfig;
use iamgate::engine::{Level, analyze, preview};
use proptest::prelude::*;
use serde_json::{Value, json};

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "iam:PassRole",
    "lambda:CreateFunction",
    "lambda:InvokeFunction",
    "ec2:RunInstances",
    "sts:AssumeRole",
    "kms:Decrypt",
    "logs:PutLogEvents",
    "s3:Get*",
    "dynamodb:*",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::bucket/*",
    "arn:aws:iam::123456789012:role/app",
    "arn:aws:logs:*:*:*",
];

#[derive(Debug, Clone)]
struct Stmt {
    deny: bool,
    actions: Vec<usize>,
    resources: Vec<usize>,
    condition: Option<(bool, usize)>,
}

fn stmt() -> impl Strategy<Value = Stmt> {
    (
        any::<bool>(),
        prop::collection::vec(0..ACTIONS.len(), 1..4),
        prop::collection::vec(0..RESOURCES.len(), 1..3),
        prop::option::of((any::<bool>(), 0..3usize)),
    )
        .prop_map(|(deny, actions, resources, condition)| Stmt {
            deny: deny && actions.len() == 1,
            actions,
            resources,
            condition,
        })
}

/// How to spell a policy: every choice keeps its meaning.
#[derive(Debug, Clone)]
struct Spelling {
    shuffle: Vec<usize>,
    upper_service: bool,
    lower_name: bool,
    scalar_when_single: bool,
    with_sids: bool,
    split_actions: bool,
    duplicate_first: bool,
    statement_object: bool,
    omit_version: bool,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    (
        prop::collection::vec(any::<usize>(), 16),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                shuffle,
                upper_service,
                lower_name,
                scalar_when_single,
                with_sids,
                split_actions,
                duplicate_first,
                statement_object,
                omit_version,
            )| Spelling {
                shuffle,
                upper_service,
                lower_name,
                scalar_when_single,
                with_sids,
                split_actions,
                duplicate_first,
                statement_object,
                omit_version,
            },
        )
}

fn spell_action(a: &str, s: &Spelling) -> String {
    let (svc, name) = a.split_once(':').unwrap_or((a, ""));
    let svc = if s.upper_service {
        svc.to_uppercase()
    } else {
        svc.to_owned()
    };
    let name = if s.lower_name {
        name.to_lowercase()
    } else {
        name.to_owned()
    };
    format!("{svc}:{name}")
}

fn list(items: Vec<String>, s: &Spelling) -> Value {
    if items.len() == 1 && s.scalar_when_single {
        json!(items[0])
    } else {
        json!(items)
    }
}

fn permute<T: Clone>(items: &[T], keys: &[usize]) -> Vec<T> {
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.sort_by_key(|i| keys[*i % keys.len()].wrapping_mul(31).wrapping_add(*i));
    idx.into_iter().map(|i| items[i].clone()).collect()
}

/// The policy in one spelling. With `Spelling::default`-like choices it is the plain form.
fn render(stmts: &[Stmt], s: &Spelling) -> Value {
    let mut out = Vec::new();
    for (i, st) in stmts.iter().enumerate() {
        let mut actions: Vec<String> = st
            .actions
            .iter()
            .map(|a| spell_action(ACTIONS[*a], s))
            .collect();
        actions = permute(&actions, &s.shuffle);
        let resources: Vec<String> = permute(
            &st.resources
                .iter()
                .map(|r| RESOURCES[*r].to_owned())
                .collect::<Vec<_>>(),
            &s.shuffle,
        );
        let groups: Vec<Vec<String>> = if s.split_actions && actions.len() > 1 {
            actions.into_iter().map(|a| vec![a]).collect()
        } else {
            vec![actions]
        };
        for (j, group) in groups.into_iter().enumerate() {
            let mut m = serde_json::Map::new();
            if s.with_sids {
                m.insert("Sid".into(), json!(format!("S{i}x{j}")));
            }
            m.insert(
                "Effect".into(),
                json!(if st.deny { "Deny" } else { "Allow" }),
            );
            m.insert("Action".into(), list(group, s));
            m.insert("Resource".into(), list(resources.clone(), s));
            if let Some((as_bool, n)) = st.condition {
                let value = if as_bool {
                    json!(true)
                } else {
                    json!(format!("o-{n}"))
                };
                let (op, key) = if as_bool {
                    ("Bool", "aws:SecureTransport")
                } else {
                    ("StringEquals", "aws:PrincipalOrgID")
                };
                m.insert("Condition".into(), json!({ op: { key: value } }));
            }
            out.push(Value::Object(m));
        }
    }
    if let Some(first) = out.first().cloned().filter(|_| s.duplicate_first) {
        out.push(first);
    }
    let out = permute(&out, &s.shuffle);
    let statement = if out.len() == 1 && s.statement_object {
        out[0].clone()
    } else {
        json!(out)
    };
    if s.omit_version {
        json!({ "Statement": statement })
    } else {
        json!({ "Version": "2008-10-17", "Statement": statement })
    }
}

fn plain() -> Spelling {
    Spelling {
        shuffle: vec![0],
        upper_service: false,
        lower_name: false,
        scalar_when_single: false,
        with_sids: false,
        split_actions: false,
        duplicate_first: false,
        statement_object: false,
        omit_version: false,
    }
}

/// A digest that updates one inline role policy from `old` to `new` (JSON strings, as AWS
/// classic stores them).
fn update_preview(old: &Value, new: &Value) -> String {
    let urn = "urn:pulumi:dev::p::aws:iam/rolePolicy:RolePolicy::app";
    let st = |policy: &Value| {
        json!({"urn": urn, "custom": true, "type": "aws:iam/rolePolicy:RolePolicy",
               "inputs": {"role": "app", "name": "app", "policy": policy.to_string()}})
    };
    json!({"steps": [{"op": "update", "urn": urn, "oldState": st(old), "newState": st(new), "diffReasons": ["policy"], "detailedDiff": null}]})
        .to_string()
}

fn canonical(v: &Value) -> Value {
    match parse_document(v) {
        Document::Known(p) => to_json(&p),
        other => panic!("not a known policy: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn equivalent_spellings_have_one_canonical_form(stmts in prop::collection::vec(stmt(), 1..4), a in spelling(), b in spelling()) {
        prop_assert_eq!(canonical(&render(&stmts, &a)), canonical(&render(&stmts, &b)));
    }

    #[test]
    fn equivalent_rewrites_give_no_diff_and_score_zero(stmts in prop::collection::vec(stmt(), 1..4), a in spelling()) {
        let text = update_preview(&render(&stmts, &plain()), &render(&stmts, &a));
        let preview = preview::parse(text.as_bytes()).unwrap();
        let analysis = analyze(&preview, &RiskConfig::default());
        prop_assert!(analysis.resources.is_empty(), "diff: {:?}", analysis.resources);
        prop_assert_eq!(analysis.risk.score, 0);
        prop_assert_eq!(analysis.risk.level, Level::None);
        prop_assert!(analysis.findings.iter().all(|f| !f.new));
    }

    #[test]
    fn adding_an_action_is_always_a_diff(stmts in prop::collection::vec(stmt(), 1..3), extra in 0..ACTIONS.len()) {
        let mut changed = stmts.clone();
        // A new Allow statement with a new action on a resource no other statement uses.
        changed.push(Stmt { deny: false, actions: vec![extra], resources: vec![2], condition: Some((false, 7)) });
        prop_assume!(!stmts.iter().any(|s| !s.deny && s.actions.contains(&extra) && s.resources.contains(&2) && s.condition == Some((false, 7))));
        let text = update_preview(&render(&stmts, &plain()), &render(&changed, &plain()));
        let preview = preview::parse(text.as_bytes()).unwrap();
        let analysis = analyze(&preview, &RiskConfig::default());
        prop_assert_eq!(analysis.resources.len(), 1);
        prop_assert!(analysis.resources[0].diff.contains('+'));
    }
}
