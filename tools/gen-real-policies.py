#!/usr/bin/env python3
"""Generate tests/fixtures/real-policies: real IAM identity policies not written by this project.

Two families, each read from a public git repository at a pinned commit (`git -C MIRROR show
COMMIT:PATH`; a bare mirror or an ordinary clone both work, as long as it has that commit):

  iam-vulnerable.json    BishopFox/iam-vulnerable (MIT), the IAM privilege-escalation lab: every
                         identity policy document of modules/free-resources/{privesc-paths,
                         tool-testing}/*.tf, rendered to IAM JSON as Terraform would render it:
                           - `policy = jsonencode({...})`: Terraform's jsonencode, i.e. object keys
                             sorted, values as written;
                           - `policy = data.aws_iam_policy_document.X.json`: as the AWS provider's
                             data source renders it: Version, Id, then Statement with Sid, Effect
                             (default Allow), Action, NotAction, Resource, NotResource, Condition;
                             a one-element set as a string, a longer one de-duplicated and sorted in
                             reverse; Condition {test: {variable: values}}, a single value as a
                             string; `&{` turned into `${` in resources and condition values;
                           - `policy = "..."` or a heredoc: the JSON text as written.
                         Each policy records `expect` from the lab's own file naming: privesc*/fn*
                         files are designed true positives ("path"), fp* files designed false
                         positives ("no-path"), the rest "none-designed"; `case` is the lab's
                         profile (aws_credentials_file_example) whose role the file defines, and
                         `attached_to` the lab's principals that carry the policy.
  eks-controllers.json   install policies of EKS controllers, from each project's repository
                         (Apache-2.0): AWS Load Balancer Controller (docs/install/iam_policy.json),
                         ExternalDNS (the JSON policies of docs/tutorials/aws.md), Cluster
                         Autoscaler (the JSON policies of cluster-autoscaler/cloudprovider/aws/
                         README.md). Documentation placeholders such as ${YOUR_AWS_ACCOUNT_ID} are
                         replaced by example literals, recorded in the policy's `notes`.

Also written: SOURCES.md (origins, commits, dates, licenses, how to regenerate) and LICENSE.<name>,
each repository's license text at the pinned commit. Output is sorted (policies by name, 2-space
indent) and byte-for-byte deterministic. Anything the script cannot convert exactly (an unknown
resource or data type, an expression other than literals, jsonencode and the references it knows,
a policy document of an unexpected shape) is an error, never skipped. Usage:

  python3 tools/gen-real-policies.py [--lab DIR] [--alb DIR] [--external-dns DIR]
                                     [--autoscaler DIR] [--out-dir DIR]

Needs python-hcl2 (tools/gen-real-policies.requirements.txt); when `import hcl2` fails, the
script installs the pinned requirements into a temporary directory with pip. To refresh a source:
bump its commit below (the mirror must contain it), run the script, review the diff.
"""

import argparse
import atexit
import datetime
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HCL2_VERSION = "8.1.4"
ACCOUNT = "111122223333"  # the documentation account ID AWS uses in its own examples
GENERATOR = "tools/gen-real-policies.py"

LAB = {
    "name": "iam-vulnerable",
    "repository": "https://github.com/BishopFox/iam-vulnerable",
    "commit": "0f298666f9b7cfa01488b86912afdb211773188a",
    "license": "MIT",
    "license_path": "LICENSE",
    "mirror": "/work/.mirror/BishopFox+iam-vulnerable/repo",
}
LAB_DIRS = ["modules/free-resources/privesc-paths", "modules/free-resources/tool-testing"]
LAB_README = "README.md"
LAB_PROFILES = "aws_credentials_file_example"

# What `var.NAME` and references to the lab's own IAM resources become when they appear inside an
# identity policy document (the lab's variables default to ""; a real account has real ARNs).
LAB_VARIABLES = {
    "aws_assume_role_arn": f"arn:aws:iam::{ACCOUNT}:role/iam-vulnerable-operator",
    "aws_root_user": f"arn:aws:iam::{ACCOUNT}:root",
}
IAM_ARN_KINDS = {
    "aws_iam_role": "role",
    "aws_iam_user": "user",
    "aws_iam_group": "group",
    "aws_iam_policy": "policy",
}

# Resource types of the lab, by what they carry.
DOCUMENT_RESOURCES = {  # the identity policy is their `policy` argument; value: principal argument
    "aws_iam_policy": None,
    "aws_iam_role_policy": "role",
    "aws_iam_user_policy": "user",
    "aws_iam_group_policy": "group",
}
ATTACHMENT_RESOURCES = {  # attach `policy_arn` to the principal argument
    "aws_iam_role_policy_attachment": "role",
    "aws_iam_user_policy_attachment": "user",
    "aws_iam_group_policy_attachment": "group",
}
PLAIN_RESOURCES = {  # no policy document at all
    "aws_iam_user",
    "aws_iam_group",
    "aws_iam_access_key",
    "aws_iam_group_membership",
    "aws_iam_instance_profile",
}
# aws_iam_role is handled apart: assume_role_policy is a trust policy (not extracted),
# inline_policy blocks are identity policies, managed_policy_arns are attachments.

# Annotations for the lab's multi-policy cases, where the designed outcome belongs to a principal
# that carries several policies, not to one document on its own. Each key must be an extracted
# policy (checked), so these cannot drift from the lab silently.
LAB_NOTES = {
    "fn1-privesc3-partial": (
        "Designed false negative fn1: the path (ec2:RunInstances with iam:PassRole, as privesc3) "
        "exists for the principals that carry this policy together with fn1-passrole-star (see "
        "attached_to); this document alone grants no escalation path."
    ),
    "fn1-passrole-star": (
        "Designed false negative fn1: the path (ec2:RunInstances with iam:PassRole, as privesc3) "
        "exists for the principals that carry this policy together with fn1-privesc3-partial "
        "(see attached_to); this document alone grants no escalation path."
    ),
    "fp2-allow-all": (
        "Designed false positive fp2: its full access is cancelled by deny-all (Deny * on *), "
        "attached to the same principals (see attached_to); this document alone is full "
        "administrator access."
    ),
    "deny-all": (
        "The Deny-everything half of the lab's fp2 case (see fp2-allow-all); it grants nothing."
    ),
    "privesc-AssumeRole-high-priv-policy": (
        "The target of the lab's STS-AssumeRole path: attached to privesc-AssumeRole-ending-role, "
        "which the profile's starting role reaches through a chain of trust policies (trust "
        "policies are not extracted); the document itself is full access."
    ),
}

CONTROLLERS = [
    {
        "name": "aws-load-balancer-controller",
        "option": "--alb",
        "repository": "https://github.com/kubernetes-sigs/aws-load-balancer-controller",
        "commit": "225f44568848eb25f13e304a5f1cc68c0cd9415d",
        "license": "Apache-2.0",
        "license_path": "LICENSE",
        "mirror": "/work/.mirror/kubernetes-sigs+aws-load-balancer-controller/repo",
        "files": [
            {"path": "docs/install/iam_policy.json", "kind": "json",
             "policies": {None: "aws-load-balancer-controller"}},
        ],
        "placeholders": {},
    },
    {
        "name": "external-dns",
        "option": "--external-dns",
        "repository": "https://github.com/kubernetes-sigs/external-dns",
        "commit": "2bf1bf8af2b70f23579f9147c1f7e9394f7f83d5",
        "license": "Apache-2.0",
        "license_path": "LICENSE.md",
        "mirror": "/work/.mirror/kubernetes-sigs+external-dns/repo",
        "files": [
            # markdown: the ```json blocks that are identity policies, named by their heading
            {"path": "docs/tutorials/aws.md", "kind": "markdown",
             "policies": {"IAM Policy": "external-dns",
                          "IAM Permissions with ABAC": "external-dns-abac"}},
        ],
        "placeholders": {},
    },
    {
        "name": "cluster-autoscaler",
        "option": "--autoscaler",
        "repository": "https://github.com/kubernetes/autoscaler",
        "commit": "55c37cd5eb550756c5ccc5a89e9068d77797e575",
        "license": "Apache-2.0",
        "license_path": "LICENSE",
        "mirror": "/work/.mirror/kubernetes+autoscaler/repo",
        "files": [
            {"path": "cluster-autoscaler/cloudprovider/aws/README.md", "kind": "markdown",
             "policies": {"Full Cluster Autoscaler Features Policy (Recommended)":
                          "cluster-autoscaler",
                          "Minimal IAM Permissions Policy": "cluster-autoscaler-minimal"}},
        ],
        # the README's own placeholders; exampleASG1 is the ASG name its example arguments use
        "placeholders": {
            "${YOUR_CLUSTER_AWS_REGION}": "us-east-1",
            "${YOUR_AWS_ACCOUNT_ID}": ACCOUNT,
            "${YOUR_ASG_NAME}": "exampleASG1",
        },
    },
]

ACTION_RE = re.compile(r"^[a-z0-9][a-z0-9-]*:[A-Za-z0-9*?]+$")
# IAM policy variables (${aws:username}, ${*}, ${?}, ${$}) are the only ${...} a document may keep.
POLICY_VARIABLE_RE = re.compile(r"\$\{(?:[A-Za-z0-9-]+:[^}]+|\*|\?|\$)\}")


def fail(message):
    sys.stderr.write(f"gen-real-policies: {message}\n")
    sys.exit(1)


# --------------------------------------------------------------------------------------------
# git


def git(mirror, *args):
    result = subprocess.run(["git", "-C", mirror, *args], capture_output=True)
    if result.returncode != 0:
        fail(f"git -C {mirror} {' '.join(args)}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def check_commit(mirror, commit):
    if not os.path.isdir(mirror):
        fail(f"{mirror}: no such directory (a clone or bare mirror of the source repository)")
    result = subprocess.run(
        ["git", "-C", mirror, "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True
    )
    if result.returncode != 0:
        fail(f"{mirror} does not contain the pinned commit {commit}: fetch it first")


def show(mirror, commit, path):
    return git(mirror, "show", f"{commit}:{path}").decode("utf-8")


def utc_date(seconds):
    moment = datetime.datetime.fromtimestamp(int(seconds), tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def license_text(mirror, commit, path):
    """The license file at the commit; a NOTICE file beside it would have to be copied too."""
    top = git(mirror, "ls-tree", "--name-only", commit).decode().splitlines()
    notices = [name for name in top if name.upper().startswith("NOTICE")]
    if notices:
        fail(f"{mirror} has {notices} at {commit}: Apache-2.0 asks for it to be copied too")
    return show(mirror, commit, path)


def commit_date(mirror, commit):
    return utc_date(git(mirror, "show", "-s", "--format=%ct", commit).decode().strip())


def last_change(mirror, commit, path):
    out = git(mirror, "log", "-1", "--format=%H %ct", commit, "--", path).decode().split()
    if len(out) != 2:
        fail(f"{mirror}: no commit touches {path} up to {commit}")
    return out[0], utc_date(out[1])


# --------------------------------------------------------------------------------------------
# JSON


def strict_json(text, what):
    """Parse JSON keeping key order; a duplicated key is an error (IAM would reject it)."""

    def pairs(items):
        result = {}
        for key, value in items:
            if key in result:
                fail(f"{what}: duplicate JSON key {key!r}")
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as e:
        fail(f"{what}: invalid JSON: {e}")


def as_list(value):
    return value if isinstance(value, list) else [value]


def check_document(doc, what):
    """The shape every corpus document must have: an identity policy of IAM's grammar."""
    if not isinstance(doc, dict):
        fail(f"{what}: the document is not a JSON object")
    if doc.get("Version") != "2012-10-17":
        fail(f"{what}: Version is {doc.get('Version')!r}, expected '2012-10-17'")
    for key in doc:
        if key not in ("Version", "Id", "Statement"):
            fail(f"{what}: unexpected top-level key {key!r}")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        fail(f"{what}: Statement is missing or empty")
    for i, st in enumerate(statements):
        where = f"{what}: Statement[{i}]"
        if not isinstance(st, dict):
            fail(f"{where} is not an object")
        if st.get("Effect") not in ("Allow", "Deny"):
            fail(f"{where}: Effect {st.get('Effect')!r}")
        if ("Action" in st) == ("NotAction" in st):
            fail(f"{where}: needs exactly one of Action and NotAction")
        if ("Resource" in st) == ("NotResource" in st):
            fail(f"{where}: needs exactly one of Resource and NotResource")
        if "Principal" in st or "NotPrincipal" in st:
            fail(f"{where}: has a Principal: not an identity policy")
        for key in st:
            if key not in ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                           "Condition"):
                fail(f"{where}: unexpected key {key!r}")
        for key in ("Action", "NotAction"):
            for action in as_list(st.get(key, [])):
                if not isinstance(action, str) or not (action == "*" or ACTION_RE.match(action)):
                    fail(f"{where}: {key} {action!r} is not service:Name or *")
        for key in ("Resource", "NotResource"):
            for resource in as_list(st.get(key, [])):
                if not isinstance(resource, str) or not resource:
                    fail(f"{where}: {key} {resource!r} is not a string")
        condition = st.get("Condition", {})
        if not isinstance(condition, dict):
            fail(f"{where}: Condition is not an object")
        for operator, block in condition.items():
            if not isinstance(block, dict) or not block:
                fail(f"{where}: Condition {operator!r} is not a non-empty object")
            for key, values in block.items():
                for value in as_list(values):
                    if not isinstance(value, (str, bool)):
                        fail(f"{where}: Condition {operator}/{key} value {value!r}")
    leftover = [m for m in re.findall(r"\$\{[^}]*\}", json.dumps(doc))
                if not POLICY_VARIABLE_RE.fullmatch(m)]
    if leftover:
        fail(f"{what}: unresolved placeholder(s) {sorted(set(leftover))}")


def count_statements(doc):
    return len(as_list(doc["Statement"]))


# --------------------------------------------------------------------------------------------
# HCL: python-hcl2's parse tree, evaluated here for the few expression forms policies use


def import_hcl2(requirements):
    try:
        return importlib.import_module("hcl2")
    except ImportError:
        pass
    target = tempfile.mkdtemp(prefix="gen-real-policies-")
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    sys.stderr.write(f"gen-real-policies: installing {requirements} into {target}\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", target, "--requirement", requirements],
        check=True, env=dict(os.environ, PIP_ROOT_USER_ACTION="ignore"),
    )
    sys.path.insert(0, target)
    importlib.invalidate_caches()
    return importlib.import_module("hcl2")


class Ref:
    """A traversal such as var.x or aws_iam_role.r.arn, kept unresolved."""

    def __init__(self, parts, line):
        self.parts = tuple(parts)
        self.line = line

    def __str__(self):
        return ".".join(self.parts)


class Template:
    """A quoted string with ${...} interpolations: a list of str and unevaluated values."""

    def __init__(self, parts, line):
        self.parts = parts
        self.line = line


class Call:
    def __init__(self, name, args, line):
        self.name = name
        self.args = args
        self.line = line


class Hcl:
    """Evaluates python-hcl2 parse trees of one file, failing on any form it does not know."""

    def __init__(self, hcl2_module, path, text):
        from lark import Token, Tree  # python-hcl2's own dependency

        self.Token = Token
        self.Tree = Tree
        self.path = path
        try:
            self.tree = hcl2_module.parses_to_tree(text)
        except Exception as e:  # lark's exceptions: any parse error is fatal
            fail(f"{path}: HCL parse error: {e}")

    def line(self, node):
        meta = getattr(node, "meta", None)
        if meta is not None and not getattr(meta, "empty", True):
            return meta.line
        if isinstance(node, self.Token):
            return node.line
        for child in getattr(node, "children", []):
            found = self.line(child)
            if found:
                return found
        return 0

    def error(self, node, message):
        fail(f"{self.path}:{self.line(node)}: {message}")

    def significant(self, node):
        return [c for c in node.children
                if isinstance(c, self.Tree) and c.data != "new_line_or_comment"]

    def name_of(self, node):
        """The text of an identifier, keyword or string label."""
        if isinstance(node, self.Tree) and node.data in ("identifier", "keyword", "literal_value"):
            return str(node.children[0])
        if isinstance(node, self.Tree) and node.data == "string":
            value = self.evaluate(node)
            if isinstance(value, str):
                return value
        self.error(node, f"expected a name, found {getattr(node, 'data', node)!r}")

    def body(self, body):
        """[("attr", name, expr, node) | ("block", type, labels, body, node)] of a body."""
        if not (isinstance(body, self.Tree) and body.data in ("start", "body")):
            self.error(body, "expected a body")
        if body.data == "start":
            (body,) = self.significant(body)
        items = []
        for child in body.children:
            if isinstance(child, self.Token):
                self.error(child, f"unexpected token {child!r}")
            if child.data == "new_line_or_comment":
                continue
            if child.data == "attribute":
                name = self.name_of(child.children[0])
                items.append(("attr", name, child.children[-1], child))
            elif child.data == "block":
                parts = [c for c in child.children if isinstance(c, self.Tree)
                         and c.data != "new_line_or_comment"]
                block_type = self.name_of(parts[0])
                labels = [self.name_of(p) for p in parts[1:-1]]
                if parts[-1].data != "body":
                    self.error(child, "block without a body")
                items.append(("block", block_type, labels, parts[-1], child))
            else:
                self.error(child, f"unexpected {child.data!r} in a body")
        names = [i[1] for i in items if i[0] == "attr"]
        for name in names:
            if names.count(name) > 1:
                self.error(body, f"argument {name!r} is set twice")
        return items

    def string(self, node):
        parts = []
        for child in node.children:
            if isinstance(child, self.Token):
                if child.type != "DBLQUOTE":
                    self.error(node, f"unexpected token {child.type} in a string")
                continue
            if child.data != "string_part":
                self.error(child, f"unexpected {child.data!r} in a string")
            (part,) = child.children
            if isinstance(part, self.Token):
                if part.type == "STRING_CHARS":
                    parts.append(self.unescape(part, str(part)))
                elif part.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                    parts.append(str(part)[1:])  # $${x} is a literal ${x}, %%{x} a literal %{x}
                else:
                    self.error(child, f"unexpected token {part.type} in a string")
            elif part.data == "interpolation":
                (expr,) = self.significant(part)
                parts.append(self.evaluate(expr))
            else:
                self.error(part, f"template directive {part.data!r} is not supported")
        if all(isinstance(p, str) for p in parts):
            return "".join(parts)
        if len(parts) == 1:
            return parts[0]  # "${x}" is x itself
        return Template(parts, self.line(node))

    def unescape(self, node, text):
        out = []
        i = 0
        while i < len(text):
            c = text[i]
            if c != "\\":
                out.append(c)
                i += 1
                continue
            e = text[i + 1] if i + 1 < len(text) else ""
            simple = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
            if e in simple:
                out.append(simple[e])
                i += 2
            elif e in ("u", "U"):
                width = 4 if e == "u" else 8
                digits = text[i + 2:i + 2 + width]
                if len(digits) != width or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
                    self.error(node, f"bad escape in {text!r}")
                out.append(chr(int(digits, 16)))
                i += 2 + width
            else:
                self.error(node, f"unknown escape \\{e} in {text!r}")
        return "".join(out)

    def heredoc(self, node, token):
        text = str(token)
        match = re.fullmatch(r"<<(-?)([A-Za-z][A-Za-z0-9._-]*)\r?\n(.*?)\r?\n?[ \t]*\2\r?\n",
                             text, re.S)
        if not match:
            self.error(node, "cannot read this heredoc")
        trim, _, body = match.groups()
        lines = body.split("\n") if body else []
        if trim:
            indents = [len(l) - len(l.lstrip(" \t")) for l in lines if l.strip()]
            cut = min(indents) if indents else 0
            lines = [l[cut:] for l in lines]
        value = "\n".join(lines) + ("\n" if lines else "")
        if "${" in value.replace("$${", "") or "%{" in value.replace("%%{", ""):
            self.error(node, "interpolation or directive in a heredoc is not supported")
        return value.replace("$${", "${").replace("%%{", "%{")

    def evaluate(self, node):
        if not isinstance(node, self.Tree):
            self.error(node, f"unexpected token {node!r}")
        kind = node.data
        if kind == "expr_term":
            if any(isinstance(c, self.Token) and c.type == "LPAR" for c in node.children):
                (inner,) = self.significant(node)
                return self.evaluate(inner)
            (inner,) = self.significant(node)
            return self.evaluate(inner)
        if kind == "string":
            return self.string(node)
        if kind == "tuple":
            return [self.evaluate(c) for c in self.significant(node)]
        if kind == "object":
            result = {}
            for elem in self.significant(node):
                if elem.data != "object_elem":
                    self.error(elem, f"unexpected {elem.data!r} in an object")
                key_node, value_node = self.significant(elem)
                key = self.object_key(key_node)
                if key in result:
                    self.error(elem, f"duplicate object key {key!r}")
                result[key] = self.evaluate(value_node)
            return result
        if kind == "identifier":
            return Ref([str(node.children[0])], self.line(node))
        if kind == "get_attr_expr_term":
            base, attr = self.significant(node)
            value = self.evaluate(base)
            if not isinstance(value, Ref):
                self.error(node, "attribute access on something other than a reference")
            (name,) = self.significant(attr)
            return Ref(value.parts + (self.name_of(name),), value.line)
        if kind == "literal_value":
            return {"true": True, "false": False, "null": None}[str(node.children[0])]
        if kind == "int_lit":
            return int(str(node.children[0]))
        if kind == "function_call":
            if any(isinstance(c, self.Token) and c.type in ("COLONS", "ELLIPSIS")
                   for c in node.children):
                self.error(node, "provider functions and argument expansion are not supported")
            parts = self.significant(node)
            name = self.name_of(parts[0])
            args = []
            if len(parts) > 1:
                if parts[1].data != "arguments" or len(parts) != 2:
                    self.error(node, "unexpected function call form")
                if any(isinstance(c, self.Token) and c.type == "ELLIPSIS"
                       for c in parts[1].children):
                    self.error(node, "argument expansion is not supported")
                args = [self.evaluate(a) for a in self.significant(parts[1])]
            return Call(name, args, self.line(node))
        if kind in ("heredoc_template", "heredoc_template_trim"):
            (token,) = node.children
            return self.heredoc(node, token)
        self.error(node, f"expression form {str(kind)!r} is not supported")

    def object_key(self, node):
        (inner,) = self.significant(node)
        if inner.data == "expr_term":
            (inner,) = self.significant(inner)
        if inner.data in ("identifier", "keyword"):
            return str(inner.children[0])
        if inner.data == "string":
            value = self.string(inner)
            if isinstance(value, str):
                return value
        self.error(node, "object keys must be names or literal strings")


def materialize(value, resolve, what):
    """Turn an evaluated HCL value into plain JSON data; references go through `resolve`."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, list):
        return [materialize(v, resolve, what) for v in value]
    if isinstance(value, dict):
        return {k: materialize(v, resolve, what) for k, v in value.items()}
    if isinstance(value, Ref):
        return resolve(value)
    if isinstance(value, Template):
        parts = [materialize(p, resolve, what) for p in value.parts]
        if not all(isinstance(p, str) for p in parts):
            fail(f"{what}: line {value.line}: a template part is not a string")
        return "".join(parts)
    if isinstance(value, Call):
        fail(f"{what}: line {value.line}: function {value.name}() inside a policy document "
             "is not supported")
    fail(f"{what}: cannot convert {value!r}")


def jsonencode(value):
    """Terraform's jsonencode: an object's attributes come out in lexical order."""
    if isinstance(value, dict):
        return {k: jsonencode(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [jsonencode(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# iam-vulnerable


class Lab:
    def __init__(self, hcl2_module, mirror, commit):
        self.hcl2 = hcl2_module
        self.mirror = mirror
        self.commit = commit
        self.resources = {}  # (type, name) -> {"file", "items", "hcl"}
        self.data = {}
        self.files = []
        self.notes = set()  # source-level remarks (what was deliberately not extracted)
        self.trust_policies = 0
        self.used_documents = set()

    def load(self):
        names = git(self.mirror, "ls-tree", "-r", "--name-only", self.commit, "--",
                    *LAB_DIRS).decode().splitlines()
        if not names:
            fail(f"{self.mirror}: nothing under {LAB_DIRS} at {self.commit}")
        for path in sorted(names):
            if not path.endswith(".tf"):
                fail(f"{path}: not a .tf file; the script does not know what it holds")
            self.files.append(path)
            hcl = Hcl(self.hcl2, path, show(self.mirror, self.commit, path))
            for item in hcl.body(hcl.tree):
                if item[0] != "block":
                    hcl.error(item[3], f"top-level argument {item[1]!r}")
                _, block_type, labels, body, node = item
                if block_type == "variable":
                    continue
                if block_type not in ("resource", "data") or len(labels) != 2:
                    hcl.error(node, f"block {block_type} {labels} is not supported")
                table = self.resources if block_type == "resource" else self.data
                key = tuple(labels)
                if key in table:
                    hcl.error(node, f"{block_type} {key} is defined twice")
                table[key] = {"file": path, "items": hcl.body(body), "hcl": hcl, "node": node}

    def attr(self, entry, name):
        for item in entry["items"]:
            if item[0] == "attr" and item[1] == name:
                return item[2]
        return None

    def literal_name(self, kind, name):
        entry = self.resources.get((kind, name))
        if entry is None:
            fail(f"reference to undefined resource {kind}.{name}")
        node = self.attr(entry, "name")
        value = entry["hcl"].evaluate(node) if node is not None else None
        if not isinstance(value, str):
            fail(f"{entry['file']}: {kind}.{name} has no literal name")
        return value

    def document_reference(self, notes, where):
        """The resolver for references inside a policy document: realistic literals, noted."""

        def resolve(ref):
            parts = ref.parts
            if len(parts) == 2 and parts[0] == "var" and parts[1] in LAB_VARIABLES:
                value = LAB_VARIABLES[parts[1]]
                notes.append(f"var.{parts[1]} replaced by {value}.")
                return value
            if len(parts) == 3 and parts[0] in IAM_ARN_KINDS and parts[2] in ("arn", "name"):
                name = self.literal_name(parts[0], parts[1])
                value = name
                if parts[2] == "arn":
                    value = f"arn:aws:iam::{ACCOUNT}:{IAM_ARN_KINDS[parts[0]]}/{name}"
                notes.append(f"{ref} replaced by {value}.")
                return value
            fail(f"{where}:{ref.line}: reference {ref} inside a policy document is not "
                 "supported")

        return resolve

    def principal(self, entry, argument, kind):
        node = self.attr(entry, argument)
        if node is None:
            entry["hcl"].error(entry["node"], f"no {argument} argument")
        value = entry["hcl"].evaluate(node)
        if isinstance(value, Ref):
            parts = value.parts
            if len(parts) != 3 or parts[0] != f"aws_iam_{kind}" or parts[2] not in ("name", "id"):
                entry["hcl"].error(node, f"{argument} = {value}: not a reference to a {kind}")
            return f"{kind}/{self.literal_name(parts[0], parts[1])}"
        if isinstance(value, str):
            return f"{kind}/{value}"
        entry["hcl"].error(node, f"{argument}: cannot read the {kind} name")

    def policy_of_arn(self, entry, node, value):
        """The aws_iam_policy name that `value` (a policy_arn) designates, or None for an AWS
        managed policy (recorded as not extracted)."""
        if isinstance(value, Ref):
            parts = value.parts
            if len(parts) == 3 and parts[0] == "aws_iam_policy" and parts[2] in ("arn", "id"):
                if ("aws_iam_policy", parts[1]) not in self.resources:
                    entry["hcl"].error(node, f"{value}: no such policy")
                return parts[1]
            if len(parts) == 4 and parts[0] == "data" and parts[1] == "aws_iam_policy":
                managed = self.data.get(("aws_iam_policy", parts[2]))
                if managed is None:
                    entry["hcl"].error(node, f"{value}: no such data source")
                return None
        if isinstance(value, str) and value.startswith("arn:aws:iam::aws:policy/"):
            self.notes.add(
                f"The AWS managed policy {value} is attached in the lab; not extracted (AWS "
                "managed policies are covered by the managed-policy table)."
            )
            return None
        entry["hcl"].error(node, f"policy_arn {value!r}: cannot tell which policy this is")

    def render_policy_document(self, name, notes):
        """data.aws_iam_policy_document.NAME.json, as the AWS provider renders it."""
        entry = self.data.get(("aws_iam_policy_document", name))
        if entry is None:
            fail(f"data.aws_iam_policy_document.{name} is not defined")
        self.used_documents.add(name)
        hcl = entry["hcl"]
        resolve = self.document_reference(notes, entry["file"])

        def value(node, kind):
            v = materialize(hcl.evaluate(node), resolve, entry["file"])
            if kind == "string" and not isinstance(v, str):
                hcl.error(node, "expected a string")
            if kind == "strings" and not (isinstance(v, list)
                                          and all(isinstance(s, str) for s in v)):
                hcl.error(node, "expected a list of strings")
            return v

        def decode(strings):  # policyDecodeConfigStrings over a set
            unique = sorted(set(strings), reverse=True)
            return unique[0] if len(unique) == 1 else unique

        def variables(v):  # dataSourcePolicyDocumentReplaceVarsInList, version 2012-10-17
            return [s.replace("&{", "${") for s in v] if isinstance(v, list) \
                else v.replace("&{", "${")

        doc = {"Version": "2012-10-17"}
        statements = []
        for item in entry["items"]:
            if item[0] == "attr":
                if item[1] == "version":
                    doc["Version"] = value(item[2], "string")
                elif item[1] == "policy_id":
                    doc["Id"] = value(item[2], "string")
                else:
                    hcl.error(item[3], f"aws_iam_policy_document argument {item[1]!r} is not "
                              "supported")
                continue
            if item[1] != "statement" or item[2]:
                hcl.error(item[4], f"aws_iam_policy_document block {item[1]!r}")
            fields = {}
            conditions = {}
            for sub in hcl.body(item[3]):
                if sub[0] == "attr":
                    kind = "string" if sub[1] in ("sid", "effect") else "strings"
                    if sub[1] not in ("sid", "effect", "actions", "not_actions", "resources",
                                      "not_resources"):
                        hcl.error(sub[3], f"statement argument {sub[1]!r} is not supported")
                    fields[sub[1]] = value(sub[2], kind)
                elif sub[1] == "condition" and not sub[2]:
                    cond = {}
                    for c in hcl.body(sub[3]):
                        if c[0] != "attr" or c[1] not in ("test", "variable", "values"):
                            hcl.error(c[-1], f"condition {c[1]!r} is not supported")
                        cond[c[1]] = value(c[2], "strings" if c[1] == "values" else "string")
                    if set(cond) != {"test", "variable", "values"} or not cond["values"]:
                        hcl.error(sub[4], "condition needs test, variable and values")
                    key = (cond["test"], cond["variable"])
                    if key in conditions:  # the provider merges these in set order: refuse
                        hcl.error(sub[4], f"two conditions on {key}")
                    conditions[key] = variables(cond["values"])
                else:  # principals / not_principals have no place in an identity policy
                    hcl.error(sub[4], f"statement block {sub[1]!r} is not supported")
            effect = fields.get("effect", "Allow")
            if effect not in ("Allow", "Deny"):
                hcl.error(item[4], f"effect {effect!r}")
            st = {}
            if fields.get("sid"):
                st["Sid"] = fields["sid"]
            st["Effect"] = effect
            for arg, key in (("actions", "Action"), ("not_actions", "NotAction")):
                if fields.get(arg):
                    st[key] = decode(fields[arg])
            for arg, key in (("resources", "Resource"), ("not_resources", "NotResource")):
                if fields.get(arg):
                    st[key] = variables(decode(fields[arg]))
            if conditions:
                rendered = {}
                for test, variable in sorted(conditions):
                    values = conditions[(test, variable)]
                    rendered.setdefault(test, {})[variable] = \
                        values[0] if len(values) == 1 else values
                st["Condition"] = rendered
            statements.append(st)
        if statements:
            doc["Statement"] = statements
        notes.append(
            f"Rendered from data.aws_iam_policy_document.{name} as the AWS provider renders it "
            "(a one-element list as a string)."
        )
        return doc

    def document(self, entry, node, notes):
        hcl = entry["hcl"]
        value = hcl.evaluate(node)
        what = f"{entry['file']}:{hcl.line(node)}"
        if isinstance(value, Call):
            if value.name != "jsonencode" or len(value.args) != 1:
                hcl.error(node, f"policy = {value.name}(...) is not supported")
            return jsonencode(materialize(value.args[0],
                                          self.document_reference(notes, entry["file"]), what))
        if isinstance(value, Ref):
            parts = value.parts
            if (len(parts) == 4 and parts[:2] == ("data", "aws_iam_policy_document")
                    and parts[3] in ("json", "minified_json")):
                return self.render_policy_document(parts[2], notes)
            hcl.error(node, f"policy = {value}: not a policy document reference")
        if isinstance(value, str):
            return strict_json(value, what)
        hcl.error(node, "policy: not a literal, jsonencode(...) or policy document")

    def extract(self):
        policies = {}
        attachments = {}  # policy name -> set of principals

        def add(name, entry, doc, notes, principal=None):
            if name in policies:
                fail(f"two policies named {name}")
            policies[name] = {"name": name, "file": entry["file"], "document": doc,
                              "notes": notes}
            if principal:
                attachments.setdefault(name, set()).add(principal)

        for (kind, name), entry in sorted(self.resources.items()):
            hcl = entry["hcl"]
            for item in entry["items"]:
                label = item[1]
                if item[0] == "attr" and ("policy" in label and label != "policy_arn"
                                          and label != "managed_policy_arns"):
                    known = ((kind in DOCUMENT_RESOURCES and label == "policy")
                             or (kind == "aws_iam_role" and label == "assume_role_policy"))
                    if not known:
                        hcl.error(item[3], f"{kind}.{name}: argument {label!r} is not understood")
                if item[0] == "block" and not (kind == "aws_iam_role"
                                               and label == "inline_policy"):
                    hcl.error(item[4], f"{kind}.{name}: block {label!r} is not understood")
            if kind in DOCUMENT_RESOURCES:
                notes = []
                node = self.attr(entry, "policy")
                if node is None:
                    hcl.error(entry["node"], f"{kind}.{name} has no policy")
                doc = self.document(entry, node, notes)
                principal = None
                if DOCUMENT_RESOURCES[kind]:
                    principal = self.principal(entry, DOCUMENT_RESOURCES[kind],
                                               DOCUMENT_RESOURCES[kind])
                    notes.append(f"Inline policy ({kind}) of {principal}.")
                add(name, entry, doc, notes, principal)
            elif kind == "aws_iam_role":
                role = f"role/{self.literal_name(kind, name)}"
                if self.attr(entry, "assume_role_policy") is not None:
                    self.trust_policies += 1
                for item in entry["items"]:
                    if item[0] == "block":  # inline_policy { name, policy }
                        sub = {"file": entry["file"], "items": hcl.body(item[3]), "hcl": hcl,
                               "node": item[4]}
                        name_node = self.attr(sub, "name")
                        inline_name = hcl.evaluate(name_node) if name_node is not None else None
                        node = self.attr(sub, "policy")
                        if not isinstance(inline_name, str) or node is None:
                            hcl.error(item[4], "inline_policy needs a literal name and a policy")
                        notes = [f"Inline policy (aws_iam_role inline_policy) of {role}."]
                        add(f"{name}/{inline_name}", sub, self.document(sub, node, notes),
                            notes, role)
                node = self.attr(entry, "managed_policy_arns")
                if node is not None:
                    arns = hcl.evaluate(node)
                    if not isinstance(arns, list):
                        hcl.error(node, "managed_policy_arns is not a list")
                    for arn in arns:
                        policy = self.policy_of_arn(entry, node, arn)
                        if policy:
                            attachments.setdefault(policy, set()).add(role)
            elif kind in ATTACHMENT_RESOURCES:
                principal_kind = ATTACHMENT_RESOURCES[kind]
                principal = self.principal(entry, principal_kind, principal_kind)
                node = self.attr(entry, "policy_arn")
                if node is None:
                    hcl.error(entry["node"], f"{kind}.{name} has no policy_arn")
                policy = self.policy_of_arn(entry, node, hcl.evaluate(node))
                if policy:
                    attachments.setdefault(policy, set()).add(principal)
            elif kind not in PLAIN_RESOURCES:
                hcl.error(entry["node"], f"resource type {kind} is not understood")

        for (kind, name), entry in sorted(self.data.items()):
            if kind == "aws_iam_policy":
                arn = entry["hcl"].evaluate(self.attr(entry, "arn"))
                if not (isinstance(arn, str) and arn.startswith("arn:aws:iam::aws:policy/")):
                    entry["hcl"].error(entry["node"], "data.aws_iam_policy: not an AWS managed ARN")
                self.notes.add(
                    f"data.aws_iam_policy.{name} ({arn}, {entry['file']}) looks up an AWS managed "
                    "policy; not extracted (AWS managed policies are covered by the "
                    "managed-policy table)."
                )
            elif kind != "aws_iam_policy_document":
                entry["hcl"].error(entry["node"], f"data source {kind} is not understood")
        unused = {n for (k, n) in self.data if k == "aws_iam_policy_document"} - \
            self.used_documents
        if unused:
            fail(f"aws_iam_policy_document(s) {sorted(unused)} are not used by any policy; "
                 "the script does not know whether they are identity policies")
        for name in attachments:
            if name not in policies:
                fail(f"attachment of unknown policy {name}")
        for name, policy in policies.items():
            policy["attached_to"] = sorted(attachments.get(name, ()))
        return policies


def lab_profiles(text):
    """profile -> role name, from aws_credentials_file_example."""
    profiles = {}
    current = None
    for line in text.splitlines():
        header = re.fullmatch(r"\s*\[([^\]]+)\]\s*", line)
        if header:
            current = header.group(1)
            continue
        arn = re.fullmatch(r"\s*role_arn\s*=\s*arn:aws:iam::\d{12}:role/(\S+)\s*", line)
        if arn and current:
            if current in profiles:
                fail(f"{LAB_PROFILES}: profile {current} has two role_arn lines")
            profiles[current] = arn.group(1)
    return profiles


def lab_readme_paths(text):
    """[(path name, profile)] of the README's table of privesc paths, and the count it states."""
    stated = re.search(r"support (\d+) unique AWS IAM privesc paths", text)
    if not stated:
        fail(f"{LAB_README}: the sentence stating the number of privesc paths is gone")
    rows = []
    in_table = False
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| Path Name | IAM Vulnerable Profile Name"):
            in_table = True
            continue
        if not in_table:
            continue
        if not line.startswith("|"):
            if rows:
                break
            continue
        if set(cells[0]) <= set("- ") or cells[0].startswith("**Category"):
            continue
        rows.append((cells[0], cells[1]))
    if not rows:
        fail(f"{LAB_README}: the table of privesc paths is gone")
    return rows, int(stated.group(1))


def expectation(path):
    base = os.path.basename(path)
    if base.startswith("privesc") or base.startswith("fn"):
        return "path"
    if base.startswith("fp"):
        return "no-path"
    return "none-designed"


def build_lab(hcl2_module, mirror, out_dir):
    commit = LAB["commit"]
    check_commit(mirror, commit)
    lab = Lab(hcl2_module, mirror, commit)
    lab.load()
    policies = lab.extract()

    profiles = lab_profiles(show(mirror, commit, LAB_PROFILES))
    role_profile = {}
    for profile, role in profiles.items():
        if role in role_profile:
            fail(f"{LAB_PROFILES}: role {role} has two profiles")
        role_profile[role] = profile
    file_profile = {}
    for (kind, name), entry in lab.resources.items():
        if kind == "aws_iam_role":
            profile = role_profile.get(lab.literal_name(kind, name))
            if profile:
                if entry["file"] in file_profile:
                    fail(f"{entry['file']} defines the roles of two profiles")
                file_profile[entry["file"]] = profile
    readme_rows, stated = lab_readme_paths(show(mirror, commit, LAB_README))
    path_titles = {}
    for title, profile in readme_rows:
        if profile not in profiles:
            fail(f"{LAB_README}: profile {profile} ({title}) is not in {LAB_PROFILES}")
        if profile in path_titles:
            fail(f"{LAB_README}: profile {profile} listed twice")
        path_titles[profile] = title
    if len(readme_rows) != stated:
        fail(f"{LAB_README}: states {stated} paths but its table lists {len(readme_rows)}")

    for name in LAB_NOTES:
        if name not in policies:
            fail(f"LAB_NOTES names {name}, which the lab no longer defines")
    out = []
    for name in sorted(policies):
        p = policies[name]
        entry = {"name": name, "file": p["file"], "expect": expectation(p["file"])}
        profile = file_profile.get(p["file"])
        if profile:
            entry["case"] = profile
            if profile in path_titles:
                entry["lab_path"] = path_titles[profile]
        entry["attached_to"] = p["attached_to"]
        notes = ([LAB_NOTES[name]] if name in LAB_NOTES else []) + p["notes"]
        if notes:
            entry["notes"] = " ".join(notes)
        check_document(p["document"], f"{LAB['name']}: {name}")
        entry["document"] = p["document"]
        out.append(entry)

    # Every path of the README and every fn/fp case must be present, with the right expectation.
    for profile, title in path_titles.items():
        found = [e for e in out if e.get("case") == profile and e["expect"] == "path"]
        if not found:
            fail(f"privesc path {title} ({profile}): no policy with expect=path")
    for profile in profiles:
        if re.fullmatch(r"f[np]\d+", profile):
            want = "path" if profile.startswith("fn") else "no-path"
            if not [e for e in out if e.get("case") == profile and e["expect"] == want]:
                fail(f"tool-testing case {profile}: no policy with expect={want}")

    notes = [
        "Identity policy documents only: the assume_role_policy trust policies of the lab's "
        f"{lab.trust_policies} roles are not extracted.",
        "jsonencode(...) documents are rendered as Terraform renders them (object keys sorted, "
        "values as written); aws_iam_policy_document data sources as the AWS provider renders "
        "them (Version, Statement; Sid, Effect, Action, NotAction, Resource, NotResource, "
        "Condition; a one-element list as a string, a longer one de-duplicated and sorted in "
        "reverse; one condition value as a string).",
        f"References to variables or to the lab's IAM resources inside a document would be "
        f"replaced by literals of account {ACCOUNT} and named in that policy's notes (the lab at "
        "this commit has none).",
        "expect comes from the lab's file naming: privesc* and fn* files are designed true "
        "positives (path), fp* designed false positives (no-path), other files none-designed. "
        "case is the lab's profile whose role the file defines, lab_path that profile's path "
        "in the README's table. fn1 and fp2 are about several policies on one principal: see "
        "their notes and attached_to.",
    ] + sorted(lab.notes)
    source = {
        "name": LAB["name"],
        "repository": LAB["repository"],
        "commit": commit,
        "date": commit_date(mirror, commit),
        "license": LAB["license"],
        "license_file": f"LICENSE.{LAB['name']}",
        "paths": lab.files,
        "readme_paths": len(readme_rows),
        "notes": notes,
    }
    license = license_text(mirror, commit, LAB["license_path"])
    copyright_line = re.search(r"^Copyright .*$", license, re.M)
    if not copyright_line:
        fail(f"{LAB['license_path']}: no copyright line")
    source["copyright"] = copyright_line.group(0)
    write(os.path.join(out_dir, f"LICENSE.{LAB['name']}"), license)
    write_json(os.path.join(out_dir, f"{LAB['name']}.json"), {"source": source, "policies": out})
    return source, out


# --------------------------------------------------------------------------------------------
# EKS controllers


def markdown_json_blocks(text, path):
    """[(heading, json text)] of the ```json fenced blocks of a markdown file."""
    blocks = []
    heading = None
    fence = None
    lines = []
    for line in text.splitlines():
        if fence is None:
            match = re.match(r"^\s*(```+|~~~+)\s*([A-Za-z0-9_-]*)", line)
            if match:
                fence = match.group(1)
                language = match.group(2).lower()
                lines = []
                continue
            heading_match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if heading_match:
                heading = heading_match.group(1)
        elif line.strip() and set(line.strip()) == set(fence[0]) and \
                len(line.strip()) >= len(fence):
            if language == "json":
                blocks.append((heading, "\n".join(lines)))
            fence = None
        else:
            lines.append(line)
    if fence is not None:
        fail(f"{path}: unterminated code fence")
    return blocks


def substitute(value, placeholders, used):
    if isinstance(value, dict):
        return {k: substitute(v, placeholders, used) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, placeholders, used) for v in value]
    if isinstance(value, str):
        for placeholder, literal in placeholders.items():
            if placeholder in value:
                used.add(placeholder)
                value = value.replace(placeholder, literal)
    return value


def is_trust_policy(doc):
    return isinstance(doc, dict) and any(
        isinstance(st, dict) and ("Principal" in st or "NotPrincipal" in st)
        for st in as_list(doc.get("Statement", []))
    )


def build_controllers(mirrors, out_dir):
    sources = []
    policies = []
    for controller in CONTROLLERS:
        mirror = mirrors[controller["name"]]
        commit = controller["commit"]
        check_commit(mirror, commit)
        placeholders_used = set()
        for spec in controller["files"]:
            path = spec["path"]
            text = show(mirror, commit, path)
            file_commit, file_date = last_change(mirror, commit, path)
            if spec["kind"] == "json":
                found = {None: strict_json(text, f"{controller['name']}: {path}")}
            else:
                found = {}
                for heading, block in markdown_json_blocks(text, path):
                    try:
                        json.loads(block)
                    except json.JSONDecodeError:
                        if '"Statement"' in block:
                            fail(f"{path}: the JSON block under {heading!r} looks like a policy "
                                 "but does not parse")
                        continue  # some other JSON-ish example
                    doc = strict_json(block, f"{controller['name']}: {path} ({heading})")
                    if not (isinstance(doc, dict) and "Statement" in doc) or is_trust_policy(doc):
                        continue  # not a policy, or a trust policy
                    if heading not in spec["policies"]:
                        fail(f"{path}: an identity policy under the heading {heading!r}, which "
                             "the script does not know: add it to CONTROLLERS")
                    if heading in found:
                        fail(f"{path}: two identity policies under the heading {heading!r}")
                    found[heading] = doc
            if set(found) != set(spec["policies"]):
                fail(f"{path}: expected policies under {sorted(spec['policies'], key=str)}, "
                     f"found {sorted(found, key=str)}")
            for heading, doc in found.items():
                name = spec["policies"][heading]
                used = set()
                doc = substitute(doc, controller["placeholders"], used)
                placeholders_used |= used
                check_document(doc, f"{controller['name']}: {name}")
                entry = {
                    "name": name,
                    "repository": controller["repository"],
                    "file": path,
                    "file_commit": file_commit,
                    "file_date": file_date,
                    "expect": "none-designed",
                }
                notes = []
                if heading:
                    notes.append(f"The JSON policy under the heading \"{heading}\".")
                if used:
                    notes.append("Documentation placeholders replaced by example literals: " +
                                 ", ".join(f"{p} -> {controller['placeholders'][p]}"
                                           for p in sorted(used)) + ".")
                if notes:
                    entry["notes"] = " ".join(notes)
                entry["document"] = doc
                policies.append(entry)
        unused = set(controller["placeholders"]) - placeholders_used
        if unused:
            fail(f"{controller['name']}: placeholders {sorted(unused)} no longer occur")
        sources.append({
            "name": controller["name"],
            "repository": controller["repository"],
            "commit": commit,
            "date": commit_date(mirror, commit),
            "license": controller["license"],
            "license_file": f"LICENSE.{controller['name']}",
            "paths": [spec["path"] for spec in controller["files"]],
        })
        write(os.path.join(out_dir, f"LICENSE.{controller['name']}"),
              license_text(mirror, commit, controller["license_path"]))
    names = [p["name"] for p in policies]
    if len(set(names)) != len(names):
        fail("two controller policies have the same name")
    policies.sort(key=lambda p: p["name"])
    source = {
        "description": "Install-time IAM policies of EKS controllers, as each project publishes "
                       "them for its controller's IAM role (IRSA or Pod Identity).",
        "repositories": sources,
    }
    write_json(os.path.join(out_dir, "eks-controllers.json"),
               {"source": source, "policies": policies})
    return sources, policies


# --------------------------------------------------------------------------------------------
# output


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")
    os.replace(tmp, path)


def write_json(path, value):
    write(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def sources_md(lab_source, lab_policies, controller_sources, controller_policies):
    by_expect = {}
    for p in lab_policies:
        by_expect[p["expect"]] = by_expect.get(p["expect"], 0) + 1
    lab_statements = sum(count_statements(p["document"]) for p in lab_policies)
    lines = [
        "# Real IAM policies: sources",
        "",
        "Identity policy documents that this project did not write, for the real-policy tests "
        "(issue 16). Generated by `tools/gen-real-policies.py` from public repositories at the "
        "pinned commits below; do not edit the JSON files, regenerate them:",
        "",
        "```",
        "python3 tools/gen-real-policies.py    # [--lab DIR] [--alb DIR] [--external-dns DIR] "
        "[--autoscaler DIR]",
        "```",
        "",
        "Each option is a clone (or bare mirror) of the repository that contains the pinned "
        "commit; the script reads files with `git show COMMIT:PATH`, so a newer clone gives the "
        "same bytes. It needs python-hcl2 "
        "(`tools/gen-real-policies.requirements.txt`) and installs the pinned version with pip "
        "when it is missing. To refresh a source, bump its commit in the script and review the "
        "diff. AWS managed policies are not here: they come from the managed-policy table.",
        "",
        "| file | source | commit | date (UTC) | license | policies |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| iam-vulnerable.json | [BishopFox/iam-vulnerable]({lab_source['repository']}) | "
        f"`{lab_source['commit']}` | {lab_source['date']} | {lab_source['license']} "
        f"([LICENSE.iam-vulnerable](LICENSE.iam-vulnerable)) | {len(lab_policies)} |",
    ]
    for s in controller_sources:
        count = sum(1 for p in controller_policies if p["repository"] == s["repository"])
        short = s["repository"].split("github.com/", 1)[1]
        lines.append(
            f"| eks-controllers.json | [{short}]({s['repository']}) | `{s['commit']}` | "
            f"{s['date']} | {s['license']} ([{s['license_file']}]({s['license_file']})) | "
            f"{count} |"
        )
    lines += [
        "",
        "## iam-vulnerable.json",
        "",
        f"The BishopFox IAM privilege-escalation lab: {len(lab_policies)} identity policies "
        f"({lab_statements} statements) from the Terraform of `modules/free-resources/"
        "privesc-paths` and `modules/free-resources/tool-testing` "
        f"({len(lab_source['paths'])} files), covering all {lab_source['readme_paths']} privesc "
        "paths of the lab's README and its fn1-fn4 / fp1-fp5 tool-testing cases. "
        f"By `expect`: " + ", ".join(f"{k} {v}" for k, v in sorted(by_expect.items())) + ".",
        "",
        "- `expect` follows the lab's own naming: `privesc*` and `fn*` files are designed true "
        "positives (`path`: a real escalation path exists), `fp*` files designed false positives "
        "(`no-path`), other files `none-designed`.",
        "- `case` is the lab's profile (`aws_credentials_file_example`) whose role the file "
        "defines; `lab_path` its path name in the README's table; `attached_to` the lab's "
        "principals carrying the policy (`role/NAME`, `user/NAME`, `group/NAME`).",
        "- fn1 and fp2 are about several policies on one principal: fn1's two halves are "
        "harmless alone and a path together; fp2's `fp2-allow-all` is full access alone and "
        "nothing beside `deny-all`. Their `notes` say so; group by `attached_to` to rebuild the "
        "lab's principals.",
        "- Documents are rendered as Terraform renders them: `jsonencode` with object keys "
        "sorted; `aws_iam_policy_document` as the AWS provider renders it (a one-element list "
        "as a string). Trust policies (`assume_role_policy`) are not extracted.",
        "",
        "## eks-controllers.json",
        "",
        "Install-time policies that each controller's project publishes for its IAM role:",
        "",
    ]
    skipped = [
        "- Not included: Karpenter's controller policy, which its getting-started guide publishes "
        "inside a CloudFormation template (`cloudformation.yaml`, YAML with `!Sub` "
        "substitutions), not as a plain JSON document.",
    ]
    for p in controller_policies:
        lines.append(f"- `{p['name']}`: `{p['file']}` of {p['repository']} (last changed in "
                     f"`{p['file_commit'][:12]}`, {p['file_date']})"
                     + (f". {p['notes']}" if p.get("notes") else "."))
    lines += skipped
    lines += [
        "",
        "## Licenses",
        "",
        "The policy documents are copied from the repositories above under their licenses, whose "
        "texts are beside this file: `LICENSE.iam-vulnerable` (MIT, "
        f"{lab_source['copyright']}; the MIT notice must accompany copies), and the Apache "
        "License 2.0 of each "
        "Kubernetes project (`LICENSE.aws-load-balancer-controller`, `LICENSE.external-dns`, "
        "`LICENSE.cluster-autoscaler`; none of these repositories has a NOTICE file). The JSON "
        "files are modified forms (rendered from Terraform, extracted from Markdown, "
        "placeholders filled in), as the notes of each policy say.",
    ]
    return "\n".join(lines) + "\n"


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default=LAB["mirror"], help="iam-vulnerable clone or mirror")
    for controller in CONTROLLERS:
        parser.add_argument(controller["option"], default=controller["mirror"],
                            dest=controller["name"].replace("-", "_"),
                            help=f"{controller['repository']} clone or mirror")
    parser.add_argument("--out-dir",
                        default=os.path.join(repo, "tests", "fixtures", "real-policies"))
    args = parser.parse_args()

    hcl2_module = import_hcl2(os.path.join(repo, "tools", "gen-real-policies.requirements.txt"))
    try:
        from importlib.metadata import version
        installed = version("python-hcl2")
    except Exception as e:  # noqa: BLE001 - any failure to tell the version is fatal
        fail(f"cannot tell python-hcl2's version: {e}")
    if installed != HCL2_VERSION:
        fail(f"python-hcl2 {installed} is installed, the pinned version is {HCL2_VERSION}")

    os.makedirs(args.out_dir, exist_ok=True)
    mirrors = {c["name"]: getattr(args, c["name"].replace("-", "_")) for c in CONTROLLERS}
    lab_source, lab_policies = build_lab(hcl2_module, args.lab, args.out_dir)
    controller_sources, controller_policies = build_controllers(mirrors, args.out_dir)
    write(os.path.join(args.out_dir, "SOURCES.md"),
          sources_md(lab_source, lab_policies, controller_sources, controller_policies))
    sys.stderr.write(
        f"gen-real-policies: {len(lab_policies)} iam-vulnerable policies "
        f"({lab_source['readme_paths']} README paths), {len(controller_policies)} EKS controller "
        f"policies -> {args.out_dir}\n"
    )


if __name__ == "__main__":
    main()
