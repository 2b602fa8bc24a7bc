use serde_json::{Value, json};

use super::*;
use crate::engine::risk::Confidence;
use crate::engine::risk::effective::testing::*;

const PE_009: [&str; 3] = [
    "iam:PassRole",
    "lambda:CreateFunction",
    "lambda:InvokeFunction",
];

fn findings_for(docs: &[Value]) -> Vec<Finding> {
    run(check, &state(vec![role("app", docs)]))
}

fn fires(docs: &[Value], rule_id: &str) -> bool {
    !of(&findings_for(docs), rule_id).is_empty()
}

/// The actions of a path's example policy.
fn example_actions(path: &Path) -> Vec<String> {
    let doc: Value =
        serde_json::from_str(path.rule.example).unwrap_or_else(|e| panic!("{}: {e}", path.rule.id));
    doc["Statement"][0]["Action"]
        .as_array()
        .expect("an action list")
        .iter()
        .map(|a| a.as_str().expect("a string").to_owned())
        .collect()
}

/// Removing one of these actions from the example leaves another way of the path.
const STILL_POSSIBLE: [(&str, &str); 2] = [
    ("AWS-PE-055", "iam:PassRole"),
    ("AWS-PE-055", "bedrock-agentcore:CreateCodeInterpreter"),
];

#[test]
fn every_path_fires_on_its_example_and_not_without_any_one_step() {
    for path in PATHS.iter().filter(|p| !p.needs_trusting_role) {
        let id = path.rule.id;
        let actions = example_actions(path);
        let refs: Vec<&str> = actions.iter().map(String::as_str).collect();
        let found = findings_for(&[allow(&refs, &["*"])]);
        let f = one(&found, id);
        assert_eq!(f.severity, Severity::Critical, "{id}");
        let mut expected = refs.clone();
        expected.sort_unstable();
        assert_eq!(
            f.evidence,
            expected.join(","),
            "{id}: evidence is the sorted core actions"
        );
        for missing in &refs {
            if STILL_POSSIBLE.contains(&(id, missing)) {
                continue;
            }
            let rest: Vec<&str> = refs.iter().copied().filter(|a| a != missing).collect();
            if rest.is_empty() {
                continue;
            }
            assert!(
                !fires(&[allow(&rest, &["*"])], id),
                "{id} fires without {missing}"
            );
        }
    }
}

#[test]
fn single_action_paths_do_not_fire_on_nothing() {
    for path in PATHS {
        assert!(
            !fires(&[allow(&["s3:GetObject"], &["*"])], path.rule.id),
            "{}",
            path.rule.id
        );
    }
}

#[test]
fn every_core_action_is_in_the_database() {
    // Retired or portal-only names that AWS no longer lists; they can never be granted.
    let absent = ["codestar:CreateProjectFromTemplate"];
    for path in PATHS {
        for way in path.ways {
            for step in *way {
                for name in *step {
                    if !absent.contains(name) {
                        assert!(
                            db().lookup(name).is_some(),
                            "{}: {name} is not an AWS action",
                            path.rule.id
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn pe009_combines_the_policies_of_one_role() {
    let found = findings_for(&[
        allow(&["iam:PassRole"], &["*"]),
        allow(&["lambda:CreateFunction", "lambda:InvokeFunction"], &["*"]),
    ]);
    let f = one(&found, "AWS-PE-009");
    assert_eq!(
        f.evidence,
        "iam:PassRole,lambda:CreateFunction,lambda:InvokeFunction"
    );
    assert_eq!(f.subject, "role/app");
    assert_eq!(
        f.category,
        crate::engine::risk::Category::PrivilegeEscalation
    );
    assert!(
        f.message.contains("inline policy p0") && f.message.contains("inline policy p1"),
        "{}",
        f.message
    );
    assert_eq!(f.confidence, Confidence::Direct);
}

#[test]
fn pe009_needs_every_step() {
    assert!(!fires(
        &[
            allow(&["iam:PassRole"], &["*"]),
            allow(&["lambda:CreateFunction"], &["*"])
        ],
        "AWS-PE-009"
    ));
}

#[test]
fn pe009_unconditional_deny_removes_a_step_conditional_deny_does_not() {
    assert!(!fires(
        &[allow(&PE_009, &["*"]), deny(&["iam:PassRole"])],
        "AWS-PE-009"
    ));
    let conditional = statements(
        json!([{"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*",
        "Condition": {"Bool": {"aws:ViaAWSService": "false"}}}]),
    );
    let found = findings_for(&[allow(&PE_009, &["*"]), conditional]);
    let f = one(&found, "AWS-PE-009");
    assert!(f.message.contains("Deny may limit this"), "{}", f.message);
}

#[test]
fn severity_follows_the_narrowest_step() {
    let pinned = findings_for(&[
        allow(
            &["iam:PassRole"],
            &["arn:aws:iam::111122223333:role/app-fn"],
        ),
        allow(&["lambda:CreateFunction", "lambda:InvokeFunction"], &["*"]),
    ]);
    let f = one(&pinned, "AWS-PE-009");
    assert_eq!((f.severity, f.scope), (Severity::Medium, Scope::Pinned));

    let wildcard = findings_for(&[
        allow(&["iam:PassRole"], &["arn:aws:iam::111122223333:role/app-*"]),
        allow(&["lambda:CreateFunction", "lambda:InvokeFunction"], &["*"]),
    ]);
    let f = one(&wildcard, "AWS-PE-009");
    assert_eq!((f.severity, f.scope), (Severity::High, Scope::Wildcard));

    let every_role = findings_for(&[allow(
        &PE_009,
        &["arn:aws:iam::*:role/*", "arn:aws:lambda:*:*:function:*"],
    )]);
    assert_eq!(one(&every_role, "AWS-PE-009").severity, Severity::Critical);

    assert_eq!(severity_for(Scope::All), Severity::Critical);
    assert_eq!(severity_for(Scope::Wildcard), Severity::High);
    assert_eq!(severity_for(Scope::Pinned), Severity::Medium);
}

#[test]
fn limiting_conditions_lower_confidence_weak_ones_do_not() {
    let limited = allow_if(
        &PE_009,
        &["*"],
        json!({"StringEquals": {"aws:SourceVpc": "vpc-1a2b3c4d"}}),
    );
    let f = one(&findings_for(&[limited]), "AWS-PE-009").clone();
    assert_eq!(
        (f.severity, f.confidence),
        (Severity::High, Confidence::Conditioned)
    );

    let weak = allow_if(
        &PE_009,
        &["*"],
        json!({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}}),
    );
    let f = one(&findings_for(&[weak]), "AWS-PE-009").clone();
    assert_eq!(
        (f.severity, f.scope, f.confidence),
        (Severity::High, Scope::Wildcard, Confidence::Direct)
    );
}

#[test]
fn fn2_wildcard_policy_arns_are_not_pinned() {
    let fn2 = allow(
        &["iam:CreatePolicyVersion"],
        &["arn:aws:iam::*:policy/fn2-*"],
    );
    let f = one(&findings_for(&[fn2]), "AWS-PE-018").clone();
    assert_eq!((f.severity, f.scope), (Severity::High, Scope::Wildcard));
}

#[test]
fn fn4_not_action_still_allows_ssm_paths() {
    let fn4 = statements(
        json!([{"Effect": "Allow", "NotAction": ["iam:Update*", "iam:Create*", "iam:Attach*"], "Resource": "*"}]),
    );
    let found = findings_for(&[fn4]);
    assert_eq!(one(&found, "AWS-PE-028").severity, Severity::Critical);
    assert!(
        !of(&found, "AWS-PE-009").is_empty(),
        "PassRole and Lambda stay allowed"
    );
    for excluded in ["AWS-PE-001", "AWS-PE-016", "AWS-PE-018", "AWS-PE-031"] {
        assert!(
            of(&found, excluded).is_empty(),
            "{excluded} needs an excluded IAM action"
        );
    }
}

#[test]
fn alternatives_pick_the_broadest() {
    let found = findings_for(&[
        allow(&["iam:PassRole", "ecs:RegisterTaskDefinition"], &["*"]),
        allow(
            &["ecs:RunTask"],
            &["arn:aws:ecs:eu-west-1:111122223333:task-definition/app:1"],
        ),
        allow(&["ecs:CreateService"], &["*"]),
    ]);
    let f = one(&found, "AWS-PE-050");
    assert_eq!(
        f.evidence,
        "ecs:CreateService,ecs:RegisterTaskDefinition,iam:PassRole"
    );
    assert_eq!(f.severity, Severity::Critical);
}

#[test]
fn no_paths_for_an_admin() {
    let found = findings_for(&[allow(&["*"], &["*"])]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn pe030_assume_role_reaches_a_role_trusting_the_account() {
    let open = trusted_role(
        "shared",
        trust(json!({"AWS": "arn:aws:iam::111122223333:root"})),
        &[],
    );
    let caller = role("ci", &[allow(&["sts:AssumeRole"], &["*"])]);
    let found = run(check, &state(vec![caller.clone(), open.clone()]));
    let f = one(&found, "AWS-PE-030");
    assert_eq!(f.subject, "role/ci");
    assert_eq!(f.evidence, "sts:AssumeRole->role/shared");
    assert_eq!(f.severity, Severity::Critical);

    // No role trusts the account: nothing to reach.
    let narrow = trusted_role(
        "narrow",
        trust(json!({"AWS": "arn:aws:iam::111122223333:role/ci"})),
        &[],
    );
    assert!(of(&run(check, &state(vec![caller, narrow])), "AWS-PE-030").is_empty());

    // Pinned to another role: not reached; pinned to the open role: reached, medium.
    let other = role(
        "ci",
        &[allow(
            &["sts:AssumeRole"],
            &["arn:aws:iam::111122223333:role/other"],
        )],
    );
    assert!(of(&run(check, &state(vec![other, open.clone()])), "AWS-PE-030").is_empty());
    let pinned = role(
        "ci",
        &[allow(
            &["sts:AssumeRole"],
            &["arn:aws:iam::111122223333:role/shared"],
        )],
    );
    let found = run(check, &state(vec![pinned, open]));
    assert_eq!(one(&found, "AWS-PE-030").severity, Severity::Medium);
}

#[test]
fn pe030_ignores_trust_limited_by_a_condition() {
    let guarded = trusted_role(
        "shared",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "sts:AssumeRole", "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/ops"}}}]}),
        &[],
    );
    let caller = role("ci", &[allow(&["sts:AssumeRole"], &["*"])]);
    assert!(of(&run(check, &state(vec![caller, guarded])), "AWS-PE-030").is_empty());
}

#[test]
fn paths_run_on_standalone_policies() {
    let mut st = state(Vec::new());
    st.standalone_policies
        .push(standalone("deploy", &allow(&PE_009, &["*"])));
    let found = run(check, &st);
    assert_eq!(
        one(&found, "AWS-PE-009").subject,
        "urn:pulumi:dev::app::aws:iam/policy:Policy::deploy"
    );
}

#[test]
fn glob_follows_iam_rules() {
    assert!(glob("sts:Assume*", "sts:AssumeRole"));
    assert!(glob("STS:assumerole", "sts:AssumeRole"));
    assert!(glob("*", "anything"));
    assert!(glob("app-?", "app-1"));
    assert!(!glob("app-?", "app-12"));
    assert!(!glob("sts:Get*", "sts:AssumeRole"));
    assert!(names_role(
        "arn:aws:iam::111122223333:role/path/shared",
        "shared"
    ));
    assert!(names_role("arn:aws:iam::*:*", "shared"));
    assert!(!names_role(
        "arn:aws:iam::111122223333:role/other",
        "shared"
    ));
}
