//! The Google Cloud family on states built by hand: each rule, the combination per member, and
//! the attempts to get around it (another form or resource carrying the same grant, a case
//! change, a custom role with the same permissions, a reordering).

use proptest::prelude::*;

use super::*;
use crate::engine::iam::grants::Credential;
use crate::engine::risk::{Category, RiskConfig};

fn custom(id: &str, permissions: &[&str]) -> Sourced<RoleDef> {
    Sourced {
        urn: format!("urn:pulumi:dev::app::gcp:projects/iAMCustomRole:IAMCustomRole::{id}"),
        label: "role".into(),
        value: RoleDef {
            cloud: Cloud::Gcp,
            id: id.into(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            not_permissions: Vec::new(),
            assignable_scopes: Vec::new(),
            aggregate_from: Vec::new(),
            labels: Vec::new(),
        },
    }
}

fn bind(urn: &str, scope: &str, role: &str, member: &str) -> Sourced<Binding> {
    Sourced {
        urn: format!("urn:pulumi:dev::app::gcp:projects/iAMMember:IAMMember::{urn}"),
        label: "binding".into(),
        value: Binding {
            cloud: Cloud::Gcp,
            scope: scope.into(),
            role: role.into(),
            member: member.into(),
            condition: None,
        },
    }
}

fn conditioned(mut b: Sourced<Binding>, expression: &str) -> Sourced<Binding> {
    b.value.condition = Some(expression.into());
    b
}

fn run_with(
    roles: Vec<Sourced<RoleDef>>,
    bindings: Vec<Sourced<Binding>>,
    config: &RiskConfig,
) -> Vec<Finding> {
    let state = IamState {
        role_defs: roles,
        bindings,
        ..IamState::default()
    };
    let mut out = Vec::new();
    check(&state, EvalCtx { config }, &mut out);
    out
}

fn run(roles: Vec<Sourced<RoleDef>>, bindings: Vec<Sourced<Binding>>) -> Vec<Finding> {
    run_with(roles, bindings, &RiskConfig::default())
}

fn ids(findings: &[Finding]) -> Vec<&'static str> {
    let mut ids: Vec<&str> = findings.iter().map(|f| f.rule_id).collect();
    ids.sort();
    ids
}

fn one<'f>(findings: &'f [Finding], id: &str) -> &'f Finding {
    let hits: Vec<&Finding> = findings.iter().filter(|f| f.rule_id == id).collect();
    assert_eq!(hits.len(), 1, "{id}: {findings:#?}");
    hits[0]
}

fn keys(findings: &[Finding]) -> Vec<(String, String, String, Severity, Confidence)> {
    let mut k: Vec<_> = findings
        .iter()
        .map(|f| {
            (
                f.rule_id.to_owned(),
                f.subject.clone(),
                f.evidence.clone(),
                f.severity,
                f.confidence,
            )
        })
        .collect();
    k.sort();
    k.dedup();
    k
}

const DEV: &str = "user:dev@acme.com";

#[test]
fn owner_of_a_project_is_full_admin_and_nothing_else_is_repeated() {
    let f = run(vec![], vec![bind("o", "projects/acme", "roles/owner", DEV)]);
    let adm = one(&f, "GCP-ADM-001");
    assert_eq!(
        (adm.category, adm.severity, adm.scope, adm.confidence),
        (
            Category::AdminAccess,
            Severity::Critical,
            Scope::All,
            Confidence::Direct
        )
    );
    assert_eq!(adm.evidence, "projects/acme");
    // Owner holds setIamPolicy, actAs, keys: covered by the admin finding.
    assert_eq!(ids(&f), ["GCP-ADM-001"], "{f:#?}");
}

#[test]
fn editor_is_high_admin_and_its_key_creation_is_still_an_escalation() {
    let f = run(vec![], vec![bind("e", "folders/12", "roles/editor", DEV)]);
    assert_eq!(one(&f, "GCP-ADM-002").severity, Severity::High);
    assert!(f.iter().all(|x| x.rule_id != "GCP-PE-003"), "{f:#?}");
}

#[test]
fn admin_roles_are_judged_by_their_permissions_not_their_names() {
    for role in [
        "roles/resourcemanager.projectIamAdmin",
        "roles/iam.securityAdmin",
        "roles/resourcemanager.organizationAdmin",
    ] {
        let f = run(vec![], vec![bind("a", "projects/acme", role, DEV)]);
        let pe = one(&f, "GCP-PE-001");
        assert_eq!(pe.severity, Severity::Critical, "{role}");
        assert_eq!(pe.category, Category::PrivilegeEscalation, "{role}");
    }
    // A custom role with the same permission is as risky.
    let f = run(
        vec![custom(
            "projects/acme/roles/iamHelper",
            &[
                "resourcemanager.projects.setIamPolicy",
                "resourcemanager.projects.get",
            ],
        )],
        vec![bind(
            "c",
            "projects/acme",
            "projects/acme/roles/iamHelper",
            DEV,
        )],
    );
    assert_eq!(one(&f, "GCP-PE-001").evidence, "projects/acme");
    // A resource admin role: permissions management on resources.
    let f = run(
        vec![],
        vec![bind("s", "projects/acme", "roles/storage.admin", DEV)],
    );
    assert_eq!(ids(&f), ["GCP-PM-001"], "{f:#?}");
}

#[test]
fn escalation_through_service_accounts_follows_rhino_security_labs() {
    let sa = "projects/-/serviceAccounts/deployer@acme.iam.gserviceaccount.com";
    let f = run(
        vec![],
        vec![bind("t", sa, "roles/iam.serviceAccountTokenCreator", DEV)],
    );
    let pe = one(&f, "GCP-PE-002");
    assert_eq!(pe.scope, Scope::Pinned);
    let f = run(
        vec![],
        vec![bind(
            "t",
            "projects/acme",
            "roles/iam.serviceAccountKeyAdmin",
            DEV,
        )],
    );
    assert_eq!(one(&f, "GCP-PE-002").scope, Scope::All);
    let f = run(
        vec![],
        vec![bind(
            "c",
            "projects/acme",
            "roles/cloudbuild.builds.editor",
            DEV,
        )],
    );
    assert_eq!(ids(&f), ["GCP-PE-004"], "{f:#?}");
    let f = run(
        vec![],
        vec![bind(
            "o",
            "organizations/1",
            "roles/orgpolicy.policyAdmin",
            DEV,
        )],
    );
    assert!(ids(&f).contains(&"GCP-PE-006"), "{f:#?}");
}

#[test]
fn act_as_and_deploy_from_two_bindings_are_one_path() {
    let sa = "projects/-/serviceAccounts/runtime@acme.iam.gserviceaccount.com";
    // Either half alone is no path.
    let f = run(
        vec![],
        vec![bind("r", "projects/acme", "roles/run.admin", DEV)],
    );
    assert!(f.iter().all(|x| x.rule_id != "GCP-PE-003"), "{f:#?}");
    let f = run(
        vec![],
        vec![bind("u", sa, "roles/iam.serviceAccountUser", DEV)],
    );
    assert!(f.is_empty(), "{f:#?}");
    // Together they are, pinned when actAs is on one account.
    let f = run(
        vec![],
        vec![
            bind("r", "projects/acme", "roles/run.admin", DEV),
            bind("u", sa, "roles/iam.serviceAccountUser", DEV),
        ],
    );
    let pe = one(&f, "GCP-PE-003");
    assert_eq!(
        (pe.scope, pe.confidence),
        (Scope::Pinned, Confidence::Direct)
    );
    let f = run(
        vec![],
        vec![
            bind("r", "projects/acme", "roles/run.admin", DEV),
            bind("u", "projects/acme", "roles/iam.serviceAccountUser", DEV),
        ],
    );
    assert_eq!(one(&f, "GCP-PE-003").scope, Scope::All);
    // Two different members do not combine.
    let f = run(
        vec![],
        vec![
            bind("r", "projects/acme", "roles/run.admin", DEV),
            bind(
                "u",
                "projects/acme",
                "roles/iam.serviceAccountUser",
                "user:other@acme.com",
            ),
        ],
    );
    assert!(f.iter().all(|x| x.rule_id != "GCP-PE-003"), "{f:#?}");
}

#[test]
fn taking_over_an_administrator_service_account_is_critical() {
    let deployer = "serviceAccount:deployer@acme.iam.gserviceaccount.com";
    let on_account = "projects/-/serviceAccounts/deployer@acme.iam.gserviceaccount.com";
    let admin = bind("a", "projects/acme", "roles/owner", deployer);
    // Token Creator on the account itself.
    let f = run(
        vec![],
        vec![
            admin.clone(),
            bind("t", on_account, "roles/iam.serviceAccountTokenCreator", DEV),
        ],
    );
    let pe = f
        .iter()
        .find(|x| x.rule_id == "GCP-PE-007")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(
        (
            pe.severity,
            pe.scope,
            pe.confidence,
            pe.subject.as_str(),
            pe.evidence.as_str()
        ),
        (
            Severity::Critical,
            Scope::All,
            Confidence::Direct,
            DEV,
            deployer
        )
    );
    // Key creation on the account's project reaches it too; on another project it does not.
    let f = run(
        vec![],
        vec![
            admin.clone(),
            bind(
                "k",
                "projects/acme",
                "roles/iam.serviceAccountKeyAdmin",
                DEV,
            ),
        ],
    );
    assert_eq!(
        f.iter().filter(|x| x.rule_id == "GCP-PE-007").count(),
        1,
        "{f:#?}"
    );
    let f = run(
        vec![],
        vec![
            admin.clone(),
            bind(
                "k",
                "projects/other",
                "roles/iam.serviceAccountKeyAdmin",
                DEV,
            ),
        ],
    );
    assert!(f.iter().all(|x| x.rule_id != "GCP-PE-007"), "{f:#?}");
    // actAs on the account with a deploy permission: the same takeover.
    let f = run(
        vec![],
        vec![
            admin.clone(),
            bind("u", on_account, "roles/iam.serviceAccountUser", DEV),
            bind("r", "projects/acme", "roles/cloudfunctions.developer", DEV),
        ],
    );
    assert!(f.iter().any(|x| x.rule_id == "GCP-PE-007"), "{f:#?}");
    // actAs alone runs nothing.
    let f = run(
        vec![],
        vec![
            admin,
            bind("u", on_account, "roles/iam.serviceAccountUser", DEV),
        ],
    );
    assert!(f.iter().all(|x| x.rule_id != "GCP-PE-007"), "{f:#?}");
    // An account that is not an administrator is no takeover.
    let f = run(
        vec![],
        vec![
            bind("v", "projects/acme", "roles/viewer", deployer),
            bind("t", on_account, "roles/iam.serviceAccountTokenCreator", DEV),
        ],
    );
    assert!(f.iter().all(|x| x.rule_id != "GCP-PE-007"), "{f:#?}");
}

#[test]
fn taking_over_a_new_administrator_account_of_the_stack_is_found_through_its_resource() {
    let account = format!(
        "{UNKNOWN_TEXT} from urn:pulumi:dev::app::gcp:serviceaccount/account:Account::deployer"
    );
    let f = run(
        vec![],
        vec![
            bind(
                "a",
                "projects/acme",
                "roles/owner",
                &format!("serviceAccount:{account}"),
            ),
            bind(
                "t",
                &format!("projects/-/serviceAccounts/{account}"),
                "roles/iam.serviceAccountTokenCreator",
                DEV,
            ),
        ],
    );
    assert!(f.iter().any(|x| x.rule_id == "GCP-PE-007"), "{f:#?}");
}

#[test]
fn role_update_is_complete_when_the_member_holds_a_custom_role_there() {
    let role = custom("projects/acme/roles/mine", &["storage.buckets.get"]);
    let f = run(
        vec![role.clone()],
        vec![bind("a", "projects/acme", "roles/iam.roleAdmin", DEV)],
    );
    assert_eq!(one(&f, "GCP-PE-005").confidence, Confidence::Partial);
    let f = run(
        vec![role],
        vec![
            bind("a", "projects/acme", "roles/iam.roleAdmin", DEV),
            bind("b", "projects/acme", "projects/acme/roles/mine", DEV),
        ],
    );
    assert_eq!(one(&f, "GCP-PE-005").confidence, Confidence::Direct);
}

#[test]
fn public_grants_are_rated_by_what_the_role_does() {
    let bucket = "projects/_/buckets/exports";
    let f = run(
        vec![],
        vec![bind("p", bucket, "roles/storage.objectViewer", "allUsers")],
    );
    let public = one(&f, "GCP-PUB-001");
    assert_eq!(
        (public.severity, public.scope, public.exposure),
        (Severity::Critical, Scope::Pinned, Exposure::Public)
    );
    let f = run(
        vec![],
        vec![bind(
            "p",
            "projects/p/cloudrun/resource/service=api",
            "roles/run.invoker",
            "allUsers",
        )],
    );
    assert_eq!(one(&f, "GCP-PUB-001").severity, Severity::Low);
    let f = run(
        vec![],
        vec![bind(
            "p",
            "projects/acme",
            "roles/browser",
            "allAuthenticatedUsers",
        )],
    );
    assert_eq!(one(&f, "GCP-PUB-001").severity, Severity::Medium);
    // Viewer of a whole project reads its logs: data.
    let f = run(
        vec![],
        vec![bind(
            "p",
            "projects/acme",
            "roles/viewer",
            "allAuthenticatedUsers",
        )],
    );
    assert_eq!(one(&f, "GCP-PUB-001").severity, Severity::Critical);
    let f = run(
        vec![],
        vec![bind(
            "p",
            bucket,
            "roles/storage.objectAdmin",
            "allAuthenticatedUsers",
        )],
    );
    assert_eq!(one(&f, "GCP-PUB-001").severity, Severity::Critical);
}

#[test]
fn members_outside_the_trusted_domains_are_cross_account() {
    let f = run(
        vec![],
        vec![bind(
            "x",
            "projects/acme",
            "roles/viewer",
            "user:someone@gmail.com",
        )],
    );
    let xa = one(&f, "GCP-XA-001");
    assert_eq!(
        (xa.severity, xa.exposure),
        (Severity::Medium, Exposure::External)
    );
    // Without trusted domains, only consumer accounts are known to be outside.
    let f = run(
        vec![],
        vec![bind(
            "x",
            "projects/acme",
            "roles/viewer",
            "user:a@partner.io",
        )],
    );
    assert!(f.is_empty(), "{f:#?}");
    let config = RiskConfig {
        trusted_domains: ["acme.com".to_owned()].into(),
        ..RiskConfig::default()
    };
    let f = run_with(
        vec![],
        vec![
            bind(
                "x",
                "projects/acme",
                "roles/storage.admin",
                "user:a@partner.io",
            ),
            bind(
                "y",
                "projects/acme",
                "roles/viewer",
                "group:ops@eu.acme.com",
            ),
            bind("z", "projects/acme", "roles/viewer", "domain:partner.io"),
            bind(
                "s",
                "projects/acme",
                "roles/viewer",
                "serviceAccount:ci@acme.iam.gserviceaccount.com",
            ),
            bind(
                "t",
                "projects/acme",
                "roles/viewer",
                "serviceAccount:ci@vendor-prj.iam.gserviceaccount.com",
            ),
            bind(
                "g",
                "projects/acme",
                "roles/viewer",
                "serviceAccount:service-1@gcp-sa-pubsub.iam.gserviceaccount.com",
            ),
        ],
        &config,
    );
    let mut external: Vec<(&str, Severity)> = f
        .iter()
        .filter(|x| x.rule_id == "GCP-XA-001")
        .map(|x| (x.subject.as_str(), x.severity))
        .collect();
    external.sort();
    assert_eq!(
        external,
        [
            ("domain:partner.io", Severity::Medium),
            (
                "serviceAccount:ci@vendor-prj.iam.gserviceaccount.com",
                Severity::Medium
            ),
            ("user:a@partner.io", Severity::High),
        ]
    );
}

#[test]
fn conditions_lower_confidence_unless_they_do_not_limit() {
    let owner = bind("o", "projects/acme", "roles/owner", DEV);
    let f = run(
        vec![],
        vec![conditioned(
            owner.clone(),
            "request.time < timestamp(\"2027-01-01T00:00:00Z\")",
        )],
    );
    assert_eq!(one(&f, "GCP-ADM-001").confidence, Confidence::Conditioned);
    for trivial in [
        "true",
        " true ",
        "(true)",
        "resource.name.startsWith(\"projects/_/buckets/x\") || true",
        "request.time > timestamp(\"2020-01-01T00:00:00Z\")",
    ] {
        let f = run(vec![], vec![conditioned(owner.clone(), trivial)]);
        assert_eq!(
            one(&f, "GCP-ADM-001").confidence,
            Confidence::Direct,
            "{trivial}"
        );
    }
    // Held both ways: the unconditional grant is reported.
    let f = run(
        vec![],
        vec![
            conditioned(owner.clone(), "resource.name.startsWith(\"x\")"),
            bind("o2", "projects/acme", "roles/owner", DEV),
        ],
    );
    assert_eq!(one(&f, "GCP-ADM-001").confidence, Confidence::Direct);
}

#[test]
fn unknown_roles_and_values_are_reported_never_harmless() {
    let f = run(
        vec![],
        vec![bind("u", "projects/acme", "roles/does.notExist", DEV)],
    );
    assert_eq!(ids(&f), ["GCP-UNA-001"]);
    let f = run(
        vec![],
        vec![bind(
            "u",
            "projects/acme",
            "projects/other/roles/undefined",
            DEV,
        )],
    );
    assert_eq!(ids(&f), ["GCP-UNA-001"]);
    // An unknown role for everyone or an outsider is judged at its worst.
    let f = run(
        vec![],
        vec![bind(
            "u",
            "projects/_/buckets/b",
            "roles/storage.newRole",
            "allUsers",
        )],
    );
    assert_eq!(ids(&f), ["GCP-PUB-001", "GCP-UNA-001"]);
    assert_eq!(one(&f, "GCP-PUB-001").severity, Severity::Critical);
    let f = run(
        vec![],
        vec![bind(
            "u",
            "projects/acme",
            "roles/some.newRole",
            "user:x@gmail.com",
        )],
    );
    assert_eq!(ids(&f), ["GCP-UNA-001", "GCP-XA-001"]);
    assert_eq!(one(&f, "GCP-XA-001").severity, Severity::High);
    let f = run(vec![], vec![bind("u", "projects/acme", UNKNOWN_TEXT, DEV)]);
    assert_eq!(ids(&f), ["GCP-UNK-001"]);
    let f = run(
        vec![],
        vec![bind("u", "projects/_/buckets/b", UNKNOWN_TEXT, "allUsers")],
    );
    assert_eq!(ids(&f), ["GCP-PUB-001", "GCP-UNK-001"]);
    // A known role for a member unknown until apply: reported, and still judged.
    let f = run(
        vec![],
        vec![bind("u", "projects/acme", "roles/owner", UNKNOWN_TEXT)],
    );
    assert_eq!(ids(&f), ["GCP-ADM-001", "GCP-UNK-001"]);
    let f = run(
        vec![],
        vec![bind(
            "u",
            &format!("projects/{UNKNOWN_TEXT}"),
            "roles/owner",
            DEV,
        )],
    );
    assert_eq!(ids(&f), ["GCP-ADM-001", "GCP-UNK-001"]);
    // One new service account of the stack, named by its resource, is one member.
    let sa = format!(
        "serviceAccount:{UNKNOWN_TEXT} from urn:pulumi:dev::app::gcp:serviceaccount/account:Account::w"
    );
    let f = run(
        vec![],
        vec![
            bind("a", "projects/acme", "roles/run.admin", &sa),
            bind("b", "projects/acme", "roles/iam.serviceAccountUser", &sa),
        ],
    );
    assert_eq!(one(&f, "GCP-PE-003").exposure, Exposure::Service);
    // Two unknown members are not combined into one path.
    let f = run(
        vec![],
        vec![
            bind("a", "projects/acme", "roles/run.admin", UNKNOWN_TEXT),
            bind(
                "b",
                "projects/acme",
                "roles/iam.serviceAccountUser",
                UNKNOWN_TEXT,
            ),
        ],
    );
    assert!(f.iter().all(|x| x.rule_id != "GCP-PE-003"), "{f:#?}");
}

#[test]
fn a_custom_role_named_by_an_output_is_the_role_it_depends_on() {
    // `role: customRole.name` is unknown until apply; the reader ties it to the role's URN.
    let mut def = custom(
        &format!("projects/{UNKNOWN_TEXT}/roles/iamHelper"),
        &["resourcemanager.projects.setIamPolicy"],
    );
    def.urn = "urn:pulumi:dev::app::gcp:projects/iAMCustomRole:IAMCustomRole::helper".into();
    let role = format!("{UNKNOWN_TEXT} from {}", def.urn);
    let f = run(
        vec![def.clone()],
        vec![bind("b", "projects/acme", &role, DEV)],
    );
    let pe = one(&f, "GCP-PE-001");
    assert!(!pe.evidence.contains("urn:"), "{pe:#?}");
    assert!(f.iter().all(|x| x.rule_id != "GCP-UNK-001"), "{f:#?}");
    // Public: the evidence names the role, never the URN.
    let f = run(
        vec![def],
        vec![bind("b", "projects/acme", &role, "allUsers")],
    );
    let public = one(&f, "GCP-PUB-001");
    assert_eq!(
        public.evidence,
        format!("projects/{UNKNOWN_TEXT}/roles/iamHelper @ projects/acme")
    );
    // Without the role in the state it stays unknown.
    let f = run(vec![], vec![bind("b", "projects/acme", &role, DEV)]);
    assert_eq!(ids(&f), ["GCP-UNK-001"]);
}

#[test]
fn deleted_members_hold_nothing() {
    let f = run(
        vec![],
        vec![bind(
            "d",
            "projects/acme",
            "roles/owner",
            "deleted:user:gone@acme.com?uid=1",
        )],
    );
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn keys_are_credentials_exposure() {
    let state = IamState {
        credentials: vec![Sourced {
            urn: "urn:pulumi:dev::app::gcp:serviceaccount/key:Key::k".into(),
            label: "key".into(),
            value: Credential {
                cloud: Cloud::Gcp,
                owner: "serviceAccount:ci@acme.iam.gserviceaccount.com".into(),
                kind: "service account key".into(),
            },
        }],
        ..IamState::default()
    };
    let mut out = Vec::new();
    check(
        &state,
        EvalCtx {
            config: &RiskConfig::default(),
        },
        &mut out,
    );
    let ce = one(&out, "GCP-CE-001");
    assert_eq!(
        (ce.category, ce.severity),
        (Category::CredentialsExposure, Severity::High)
    );
}

#[test]
fn the_same_grant_in_another_resource_or_case_is_the_same_finding() {
    // Trying to get around it: the grant moved to another resource (another URN), duplicated,
    // or its member spelled in another case by the reader's canonical form.
    let a = run(
        vec![],
        vec![
            bind("r", "projects/acme", "roles/run.admin", DEV),
            bind("u", "projects/acme", "roles/iam.serviceAccountUser", DEV),
            bind(
                "p",
                "projects/_/buckets/b",
                "roles/storage.objectViewer",
                "allUsers",
            ),
        ],
    );
    let b = run(
        vec![],
        vec![
            bind(
                "policy",
                "projects/_/buckets/b",
                "roles/storage.objectViewer",
                "allUsers",
            ),
            bind(
                "policy",
                "projects/acme",
                "roles/iam.serviceAccountUser",
                DEV,
            ),
            bind("policy", "projects/acme", "roles/run.admin", DEV),
            bind("again", "projects/acme", "roles/run.admin", DEV),
        ],
    );
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(a.len(), keys(&a).len(), "no duplicate findings: {a:#?}");
    assert_eq!(b.len(), keys(&b).len(), "no duplicate findings: {b:#?}");
}

#[test]
fn every_example_is_of_the_family_and_every_rule_is_unique() {
    let mut seen = BTreeSet::new();
    for r in RULES {
        assert!(r.id.starts_with("GCP-"), "{}", r.id);
        assert!(seen.insert(r.id), "{}", r.id);
        let v: serde_json::Value = serde_json::from_str(r.example).expect(r.id);
        assert!(v["type"].as_str().unwrap().starts_with("gcp:"), "{}", r.id);
    }
}

fn grant_strategy() -> impl Strategy<Value = (usize, usize, usize)> {
    (0usize..4, 0usize..7, 0usize..3)
}

const SCOPES: &[&str] = &[
    "projects/acme",
    "organizations/1",
    "projects/_/buckets/b",
    "projects/-/serviceAccounts/sa@acme.iam.gserviceaccount.com",
];
const ROLES: &[&str] = &[
    "roles/owner",
    "roles/run.admin",
    "roles/iam.serviceAccountUser",
    "roles/storage.objectViewer",
    "roles/iam.serviceAccountTokenCreator",
    "roles/resourcemanager.projectIamAdmin",
    "roles/cloudbuild.builds.editor",
];
const MEMBERS: &[&str] = &[DEV, "allUsers", "user:x@gmail.com"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Reordering the bindings and moving each to another carrying resource (form) gives the
    /// same findings.
    #[test]
    fn forms_and_order_do_not_change_findings(
        grants in proptest::collection::vec(grant_strategy(), 1..8),
        seed in any::<u64>(),
    ) {
        let make = |names: &dyn Fn(usize) -> String, order: &[usize]| {
            order
                .iter()
                .map(|&i| {
                    let (s, r, m) = grants[i];
                    bind(&names(i), SCOPES[s], ROLES[r], MEMBERS[m])
                })
                .collect::<Vec<_>>()
        };
        let forward: Vec<usize> = (0..grants.len()).collect();
        let mut shuffled = forward.clone();
        let mut x = seed;
        for i in (1..shuffled.len()).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (x >> 33) as usize % (i + 1));
        }
        let a = run(vec![], make(&|i| format!("member-{i}"), &forward));
        let b = run(vec![], make(&|_| "policy".to_owned(), &shuffled));
        prop_assert_eq!(keys(&a), keys(&b));
    }
}
