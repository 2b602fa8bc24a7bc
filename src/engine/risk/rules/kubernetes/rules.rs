//! The catalog entries of the Kubernetes RBAC family.

use crate::engine::risk::{Category, Rule, Severity};

const BINDING_EXAMPLE: &str = r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding","inputs":{"metadata":{"name":"ci-admin"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"ServiceAccount","name":"ci","namespace":"build"}]}}"#;

pub const ADM_001: Rule = Rule {
    id: "K8S-ADM-001",
    category: Category::AdminAccess,
    severity: Severity::Critical,
    title: "Subject is cluster administrator",
    rationale: "Every verb on every resource of every API group, cluster-wide (`cluster-admin`, or a ClusterRole whose rule is `*` on `*`), bound with a ClusterRoleBinding: the subject can read every secret, run privileged pods on every node and rewrite RBAC itself. A workload's service account with it turns any compromise of that workload into a compromise of the cluster (Kubernetes RBAC good practices: \"least privilege\", \"minimise distribution of privileged tokens\").",
    example: BINDING_EXAMPLE,
    remediation: "Bind a ClusterRole that lists the verbs and resources the subject needs; where it needs them in a few namespaces only, use RoleBindings in those namespaces.",
};

pub const ADM_002: Rule = Rule {
    id: "K8S-ADM-002",
    category: Category::AdminAccess,
    severity: Severity::High,
    title: "Subject administers a namespace",
    rationale: "Every verb on every resource in a namespace (`cluster-admin` or `admin` bound with a RoleBinding, or a wildcard Role): the subject reads the namespace's secrets, runs pods as any of its service accounts and grants others the same. Bound with a ClusterRoleBinding, `admin` is this in every namespace, `kube-system` included.",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:RoleBinding","inputs":{"metadata":{"name":"dev-admin","namespace":"payments"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"admin"},"subjects":[{"kind":"Group","name":"developers"}]}}"#,
    remediation: "Bind `edit` or a Role listing what the subject needs; keep namespace administration to the namespace's owners.",
};

pub const PE_001: Rule = Rule {
    id: "K8S-PE-001",
    category: Category::PrivilegeEscalation,
    severity: Severity::Critical,
    title: "Subject can grant itself any permission (escalate or bind)",
    rationale: "RBAC stops a subject from creating a role or binding with more than it holds, unless it has `escalate` on roles (then it can edit a role it holds to grant anything) or `bind` (then it can bind any role, `cluster-admin` included). With the write on roles or bindings that goes with them, this is a complete path to cluster administrator (Kubernetes docs, \"Privilege escalation prevention and bootstrapping\"; RBAC good practices, \"Escalate verb\", \"Bind verb\").",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRole","inputs":{"metadata":{"name":"role-manager"},"rules":[{"apiGroups":["rbac.authorization.k8s.io"],"resources":["clusterroles","clusterrolebindings"],"verbs":["create","bind","escalate"]}]}}"#,
    remediation: "Remove `escalate` and `bind`; let the subject create bindings only to roles whose permissions it already holds, or name the roles it may bind in `resourceNames`.",
};

pub const PE_002: Rule = Rule {
    id: "K8S-PE-002",
    category: Category::PrivilegeEscalation,
    severity: Severity::Critical,
    title: "Subject can impersonate users, groups or service accounts",
    rationale: "`impersonate` lets the subject send requests as another identity: impersonating the group `system:masters` or any administrator makes it cluster administrator, and impersonating a service account gives it that account's permissions (RBAC good practices, \"Impersonate verb\").",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRole","inputs":{"metadata":{"name":"impersonator"},"rules":[{"apiGroups":[""],"resources":["users","groups","serviceaccounts"],"verbs":["impersonate"]}]}}"#,
    remediation: "Remove `impersonate`, or limit it with `resourceNames` to the identities the subject must act as.",
};

pub const PE_003: Rule = Rule {
    id: "K8S-PE-003",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "Subject can create workloads (pods) and so run as any service account",
    rationale: "Whoever can create pods, or anything that creates them (deployments, daemon sets, stateful sets, replica sets, jobs, cron jobs, replication controllers), in a namespace can run code as any service account of that namespace and mount its secrets; cluster-wide or in `kube-system`, that includes the controllers' accounts and privileged pods on every node, which is cluster administrator (RBAC good practices, \"Workload creation\").",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRole","inputs":{"metadata":{"name":"deployer"},"rules":[{"apiGroups":["apps"],"resources":["deployments"],"verbs":["create","update"]}]}}"#,
    remediation: "Grant workload creation with RoleBindings in the namespaces the subject deploys to, never cluster-wide nor in `kube-system`; enforce Pod Security admission (`restricted`) there.",
};

pub const PE_004: Rule = Rule {
    id: "K8S-PE-004",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "Subject can mint service account tokens",
    rationale: "`create` on `serviceaccounts/token` (the TokenRequest API) issues a token for any service account in scope: the subject acts with that account's permissions, from anywhere, for as long as the token lives (RBAC good practices, \"Token request\").",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRole","inputs":{"metadata":{"name":"token-minter"},"rules":[{"apiGroups":[""],"resources":["serviceaccounts/token"],"verbs":["create"]}]}}"#,
    remediation: "Remove the grant, or limit it with `resourceNames` to the one service account whose tokens the subject must request.",
};

pub const PE_005: Rule = Rule {
    id: "K8S-PE-005",
    category: Category::PrivilegeEscalation,
    severity: Severity::Critical,
    title: "Subject can reach the kubelet API (nodes/proxy)",
    rationale: "`nodes/proxy` passes requests to the kubelet of any node, bypassing admission and audit: the subject can run commands in every pod on every node (RBAC good practices, \"Access to proxy subresource of Nodes\").",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRole","inputs":{"metadata":{"name":"node-proxy"},"rules":[{"apiGroups":[""],"resources":["nodes/proxy"],"verbs":["get","create"]}]}}"#,
    remediation: "Remove `nodes/proxy`; monitoring agents need `nodes/metrics` or `nodes/stats`, not the proxy.",
};

pub const PE_006: Rule = Rule {
    id: "K8S-PE-006",
    category: Category::PrivilegeEscalation,
    severity: Severity::High,
    title: "Subject can run commands in pods (exec, attach)",
    rationale: "`pods/exec` and `pods/attach` run commands in existing containers: the subject takes the service account, the mounted secrets and the network position of every pod in scope (recent clients open exec over WebSockets with `get`, so both `create` and `get` count).",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:Role","inputs":{"metadata":{"name":"debug","namespace":"payments"},"rules":[{"apiGroups":[""],"resources":["pods/exec"],"verbs":["create","get"]}]}}"#,
    remediation: "Give exec only for break-glass, bound for a limited time in the namespace concerned; use ephemeral debug containers with an audited workflow.",
};

pub const PM_001: Rule = Rule {
    id: "K8S-PM-001",
    category: Category::PermissionsManagement,
    severity: Severity::Medium,
    title: "Subject can write RBAC roles or bindings",
    rationale: "Writing roles and bindings lets the subject hand out every permission it holds to anyone, including identities outside review; RBAC's escalation prevention keeps it from granting more than it holds (see K8S-PE-001 for when it does not).",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:Role","inputs":{"metadata":{"name":"rbac-writer","namespace":"team"},"rules":[{"apiGroups":["rbac.authorization.k8s.io"],"resources":["rolebindings"],"verbs":["create","update"]}]}}"#,
    remediation: "Manage RBAC from the infrastructure program, reviewed; give workloads no RBAC write.",
};

pub const DE_001: Rule = Rule {
    id: "K8S-DE-001",
    category: Category::DataExfiltration,
    severity: Severity::High,
    title: "Subject can read secrets",
    rationale: "`get`, `list` or `watch` on secrets returns their contents: credentials, certificates and (on clusters older than 1.24, or where token secrets are created) service account tokens, which lead to the accounts' permissions. `list` and `watch` read every secret in scope at once (RBAC good practices, \"Listing secrets\").",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRole","inputs":{"metadata":{"name":"secret-reader"},"rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get","list","watch"]}]}}"#,
    remediation: "Name the secrets the subject needs in `resourceNames` (with `get` only), in a Role of their namespace; mount secrets into workloads instead of reading them through the API.",
};

pub const WC_001: Rule = Rule {
    id: "K8S-WC-001",
    category: Category::Wildcard,
    severity: Severity::Medium,
    title: "Role rule with a wildcard verb, resource or API group",
    rationale: "`*` grants what exists today and whatever is added later: new resources, new subresources, custom resources of every operator installed in the cluster (RBAC good practices, \"Avoid wildcards\").",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRole","inputs":{"metadata":{"name":"operator"},"rules":[{"apiGroups":["example.com"],"resources":["*"],"verbs":["*"]}]}}"#,
    remediation: "List the verbs and resources the role needs.",
};

pub const AGG_001: Rule = Rule {
    id: "K8S-AGG-001",
    category: Category::PermissionsManagement,
    severity: Severity::High,
    title: "ClusterRole adds permissions to an aggregated role (view, edit, admin, ...)",
    rationale: "A ClusterRole labeled `rbac.authorization.k8s.io/aggregate-to-view: \"true\"` (or matching any aggregating role's selector) adds its rules to that role, and so to everyone already bound to it, in every namespace, without a binding in the change. Sensitive rules (secrets, exec, workload creation, RBAC) added to `view` or `edit` reach far more subjects than the author may think.",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRole","inputs":{"metadata":{"name":"crd-secrets","labels":{"rbac.authorization.k8s.io/aggregate-to-view":"true"}},"rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get","list"]}]}}"#,
    remediation: "Aggregate only read access to your own custom resources into `view`/`edit`/`admin`; bind sensitive rules explicitly to the subjects that need them.",
};

pub const PUB_001: Rule = Rule {
    id: "K8S-PUB-001",
    category: Category::PublicExposure,
    severity: Severity::Critical,
    title: "Role bound to anonymous, unauthenticated or every authenticated user",
    rationale: "`system:anonymous` and `system:unauthenticated` are anyone who can reach the API server; `system:authenticated` is anyone with any valid credential, on managed clusters possibly any account of the cloud provider. A binding to them grants the role to the world (RBAC good practices, \"avoid binding to system:anonymous, system:unauthenticated, system:authenticated\").",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding","inputs":{"metadata":{"name":"open"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"Group","name":"system:unauthenticated","apiGroup":"rbac.authorization.k8s.io"}]}}"#,
    remediation: "Bind named users, groups or service accounts; expose what must be public through a Service or Ingress, not the API.",
};

pub const CE_001: Rule = Rule {
    id: "K8S-CE-001",
    category: Category::CredentialsExposure,
    severity: Severity::Medium,
    title: "Long-lived service account token secret",
    rationale: "A Secret of type `kubernetes.io/service-account-token` holds a token of the account that never expires and is readable by whoever can read secrets in its namespace; since Kubernetes 1.24 workloads get short-lived projected tokens instead (Kubernetes docs, \"Manually create a long-lived API token for a ServiceAccount\").",
    example: r#"{"type":"kubernetes:core/v1:Secret","inputs":{"metadata":{"name":"ci-token","namespace":"build","annotations":{"kubernetes.io/service-account.name":"ci"}},"type":"kubernetes.io/service-account-token"}}"#,
    remediation: "Use the TokenRequest API (`kubectl create token`, projected volumes) for short-lived tokens, or workload identity federation for CI.",
};

pub const UNK_001: Rule = Rule {
    id: "K8S-UNK-001",
    category: Category::UnknownValue,
    severity: Severity::Medium,
    title: "Binding whose role or subjects are unknown until apply",
    rationale: "The role a binding names, or who it binds, is computed during the deployment: the preview cannot show what is granted to whom, so iamgate can neither clear it nor score it.",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding","inputs":{"roleRef":{"kind":"ClusterRole","name":"04da6b54-80e4-46f7-96ec-b56ff0331ba9"},"subjects":[{"kind":"ServiceAccount","name":"ci","namespace":"build"}]}}"#,
    remediation: "Use names known at preview (plain strings, or outputs of resources that already exist), or review the applied binding by hand.",
};

pub const UNA_001: Rule = Rule {
    id: "K8S-UNA-001",
    category: Category::Unanalyzed,
    severity: Severity::Medium,
    title: "Binding to a role iamgate cannot see",
    rationale: "The binding names a role that is neither defined in this stack nor one of the built-in roles iamgate knows (`cluster-admin`, `admin`, `edit`, `view`): it may be installed by a chart, an operator or another stack, and may grant anything.",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding","inputs":{"roleRef":{"kind":"ClusterRole","name":"some-operator-manager"},"subjects":[{"kind":"ServiceAccount","name":"ci","namespace":"build"}]}}"#,
    remediation: "Define the role in the same stack, or review its rules (`kubectl get clusterrole <name> -o yaml`) with the change.",
};

pub const MAL_001: Rule = Rule {
    id: "K8S-MAL-001",
    category: Category::Malformed,
    severity: Severity::High,
    title: "RBAC object iamgate cannot read",
    rationale: "A rule, subject, role reference or aggregation rule is not in the shape the Kubernetes API defines (a `verbs` that is not a list, a subject without a kind): iamgate cannot tell what it grants, and the API server may still accept another reading of it.",
    example: r#"{"type":"kubernetes:rbac.authorization.k8s.io/v1:ClusterRole","inputs":{"metadata":{"name":"r"},"rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":"get"}]}}"#,
    remediation: "Write the object as the RBAC API defines it (lists of strings), e.g. from the typed `k8s.rbac.v1.ClusterRole` arguments.",
};

pub const RULES: &[Rule] = &[
    ADM_001, ADM_002, PE_001, PE_002, PE_003, PE_004, PE_005, PE_006, PM_001, DE_001, AGG_001,
    PUB_001, WC_001, CE_001, UNK_001, UNA_001, MAL_001,
];
