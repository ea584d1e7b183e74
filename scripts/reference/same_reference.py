#!/usr/bin/env python3
"""Checks that regenerated fixtures keep their reference tensors bit for bit: every tensor
(name, dtype, shape, bytes) and every metadata value of the committed version (git HEAD or
--rev) must be unchanged; new metadata keys (such as noise_floor) are listed, not refused.

    /usr/bin/python3 scripts/reference/same_reference.py test/fixtures/*.safetensors [--rev HEAD] [--dir D]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys


def parse(data: bytes):
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    tensors = {k: (h["dtype"], h["shape"], body[h["data_offsets"][0]:h["data_offsets"][1]]) for k, h in header.items()}
    return tensors, meta


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--dir", default=".", help="read the regenerated files from DIR/<path>")
    a = ap.parse_args()
    bad = 0
    for path in a.files:
        try:
            old = subprocess.run(["git", "show", f"{a.rev}:{path}"], capture_output=True, check=True).stdout
        except subprocess.CalledProcessError:
            print(f"{path}: not in {a.rev}, skipped")
            continue
        with open(os.path.join(a.dir, path), "rb") as f:
            new = f.read()
        (t0, m0), (t1, m1) = parse(old), parse(new)
        problems = [f"tensor {k} changed" for k in t0 if t0[k] != t1.get(k)]
        problems += [f"tensor {k} added" for k in t1 if k not in t0]
        problems += [f"metadata {k} changed" for k in m0 if m0[k] != m1.get(k)]
        added = sorted(set(m1) - set(m0))
        status = "; ".join(problems) if problems else f"{len(t0)} tensors bit-identical"
        print(f"{path}: {status}" + (f" (new metadata: {', '.join(added)})" if added else ""))
        bad += bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
