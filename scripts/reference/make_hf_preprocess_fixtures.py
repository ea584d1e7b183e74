#!/usr/bin/env python3
"""References for preprocessing descriptions (test/image/hf-preprocess.test.ts).

    /usr/bin/python3 scripts/reference/make_hf_preprocess_fixtures.py

Writes test/fixtures/images/hf_preprocess.json:
  "resample": Pillow 9.4's img.resize((w, h), f) of two committed PNGs (RGB, and RGB then
              convert("L")) for every filter f in 0..5 and sizes down, up, one axis, odd:
              SHA-256 and per-channel sum of the uint8 result.
  "presets":  torchvision 0.14's transforms of the presets that are not bilinear (EfficientNet-B0's
              Resize(256, BICUBIC) -> CenterCrop(224) -> ToTensor -> Normalize): tensor SHA-256, sums.
  "cases":    a preprocessor_config.json-style description, the model's input shape and the
              float32 tensor (C x H x W) Hugging Face's slow image processors make of the image:
              its SHA-256 (little-endian bytes) and per-channel math.fsum.
transformers is not installed here, so its pipeline is transcribed below from
transformers/image_transforms.py (resize: PIL's resize, reducing_gap None; center_crop: floor
offsets, a smaller image zero-padded ceil before; rescale: float64 * factor, then float32;
normalize: float32 (x - mean) / std; pad: np.pad constant 0 after the bottom and right) and the
processors' size rules (get_resize_output_image_size's shortest_edge, SamImageProcessor's
longest_edge, DETR's get_image_size_for_max_height_width). "pad_value" and "pad_position" are
pss's own fields (the value and place of the padding), transcribed the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
IMAGES = os.path.join(ROOT, "test", "fixtures", "images")


def load(name: str, gray: bool) -> Image.Image:
    with open(os.path.join(IMAGES, name), "rb") as f:
        im = Image.open(io.BytesIO(f.read())).convert("RGB")
    return im.convert("L") if gray else im


def u8_ref(a: np.ndarray) -> dict:
    a = np.ascontiguousarray(a, dtype=np.uint8).reshape(a.shape[0], a.shape[1], -1)
    return {
        "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
        "sum": [int(a[:, :, c].sum()) for c in range(a.shape[2])],
    }


def resize_size(w0: int, h0: int, d: dict):
    size = d["size"]
    if isinstance(size, int):
        size = {"shortest_edge": size}
    if "shortest_edge" in size:
        s = size["shortest_edge"]
        if "crop_pct" in d and s < 384:
            s = int(s / d["crop_pct"])
        short, long = (w0, h0) if w0 <= h0 else (h0, w0)
        ns, nl = s, int(s * long / short)
        return (ns, nl) if w0 <= h0 else (nl, ns)
    if "longest_edge" in size:
        scale = size["longest_edge"] * 1.0 / max(h0, w0)
        return int(w0 * scale + 0.5), int(h0 * scale + 0.5)
    if "max_height" in size:
        scale = min(size["max_height"] / h0, size["max_width"] / w0)
        return int(w0 * scale), int(h0 * scale)
    return size["width"], size["height"]


def center_crop(a: np.ndarray, ch: int, cw: int) -> np.ndarray:
    oh, ow = a.shape[:2]
    top, left = (oh - ch) // 2, (ow - cw) // 2
    bottom, right = top + ch, left + cw
    if top >= 0 and bottom <= oh and left >= 0 and right <= ow:
        return a[top:bottom, left:right]
    nh, nw = max(ch, oh), max(cw, ow)
    new = np.zeros((nh, nw) + a.shape[2:], dtype=a.dtype)
    tp, lp = math.ceil((nh - oh) / 2), math.ceil((nw - ow) / 2)
    new[tp : tp + oh, lp : lp + ow] = a
    top, bottom, left, right = top + tp, bottom + tp, left + lp, right + lp
    return new[max(0, top) : min(nh, bottom), max(0, left) : min(nw, right)]


def hf(img: Image.Image, d: dict, shape) -> np.ndarray:
    C, H, W = shape
    if d.get("do_resize", True) and "size" in d:
        img = img.resize(resize_size(img.width, img.height, d), resample=d.get("resample", 2))
    a = np.asarray(img).reshape(img.height, img.width, C)
    if d.get("do_center_crop", True):
        a = center_crop(a, H, W)
    if d.get("do_rescale", True):
        a = (a.astype(np.float64) * d.get("rescale_factor", 1 / 255)).astype(np.float32)
    else:
        a = a.astype(np.float32)
    if d.get("do_normalize", True):
        a = (a - np.array(d["image_mean"], dtype=np.float32)) / np.array(d["image_std"], dtype=np.float32)
    if d.get("do_pad"):
        h, w = a.shape[:2]
        value = np.array(d.get("pad_value", [0.0] * C), dtype=np.float32)
        top = (H - h) // 2 if d.get("pad_position") == "center" else 0
        left = (W - w) // 2 if d.get("pad_position") == "center" else 0
        out = np.empty((H, W, C), dtype=np.float32)
        out[:] = value
        out[top : top + h, left : left + w] = a
        a = out
    return np.ascontiguousarray(a.transpose(2, 0, 1))


IMAGENET = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
HALF = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
CLIP = {"image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}
RGB, GRAY = "rgb_150x100.png", "gray_97x61.png"
CASES = {
    # ViTImageProcessor: an exact resize, the aspect ratio not kept
    "vit exact": (RGB, [3, 40, 56], {"do_resize": True, "size": {"height": 40, "width": 56}, "resample": 2,
                                      "do_rescale": True, "rescale_factor": 0.00392156862745098,
                                      "do_normalize": True, **HALF}),
    # CLIPImageProcessor: bicubic shortest edge, HF's crop offsets (odd margins: 27 and 3)
    "clip bicubic": (RGB, [3, 45, 45], {"size": {"shortest_edge": 48}, "resample": 3, "do_center_crop": True,
                                         "crop_size": {"height": 45, "width": 45}, **CLIP}),
    # SamImageProcessor: longest edge, then padded after the bottom and right with 0
    "sam longest edge + pad": (RGB, [3, 64, 64], {"size": {"longest_edge": 64}, "do_pad": True,
                                                  "pad_size": {"height": 64, "width": 64}, "do_center_crop": False,
                                                  **IMAGENET}),
    # BEiT-style: an exact resize, then HF's centre crop (margins 15 and 5: floor 7 and 2, not 8 and 2)
    "exact then crop": (RGB, [3, 45, 45], {"size": {"height": 60, "width": 50}, "do_center_crop": True,
                                          "crop_size": {"height": 45, "width": 45}, **HALF}),
    "nearest, raw pixels": (RGB, [3, 33, 47], {"size": {"height": 33, "width": 47}, "resample": 0,
                                               "do_rescale": False, "do_normalize": False}),
    "lanczos": (RGB, [3, 40, 40], {"size": {"shortest_edge": 40}, "resample": 1,
                                   "crop_size": {"height": 40, "width": 40}, **HALF}),
    "box": (RGB, [3, 25, 31], {"size": {"height": 25, "width": 31}, "resample": 4, **IMAGENET}),
    "hamming": (RGB, [3, 25, 31], {"size": {"height": 25, "width": 31}, "resample": 5, **IMAGENET}),
    "rescale 1/127.5": (RGB, [3, 30, 30], {"size": {"height": 30, "width": 30}, "rescale_factor": 1 / 127.5,
                                           "image_mean": [1, 1, 1], "image_std": [1, 1, 1]}),
    # ConvNextImageProcessor below 384: shortest edge int(size / crop_pct), then cropped to size
    "convnext crop_pct": (RGB, [3, 35, 35], {"size": {"shortest_edge": 35}, "crop_pct": 0.875, "resample": 3,
                                             **IMAGENET}),
    # DETR's {max_height, max_width} (sides truncated), a fixed canvas padded bottom-right
    "max size + pad (text line)": (RGB, [3, 48, 192], {"size": {"max_height": 48, "max_width": 192},
                                                     "do_pad": True, "pad_size": {"height": 48, "width": 192},
                                                     "do_center_crop": False, **HALF}),
    # pss's own fields: a letterbox, centred, padded with a value
    "letterbox centred": (RGB, [3, 48, 96], {"size": {"max_height": 48, "max_width": 96}, "do_pad": True,
                                             "pad_position": "center", "pad_value": [-1, 0, 1],
                                             "do_center_crop": False, **HALF}),
    # do_resize false: a crop larger than the image is padded ceil before (1.5 → 2)
    "no resize, padded crop": (RGB, [3, 103, 153], {"do_resize": False, "size": {"shortest_edge": 10},
                                                   "crop_size": {"height": 103, "width": 153}, **IMAGENET}),
    "grey bicubic exact": (GRAY, [1, 20, 30], {"size": {"height": 20, "width": 30}, "resample": 3,
                                              "image_mean": [0.5], "image_std": [0.25]}),
}

SIZES = [(40, 27), (223, 149), (150, 61), (7, 5), (301, 100), (97, 200)]


def main() -> None:
    resample = {}
    for name, gray in ((RGB, False), (GRAY, True)):
        img = load(name, gray)
        for f in range(6):
            for w, h in SIZES:
                resample[f"{name}{':L' if gray else ''} {f} {w}x{h}"] = u8_ref(np.asarray(img.resize((w, h), f)))
    cases = {}
    for key, (name, shape, d) in CASES.items():
        t = hf(load(name, shape[0] == 1), d, shape)
        assert list(t.shape) == shape, (key, t.shape)
        cases[key] = {
            "file": name,
            "shape": shape,
            "description": d,
            "sha256": hashlib.sha256(t.astype("<f4").tobytes()).hexdigest(),
            "sum": [math.fsum(t[c].astype(np.float64).ravel()) for c in range(shape[0])],
        }
    import torchvision.transforms as T

    presets = {}
    for key, (resize, crop, interpolation) in {"efficientnet_b0": (256, 224, T.InterpolationMode.BICUBIC)}.items():
        tf = T.Compose([T.Resize(resize, interpolation), T.CenterCrop(crop), T.ToTensor(),
                        T.Normalize(IMAGENET["image_mean"], IMAGENET["image_std"])])
        t = tf(load(RGB, False)).numpy()
        presets[key] = {
            "file": RGB,
            "shape": list(t.shape),
            "sha256": hashlib.sha256(t.astype("<f4").tobytes()).hexdigest(),
            "sum": [math.fsum(t[c].astype(np.float64).ravel()) for c in range(t.shape[0])],
        }
    out = os.path.join(IMAGES, "hf_preprocess.json")
    with open(out, "w") as f:
        json.dump({"pillow": Image.__version__, "resample": resample, "presets": presets, "cases": cases}, f,
                  indent=1)
        f.write("\n")
    print(out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
