//! Synthetic preview steps of the clouds beyond AWS, shaped as their providers' SDKs define them
//! (the same shapes as the test fixtures under `tests/fixtures/<cloud>/`): deterministic for a
//! seed. Used by `benches/bindings.rs`.

use serde_json::{Value, json};

const STACK: &str = "urn:pulumi:bench::platform";
const RBAC: &str = "rbac.authorization.k8s.io";
const V1: &str = "kubernetes:rbac.authorization.k8s.io/v1";

/// A tiny deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }
}

fn urn(type_: &str, name: &str) -> String {
    format!("{STACK}::{type_}::{name}")
}

/// A step of `op` with the given old and new inputs (old states carry them as outputs too).
pub fn step(op: &str, type_: &str, name: &str, old: Option<Value>, new: Option<Value>) -> Value {
    let state = |inputs: Value, outputs: bool| {
        let mut s = json!({"urn": urn(type_, name), "custom": true, "type": type_,
            "inputs": inputs.clone(), "parent": format!("{STACK}::pulumi:pulumi:Stack::platform-bench")});
        if outputs {
            s["outputs"] = inputs;
        }
        s
    };
    let mut s = json!({"op": op, "urn": urn(type_, name)});
    if let Some(old) = old {
        s["oldState"] = state(old, true);
    }
    if let Some(new) = new {
        s["newState"] = state(new, false);
    }
    s
}

const VERBS: [&str; 8] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];
const RESOURCES: [(&str, &str); 10] = [
    ("", "pods"),
    ("", "configmaps"),
    ("", "services"),
    ("", "secrets"),
    ("", "pods/log"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("batch", "jobs"),
    ("networking.k8s.io", "ingresses"),
    ("example.com", "widgets"),
];

fn k8s_rules(rng: &mut Rng) -> Value {
    let n = 1 + rng.below(4);
    (0..n)
        .map(|_| {
            let (group, resource) = RESOURCES[rng.below(RESOURCES.len())];
            let verbs: Vec<&str> = (0..1 + rng.below(4))
                .map(|_| {
                    // Mostly reads; writes in fewer rules.
                    let spread = 3 + rng.below(VERBS.len() - 2);
                    VERBS[rng.below(spread)]
                })
                .collect();
            json!({"apiGroups": [group], "resources": [resource], "verbs": verbs})
        })
        .collect()
}

/// Kubernetes RBAC: per namespace unit a Role, a RoleBinding of it to 1-3 subjects, a
/// RoleBinding of a built-in role; every tenth unit a ClusterRole and a ClusterRoleBinding.
/// About 70% of units unchanged, the rest updated (rules widened or subjects added) or created.
pub fn kubernetes(units: usize, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    let mut steps = Vec::new();
    for u in 0..units {
        let ns = format!("team-{u}");
        let change = rng.below(10);
        let rules_old = k8s_rules(&mut rng);
        let rules_new = if change >= 7 {
            k8s_rules(&mut rng)
        } else {
            rules_old.clone()
        };
        let meta = |name: &str| json!({"name": name, "namespace": ns});
        let role = |rules: &Value| json!({"apiVersion": format!("{RBAC}/v1"), "kind": "Role", "metadata": meta("app"), "rules": rules});
        let subjects_old: Vec<Value> = (0..1 + rng.below(3))
            .map(|i| json!({"kind": "ServiceAccount", "name": format!("sa-{i}"), "namespace": ns}))
            .collect();
        let mut subjects_new = subjects_old.clone();
        if change == 9 {
            subjects_new
                .push(json!({"kind": "Group", "name": format!("oncall-{u}"), "apiGroup": RBAC}));
        }
        let binding = |role: Value, subjects: &Vec<Value>, name: &str| {
            json!({"apiVersion": format!("{RBAC}/v1"), "kind": "RoleBinding", "metadata": meta(name),
                   "roleRef": role, "subjects": subjects})
        };
        let app_ref = json!({"apiGroup": RBAC, "kind": "Role", "name": "app"});
        let builtin_name = ["view", "edit", "admin"][rng.below(3)];
        let builtin = json!({"apiGroup": RBAC, "kind": "ClusterRole", "name": builtin_name});
        let (op, old) = match change {
            0..=6 => ("same", true),
            7..=8 => ("update", true),
            _ => ("create", false),
        };
        let pick = |o: Value, n: Value| (old.then_some(o), Some(n));
        let (o, n) = pick(role(&rules_old), role(&rules_new));
        steps.push(step(op, &format!("{V1}:Role"), &format!("{ns}-app"), o, n));
        let (o, n) = pick(
            binding(app_ref.clone(), &subjects_old, "app"),
            binding(app_ref, &subjects_new, "app"),
        );
        steps.push(step(
            op,
            &format!("{V1}:RoleBinding"),
            &format!("{ns}-app"),
            o,
            n,
        ));
        let (o, n) = pick(
            binding(builtin.clone(), &subjects_old, "builtin"),
            binding(builtin, &subjects_old, "builtin"),
        );
        steps.push(step(
            if op == "update" { "same" } else { op },
            &format!("{V1}:RoleBinding"),
            &format!("{ns}-builtin"),
            o,
            n,
        ));
        if u % 10 == 9 {
            let cr = json!({"apiVersion": format!("{RBAC}/v1"), "kind": "ClusterRole",
                "metadata": {"name": format!("reader-{u}")}, "rules": k8s_rules(&mut rng)});
            steps.push(step(
                op,
                &format!("{V1}:ClusterRole"),
                &format!("reader-{u}"),
                old.then(|| cr.clone()),
                Some(cr),
            ));
            let crb = json!({"apiVersion": format!("{RBAC}/v1"), "kind": "ClusterRoleBinding",
                "metadata": {"name": format!("reader-{u}")},
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": format!("reader-{u}")},
                "subjects": [{"kind": "Group", "name": format!("readers-{u}"), "apiGroup": RBAC}]});
            steps.push(step(
                op,
                &format!("{V1}:ClusterRoleBinding"),
                &format!("reader-{u}"),
                old.then(|| crb.clone()),
                Some(crb),
            ));
        }
    }
    steps
}

/// A PreviewDigest of these steps, 4-space indented as `pulumi preview --json` prints it.
pub fn digest(steps: Vec<Value>) -> Vec<u8> {
    let mut all =
        vec![json!({"op": "same", "urn": format!("{STACK}::pulumi:pulumi:Stack::platform-bench")})];
    all.extend(steps);
    let digest =
        json!({"config": {}, "steps": all, "diagnostics": [], "duration": 1_000_000_000_u64});
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    let _ = serde::Serialize::serialize(&digest, &mut ser);
    out.push(b'\n');
    out
}

const GCP_ROLES: [&str; 8] = [
    "roles/viewer",
    "roles/storage.objectViewer",
    "roles/storage.objectAdmin",
    "roles/pubsub.publisher",
    "roles/cloudsql.client",
    "roles/logging.logWriter",
    "roles/iam.serviceAccountUser",
    "roles/editor",
];

/// Google Cloud: per unit a project-level `IAMMember` of a service account, a bucket-level
/// `BucketIAMMember`, and a project-level `IAMBinding` of a group and a user (3-4 grants);
/// every fifth unit a custom role. Same change mix as `kubernetes`.
pub fn gcp(units: usize, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed ^ 0x9e37);
    let mut steps = Vec::new();
    for u in 0..units {
        let project = format!("acme-svc-{}", u / 20);
        let sa = format!("serviceAccount:svc-{u}@{project}.iam.gserviceaccount.com");
        let change = rng.below(10);
        let (op, old) = match change {
            0..=6 => ("same", true),
            7..=8 => ("update", true),
            _ => ("create", false),
        };
        let role_old = GCP_ROLES[rng.below(GCP_ROLES.len())];
        let role_new = if op == "update" {
            GCP_ROLES[rng.below(GCP_ROLES.len())]
        } else {
            role_old
        };
        let member = |role: &str| json!({"project": project, "role": role, "member": sa});
        steps.push(step(
            op,
            "gcp:projects/iAMMember:IAMMember",
            &format!("svc-{u}"),
            old.then(|| member(role_old)),
            Some(member(role_new)),
        ));
        let bucket = json!({"bucket": format!("acme-data-{u}"), "role": "roles/storage.objectViewer", "member": sa});
        steps.push(step(
            if op == "update" { "same" } else { op },
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            &format!("data-{u}"),
            old.then(|| bucket.clone()),
            Some(bucket),
        ));
        let binding = json!({"project": project, "role": "roles/logging.viewer",
            "members": [format!("group:team-{u}@acme.example"), format!("user:lead-{u}@acme.example")]});
        steps.push(step(
            if op == "update" { "same" } else { op },
            "gcp:projects/iAMBinding:IAMBinding",
            &format!("logs-{u}"),
            old.then(|| binding.clone()),
            Some(binding),
        ));
        if u % 5 == 4 {
            let custom = json!({"project": project, "roleId": format!("deployer{u}"), "title": "Deployer",
                "permissions": ["run.services.create", "run.services.update", "iam.serviceAccounts.actAs", "storage.objects.get"]});
            steps.push(step(
                op,
                "gcp:projects/iAMCustomRole:IAMCustomRole",
                &format!("deployer-{u}"),
                old.then(|| custom.clone()),
                Some(custom),
            ));
        }
    }
    steps
}

const AZURE_ROLES: [&str; 4] = [
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
];

/// Azure: per unit one role assignment at a resource group (mostly Reader) of a managed
/// identity. Same change mix as `kubernetes`.
pub fn azure(units: usize, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed ^ 0x51ed);
    let mut steps = Vec::new();
    for u in 0..units {
        let change = rng.below(10);
        let (op, old) = match change {
            0..=6 => ("same", true),
            7..=8 => ("update", true),
            _ => ("create", false),
        };
        let pick = |rng: &mut Rng| AZURE_ROLES[if rng.below(4) == 0 { rng.below(4) } else { 0 }];
        let role_old = pick(&mut rng);
        let role_new = if op == "update" {
            pick(&mut rng)
        } else {
            role_old
        };
        let assignment = |role: &str| {
            json!({"scope": format!("/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-{u}"),
                "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}"),
                "principalId": format!("{:08x}-0000-4000-8000-000000000000", u), "principalType": "ServicePrincipal"})
        };
        steps.push(step(
            op,
            "azure-native:authorization:RoleAssignment",
            &format!("rg-{u}-access"),
            old.then(|| assignment(role_old)),
            Some(assignment(role_new)),
        ));
    }
    steps
}
