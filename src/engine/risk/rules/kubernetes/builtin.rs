//! The built-in ClusterRoles a binding may name without the stack defining them, with their
//! rules as Kubernetes ships them (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`:
//! `cluster-admin`, and the user-facing `admin`, `edit` and `view`, which aggregate the
//! `system:aggregate-to-*` roles and whatever else carries the `aggregate-to-*` labels), in the
//! permission spelling of `extract::kubernetes`. `view`, `edit` and `admin` aggregate into one
//! another through their labels, as in a cluster.
//!
//! The sensitive rules are listed exactly; read access to ordinary namespaced resources is
//! summarised per API group (`get`/`list`/`watch` on `apps/*`), which only ever over-reports.

/// A built-in ClusterRole.
#[derive(Debug)]
pub struct Builtin {
    pub name: &'static str,
    pub permissions: &'static [&'static str],
    pub aggregate_from: &'static [&'static str],
    pub labels: &'static [&'static str],
}

const WRITE_EDIT: &[&str] = &[
    // impersonate service accounts
    "impersonate core/serviceaccounts",
    // pods and their subresources
    "create core/pods",
    "delete core/pods",
    "deletecollection core/pods",
    "patch core/pods",
    "update core/pods",
    "create core/pods/attach",
    "get core/pods/attach",
    "create core/pods/exec",
    "get core/pods/exec",
    "create core/pods/portforward",
    "get core/pods/portforward",
    "create core/pods/proxy",
    "get core/pods/proxy",
    "create core/pods/eviction",
    // secrets and the other namespaced core resources
    "create core/secrets",
    "delete core/secrets",
    "patch core/secrets",
    "update core/secrets",
    "get core/secrets",
    "list core/secrets",
    "watch core/secrets",
    "create core/configmaps",
    "update core/configmaps",
    "patch core/configmaps",
    "delete core/configmaps",
    "create core/services",
    "update core/services",
    "patch core/services",
    "delete core/services",
    "get core/services/proxy",
    "create core/services/proxy",
    "create core/serviceaccounts",
    "update core/serviceaccounts",
    "patch core/serviceaccounts",
    "delete core/serviceaccounts",
    "create core/serviceaccounts/token",
    "create core/persistentvolumeclaims",
    "update core/persistentvolumeclaims",
    "delete core/persistentvolumeclaims",
    "create core/replicationcontrollers",
    "update core/replicationcontrollers",
    "patch core/replicationcontrollers",
    "delete core/replicationcontrollers",
    // workloads and the other namespaced groups
    "create apps/*",
    "update apps/*",
    "patch apps/*",
    "delete apps/*",
    "create batch/*",
    "update batch/*",
    "patch batch/*",
    "delete batch/*",
    "create autoscaling/*",
    "update autoscaling/*",
    "delete autoscaling/*",
    "create networking.k8s.io/*",
    "update networking.k8s.io/*",
    "delete networking.k8s.io/*",
    "create policy/poddisruptionbudgets",
    "update policy/poddisruptionbudgets",
    "delete policy/poddisruptionbudgets",
];

const READ_VIEW: &[&str] = &[
    "get core/pods",
    "list core/pods",
    "watch core/pods",
    "get core/pods/log",
    "get core/pods/status",
    "get core/configmaps",
    "list core/configmaps",
    "watch core/configmaps",
    "get core/services",
    "list core/services",
    "watch core/services",
    "get core/endpoints",
    "list core/endpoints",
    "get core/events",
    "list core/events",
    "get core/serviceaccounts",
    "list core/serviceaccounts",
    "get core/persistentvolumeclaims",
    "list core/persistentvolumeclaims",
    "get core/replicationcontrollers",
    "list core/replicationcontrollers",
    "get core/limitranges",
    "get core/resourcequotas",
    "get core/namespaces",
    "list core/namespaces",
    "get apps/*",
    "list apps/*",
    "watch apps/*",
    "get batch/*",
    "list batch/*",
    "watch batch/*",
    "get autoscaling/*",
    "list autoscaling/*",
    "get networking.k8s.io/*",
    "list networking.k8s.io/*",
    "get policy/poddisruptionbudgets",
    "list policy/poddisruptionbudgets",
    "get discovery.k8s.io/endpointslices",
    "list discovery.k8s.io/endpointslices",
];

const ADMIN_ONLY: &[&str] = &[
    "create rbac.authorization.k8s.io/roles",
    "update rbac.authorization.k8s.io/roles",
    "patch rbac.authorization.k8s.io/roles",
    "delete rbac.authorization.k8s.io/roles",
    "get rbac.authorization.k8s.io/roles",
    "list rbac.authorization.k8s.io/roles",
    "create rbac.authorization.k8s.io/rolebindings",
    "update rbac.authorization.k8s.io/rolebindings",
    "patch rbac.authorization.k8s.io/rolebindings",
    "delete rbac.authorization.k8s.io/rolebindings",
    "get rbac.authorization.k8s.io/rolebindings",
    "list rbac.authorization.k8s.io/rolebindings",
    "create authorization.k8s.io/localsubjectaccessreviews",
];

pub const ROLES: &[Builtin] = &[
    Builtin {
        name: "cluster-admin",
        permissions: &["* */*", "* url:*"],
        aggregate_from: &[],
        labels: &["kubernetes.io/bootstrapping=rbac-defaults"],
    },
    Builtin {
        name: "admin",
        permissions: ADMIN_ONLY,
        aggregate_from: &["rbac.authorization.k8s.io/aggregate-to-admin=true"],
        labels: &["kubernetes.io/bootstrapping=rbac-defaults"],
    },
    Builtin {
        name: "edit",
        permissions: WRITE_EDIT,
        aggregate_from: &["rbac.authorization.k8s.io/aggregate-to-edit=true"],
        labels: &[
            "kubernetes.io/bootstrapping=rbac-defaults",
            "rbac.authorization.k8s.io/aggregate-to-admin=true",
        ],
    },
    Builtin {
        name: "view",
        permissions: READ_VIEW,
        aggregate_from: &["rbac.authorization.k8s.io/aggregate-to-view=true"],
        labels: &[
            "kubernetes.io/bootstrapping=rbac-defaults",
            "rbac.authorization.k8s.io/aggregate-to-edit=true",
        ],
    },
];
