#!/usr/bin/env python3
"""The ONNX parity suite's fixtures: torchvision's classification families (onnx_families.py)
exported by torch.onnx at opsets 9, 13 and 17 with deterministic weights, stored as weightless
skeletons, with their PyTorch float64 reference.

    /usr/bin/python3 scripts/reference/make_onnx_families.py [FAMILY ...]     # all three steps
    /usr/bin/python3 scripts/reference/make_onnx_families.py export [FAMILY ...]
    npx tsx scripts/reference/strip-onnx.ts --params OUT/F.params.json OUT/F-opN.onnx test/fixtures/onnx/F-opN.skeleton.onnx.gz
    /usr/bin/python3 scripts/reference/make_onnx_families.py reference [FAMILY ...]
    /usr/bin/python3 scripts/reference/make_onnx_families.py dynamic   # MobileNetV3, opset 9, dynamic H and W, Softmax

1. export: OUT/F-opN.onnx (torch.onnx.export in eval mode, dynamic batch, as users run it; it
   folds every Conv-BN pair) and OUT/F.params.json (each floating state_dict entry's
   deterministic rule, the Conv-BN pairs it may fold, Swin's relative-position tables).
2. strip (strip-onnx.ts): every initializer gets a recipe checked against its data (a parameter,
   its transpose, a folded conv weight or bias, a relative-position bias) and loses its data;
   small constants keep theirs. Writes OUT/F-opN.folds.json, the pairs the export folded.
3. reference: the model folded as the export folded it (onnx_families.fold, the formula the
   skeleton rebuilds, so the weights are the ONNX file's bit for bit), in float64: logits, loss
   and filter saliency (|grad|.mean(1,2,3) per conv output channel, named_parameters order;
   `conv_layers`), the label being the class ranked 5th; for the families marked so, also the
   second-order input gradient of explain (make_input_saliency_fixture.py's definition, its
   deterministic statistics), z, the top-10 and cos. Noise floors as every fixture
   (noise_floor.py). Writes test/fixtures/onnx/F.safetensors.

OUT is /tmp/pss-onnx-families (PSS_ONNX_OUT overrides). make_onnx_patterns.py runs the same steps
(main) on the custom modules of onnx_patterns.py. The filters are the weights of the modules
exported as Conv (onnx_families.filter_params: the 4-D parameters of every family).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import deterministic as det  # noqa: E402
from make_fixtures import common_meta, float32_floors, per_sample_saliency, stats, write_safetensors  # noqa: E402
from noise_floor import float32_runs, floor_metadata, max_floors, noise_floors, summary  # noqa: E402
from onnx_families import (  # noqa: E402
    FAMILIES, filter_params, fold, fold_candidates, load_deterministic_all, relpos_tables)

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


@dataclass(frozen=True)
class Suite:
    """A list of Cases (onnx_families.py, onnx_patterns.py), where its skeletons and references
    go, and where its exports go (PSS_ONNX_OUT overrides)."""

    cases: dict
    fixtures: str
    out: str


FAMILY_SUITE = Suite(FAMILIES, os.path.join(ROOT, "test", "fixtures", "onnx"),
                     os.environ.get("PSS_ONNX_OUT", "/tmp/pss-onnx-families"))
K, BOOST = 10, 100.0
torch.set_num_threads(2)
warnings.filterwarnings("ignore")


def deterministic_stats(n):
    """make_input_saliency_fixture.py's statistics (copied: importing it runs its fixtures)."""
    mu = 1e-3 * (det.u_array("stats-mean", (n,)) + 1)
    sigma = 1e-3 * (det.u_array("stats-std", (n,)) + 1.5)
    return (torch.from_numpy(mu.astype(np.float32).astype(np.float64)),
            torch.from_numpy(sigma.astype(np.float32).astype(np.float64)))


def build(suite, name):
    case = suite.cases[name]
    torch.manual_seed(0)  # irrelevant (all values overwritten) but keeps construction stable
    model = case.ctor()
    table = load_deterministic_all(model)
    return model.eval(), table, case


def export(suite, name):
    model, table, case = build(suite, name)
    os.makedirs(suite.out, exist_ok=True)
    with open(os.path.join(suite.out, f"{name}.params.json"), "w") as f:
        json.dump({"params": table, "folds": fold_candidates(model), "relpos": relpos_tables(model)}, f)
    x = torch.from_numpy(det.input_value("input", case.shape))
    for opset in case.opsets:
        path = os.path.join(suite.out, f"{name}-op{opset}.onnx")
        torch.onnx.export(
            model, x, path, opset_version=opset, training=torch.onnx.TrainingMode.EVAL,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, **case.export,
        )
        print(f"[{name}] wrote {path} ({os.path.getsize(path) >> 20} MB)", flush=True)


def export_dynamic(name="mobilenet_v3_small", opset=9):
    """The issue's case as users bring it (a paddle2onnx MobileNetV3: opset 9, dynamic height and
    width, a Softmax output): OUT/F-op9-dynamic.onnx; its skeleton is stripped as the others."""
    suite = FAMILY_SUITE
    model, _, case = build(suite, name)
    logits = model.forward
    model.forward = lambda x: torch.softmax(logits(x), 1)  # traced as the module's forward
    x = torch.from_numpy(det.input_value("input", case.shape))
    path = os.path.join(suite.out, f"{name}-op{opset}-dynamic.onnx")
    torch.onnx.export(
        model, x, path, opset_version=opset, training=torch.onnx.TrainingMode.EVAL,
        input_names=["input"], output_names=["probabilities"],
        dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "probabilities": {0: "batch"}},
    )
    dst = os.path.join(suite.fixtures, f"{name}-op{opset}-dynamic.skeleton.onnx.gz")
    subprocess.run(["npx", "tsx", os.path.join(HERE, "strip-onnx.ts"), "--params",
                    os.path.join(suite.out, f"{name}.params.json"), path, dst], check=True, cwd=ROOT)


def strip(suite, name):
    os.makedirs(suite.fixtures, exist_ok=True)
    for opset in suite.cases[name].opsets:
        src = os.path.join(suite.out, f"{name}-op{opset}.onnx")
        dst = os.path.join(suite.fixtures, f"{name}-op{opset}.skeleton.onnx.gz")
        subprocess.run(["npx", "tsx", os.path.join(HERE, "strip-onnx.ts"), "--params",
                        os.path.join(suite.out, f"{name}.params.json"), src, dst], check=True, cwd=ROOT)


def used_folds(suite, name, opsets):
    """The Conv-BN pairs the exports folded: the same at every opset."""
    folds = None
    for opset in opsets:
        with open(os.path.join(suite.out, f"{name}-op{opset}.folds.json")) as f:
            these = json.load(f)
        assert folds is None or these == folds, f"{name}: opset {opset} folds other pairs"
        folds = these
    return folds


def input_gradient(model, x, label, mu, sigma, filters):
    """explain's quantities (DESIGN §1 step 6): M = d/dx cos(z(x), s'), z, the top k, cos."""
    x = x.clone().requires_grad_()
    convs = [p for n, p in model.named_parameters() if n in filters]
    logits = model(x)
    loss = F.cross_entropy(logits, torch.tensor([label]))
    grads = torch.autograd.grad(loss, convs, create_graph=True)
    s = torch.cat([g.abs().mean(tuple(range(1, g.dim()))) for g in grads])
    z = (s - mu) / sigma
    top = torch.argsort(z, descending=True)[:K]
    target = z.detach().clone()
    target[top] *= BOOST
    cos = F.cosine_similarity(z[None], target[None])
    (m,) = torch.autograd.grad(cos, x)
    return {"input_gradient": m[0].detach().numpy(), "z": z.detach().numpy(), "top": top.numpy(),
            "cos": cos.detach().numpy()}, int(logits.argmax())


class Hardsigmoid(torch.nn.Module):
    """clamp(x + 3, 0, 6) / 6: nn.Hardsigmoid's values and first derivative off the kinks, with
    the second derivative PyTorch 1.13 lacks (hardsigmoid_backward has none)."""

    def forward(self, x):
        return torch.clamp(x + 3, 0, 6) / 6


class Hardswish(Hardsigmoid):
    def forward(self, x):
        return x * super().forward(x)


def twice_differentiable(model):
    """MobileNetV3's hard activations in forms PyTorch differentiates twice."""
    for name, m in list(model.named_modules()):
        for child, c in list(m.named_children()):
            if isinstance(c, torch.nn.Hardswish):
                setattr(m, child, Hardswish())
            elif isinstance(c, torch.nn.Hardsigmoid):
                setattr(m, child, Hardsigmoid())


def reference(suite, name):
    model, _, case = build(suite, name)
    opsets, with_input_gradient, shape = case.opsets, case.input_gradient, case.shape
    if hasattr(model, "pss_logits"):  # onnx_patterns.Classifier: the scores before a Softmax or Sigmoid
        model.pss_logits = True
    if with_input_gradient:
        twice_differentiable(model)
    folds = used_folds(suite, name, opsets)
    fold(model, folds)
    filters = set(filter_params(model))
    x32 = det.input_value("input", shape)
    model32 = copy.deepcopy(model)
    model.double()
    x64 = torch.from_numpy(x32.astype(np.float64))
    with torch.no_grad():
        order = torch.argsort(model(x64)[0], descending=True)
    label = int(order[4])  # class ranked 5th by the float64 logits
    labels = torch.tensor([label], dtype=torch.int64)
    res, info = per_sample_saliency(model, x64, labels, want_parameter=False, filters=filters)
    meta = common_meta(name, shape, x32)
    meta.update(info)
    if case.layout != "NCHW":
        meta["input_layout"] = case.layout
    meta.update({"labels": json.dumps([label]), "opsets": json.dumps(list(opsets)), "folds": json.dumps(folds),
                 "label_rule": "class ranked 5th (index 4 of descending argsort) by float64 logits"})
    tensors = {k: res[k] for k in ("logits", "loss", "filter")}
    tensors["labels"] = labels.numpy()
    st = stats(name, res["logits"], res["loss"])
    meta["logits_stats"] = json.dumps({k: st[k] for k in ("min", "max", "std")})
    floors = json.loads(float32_floors(name, model32, x32, labels, tensors, filters=filters)["noise_floor"])
    if with_input_gradient:
        mu, sigma = deterministic_stats(int(info["num_filters"]))
        ref, pred = input_gradient(model, x64, label, mu, sigma, filters)
        runs = []
        for _, m32, to_input in float32_runs(model32):
            f32, pred32 = input_gradient(m32, to_input(torch.from_numpy(x32)), label, mu.float(), sigma.float(),
                                         filters)
            assert (f32["top"] == ref["top"]).all() and pred32 == pred, (name, f32["top"], ref["top"])
            runs.append(noise_floors(f32, ref, ["input_gradient", "z", "cos"]))
        ig = max_floors(runs)
        summary(f"{name} input gradient", ig)
        floors.update(ig)
        tensors.update({"input_gradient": ref["input_gradient"].astype(np.float64), "z": ref["z"],
                        "top": ref["top"].astype(np.int64), "cos": ref["cos"]})
        meta.update({"predicted": str(pred), "k": str(K), "boost": str(BOOST)})
    meta.update(floor_metadata(floors))
    path = os.path.join(suite.fixtures, f"{name}.safetensors")
    print(f"[{name}] wrote {path} ({write_safetensors(path, tensors, meta)} bytes)", flush=True)


def main(suite, args):
    """[STEP] [NAME ...]: the step (export, strip, reference) or all three, on the named cases or all."""
    steps = ["export", "strip", "reference"]
    if args and args[0] in steps:
        steps, args = [args[0]], args[1:]
    for name in args or list(suite.cases):
        for step in steps:
            t = time.time()
            {"export": export, "strip": strip, "reference": reference}[step](suite, name)
            print(f"[{name}] {step}: {time.time() - t:.1f}s", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["dynamic"]:
        export_dynamic()
    else:
        main(FAMILY_SUITE, sys.argv[1:])
