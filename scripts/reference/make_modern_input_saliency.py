#!/usr/bin/env python3
"""Input-space saliency and Grad-CAM of the modern CNNs against PyTorch double backprop in
float64, like make_input_saliency_fixture.py (same statistics, k, boost, loss) at 64×64:
test/fixtures/modern/input_saliency_<arch>.safetensors, with float32 noise floors.

    /usr/bin/python3 scripts/reference/make_modern_input_saliency.py [--only convnext_tiny,...] [--keep-reference]
"""

import argparse
import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deterministic as det  # noqa: E402
from make_fixtures import write_safetensors  # noqa: E402
from noise_floor import float32_runs, floor_metadata, max_floors, noise_floors, summary, writer  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "modern")
K, BOOST, SIZE = 10, 100.0, 64
KEYS = ["input_gradient", "z", "cos", "gradcam_pred", "gradcam_true"]


def deterministic_stats(n):
    mu = 1e-3 * (det.u_array("stats-mean", (n,)) + 1)
    sigma = 1e-3 * (det.u_array("stats-std", (n,)) + 1.5)
    return (torch.from_numpy(mu.astype(np.float32).astype(np.float64)),
            torch.from_numpy(sigma.astype(np.float32).astype(np.float64)))


def saliency_maps(model, x, label, mu, sigma):
    """M = d/dx cos(z, s'), z, cos and Grad-CAM at the input of the last global pool."""
    x = x.clone().requires_grad_()
    convs = [p for p in model.parameters() if p.dim() == 4]
    acts = {}
    original = F.adaptive_avg_pool2d

    def capture(t, size):  # the last call is the head's pool (SE blocks pool too, earlier)
        acts["a"] = t
        return original(t, size)

    F.adaptive_avg_pool2d = capture
    try:
        logits = model(x)
    finally:
        F.adaptive_avg_pool2d = original
    loss = F.cross_entropy(logits, torch.tensor([label]))
    grads = torch.autograd.grad(loss, convs, create_graph=True)
    s = torch.cat([g.abs().mean((1, 2, 3)) for g in grads])
    z = (s - mu) / sigma
    top = torch.argsort(z, descending=True)[:K]
    target = z.detach().clone()
    target[top] *= BOOST
    cos = F.cosine_similarity(z[None], target[None])
    (m,) = torch.autograd.grad(cos, x, retain_graph=True)
    a = acts["a"]
    out = {"input_gradient": m[0], "z": z, "top": top, "cos": cos}
    pred = int(logits.argmax())
    for name, cls in (("pred", pred), ("true", label)):
        (ga,) = torch.autograd.grad(logits[0, cls], a, retain_graph=True)
        out[f"gradcam_{name}"] = torch.relu((ga.mean((2, 3), keepdim=True) * a).sum(1))[0]
    return {k: v.detach().numpy() for k, v in out.items()}, pred


class Hardswish(torch.nn.Module):
    """nn.Hardswish composed (x·clamp(x + 3, 0, 6)/6): PyTorch 1.13 has no double backward of
    hardswish and hardsigmoid. The same function; its derivatives differ only at the kinks."""

    def forward(self, x):
        return x * torch.clamp(x + 3, 0, 6) / 6


class Hardsigmoid(torch.nn.Module):
    def forward(self, x):
        return torch.clamp(x + 3, 0, 6) / 6


def compose_hard_activations(model):
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, torch.nn.Hardswish):
                setattr(module, name, Hardswish())
            elif isinstance(child, torch.nn.Hardsigmoid):
                setattr(module, name, Hardsigmoid())
        if isinstance(module, torchvision.ops.SqueezeExcitation) and isinstance(module.scale_activation, torch.nn.Hardsigmoid):
            module.scale_activation = Hardsigmoid()


def run(arch, write):
    model = getattr(torchvision.models, arch)(weights=None)
    compose_hard_activations(model)
    det.load_deterministic(model)
    model32 = copy.deepcopy(model).eval()
    model = model.double().eval()
    x32 = det.input_value("input", (1, 3, SIZE, SIZE))
    x64 = torch.from_numpy(x32.astype(np.float64))
    with torch.no_grad():
        label = int(torch.argsort(model(x64)[0], descending=True)[4])  # ranked 5th
    n = sum(p.shape[0] for p in model.parameters() if p.dim() == 4)
    mu, sigma = deterministic_stats(n)
    ref, pred = saliency_maps(model, x64, label, mu, sigma)
    runs = []
    for _, m32, to_input in float32_runs(model32):
        f32, pred32 = saliency_maps(m32, to_input(torch.from_numpy(x32)), label, mu.float(), sigma.float())
        assert (f32["top"] == ref["top"]).all() and pred32 == pred, (f32["top"], ref["top"], pred32, pred)
        runs.append(noise_floors(f32, ref, KEYS))
    floors = max_floors(runs)
    summary(arch, floors)
    tensors = {k: ref[k].astype(np.float32) for k in ("input_gradient", "z", "gradcam_pred", "gradcam_true")}
    os.makedirs(OUT, exist_ok=True)
    write(
        os.path.join(OUT, f"input_saliency_{arch}.safetensors"),
        {**tensors, "top": ref["top"].astype(np.int64), "cos": ref["cos"]},
        {"arch": arch, "label": str(label), "predicted": str(pred), "k": str(K), "boost": str(BOOST),
         "input_shape": f"[1, 3, {SIZE}, {SIZE}]", **floor_metadata(floors)},
    )
    print(arch, "label", label, "cos", float(ref["cos"]), "top", ref["top"].tolist()[:5], "pred", pred)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="convnext_tiny")
    ap.add_argument("--keep-reference", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    write = writer(write_safetensors, a.keep_reference)
    for arch in a.only.split(","):
        run(arch, write)


if __name__ == "__main__":
    main()
