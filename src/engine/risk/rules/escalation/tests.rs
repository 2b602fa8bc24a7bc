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

#[test]
fn every_pass_role_path_names_its_services() {
    for path in PATHS {
        let passes = path
            .ways
            .iter()
            .any(|way| way.iter().any(|step| step.contains(&"iam:PassRole")));
        assert_eq!(
            passes,
            !path.passes_to.is_empty(),
            "{}: passes_to must name the services iam:PassRole passes roles to",
            path.rule.id
        );
    }
}

/// PassRole on `*` with this condition, and `ec2:RunInstances` on `*`.
fn pass_to_ec2(condition: Value) -> Vec<Finding> {
    findings_for(&[
        allow_if(&["iam:PassRole"], &["*"], condition),
        allow(&["ec2:RunInstances"], &["*"]),
    ])
}

#[test]
fn passed_to_service_allowing_the_paths_service_completes_it() {
    // IAM User Guide, "IAM and AWS STS condition context keys", iam:PassedToService: it limits
    // only which service receives the role. Excerpt of EC2FleetTimeShiftableServiceRolePolicy:
    // PassRole to EC2 with ec2:RunInstances is the classic path, unconditioned.
    let fleet = pass_to_ec2(
        json!({"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}),
    );
    let f = one(&fleet, "AWS-PE-007");
    assert_eq!(
        (f.severity, f.scope, f.confidence),
        (Severity::Critical, Scope::All, Confidence::Direct)
    );
    // StringLike with `*` and `?`, ForAnyValue, the China partition's principal, a negated
    // test that leaves EC2 out of its list: all let the role reach EC2.
    for condition in [
        json!({"StringLike": {"iam:PassedToService": "ec2.amazonaws.*"}}),
        json!({"StringLike": {"iam:PassedToService": "ec?.amazonaws.com"}}),
        json!({"StringLike": {"iam:PassedToService": "*"}}),
        json!({"ForAnyValue:StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
        json!({"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com.cn"}}),
        json!({"StringNotEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
    ] {
        assert_eq!(
            one(&pass_to_ec2(condition.clone()), "AWS-PE-007").severity,
            Severity::Critical,
            "{condition}"
        );
    }
}

#[test]
fn passed_to_another_service_is_no_path() {
    // PassRole to Lambda with only ec2:RunInstances: the role cannot reach EC2.
    for condition in [
        json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
        json!({"StringLike": {"iam:PassedToService": "lambda.*"}}),
        json!({"StringNotEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
    ] {
        assert!(
            of(&pass_to_ec2(condition.clone()), "AWS-PE-007").is_empty(),
            "{condition}"
        );
    }
    // The same PassRole does complete the Lambda path.
    let lambda = findings_for(&[
        allow_if(
            &["iam:PassRole"],
            &["*"],
            json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
        ),
        allow(&["lambda:CreateFunction", "lambda:InvokeFunction"], &["*"]),
    ]);
    assert_eq!(one(&lambda, "AWS-PE-009").severity, Severity::Critical);
    // Two grants: only the one that reaches EC2 counts for the EC2 path.
    let split = findings_for(&[
        allow_if(
            &["iam:PassRole"],
            &["*"],
            json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
        ),
        allow_if(
            &["iam:PassRole"],
            &["arn:aws:iam::111122223333:role/web"],
            json!({"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
        ),
        allow(&["ec2:RunInstances"], &["*"]),
    ]);
    let f = one(&split, "AWS-PE-007");
    assert_eq!((f.severity, f.scope), (Severity::Medium, Scope::Pinned));
}

#[test]
fn eks_compute_policy_passes_to_ec2_with_caller_tags() {
    // Excerpt of AmazonEKSComputePolicy: RunInstances on `*` under request tags the caller sets
    // (IAM User Guide, "AWS global condition context keys", aws:RequestTag/tag-key: not
    // limiting) and PassRole to EC2: a path, high (the tags make the grant weak, not limited).
    let found = findings_for(&[
        allow_if(
            &["ec2:RunInstances"],
            &["*"],
            json!({"StringEquals": {"aws:RequestTag/eks:eks-cluster-name": "${aws:PrincipalTag/eks:eks-cluster-name}"}}),
        ),
        allow_if(
            &["iam:PassRole"],
            &["*"],
            json!({"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}),
        ),
    ]);
    let f = one(&found, "AWS-PE-007");
    assert_eq!(
        (f.severity, f.scope, f.confidence),
        (Severity::High, Scope::Wildcard, Confidence::Direct)
    );
}

#[test]
fn send_command_needs_a_document_that_runs_commands() {
    // Excerpt of AWSBackupOperatorAccess: SendCommand on instances and one AWS document that
    // takes VSS snapshots. IAM authorizes the instance and the document of the request each
    // (Service Authorization Reference, AWS Systems Manager, SendCommand: `document`,
    // `instance`); no document of this grant runs commands of the caller's choosing.
    let backup = allow(
        &["ssm:SendCommand"],
        &[
            "arn:aws:ssm:*:*:document/AWSEC2-CreateVssSnapshot",
            "arn:aws:ec2:*:*:instance/*",
        ],
    );
    assert!(of(&findings_for(&[backup]), "AWS-PE-028").is_empty());
    // On every instance, a shell document pinned by name narrows nothing: critical.
    for document in [
        "arn:aws:ssm:*:*:document/AWS-RunShellScript",
        "arn:aws:ssm:*::document/AWS-RunPowerShellScript",
        "arn:aws:ssm:*:*:document/AWS-Run*",
        "arn:aws:ssm:*:*:document/*",
        // A document of the account: its content is unknown, it may run anything.
        "arn:aws:ssm:eu-west-1:111122223333:document/restart-app",
    ] {
        let grant = allow(
            &["ssm:SendCommand"],
            &[document, "arn:aws:ec2:*:*:instance/*"],
        );
        let f = one(&findings_for(&[grant]), "AWS-PE-028").clone();
        assert_eq!(
            (f.severity, f.scope),
            (Severity::Critical, Scope::All),
            "{document}"
        );
    }
    // The instances decide the reach: some of them, high; one, medium.
    for (instances, severity) in [
        ("arn:aws:ec2:eu-west-1:*:instance/*", Severity::High),
        (
            "arn:aws:ec2:*:*:instance/i-0a1b2c3d4e5f60718",
            Severity::Medium,
        ),
    ] {
        let grant = allow(
            &["ssm:SendCommand"],
            &["arn:aws:ssm:*:*:document/AWS-RunShellScript", instances],
        );
        assert_eq!(
            one(&findings_for(&[grant]), "AWS-PE-028").severity,
            severity,
            "{instances}"
        );
    }
    // A reserved AWS prefix without a shell document under it.
    let ec2_docs = allow(
        &["ssm:SendCommand"],
        &[
            "arn:aws:ssm:*:*:document/AWSEC2-*",
            "arn:aws:ec2:*:*:instance/*",
        ],
    );
    assert!(of(&findings_for(&[ec2_docs]), "AWS-PE-028").is_empty());
    // The document and the instance may come from two statements; `*` is everything.
    let split = findings_for(&[
        allow(&["ssm:SendCommand"], &["arn:aws:ec2:*:*:instance/*"]),
        allow(
            &["ssm:SendCommand"],
            &["arn:aws:ssm:*:*:document/AWS-RunShellScript"],
        ),
    ]);
    assert_eq!(one(&split, "AWS-PE-028").severity, Severity::Critical);
    // The document's condition still counts.
    let limited_document = findings_for(&[
        allow(&["ssm:SendCommand"], &["arn:aws:ec2:*:*:instance/*"]),
        allow_if(
            &["ssm:SendCommand"],
            &["arn:aws:ssm:*:*:document/AWS-RunShellScript"],
            json!({"StringEquals": {"aws:SourceVpc": "vpc-1a2b3c4d"}}),
        ),
    ]);
    let f = one(&limited_document, "AWS-PE-028");
    assert_eq!(
        (f.severity, f.confidence),
        (Severity::High, Confidence::Conditioned)
    );
    let star = findings_for(&[allow(&["ssm:SendCommand"], &["*"])]);
    assert_eq!(one(&star, "AWS-PE-028").severity, Severity::Critical);
    // Documents without any target: nothing to run them on.
    let no_target = allow(&["ssm:SendCommand"], &["arn:aws:ssm:*:*:document/*"]);
    assert!(of(&findings_for(&[no_target]), "AWS-PE-028").is_empty());
}

#[test]
fn shell_documents_and_reserved_prefixes() {
    // AWS Systems Manager API Reference, CreateDocument, Name: the prefixes aws, amazon and amzn
    // are reserved for AWS.
    for shell in ssm::SHELL_DOCUMENTS {
        assert!(ssm::runs_commands(shell), "{shell}");
    }
    assert!(ssm::runs_commands("*"));
    assert!(
        ssm::runs_commands("AW*"),
        "may name an account's `AWx` document"
    );
    assert!(ssm::runs_commands("my-team-*"));
    assert!(!ssm::runs_commands("AWSEC2-CreateVssSnapshot"));
    assert!(!ssm::runs_commands("AWS-UpdateSSMAgent"));
    assert!(!ssm::runs_commands("AmazonCloudWatch-*"));
    assert!(!ssm::runs_commands("AWS-StartPortForwardingSession"));
}

#[test]
fn start_session_opens_the_default_shell_unless_documents_are_checked() {
    // AWS Systems Manager User Guide, "Enforce a session document permission check for the AWS
    // CLI": without a document name the session uses SSM-SessionManagerRunShell "even if the
    // user's IAM policy doesn't grant explicit permission to access" it, unless every statement
    // allowing ssm:StartSession requires ssm:SessionDocumentAccessCheck.
    let instances = allow(&["ssm:StartSession"], &["arn:aws:ec2:*:*:instance/*"]);
    assert_eq!(
        one(&findings_for(&[instances]), "AWS-PE-029").severity,
        Severity::Critical
    );
    let check = json!({"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}});
    let checked = allow_if(
        &["ssm:StartSession"],
        &["arn:aws:ec2:*:*:instance/*"],
        check.clone(),
    );
    assert!(of(&findings_for(std::slice::from_ref(&checked)), "AWS-PE-029").is_empty());
    let port_forwarding = allow(
        &["ssm:StartSession"],
        &["arn:aws:ssm:*:*:document/AWS-StartPortForwardingSession"],
    );
    assert!(
        of(
            &findings_for(&[checked.clone(), port_forwarding]),
            "AWS-PE-029"
        )
        .is_empty(),
        "port forwarding to the instance's own ports opens no shell"
    );
    let shell = allow(
        &["ssm:StartSession"],
        &["arn:aws:ssm:*:*:document/SSM-SessionManagerRunShell"],
    );
    // With the shell document allowed the path is there; the check is a condition that does
    // not limit (weak), so on every instance it reads high.
    assert_eq!(
        one(&findings_for(&[checked, shell]), "AWS-PE-029").severity,
        Severity::High
    );
    // ECS tasks and managed instances are targets too.
    let tasks = allow(
        &["ssm:StartSession"],
        &["arn:aws:ecs:eu-west-1:111122223333:task/app/*"],
    );
    assert_eq!(
        one(&findings_for(&[tasks]), "AWS-PE-029").severity,
        Severity::High
    );
}

#[test]
fn cloud9_member_sessions_are_limited_not_critical() {
    // Excerpt of AWSCloud9EnvironmentMember: StartSession on instances only through Cloud9
    // (IAM User Guide, "AWS global condition context keys", aws:CalledViaFirst) and only on
    // instances tagged by Cloud9 (an `aws:` tag no principal can set), plus every document.
    let found = findings_for(&[statements(json!([
        {"Effect": "Allow", "Action": ["ssm:StartSession", "ssm:GetConnectionStatus"],
         "Resource": "arn:aws:ec2:*:*:instance/*",
         "Condition": {"StringLike": {"ssm:resourceTag/aws:cloud9:environment": "*"},
                       "StringEquals": {"aws:CalledViaFirst": "cloud9.amazonaws.com"}}},
        {"Effect": "Allow", "Action": ["ssm:StartSession"], "Resource": ["arn:aws:ssm:*:*:document/*"]}
    ]))]);
    let f = one(&found, "AWS-PE-029");
    assert_eq!(
        (f.severity, f.scope, f.confidence),
        (Severity::High, Scope::Wildcard, Confidence::Conditioned)
    );
}

#[test]
fn lab_false_positives_are_not_paths() {
    // iam-vulnerable modules/free-resources/tool-testing (MIT): fp4 rewrites AWS managed
    // policies, which only AWS can change (IAM User Guide, "AWS managed policies"); fp5 needs a
    // token issued before 2020 (aws:TokenIssueTime), which no live token is.
    let fp4 = allow(
        &["iam:CreatePolicyVersion"],
        &["arn:aws:iam::aws:policy/fp4-*"],
    );
    let fp5 = allow_if(
        &["iam:CreatePolicyVersion"],
        &["*"],
        json!({"DateLessThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}),
    );
    for doc in [fp4, fp5] {
        let found = findings_for(std::slice::from_ref(&doc));
        assert!(found.is_empty(), "{doc}: {found:#?}");
    }
    // And SetDefaultPolicyVersion on AWS managed policies likewise.
    let set_default = allow(
        &["iam:SetDefaultPolicyVersion"],
        &["arn:aws:iam::aws:policy/*"],
    );
    assert!(findings_for(&[set_default]).is_empty());
}
