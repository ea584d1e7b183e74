#!/usr/bin/env python3
"""Image fixtures and torchvision references for pss's image input (test/image/).

    /usr/bin/python3 scripts/reference/make_image_fixtures.py [--shark PATH]

Writes
  test/fixtures/images/*.{jpg,png,webp,gif,tiff}   small synthetic images (gradient + shapes +
                                                  noise), one per format/mode, odd sizes included
  test/fixtures/images/reference.safetensors       torchvision's results for them (see below)
  src/image/imagenet-classes.ts                    the 1000 ImageNet class names, from
                                                  torchvision's ResNet50_Weights.IMAGENET1K_V1.meta

The reference side is exactly what a torchvision user gets:
  decode     PIL: Image.open(f).convert("RGB")  (torchvision's pil_loader)
  transform  Resize(r) -> CenterCrop(c) -> ToTensor() -> Normalize(mean, std)
             (cases "<file>:L<r>": convert("L") first, for one-channel models, FashionCNN's
             mean/std)
and pss deliberately differs in two documented places, which the references follow:
  * EXIF orientation is applied (ImageOps.exif_transpose before convert); torchvision's
    loader ignores it.
  * 16-bit greyscale PNGs are scaled by their high byte (v >> 8); PIL opens them in mode "I"
    and convert("RGB") clips every value above 255 to white.  v >> 8 is what PIL itself does
    for 16-bit RGB, RGBA and grey+alpha PNGs.

reference.safetensors holds, per case (an image and a transform):
  <case>.crop_sub  U8  [h, w, C]  every s-th pixel (s = "stride") of torchvision's 8-bit crop,
                                  the image ToTensor sees (ToTensor/Normalize are exact functions
                                  of it)
  <case>.tensor_sub F32 [C, h, w] the normalised tensor at every "tensor_stride"-th pixel (three
                                  cases: it checks ToTensor + Normalize bit for bit)
and in __metadata__["cases"] (JSON) the crop's SHA-256, shape, mean/std and per-channel float64 sums
(math.fsum) of the normalised float32 tensor; __metadata__["decoded"] has each image's decoded
size and the SHA-256 of its H x W x 3 uint8 pixels.  The hashes let the tests check every pixel
without storing the images' tensors.

With --shark (default ../shared/reference-data/great_white_shark_mispred_as_killer_whale.jpeg,
if present) the shark photo's references are added: hashes, per-channel sums and subsamples of
its crops (56 x 56 of the 224 x 224 one) only.  The photo itself is never copied.
Case keys: "<file>:<resize>" (square crop), "<file>:<resize>x<h>x<w>", "<file>:L<resize>".
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import struct
import zlib

import numpy as np
import torchvision
from PIL import Image, ImageDraw, ImageOps
from torchvision import transforms as T

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "images")
CLASSES_TS = os.path.join(ROOT, "src", "image", "imagenet-classes.ts")
SHARK = os.path.join(ROOT, "..", "shared", "reference-data", "great_white_shark_mispred_as_killer_whale.jpeg")

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
GRAY_MEAN = (0.286,)  # FashionCNN's (src/models/fashion.ts)
GRAY_STD = (0.353,)


# ------------------------------------------------------------------------------ images


def synthetic(w: int, h: int, seed: int, noise: float = 6.0) -> np.ndarray:
    """A smooth colour gradient, a few shapes, then Gaussian noise: H x W x 3 uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 128 + 100 * np.sin(2 * math.pi * (x / w + 0.7 * y / h) + seed)
    im = Image.fromarray(np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(im)
    d.ellipse([w * 0.15, h * 0.2, w * 0.55, h * 0.7], fill=(230, 40 + seed * 20, 60))
    d.rectangle([w * 0.6, h * 0.1, w * 0.9, h * 0.45], fill=(20, 30, 200 - seed * 10))
    d.polygon([(w * 0.5, h * 0.55), (w * 0.95, h * 0.95), (w * 0.3, h * 0.9)], fill=(250, 250, 30))
    d.line([(0, h - 1), (w - 1, 0)], fill=(0, 0, 0), width=3)
    d.line([(0, 0), (w - 1, h - 1)], fill=(255, 255, 255), width=1)
    a = np.asarray(im).astype(np.float64) + rng.normal(0, noise, (h, w, 3))
    return np.clip(np.round(a), 0, 255).astype(np.uint8)


def png16(a: np.ndarray, color_type: int) -> bytes:
    """A 16-bit PNG written by hand (PIL cannot save 16-bit RGB). a: H x W [x C] uint16."""
    h, w = a.shape[:2]
    raw = b"".join(b"\0" + np.ascontiguousarray(a[r]).astype(">u2").tobytes() for r in range(h))

    def chunk(t: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def icc_profile() -> bytes:
    """A small but valid ICC v2 RGB display profile, deliberately far from sRGB: linear (gamma 1)
    curves and sRGB's primaries rotated (R <- G <- B <- R).  A colour-managing decoder would change
    the colours a lot; PIL's convert("RGB") ignores the profile, and so must pss."""

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(x) + s15(y) + s15(z)

    text = b"pss test: gamma 1, rotated primaries"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text) + 1) + text + b"\0" + b"\0" * 8 + b"\0" * 3 + b"\0" * 67
    curv = b"curv\0\0\0\0" + struct.pack(">IH", 1, 256) + b"\0\0"  # gamma 1.0 (u8Fixed8)
    tags = [
        (b"desc", desc),
        (b"cprt", b"text\0\0\0\0" + b"public domain\0"),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.3851, 0.7169, 0.0971)),  # sRGB's green
        (b"gXYZ", xyz(0.1431, 0.0606, 0.7141)),  # sRGB's blue
        (b"bXYZ", xyz(0.4361, 0.2225, 0.0139)),  # sRGB's red
        (b"rTRC", curv),
        (b"gTRC", curv),
        (b"bTRC", curv),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
        + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def to16(a8: np.ndarray, seed: int) -> np.ndarray:
    """8-bit -> genuine 16-bit values (not multiples of 257, so the 16 -> 8 rule matters)."""
    rng = np.random.default_rng(seed)
    return (a8.astype(np.uint32) * 257 + rng.integers(-128, 128, a8.shape)).clip(0, 65535).astype(np.uint16)


def make_images() -> dict:
    """Writes the fixture images; returns {file: bytes}."""
    files: dict[str, bytes] = {}

    def save(name: str, im: Image.Image, fmt: str, **kw) -> None:
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        files[name] = b.getvalue()

    a = synthetic(300, 200, 1)
    b = synthetic(181, 257, 2)
    big = synthetic(640, 427, 3, noise=3.0)
    small = synthetic(150, 100, 4, noise=3.0)
    odd = synthetic(97, 61, 5, noise=3.0)

    save("rgb_300x200.jpg", Image.fromarray(a), "JPEG", quality=90)  # 4:2:0, baseline
    save("rgb_181x257_progressive.jpg", Image.fromarray(b), "JPEG", quality=85, progressive=True)
    save("rgb_640x427_444.jpg", Image.fromarray(big), "JPEG", quality=80, subsampling=0)
    save("gray_181x257.jpg", Image.fromarray(b).convert("L"), "JPEG", quality=85)
    # EXIF orientation 6 (rotate 90 clockwise to display) and 7 (transverse: mirror + rotate)
    for o in (6, 7):
        ex = Image.Exif()
        ex[0x0112] = o
        save(f"exif{o}_150x100.jpg", Image.fromarray(small), "JPEG", quality=90, exif=ex.tobytes())

    save("rgb_150x100.png", Image.fromarray(small), "PNG")
    alpha = np.tile(np.linspace(0, 255, odd.shape[1]).astype(np.uint8), (odd.shape[0], 1))
    alpha[:10] = 0  # fully transparent rows keep their colours: PIL's convert("RGB") shows them
    save("rgba_97x61.png", Image.fromarray(np.dstack([odd, alpha]), "RGBA"), "PNG")
    save("gray_97x61.png", Image.fromarray(odd).convert("L"), "PNG")
    la = np.dstack([np.asarray(Image.fromarray(odd).convert("L")), alpha[:, ::-1]])
    save("la_97x61.png", Image.fromarray(la, "LA"), "PNG")
    pal = Image.fromarray(odd).quantize(colors=64, dither=Image.Dither.NONE)
    save("palette_trns_97x61.png", pal, "PNG", transparency=3)
    files["rgb16_97x61.png"] = png16(to16(odd, 6), 2)
    files["gray16_97x61.png"] = png16(to16(np.asarray(Image.fromarray(odd).convert("L")), 7), 0)

    save("rgb_300x200_lossy.webp", Image.fromarray(a), "WEBP", quality=80)
    save("rgba_97x61_lossless.webp", Image.fromarray(np.dstack([odd, alpha]), "RGBA"), "WEBP", lossless=True)
    f1 = Image.fromarray(odd).quantize(colors=128, dither=Image.Dither.NONE)
    f2 = Image.fromarray(odd[::-1]).quantize(colors=128, dither=Image.Dither.NONE)
    save("anim_97x61.gif", f1, "GIF", save_all=True, append_images=[f2], duration=100, loop=0)
    save("icc_97x61.jpg", Image.fromarray(odd), "JPEG", quality=90, icc_profile=icc_profile())
    save("cmyk_97x61.jpg", Image.fromarray(odd).convert("CMYK"), "JPEG", quality=90)  # Adobe, inverted
    trns = Image.fromarray(odd).quantize(colors=32, dither=Image.Dither.NONE)
    save("trns_97x61.gif", trns, "GIF", transparency=int(np.asarray(trns)[30, 40]))
    save("rgb_97x61_deflate.tiff", Image.fromarray(odd), "TIFF", compression="tiff_adobe_deflate")

    os.makedirs(OUT, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    return files


# ------------------------------------------------------------------------- references


def decode(data: bytes, name: str) -> Image.Image:
    """torchvision's pil_loader, plus pss's two documented differences (see the docstring)."""
    im = Image.open(io.BytesIO(data))
    if name.startswith("gray16"):
        a = np.asarray(im).astype(np.uint32) >> 8
        return Image.fromarray(a.astype(np.uint8), "L").convert("RGB")
    im = ImageOps.exif_transpose(im)
    return im.convert("RGB")


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).hexdigest()


def reference(img: Image.Image, resize: int, crop, stride: int, with_tensor: bool, tensors: dict, key: str,
              gray: bool = False):
    """torchvision's eval transform of img; stores the subsamples in tensors, returns the metadata.
    gray: a one-channel model's pipeline (Fashion-MNIST's mean/std): convert("L") first."""
    mean, std = (GRAY_MEAN, GRAY_STD) if gray else (MEAN, STD)
    if gray:
        img = img.convert("L")
    cropped = T.CenterCrop(crop)(T.Resize(resize)(img))
    u8 = np.asarray(cropped).reshape(cropped.height, cropped.width, -1)  # H x W x C, what ToTensor sees
    x = T.Normalize(mean, std)(T.ToTensor()(cropped)).numpy()  # C x H x W float32
    assert x.dtype == np.float32
    tensors[f"{key}.crop_sub"] = np.ascontiguousarray(u8[::stride, ::stride])
    if with_tensor:  # every 8th pixel at most (the stride is stored as "tensor_stride")
        ts = max(stride, 8) if x.shape[1] > 64 else stride
        tensors[f"{key}.tensor_sub"] = np.ascontiguousarray(x[:, ::ts, ::ts])
    return {
        "resize": resize,
        "crop": list(crop) if isinstance(crop, (list, tuple)) else [crop, crop],
        "shape": list(x.shape),
        "stride": stride,
        **({"tensor_stride": ts} if with_tensor else {}),
        "crop_sha256": sha(u8),
        "mean": list(mean),
        "std": list(std),
        "sum": [math.fsum(x[c].astype(np.float64).ravel()) for c in range(x.shape[0])],
        "abs_sum": [math.fsum(np.abs(x[c].astype(np.float64)).ravel()) for c in range(x.shape[0])],
    }


# Transforms: ImageNet's Resize(256)+CenterCrop(224) for every image, plus more sizes on a few
# images: downscaling by 1.25x, about 3x and 7-15x (TinyCNN's 29), and a non-square crop whose
# offsets hit Python's round-half-to-even (12.5 -> 12, 38.5 -> 38).
EXTRA = {
    "rgb_300x200.jpg": [(160, 144), (64, 56), (29, 29), (128, (103, 115))],
    "rgb_640x427_444.jpg": [(160, 144), (29, 29)],
    "rgb_181x257_progressive.jpg": [(100, 90), (29, 29)],
    "rgb_150x100.png": [(64, 56), (29, 29), (300, 280)],
    "rgba_97x61.png": [(29, 29)],
}
WITH_TENSOR = {"rgb_300x200.jpg:256", "rgb_150x100.png:29", "rgb_300x200.jpg:L28"}
# One-channel models (convert("L"), then the transform): (resize, crop) per image.
GRAY = {
    "rgb_300x200.jpg": [(28, 28)],
    "rgb_181x257_progressive.jpg": [(28, 28)],
    "rgb_150x100.png": [(28, 28), (256, 224)],
    "rgba_97x61.png": [(28, 28)],
    "cmyk_97x61.jpg": [(28, 28)],
}


def write_safetensors(path: str, tensors: dict, metadata: dict) -> int:
    """Hand-written safetensors writer (F32 and U8); F32 tensors first, so they are aligned."""
    codes = {np.dtype("float32"): "F32", np.dtype("uint8"): "U8"}
    items = sorted(tensors.items(), key=lambda kv: -kv[1].dtype.itemsize)
    header: dict = {"__metadata__": metadata}
    off = 0
    for name, a in items:
        n = a.nbytes
        header[name] = {"dtype": codes[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _, a in items:
            f.write(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())
    return 8 + len(h) + off


def write_classes() -> None:
    names = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    assert len(names) == 1000
    # quoted as biome formats them: single quotes unless the name has one
    body = "\n".join(f"  {json.dumps(n) if chr(39) in n else chr(39) + n + chr(39)}," for n in names)
    with open(CLASSES_TS, "w") as f:
        f.write(
            "// Generated by scripts/reference/make_image_fixtures.py from torchvision 0.14's\n"
            '// ResNet50_Weights.IMAGENET1K_V1.meta["categories"]. Do not edit.\n\n'
            "/** The 1000 ImageNet-1k class names in torchvision's order (index = class id). */\n"
            f"export const IMAGENET_CLASSES: readonly string[] = Object.freeze([\n{body}\n]);\n"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shark", default=SHARK, help="the shark photo (optional; only derived data is stored)")
    args = ap.parse_args()

    files = make_images()
    tensors: dict = {}
    cases: dict = {}
    decoded: dict = {}
    for name, data in files.items():
        img = decode(data, name)
        decoded[name] = {"width": img.width, "height": img.height, "sha256": sha(np.asarray(img))}
        for resize, crop in [(256, 224)] + EXTRA.get(name, []):
            key = f"{name}:{resize}" + (f"x{crop[0]}x{crop[1]}" if isinstance(crop, tuple) else "")
            stride = 4 if name == "rgb_300x200.jpg" and resize == 256 else 8 if resize > 64 else 2
            cases[key] = {"file": name, **reference(img, resize, crop, stride, key in WITH_TENSOR, tensors, key)}
        for resize, crop in GRAY.get(name, []):
            key = f"{name}:L{resize}"
            stride = 8 if resize > 64 else 2
            cases[key] = {"file": name, **reference(img, resize, crop, stride, key in WITH_TENSOR, tensors, key, True)}

    if args.shark and os.path.exists(args.shark):
        with open(args.shark, "rb") as f:
            data = f.read()
        img = Image.open(io.BytesIO(data)).convert("RGB")  # torchvision's loader; no EXIF tag there
        decoded["shark"] = {"width": img.width, "height": img.height, "sha256": sha(np.asarray(img))}
        cases["shark:256"] = {"file": "shark", **reference(img, 256, 224, 4, False, tensors, "shark:256")}
        cases["shark:29"] = {"file": "shark", **reference(img, 29, 29, 1, False, tensors, "shark:29")}
        cases["shark:L28"] = {"file": "shark", **reference(img, 28, 28, 2, False, tensors, "shark:L28", True)}
    else:
        print("shark photo not found; its references are left out")

    meta = {
        "generator": "scripts/reference/make_image_fixtures.py",
        "torchvision": torchvision.__version__,
        "pillow": Image.__version__,
        "mean": json.dumps(MEAN),
        "std": json.dumps(STD),
        "decoded": json.dumps(decoded),
        "cases": json.dumps(cases),
    }
    size = write_safetensors(os.path.join(OUT, "reference.safetensors"), tensors, meta)
    write_classes()
    total = size + sum(len(d) for d in files.values())
    print(f"{len(files)} images ({sum(len(d) for d in files.values())} bytes), {len(cases)} cases")
    print(f"reference.safetensors: {size} bytes; fixtures in all: {total} bytes")


if __name__ == "__main__":
    main()
