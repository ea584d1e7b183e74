"""Fixtures for the PyTorch checkpoint reader (src/io/pth.ts, test/io/pth.test.ts).

    /usr/bin/python3 scripts/reference/make_pth_fixtures.py

Writes test/fixtures/pth/ (about 330 kB):

* `small.pth` (zip) and `small_legacy.pth` (`_use_new_zipfile_serialization=False`): one
  checkpoint holding a small conv/BN/linear network's state dict under "state_dict", odd
  tensors under "tensors" (float16, bfloat16, float64, int and bool dtypes, a transposed and
  a sliced view, a stride-0 expand, a 0-d and an empty tensor, an nn.Parameter, a tensor with
  a Python attribute, two views of one storage) and plain values under "meta". Saved by
  PyTorch 1.13 as it is.
* `small_cuda.pth`: the same as zip with every storage's location "cuda:0" (as if saved
  from a GPU: torch.serialization.location_tag is patched while saving).
* `small.safetensors`: every tensor of the checkpoint, written by hand, named by its path
  ("state_dict.conv1.weight", "tensors.half", ...), contiguous; int8/int16 tensors are left
  out (safetensors.ts does not read them). `__metadata__.expected` is the JSON of the
  checkpoint with tensors replaced by {"tensor": name} (tuples as lists).
* `tinycnn.pth` (zip): TinyCNN's state dict with the deterministic weights
  (`load_deterministic(TinyCNN())`), as `torch.save(model.state_dict(), ...)` writes it.
* `tinycnn_wrapped_legacy.pth` (legacy): {"epoch": 3, "arch": "tinycnn", "model": that
  state dict with every name prefixed "module."} — a training checkpoint of a DataParallel
  model.
* `evil_zip.pth`, `evil_legacy.pth`, `evil_proto4.pth`: hand-made pickles that call
  os.system (GLOBAL 'os system' + REDUCE; the legacy one as a bare pickle; the protocol-4
  one with STACK_GLOBAL 'posix' 'system') to create the file EVIL_MARKER. Each is checked
  here with Python's own pickle to really create it (then the marker is removed).
* `authors_stats.json`: for each of the original authors' statistics files in
  ../shared/reference-data/stats (when present), what torch.load returns: length, dtype,
  the SHA-256 of the little-endian values, their float64 sum (math.fsum) and a few samples.
  The files themselves are not copied.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import math
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from deterministic import load_deterministic  # noqa: E402
from tinycnn import TinyCNN  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "test", "fixtures", "pth")
REF = os.path.join(HERE, "..", "..", "..", "shared", "reference-data", "stats")
EVIL_MARKER = "/tmp/pss-pth-evil-marker"

torch.manual_seed(0)


class FromType:
    """Pickles a tensor as newer PyTorch pickles a tensor with Python attributes:
    torch._tensor._rebuild_from_type_v2(_rebuild_tensor_v2, torch.Tensor, args, state)."""

    def __init__(self, t: torch.Tensor, state: dict) -> None:
        self.t = t
        self.state = state

    def __reduce_ex__(self, proto):
        func, args = self.t._reduce_ex_internal(proto)
        return (torch._tensor._rebuild_from_type_v2, (func, torch.Tensor, args, self.state))


class SmallNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 3)
        self.fc = nn.Linear(6, 5)


def small_checkpoint() -> dict:
    net = SmallNet()
    with torch.no_grad():
        net.bn1.running_mean.uniform_(-1, 1)
        net.bn1.running_var.uniform_(0.5, 2)
        net.bn1.num_batches_tracked.fill_(12)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.37 - 2.5
    tagged = FromType(torch.tensor([1.5, -2.25]), {"note": "a python attribute"})
    tensors = {
        "half": torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.1e-5, 5.96e-8, float("inf"), 0.1], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -3.140625, 1e-30, 3e38, 0.1], dtype=torch.bfloat16),
        "double": torch.tensor([[math.pi, -math.e], [1e-300, 1e300]], dtype=torch.float64),
        "transposed": base.t(),
        "sliced": base[1:3, 2:5],
        "expanded": torch.tensor([1.0, 2.0, 3.0]).expand(2, 3),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "base": base,
        "int64": torch.tensor([-(2**40), 0, 7, 2**53 - 1]),
        "int32": torch.tensor([-5, 2**31 - 1], dtype=torch.int32),
        "int16": torch.tensor([-300, 300], dtype=torch.int16),
        "int8": torch.tensor([-128, 127], dtype=torch.int8),
        "uint8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "param": nn.Parameter(torch.full((2, 2), 0.5)),
        "tagged": tagged,
        "channels_last": torch.arange(2 * 3 * 2 * 2, dtype=torch.float32)
        .reshape(2, 3, 2, 2)
        .contiguous(memory_format=torch.channels_last),
    }
    meta = {
        "epoch": 7,
        "name": "small ✓",
        "lr": 0.1,
        "flags": [True, False, None],
        "shape": (2, 3),
        "size": torch.Size([4, 5]),
        "nested": {"a": [1, 2, (3, "x")], "b": {"c": -1.5}},
        "big": 2**70,
        "neg": -123456789012,
        "blob": b"\x00\x01\xff",
        "dtype": torch.float16,
        "device": torch.device("cuda", 0),
    }
    return {"state_dict": net.state_dict(), "tensors": tensors, "meta": meta}


def st_dtype(t: torch.Tensor) -> str | None:
    return {
        torch.float64: "F64",
        torch.float32: "F32",
        torch.float16: "F16",
        torch.bfloat16: "BF16",
        torch.int64: "I64",
        torch.int32: "I32",
        torch.uint8: "U8",
        torch.bool: "BOOL",
    }.get(t.dtype)


def tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def export(obj, prefix: str, tensors: dict):
    """The JSON form of obj, collecting its tensors into `tensors` by path."""
    if isinstance(obj, FromType):
        obj = obj.t
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj
        return {"tensor": prefix, "dtype": str(obj.dtype), "shape": list(obj.shape)}
    if isinstance(obj, dict):
        return {str(k): export(v, f"{prefix}.{k}" if prefix else str(k), tensors) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [export(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, bytes):
        return {"bytes": list(obj)}
    if isinstance(obj, int) and not isinstance(obj, bool) and abs(obj) > 2**53:
        return {"bigint": str(obj)}
    if isinstance(obj, (torch.dtype, torch.device)):
        return str(obj)
    return obj


def write_safetensors(path: str, tensors: dict, metadata: dict) -> None:
    items = [(n, t) for n, t in tensors.items() if st_dtype(t) is not None]
    items.sort(key=lambda kv: -kv[1].element_size())
    header = {"__metadata__": metadata}
    off = 0
    blobs = []
    for name, t in items:
        b = tensor_bytes(t)
        header[name] = {"dtype": st_dtype(t), "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def save_cuda_located(obj, path: str) -> None:
    import torch.serialization as ser

    original = ser.location_tag
    ser.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(obj, path)
    finally:
        ser.location_tag = original


def evil_pickles() -> dict:
    cmd = f"touch {EVIL_MARKER}".encode()
    arg = b"X" + struct.pack("<I", len(cmd)) + cmd
    p2 = b"\x80\x02" + b"cos\nsystem\n" + arg + b"\x85R."  # GLOBAL, BINUNICODE, TUPLE1, REDUCE, STOP
    p4 = (
        b"\x80\x04"
        + b"\x8c\x05posix\x94\x8c\x06system\x94\x93\x94"  # STACK_GLOBAL posix.system
        + b"\x8c"
        + bytes([len(cmd)])
        + cmd
        + b"\x85R."
    )
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("evil/data.pkl", p2)
        z.writestr("evil/version", "3\n")
    # Python's own pickle runs them: the fixtures are really hostile.
    for p in (p2, p4):
        if os.path.exists(EVIL_MARKER):
            os.remove(EVIL_MARKER)
        pickle.loads(p)
        assert os.path.exists(EVIL_MARKER), "the evil pickle did not run"
        os.remove(EVIL_MARKER)
    return {"evil_zip.pth": zbuf.getvalue(), "evil_legacy.pth": p2, "evil_proto4.pth": p4}


def authors_reference() -> dict:
    out = {}
    if not os.path.isdir(REF):
        return out
    for name in sorted(os.listdir(REF)):
        if not name.endswith(".pth"):
            continue
        d = torch.load(os.path.join(REF, name), map_location="cpu")
        entry = {}
        for key in ("mean", "std"):
            t = d[key]
            a = t.numpy()
            idx = [0, 1, len(a) // 2, len(a) - 1]
            entry[key] = {
                "dtype": str(t.dtype),
                "length": len(a),
                "sha256": hashlib.sha256(a.astype(a.dtype.newbyteorder("<")).tobytes()).hexdigest(),
                "sum": repr(math.fsum(float(x) for x in a.astype(np.float64))),
                "samples": [[i, repr(float(a[i]))] for i in idx],
            }
        out[name] = entry
    return out


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    ckpt = small_checkpoint()
    torch.save(ckpt, os.path.join(OUT, "small.pth"))
    torch.save(ckpt, os.path.join(OUT, "small_legacy.pth"), _use_new_zipfile_serialization=False)
    save_cuda_located(ckpt, os.path.join(OUT, "small_cuda.pth"))
    # What torch.load reads back is what the safetensors export holds.
    for f in ("small.pth", "small_legacy.pth"):
        back = torch.load(os.path.join(OUT, f))
        assert torch.equal(back["tensors"]["transposed"], ckpt["tensors"]["transposed"])
        assert not back["tensors"]["transposed"].is_contiguous()
        assert torch.equal(back["tensors"]["tagged"], ckpt["tensors"]["tagged"].t)
    tensors: dict = {}
    expected = export(ckpt, "", tensors)
    write_safetensors(
        os.path.join(OUT, "small.safetensors"),
        tensors,
        {"expected": json.dumps(expected, ensure_ascii=False), "torch": torch.__version__},
    )

    model = TinyCNN()
    load_deterministic(model)
    sd = model.state_dict()
    torch.save(sd, os.path.join(OUT, "tinycnn.pth"))
    wrapped = {
        "epoch": 3,
        "arch": "tinycnn",
        "model": collections.OrderedDict((f"module.{k}", v) for k, v in sd.items()),
    }
    torch.save(wrapped, os.path.join(OUT, "tinycnn_wrapped_legacy.pth"), _use_new_zipfile_serialization=False)

    for name, data in evil_pickles().items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)

    ref = authors_reference()
    if ref:
        with open(os.path.join(OUT, "authors_stats.json"), "w") as f:
            json.dump(ref, f, indent=1)
            f.write("\n")
    sizes = {f: os.path.getsize(os.path.join(OUT, f)) for f in sorted(os.listdir(OUT))}
    print(json.dumps(sizes, indent=1), "total", sum(sizes.values()))


if __name__ == "__main__":
    main()
