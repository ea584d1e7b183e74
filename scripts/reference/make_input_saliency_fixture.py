"""Reference input-space saliency (DESIGN §1 step 6) and Grad-CAM, in float64 (stored as float32), by double
backprop: M = d/dx cos(z(x), s'), z = (s - mu) / sigma per filter (filter aggregation,
mean |grad|), s' = z detached with its top-k entries times `boost`. The statistics are
deterministic (mu = 1e-3 (u + 1), sigma = 1e-3 (u + 1.5), u = u("stats-mean"/"stats-std", i)),
so the TypeScript test rebuilds them. PyTorch float32 on the same weights, input and
statistics gives each map's noise floor (noise_floor.py).
Writes test/fixtures/input_saliency_{tinycnn,resnet50}.safetensors.

    /usr/bin/python3 scripts/reference/make_input_saliency_fixture.py [--keep-reference]
"""

import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(__file__))
import deterministic as det  # noqa: E402
from make_fixtures import write_safetensors  # noqa: E402
from noise_floor import float32_runs, floor_metadata, max_floors, noise_floors, summary, writer  # noqa: E402
from tinycnn import TinyCNN  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures")
K, BOOST = 10, 100.0
torch.set_num_threads(2)
# --keep-reference: keep the committed tensors, only add the noise floor (noise_floor.py)
write = writer(write_safetensors, "--keep-reference" in sys.argv[1:])


def deterministic_stats(n):
    mu = 1e-3 * (det.u_array("stats-mean", (n,)) + 1)
    sigma = 1e-3 * (det.u_array("stats-std", (n,)) + 1.5)
    return torch.from_numpy(mu.astype(np.float32).astype(np.float64)), torch.from_numpy(sigma.astype(np.float32).astype(np.float64))


def capture_global_pool_input(acts):
    """Grad-CAM's layer: the input of the global average pool (the last conv block's output)."""
    original = F.adaptive_avg_pool2d

    def wrapped(x, size):
        acts["a"] = x
        return original(x, size)

    F.adaptive_avg_pool2d = wrapped
    return lambda: setattr(F, "adaptive_avg_pool2d", original)


def saliency_maps(model, x, label, mu, sigma):
    """The input gradient M, z, cos(z, s') and the Grad-CAM maps, in the dtype of `model`."""
    x = x.clone().requires_grad_()
    convs = [p for p in model.parameters() if p.dim() == 4]
    acts = {}
    restore = capture_global_pool_input(acts)
    logits = model(x)
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
        alpha = ga.mean((2, 3), keepdim=True)
        out[f"gradcam_{name}"] = torch.relu((alpha * a).sum(1))[0]
    restore()
    return {k: v.detach().numpy() for k, v in out.items()}, pred


def run(arch, model, shape, label):
    det.load_deterministic(model)
    model32 = copy.deepcopy(model).eval()
    model = model.double().eval()
    x32 = det.input_value("input", shape)
    n = sum(p.shape[0] for p in model.parameters() if p.dim() == 4)
    mu, sigma = deterministic_stats(n)
    ref, pred = saliency_maps(model, torch.from_numpy(x32.astype(np.float64)), label, mu, sigma)
    runs = []
    for _, m32, to_input in float32_runs(model32):
        f32, pred32 = saliency_maps(m32, to_input(torch.from_numpy(x32)), label, mu.float(), sigma.float())
        # The floor measures float32 arithmetic on the same boosted filters and class.
        assert (f32["top"] == ref["top"]).all() and pred32 == pred, (f32["top"], ref["top"], pred32, pred)
        runs.append(noise_floors(f32, ref, ["input_gradient", "z", "cos", "gradcam_pred", "gradcam_true"]))
    floors = max_floors(runs)
    summary(arch, floors)
    tensors = {k: v.astype(np.float32) for k, v in ref.items() if k != "top" and k != "cos"}
    write(
        os.path.join(ROOT, f"input_saliency_{arch}.safetensors"),
        {"input_gradient": tensors["input_gradient"], "z": tensors["z"], "top": ref["top"].astype(np.int64),
         "cos": ref["cos"], "gradcam_pred": tensors["gradcam_pred"], "gradcam_true": tensors["gradcam_true"]},
        {"arch": arch, "label": str(label), "predicted": str(pred), "k": str(K), "boost": str(BOOST),
         **floor_metadata(floors)},
    )
    print(arch, "cos", float(ref["cos"]), "top", ref["top"].tolist()[:5], "pred", pred)


run("tinycnn", TinyCNN(), (1, 3, 29, 29), 3)
run("resnet50", torchvision.models.resnet50(weights=None), (1, 3, 224, 224), 100)
