use serde_json::{Value, json};

use super::testing::*;
use super::*;
use crate::engine::iam::model::PrincipalKind;
use crate::engine::iam::policy::UNKNOWN_TEXT;
use crate::engine::risk::{Exposure, Scope};

fn id(name: &str) -> ActionId {
    db().lookup(name)
        .unwrap_or_else(|| panic!("{name} is not in the action database"))
}

/// The effective permissions of a role with these inline policies.
fn effective(docs: &[Value]) -> Effective {
    let st = state(vec![role("r", docs)]);
    let vs = views(&st);
    vs.into_iter().next().expect("one view").effective
}

fn access(eff: &Effective, name: &str) -> Option<Access> {
    eff.access(id(name))
}

const ALL: Access = Access {
    scope: Scope::All,
    conditioned: false,
};
const WILDCARD: Access = Access {
    scope: Scope::Wildcard,
    conditioned: false,
};
const PINNED: Access = Access {
    scope: Scope::Pinned,
    conditioned: false,
};

#[test]
fn policies_of_one_principal_are_combined() {
    let eff = effective(&[
        allow(&["iam:PassRole"], &["*"]),
        allow(&["lambda:CreateFunction"], &["*"]),
    ]);
    assert_eq!(access(&eff, "iam:PassRole"), Some(ALL));
    assert_eq!(access(&eff, "lambda:CreateFunction"), Some(ALL));
    assert_eq!(access(&eff, "lambda:InvokeFunction"), None);
    assert_eq!(
        eff.weakest(&[id("iam:PassRole"), id("lambda:CreateFunction")]),
        Some(ALL)
    );
    assert_eq!(
        eff.weakest(&[id("iam:PassRole"), id("lambda:InvokeFunction")]),
        None
    );
    assert_eq!(
        eff.sources_of(&ActionSet::single(id("iam:PassRole"))),
        vec![0]
    );
    assert_eq!(
        eff.sources_of(&ActionSet::single(id("lambda:CreateFunction"))),
        vec![1]
    );
}

#[test]
fn unconditional_star_deny_subtracts_other_denies_are_kept() {
    let eff = effective(&[allow(&["iam:*"], &["*"]), deny(&["iam:PassRole"])]);
    assert_eq!(access(&eff, "iam:PassRole"), None);
    assert_eq!(access(&eff, "iam:CreateRole"), Some(ALL));

    let conditional = statements(
        json!([{"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}}]),
    );
    let eff = effective(&[allow(&["iam:*"], &["*"]), conditional]);
    assert_eq!(access(&eff, "iam:PassRole"), Some(ALL));
    assert!(eff.maybe_denied(&ActionSet::single(id("iam:PassRole"))));
    assert!(!eff.maybe_denied(&ActionSet::single(id("iam:CreateRole"))));

    let scoped = statements(
        json!([{"Effect": "Deny", "Action": "iam:PassRole", "Resource": "arn:aws:iam::111122223333:role/admin"}]),
    );
    let eff = effective(&[allow(&["iam:*"], &["*"]), scoped]);
    assert_eq!(access(&eff, "iam:PassRole"), Some(ALL));
    assert!(eff.maybe_denied(&ActionSet::single(id("iam:PassRole"))));
}

#[test]
fn deny_with_not_action_subtracts_everything_else() {
    let guard = statements(json!([{"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}]));
    let eff = effective(&[allow(&["*"], &["*"]), guard]);
    assert_eq!(access(&eff, "s3:GetObject"), Some(ALL));
    assert_eq!(access(&eff, "iam:PassRole"), None);
}

#[test]
fn not_action_on_star_allows_everything_else() {
    // BishopFox fn4: excluding IAM writes still leaves ssm:SendCommand and iam:PassRole.
    let fn4 = statements(
        json!([{"Effect": "Allow", "NotAction": ["iam:Update*", "iam:Create*", "iam:Attach*"], "Resource": "*"}]),
    );
    let eff = effective(&[fn4]);
    assert_eq!(access(&eff, "ssm:SendCommand"), Some(ALL));
    assert_eq!(access(&eff, "iam:PassRole"), Some(ALL));
    assert_eq!(access(&eff, "iam:CreateAccessKey"), None);
    assert_eq!(access(&eff, "iam:AttachRolePolicy"), None);
    assert_eq!(access(&eff, "iam:UpdateAssumeRolePolicy"), None);
    assert!(eff.allowed().len() > 20_000 - 500);
}

#[test]
fn not_action_on_specific_resources_keeps_only_matching_actions() {
    let doc = statements(
        json!([{"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "arn:aws:s3:::app-data/*"}]),
    );
    let eff = effective(&[doc]);
    assert_eq!(access(&eff, "s3:GetObject"), Some(WILDCARD));
    assert_eq!(access(&eff, "s3:DeleteObject"), None);
    assert_eq!(
        access(&eff, "ec2:RunInstances"),
        None,
        "an EC2 action cannot apply to an S3 object ARN"
    );
    assert_eq!(
        access(&eff, "s3:CreateBucket"),
        None,
        "a bucket action cannot apply to an object ARN"
    );
}

#[test]
fn resource_reach_decides_scope() {
    let eff = effective(&[
        allow(
            &["iam:CreatePolicyVersion"],
            &["arn:aws:iam::*:policy/fn2-*"],
        ),
        allow(&["iam:PassRole"], &["arn:aws:iam::*:role/*"]),
        allow(
            &["lambda:CreateFunction"],
            &["arn:aws:lambda:eu-west-1:111122223333:function:app"],
        ),
        allow(&["s3:PutObject"], &["arn:aws:s3:::*"]),
    ]);
    // BishopFox fn2: a wildcard ARN is Wildcard, not Pinned.
    assert_eq!(access(&eff, "iam:CreatePolicyVersion"), Some(WILDCARD));
    // Every role: covers every resource type of PassRole.
    assert_eq!(access(&eff, "iam:PassRole"), Some(ALL));
    assert_eq!(access(&eff, "lambda:CreateFunction"), Some(PINNED));
    assert_eq!(access(&eff, "s3:PutObject"), Some(ALL));
    let covering = eff
        .grants
        .iter()
        .find(|g| g.actions.contains(id("s3:PutObject")))
        .expect("a grant");
    assert_eq!(covering.reach, Reach::Covering);
}

#[test]
fn an_own_account_wildcard_covers_every_role() {
    let eff = effective(&[allow(
        &["iam:PassRole"],
        &["arn:aws:iam::111122223333:role/*"],
    )]);
    assert_eq!(access(&eff, "iam:PassRole"), Some(ALL));
    let eff = effective(&[allow(
        &["lambda:CreateFunction"],
        &["arn:aws:lambda:eu-west-1:111122223333:function:*"],
    )]);
    assert_eq!(
        access(&eff, "lambda:CreateFunction"),
        Some(WILDCARD),
        "one region is not every function"
    );
}

#[test]
fn account_wildcard_alone_is_pinned() {
    let eff = effective(&[allow(&["iam:PassRole"], &["arn:aws:iam::*:role/deployer"])]);
    assert_eq!(access(&eff, "iam:PassRole"), Some(PINNED));
}

#[test]
fn dead_grants_are_not_access() {
    // s3:GetObject needs an object ARN; a bucket ARN grants nothing.
    let eff = effective(&[allow(&["s3:GetObject"], &["arn:aws:s3:::app-data"])]);
    assert_eq!(access(&eff, "s3:GetObject"), None);
    // A wildcard-only action needs `*`.
    let eff = effective(&[allow(
        &["ec2:DescribeInstances"],
        &["arn:aws:ec2:eu-west-1:111122223333:instance/i-1"],
    )]);
    assert_eq!(access(&eff, "ec2:DescribeInstances"), None);
    let eff = effective(&[allow(&["ec2:DescribeInstances"], &["*"])]);
    assert_eq!(access(&eff, "ec2:DescribeInstances"), Some(ALL));
}

#[test]
fn weak_conditions_widen_to_wildcard_and_limiting_ones_condition() {
    let weak = allow_if(
        &["iam:PassRole"],
        &["*"],
        json!({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}}),
    );
    let eff = effective(&[weak]);
    assert_eq!(access(&eff, "iam:PassRole"), Some(WILDCARD));
    assert!(
        eff.unconstrained().contains(id("iam:PassRole")),
        "a weak condition does not constrain"
    );

    let limited = allow_if(
        &["iam:PassRole"],
        &["*"],
        json!({"StringEquals": {"aws:SourceVpc": "vpc-1a2b3c4d"}}),
    );
    let eff = effective(&[limited]);
    assert_eq!(
        access(&eff, "iam:PassRole"),
        Some(Access {
            scope: Scope::Wildcard,
            conditioned: true
        })
    );
    assert!(!eff.unconstrained().contains(id("iam:PassRole")));

    let network = allow_if(
        &["s3:GetObject"],
        &["arn:aws:s3:::b/k"],
        json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    );
    let eff = effective(&[network]);
    assert_eq!(
        access(&eff, "s3:GetObject"),
        Some(Access {
            scope: Scope::Pinned,
            conditioned: true
        })
    );

    // iam:PassedToService alone leaves iam:PassRole unconditioned (the paths read its values).
    let star_value = allow_if(
        &["iam:PassRole"],
        &["*"],
        json!({"StringLike": {"iam:PassedToService": "*"}}),
    );
    assert_eq!(access(&effective(&[star_value]), "iam:PassRole"), Some(ALL));
}

const CONDITIONED: Access = Access {
    scope: Scope::Wildcard,
    conditioned: true,
};

/// The access of `name` granted alone on `resources` under `condition`, next to the `others`
/// policies of the same role.
fn access_if(name: &str, resources: &[&str], condition: Value, others: &[Value]) -> Option<Access> {
    let mut docs = vec![allow_if(&[name], resources, condition)];
    docs.extend_from_slice(others);
    access(&effective(&docs), name)
}

#[test]
fn passed_to_service_names_services_and_limits_nothing_else_for_pass_role() {
    // IAM User Guide, "IAM and AWS STS condition context keys", iam:PassedToService: it names
    // the service a role may be passed to; it says nothing about which roles or who. Excerpt of
    // EC2FleetTimeShiftableServiceRolePolicy.
    let fleet = json!({"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}});
    assert_eq!(
        access_if("iam:PassRole", &["*"], fleet.clone(), &[]),
        Some(ALL)
    );
    let eff = effective(&[allow_if(&["iam:PassRole"], &["*"], fleet)]);
    assert!(eff.grants.iter().all(|g| g.strength == Strength::None));
    // Another condition on the same statement still counts.
    let with_vpc = json!({"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com", "aws:SourceVpc": "vpc-1"}});
    assert_eq!(
        access_if("iam:PassRole", &["*"], with_vpc, &[]),
        Some(CONDITIONED)
    );
    // The key is only in iam:PassRole requests: for the other actions of the statement a
    // string test on it fails, so it limits them.
    let mixed = allow_if(
        &["iam:PassRole", "ec2:RunInstances"],
        &["*"],
        json!({"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
    );
    let eff = effective(&[mixed]);
    assert_eq!(access(&eff, "iam:PassRole"), Some(ALL));
    assert_eq!(access(&eff, "ec2:RunInstances"), Some(CONDITIONED));
}

#[test]
fn caller_set_tags_do_not_limit() {
    // IAM User Guide, "AWS global condition context keys", aws:RequestTag/tag-key and
    // aws:TagKeys: the tags passed in the request, which the caller chooses. Excerpt of
    // AmazonEKSComputePolicy.
    let eks = json!({
        "StringEquals": {"aws:RequestTag/eks:eks-cluster-name": "${aws:PrincipalTag/eks:eks-cluster-name}"},
        "StringLike": {"aws:RequestTag/eks:kubernetes-node-pool-name": "*"},
        "ForAllValues:StringLike": {"aws:TagKeys": ["eks:eks-cluster-name", "kubernetes.io/cluster/*"]}
    });
    let eff = effective(&[allow_if(&["ec2:RunInstances"], &["*"], eks)]);
    assert_eq!(access(&eff, "ec2:RunInstances"), Some(WILDCARD));
    assert!(eff.unconstrained().contains(id("ec2:RunInstances")));
    // Null false on a request tag only says the caller must send it (excerpt of the AWS Load
    // Balancer Controller's install policy).
    let lbc = json!({"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}});
    assert_eq!(
        access_if("elasticloadbalancing:CreateLoadBalancer", &["*"], lbc, &[]),
        Some(WILDCARD)
    );
}

#[test]
fn resource_tags_limit_unless_the_subject_can_tag_its_way_in() {
    // IAM User Guide, "Controlling access to AWS resources using tags": aws:ResourceTag limits
    // to resources that already carry the tag. Excerpt of the AWS Load Balancer Controller's
    // install policy: `Null` false on the resource tag (the tag must be there).
    let delete = |others: &[Value]| {
        access_if(
            "elasticloadbalancing:DeleteLoadBalancer",
            &["*"],
            json!({"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}),
            others,
        )
    };
    let add_tags = |resource: &str, condition: Value| {
        allow_if(&["elasticloadbalancing:AddTags"], &[resource], condition)
    };
    assert_eq!(delete(&[]), Some(CONDITIONED));
    for (tagging, why) in [
        // The controller may only retag load balancers that carry the tag, without sending it.
        (
            add_tags(
                "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
                json!({"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "true",
                                "aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}),
            ),
            "retagging tagged ones only",
        ),
        // EC2 User Guide, "Grant permission to tag Amazon EC2 resources during creation".
        (
            add_tags(
                "*",
                json!({"StringEquals": {"elasticloadbalancing:CreateAction": "CreateLoadBalancer"}}),
            ),
            "tagging while creating only",
        ),
        (
            add_tags(
                "*",
                json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost-center"]}}),
            ),
            "other tag keys only",
        ),
        (
            allow(
                &["elasticloadbalancing:AddTags"],
                &["arn:aws:elasticloadbalancing:*:*:targetgroup/*/*"],
            ),
            "target groups only",
        ),
    ] {
        assert_eq!(delete(&[tagging]), Some(CONDITIONED), "{why}");
    }
    // Free to tag load balancers: it tags any of them and the condition limits nothing.
    let free = allow(&["elasticloadbalancing:AddTags"], &["*"]);
    assert_eq!(delete(&[free]), Some(WILDCARD));

    // Tags of the `aws:` prefix are AWS's own: nobody tags its way in (Tagging AWS Resources
    // User Guide, "Tag naming limits and requirements"). Excerpt of AWSCloud9EnvironmentMember.
    let create_tags = allow(&["ec2:CreateTags"], &["*"]);
    let instances = ["arn:aws:ec2:*:*:instance/*"];
    let cloud9 = json!({"StringLike": {"ssm:resourceTag/aws:cloud9:environment": "*"}});
    assert_eq!(
        access_if(
            "ssm:StartSession",
            &instances,
            cloud9,
            std::slice::from_ref(&create_tags)
        ),
        Some(CONDITIONED)
    );
    // A tag of the principal's own choosing: ec2:CreateTags on instances tags it in.
    let team = json!({"StringEquals": {"ssm:resourceTag/team": "blue"}});
    assert_eq!(
        access_if("ssm:StartSession", &instances, team.clone(), &[create_tags]),
        Some(WILDCARD)
    );
    assert_eq!(
        access_if("ssm:StartSession", &instances, team, &[]),
        Some(CONDITIONED)
    );
    // A key of the service narrows the resources as well (excerpt of
    // AWSSystemsManagerJustInTimeNodeAccessRolePropagationPolicy): tagging in is not assumed.
    let tag_shares = allow_if(
        &["ram:TagResource"],
        &["arn:aws:ram:*:*:resource-share/*"],
        json!({"StringEquals": {"aws:RequestTag/SystemsManagerJustInTimeNodeAccessManaged": "true"},
               "ForAllValues:StringEquals": {"aws:TagKeys": ["SystemsManagerJustInTimeNodeAccessManaged"]}}),
    );
    let named_share = json!({"StringEquals": {
        "ram:ResourceShareName": "SSMJustInTimeNodeAccessManagedResourceShare",
        "aws:ResourceTag/SystemsManagerJustInTimeNodeAccessManaged": "true"}});
    assert_eq!(
        access_if(
            "ram:AssociateResourceShare",
            &["*"],
            named_share,
            std::slice::from_ref(&tag_shares)
        ),
        Some(CONDITIONED)
    );
    // Without it, the same tagging grant tags any share in.
    let tagged_share = json!({"StringEquals": {"aws:ResourceTag/SystemsManagerJustInTimeNodeAccessManaged": "true"}});
    assert_eq!(
        access_if(
            "ram:AssociateResourceShare",
            &["*"],
            tagged_share,
            &[tag_shares]
        ),
        Some(WILDCARD)
    );
    // IfExists is met by an untagged resource: not limiting.
    let if_exists = json!({"StringEqualsIfExists": {"aws:ResourceTag/team": "blue"}});
    assert_eq!(
        access_if("ec2:TerminateInstances", &["*"], if_exists, &[]),
        Some(WILDCARD)
    );
}

#[test]
fn called_via_keys_limit_to_calls_made_by_a_service() {
    // IAM User Guide, "AWS global condition context keys", aws:CalledVia, aws:CalledViaFirst,
    // aws:CalledViaLast: the request must be made by the named service on the principal's
    // behalf; the principal cannot make it directly. Excerpt of AWSCloud9EnvironmentMember, of
    // EC2FastLaunchFullAccess (aws:CalledVia is multivalued: ForAnyValue is its form), and
    // aws:ViaAWSService true ("AWS global condition context keys", aws:ViaAWSService).
    for condition in [
        json!({"StringEquals": {"aws:CalledViaFirst": "cloud9.amazonaws.com"}}),
        json!({"StringEquals": {"aws:CalledViaLast": "cloud9.amazonaws.com"}}),
        json!({"ForAnyValue:StringLike": {"aws:CalledVia": "ec2fastlaunch.amazonaws.com"}}),
        json!({"Bool": {"aws:ViaAWSService": "true"}}),
    ] {
        assert_eq!(
            access_if("ec2:CreateVpc", &["*"], condition.clone(), &[]),
            Some(CONDITIONED),
            "{condition}"
        );
    }
    // ForAllValues is true for a direct call, which has no aws:CalledVia ("Set operators for
    // multivalued context keys").
    let for_all =
        json!({"ForAllValues:StringEquals": {"aws:CalledVia": "cloudformation.amazonaws.com"}});
    assert_eq!(
        access_if("ec2:CreateVpc", &["*"], for_all, &[]),
        Some(WILDCARD)
    );
}

#[test]
fn aws_service_name_pins_service_linked_roles() {
    // IAM User Guide, "IAM and AWS STS condition context keys", iam:AWSServiceName. Excerpt of
    // the AWS Load Balancer Controller's install policy.
    let lbc = json!({"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}});
    assert_eq!(
        access_if("iam:CreateServiceLinkedRole", &["*"], lbc, &[]),
        Some(CONDITIONED)
    );
}

#[test]
fn a_token_issue_window_no_token_meets_grants_nothing() {
    // IAM User Guide, "AWS global condition context keys", aws:TokenIssueTime. The
    // iam-vulnerable lab's fp5-NonExploitableConditionConstraint: tokens issued before 2020,
    // all long expired; the engine's "now" is the action database's data date.
    let fp5 = json!({"DateLessThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}});
    let eff = effective(&[allow_if(&["iam:CreatePolicyVersion"], &["*"], fp5)]);
    assert!(eff.allowed().is_empty(), "{:?}", eff.grants);
    // After a date is weak, not dead.
    let after = json!({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}});
    assert_eq!(
        access_if("iam:CreatePolicyVersion", &["*"], after, &[]),
        Some(WILDCARD)
    );
}

#[test]
fn aws_managed_policies_cannot_be_changed() {
    // IAM User Guide, "AWS managed policies": "You cannot change the permissions defined in AWS
    // managed policies." The iam-vulnerable lab's fp4-NonExploitableResourceConstraint.
    let fp4 = allow(
        &[
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:GetPolicyVersion",
        ],
        &["arn:aws:iam::aws:policy/fp4-*"],
    );
    let eff = effective(&[fp4]);
    assert_eq!(access(&eff, "iam:CreatePolicyVersion"), None);
    assert_eq!(access(&eff, "iam:SetDefaultPolicyVersion"), None);
    assert_eq!(
        access(&eff, "iam:GetPolicyVersion"),
        Some(WILDCARD),
        "reading is possible"
    );
    // A wildcard account covers the account's own policies too.
    let any_account = allow(
        &["iam:CreatePolicyVersion"],
        &["arn:aws:iam::*:policy/fp4-*"],
    );
    assert_eq!(
        access(&effective(&[any_account]), "iam:CreatePolicyVersion"),
        Some(WILDCARD)
    );
}

#[test]
fn the_broadest_grant_wins() {
    let eff = effective(&[
        allow(&["iam:PassRole"], &["arn:aws:iam::111122223333:role/app"]),
        allow_if(
            &["iam:PassRole"],
            &["*"],
            json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        ),
        allow(&["iam:PassRole"], &["arn:aws:iam::111122223333:role/app-*"]),
    ]);
    assert_eq!(access(&eff, "iam:PassRole"), Some(WILDCARD));
    assert_eq!(
        eff.sources_of(&ActionSet::single(id("iam:PassRole"))),
        vec![0, 1, 2]
    );
}

#[test]
fn not_resource_counts_as_every_resource() {
    let doc = statements(
        json!([{"Effect": "Allow", "Action": "s3:PutObject", "NotResource": "arn:aws:s3:::audit/*"}]),
    );
    let eff = effective(&[doc]);
    assert_eq!(access(&eff, "s3:PutObject"), Some(ALL));
    assert!(eff.unconstrained().contains(id("s3:PutObject")));
}

#[test]
fn unknown_resource_values_are_pinned_not_everything() {
    let eff = effective(&[allow(&["iam:PassRole"], &[UNKNOWN_TEXT])]);
    assert_eq!(access(&eff, "iam:PassRole"), Some(PINNED));
    let eff = effective(&[allow(
        &["s3:GetObject"],
        &[&format!("arn:aws:s3:::{UNKNOWN_TEXT}/*")],
    )]);
    assert_eq!(access(&eff, "s3:GetObject"), Some(WILDCARD));
}

#[test]
fn admin_needs_every_action_unconstrained() {
    assert_eq!(effective(&[allow(&["*"], &["*"])]).admin(), Some(ALL));
    assert_eq!(effective(&[allow(&["*:*"], &["*"])]).admin(), Some(ALL));
    assert_eq!(
        effective(&[allow(&["*"], &["*"]), deny(&["iam:*"])]).admin(),
        None
    );
    assert_eq!(
        effective(&[allow(&["*"], &["arn:aws:s3:::b/*"])]).admin(),
        None
    );
    let weak = allow_if(
        &["*"],
        &["*"],
        json!({"Bool": {"aws:SecureTransport": "true"}}),
    );
    assert_eq!(effective(&[weak]).admin(), Some(WILDCARD));
    let limited = allow_if(
        &["*"],
        &["*"],
        json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    );
    assert_eq!(effective(&[limited]).admin(), None);
}

#[test]
fn views_cover_principals_and_standalone_policies() {
    let mut st = state(vec![role("app", &[allow(&["s3:GetObject"], &["*"])])]);
    st.standalone_policies
        .push(standalone("deploy", &allow(&["iam:PassRole"], &["*"])));
    st.standalone_policies
        .push(crate::engine::iam::model::Sourced {
            urn: "urn:x::y".into(),
            label: "policy secret".into(),
            value: crate::engine::iam::policy::Document::Secret,
        });
    let vs = views(&st);
    assert_eq!(vs.len(), 2, "a secret document has no view");
    assert_eq!(vs[0].subject(), "role/app");
    assert_eq!(
        vs[1].subject(),
        "urn:pulumi:dev::app::aws:iam/policy:Policy::deploy"
    );
    assert!(vs[1].effective.allows(id("iam:PassRole")));
    assert!(!vs[1].effective.allows(id("s3:GetObject")));
}

#[test]
fn an_attached_standalone_policy_is_judged_on_its_principal_only() {
    let mut st = state(vec![role("app", &[allow(&["iam:PassRole"], &["*"])])]);
    let deploy = standalone("deploy", &allow(&["iam:PassRole"], &["*"]));
    st.attached_policies.insert(deploy.urn.clone());
    st.standalone_policies.push(deploy);
    st.standalone_policies
        .push(standalone("loose", &allow(&["s3:GetObject"], &["*"])));
    let subjects: Vec<String> = views(&st).iter().map(View::subject).collect();
    assert_eq!(
        subjects,
        [
            "role/app",
            "urn:pulumi:dev::app::aws:iam/policy:Policy::loose"
        ],
        "the attached policy is not a second view; the unattached one still is"
    );
}

#[test]
fn exposure_is_service_only_for_compute_service_roles() {
    let lambda = trusted_role("fn", trust(json!({"Service": "lambda.amazonaws.com"})), &[]);
    let mixed = trusted_role(
        "mixed",
        trust(json!({"Service": "lambda.amazonaws.com", "AWS": "arn:aws:iam::111122223333:root"})),
        &[],
    );
    let cfn = trusted_role(
        "cfn",
        trust(json!({"Service": "cloudformation.amazonaws.com"})),
        &[],
    );
    let user = principal(PrincipalKind::User, "alice", &[]);
    assert_eq!(exposure_of(&lambda), Exposure::Service);
    assert_eq!(exposure_of(&mixed), Exposure::Internal);
    assert_eq!(exposure_of(&cfn), Exposure::Internal);
    assert_eq!(exposure_of(&user), Exposure::Internal);
    assert_eq!(exposure_of(&role("no-trust", &[])), Exposure::Internal);
}

#[test]
fn findings_go_to_the_granting_source_when_the_principal_is_outside_the_preview() {
    let mut outside = role(
        "legacy",
        &[
            allow(&["s3:GetObject"], &["*"]),
            allow(&["iam:PassRole"], &["*"]),
        ],
    );
    outside.urn = None;
    let st = state(vec![outside]);
    let vs = views(&st);
    let v = &vs[0];
    assert_eq!(
        v.resource(
            &v.effective
                .sources_of(&ActionSet::single(id("iam:PassRole")))
        ),
        "urn:pulumi:dev::app::aws:iam/rolePolicy:RolePolicy::legacy-p1"
    );
    assert_eq!(
        v.resource(
            &v.effective
                .sources_of(&ActionSet::single(id("s3:GetObject")))
        ),
        "urn:pulumi:dev::app::aws:iam/rolePolicy:RolePolicy::legacy-p0"
    );
    let inside = state(vec![role("app", &[allow(&["iam:PassRole"], &["*"])])]);
    let vs = views(&inside);
    assert_eq!(vs[0].resource(&[0]), urn_of(PrincipalKind::Role, "app"));
}

#[test]
fn compact_collapses_whole_services() {
    let idx = index::index();
    let s3_writes = db().expand("s3:*").intersection(&idx.write);
    let mut set = s3_writes.clone();
    set.insert(id("iam:PassRole"));
    let items = index::compact(
        &set,
        &index::Universe::new({
            let mut u = idx.write.clone();
            u.insert(id("iam:PassRole"));
            u
        }),
    );
    assert!(items.contains(&"s3:*".to_owned()), "{items:?}");
    assert!(items.contains(&"iam:PassRole".to_owned()), "{items:?}");
    let mut partial = s3_writes;
    partial.remove(id("s3:PutObject"));
    let items = index::compact(&partial, &index::Universe::new(idx.write.clone()));
    assert!(!items.contains(&"s3:*".to_owned()));
    assert!(items.contains(&"s3:DeleteObject".to_owned()));
}
