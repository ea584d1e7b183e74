#!/usr/bin/env python3
"""PyTorch side of the pss benchmark (float32, CPU, eval mode, seeded random weights).

    python3 scripts/reference/torch_bench.py --arch resnet50 --size 224 --threads 2 \
        --repeats 5 --batch 8 [--what forward,filter,input] [--units filters|filters+neurons|all]

Prints ONE JSON object on stdout.  Each timing is the median over --repeats runs,
after one warm-up run, in seconds:
  forward_b1        : forward pass of one image (under torch.no_grad)
  filter_b1         : forward + backward w.r.t. the unit weights of one image +
                      per-unit mean |g| (--units filters: the conv weights, per filter;
                      filters+neurons: nn.Linear weights too, per row; all: in-projections
                      per head's q, k and v rows instead, as pss's --units)
  filter_per_sample : per-sample filter saliency of --batch images, one image at a time
                      in a loop; seconds per image
  input_b1          : second-order input saliency of one image: g = grad(loss, unit weights,
                      create_graph=True); s = per-unit mean |g|; s' = s.detach() with
                      its 10 largest entries x100; L = 1 - cos(s, s'); grad(L, input)
  stats_per_image   : validation statistics the original way, one image at a time over the
                      ImageFolder --images: PIL decode, torchvision preprocessing (resize 256,
                      crop 224, normalise), gradients of the conv weights, per-filter mean
                      |g|, Welford in float64; seconds per image over the whole folder
  peak_rss_mb       : resource.getrusage(RUSAGE_SELF).ru_maxrss / 1024
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def blas_info() -> dict:
    info = {}
    cfg = torch.__config__.show()
    for line in cfg.splitlines():
        if "BLAS" in line:
            m = re.search(r"BLAS_INFO=([^,\s]+)", line)
            info["blas_info"] = m.group(1) if m else line.strip()
            break
    for line in cfg.splitlines():
        if "MKL-DNN" in line or "oneDNN" in line:
            info["mkldnn"] = line.strip(" -")
            break
    # which BLAS shared object is actually mapped into the process
    try:
        torch.mm(torch.ones(4, 4), torch.ones(4, 4))
        libs = set()
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if re.search(r"(blas|mkl|dnnl|lapack|gomp|omp)[^/]*\.so", p):
                    libs.add(p)
        info["blas_libs"] = sorted(libs)
    except OSError:
        pass
    return info


def build_model(arch: str, num_classes: int = 1000):
    torch.manual_seed(0)
    if arch == "tinycnn":
        import os

        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from tinycnn import TinyCNN

        return TinyCNN().eval()
    import torchvision

    return getattr(torchvision.models, arch)(weights=None, num_classes=num_classes).eval()


def unit_weights(model, units: str):
    """[(weight, rows per unit)] of the weights whose rows are units under `units`, in
    named_parameters order (pss's unit table: units.py, src/models/units.ts)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from units import unit_params

    params = dict(model.named_parameters())
    out = []
    for n, heads in unit_params(model):
        p = params[n]
        if p.dim() == 4:
            out.append((p, 1))
        elif units != "filters":
            out.append((p, p.shape[0] // (3 * heads) if units == "all" and heads else 1))
    return out


def timeit(fn, repeats: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def stats_the_original_way(folder: str, filter_saliency) -> float:
    import os

    import numpy as np
    from PIL import Image
    from torchvision import transforms

    prep = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    items = [
        (os.path.join(folder, c, f), k)
        for k, c in enumerate(classes)
        for f in sorted(os.listdir(os.path.join(folder, c)))
    ]

    def one(path, label, acc):
        x = prep(Image.open(path).convert("RGB"))[None]
        s = filter_saliency(x, torch.tensor([label])).detach().double().numpy()
        n, mean, m2 = acc
        n += 1
        d = s - mean
        mean = mean + d / n
        return n, mean, m2 + d * (s - mean)

    acc = one(*items[0], (0, 0.0, 0.0))  # warm-up
    t = time.perf_counter()
    acc = (0, 0.0, 0.0)
    for path, label in items:
        acc = one(path, label, acc)
    assert acc[0] == len(items) and np.isfinite(acc[2]).all()
    return (time.perf_counter() - t) / len(items)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--what", default="forward,filter,input")
    ap.add_argument("--images", help="ImageFolder for --what stats")
    ap.add_argument("--units", default="filters", choices=["filters", "filters+neurons", "all"])
    a = ap.parse_args()
    what = {w.strip() for w in a.what.split(",") if w.strip()}
    unknown = what - {"forward", "filter", "input", "stats"}
    if unknown:
        raise SystemExit(f"unknown --what items: {sorted(unknown)}")

    torch.set_num_threads(a.threads)
    model = build_model(a.arch)
    for p in model.parameters():
        p.requires_grad_(True)
    units = unit_weights(model, a.units)
    conv_w = [p for p, _ in units]
    gen = torch.Generator().manual_seed(1)
    xs = torch.randn(max(a.batch, 1), 3, a.size, a.size, generator=gen)
    with torch.no_grad():
        n_cls = model(xs[:1]).shape[1]
    labels = torch.randint(0, n_cls, (xs.shape[0],), generator=gen)

    def filter_saliency(x, y):
        loss = F.cross_entropy(model(x), y)
        g = torch.autograd.grad(loss, conv_w)
        return per_unit(g)

    def per_unit(g):
        return torch.cat([gi.reshape(gi.shape[0] // r, -1).abs().mean(dim=1) for gi, (_, r) in zip(g, units)])

    def forward_b1():
        with torch.no_grad():
            return model(xs[:1])

    def filter_b1():
        return filter_saliency(xs[:1], labels[:1])

    def filter_per_sample():
        return [filter_saliency(xs[b : b + 1], labels[b : b + 1]) for b in range(a.batch)]

    def input_b1():
        x = xs[:1].clone().requires_grad_(True)
        loss = F.cross_entropy(model(x), labels[:1])
        g = torch.autograd.grad(loss, conv_w, create_graph=True)
        s = per_unit(g)
        target = s.detach().clone()
        top = torch.topk(target, 10).indices
        target[top] *= 100.0
        L = 1.0 - F.cosine_similarity(s, target, dim=0)
        (gx,) = torch.autograd.grad(L, x)
        return gx

    out = {
        "arch": a.arch,
        "size": a.size,
        "threads": a.threads,
        "repeats": a.repeats,
        "batch": a.batch,
        "units": a.units,
        "unit_count": sum(p.shape[0] // r for p, r in units),
        "dtype": "float32",
        "torch_version": torch.__version__,
        "num_threads": torch.get_num_threads(),
    }
    out.update(blas_info())
    if "forward" in what:
        out["forward_b1"] = timeit(forward_b1, a.repeats)
    if "filter" in what:
        out["filter_b1"] = timeit(filter_b1, a.repeats)
        out["filter_per_sample"] = timeit(filter_per_sample, a.repeats) / max(a.batch, 1)
    if "input" in what:
        out["input_b1"] = timeit(input_b1, a.repeats)
    if "stats" in what:
        out["stats_per_image"] = stats_the_original_way(a.images, filter_saliency)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
