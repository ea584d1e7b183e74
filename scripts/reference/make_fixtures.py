#!/usr/bin/env python3
"""Write the PyTorch ground-truth fixtures to test/fixtures/*.safetensors.

    python3 scripts/reference/make_fixtures.py [--only tinycnn,resnet18,resnet50,check]
    python3 scripts/reference/make_fixtures.py --only vgg19,densenet121,inception_v3,mobilenet_v2,zoo
    python3 scripts/reference/make_fixtures.py --keep-reference   # only (re)measure the noise floors

(no --only: all of them; `zoo` is test/fixtures/zoo_state_dicts.json, names and shapes only)

Weights/inputs come from deterministic.py (float32), the ground truth is computed in
float64 (model.double(), eval mode).  Each sample's loss is
F.cross_entropy(logits_b[None], label_b[None]) and its gradient w.r.t. every parameter
gives the saliency:
  filter          = |g|.mean(1,2,3)      per output channel of every 4-D parameter
  filter_abs_mean = |g.mean(1,2,3)|
  signed          = g.mean(1,2,3)
  parameter       = |g|.flatten() of every parameter (named_parameters order), concatenated
  neuron          = |g|.mean(1)          per output row of every 2-D parameter (linear neurons)
  neuron_abs_mean = |g.mean(1)|,  neuron_signed = g.mean(1)   (the other two aggregations)
The same run in float32 (the float32 weights and input as they are) gives every stored
quantity's noise floor, `noise_floor` in the metadata (noise_floor.py).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import deterministic as det  # noqa: E402
from noise_floor import float32_runs, floor_metadata, max_floors, noise_floors, summary, writer  # noqa: E402
from tinycnn import TinyCNN  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")

_DTYPES = {
    np.dtype("float64"): "F64",
    np.dtype("float32"): "F32",
    np.dtype("int64"): "I64",
}


# ---------------------------------------------------------------- safetensors writer


def write_safetensors(path: str, tensors: dict, metadata: dict) -> int:
    """Hand-written safetensors writer.  8-byte tensors are laid out first so every
    tensor is naturally aligned (the header is padded to a multiple of 8)."""
    items = []
    for name, arr in tensors.items():
        a = np.ascontiguousarray(np.asarray(arr))
        if a.dtype not in _DTYPES:
            raise TypeError(f"{name}: unsupported dtype {a.dtype}")
        items.append((name, a.astype(a.dtype.newbyteorder("<"), copy=False)))
    items.sort(key=lambda kv: -kv[1].dtype.itemsize)  # stable: keeps insertion order
    header: dict = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    off = 0
    for name, a in items:
        n = a.nbytes
        header[name] = {"dtype": _DTYPES[a.dtype.newbyteorder("=")], "shape": list(a.shape),
                        "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, a in items:
            f.write(a.tobytes(order="C"))
    return os.path.getsize(path)


# The model fixtures' writer: write_safetensors, or with --keep-reference
# noise_floor.keep_reference (the committed tensors stay; only the noise floor is added).
write_reference = write_safetensors


# ---------------------------------------------------------------- saliency


def per_sample_saliency(model, x64: torch.Tensor, labels: torch.Tensor, want_parameter: bool, filters=None):
    """model: float64, eval.  Returns dict of float64 numpy arrays.  The filters are the
    output channels of the 4-D parameters, or of the parameters named in `filters` (a conv
    weight of any rank: the mean is over every axis but the first)."""
    names = [n for n, _ in model.named_parameters()]
    params = [p for _, p in model.named_parameters()]
    conv_idx = [i for i, p in enumerate(params) if (p.dim() == 4 if filters is None else names[i] in filters)]
    linear_idx = [i for i, p in enumerate(params) if p.dim() == 2]
    out = {"logits": [], "loss": [], "filter": [], "filter_abs_mean": [], "signed": []}
    if linear_idx:
        out.update(neuron=[], neuron_abs_mean=[], neuron_signed=[])
    if want_parameter:
        out["parameter"] = []
    for b in range(x64.shape[0]):
        logits = model(x64[b : b + 1])
        loss = F.cross_entropy(logits, labels[b : b + 1])
        # unused parameters (inception_v3's AuxLogits in eval mode) get zero gradients
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]
        out["logits"].append(logits.detach()[0])
        out["loss"].append(loss.detach())
        gc = [grads[i] for i in conv_idx]
        dims = [tuple(range(1, g.dim())) for g in gc]  # (1, 2, 3) for a Conv2d
        out["filter"].append(torch.cat([g.abs().mean(dim=d) for g, d in zip(gc, dims)]))
        out["filter_abs_mean"].append(torch.cat([g.mean(dim=d).abs() for g, d in zip(gc, dims)]))
        out["signed"].append(torch.cat([g.mean(dim=d) for g, d in zip(gc, dims)]))
        if linear_idx:
            out["neuron"].append(torch.cat([grads[i].abs().mean(dim=1) for i in linear_idx]))
            out["neuron_abs_mean"].append(torch.cat([grads[i].mean(dim=1).abs() for i in linear_idx]))
            out["neuron_signed"].append(torch.cat([grads[i].mean(dim=1) for i in linear_idx]))
        if want_parameter:
            out["parameter"].append(torch.cat([g.abs().flatten() for g in grads]))
    res = {k: torch.stack(v).numpy().astype(np.float64) for k, v in out.items()}
    info = {
        "param_names": json.dumps([[n, int(p.numel())] for n, p in zip(names, params)]),
        "conv_layers": json.dumps([[names[i], int(params[i].shape[0])] for i in conv_idx]),
        "num_filters": str(sum(int(params[i].shape[0]) for i in conv_idx)),
        "num_params": str(sum(int(p.numel()) for p in params)),
    }
    return res, info


def prepare(model, input_shape, name="input"):
    """Loads the deterministic weights; returns the float32 input, the float64 input and a
    float32 copy of the model (for the noise floor), and turns `model` into float64."""
    det.load_deterministic(model)
    model.eval()
    x32 = det.input_value(name, input_shape)
    model32 = copy.deepcopy(model)
    model.double()
    return x32, torch.from_numpy(x32.astype(np.float64)), model32


def float32_floors(name, model32, x32, labels, tensors64, batched=False, filters=None):
    """Reruns the saliency of `tensors64` in float32 (the float32 model and input, every run
    of noise_floor.float32_runs; `filters` as per_sample_saliency's); returns the noise-floor
    metadata of every float64 tensor."""
    want_parameter = "parameter" in tensors64 or "parameter_sub" in tensors64
    keys = [k for k, v in tensors64.items() if np.asarray(v).dtype == np.float64]
    runs = []
    for _, model, to_input in float32_runs(model32):
        res32, _ = per_sample_saliency(model, to_input(torch.from_numpy(x32)), labels, want_parameter, filters)
        if "parameter_sub" in tensors64:
            res32["parameter_sub"] = res32["parameter"][:, tensors64["parameter_index"]]
        runs.append(noise_floors(res32, tensors64, keys, batched=keys if batched else ()))
    floors = max_floors(runs)
    summary(name, floors)
    return floor_metadata(floors)


def common_meta(arch, input_shape, x32):
    return {
        "format": "pss-reference-v1",
        "arch": arch,
        "input_name": "input",
        "input_shape": json.dumps(list(input_shape)),
        # exactly-rounded float64 sum of the float32 input values (math.fsum)
        "input_sum": repr(math.fsum(x32.astype(np.float64).ravel().tolist())),
        "input_abs_sum": repr(math.fsum(np.abs(x32.astype(np.float64)).ravel().tolist())),
        "dtype": "float64 ground truth from float32 deterministic weights",
        "torch_version": torch.__version__,
        "loss": "per-sample F.cross_entropy(logits_b[None], label_b[None])",
        "filter_modes": "filter=|g|.mean(1,2,3); filter_abs_mean=|g.mean(1,2,3)|; signed=g.mean(1,2,3); over 4-D params",
    }


def stats(name, logits, loss):
    lg = np.asarray(logits)
    s = {"min": float(lg.min()), "max": float(lg.max()), "std": float(lg.std()),
         "loss": [float(v) for v in np.asarray(loss).ravel()],
         "nan": bool(np.isnan(lg).any()), "absurd": bool(np.isnan(lg).any() or np.abs(lg).max() > 1e4)}
    print(f"[{name}] logits min={s['min']:.6g} max={s['max']:.6g} std={s['std']:.6g} "
          f"loss={s['loss']} absurd={s['absurd']}", flush=True)
    return s


# ---------------------------------------------------------------- fixtures


def make_tinycnn():
    torch.manual_seed(0)  # irrelevant (all values overwritten) but keeps construction stable
    model = TinyCNN()
    shape = (3, 3, 29, 29)
    x32, x64, model32 = prepare(model, shape)
    labels = torch.tensor([3, 7, 1], dtype=torch.int64)
    res, info = per_sample_saliency(model, x64, labels, want_parameter=True)
    # cross-check: batched forward gives the same logits
    with torch.no_grad():
        lb = model(x64).numpy()
    assert np.allclose(lb, res["logits"], rtol=1e-12, atol=1e-12)
    meta = common_meta("tinycnn", shape, x32)
    meta.update(info)
    meta["labels"] = json.dumps(labels.tolist())
    tensors = {
        "labels": labels.numpy(),
        "logits": res["logits"],
        "loss": res["loss"],
        "filter": res["filter"],
        "filter_abs_mean": res["filter_abs_mean"],
        "signed": res["signed"],
        "parameter": res["parameter"],
        "input": x32,
    }
    meta.update(float32_floors("tinycnn", model32, x32, labels, tensors, batched=True))
    size = write_reference(os.path.join(OUT_DIR, "tinycnn.safetensors"), tensors, meta)
    stats("tinycnn", res["logits"], res["loss"])
    return size


def make_resnet(arch: str, with_parameter: bool):
    import torchvision

    model = getattr(torchvision.models, arch)(weights=None)
    shape = (1, 3, 224, 224)
    x32, x64, model32 = prepare(model, shape)
    with torch.no_grad():
        logits0 = model(x64)[0]
    order = torch.argsort(logits0, descending=True)
    label = int(order[4])  # class ranked 5th by the float64 logits
    labels = torch.tensor([label], dtype=torch.int64)
    res, info = per_sample_saliency(model, x64, labels, want_parameter=with_parameter)
    meta = common_meta(arch, shape, x32)
    meta.update(info)
    meta["labels"] = json.dumps([label])
    meta["label_rule"] = "class ranked 5th (index 4 of descending argsort) by float64 logits"
    meta["top5"] = json.dumps([int(i) for i in order[:5]])
    tensors = {
        "labels": labels.numpy(),
        "logits": res["logits"],
        "loss": res["loss"],
        "filter": res["filter"],
        "filter_abs_mean": res["filter_abs_mean"],
        "signed": res["signed"],
    }
    if arch == "resnet18":  # the fc's neurons (--units filters+neurons)
        tensors["neuron"] = res["neuron"]
    if with_parameter:
        full = res["parameter"][0]
        idx = np.arange(0, full.shape[0], 997, dtype=np.int64)
        tensors["parameter_index"] = idx
        tensors["parameter_sub"] = full[idx][None, :]
        meta["parameter_sub"] = "parameter_sub[0, k] = parameter[0, parameter_index[k]]; index = arange(0, P, 997)"
    st = stats(arch, res["logits"], res["loss"])
    meta["logits_stats"] = json.dumps({k: st[k] for k in ("min", "max", "std")})
    meta.update(float32_floors(arch, model32, x32, labels, tensors))
    return write_reference(os.path.join(OUT_DIR, f"{arch}.safetensors"), tensors, meta)


# Constructor arguments of the architectures pss builds: inception_v3 as torchvision builds
# it for its ImageNet weights (weights=None alone would give transform_input=False).
ZOO_KWARGS = {"inception_v3": {"aux_logits": True, "transform_input": True, "init_weights": False}}
ZOO_SIZE = {"inception_v3": 299}


def torchvision_model(arch: str):
    import torchvision

    if arch == "tinycnn":
        return TinyCNN()
    if arch == "fashion-cnn":
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "train"))
        from fashion_cnn import FashionCNN

        return FashionCNN()
    return getattr(torchvision.models, arch)(weights=None, **ZOO_KWARGS.get(arch, {}))


def make_zoo_model(arch: str):
    """Like make_resnet (filter modes only, no parameter mode) for any torchvision model."""
    model = torchvision_model(arch)
    size = ZOO_SIZE.get(arch, 224)
    shape = (1, 3, size, size)
    x32, x64, model32 = prepare(model, shape)
    with torch.no_grad():
        logits0 = model(x64)[0]
    order = torch.argsort(logits0, descending=True)
    label = int(order[4])  # class ranked 5th by the float64 logits
    labels = torch.tensor([label], dtype=torch.int64)
    res, info = per_sample_saliency(model, x64, labels, want_parameter=False)
    meta = common_meta(arch, shape, x32)
    meta.update(info)
    meta["labels"] = json.dumps([label])
    meta["label_rule"] = "class ranked 5th (index 4 of descending argsort) by float64 logits"
    meta["top5"] = json.dumps([int(i) for i in order[:5]])
    if arch in ZOO_KWARGS:
        meta["constructor_kwargs"] = json.dumps(ZOO_KWARGS[arch])
    tensors = {k: res[k] for k in ("logits", "loss", "filter", "filter_abs_mean", "signed")}
    tensors["labels"] = labels.numpy()
    st = stats(arch, res["logits"], res["loss"])
    meta["logits_stats"] = json.dumps({k: st[k] for k in ("min", "max", "std")})
    meta.update(float32_floors(arch, model32, x32, labels, tensors))
    return write_reference(os.path.join(OUT_DIR, f"{arch}.safetensors"), tensors, meta)


# Every architecture pss registers (src/models/zoo.ts).
ZOO = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
       "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
       "densenet121", "densenet161", "densenet169", "densenet201",
       "inception_v3", "mobilenet_v2", "tinycnn", "fashion-cnn"]


def make_zoo_state_dicts():
    """test/fixtures/zoo_state_dicts.json: {arch: [[name, shape], ...]} in state_dict order,
    without num_batches_tracked (names and shapes only; no model is run)."""
    out = {}
    for arch in ZOO:
        sd = torchvision_model(arch).state_dict()
        out[arch] = [[k, list(v.shape)] for k, v in sd.items() if not k.endswith("num_batches_tracked")]
    path = os.path.join(OUT_DIR, "zoo_state_dicts.json")
    text = "{\n" + ",\n".join(f"{json.dumps(a)}: {json.dumps(v, separators=(',', ':'))}" for a, v in out.items()) + "\n}\n"
    with open(path, "w") as f:
        f.write(text)
    return os.path.getsize(path)


def make_check():
    idx = [0, 1, 2, 1000, 123456, 4294967295]
    us = det.u_indices("conv1.weight", idx)
    assert all(us[k] == det.u_scalar("conv1.weight", i) for k, i in enumerate(idx))
    sd = TinyCNN().state_dict()
    rv = det.param_value("bn1.running_var", sd["bn1.running_var"].shape)
    fw = det.param_value("fc.weight", sd["fc.weight"].shape)
    meta = {
        "format": "pss-reference-v1",
        "u_sample_name": "conv1.weight",
        "u_sample_index": json.dumps(idx),
        "fnv1a_conv1.weight": str(det.fnv1a("conv1.weight")),
        "fmix_values": json.dumps({str(i): det.fmix(i) for i in idx}),
    }
    tensors = {"u_sample": us, "u_sample_index": np.array(idx, dtype=np.int64),
               "bn1.running_var": rv, "fc.weight": fw}
    return write_safetensors(os.path.join(OUT_DIR, "deterministic_check.safetensors"), tensors, meta)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="check,tinycnn,resnet18,resnet50,vgg19,densenet121,inception_v3,mobilenet_v2,zoo")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--keep-reference", action="store_true",
                    help="keep the fixtures' tensors and metadata, only add the noise floor")
    a = ap.parse_args()
    global write_reference
    write_reference = writer(write_safetensors, a.keep_reference)
    if a.threads:
        torch.set_num_threads(a.threads)
    todo = a.only.split(",")
    sizes = {}
    for what in todo:
        t = time.time()
        if what == "check":
            sizes["deterministic_check"] = make_check()
        elif what == "tinycnn":
            sizes["tinycnn"] = make_tinycnn()
        elif what == "resnet18":
            sizes["resnet18"] = make_resnet("resnet18", with_parameter=False)
        elif what == "resnet50":
            sizes["resnet50"] = make_resnet("resnet50", with_parameter=True)
        elif what in ("vgg19", "densenet121", "inception_v3", "mobilenet_v2"):
            sizes[what] = make_zoo_model(what)
        elif what == "zoo":
            sizes["zoo_state_dicts.json"] = make_zoo_state_dicts()
        else:
            raise SystemExit(f"unknown fixture {what}")
        print(f"  {what}: {time.time() - t:.1f}s", flush=True)
    for k, v in sizes.items():
        print(f"{k if '.' in k else k + '.safetensors'} {v} bytes")
    total = sum(os.path.getsize(os.path.join(OUT_DIR, f)) for f in os.listdir(OUT_DIR)
                if f.endswith(".safetensors"))
    print(f"total test/fixtures/*.safetensors: {total} bytes")


if __name__ == "__main__":
    main()
