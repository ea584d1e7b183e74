#!/usr/bin/env python3
"""Train pss's embedded default model, `fashion-cnn`, on Fashion-MNIST.

    /usr/bin/python3 scripts/train/train_fashion.py [--epochs 9] [--threads 2]

Reproducible: fixed seed, torch.use_deterministic_algorithms(True), fixed number of epochs,
single process (same numbers for the same thread count and PyTorch build). Trains on the
60,000 training images (random horizontal flip and shifts of up to 1 pixel), SGD with
Nesterov momentum and a one-cycle learning rate, evaluates on the 10,000 test images after
every epoch, and writes

  scripts/train/train_fashion.log      per-epoch loss/accuracy, per-class test accuracy
  models/fashion-cnn.safetensors       float32 weights with pss's (torch state_dict) names,
                                       BN running statistics, no num_batches_tracked

The preprocessing pss applies is pixel / 255, then (x - MEAN) / STD (fashion_cnn.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fashion_data  # noqa: E402
from fashion_cnn import CLASSES, MEAN, STD, WIDTHS, FashionCNN  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
WEIGHTS = os.path.join(ROOT, "models", "fashion-cnn.safetensors")
LOG = os.path.join(HERE, "train_fashion.log")


def normalise(x_uint8: torch.Tensor) -> torch.Tensor:
    return (x_uint8.float() / 255.0 - MEAN) / STD


def augment(x: torch.Tensor, g: torch.Generator, shift: int) -> torch.Tensor:
    """Random horizontal flip and random translation by up to `shift` pixels (zero fill),
    per image, on a uint8 batch [B, 28, 28]."""
    b, h, w = x.shape
    flip = torch.rand(b, generator=g) < 0.5
    x = torch.where(flip[:, None, None], x.flip(2), x)
    if shift:
        p = F.pad(x, (shift, shift, shift, shift))
        dy = torch.randint(0, 2 * shift + 1, (b,), generator=g)
        dx = torch.randint(0, 2 * shift + 1, (b,), generator=g)
        rows = (dy[:, None] + torch.arange(h))[:, :, None]
        cols = (dx[:, None] + torch.arange(w))[:, None, :]
        x = p[torch.arange(b)[:, None, None], rows, cols]
    return x


@torch.no_grad()
def evaluate(model, x, y, batch=1000):
    model.eval()
    loss, correct, preds = 0.0, 0, []
    for i in range(0, len(x), batch):
        xb = normalise(x[i:i + batch]).unsqueeze(1).contiguous(memory_format=torch.channels_last)
        out = model(xb)
        loss += F.cross_entropy(out, y[i:i + batch], reduction="sum").item()
        p = out.argmax(1)
        preds.append(p)
        correct += (p == y[i:i + batch]).sum().item()
    return loss / len(x), correct / len(x), torch.cat(preds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=9)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1, help="peak learning rate of the one-cycle schedule")
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--shift", type=int, default=1)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=WEIGHTS)
    ap.add_argument("--log", default=LOG)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.use_deterministic_algorithms(True)
    g = torch.Generator().manual_seed(a.seed)

    os.makedirs(os.path.dirname(a.log), exist_ok=True)
    logf = open(a.log + ".tmp", "w")

    def log(msg=""):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    t_start = time.time()
    xtr, ytr = fashion_data.load("train")
    xte, yte = fashion_data.load("test")
    shas = fashion_data.sha256s()
    mean = float((xtr / 255.0).mean())
    std = float((xtr / 255.0).std())
    assert round(mean, 4) == MEAN and round(std, 4) == STD, (mean, std)
    xtr, ytr = torch.from_numpy(xtr.copy()), torch.from_numpy(ytr)
    xte, yte = torch.from_numpy(xte.copy()), torch.from_numpy(yte)

    model = FashionCNN(len(CLASSES)).to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in model.parameters())
    n_filters = sum(p.shape[0] for p in model.parameters() if p.dim() == 4)
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}],
                          lr=a.lr, momentum=0.9, nesterov=True)
    steps = (len(xtr) + a.batch - 1) // a.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, epochs=a.epochs, steps_per_epoch=steps,
                                                pct_start=0.25, div_factor=20, final_div_factor=200)

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    log(f"# fashion-cnn on Fashion-MNIST — scripts/train/train_fashion.py, {date}")
    log(f"# torch {torch.__version__}, python {platform.python_version()}, {a.threads} threads, "
        f"deterministic algorithms, seed {a.seed}")
    log(f"# data {fashion_data.DATA_DIR}: " + ", ".join(f"{k} sha256 {v[:16]}" for k, v in shas.items()))
    log(f"# train {len(xtr)} images, test {len(xte)}; pixel mean {mean:.6f}, std {std:.6f} "
        f"(used, rounded: {MEAN:.4f}, {STD:.4f})")
    log(f"# model widths {WIDTHS}: {n_params} parameters, {n_filters} filters")
    log(f"# SGD nesterov momentum 0.9, batch {a.batch}, one-cycle lr peak {a.lr}, weight decay {a.wd} "
        f"(conv/linear weights), {a.epochs} epochs; augmentation: h-flip, shift <= {a.shift}px")
    log("epoch  train_loss  train_acc  test_loss  test_acc      lr  seconds")

    for epoch in range(1, a.epochs + 1):
        t0 = time.time()
        model.train()
        perm = torch.randperm(len(xtr), generator=g)
        tot_loss, tot_correct = 0.0, 0
        for s in range(steps):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            xb = normalise(augment(xtr[idx], g, a.shift)).unsqueeze(1).contiguous(memory_format=torch.channels_last)
            yb = ytr[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            lr = sched.get_last_lr()[0]
            sched.step()
            tot_loss += loss.item() * len(idx)
            tot_correct += (out.argmax(1) == yb).sum().item()
        te_loss, te_acc, preds = evaluate(model, xte, yte)
        log(f"{epoch:5d}  {tot_loss / len(xtr):10.4f}  {tot_correct / len(xtr):9.4f}  {te_loss:9.4f}  "
            f"{te_acc:8.4f}  {lr:.4f}  {time.time() - t0:7.1f}")

    train_seconds = time.time() - t_start
    log()
    log(f"final test accuracy {te_acc:.4f} ({int(round(te_acc * len(xte)))}/{len(xte)}), "
        f"test loss {te_loss:.4f}; total {train_seconds:.0f} s")
    log("per-class test accuracy:")
    for c, name in enumerate(CLASSES):
        m = yte == c
        log(f"  {c} {name:<12} {(preds[m] == c).float().mean().item():.4f}")
    conf = torch.zeros(10, 10, dtype=torch.int64)
    conf.index_put_((yte, preds), torch.ones(len(yte), dtype=torch.int64), accumulate=True)
    log("confusion matrix (rows: true label, columns: predicted):")
    for c in range(10):
        log("  " + " ".join(f"{int(v):4d}" for v in conf[c]))

    sd = model.state_dict()
    tensors = {k: v.detach().float().contiguous().numpy() for k, v in sd.items()
               if not k.endswith("num_batches_tracked")}
    meta = {
        "format": "pss-weights-v1",
        "arch": "fashion-cnn",
        "dataset": "Fashion-MNIST",
        "classes": json.dumps(CLASSES),
        "preprocessing": json.dumps({"scale": "1/255", "mean": [MEAN], "std": [STD]}),
        "test_accuracy": f"{te_acc:.4f}",
        "test_loss": f"{te_loss:.4f}",
        "epochs": str(a.epochs),
        "date": date,
        "script": "scripts/train/train_fashion.py",
        "seed": str(a.seed),
        "torch": torch.__version__,
        "num_params": str(n_params),
        "num_filters": str(n_filters),
        "data_sha256": json.dumps(shas),
    }
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    size = write_safetensors(a.out, tensors, meta)
    log(f"wrote {os.path.relpath(a.out, ROOT)} ({size} bytes, {len(tensors)} tensors)")
    logf.close()
    os.replace(a.log + ".tmp", a.log)


if __name__ == "__main__":
    main()
