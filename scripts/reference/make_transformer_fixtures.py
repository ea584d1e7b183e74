#!/usr/bin/env python3
"""Parity fixtures of the transformers of issue 16: vit_b_16, vit_b_32, swin_t (torchvision
0.14, eval mode, deterministic weights, 224×224: ViT's position embedding fixes the size).
Float64 ground truth and float32 noise floors, as make_modern_fixtures.py, of the logits, the
loss and the saliency under every unit set (DESIGN §1.3) and filter aggregation:

  filter, filter_abs_mean, signed      [1, F]  conv filters only (--units filters), float64
  units_<agg>                          [1, U]  --units filters+neurons: every conv filter and
                                               every row of each 2-D linear weight (nn.Linear's,
                                               MultiheadAttention's in_proj_weight), state_dict
                                               order, float32
  heads_<agg>                          [1, H]  the head units of --units all: each in-projection's
                                               gradient reshaped [3·heads, -1] (q heads, k
                                               heads, v heads), float32
  all_<agg>                            (not stored: units_ with each in-projection's rows
                                               replaced by its head units; its noise floor is)
  parameter_index, parameter_sub       [P/997], [1, P/997]  --aggregation parameter (|g| of
                                               every parameter element, named_parameters
                                               order) on every 997th element, as
                                               make_fixtures.py's resnet50; vit_b_16 and swin_t;
                                               float32

with <agg> filter (mean |g|), filter_abs_mean (|mean g|), signed (mean g) over a unit's weight
rows (not the bias). `unit_params` in the metadata: [[name, rows, heads]] of the unit weights.
test/fixtures/transformers/<arch>.safetensors; --what input writes
test/fixtures/transformers/input_saliency_<arch>.safetensors (vit_b_16, swin_t) as
make_modern_input_saliency.py does (filters mode; Grad-CAM at the global pool's input, and
for ViT at the last block's ln_1 output as a map of its patch tokens), --what input-all
input_saliency_<arch>_all.safetensors the same over --units all (the transformers' default;
z not stored). The state dicts are added to test/fixtures/zoo_state_dicts.json.

    /usr/bin/python3 scripts/reference/make_transformer_fixtures.py [--only vit_b_32,...] [--what units,input,input-all] [--keep-reference | --add-reference]

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
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402
import make_modern_fixtures as mmf  # noqa: E402
import make_modern_input_saliency as mis  # noqa: E402
from units import unit_params  # noqa: E402
from noise_floor import float32_runs, floor_metadata, max_floors, noise_floors, summary, writer  # noqa: E402

ARCHS = ["vit_b_16", "vit_b_32", "swin_t"]
INPUT_ARCHS = ["vit_b_16", "swin_t"]
PARAMETER_ARCHS = ["vit_b_16", "swin_t"]  # --aggregation parameter: every 997th element
SIZE = 224
OUT = os.path.join(mf.OUT_DIR, "transformers")
AGGS = {
    "filter": lambda r: r.abs().mean(1),
    "filter_abs_mean": lambda r: r.mean(1).abs(),
    "signed": lambda r: r.mean(1),
}


def unit_vector(units, grads, agg, unit_set):
    """One sample's saliency over `unit_set` (filters, filters+neurons, all) from the unit
    weights' gradients, in `units` order."""
    parts = []
    for n, h in units:
        g = grads[n]
        if unit_set == "filters" and g.dim() != 4:
            continue
        parts.append(AGGS[agg](g.reshape(3 * h if unit_set == "all" and h else g.shape[0], -1)))
    return torch.cat(parts)


def parameter_index(model):
    """Every 997th element of the concatenated parameters (make_fixtures.py's subsample)."""
    return np.arange(0, sum(p.numel() for p in model.parameters()), 997, dtype=np.int64)


def saliency(model, x, label, with_parameter=False):
    """Logits, loss and every saliency vector of one sample (numpy float64, rows [1, ...]);
    with_parameter: also parameter_sub, |g| of every parameter element at parameter_index."""
    units = unit_params(model)
    params = dict(model.named_parameters())
    logits = model(x)
    loss = F.cross_entropy(logits, torch.tensor([label]))
    wrt = list(params) if with_parameter else [n for n, _ in units]
    grads = dict(zip(wrt, torch.autograd.grad(loss, [params[n] for n in wrt])))
    out = {"logits": logits.detach(), "loss": loss.detach()[None]}
    if with_parameter:
        flat = torch.cat([g.abs().flatten() for g in grads.values()])
        out["parameter_sub"] = flat[torch.from_numpy(parameter_index(model))]
    for agg, f in AGGS.items():
        out[agg] = unit_vector(units, grads, agg, "filters")
        out[f"units_{agg}"] = unit_vector(units, grads, agg, "filters+neurons")
        out[f"heads_{agg}"] = torch.cat([f(grads[n].reshape(3 * h, -1)) for n, h in units if h])
        out[f"all_{agg}"] = unit_vector(units, grads, agg, "all")
    return {k: v.reshape(1, -1).numpy().astype(np.float64) for k, v in out.items()}


def make(arch):
    model = getattr(torchvision.models, arch)(weights=None)
    shape = (1, 3, SIZE, SIZE)
    x32, x64, model32 = mf.prepare(model, shape)
    with torch.no_grad():
        order = torch.argsort(model(x64)[0], descending=True)
    label = int(order[4])  # class ranked 5th by the float64 logits
    with_parameter = arch in PARAMETER_ARCHS
    ref = saliency(model, x64, label, with_parameter)
    runs = []
    for _, m32, to_input in float32_runs(model32):
        runs.append(noise_floors(saliency(m32, to_input(torch.from_numpy(x32)), label, with_parameter), ref, list(ref)))
    floors = max_floors(runs)
    summary(arch, floors)
    units = unit_params(model)
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    meta = mf.common_meta(arch, shape, x32)
    meta.update({
        "labels": json.dumps([label]),
        "label_rule": "class ranked 5th (index 4 of descending argsort) by float64 logits",
        "top5": json.dumps([int(i) for i in order[:5]]),
        "param_names": json.dumps([[n, int(p.numel())] for n, p in model.named_parameters()]),
        "conv_layers": json.dumps([[n, shapes[n][0]] for n, _ in units if len(shapes[n]) == 4]),
        "num_filters": str(sum(shapes[n][0] for n, _ in units if len(shapes[n]) == 4)),
        "unit_params": json.dumps([[n, shapes[n][0], h] for n, h in units]),
        "unit_modes": "units_=filters+neurons (rows of every unit weight); heads_=in-projections as "
                      "[3*heads, -1] (q, k, v heads); all_=units_ with in-projection rows replaced by heads_",
        **mmf.torchvision_weights(arch),
        **floor_metadata(floors),
    })
    st = mf.stats(arch, ref["logits"], ref["loss"])
    meta["logits_stats"] = json.dumps({k: st[k] for k in ("min", "max", "std")})
    tensors = {k: ref[k] for k in ("logits", "loss", "filter", "filter_abs_mean", "signed")}
    tensors.update({k: v.astype(np.float32) for k, v in ref.items() if k.startswith(("units_", "heads_", "parameter_"))})
    tensors["labels"] = np.array([label], dtype=np.int64)
    if with_parameter:
        tensors["parameter_index"] = parameter_index(model)
        meta["parameter_sub"] = "parameter_sub[0, k] = parameter[0, parameter_index[k]]; index = arange(0, P, 997)"
    os.makedirs(OUT, exist_ok=True)
    return mf.write_reference(os.path.join(OUT, f"{arch}.safetensors"), tensors, meta)


def grid(tokens):
    """ViT's patch tokens [1, 1 + g², C] as a [1, C, g, g] map (pss's Grad-CAM layer)."""
    c, n = tokens.shape[2], tokens.shape[1] - 1
    g = int(round(n**0.5))
    return tokens[:, 1:].transpose(1, 2).reshape(1, c, g, g)


def input_maps(model, x, label, mu, sigma, unit_set):
    """make_modern_input_saliency.saliency_maps over the units of `unit_set`: M = d/dx cos(z,
    s') by double backprop, z, cos, and Grad-CAM at the global pool's input, or for ViT (no
    pool) at the last encoder block's ln_1 output as a [C, g, g] map of its patch tokens
    (where pytorch-grad-cam takes ViT's)."""
    x = x.clone().requires_grad_()
    params = dict(model.named_parameters())
    units = [(n, h) for n, h in unit_params(model) if unit_set != "filters" or params[n].dim() == 4]
    acts = {}
    if hasattr(model, "encoder"):
        view = grid
        hook = model.encoder.layers[-1].ln_1.register_forward_hook(lambda m, i, o: acts.__setitem__("a", o))
    else:
        view = lambda t: t  # noqa: E731
        hook = model.avgpool.register_forward_pre_hook(lambda m, i: acts.__setitem__("a", i[0]))
    try:
        logits = model(x)
    finally:
        hook.remove()
    loss = F.cross_entropy(logits, torch.tensor([label]))
    grads = dict(zip([n for n, _ in units], torch.autograd.grad(loss, [params[n] for n, _ in units], create_graph=True)))
    s = unit_vector(units, grads, "filter", unit_set)
    z = (s - mu) / sigma
    top = torch.argsort(z, descending=True)[: mis.K]
    target = z.detach().clone()
    target[top] *= mis.BOOST
    cos = F.cosine_similarity(z[None], target[None])
    (m,) = torch.autograd.grad(cos, x, retain_graph=True)
    out = {"input_gradient": m[0], "z": z, "top": top, "cos": cos}
    pred = int(logits.argmax())
    a = acts["a"]
    for name, cls in (("pred", pred), ("true", label)):
        (ga,) = torch.autograd.grad(logits[0, cls], a, retain_graph=True)
        out[f"gradcam_{name}"] = torch.relu((view(ga).mean((2, 3), keepdim=True) * view(a)).sum(1))[0]
    return {k: v.detach().numpy() for k, v in out.items()}, pred


def make_input(arch, write, unit_set):
    """input_saliency_<arch>.safetensors (filters) or input_saliency_<arch>_all.safetensors
    (--units all, the transformers' default; without z, whose parity the units fixtures show)."""
    model = getattr(torchvision.models, arch)(weights=None)
    x32, x64, model32 = mf.prepare(model, (1, 3, SIZE, SIZE))
    with torch.no_grad():
        label = int(torch.argsort(model(x64)[0], descending=True)[4])  # ranked 5th
    shapes = {n: p.shape for n, p in model.named_parameters()}
    n = sum(3 * h if unit_set == "all" and h else shapes[p][0]
            for p, h in unit_params(model) if unit_set != "filters" or len(shapes[p]) == 4)
    mu, sigma = mis.deterministic_stats(n)
    keys = mis.KEYS
    ref, pred = input_maps(model, x64, label, mu, sigma, unit_set)
    runs = []
    for _, m32, to_input in float32_runs(model32):
        f32, pred32 = input_maps(m32, to_input(torch.from_numpy(x32)), label, mu.float(), sigma.float(), unit_set)
        assert (f32["top"] == ref["top"]).all() and pred32 == pred, (f32["top"], ref["top"], pred32, pred)
        runs.append(noise_floors(f32, ref, keys))
    floors = max_floors(runs)
    suffix = "" if unit_set == "filters" else "_all"
    summary(f"input_saliency_{arch}{suffix}", floors)
    stored = [k for k in keys if k != "cos" and (k != "z" or unit_set == "filters")]
    tensors = {k: ref[k].astype(np.float32) for k in stored}
    os.makedirs(OUT, exist_ok=True)
    write(
        os.path.join(OUT, f"input_saliency_{arch}{suffix}.safetensors"),
        {**tensors, "top": ref["top"].astype(np.int64), "cos": ref["cos"]},
        {"arch": arch, "label": str(label), "predicted": str(pred), "k": str(mis.K), "boost": str(mis.BOOST),
         "input_shape": f"[1, 3, {SIZE}, {SIZE}]", "units": unit_set, "num_units": str(n), **floor_metadata(floors)},
    )
    print(arch, unit_set, "label", label, "cos", float(ref["cos"]), "top", ref["top"].tolist()[:5], "pred", pred, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(ARCHS))
    ap.add_argument("--what", default="units,input,input-all")
    ap.add_argument("--keep-reference", action="store_true")
    ap.add_argument("--add-reference", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    write = writer(mf.write_safetensors, a.keep_reference, a.add_reference)
    mf.write_reference = write
    archs = a.only.split(",")
    for arch in archs:
        if arch not in ARCHS:
            raise SystemExit(f"unknown architecture {arch}")
        for what in a.what.split(","):
            t = time.time()
            if what == "units":
                print(f"  {arch}: {make(arch)} bytes, {time.time() - t:.1f}s", flush=True)
            elif what in ("input", "input-all") and arch in INPUT_ARCHS:
                make_input(arch, write, "filters" if what == "input" else "all")
                print(f"  {what} {arch}: {time.time() - t:.1f}s", flush=True)
    if "units" in a.what.split(","):
        mmf.add_state_dicts(archs)


if __name__ == "__main__":
    main()
