"""A hand-written safetensors writer (no `safetensors` package needed).

Layout: 8-byte little-endian header length, a JSON header ({name: {dtype, shape,
data_offsets}}, plus "__metadata__" with string values) padded with spaces to a multiple
of 8, then the raw little-endian tensor data. Larger elements come first, so every tensor
is aligned to its element size.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

_DTYPES = {np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("int64"): "I64"}


def write_safetensors(path: str, tensors: dict, metadata: dict) -> int:
    items = []
    for name, arr in tensors.items():
        a = np.ascontiguousarray(np.asarray(arr))
        if a.dtype not in _DTYPES:
            raise TypeError(f"{name}: unsupported dtype {a.dtype}")
        items.append((name, a.astype(a.dtype.newbyteorder("<"), copy=False)))
    items.sort(key=lambda kv: -kv[1].dtype.itemsize)  # stable: keeps insertion order
    header: dict = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    offset = 0
    for name, a in items:
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, a in items:
            f.write(a.tobytes())
    os.replace(tmp, path)
    return os.path.getsize(path)


def read_safetensors(path: str) -> tuple[dict, dict]:
    """(tensors {name: numpy array}, metadata) of a file written as above."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    inv = {v: k for k, v in _DTYPES.items()}
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a: 8 + n + b], dtype=inv[h["dtype"]].newbyteorder("<")).reshape(h["shape"])
    return out, meta
