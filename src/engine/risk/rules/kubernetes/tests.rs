//! The Kubernetes RBAC family on states built by hand: each rule, the combination per subject,
//! and the attempts to get around it (another binding form, another role carrying the same
//! rules, a case change, an aggregation label).

use proptest::prelude::*;

use super::*;
use crate::engine::iam::grants::Credential;
use crate::engine::risk::RiskConfig;

fn role(id: &str, permissions: &[&str]) -> Sourced<RoleDef> {
    Sourced {
        urn: format!(
            "urn:pulumi:dev::app::kubernetes:rbac.authorization.k8s.io/v1:ClusterRole::{id}"
        ),
        label: "role".into(),
        value: RoleDef {
            cloud: Cloud::Kubernetes,
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
        urn: format!(
            "urn:pulumi:dev::app::kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding::{urn}"
        ),
        label: "binding".into(),
        value: Binding {
            cloud: Cloud::Kubernetes,
            scope: scope.into(),
            role: role.into(),
            member: member.into(),
            condition: None,
        },
    }
}

fn run(roles: Vec<Sourced<RoleDef>>, bindings: Vec<Sourced<Binding>>) -> Vec<Finding> {
    let state = IamState {
        role_defs: roles,
        bindings,
        ..IamState::default()
    };
    let config = RiskConfig::default();
    let mut out = Vec::new();
    check(&state, EvalCtx { config: &config }, &mut out);
    out
}

fn ids(findings: &[Finding]) -> Vec<&'static str> {
    let mut ids: Vec<&str> = findings.iter().map(|f| f.rule_id).collect();
    ids.sort();
    ids
}

fn keys(findings: &[Finding]) -> Vec<(String, String, String, Severity)> {
    let mut k: Vec<_> = findings
        .iter()
        .map(|f| {
            (
                f.rule_id.to_owned(),
                f.subject.clone(),
                f.evidence.clone(),
                f.severity,
            )
        })
        .collect();
    k.sort();
    k
}

const SA: &str = "ServiceAccount/build/ci";

#[test]
fn cluster_admin_bound_cluster_wide_is_full_admin_and_nothing_else() {
    let out = run(
        vec![],
        vec![bind("b", "cluster", "ClusterRole/cluster-admin", SA)],
    );
    assert_eq!(ids(&out), ["K8S-ADM-001"]);
    let f = &out[0];
    assert_eq!(
        (f.severity, f.scope, f.confidence, f.exposure),
        (
            Severity::Critical,
            Scope::All,
            Confidence::Direct,
            Exposure::Service
        )
    );
    assert_eq!(f.subject, SA);
}

#[test]
fn cluster_admin_in_a_namespace_is_namespace_admin_not_cluster_admin() {
    let out = run(
        vec![],
        vec![bind(
            "b",
            "namespace/payments",
            "ClusterRole/cluster-admin",
            SA,
        )],
    );
    assert_eq!(ids(&out), ["K8S-ADM-002"]);
    assert_eq!(out[0].severity, Severity::High);
    assert_eq!(out[0].scope, Scope::Wildcard);
    // In kube-system it is the cluster's own controllers: critical.
    let out = run(
        vec![],
        vec![bind("b", "namespace/kube-system", "ClusterRole/admin", SA)],
    );
    assert_eq!(ids(&out), ["K8S-ADM-002"]);
    assert_eq!(out[0].severity, Severity::Critical);
}

#[test]
fn a_wildcard_role_is_the_same_grant_as_cluster_admin() {
    let a = run(
        vec![],
        vec![bind("a", "cluster", "ClusterRole/cluster-admin", SA)],
    );
    let b = run(
        vec![role("ClusterRole/everything", &["* */*"])],
        vec![bind("b", "cluster", "ClusterRole/everything", SA)],
    );
    let admin = |out: &[Finding]| {
        out.iter()
            .filter(|f| f.rule_id == "K8S-ADM-001")
            .map(|f| (f.subject.clone(), f.evidence.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(admin(&a), admin(&b));
    // The custom role is also linted for its wildcard.
    assert!(ids(&b).contains(&"K8S-WC-001"));
}

#[test]
fn the_admin_role_bound_in_a_namespace_administers_it() {
    let out = run(
        vec![],
        vec![bind(
            "b",
            "namespace/team",
            "ClusterRole/admin",
            "Group/devs",
        )],
    );
    assert_eq!(ids(&out), ["K8S-ADM-002"], "{out:#?}");
}

#[test]
fn edit_in_a_namespace_reads_secrets_execs_and_runs_pods() {
    let out = run(
        vec![],
        vec![bind(
            "b",
            "namespace/team",
            "ClusterRole/edit",
            "Group/devs",
        )],
    );
    let got = ids(&out);
    for id in [
        "K8S-DE-001",
        "K8S-PE-002",
        "K8S-PE-003",
        "K8S-PE-004",
        "K8S-PE-006",
    ] {
        assert!(got.contains(&id), "{id} missing from {got:?}");
    }
    assert!(!got.contains(&"K8S-ADM-002"), "{got:?}");
    assert!(out.iter().all(|f| f.scope == Scope::Wildcard), "{out:#?}");
    // view reads no secrets.
    let out = run(
        vec![],
        vec![bind(
            "b",
            "namespace/team",
            "ClusterRole/view",
            "Group/devs",
        )],
    );
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn a_rolebinding_never_grants_cluster_scoped_resources() {
    let r = role(
        "ClusterRole/proxy",
        &["get core/nodes/proxy", "impersonate core/users"],
    );
    let out = run(
        vec![r.clone()],
        vec![bind("b", "namespace/team", "ClusterRole/proxy", SA)],
    );
    assert!(out.iter().all(|f| f.rule_id == "K8S-WC-001"), "{out:#?}");
    let out = run(vec![r], vec![bind("b", "cluster", "ClusterRole/proxy", SA)]);
    assert_eq!(ids(&out), ["K8S-PE-002", "K8S-PE-005"]);
}

#[test]
fn escalate_and_bind_are_complete_only_with_the_write_that_uses_them() {
    let partial = run(
        vec![role(
            "ClusterRole/r",
            &["bind rbac.authorization.k8s.io/clusterroles"],
        )],
        vec![bind("b", "cluster", "ClusterRole/r", SA)],
    );
    assert_eq!(ids(&partial), ["K8S-PE-001"]);
    assert_eq!(partial[0].confidence, Confidence::Partial);
    // The write comes from a second role bound to the same subject: combined, a full path.
    let combined = run(
        vec![
            role(
                "ClusterRole/r",
                &["bind rbac.authorization.k8s.io/clusterroles"],
            ),
            role(
                "ClusterRole/w",
                &["create rbac.authorization.k8s.io/clusterrolebindings"],
            ),
        ],
        vec![
            bind("b", "cluster", "ClusterRole/r", SA),
            bind("c", "cluster", "ClusterRole/w", SA),
        ],
    );
    let pe: Vec<&Finding> = combined
        .iter()
        .filter(|f| f.rule_id == "K8S-PE-001")
        .collect();
    assert_eq!(pe.len(), 1, "{combined:#?}");
    assert_eq!(pe[0].confidence, Confidence::Direct);
    assert_eq!(pe[0].severity, Severity::Critical);
    // The write is not reported again as mere RBAC management.
    assert!(!ids(&combined).contains(&"K8S-PM-001"), "{combined:#?}");
}

#[test]
fn workload_creation_is_critical_cluster_wide_and_in_kube_system_high_elsewhere() {
    let r = role("ClusterRole/deployer", &["create apps/deployments"]);
    for (scope, severity) in [
        ("cluster", Severity::Critical),
        ("namespace/kube-system", Severity::Critical),
        ("namespace/web", Severity::High),
    ] {
        let out = run(
            vec![r.clone()],
            vec![bind("b", scope, "ClusterRole/deployer", SA)],
        );
        assert_eq!(ids(&out), ["K8S-PE-003"], "{scope}");
        assert_eq!(out[0].severity, severity, "{scope}");
    }
}

#[test]
fn named_objects_are_pinned_and_widening_them_is_a_new_key() {
    let narrow = run(
        vec![role("Role/team/r", &["get core/secrets#db-password"])],
        vec![bind("b", "namespace/team", "Role/team/r", SA)],
    );
    assert_eq!(ids(&narrow), ["K8S-DE-001"]);
    assert_eq!(narrow[0].scope, Scope::Pinned);
    let wide = run(
        vec![role("Role/team/r", &["get core/secrets"])],
        vec![bind("b", "namespace/team", "Role/team/r", SA)],
    );
    assert_eq!(wide[0].scope, Scope::Wildcard);
    assert_ne!(keys(&narrow), keys(&wide));
}

#[test]
fn public_subjects_are_reported_whatever_the_role() {
    let out = run(
        vec![],
        vec![bind(
            "b",
            "cluster",
            "ClusterRole/view",
            "Group/system:unauthenticated",
        )],
    );
    assert_eq!(ids(&out), ["K8S-PUB-001"]);
    assert_eq!(out[0].severity, Severity::Critical);
    assert_eq!(out[0].exposure, Exposure::Public);
    let out = run(
        vec![],
        vec![bind(
            "b",
            "cluster",
            "ClusterRole/edit",
            "Group/system:authenticated",
        )],
    );
    let public = out.iter().find(|f| f.rule_id == "K8S-PUB-001").unwrap();
    assert_eq!(public.severity, Severity::High);
    // What the role grants is judged too, as public.
    assert!(
        out.iter()
            .any(|f| f.rule_id == "K8S-DE-001" && f.exposure == Exposure::Public),
        "{out:#?}"
    );
}

#[test]
fn unknown_and_undefined_roles_are_never_passed_over() {
    let out = run(
        vec![],
        vec![
            bind("a", "cluster", "ClusterRole/operator-manager", SA),
            bind("b", "cluster", &format!("ClusterRole/{UNKNOWN_TEXT}"), SA),
            bind(
                "c",
                "cluster",
                "ClusterRole/view",
                &format!("{UNKNOWN_TEXT} subjects"),
            ),
        ],
    );
    assert_eq!(ids(&out), ["K8S-UNA-001", "K8S-UNK-001", "K8S-UNK-001"]);
}

#[test]
fn aggregating_into_view_is_reported_and_reaches_view_holders() {
    let mut r = role(
        "ClusterRole/crd-secrets",
        &["get core/secrets", "list core/secrets"],
    );
    r.value.labels = vec!["rbac.authorization.k8s.io/aggregate-to-view=true".into()];
    let out = run(
        vec![r],
        vec![bind(
            "b",
            "namespace/team",
            "ClusterRole/view",
            "Group/devs",
        )],
    );
    let agg: Vec<&Finding> = out.iter().filter(|f| f.rule_id == "K8S-AGG-001").collect();
    // view aggregates into edit, edit into admin: all three gain it, in one finding.
    assert_eq!(agg.len(), 1, "{out:#?}");
    assert!(
        agg[0]
            .evidence
            .starts_with("ClusterRole/admin, ClusterRole/edit, ClusterRole/view <- "),
        "{}",
        agg[0].evidence
    );
    assert!(
        out.iter()
            .any(|f| f.rule_id == "K8S-DE-001" && f.subject == "Group/devs"),
        "{out:#?}"
    );
}

#[test]
fn a_patch_of_a_builtin_role_never_empties_it() {
    // A ClusterRolePatch of `cluster-admin` that sets only a label, then a binding to it: still
    // cluster administrator.
    let mut patch = role("ClusterRole/cluster-admin", &[]);
    patch.value.labels = vec!["team=platform".into()];
    let out = run(
        vec![patch],
        vec![bind("b", "cluster", "ClusterRole/cluster-admin", SA)],
    );
    assert_eq!(ids(&out), ["K8S-ADM-001"], "{out:#?}");
    // What the stack adds to a built-in role is judged with it.
    let out = run(
        vec![role("ClusterRole/view", &["get core/secrets"])],
        vec![bind("b", "namespace/team", "ClusterRole/view", SA)],
    );
    assert_eq!(ids(&out), ["K8S-DE-001"], "{out:#?}");
}

#[test]
fn service_account_token_secrets_are_credentials() {
    let state = IamState {
        credentials: vec![Sourced {
            urn: "urn:pulumi:dev::app::kubernetes:core/v1:Secret::t".into(),
            label: "credential".into(),
            value: Credential {
                cloud: Cloud::Kubernetes,
                owner: SA.into(),
                kind: "service account token secret".into(),
            },
        }],
        ..IamState::default()
    };
    let config = RiskConfig::default();
    let mut out = Vec::new();
    check(&state, EvalCtx { config: &config }, &mut out);
    assert_eq!(ids(&out), ["K8S-CE-001"]);
}

#[test]
fn other_clouds_bindings_are_left_to_their_family() {
    let mut b = bind("b", "cluster", "ClusterRole/cluster-admin", SA);
    b.value.cloud = Cloud::Gcp;
    assert!(run(vec![], vec![b]).is_empty());
}

#[test]
fn a_service_account_combines_what_its_namespace_group_holds() {
    // `bind` on the account's own binding, the write that uses it through the group every
    // account of the namespace is in: a complete path for the account.
    let out = run(
        vec![
            role(
                "ClusterRole/binder",
                &["bind rbac.authorization.k8s.io/clusterroles"],
            ),
            role(
                "ClusterRole/writer",
                &["create rbac.authorization.k8s.io/clusterrolebindings"],
            ),
        ],
        vec![
            bind("a", "cluster", "ClusterRole/binder", SA),
            bind(
                "b",
                "cluster",
                "ClusterRole/writer",
                "Group/system:serviceaccounts:build",
            ),
        ],
    );
    let pe: Vec<&Finding> = out
        .iter()
        .filter(|f| f.rule_id == "K8S-PE-001" && f.subject == SA)
        .collect();
    assert_eq!(pe.len(), 1, "{out:#?}");
    assert_eq!(pe[0].confidence, Confidence::Direct);
    // What the group alone gives is reported on the group, once, not again on the account.
    assert!(
        out.iter()
            .any(|f| f.rule_id == "K8S-PM-001" && f.subject == "Group/system:serviceaccounts:build"),
        "{out:#?}"
    );
    assert!(
        !out.iter()
            .any(|f| f.rule_id == "K8S-PM-001" && f.subject == SA),
        "{out:#?}"
    );
}

#[test]
fn an_accounts_own_grant_of_what_its_group_already_has_is_not_reported_again() {
    let r = role("ClusterRole/secrets", &["get core/secrets"]);
    let out = run(
        vec![r],
        vec![
            bind(
                "a",
                "cluster",
                "ClusterRole/secrets",
                "Group/system:serviceaccounts",
            ),
            bind("b", "cluster", "ClusterRole/secrets", SA),
        ],
    );
    let subjects: Vec<&str> = out.iter().map(|f| f.subject.as_str()).collect();
    assert_eq!(subjects, ["Group/system:serviceaccounts"], "{out:#?}");
}

#[test]
fn every_capability_target_is_relevant() {
    let literal: &[(&str, &str)] = &[
        ("core", "secrets"),
        ("core", "pods/exec"),
        ("core", "pods/attach"),
        ("core", "nodes/proxy"),
        ("core", "serviceaccounts/token"),
        ("core", "users"),
        ("core", "groups"),
        ("core", "serviceaccounts"),
    ];
    for (group, resource) in WORKLOADS.iter().chain(ROLES).chain(BINDINGS).chain(literal) {
        for verb in ["create", "get", "escalate", "bind", "impersonate"] {
            let text = format!("{verb} {group}/{resource}");
            let perm = Perm::parse(&text).unwrap();
            assert!(perm.is_relevant(), "{text}");
        }
    }
    // What no capability reads is dropped before the subjects are judged.
    assert!(!Perm::parse("get core/configmaps").unwrap().is_relevant());
    assert!(!Perm::parse("delete core/pods").unwrap().is_relevant());
    assert!(Perm::parse("* example.com/*").unwrap().is_relevant());
}

proptest! {
    /// The findings (by key and severity) do not depend on which binding resource carries a
    /// grant, nor on the order of bindings, roles or permissions.
    #[test]
    fn findings_do_not_depend_on_carrier_or_order(
        perms in proptest::sample::subsequence(vec![
            "get core/secrets", "create core/pods", "create apps/deployments",
            "bind rbac.authorization.k8s.io/clusterroles",
            "create rbac.authorization.k8s.io/rolebindings",
            "impersonate core/serviceaccounts", "create core/pods/exec", "* */*",
        ], 0..8),
        scope in proptest::sample::select(vec!["cluster", "namespace/a", "namespace/kube-system"]),
        split in 0usize..8,
        seed in 0u64..1000,
    ) {
        let (first, second) = perms.split_at(split.min(perms.len()));
        let together = run(
            vec![role("ClusterRole/one", &perms)],
            vec![bind("one", scope, "ClusterRole/one", SA)],
        );
        let mut roles = vec![role("ClusterRole/x", first), role("ClusterRole/y", second)];
        let mut bindings = vec![
            bind(&format!("p{seed}"), scope, "ClusterRole/x", SA),
            bind(&format!("q{seed}"), scope, "ClusterRole/y", SA),
        ];
        if seed % 2 == 0 {
            roles.reverse();
            bindings.reverse();
        }
        let apart = run(roles, bindings);
        let subject_keys = |out: &[Finding]| {
            keys(out).into_iter().filter(|k| k.0 != "K8S-WC-001").collect::<Vec<_>>()
        };
        prop_assert_eq!(subject_keys(&together), subject_keys(&apart));
    }
}
