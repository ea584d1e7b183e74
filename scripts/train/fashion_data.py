"""Fashion-MNIST from the IDX files of Debian's dataset-fashion-mnist package."""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def read_idx(path: str) -> np.ndarray:
    """uint8 array of an IDX file: magic 2051 (images, [n, rows, cols]) or 2049 (labels, [n])."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic == 2051:
        n, rows, cols = (int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
        arr = np.frombuffer(data, dtype=np.uint8, offset=16)
        shape = (n, rows, cols)
    elif magic == 2049:
        n = int.from_bytes(data[4:8], "big")
        arr = np.frombuffer(data, dtype=np.uint8, offset=8)
        shape = (n,)
    else:
        raise ValueError(f"{path}: bad IDX magic {magic}")
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {arr.size} values for shape {shape}")
    return arr.reshape(shape)


def load(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [n, 28, 28], labels int64 [n]) of 'train' or 'test'."""
    x = read_idx(os.path.join(DATA_DIR, FILES[f"{split}_images"]))
    y = read_idx(os.path.join(DATA_DIR, FILES[f"{split}_labels"])).astype(np.int64)
    assert len(x) == len(y)
    return x, y


def sha256s() -> dict:
    """SHA-256 of each data file, by file name."""
    out = {}
    for name in FILES.values():
        with open(os.path.join(DATA_DIR, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out
