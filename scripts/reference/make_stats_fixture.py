"""Reference statistics for `pss stats`: TinyCNN with the deterministic weights over a small
ImageNet-style folder of PNGs (written here), computed per sample in float64 with
torchvision's ImageFolder pipeline, and again in float32 for the noise floor (noise_floor.py).
Writes test/fixtures/stats-images/ and test/fixtures/stats.safetensors.

    /usr/bin/python3 scripts/reference/make_stats_fixture.py [--keep-reference]
"""

import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from deterministic import load_deterministic, u_array  # noqa: E402
from make_fixtures import write_safetensors  # noqa: E402
from noise_floor import float32_runs, floor_metadata, max_floors, noise_floors, summary, writer  # noqa: E402
from tinycnn import TinyCNN  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures")
folder = os.path.join(ROOT, "stats-images")
classes = [f"c{k}" for k in range(10)]
paths = []
for k, cls in enumerate(classes):
    os.makedirs(os.path.join(folder, cls), exist_ok=True)
    for j in range(2):
        u = u_array(f"stats-image-{k}-{j}", (29, 29, 3))
        pixels = np.clip(np.round((u + 1) * 127.5), 0, 255).astype(np.uint8)
        path = os.path.join(folder, cls, f"img{j}.png")
        Image.fromarray(pixels, "RGB").save(path)
        paths.append((path, k))
# An unreadable file: pss must skip it and count it.
with open(os.path.join(folder, "c3", "broken.png"), "w") as f:
    f.write("not an image\n")

torch.set_num_threads(2)
model = TinyCNN()
load_deterministic(model)
model32 = copy.deepcopy(model).eval()
model = model.double().eval()
tf = T.Compose([T.Resize(29), T.CenterCrop(29), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])


def statistics(model, dtype, to_input=lambda x: x):
    """Mean and unbiased std over the images of the per-sample filter saliency, in `dtype`."""
    convs = [p for p in model.parameters() if p.dim() == 4]
    rows = {"filter": [], "filter_abs_mean": []}
    for path, label in sorted(paths):
        x = to_input(tf(Image.open(path).convert("RGB")).to(dtype)[None])
        loss = F.cross_entropy(model(x), torch.tensor([label]))
        grads = torch.autograd.grad(loss, convs)
        rows["filter"].append(torch.cat([g.abs().mean((1, 2, 3)) for g in grads]))
        rows["filter_abs_mean"].append(torch.cat([g.mean((1, 2, 3)).abs() for g in grads]))
    out = {}
    for mode, r in rows.items():
        s = torch.stack(r).numpy().astype(np.float64)  # pss too accumulates in float64
        out[f"{mode}_mean"] = s.mean(0)
        out[f"{mode}_std"] = s.std(0, ddof=1)
    return out


tensors = statistics(model, torch.float64)
floors = max_floors([noise_floors(statistics(m32, torch.float32, to_input), tensors, list(tensors))
                     for _, m32, to_input in float32_runs(model32)])
summary("stats", floors)
meta = {"count": str(len(paths)), "arch": "tinycnn", **floor_metadata(floors)}
# --keep-reference: keep the committed tensors, only add the noise floor (noise_floor.py)
writer(write_safetensors, "--keep-reference" in sys.argv[1:])(os.path.join(ROOT, "stats.safetensors"), tensors, meta)
print("wrote", len(paths), "images and stats.safetensors")
