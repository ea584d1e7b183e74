"""The float32 noise floor of a reference quantity: how far PyTorch's own float32 lands from
its float64 ground truth on the same weights and input.  The parity tests scale their
tolerance by it (test/helpers/fixtures.ts), so a bound follows each fixture's conditioning
instead of one fixed number that may sit on the float32 noise of one CPU and not another.

Stored as JSON in the safetensors `__metadata__` under `noise_floor`:
  {key: {"rel": max|f32 - f64| / max|f64|, "one_minus_cos": 1 - cos(f32, f64),
         "rows": [{"rel", "one_minus_cos"}, ...]}}      # rows: per sample, batched keys only
and `noise_floor_how` says what was run.  With --keep-reference, the fixture scripts only
add the floor to the committed fixture (keep_reference below); with --add-reference
(make_modern_fixtures.py, make_transformer_fixtures.py) they add new references to it and
keep the old ones and their floors (add_reference).
"""

from __future__ import annotations

import copy
import json
import os
import platform
import struct

import numpy as np
import torch


def floor_of(f32, f64) -> dict:
    """rel = max|f32 - f64| / max|f64| and 1 - cos(f32, f64), both in float64.  A reference
    that is zero everywhere has rel 0 when float32 is zero too (and inf otherwise)."""
    a = np.asarray(f32, dtype=np.float64).ravel()
    b = np.asarray(f64, dtype=np.float64).ravel()
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = float(np.abs(b).max()) if b.size else 0.0
    diff = float(np.abs(a - b).max()) if b.size else 0.0
    rel = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    cos = float(a @ b) / (na * nb) if na > 0 and nb > 0 else (1.0 if na == nb else 0.0)
    return {"rel": float(f"{rel:.4g}"), "one_minus_cos": float(f"{max(0.0, 1.0 - cos):.4g}")}


def noise_floors(f32: dict, f64: dict, keys, batched=()) -> dict:
    """{key: floor} over `keys`; keys in `batched` also get one floor per row (sample)."""
    out = {}
    for k in keys:
        out[k] = floor_of(f32[k], f64[k])
        if k in batched:
            a, b = np.asarray(f32[k]), np.asarray(f64[k])
            out[k]["rows"] = [floor_of(a[i], b[i]) for i in range(b.shape[0])]
    return out


def float32_runs(model32):
    """Equally valid float32 evaluations of `model32` that differ only in summation order:
    yields (name, model, to_input), to_input converting the float32 input tensor.  One run
    is a single draw of float32 luck: on this fixture set ResNet-50's filter saliency landed
    5e-7 from float64 with one kernel and 7e-5 to 1.6e-4 with the others (a near-zero
    pre-activation whose ReLU or max-pool decision flips), so the floor is their maximum."""
    same = lambda x: x  # noqa: E731
    yield "oneDNN", model32, same
    with torch.backends.mkldnn.flags(enabled=False):
        yield "ATen", model32, same
    cl = copy.deepcopy(model32).to(memory_format=torch.channels_last)
    yield "channels_last", cl, lambda x: x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads > 1 else 2)
    try:
        yield f"{torch.get_num_threads()} threads", model32, same
    finally:
        torch.set_num_threads(threads)


RUNS = "oneDNN, ATen (mkldnn off), channels_last, another thread count"


def max_floors(floors: list) -> dict:
    """The per-key (and per-row) maximum of several noise_floors results."""
    out = {}
    for k in floors[0]:
        out[k] = {m: max(f[k][m] for f in floors) for m in ("rel", "one_minus_cos")}
        if "rows" in floors[0][k]:
            out[k]["rows"] = [{m: max(f[k]["rows"][i][m] for f in floors) for m in ("rel", "one_minus_cos")}
                              for i in range(len(floors[0][k]["rows"]))]
    return out


def how() -> str:
    return (f"PyTorch {torch.__version__}: the largest deviation from float64 of float32 runs "
            f"({RUNS}) on the same weights and input, {platform.machine()} {cpu_name()}")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return "unknown CPU"
    name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), [])
    width = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{name} ({width})"


def floor_metadata(floors: dict) -> dict:
    return {"noise_floor": json.dumps(floors, separators=(",", ":")), "noise_floor_how": how()}


def summary(name: str, floors: dict) -> None:
    parts = [f"{k} {v['rel']:.2e}/{v['one_minus_cos']:.1e}" for k, v in floors.items()]
    print(f"[{name}] noise floor (rel/1-cos): " + ", ".join(parts), flush=True)


# ---------------------------------------------------------------- --keep-reference

_NP = {"F64": np.float64, "F32": np.float32, "I64": np.int64, "U8": np.uint8}


def _read(path: str):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    return header, data[8 + n:]


def _stored(header: dict, body: bytes, name: str) -> np.ndarray:
    h = header[name]
    a, b = h["data_offsets"]
    return np.frombuffer(body[a:b], dtype=np.dtype(_NP[h["dtype"]]).newbyteorder("<")).reshape(h["shape"])


def _check_same(path: str, header: dict, body: bytes, tensors: dict, names) -> None:
    """Refuses when a freshly computed tensor differs from the stored one by more than another
    CPU's last bits (another model or input)."""
    for name in names:
        h = header[name]
        stored, fresh = _stored(header, body, name), np.asarray(tensors[name])
        assert stored.shape == fresh.shape, (path, name, stored.shape, fresh.shape)
        # float64: the last bits of another CPU; float32 (rounded from float64): one ulp
        tol = {"F64": 1e-12, "F32": 2.0 ** -23}.get(h["dtype"], 0.0)
        scale = float(np.abs(stored).max()) if stored.size else 0.0
        diff = float(np.abs(stored.astype(np.float64) - fresh.astype(np.float64)).max()) if stored.size else 0.0
        assert diff <= tol * scale, f"{path}: {name} differs from the stored reference by {diff / max(scale, 1e-300):.3g}"


def keep_reference(path: str, tensors: dict, metadata: dict) -> int:
    """Adds the noise floor to the fixture already at `path` and changes nothing else: its
    tensors and metadata stay byte for byte.  The float64 ground truth differs in its last
    bits between CPUs (AVX2 and AVX-512 kernels sum in different orders, about 5e-16), so a
    fixture regenerated elsewhere would not be the committed one.  Refuses when the freshly
    computed `tensors` differ from the stored ones by more than that (another model or input)."""
    header, body = _read(path)
    assert set(tensors) == set(header) - {"__metadata__"}, (path, sorted(tensors), sorted(header))
    _check_same(path, header, body, tensors, tensors)
    header["__metadata__"].update({k: metadata[k] for k in ("noise_floor", "noise_floor_how")})
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + body)
    os.replace(tmp, path)
    return os.path.getsize(path)


def add_reference(write_safetensors, path: str, tensors: dict, metadata: dict) -> int:
    """Adds to the fixture at `path` the tensors it lacks, their noise floors and the metadata
    keys it lacks; every stored tensor (bit for bit), its noise floor and every stored metadata
    value stay, so the tests' old bounds do not move.  Refuses, as keep_reference, when a fresh
    tensor the fixture has differs from the stored one."""
    header, body = _read(path)
    meta = header.pop("__metadata__")
    old = [k for k in header if k in tensors]
    assert set(old) == set(header), (path, "not recomputed:", sorted(set(header) - set(tensors)))
    _check_same(path, header, body, tensors, old)
    out = {k: _stored(header, body, k) for k in old}
    out.update({k: v for k, v in tensors.items() if k not in header})
    floors = json.loads(meta["noise_floor"])
    floors.update({k: v for k, v in json.loads(metadata["noise_floor"]).items() if k not in floors})
    merged = {**metadata, **meta, "noise_floor": json.dumps(floors, separators=(",", ":"))}
    return write_safetensors(path, out, merged)


def writer(write_safetensors, keep: bool, add: bool = False):
    """write_safetensors, or keep_reference with --keep-reference, or add_reference with
    --add-reference."""
    if add:
        return lambda path, tensors, metadata: add_reference(write_safetensors, path, tensors, metadata)
    return keep_reference if keep else write_safetensors
