#!/usr/bin/env python3
"""Generate iamgate's embedded table of Azure built-in roles from Microsoft's documentation.

Reads the generated reference pages `articles/role-based-access-control/built-in-roles/*.md` of
https://github.com/MicrosoftDocs/azure-docs (CC BY 4.0 for the documentation; each page holds,
per built-in role, the role definition as the Azure API returns it, in a ```json block) and
writes:

  data/azure-builtin-roles.tsv   one header comment line, then one line per role, sorted by id:
                                     role definition GUID <TAB> role name <TAB> permissions
                                 (`permissions` as minified JSON: the definition's list of
                                 {actions, notActions, dataActions, notDataActions}, order kept)

Output is byte-for-byte deterministic. Usage:

  python3 tools/gen-azure-roles.py PAGE.md [PAGE.md ...] [--out-dir DIR]

The pages are read from a checkout of azure-docs (a sparse checkout of
`articles/role-based-access-control/built-in-roles/` is enough). The committed table covers the
categories listed in PAGES, at the commits listed there; to cover more, check out more pages,
add them to PAGES with their commit, and rerun. A page whose roles' JSON does not parse, or a
role GUID seen twice with different content, stops the run.
"""

import argparse
import json
import os
import re
import sys

import gen_common
from gen_common import write

REPOSITORY = "https://github.com/MicrosoftDocs/azure-docs"
# Page (under articles/role-based-access-control/built-in-roles/) -> the commit it was read at.
PAGES = {
    "privileged.md": "0b8729eaf7eb0aabc6390cb17348d19761285f12",
    "general.md": "03e5750af10b23b5ba437d5b333ec5e9437844f9",
}
LICENSE = "CC-BY-4.0"

JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.S)
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MS_DATE = re.compile(r"^ms\.date:\s*(\S+)\s*$", re.M)


def fail(message):
    gen_common.fail("gen-azure-roles", message)


def roles_of(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    date = MS_DATE.search(text)
    roles = []
    for block in JSON_BLOCK.findall(text):
        try:
            role = json.loads(block)
        except json.JSONDecodeError as err:
            fail(f"{path}: a json block does not parse: {err}")
        if role.get("type") != "Microsoft.Authorization/roleDefinitions":
            continue
        guid = str(role.get("name", "")).lower()
        if not GUID.fullmatch(guid):
            fail(f"{path}: role {role.get('roleName')!r} has no GUID name")
        if role.get("roleType") != "BuiltInRole":
            fail(f"{path}: {guid} is not a built-in role")
        name = role.get("roleName")
        if not isinstance(name, str) or "\t" in name or "\n" in name:
            fail(f"{path}: {guid} has no usable roleName")
        permissions = role.get("permissions")
        if not isinstance(permissions, list):
            fail(f"{path}: {guid} has no permissions list")
        roles.append((guid, name, json.dumps(permissions, separators=(",", ":"))))
    return roles, date.group(1) if date else "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+")
    parser.add_argument("--out-dir", default=os.path.join(gen_common.REPO, "data"))
    args = parser.parse_args()
    table = {}
    dates = []
    for path in args.pages:
        page = os.path.basename(path)
        if page not in PAGES:
            fail(f"{page} is not listed in PAGES (with the commit it was read at)")
        roles, date = roles_of(path)
        dates.append(f"{page}@{PAGES[page][:12]}:{date}")
        for guid, name, permissions in roles:
            if guid in table and table[guid] != (name, permissions):
                fail(f"{guid} is defined twice with different content")
            table[guid] = (name, permissions)
    if not table:
        fail("no role found")
    header = (
        f"# azure-builtin-roles.tsv source={REPOSITORY} "
        f"path=articles/role-based-access-control/built-in-roles/ "
        f"pages={','.join(sorted(dates))} license={LICENSE} roles={len(table)}\n"
    )
    lines = [f"{guid}\t{name}\t{permissions}\n" for guid, (name, permissions) in sorted(table.items())]
    write(os.path.join(args.out_dir, "azure-builtin-roles.tsv"), header + "".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
