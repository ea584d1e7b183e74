#!/usr/bin/env python3
"""Reference for pss's input-space heatmap post-processing (src/figures/heatmap.ts).

    /usr/bin/python3 scripts/reference/make_heatmap_fixture.py

Writes test/fixtures/figures/heatmap.safetensors (about 100 KB): a deterministic input-gradient
map M [3, H, W] (H = 40, W = 48, float32), an 8-bit RGB image, and what the original PSS code
(LevinRoman/parameter-space-saliency, parameter_and_input_saliency.py: save_gradients, and
utils.py: show_heatmap_on_image) computes from them, step by step:

    g = M.max(dim=channels)            # torch max: the largest *signed* value, then
    g = abs(g)
    g[g > percentile(g, 99)] = percentile(g, 99)     # numpy.percentile, linear interpolation;
    g[g < percentile(g, 90)] = percentile(g, 90)     # the 90th is taken AFTER the 99th clip
    g = (g - min(g)) / (max(g) - min(g))
    mask = GaussianBlur(1 - g, (3, 3), sigma)        # NB: the original blurs the INVERTED map
    heat = applyColorMap(uint8(255 * mask), JET)     # OpenCV: B, G, R channel order
    cam = heat / 255 + denormalised_image            # image in R, G, B order: channels swapped
    cam = cam / max(cam)

The original calls GaussianBlur with sigma = 0. For ksize 3 OpenCV then does NOT evaluate the
sigma formula (0.3 * ((3 - 1) * 0.5 - 1) + 0.8 = 0.8): getGaussianKernel returns its fixed
table for odd ksize <= 7 and sigma <= 0, i.e. [1/4, 1/2, 1/4]. A true sigma = 0.8 kernel is
[0.2390, 0.5220, 0.2390]. Both variants are written: "s0" (the original: fixed table) and
"s08" (sigma = 0.8).

cv2 (opencv-python) is not installed on the machine this project is built on, so this script
re-implements the two OpenCV functions in numpy, following OpenCV 4.x's source
(modules/imgproc/src/smooth.dispatch.cpp, filter.simd.hpp, colormap.cpp); if cv2 IS importable
it is used to cross-check them (exact equality of the LUT; blur within 1 float32 ulp).
  * GaussianBlur, float32 image: separable, row pass then column pass, border
    BORDER_REFLECT_101 (cv2's default; numpy's pad mode 'reflect'), float32 arithmetic in the
    order of OpenCV's SymmRowSmallFilter/SymmColumnSmallFilter for a symmetric 3-tap kernel
    [k1, k0, k1]:  out = S[0]*k0 + (S[-1] + S[+1])*k1. With the fixed table (k0 = 1/2, k1 = 1/4)
    both products are exact, so a fused multiply-add gives the same result; for sigma = 0.8 they
    are not, and OpenCV's SIMD path fuses them (differences of 1 ulp are possible).
  * COLORMAP_JET: the 256-entry r, g, b tables of colormap.cpp (Jet::init), the LUT built as
    OpenCV builds it: interp1 (float32) of the table at linspace(0, 1, 256) (float32, x0 + i*step),
    then convertTo(CV_8U, 255) = round-half-even of float32(v * 255). Output order B, G, R.

The de-normalised image is computed as the original does it: torchvision ToTensor + Normalize
(ImageNet mean/std) in float32, then its inv_transform_test (Normalize(0, 1/std) then
Normalize(-mean, 1)), float32.

Tensors (all C order):
  M        F32 [3, H, W]   the gradient map (noise, blobs, huge outliers, all-negative pixels)
  image    U8  [H, W, 3]   the RGB image
  lut      U8  [256, 3]    OpenCV's JET LUT, B, G, R per entry
  g        F32 [H, W]      the clipped, min-max normalised map (before inversion and blur)
  idx_s0   U8  [H, W]      uint8(255 * blurred mask), original kernel;  idx_s08: sigma = 0.8
  cam_s0   F32 [H, W, 3]   the final overlay (before any 8-bit conversion); cam_s08 likewise
__metadata__: p99 and p90 (repr of the float64 numpy.percentile results) and "percentile_cases":
a JSON list of [values, q, numpy.percentile(float32 values, q)] edge cases.
"""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np

H, W = 40, 48
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "figures", "heatmap.safetensors")

# colormap.cpp, class Jet: the 256-entry base map (float literals)
JET_R = [0.0] * 96 + [
    0.00588235294117645, 0.02156862745098032, 0.03725490196078418, 0.05294117647058827, 0.06862745098039214,
    0.084313725490196, 0.1000000000000001, 0.115686274509804, 0.1313725490196078, 0.1470588235294117,
    0.1627450980392156, 0.1784313725490196, 0.1941176470588235, 0.2098039215686274, 0.2254901960784315,
    0.2411764705882353, 0.2568627450980392, 0.2725490196078431, 0.2882352941176469, 0.303921568627451,
    0.3196078431372549, 0.3352941176470587, 0.3509803921568628, 0.3666666666666667, 0.3823529411764706,
    0.3980392156862744, 0.4137254901960783, 0.4294117647058824, 0.4450980392156862, 0.4607843137254901,
    0.4764705882352942, 0.4921568627450981, 0.5078431372549019, 0.5235294117647058, 0.5392156862745097,
    0.5549019607843135, 0.5705882352941174, 0.5862745098039217, 0.6019607843137256, 0.6176470588235294,
    0.6333333333333333, 0.6490196078431372, 0.664705882352941, 0.6803921568627449, 0.6960784313725492,
    0.7117647058823531, 0.7274509803921569, 0.7431372549019608, 0.7588235294117647, 0.7745098039215685,
    0.7901960784313724, 0.8058823529411763, 0.8215686274509801, 0.8372549019607844, 0.8529411764705883,
    0.8686274509803922, 0.884313725490196, 0.8999999999999999, 0.9156862745098038, 0.9313725490196076,
    0.947058823529412, 0.9627450980392158, 0.9784313725490197, 0.9941176470588236,
] + [1.0] * 64 + [
    0.9862745098039216, 0.9705882352941178, 0.9549019607843139, 0.93921568627451, 0.9235294117647062,
    0.9078431372549018, 0.892156862745098, 0.8764705882352941, 0.8607843137254902, 0.8450980392156864,
    0.8294117647058825, 0.8137254901960786, 0.7980392156862743, 0.7823529411764705, 0.7666666666666666,
    0.7509803921568627, 0.7352941176470589, 0.719607843137255, 0.7039215686274511, 0.6882352941176473,
    0.6725490196078434, 0.6568627450980391, 0.6411764705882352, 0.6254901960784314, 0.6098039215686275,
    0.5941176470588236, 0.5784313725490198, 0.5627450980392159, 0.5470588235294116, 0.5313725490196077,
    0.5156862745098039, 0.5,
]
JET_G = [0.0] * 32 + [
    0.001960784313725483, 0.01764705882352935, 0.03333333333333333, 0.0490196078431373, 0.06470588235294117,
    0.08039215686274503, 0.09607843137254901, 0.111764705882353, 0.1274509803921569, 0.1431372549019607,
    0.1588235294117647, 0.1745098039215687, 0.1901960784313725, 0.2058823529411764, 0.2215686274509804,
    0.2372549019607844, 0.2529411764705882, 0.2686274509803921, 0.2843137254901961, 0.3,
    0.3156862745098039, 0.3313725490196078, 0.3470588235294118, 0.3627450980392157, 0.3784313725490196,
    0.3941176470588235, 0.4098039215686274, 0.4254901960784314, 0.4411764705882353, 0.4568627450980391,
    0.4725490196078431, 0.4882352941176471, 0.503921568627451, 0.5196078431372548, 0.5352941176470587,
    0.5509803921568628, 0.5666666666666667, 0.5823529411764705, 0.5980392156862746, 0.6137254901960785,
    0.6294117647058823, 0.6450980392156862, 0.6607843137254901, 0.6764705882352942, 0.692156862745098,
    0.7078431372549019, 0.723529411764706, 0.7392156862745098, 0.7549019607843137, 0.7705882352941176,
    0.7862745098039214, 0.8019607843137255, 0.8176470588235294, 0.8333333333333333, 0.8490196078431373,
    0.8647058823529412, 0.8803921568627451, 0.8960784313725489, 0.9117647058823528, 0.9274509803921569,
    0.9431372549019608, 0.9588235294117646, 0.9745098039215687, 0.9901960784313726,
] + [1.0] * 64 + [
    0.9901960784313726, 0.9745098039215687, 0.9588235294117649, 0.943137254901961, 0.9274509803921571,
    0.9117647058823528, 0.8960784313725489, 0.8803921568627451, 0.8647058823529412, 0.8490196078431373,
    0.8333333333333335, 0.8176470588235296, 0.8019607843137253, 0.7862745098039214, 0.7705882352941176,
    0.7549019607843137, 0.7392156862745098, 0.723529411764706, 0.7078431372549021, 0.6921568627450982,
    0.6764705882352944, 0.6607843137254901, 0.6450980392156862, 0.6294117647058823, 0.6137254901960785,
    0.5980392156862746, 0.5823529411764707, 0.5666666666666669, 0.5509803921568626, 0.5352941176470587,
    0.5196078431372548, 0.503921568627451, 0.4882352941176471, 0.4725490196078432, 0.4568627450980394,
    0.4411764705882355, 0.4254901960784316, 0.4098039215686273, 0.3941176470588235, 0.3784313725490196,
    0.3627450980392157, 0.3470588235294119, 0.331372549019608, 0.3156862745098041, 0.2999999999999998,
    0.284313725490196, 0.2686274509803921, 0.2529411764705882, 0.2372549019607844, 0.2215686274509805,
    0.2058823529411766, 0.1901960784313728, 0.1745098039215689, 0.1588235294117646, 0.1431372549019607,
    0.1274509803921569, 0.111764705882353, 0.09607843137254912, 0.08039215686274526, 0.06470588235294139,
    0.04901960784313708, 0.03333333333333321, 0.01764705882352935, 0.001960784313725483,
] + [0.0] * 32
JET_B = [
    0.5, 0.5156862745098039, 0.5313725490196078, 0.5470588235294118, 0.5627450980392157, 0.5784313725490196,
    0.5941176470588235, 0.6098039215686275, 0.6254901960784314, 0.6411764705882352, 0.6568627450980392,
    0.6725490196078432, 0.6882352941176471, 0.7039215686274509, 0.7196078431372549, 0.7352941176470589,
    0.7509803921568627, 0.7666666666666666, 0.7823529411764706, 0.7980392156862746, 0.8137254901960784,
    0.8294117647058823, 0.8450980392156863, 0.8607843137254902, 0.8764705882352941, 0.892156862745098,
    0.907843137254902, 0.9235294117647059, 0.9392156862745098, 0.9549019607843137, 0.9705882352941176,
    0.9862745098039216,
] + [1.0] * 64 + [
    0.9941176470588236, 0.9784313725490197, 0.9627450980392158, 0.9470588235294117, 0.9313725490196079,
    0.915686274509804, 0.8999999999999999, 0.884313725490196, 0.8686274509803922, 0.8529411764705883,
    0.8372549019607844, 0.8215686274509804, 0.8058823529411765, 0.7901960784313726, 0.7745098039215685,
    0.7588235294117647, 0.7431372549019608, 0.7274509803921569, 0.7117647058823531, 0.696078431372549,
    0.6803921568627451, 0.6647058823529413, 0.6490196078431372, 0.6333333333333333, 0.6176470588235294,
    0.6019607843137256, 0.5862745098039217, 0.5705882352941176, 0.5549019607843138, 0.5392156862745099,
    0.5235294117647058, 0.5078431372549019, 0.4921568627450981, 0.4764705882352942, 0.4607843137254903,
    0.4450980392156865, 0.4294117647058826, 0.4137254901960783, 0.3980392156862744, 0.3823529411764706,
    0.3666666666666667, 0.3509803921568628, 0.335294117647059, 0.3196078431372551, 0.3039215686274508,
    0.2882352941176469, 0.2725490196078431, 0.2568627450980392, 0.2411764705882353, 0.2254901960784315,
    0.2098039215686276, 0.1941176470588237, 0.1784313725490199, 0.1627450980392156, 0.1470588235294117,
    0.1313725490196078, 0.115686274509804, 0.1000000000000001, 0.08431372549019622, 0.06862745098039236,
    0.05294117647058805, 0.03725490196078418, 0.02156862745098032, 0.00588235294117645,
] + [0.0] * 96
assert len(JET_R) == len(JET_G) == len(JET_B) == 256

f32 = np.float32


def jet_lut_bgr() -> np.ndarray:
    """cv::colormap::Jet's 8-bit LUT, [256, 3] in B, G, R order, as OpenCV 4.x builds it."""
    step = f32(1.0) / f32(255)  # linspace: float step = (x1 - x0) / (n - 1)
    X = [f32(0) + f32(f32(i) * step) for i in range(256)]
    lut = np.zeros((256, 3), np.uint8)
    for ch, table in enumerate((JET_B, JET_G, JET_R)):  # planes = {b, g, r}
        Y = [f32(v) for v in table]
        for i in range(256):
            if i == 0:
                yi = Y[0]  # binary search ends at low = 0, high = 1; (XI - X[0]) = 0
            else:  # XI == X[i] exactly: low = i - 1, high = i
                lo, hi = i - 1, i
                yi = f32(Y[lo] + f32(f32(f32(X[i] - X[lo]) * f32(Y[hi] - Y[lo])) / f32(X[hi] - X[lo])))
            lut[i, ch] = np.rint(f32(yi * f32(255)))  # convertTo(CV_8U, 255.): cvRound, half to even
    return lut


def gaussian_kernel3(sigma: float) -> tuple[np.float32, np.float32]:
    """cv::getGaussianKernel(3, sigma, CV_32F) -> (centre k0, side k1)."""
    if sigma <= 0:
        return f32(0.5), f32(0.25)  # small_gaussian_tab[1] = {0.25, 0.5, 0.25}
    scale2x = -0.5 / (sigma * sigma)
    cf = [f32(math.exp(scale2x * x * x)) for x in (-1.0, 0.0, 1.0)]
    s = 1.0 / (float(cf[0]) + float(cf[1]) + float(cf[2]))  # double sum of float terms
    return f32(float(cf[1]) * s), f32(float(cf[0]) * s)


def gaussian_blur3(a: np.ndarray, sigma: float) -> np.ndarray:
    """cv2.GaussianBlur(a, (3, 3), sigma) for float32 a: row pass, column pass, BORDER_REFLECT_101."""
    k0, k1 = gaussian_kernel3(sigma)
    p = np.pad(a, ((0, 0), (1, 1)), mode="reflect")  # numpy 'reflect' == BORDER_REFLECT_101
    rows = (p[:, 1:-1] * k0 + (p[:, :-2] + p[:, 2:]) * k1).astype(f32)
    p = np.pad(rows, ((1, 1), (0, 0)), mode="reflect")
    return (p[1:-1] * k0 + (p[:-2] + p[2:]) * k1).astype(f32)


def denormalised(image: np.ndarray) -> np.ndarray:
    """ToTensor + Normalize(ImageNet), then the original's inv_transform_test; float32 [H, W, 3]."""
    mean = np.array([0.485, 0.456, 0.406], f32)
    std = np.array([0.229, 0.224, 0.225], f32)
    x = (image.astype(f32) / f32(255) - mean) / std  # torchvision: float32 sub_, div_
    inv_std = np.array([1 / 0.229, 1 / 0.224, 1 / 0.225], f32)
    return ((x - f32(0)) / inv_std - (-mean)) / f32(1)


def original(M: np.ndarray, image: np.ndarray, sigma: float, lut: np.ndarray, use_cv2):
    g = M.max(axis=0)  # torch: grads.max(dim=1) -> values
    g = np.abs(g)
    p99 = np.percentile(g, 99)
    g[g > p99] = p99
    p90 = np.percentile(g, 90)
    g[g < p90] = p90
    g = (g - np.min(g)) / (np.max(g) - np.min(g))
    mask = np.ones_like(g) - g
    blurred = gaussian_blur3(mask, sigma)
    if use_cv2 is not None:
        theirs = use_cv2.GaussianBlur(mask, (3, 3), sigma)
        ulp = np.spacing(np.maximum(np.abs(theirs), f32(1e-30)))
        assert np.all(np.abs(theirs - blurred) <= ulp), "numpy GaussianBlur differs from cv2 by > 1 ulp"
    idx = np.uint8(255 * blurred)
    heat = lut[idx]  # == cv2.applyColorMap(idx, cv2.COLORMAP_JET): B, G, R
    heat = np.float32(heat) / 255
    cam = heat + np.float32(denormalised(image))
    cam = cam / np.max(cam)
    return p99, p90, g.astype(f32), idx, cam.astype(f32)


def fixture_map(rng: np.random.Generator) -> np.ndarray:
    M = rng.normal(0, 1e-3, size=(3, H, W)).astype(f32)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    for cy, cx, r, amp in [(10, 14, 4, 0.02), (28, 34, 6, -0.03), (20, 8, 3, 0.05), (33, 44, 3, 0.015)]:
        blob = amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        M += (blob * rng.uniform(0.3, 1.0, size=(3, 1, 1))).astype(f32)
    # pixels whose channels are all negative: max picks the least negative (abs of max != max abs)
    neg = rng.random((H, W)) < 0.05
    M[:, neg] = -np.abs(M[:, neg]) - f32(0.01)
    # huge outliers, beyond the 99th percentile
    for _ in range(12):
        M[rng.integers(0, 3), rng.integers(0, H), rng.integers(0, W)] = f32(rng.uniform(0.5, 2.0))
    # exact ties
    M[:, 0:3, 0:4] = f32(0.004)
    return M


def fixture_image(rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.stack([xx * 255 // (W - 1), yy * 255 // (H - 1), (xx + yy) * 255 // (H + W - 2)], axis=-1)
    noise = rng.integers(-20, 21, size=img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def percentile_cases() -> list:
    cases = []
    values = [
        [3.0],
        [1.0, 2.0],
        [2.0, 1.0, 1.0, 1.0, 5.0],
        [0.1, 0.7, 0.2, 0.9, 0.3, 0.3, 0.3],
        [float(v) for v in np.linspace(0, 1, 11, dtype=f32)],
        [float(v) for v in np.random.default_rng(5).random(203).astype(f32)],
    ]
    for v in values:
        a = np.array(v, f32)
        for q in (0, 1, 50, 90, 99, 100) if len(v) < 100 else (90, 99):
            cases.append([[float(x) for x in a], q, float(np.percentile(a, q))])
    return cases


def write_safetensors(path: str, tensors: dict, metadata: dict) -> int:
    """Hand-written safetensors writer (F32 and U8); F32 tensors first, so they are aligned."""
    codes = {np.dtype("float32"): "F32", np.dtype("uint8"): "U8"}
    items = sorted(tensors.items(), key=lambda kv: -kv[1].dtype.itemsize)
    header: dict = {"__metadata__": metadata}
    off = 0
    for name, a in items:
        header[name] = {"dtype": codes[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _, a in items:
            f.write(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())
    return 8 + len(h) + off


def main() -> None:
    try:
        import cv2  # noqa: F401
    except ImportError:
        cv2 = None
    rng = np.random.default_rng(20240607)
    M = fixture_map(rng)
    image = fixture_image(rng)
    lut = jet_lut_bgr()
    if cv2 is not None:
        ramp = np.arange(256, dtype=np.uint8).reshape(1, 256)
        assert np.array_equal(cv2.applyColorMap(ramp, cv2.COLORMAP_JET)[0], lut), "JET LUT differs from cv2"
    tensors = {"M": M, "image": image, "lut": lut}
    meta = {"H": str(H), "W": str(W), "cv2": "yes" if cv2 is not None else "no (numpy re-implementation)"}
    for tag, sigma in (("s0", 0.0), ("s08", 0.8)):
        p99, p90, g, idx, cam = original(M, image, sigma, lut, cv2)
        tensors[f"idx_{tag}"] = idx
        tensors[f"cam_{tag}"] = cam
        if tag == "s0":
            tensors["g"] = g
            meta["p99"], meta["p90"] = repr(float(p99)), repr(float(p90))
    meta["percentile_cases"] = json.dumps(percentile_cases())
    size = write_safetensors(OUT, tensors, meta)
    print(f"wrote {os.path.normpath(OUT)} ({size} bytes); cv2: {meta['cv2']}")
    sym = all(lut[i, 0] == lut[255 - i, 2] and lut[i, 1] == lut[255 - i, 1] for i in range(256))
    print("JET LUT: B[i] == R[255 - i] and G[i] == G[255 - i] for all i:", sym)
    print("LUT[0] (BGR):", lut[0].tolist(), "LUT[255]:", lut[255].tolist(), "LUT[128]:", lut[128].tolist())


if __name__ == "__main__":
    main()
