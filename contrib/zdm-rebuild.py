#!/usr/bin/env python3
"""Rebuilds the tree of a zdm-backupd restore point from its chain without zdm-backupd, with
Python's standard library only (docs/ENGINE.md, "Sub-file incrementals").

Usage: zdm-rebuild.py OUT POINT [POINT ...]

Each POINT is a directory holding the point's `data.tar` and `catalog.jsonl`, already decrypted
and decompressed, for example
    zstd -d < data.tar.zst > data.tar;  zstd -d < catalog.jsonl.zst > catalog.jsonl
    age -d -i key.txt data.tar.zst.age | zstd -d > data.tar   (encrypted points)
given oldest (the full point) first and the point to rebuild last. OUT must not exist yet.

The script extracts the full point, then each incremental in order. A member whose catalog line
has a "delta" is not the file but its new parts: the file is rebuilt from the version already in
OUT and those parts. At the end, paths the last catalog does not list are removed. Sizes are
checked; BLAKE3 hashes (not in the standard library) are not, so run it only on a repository
you trust, and compare with `b3sum` against the catalog's "h" (files under 16 MiB; a larger
file has the BLAKE3 of each of its parts instead) if in doubt.
"""

import base64
import json
import os
import shutil
import struct
import sys
import tarfile

INLINE = 2**64 - 1  # a part the delta member holds
RECORD = 36  # one part: u32 length (little-endian), then its 32-byte BLAKE3


def raw_path(text):
    """Catalog paths are UTF-8 text, or base64 after "b64:" when they are not UTF-8."""
    if text.startswith("b64:"):
        return base64.b64decode(text[4:])
    return text.encode()


def member_path(name):
    p = name.encode("utf-8", "surrogateescape")
    if p.startswith(b"./"):
        p = p[2:]
    if len(p) > 1 and p.endswith(b"/"):
        p = p[:-1]
    return p or b"."


def read_catalog(point):
    with open(os.path.join(point, "catalog.jsonl"), "rb") as f:
        return {raw_path(e["p"]): e for e in map(json.loads, f)}


def parts(entry):
    raw = base64.b64decode(entry["parts"])
    return [struct.unpack_from("<I", raw, i)[0] for i in range(0, len(raw), RECORD)]


def sources(entry):
    raw = base64.b64decode(entry["delta"])
    return struct.unpack("<%dQ" % (len(raw) // 8), raw)


def rebuild(previous, delta, entry, target):
    """Writes the new version of a file: each part from the delta member or the old version."""
    with open(previous, "rb") as old, open(target, "wb") as new:
        for length, source in zip(parts(entry), sources(entry)):
            if source == INLINE:
                data = delta.read(length)
            else:
                old.seek(source)
                data = old.read(length)
            if len(data) != length:
                sys.exit("%s: a part is shorter than its catalog line says" % target)
            new.write(data)
    if os.path.getsize(target) != entry["size"]:
        sys.exit("%s: rebuilt to the wrong size" % target)


def extract(out, point):
    catalog = read_catalog(point)
    safe = {"filter": "tar"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(os.path.join(point, "data.tar")) as tar:
        for member in tar:
            path = member_path(member.name)
            entry = catalog.get(path)
            if entry is None:
                sys.exit("%s: %r is not in the catalog" % (point, path))
            if entry.get("delta") is None:
                tar.extract(member, out, **safe)
                continue
            dest = os.path.join(os.fsencode(out), path)
            tmp = dest + b".zdm-rebuild"
            rebuild(dest, tar.extractfile(member), entry, tmp)
            os.chmod(tmp, entry["mode"] & 0o7777)
            os.replace(tmp, dest)
            mtime = entry["mtime"][0] + entry["mtime"][1] / 1e9
            os.utime(dest, (mtime, mtime))
    return catalog


def remove_absent(out, catalog):
    root = os.fsencode(out)
    for top, dirs, files in os.walk(root, topdown=False):
        for name in files + dirs:
            full = os.path.join(top, name)
            if os.path.relpath(full, root) not in catalog:
                if os.path.isdir(full) and not os.path.islink(full):
                    shutil.rmtree(full)
                else:
                    os.unlink(full)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    out, points = argv[1], argv[2:]
    os.makedirs(out)
    catalog = None
    for point in points:
        catalog = extract(out, point)
    remove_absent(out, catalog)


if __name__ == "__main__":
    main(sys.argv)
