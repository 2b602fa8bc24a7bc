#!/usr/bin/env python3
"""Generate iamgate's embedded table of Google Cloud predefined roles from iann0036/iam-dataset.

Reads `gcp/roles/<name>.json` (one file per predefined role, as the IAM API's `roles.get`
returns it: `name`, `stage`, `includedPermissions`) and `LICENSE` from a git repository of
https://github.com/iann0036/iam-dataset (MIT) at the pinned commit, and writes:

  data/gcp-roles.tsv          one header comment line, then
                                  p <TAB> permission                       one line per permission,
                                                                            sorted; its index is
                                                                            its rank among them
                                  r <TAB> role <TAB> stage <TAB> indices    one line per role,
                                                                            sorted by name; the
                                                                            indices of its
                                                                            permissions, 3 base-36
                                                                            digits each, ascending
  data/NOTICE.iam-dataset     the dataset's MIT license notice

Output is byte-for-byte deterministic. Usage:

  python3 tools/gen-gcp-roles.py [--repo PATH] [--out-dir DIR]

`--repo` is a clone (bare or not) of iam-dataset that holds COMMIT; without it the repository is
cloned into a temporary directory. To refresh the data: bump COMMIT and COMMIT_DATE together
(`git log -1 --format=%cs COMMIT`).
"""

import json
import os
import subprocess
import sys
import tempfile

import gen_common
from gen_common import write

REPOSITORY = "https://github.com/iann0036/iam-dataset"
COMMIT = "2073fa52ac008a45477aa0b1b4580cd99135bf60"
COMMIT_DATE = "2026-08-22"
ROLES_DIR = "gcp/roles"
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
WIDTH = 3


def fail(message):
    gen_common.fail("gen-gcp-roles", message)


def git(repo, *args, data=None):
    return subprocess.run(
        ["git", "-C", repo, *args], check=True, capture_output=True, input=data
    ).stdout


def read_blobs(repo, paths):
    """The contents of `paths` at COMMIT, read in one `git cat-file --batch`."""
    request = "".join(f"{COMMIT}:{p}\n" for p in paths).encode()
    out = git(repo, "cat-file", "--batch", data=request)
    blobs = {}
    pos = 0
    for path in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode()
        if header.endswith("missing"):
            fail(f"{path} is missing at {COMMIT}")
        size = int(header.split()[2])
        blobs[path] = out[end + 1 : end + 1 + size].decode("utf-8")
        pos = end + 1 + size + 1
    return blobs


def encode(index):
    text = ""
    for _ in range(WIDTH):
        index, digit = divmod(index, 36)
        text = DIGITS[digit] + text
    if index:
        fail("too many permissions for the index width")
    return text


def main():
    parser = gen_common.argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", help="a clone of iam-dataset that holds the pinned commit")
    parser.add_argument("--out-dir", default=os.path.join(gen_common.REPO, "data"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gen-gcp-roles-") as tmp:
        repo = args.repo
        if repo is None:
            repo = os.path.join(tmp, "iam-dataset")
            subprocess.run(
                ["git", "clone", "--quiet", "--filter=blob:none", "--no-checkout", REPOSITORY, repo],
                check=True,
            )
        if git(repo, "rev-parse", f"{COMMIT}^{{commit}}").decode().strip() != COMMIT:
            fail(f"{repo} does not hold {COMMIT}")
        listing = git(repo, "ls-tree", "--name-only", f"{COMMIT}:{ROLES_DIR}").decode().split()
        paths = [f"{ROLES_DIR}/{name}" for name in sorted(listing) if name.endswith(".json")]
        if len(paths) < 1000:
            fail(f"only {len(paths)} role files under {ROLES_DIR}")
        blobs = read_blobs(repo, paths + ["LICENSE"])

    roles = {}
    for path in paths:
        role = json.loads(blobs[path])
        name = role.get("name")
        if not isinstance(name, str) or not name.startswith("roles/"):
            fail(f"{path}: unexpected role name {name!r}")
        if name in roles:
            fail(f"{path}: {name} is defined twice")
        permissions = role.get("includedPermissions", [])
        if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
            fail(f"{path}: includedPermissions is not a list of strings")
        for p in permissions:
            if not p or any(c.isspace() for c in p):
                fail(f"{path}: unexpected permission {p!r}")
        stage = role.get("stage", "GA")
        if not isinstance(stage, str) or not stage.isalpha():
            fail(f"{path}: unexpected stage {stage!r}")
        roles[name] = (stage, sorted(set(permissions)))

    permissions = sorted({p for _, ps in roles.values() for p in ps})
    index = {p: i for i, p in enumerate(permissions)}
    lines = [f"p\t{p}" for p in permissions]
    for name in sorted(roles):
        stage, ps = roles[name]
        lines.append(f"r\t{name}\t{stage}\t" + "".join(encode(index[p]) for p in ps))

    header = (
        f"# gcp-roles.tsv source=iam-dataset repository={REPOSITORY} commit={COMMIT} "
        f"commit_date={COMMIT_DATE} license=MIT roles={len(roles)} permissions={len(permissions)} "
        f"files={ROLES_DIR}/*.json; the permissions of every Google Cloud predefined role as the "
        "IAM API returns them; generated by tools/gen-gcp-roles.py, do not edit"
    )
    write(os.path.join(args.out_dir, "gcp-roles.tsv"), "\n".join([header] + lines) + "\n")
    gen_common.write_notice(
        os.path.join(args.out_dir, "NOTICE.iam-dataset"),
        f"data/gcp-roles.tsv is derived from {REPOSITORY} at commit\n"
        f"{COMMIT} ({COMMIT_DATE}), files {ROLES_DIR}/*.json,\n"
        "whose license follows. The data is the Google Cloud predefined roles with their\n"
        "permissions as the IAM API (roles.list, roles.get) returns them, gathered by that\n"
        "project; iamgate keeps each role's name, launch stage and permissions.\n",
        blobs["LICENSE"],
    )
    sys.stderr.write(
        f"gen-gcp-roles: {len(roles)} roles, {len(permissions)} permissions -> {args.out_dir}\n"
    )


if __name__ == "__main__":
    main()
