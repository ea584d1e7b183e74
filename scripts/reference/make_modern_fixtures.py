#!/usr/bin/env python3
"""Parity fixtures of the modern CNNs (issue 16): mobilenet_v3_small, mobilenet_v3_large,
efficientnet_b0, regnet_y_400mf, convnext_tiny, like make_fixtures.py's zoo fixtures (label
ranked 5th, float64 ground truth, float32 noise floor) but on a 64×64 input, so the
fixtures stay small and the tests fast: test/fixtures/modern/<arch>.safetensors with the
filters in every aggregation (filter, filter_abs_mean, signed), the linear neurons in every
aggregation (neuron, neuron_abs_mean, neuron_signed: --units filters+neurons), and for
convnext_tiny `--aggregation parameter` on every 997th element (parameter_index,
parameter_sub, as make_fixtures.py's resnet50). Their state dicts (names, shapes, order) are
added to test/fixtures/zoo_state_dicts.json.

    /usr/bin/python3 scripts/reference/make_modern_fixtures.py [--only mobilenet_v3_small,...] [--keep-reference | --add-reference]

--add-reference adds the references a committed fixture lacks and keeps the others bit for
bit with their noise floors (noise_floor.add_reference).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402
from noise_floor import writer  # noqa: E402

ARCHS = ["mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "regnet_y_400mf", "convnext_tiny"]
PARAMETER_ARCHS = ["convnext_tiny"]  # --aggregation parameter: every 997th element
SIZE = 64
OUT = os.path.join(mf.OUT_DIR, "modern")


def build(arch):
    return getattr(torchvision.models, arch)(weights=None)


def torchvision_weights(arch):
    """The DEFAULT ImageNet weights' URL and eval transform, from torchvision's weight enum."""
    w = torchvision.models.get_model_weights(arch).DEFAULT
    t = w.transforms()
    return {
        "weights": str(w),
        "weights_url": w.url,
        "transforms": json.dumps({"resize": t.resize_size, "crop": t.crop_size, "interpolation": t.interpolation.value,
                                  "mean": t.mean, "std": t.std}),
    }


def make(arch):
    model = build(arch)
    shape = (1, 3, SIZE, SIZE)
    x32, x64, model32 = mf.prepare(model, shape)
    with torch.no_grad():
        logits0 = model(x64)[0]
    order = torch.argsort(logits0, descending=True)
    label = int(order[4])  # class ranked 5th by the float64 logits
    labels = torch.tensor([label], dtype=torch.int64)
    res, info = mf.per_sample_saliency(model, x64, labels, want_parameter=arch in PARAMETER_ARCHS)
    meta = mf.common_meta(arch, shape, x32)
    meta.update(info)
    meta["labels"] = json.dumps([label])
    meta["label_rule"] = "class ranked 5th (index 4 of descending argsort) by float64 logits"
    meta["top5"] = json.dumps([int(i) for i in order[:5]])
    tensors = {k: res[k] for k in ("logits", "loss", "filter", "filter_abs_mean", "signed")}
    tensors["labels"] = labels.numpy()
    # the linears' neurons (--units filters+neurons): the classifier's, and ConvNeXt's MLPs on
    # channels-last pixels; none of these has attention, so --units all is the same set
    tensors.update({k: res[k] for k in ("neuron", "neuron_abs_mean", "neuron_signed")})
    if arch in PARAMETER_ARCHS:
        full = res["parameter"][0]
        idx = np.arange(0, full.shape[0], 997, dtype=np.int64)
        tensors["parameter_index"] = idx
        tensors["parameter_sub"] = full[idx][None, :]
        meta["parameter_sub"] = "parameter_sub[0, k] = parameter[0, parameter_index[k]]; index = arange(0, P, 997)"
    st = mf.stats(arch, res["logits"], res["loss"])
    meta["logits_stats"] = json.dumps({k: st[k] for k in ("min", "max", "std")})
    meta.update(torchvision_weights(arch))
    meta.update(mf.float32_floors(arch, model32, x32, labels, tensors))
    os.makedirs(OUT, exist_ok=True)
    return mf.write_reference(os.path.join(OUT, f"{arch}.safetensors"), tensors, meta)


def add_state_dicts(archs):
    """Adds (or replaces) the archs' entries of zoo_state_dicts.json, in its format."""
    path = os.path.join(mf.OUT_DIR, "zoo_state_dicts.json")
    with open(path) as f:
        out = json.load(f)
    for arch in archs:
        sd = build(arch).state_dict()
        # floating entries: integer buffers (num_batches_tracked, Swin's relative_position_index) are not weights
        out[arch] = [[k, list(v.shape)] for k, v in sd.items() if v.is_floating_point()]
    text = "{\n" + ",\n".join(f"{json.dumps(a)}: {json.dumps(v, separators=(',', ':'))}" for a, v in out.items()) + "\n}\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(ARCHS))
    ap.add_argument("--keep-reference", action="store_true")
    ap.add_argument("--add-reference", action="store_true")
    a = ap.parse_args()
    mf.write_reference = writer(mf.write_safetensors, a.keep_reference, a.add_reference)
    archs = a.only.split(",")
    for arch in archs:
        if arch not in ARCHS:
            raise SystemExit(f"unknown architecture {arch}")
        t = time.time()
        size = make(arch)
        print(f"  {arch}: {size} bytes, {time.time() - t:.1f}s", flush=True)
    add_state_dicts(archs)


if __name__ == "__main__":
    main()
