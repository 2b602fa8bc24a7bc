//! The Azure family on states built by hand: each rule, the combination per principal, and the
//! attempts to get around it (another assignment form, the grant split over two roles, a
//! wildcard spelled differently, a reordering).

use proptest::prelude::*;

use super::*;
use crate::engine::iam::grants::Credential;
use crate::engine::risk::RiskConfig;

const SUB: &str = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590";
const RG: &str = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourcegroups/app";
const MG: &str = "/providers/microsoft.management/managementgroups/corp";
const P: &str = "7d5f9c3e-8a41-4f0e-9c1d-2b6a4e8f1a20";
const CUSTOM: &str = "a1b2c3d4-0000-4000-8000-000000000001";

fn def(id: &str, permissions: &[&str], not_permissions: &[&str]) -> Sourced<RoleDef> {
    Sourced {
        urn: format!("urn:pulumi:dev::app::azure-native:authorization:RoleDefinition::{id}"),
        label: "role definition".into(),
        value: RoleDef {
            cloud: Cloud::Azure,
            id: id.into(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            not_permissions: not_permissions.iter().map(|p| (*p).to_owned()).collect(),
            assignable_scopes: vec![SUB.to_owned()],
            aggregate_from: Vec::new(),
            labels: Vec::new(),
        },
    }
}

fn assign(name: &str, scope: &str, role: &str, member: &str) -> Sourced<Binding> {
    Sourced {
        urn: format!("urn:pulumi:dev::app::azure-native:authorization:RoleAssignment::{name}"),
        label: "role assignment".into(),
        value: Binding {
            cloud: Cloud::Azure,
            scope: scope.into(),
            role: role.into(),
            member: member.into(),
            condition: None,
        },
    }
}

fn run(defs: Vec<Sourced<RoleDef>>, bindings: Vec<Sourced<Binding>>) -> Vec<Finding> {
    run_state(IamState {
        role_defs: defs,
        bindings,
        ..IamState::default()
    })
}

fn run_state(state: IamState) -> Vec<Finding> {
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
    k
}

fn one<'f>(findings: &'f [Finding], id: &str) -> &'f Finding {
    let hits: Vec<&Finding> = findings.iter().filter(|f| f.rule_id == id).collect();
    assert_eq!(hits.len(), 1, "{id} in {findings:#?}");
    hits[0]
}

#[test]
fn owner_at_a_subscription_or_management_group_is_full_admin() {
    for scope in [SUB, MG, "/"] {
        let f = run(vec![], vec![assign("o", scope, azure_roles::OWNER, P)]);
        assert_eq!(ids(&f), ["AZURE-ADM-001"], "{scope}");
        let f = &f[0];
        assert_eq!(
            (f.category, f.severity, f.scope, f.confidence),
            (
                crate::engine::risk::Category::AdminAccess,
                Severity::Critical,
                Scope::All,
                Confidence::Direct
            )
        );
        assert_eq!(f.subject, P);
        assert_eq!(f.evidence, format!("every action @ {scope}"));
    }
}

#[test]
fn owner_of_a_resource_group_or_resource_is_narrower() {
    let f = run(vec![], vec![assign("o", RG, azure_roles::OWNER, P)]);
    assert_eq!(one(&f, "AZURE-ADM-001").scope, Scope::Wildcard);
    let vm = format!("{RG}/providers/microsoft.compute/virtualmachines/vm1");
    let f = run(vec![], vec![assign("o", &vm, azure_roles::OWNER, P)]);
    assert_eq!(one(&f, "AZURE-ADM-001").scope, Scope::Pinned);
}

#[test]
fn contributor_manages_everything_but_cannot_assign_roles() {
    let f = run(vec![], vec![assign("c", SUB, azure_roles::CONTRIBUTOR, P)]);
    assert_eq!(ids(&f), ["AZURE-ADM-002"]);
    assert_eq!(f[0].severity, Severity::High);
    let f = run(vec![], vec![assign("r", SUB, azure_roles::READER, P)]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn user_access_and_rbac_administrators_can_assign_roles() {
    for role in [
        azure_roles::USER_ACCESS_ADMINISTRATOR,
        azure_roles::RBAC_ADMINISTRATOR,
    ] {
        let f = run(vec![], vec![assign("a", SUB, role, P)]);
        assert!(ids(&f).contains(&"AZURE-PE-001"), "{role}: {f:#?}");
        assert!(!ids(&f).contains(&"AZURE-ADM-001"), "{role}");
    }
    // User Access Administrator has `Microsoft.Authorization/*`: role definitions too.
    let f = run(
        vec![],
        vec![assign("a", SUB, azure_roles::USER_ACCESS_ADMINISTRATOR, P)],
    );
    assert_eq!(ids(&f), ["AZURE-PE-001", "AZURE-PE-002"]);
}

#[test]
fn an_abac_condition_makes_role_assignment_conditioned() {
    let mut b = assign("a", SUB, azure_roles::RBAC_ADMINISTRATOR, P);
    b.value.condition = Some("((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {acdd72a7-3385-48ef-bd42-f606fba81ae7}))".into());
    let f = run(vec![], vec![b.clone()]);
    assert_eq!(one(&f, "AZURE-PE-001").confidence, Confidence::Conditioned);
    // The same role also given without a condition: the unconditioned grant wins.
    let f = run(
        vec![],
        vec![b, assign("b", SUB, azure_roles::RBAC_ADMINISTRATOR, P)],
    );
    assert_eq!(one(&f, "AZURE-PE-001").confidence, Confidence::Direct);
}

#[test]
fn custom_roles_have_their_not_actions_subtracted() {
    // `*` less the authorization writes is Contributor, not Owner.
    let f = run(
        vec![def(
            CUSTOM,
            &["*"],
            &[
                "microsoft.authorization/*/write",
                "microsoft.authorization/elevateaccess/action",
            ],
        )],
        vec![assign("c", SUB, CUSTOM, P)],
    );
    assert_eq!(ids(&f), ["AZURE-ADM-002", "AZURE-RD-001"]);
    // Without taking `elevateAccess/Action` away, the role can still elevate.
    let f = run(
        vec![def(CUSTOM, &["*"], &["microsoft.authorization/*/write"])],
        vec![assign("c", SUB, CUSTOM, P)],
    );
    assert_eq!(one(&f, "AZURE-RD-002").evidence, ELEVATE);
    // `*` alone is Owner.
    let f = run(
        vec![def(CUSTOM, &["*"], &[])],
        vec![assign("c", SUB, CUSTOM, P)],
    );
    assert_eq!(ids(&f), ["AZURE-ADM-001", "AZURE-RD-001", "AZURE-RD-002"]);
    // Not-actions on data actions do not take control-plane actions away.
    let f = run(
        vec![def(CUSTOM, &["*"], &["data:*"])],
        vec![assign("c", SUB, CUSTOM, P)],
    );
    assert!(ids(&f).contains(&"AZURE-ADM-001"), "{f:#?}");
}

#[test]
fn authorization_wildcards_in_any_spelling_are_role_assignment() {
    for action in [
        "microsoft.authorization/*",
        "microsoft.authorization/roleassignments/*",
        "microsoft.authorization/role*/write",
        "*/write",
    ] {
        let f = run(
            vec![def(CUSTOM, &[action, "*/read"], &[])],
            vec![assign("c", SUB, CUSTOM, P)],
        );
        assert!(ids(&f).contains(&"AZURE-PE-001"), "{action}: {f:#?}");
        assert!(ids(&f).contains(&"AZURE-RD-002"), "{action}");
    }
    // Taken away again by a not-action.
    let f = run(
        vec![def(
            CUSTOM,
            &["microsoft.authorization/*"],
            &[
                "microsoft.authorization/roleassignments/write",
                "microsoft.authorization/roledefinitions/write",
                "microsoft.authorization/elevateaccess/action",
            ],
        )],
        vec![assign("c", SUB, CUSTOM, P)],
    );
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn a_grant_split_over_two_roles_is_still_seen() {
    let assign_only = "a1b2c3d4-0000-4000-8000-000000000002";
    let f = run(
        vec![
            def(CUSTOM, &["*"], &["microsoft.authorization/*"]),
            def(
                assign_only,
                &["microsoft.authorization/roleassignments/write"],
                &[],
            ),
        ],
        vec![
            assign("one", SUB, CUSTOM, P),
            assign("two", SUB, assign_only, P),
        ],
    );
    let found = ids(&f);
    assert!(found.contains(&"AZURE-ADM-002"), "{f:#?}");
    assert!(found.contains(&"AZURE-PE-001"), "{f:#?}");
}

#[test]
fn a_wider_grant_covers_the_narrower_ones() {
    let f = run(
        vec![],
        vec![
            assign("rg", RG, azure_roles::OWNER, P),
            assign("sub", SUB, azure_roles::OWNER, P),
            assign("rg-uaa", RG, azure_roles::USER_ACCESS_ADMINISTRATOR, P),
        ],
    );
    assert_eq!(ids(&f), ["AZURE-ADM-001"]);
    assert_eq!(f[0].evidence, format!("every action @ {SUB}"));
    // Another subscription is not covered.
    let other = "/subscriptions/11111111-1bf0-4dda-aec3-cb9272f09590";
    let f = run(
        vec![],
        vec![
            assign("sub", SUB, azure_roles::OWNER, P),
            assign("other", other, azure_roles::CONTRIBUTOR, P),
        ],
    );
    assert_eq!(ids(&f), ["AZURE-ADM-001", "AZURE-ADM-002"]);
}

#[test]
fn directory_roles_by_privilege() {
    let dir = |role: &str, scope: &str| {
        run(
            vec![],
            vec![assign("d", scope, &format!("directoryRole/{role}"), P)],
        )
    };
    let f = dir("62e90394-69f5-4237-9190-012177145e10", "directory:/");
    assert_eq!(ids(&f), ["AZURE-DIR-001"]);
    assert_eq!(
        (f[0].severity, f[0].scope),
        (Severity::Critical, Scope::All)
    );
    assert_eq!(f[0].evidence, "Global Administrator @ directory:/");
    assert_eq!(
        ids(&dir("e8611ab8-c189-46e8-94e1-60213ab1f814", "directory:/")),
        ["AZURE-DIR-002"]
    );
    let f = dir(
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "directory:/administrativeunits/42",
    );
    assert_eq!(ids(&f), ["AZURE-DIR-003"]);
    assert_eq!(f[0].scope, Scope::Wildcard);
    let f = dir("4a5d8f65-41da-4de4-8968-e035b65339cf", "directory:/");
    assert_eq!(ids(&f), ["AZURE-UNA-001"]);
    assert_eq!(f[0].severity, Severity::Low);
}

#[test]
fn graph_permissions_that_lead_to_global_administrator() {
    let app = |role: &str| {
        run(
            vec![],
            vec![assign(
                "a",
                "servicePrincipal/3c4b7a61-5f0e-4d8c-9a2b-1e6f7d8c9b0a",
                &format!("appRole/{role}"),
                P,
            )],
        )
    };
    let f = app("9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8");
    assert_eq!(ids(&f), ["AZURE-APP-001"]);
    assert_eq!(f[0].evidence, "RoleManagement.ReadWrite.Directory");
    assert_eq!((f[0].scope, f[0].exposure), (Scope::All, Exposure::Service));
    assert_eq!(
        ids(&app("1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9")),
        ["AZURE-APP-002"]
    );
    // User.Read.All: no path to Global Administrator.
    assert!(app("df021288-bdef-4463-88db-98f22de89214").is_empty());
}

#[test]
fn credentials_and_public_access() {
    let cred = |kind: &str| Sourced {
        urn: "urn:pulumi:dev::app::azuread:index/applicationPassword:ApplicationPassword::ci"
            .into(),
        label: "credential".into(),
        value: Credential {
            cloud: Cloud::Azure,
            owner: "application/0c1d".into(),
            kind: kind.into(),
        },
    };
    let f = run_state(IamState {
        credentials: vec![
            cred("application password"),
            cred("federated identity credential (issuer i, subject s)"),
        ],
        ..IamState::default()
    });
    assert_eq!(ids(&f), ["AZURE-CE-001", "AZURE-CE-002"]);
    let public = |role: &str| {
        run(
            vec![],
            vec![assign("p", "storage/assets/exports", role, ALL_USERS)],
        )
    };
    let f = public(PUBLIC_CONTAINER);
    assert_eq!(ids(&f), ["AZURE-PUB-001"]);
    assert_eq!(
        (f[0].severity, f[0].scope, f[0].exposure),
        (Severity::Critical, Scope::Pinned, Exposure::Public)
    );
    assert_eq!(public(PUBLIC_BLOB)[0].severity, Severity::High);
    assert_eq!(ids(&public(ALLOW_PUBLIC)), ["AZURE-PUB-002"]);
}

#[test]
fn unknown_values_and_unknown_roles_are_reported_never_cleared() {
    let f = run(vec![], vec![assign("u", SUB, UNKNOWN_TEXT, P)]);
    assert_eq!(ids(&f), ["AZURE-UNK-001"]);
    let f = run(
        vec![],
        vec![assign("u", SUB, azure_roles::OWNER, UNKNOWN_TEXT)],
    );
    assert_eq!(ids(&f), ["AZURE-UNK-001"]);
    let f = run(
        vec![def(CUSTOM, &[&format!("{UNKNOWN_TEXT} actions")], &[])],
        vec![assign("u", SUB, CUSTOM, P)],
    );
    assert_eq!(ids(&f), ["AZURE-UNK-001"]);
    let f = run(
        vec![],
        vec![assign("u", SUB, "5d1c7d3a-0f6b-4c4e-9d51-6f0b2b8c1a90", P)],
    );
    assert_eq!(ids(&f), ["AZURE-UNA-001"]);
    let f = run(vec![], vec![assign("u", SUB, "name:Some Future Role", P)]);
    assert_eq!(ids(&f), ["AZURE-UNA-001"]);
    let f = run(
        vec![],
        vec![assign("u", "storage/a/c", UNKNOWN_TEXT, ALL_USERS)],
    );
    assert_eq!(ids(&f), ["AZURE-UNK-001"]);
}

#[test]
fn a_definition_created_alongside_is_read_through_its_urn() {
    let mut d = def(
        &format!("{UNKNOWN_TEXT} role definition everything"),
        &["*"],
        &[],
    );
    d.urn = "urn:pulumi:dev::app::azure-native:authorization:RoleDefinition::everything".into();
    let role = format!("{ROLE_DEFINITION_OF}{}", d.urn);
    let f = run(vec![d.clone()], vec![assign("a", SUB, &role, P)]);
    assert!(ids(&f).contains(&"AZURE-ADM-001"), "{f:#?}");
    assert!(!ids(&f).contains(&"AZURE-UNK-001"), "{f:#?}");
    // A URN that names no definition of the state stays unknown.
    let f = run(
        vec![],
        vec![assign("a", SUB, &format!("{ROLE_DEFINITION_OF}urn:x"), P)],
    );
    assert_eq!(ids(&f), ["AZURE-UNK-001"]);
}

#[test]
fn an_eligible_assignment_is_conditioned_and_an_active_one_wins() {
    let mut eligible = assign("e", SUB, azure_roles::OWNER, P);
    eligible.value.condition = Some("eligible (PIM activation)".into());
    let f = run(vec![], vec![eligible.clone()]);
    let adm = one(&f, "AZURE-ADM-001");
    assert_eq!(adm.confidence, Confidence::Conditioned);
    // Eligible at the subscription and active at a resource group: both are reported.
    let f = run(
        vec![],
        vec![eligible.clone(), assign("a", RG, azure_roles::OWNER, P)],
    );
    assert_eq!(ids(&f), ["AZURE-ADM-001", "AZURE-ADM-001"]);
    // Active at the subscription covers the eligible one.
    let f = run(
        vec![],
        vec![eligible, assign("a", SUB, azure_roles::OWNER, P)],
    );
    assert_eq!(one(&f, "AZURE-ADM-001").confidence, Confidence::Direct);
    // An eligible Global Administrator is conditioned too.
    let mut ga = assign(
        "g",
        "directory:/",
        "directoryRole/62e90394-69f5-4237-9190-012177145e10",
        P,
    );
    ga.value.condition = Some("eligible (PIM activation)".into());
    let f = run(vec![], vec![ga]);
    assert_eq!(one(&f, "AZURE-DIR-001").confidence, Confidence::Conditioned);
}

#[test]
fn group_members_hold_what_the_group_is_granted() {
    let group = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e";
    let inner = "3c4d5e6f-7a8b-4c9d-8e0f-2a3b4c5d6e7f";
    let member = |g: &str, m: &str| Sourced {
        urn: format!("urn:pulumi:dev::app::azuread:index/groupMember:GroupMember::{m}"),
        label: "group member".into(),
        value: Binding {
            cloud: Cloud::Azure,
            scope: format!("group/{g}"),
            role: GROUP_MEMBER.into(),
            member: m.into(),
            condition: None,
        },
    };
    // P is in `inner`, which is in `group`, which is Owner of the subscription.
    let f = run(
        vec![],
        vec![
            assign("g", SUB, azure_roles::OWNER, group),
            member(group, inner),
            member(inner, P),
        ],
    );
    let subjects: Vec<&str> = f
        .iter()
        .filter(|f| f.rule_id == "AZURE-ADM-001")
        .map(|f| f.subject.as_str())
        .collect();
    assert_eq!(subjects.len(), 3, "{f:#?}");
    for s in [group, inner, P] {
        assert!(subjects.contains(&s), "{s}: {subjects:?}");
    }
    // The same grant assigned to P directly: P's finding has the same identity.
    let direct = run(vec![], vec![assign("p", SUB, azure_roles::OWNER, P)]);
    let via_group: Vec<_> = keys(&f).into_iter().filter(|k| k.1 == P).collect();
    assert_eq!(via_group, keys(&direct));
    // A directory role held by a (role-assignable) group reaches its members.
    let f = run(
        vec![],
        vec![
            assign(
                "ga",
                "directory:/",
                "directoryRole/62e90394-69f5-4237-9190-012177145e10",
                group,
            ),
            member(group, P),
        ],
    );
    let subjects: Vec<&str> = f.iter().map(|f| f.subject.as_str()).collect();
    assert_eq!(ids(&f), ["AZURE-DIR-001", "AZURE-DIR-001"]);
    assert!(subjects.contains(&P) && subjects.contains(&group), "{f:#?}");
    // A membership cycle ends.
    let f = run(
        vec![],
        vec![
            assign("g", SUB, azure_roles::CONTRIBUTOR, group),
            member(group, inner),
            member(inner, group),
        ],
    );
    assert_eq!(ids(&f), ["AZURE-ADM-002", "AZURE-ADM-002"]);
}

#[test]
fn scopes_are_classified_by_depth() {
    assert_eq!(scope_of("/"), Scope::All);
    assert_eq!(scope_of(MG), Scope::All);
    assert_eq!(scope_of(SUB), Scope::All);
    assert_eq!(scope_of(RG), Scope::Wildcard);
    assert_eq!(
        scope_of(&format!(
            "{RG}/providers/microsoft.storage/storageaccounts/a"
        )),
        Scope::Pinned
    );
    assert!(covers(SUB, RG));
    assert!(!covers(
        SUB,
        "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590x"
    ));
}

proptest! {
    /// Reordering the assignments, and carrying them in other resources (another form, another
    /// logical name), changes no finding's identity nor severity.
    #[test]
    fn form_changes_and_reorderings_give_the_same_findings(
        picks in proptest::collection::vec((0usize..6, 0usize..3), 1..6),
        seed in any::<u64>(),
    ) {
        let roles = [
            azure_roles::OWNER,
            azure_roles::CONTRIBUTOR,
            azure_roles::USER_ACCESS_ADMINISTRATOR,
            azure_roles::RBAC_ADMINISTRATOR,
            azure_roles::READER,
            CUSTOM,
        ];
        let scopes = [SUB, RG, MG];
        let defs = vec![def(CUSTOM, &["microsoft.authorization/roleassignments/write"], &[])];
        let bindings: Vec<Sourced<Binding>> = picks
            .iter()
            .enumerate()
            .map(|(i, (r, s))| assign(&format!("native-{i}"), scopes[*s], roles[*r], P))
            .collect();
        let mut moved: Vec<Sourced<Binding>> = bindings
            .iter()
            .map(|b| {
                let mut b = b.clone();
                b.urn = b.urn.replace(
                    "azure-native:authorization:RoleAssignment::native",
                    "azure:authorization/assignment:Assignment::classic",
                );
                b
            })
            .collect();
        // A deterministic shuffle from the seed.
        let n = moved.len();
        for i in (1..n).rev() {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
            moved.swap(i, j);
        }
        let before = keys(&run(defs.clone(), bindings));
        let after = keys(&run(defs, moved));
        prop_assert_eq!(before, after);
    }
}

/// A preview of role assignment steps, each in one of the provider forms.
fn preview_of(assignments: &[(usize, usize, usize, bool)]) -> String {
    let roles = [
        ("Owner", azure_roles::OWNER),
        ("Contributor", azure_roles::CONTRIBUTOR),
        (
            "User Access Administrator",
            azure_roles::USER_ACCESS_ADMINISTRATOR,
        ),
        (
            "Role Based Access Control Administrator",
            azure_roles::RBAC_ADMINISTRATOR,
        ),
        ("Reader", azure_roles::READER),
    ];
    let scopes = [SUB, RG, MG];
    let steps: Vec<serde_json::Value> = assignments
        .iter()
        .enumerate()
        .map(|(i, &(r, s, form, shout))| {
            let (name, guid) = roles[r];
            let scope = if shout {
                format!("{}/", scopes[s].to_uppercase())
            } else {
                scopes[s].to_owned()
            };
            let full = format!("{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}");
            let (type_, inputs) = match form {
                0 => (
                    "azure-native:authorization:RoleAssignment",
                    serde_json::json!({"scope": scope, "roleDefinitionId": full, "principalId": P}),
                ),
                1 => (
                    "azure-native:authorization/v20220401:RoleAssignment",
                    serde_json::json!({"scope": scope, "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{}", guid.to_uppercase()), "principalId": P.to_uppercase()}),
                ),
                2 => (
                    "azure:authorization/assignment:Assignment",
                    serde_json::json!({"scope": scope, "roleDefinitionName": name, "principalId": P}),
                ),
                _ => (
                    "azure:authorization/assignment:Assignment",
                    serde_json::json!({"scope": scope, "roleDefinitionId": full, "principalId": P}),
                ),
            };
            let urn = format!("urn:pulumi:dev::app::{type_}::grant-{i}-{form}");
            serde_json::json!({"op": "create", "urn": urn,
                "newState": {"urn": urn, "type": type_, "custom": true, "inputs": inputs}})
        })
        .collect();
    serde_json::json!({"steps": steps}).to_string()
}

fn preview_keys(text: &str) -> Vec<(String, String, String, Severity, Confidence)> {
    let preview = crate::engine::preview::parse(text.as_bytes()).unwrap();
    let extraction = crate::engine::iam::extract::extract(&preview);
    keys(&run_state(extraction.after))
}

proptest! {
    /// Through the reader: each assignment written in any provider form (native, a versioned
    /// native module, classic by role name or by id), with the scope shouted and a trailing
    /// slash, in any order, gives the findings of the plain native form.
    #[test]
    fn provider_forms_case_and_order_do_not_change_findings(
        picks in proptest::collection::vec((0usize..5, 0usize..3, 0usize..4, any::<bool>()), 1..6),
        rotate in 0usize..6,
    ) {
        let plain: Vec<(usize, usize, usize, bool)> =
            picks.iter().map(|&(r, s, _, _)| (r, s, 0, false)).collect();
        let mut varied = picks.clone();
        let n = varied.len();
        varied.rotate_left(rotate % n);
        varied.reverse();
        prop_assert_eq!(preview_keys(&preview_of(&plain)), preview_keys(&preview_of(&varied)));
    }
}

#[test]
fn the_preview_helper_reaches_the_rules() {
    let k = preview_keys(&preview_of(&[(0, 0, 2, true), (2, 1, 1, false)]));
    let rules: Vec<&str> = k.iter().map(|(r, ..)| r.as_str()).collect();
    assert_eq!(rules, ["AZURE-ADM-001"], "{k:?}");
    let k = preview_keys(&preview_of(&[(2, 1, 3, true)]));
    let rules: Vec<&str> = k.iter().map(|(r, ..)| r.as_str()).collect();
    assert_eq!(rules, ["AZURE-PE-001", "AZURE-PE-002"], "{k:?}");
}
