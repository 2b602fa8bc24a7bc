"""Helpers shared by the generators of data/ (tools/gen-action-db.py, tools/gen-managed-policies.py):
a pinned download checked against its sha256, and byte-for-byte deterministic writes."""

import argparse
import hashlib
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(tool, message):
    sys.stderr.write(f"{tool}: {message}\n")
    sys.exit(1)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(tool, path, expected):
    """Stops unless the file at `path` is the pinned one."""
    digest = sha256_of(path)
    if digest != expected:
        fail(tool, f"{path}: sha256 {digest}, expected {expected}")


def arguments(doc, download_option, what):
    """`--<download_option> PATH` (an already downloaded `what`) and `--out-dir DIR` (data/)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(f"--{download_option}", help=f"use this {what} instead of downloading it")
    parser.add_argument("--out-dir", default=os.path.join(REPO, "data"))
    return parser.parse_args()


def write_notice(path, about, license_text):
    """A licence notice: what the data is derived from (`about`, ending in a newline), then the
    upstream licence."""
    write(path, about + "\n---\n\n" + license_text.rstrip("\n") + "\n")


def write(path, text):
    """Writes `text` with `\\n` line ends, replacing the file at once."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    os.replace(tmp, path)
