"""PyTorch references for the operators imported ONNX models use (src/ops: activations,
normalisers, gathers and scatters, Resize), read by test/ops/forward.test.ts.

Per case NAME: the float32 inputs `NAME/x0`, `NAME/x1`, ...; the float64 output `NAME/y`
(PyTorch float64 on the same float32 inputs) with its float32 noise floor (PyTorch float32
against float64, noise_floor.py) in the metadata. Cases at the kinks and ties of piecewise
ops also store `NAME/dx0`, ... : PyTorch's float64 gradient of sum(y), which shows the
side each rule takes there (e.g. max(a, a) gives 1/2 to each).
Writes test/fixtures/ops/torch_ops.safetensors (60 KB, 2 s).

    /usr/bin/python3 scripts/reference/make_ops_fixture.py
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_fixtures import write_safetensors  # noqa: E402
from noise_floor import floor_metadata, floor_of, summary  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "ops", "torch_ops.safetensors")
rs = np.random.RandomState(15)
tensors, floors = {}, {}


def normal(*shape):
    return rs.standard_normal(shape).astype(np.float32)


def uniform(lo, hi, *shape):
    return rs.uniform(lo, hi, shape).astype(np.float32)


def case(name, fn, *inputs, grad=False):
    """fn on the float32 inputs in float64 (the reference) and float32 (its noise floor)."""
    xs64 = [torch.tensor(x, dtype=torch.float64, requires_grad=grad) for x in inputs]
    y64 = fn(*xs64)
    with torch.no_grad():
        y32 = fn(*[torch.tensor(x) for x in inputs])
    for i, x in enumerate(inputs):
        tensors[f"{name}/x{i}"] = x
    tensors[f"{name}/y"] = y64.detach().numpy()
    floors[f"{name}/y"] = floor_of(y32.numpy(), y64.detach().numpy())
    if grad:
        dxs = torch.autograd.grad(y64.sum(), xs64, allow_unused=True)
        for i, dx in enumerate(dxs):
            tensors[f"{name}/dx{i}"] = (torch.zeros_like(xs64[i]) if dx is None else dx).numpy()


# ---- activations and pointwise maths
x = normal(2, 3, 4, 5) * 2
case("erf", torch.erf, x)
case("tanh", torch.tanh, x)
case("softplus", F.softplus, x)
case("gelu", F.gelu, x)
case("gelu_tanh", lambda v: F.gelu(v, approximate="tanh"), x)
case("hardsigmoid", F.hardsigmoid, x * 2)
case("hardswish", F.hardswish, x * 2)
case("elu", lambda v: F.elu(v, 1.3), x)
case("selu", F.selu, x)
case("leaky_relu", lambda v: F.leaky_relu(v, 0.1), x)
case("prelu", F.prelu, x, uniform(0.05, 0.5, 3))
case("pow", torch.pow, uniform(0.2, 3, 3, 4), normal(4))
case("pow_int", lambda v: torch.pow(v, 3), normal(10))
signs = np.array([1, -1, 1, -1, -1, 1], dtype=np.float32)
case("remainder", torch.remainder, normal(4, 6) * 5, uniform(0.5, 2, 6) * signs)
case("fmod", torch.fmod, normal(4, 6) * 5, uniform(0.5, 2, 6) * signs)
case("maximum", lambda a, b, c: torch.maximum(torch.maximum(a, b), c), normal(2, 4), normal(4), normal(2, 1))

# ---- at the kinks and ties: the gradient PyTorch takes there
kinks = np.array([-3, -2.5, 0, 2.5, 3, -4, 4, 0.5], dtype=np.float32)
case("hardsigmoid_kinks", F.hardsigmoid, kinks, grad=True)
case("hardswish_kinks", F.hardswish, kinks, grad=True)
zero_and_more = np.array([0, -1, 1, 0], dtype=np.float32)
case("leaky_relu_kinks", lambda v: F.leaky_relu(v, 0.1), zero_and_more, grad=True)
case("elu_kinks", lambda v: F.elu(v, 1.3), zero_and_more, grad=True)
case("selu_kinks", F.selu, zero_and_more, grad=True)
case("prelu_kinks", F.prelu, zero_and_more.reshape(1, 4), np.array([0.25], dtype=np.float32), grad=True)
ties = np.array([1, 2, 3, -1], dtype=np.float32)
case("maximum_ties", torch.maximum, ties, np.array([1, 0, 3, -1], dtype=np.float32), grad=True)
case("minimum_ties", torch.minimum, ties, np.array([1, 5, 3, 0], dtype=np.float32), grad=True)
rows = np.array([[1, 3, 3, 0], [2, 2, 2, 2]], dtype=np.float32)
case("amax_ties", lambda v: torch.amax(v, 1), rows, grad=True)
case("amin_ties", lambda v: torch.amin(v, 1), -rows, grad=True)
case("global_max_ties", lambda v: F.adaptive_max_pool2d(v, 1), rows.reshape(1, 2, 2, 2), grad=True)
case("norm_zero", lambda v: torch.linalg.vector_norm(v, dim=1), np.array([[0, 0], [3, 4]], dtype=np.float32),
     grad=True)
case("pow_zero", torch.pow, np.array([0, 0, 2, 0], dtype=np.float32), np.array([0, 2, 0, 0.5], dtype=np.float32),
     grad=True)

# ---- normalisers and reductions
case("layer_norm", lambda v, w, b: F.layer_norm(v, [5], w, b), x, normal(5), normal(5))
case("layer_norm_2d", lambda v, w, b: F.layer_norm(v, [4, 5], w, b, eps=1e-3), x, normal(4, 5), normal(4, 5))
case("instance_norm", lambda v, w, b: F.instance_norm(v, weight=w, bias=b), x, normal(3), normal(3))
case("lrn", lambda v: F.local_response_norm(v, 5), normal(2, 7, 3, 3) * 10)
case("lrn_strong", lambda v: F.local_response_norm(v, 3, alpha=0.5, beta=0.6, k=2), normal(2, 4, 3, 3))
case("reduce_l2", lambda v: torch.linalg.vector_norm(v, dim=(2, 3), keepdim=True), x)
case("reduce_min", lambda v: torch.amin(v, 1), x)
case("global_max_pool", lambda v: F.adaptive_max_pool2d(v, 1), x)

# ---- data movement at constant indices
m = normal(4, 5)
case("tile", lambda v: v.repeat(2, 3), m)
case("gather", lambda v: v[:, [3, 0, 3, 4]].reshape(4, 2, 2), m)
case("gather_elements", lambda v: torch.gather(v, 1, torch.tensor([[0, 2], [2, 1], [4, 0], [1, 1]])), m)
case("gather_nd", lambda v: v[[2, 0, 3], [1, 4, 4]], m)
case("scatter_elements", lambda v, u: v.scatter(1, torch.tensor([[0, 2], [3, 1], [4, 0], [1, 2]]), u), m, normal(4, 2))
case("scatter_elements_add", lambda v, u: v.scatter_add(0, torch.tensor([[0, 2, 2, 1, 0], [0, 0, 0, 3, 3]]), u),
     m, normal(2, 5))
case("scatter_nd", lambda v, u: v.index_put((torch.tensor([3, 1]),), u), m, normal(2, 5))
case("scatter_nd_add", lambda v, u: v.index_put((torch.tensor([0, 2, 0]), torch.tensor([1, 1, 1])), u, accumulate=True),
     m, normal(3))

# ---- resizing, as torch.onnx exports F.interpolate
img = normal(2, 3, 5, 4)
case("nearest_x2", lambda v: F.interpolate(v, scale_factor=2, mode="nearest"), img)
case("nearest_sizes", lambda v: F.interpolate(v, size=(7, 3), mode="nearest"), img)
case("nearest_exact", lambda v: F.interpolate(v, size=(3, 7), mode="nearest-exact"), img)
case("bilinear", lambda v: F.interpolate(v, size=(7, 3), mode="bilinear", align_corners=False), img)
case("bilinear_scales", lambda v: F.interpolate(v, scale_factor=(1.5, 2.5), mode="bilinear", align_corners=False),
     img)
case("bilinear_down", lambda v: F.interpolate(v, size=(2, 3), mode="bilinear", align_corners=False), img)
case("bilinear_align_corners", lambda v: F.interpolate(v, size=(8, 6), mode="bilinear", align_corners=True), img)

if __name__ == "__main__":
    meta = {"torch": torch.__version__, **floor_metadata(floors)}
    n = write_safetensors(OUT, tensors, meta)
    summary("torch_ops", {k: v for k, v in list(floors.items())[:6]})
    print(f"wrote {OUT}: {len(floors)} cases, {n} bytes")
