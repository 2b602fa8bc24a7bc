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
        json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
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

    let star_value = allow_if(
        &["iam:PassRole"],
        &["*"],
        json!({"StringLike": {"iam:PassedToService": "*"}}),
    );
    assert_eq!(
        access(&effective(&[star_value]), "iam:PassRole"),
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
