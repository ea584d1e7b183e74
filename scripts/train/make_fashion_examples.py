#!/usr/bin/env python3
"""Pick the Fashion-MNIST example images and write pss's parity fixture for fashion-cnn.

    /usr/bin/python3 scripts/train/make_fashion_examples.py [--keep-reference]

Reads models/fashion-cnn.safetensors (written by train_fashion.py), runs it in float64 on
the 10,000 test images and writes

  examples/fashion/*.png            28x28 grayscale test images, named
                                    <true>-as-<predicted>-<index>.png (misclassified) or
                                    <true>-<index>.png (correct); index = test-set index
  examples/fashion/manifest.json    [{file, index, label, labelName, predicted,
                                    predictedName, probability[, default]}]
  test/fixtures/fashion-cnn.safetensors
                                    for those images: `input` (F32 [12,1,28,28], pixel/255
                                    then (x - mean)/std), `labels` (I64), and in float64
                                    `logits` [12,10], `loss` [12] and `filter` [12,F] (filter
                                    saliency w.r.t. the true label, mean |dL/dW| per filter);
                                    `noise_floor` in the metadata: PyTorch float32 against
                                    float64 on the same weights and images, per key and image

Misclassified examples: for each (true, predicted) class pair in PAIRS, the test image the
model gets wrong with the highest predicted probability; correct ones: for each class in CORRECT,
the correct image whose probability is closest to 0.95 (confident but not saturated: at
p = 1 - 1e-6 the loss gradient is below float32's resolution and carries no signal).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fashion_data  # noqa: E402
from fashion_cnn import CLASSES, MEAN, STD, FashionCNN  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from noise_floor import float32_runs, floor_metadata, max_floors, noise_floors, summary, writer  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
WEIGHTS = os.path.join(ROOT, "models", "fashion-cnn.safetensors")
EXAMPLES = os.path.join(ROOT, "examples", "fashion")
FIXTURE = os.path.join(ROOT, "test", "fixtures", "fashion-cnn.safetensors")

SLUG = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
T_SHIRT, TROUSER, PULLOVER, DRESS, COAT, SANDAL, SHIRT, SNEAKER, BAG, BOOT = range(10)
# (true, predicted); the first is the default example.
PAIRS = [
    (SHIRT, T_SHIRT),
    (PULLOVER, COAT),
    (COAT, PULLOVER),
    (SHIRT, PULLOVER),
    (COAT, SHIRT),
    (T_SHIRT, SHIRT),
    (SNEAKER, SANDAL),
    (SANDAL, SNEAKER),
    (BOOT, SNEAKER),
]
CORRECT = [T_SHIRT, SNEAKER, BAG]


def preprocess(x_uint8: np.ndarray) -> np.ndarray:
    """What pss does: pixel / 255, then (x - mean) / std, in float32; [n,28,28] -> [n,1,28,28]."""
    x = x_uint8.astype(np.float32) / np.float32(255)
    return ((x - np.float32(MEAN)) / np.float32(STD))[:, None]


KEYS = ("logits", "loss", "filter")


def parity_reference(model, x, labels):
    """Per image: logits, F.cross_entropy loss and filter saliency (mean |dL/dW| per filter),
    in the dtype of `model` and `x`, returned as float64 numpy arrays."""
    params = [p for _, p in model.named_parameters()]
    logits, losses, filt = [], [], []
    for b in range(len(labels)):
        out = model(x[b:b + 1])
        loss = F.cross_entropy(out, torch.from_numpy(labels[b:b + 1]))
        grads = torch.autograd.grad(loss, params)
        logits.append(out.detach()[0].numpy())
        losses.append(loss.item())
        filt.append(np.concatenate([g.abs().mean((1, 2, 3)).numpy() for g in grads if g.dim() == 4]))
    return np.stack(logits).astype(np.float64), np.array(losses), np.stack(filt).astype(np.float64)


def main():
    torch.set_num_threads(2)
    weights, wmeta = read_safetensors(WEIGHTS)
    model = FashionCNN(len(CLASSES))
    sd = model.state_dict()
    state = {k: torch.from_numpy(weights[k].copy()) for k in sd if not k.endswith("num_batches_tracked")}
    missing = model.load_state_dict(state, strict=False)
    assert not missing.unexpected_keys and all(k.endswith("num_batches_tracked") for k in missing.missing_keys)
    model32 = copy.deepcopy(model).eval()
    model = model.double().eval()

    xte, yte = fashion_data.load("test")
    x = torch.from_numpy(preprocess(xte)).double()
    with torch.no_grad():
        probs = torch.cat([F.softmax(model(x[i:i + 1000]), 1) for i in range(0, len(x), 1000)]).numpy()
    pred = probs.argmax(1)
    print(f"test accuracy (float64): {(pred == yte).mean():.4f} (weights metadata: {wmeta.get('test_accuracy')})")

    chosen = []  # (index, kind)
    for t, p in PAIRS:
        idx = np.flatnonzero((yte == t) & (pred == p))
        if not len(idx):
            print(f"  no {CLASSES[t]} predicted as {CLASSES[p]}; skipped")
            continue
        best = idx[np.argmax(probs[idx, p])]
        chosen.append(int(best))
    for c in CORRECT:
        idx = np.flatnonzero((yte == c) & (pred == c))
        chosen.append(int(idx[np.argmin(np.abs(probs[idx, c] - 0.95))]))

    os.makedirs(EXAMPLES, exist_ok=True)
    for f in os.listdir(EXAMPLES):
        if f.endswith(".png"):
            os.remove(os.path.join(EXAMPLES, f))
    manifest = []
    default_set = False
    for i in chosen:
        t, p = int(yte[i]), int(pred[i])
        name = f"{SLUG[t]}-as-{SLUG[p]}-{i}.png" if t != p else f"{SLUG[t]}-{i}.png"
        path = os.path.join(EXAMPLES, name)
        Image.fromarray(xte[i], mode="L").save(path, optimize=True)
        back = np.asarray(Image.open(path))
        assert back.dtype == np.uint8 and back.shape == (28, 28) and (back == xte[i]).all(), name
        entry = {"file": name, "index": i, "label": t, "labelName": CLASSES[t], "predicted": p,
                 "predictedName": CLASSES[p], "probability": round(float(probs[i, p]), 4)}
        if t != p and not default_set:
            entry["default"] = True
            default_set = True
        manifest.append(entry)
        print(f"  {name:<28} p={probs[i, p]:.4f}")
    with open(os.path.join(EXAMPLES, "manifest.json"), "w") as f:
        f.write(json.dumps(manifest, indent=2) + "\n")  # as biome formats it

    # parity fixture: float64 logits, loss and filter saliency of the chosen images
    inp = preprocess(xte[chosen])
    labels = yte[chosen].astype(np.int64)
    logits, losses, filt = parity_reference(model, torch.from_numpy(inp).double(), labels)
    # ...and PyTorch float32 on the same weights and images: the noise floor of each
    ref = dict(zip(KEYS, (logits, losses, filt)))
    floors = max_floors([noise_floors(dict(zip(KEYS, parity_reference(m32, to_input(torch.from_numpy(inp)), labels))),
                                      ref, KEYS, batched=KEYS) for _, m32, to_input in float32_runs(model32)])
    summary("fashion-cnn", floors)
    params = list(model.named_parameters())
    assert (logits.argmax(1) == pred[chosen]).all()
    with open(WEIGHTS, "rb") as f:
        wsha = hashlib.sha256(f.read()).hexdigest()
    meta = {
        "format": "pss-reference-v1",
        "arch": "fashion-cnn",
        "weights": "models/fashion-cnn.safetensors",
        "weights_sha256": wsha,
        "files": json.dumps([e["file"] for e in manifest]),
        "indices": json.dumps(chosen),
        "labels": json.dumps(labels.tolist()),
        "input_name": "input",
        "input_shape": json.dumps(list(inp.shape)),
        "input_sum": repr(math.fsum(inp.astype(np.float64).ravel())),
        "preprocessing": json.dumps({"scale": "1/255", "mean": [MEAN], "std": [STD]}),
        "param_names": json.dumps([[n, p.numel()] for n, p in params]),
        "conv_layers": json.dumps([[n, p.shape[0]] for n, p in params if p.dim() == 4]),
        "num_filters": str(sum(p.shape[0] for _, p in params if p.dim() == 4)),
        "num_params": str(sum(p.numel() for _, p in params)),
        "script": "scripts/train/make_fashion_examples.py",
        **floor_metadata(floors),
    }
    tensors = {"labels": labels, "logits": logits, "loss": losses, "filter": filt, "input": inp}
    # --keep-reference: keep the committed tensors, only add the noise floor (noise_floor.py)
    size = writer(write_safetensors, "--keep-reference" in sys.argv[1:])(FIXTURE, tensors, meta)
    print(f"wrote {len(manifest)} examples, manifest.json, test/fixtures/fashion-cnn.safetensors ({size} bytes)")


if __name__ == "__main__":
    main()
