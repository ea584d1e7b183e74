"""Deterministic weights and inputs shared bit-exactly with the TypeScript port.

All integer arithmetic is uint32 (masked after every multiply / xor):

    fnv1a(s): h = 0x811c9dc5; for each UTF-8 byte b: h ^= b; h = (h * 0x01000193) & M
    fmix(x):  x ^= x >> 16; x = (x * 0x85ebca6b) & M; x ^= x >> 13;
              x = (x * 0xc2b2ae35) & M; x ^= x >> 16
    u(name, i) = (fmix(fnv1a(name) ^ fmix(i)) >> 8) / 2**23 - 1     # float64 in [-1, 1)

`i` is the flat (C-order) element index of the tensor.  The value
(x >> 8) / 2**23 - 1 is exact in float64 (24-bit integer divided by a power of 2).

Parameter values (computed in float64, then cast to float32):
  rank 4 / rank 2 weight : u * sqrt(6 / fan_in), fan_in = prod(shape[1:])
  rank 1 `*.weight`      : 0.5 + 0.1 * u            (BatchNorm gamma)
  rank 3                 : 0.5 + 0.1 * u            (a per-channel scale [C, 1, 1]: ConvNeXt's layer_scale)
  `*.running_var`        : 1 + 0.5 * u
  `*.running_mean`       : 0.1 * u
  other rank 1           : 0.1 * u                  (biases, BN beta)
  `num_batches_tracked`, integer buffers : untouched
Inputs: 2 * u(NAME, i), float32.
"""

from __future__ import annotations

import math

import numpy as np

M = 0xFFFFFFFF


# ---------------------------------------------------------------- scalar reference


def fnv1a(s: str) -> int:
    h = 0x811C9DC5
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & M
    return h


def fmix(x: int) -> int:
    x &= M
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & M
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & M
    x ^= x >> 16
    return x


def u_scalar(name: str, i: int) -> float:
    return (fmix(fnv1a(name) ^ fmix(i)) >> 8) / 2.0**23 - 1.0


# ---------------------------------------------------------------- vectorised

_C1 = np.uint64(0x85EBCA6B)
_C2 = np.uint64(0xC2B2AE35)
_M64 = np.uint64(M)


def _fmix_vec(x: np.ndarray) -> np.ndarray:
    """fmix on a uint64 array holding uint32 values (products fit in 64 bits)."""
    x = x ^ (x >> np.uint64(16))
    x = (x * _C1) & _M64
    x = x ^ (x >> np.uint64(13))
    x = (x * _C2) & _M64
    x = x ^ (x >> np.uint64(16))
    return x


def u_indices(name: str, idx) -> np.ndarray:
    """u(name, i) for an array of indices (each must be in [0, 2**32))."""
    i = np.asarray(idx, dtype=np.uint64)
    if i.size and int(i.max()) > M:
        raise ValueError("index exceeds uint32")
    h = np.uint64(fnv1a(name))
    x = _fmix_vec(h ^ _fmix_vec(i))
    return (x >> np.uint64(8)).astype(np.float64) / 2.0**23 - 1.0


def u_array(name: str, shape) -> np.ndarray:
    """float64 array of u(name, i), i = flat C-order index, reshaped to `shape`."""
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    return u_indices(name, np.arange(n, dtype=np.uint64)).reshape(shape)


def param_value(name: str, shape) -> np.ndarray | None:
    """float32 value for a state_dict entry, or None if it must be left as is."""
    shape = tuple(int(s) for s in shape)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return None
    u = u_array(name, shape)
    if len(shape) in (2, 4):
        fan_in = int(np.prod(shape[1:], dtype=np.int64))
        v = u * math.sqrt(6.0 / fan_in)
    elif len(shape) == 1:
        if leaf == "running_var":
            v = 1.0 + 0.5 * u
        elif leaf == "running_mean":
            v = 0.1 * u
        elif leaf == "weight":
            v = 0.5 + 0.1 * u
        else:
            v = 0.1 * u
    elif len(shape) == 3:
        v = 0.5 + 0.1 * u
    else:
        raise ValueError(f"unsupported rank {len(shape)} for {name}")
    return v.astype(np.float32)


def input_value(name: str, shape) -> np.ndarray:
    return (2.0 * u_array(name, shape)).astype(np.float32)


def load_deterministic(model) -> None:
    """Overwrite every floating state_dict entry of `model` (in place) with the
    deterministic float32 values."""
    import torch

    sd = model.state_dict()
    new = {}
    for name, t in sd.items():
        # integer buffers (Swin's relative_position_index) are structure, not values
        v = param_value(name, t.shape) if t.is_floating_point() else None
        if v is None:
            new[name] = t
        else:
            new[name] = torch.from_numpy(v).to(t.dtype)
    model.load_state_dict(new)


if __name__ == "__main__":
    # self-check of the vectorised version against the scalar definition
    for nm in ("conv1.weight", "fc.bias", "layer1.0.conv1.weight", "input", "é"):
        idx = [0, 1, 2, 1000, 123456, 4294967295, 77777777]
        a = u_indices(nm, idx)
        b = np.array([u_scalar(nm, i) for i in idx])
        assert np.array_equal(a, b), (nm, a, b)
    print("ok", u_indices("conv1.weight", [0, 1, 2, 1000, 123456, 4294967295]).tolist())
