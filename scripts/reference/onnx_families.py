"""The torchvision classification families of the ONNX parity suite (test/models/onnx-families.test.ts):
how each is built, at which input size, the opsets torch.onnx (PyTorch 1.13) exports it at,
and the deterministic weights of every floating state_dict entry.

Sizes are the smallest each architecture takes: 32x32 where the global pool allows, AlexNet at
224 (its AdaptiveAvgPool2d((6, 6)) exports only where the feature map is 6x6), Inception-v3 at
its minimum 75, Swin-T at 112 (4 windows per side in stage 1, so the shifted windows and their
attention mask are exercised). Real widths and depths except for the three transformers-era
families, kept small for CI time (their ops and graph patterns are those of the full models):
ViT-B/16's patch 16 and class token at image_size=32 (2x2 patches), 2 layers, width 64;
Swin-T's patch 4 and 7x7 windows with width 24 and depths 2-2-2-2; ConvNeXt-T's stem, blocks
and downsampling with widths 24-48-96-192 and depths 2-1-1-1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torchvision

import deterministic as det

M = torchvision.models
CN = torchvision.models.convnext.CNBlockConfig


def small_convnext():
    return M.convnext.ConvNeXt([CN(24, 48, 2), CN(48, 96, 1), CN(96, 192, 1), CN(192, None, 1)],
                               stochastic_depth_prob=0.1)


def small_swin():
    return M.swin_transformer.SwinTransformer(patch_size=[4, 4], embed_dim=24, depths=[2, 2, 2, 2],
                                              num_heads=[1, 2, 4, 8], window_size=[7, 7])


def small_vit():
    return M.vision_transformer.VisionTransformer(image_size=32, patch_size=16, num_layers=2, num_heads=4,
                                                  hidden_dim=64, mlp_dim=256)


@dataclass(frozen=True)
class Case:
    """One model of an ONNX parity suite: its constructor, input shape (batch 1), the opsets
    torch.onnx exports it at, whether its fixture holds explain's input gradient, the input's
    layout, and further torch.onnx.export keywords."""

    ctor: Callable[[], torch.nn.Module]
    shape: tuple
    opsets: tuple
    input_gradient: bool = False
    layout: str = "NCHW"
    export: dict = field(default_factory=dict)


def image(side: int) -> tuple:
    return (1, 3, side, side)


FAMILIES = {
    "alexnet": Case(lambda: M.alexnet(), image(224), (9, 13, 17)),
    "resnet18": Case(lambda: M.resnet18(), image(32), (9, 13, 17)),
    # at ImageNet's size: the bench's imported ONNX ResNet-50 too (bench/saliency.ts)
    "resnet50": Case(lambda: M.resnet50(), image(224), (17,)),
    "resnext50_32x4d": Case(lambda: M.resnext50_32x4d(), image(32), (9, 13, 17)),
    "wide_resnet50_2": Case(lambda: M.wide_resnet50_2(), image(32), (13,)),
    "squeezenet1_1": Case(lambda: M.squeezenet1_1(), image(64), (9, 13, 17)),
    "densenet121": Case(lambda: M.densenet121(), image(32), (9, 13, 17)),
    "inception_v3": Case(
        lambda: M.inception_v3(aux_logits=True, transform_input=True, init_weights=False), image(75), (9, 13, 17)
    ),
    "googlenet": Case(
        lambda: M.googlenet(aux_logits=False, transform_input=True, init_weights=False), image(32), (9, 13, 17)
    ),
    # torch.onnx 1.13 cannot export ShuffleNetV2's channel split (prim::ConstantChunk) at opset 9
    "shufflenet_v2_x0_5": Case(lambda: M.shufflenet_v2_x0_5(), image(32), (13, 17)),
    "mobilenet_v2": Case(lambda: M.mobilenet_v2(), image(32), (9, 13, 17)),
    "mobilenet_v3_small": Case(lambda: M.mobilenet_v3_small(), image(32), (9, 13, 17), input_gradient=True),
    "mnasnet0_5": Case(lambda: M.mnasnet0_5(), image(32), (9, 13, 17)),
    "efficientnet_b0": Case(lambda: M.efficientnet_b0(), image(32), (9, 13, 17)),
    "efficientnet_v2_s": Case(lambda: M.efficientnet_v2_s(), image(32), (9, 13, 17)),
    "regnet_y_400mf": Case(lambda: M.regnet_y_400mf(), image(32), (9, 13, 17)),
    "convnext_tiny": Case(small_convnext, image(32), (9, 13, 17), input_gradient=True),
    "vit_b_16": Case(small_vit, image(32), (9, 13, 17), input_gradient=True),
    # nor Swin's padding to whole windows (Pad with computed sizes) at opset 9
    "swin_t": Case(small_swin, image(112), (13, 17)),
}


def rule(name: str, shape) -> tuple:
    """How deterministic.py sets a state_dict entry: ('param',) where param_value has a rule
    (ranks 1, 2, 4), else ('affine', 0, 0.1): 0.1 * u (class tokens, position embeddings,
    layer scales)."""
    return ("param",) if len(shape) in (1, 2, 4) else ("affine", 0.0, 0.1)


def load_deterministic_all(model) -> list:
    """Every floating state_dict entry set deterministically (integer buffers such as Swin's
    relative_position_index untouched); returns [[name, shape, rule]]."""
    sd = model.state_dict()
    new, table = type(sd)(), []
    new._metadata = getattr(sd, "_metadata", None)  # module versions (MNASNet checks its own)
    for name, t in sd.items():
        if not t.is_floating_point():
            new[name] = t
            continue
        r = rule(name, t.shape)
        if r[0] == "param":
            v = det.param_value(name, t.shape)
        else:
            v = (r[1] + r[2] * det.u_array(name, t.shape)).astype(np.float32)
        new[name] = torch.from_numpy(v).to(t.dtype)
        table.append([name, list(t.shape), list(r)])
    model.load_state_dict(new)
    return table


def fold_candidates(model) -> list:
    """[conv, bn, eps] for each Conv2d directly followed by a BatchNorm2d of its width in
    module order (torchvision's Conv-BN pairs): where torch.onnx may fold the BN."""
    mods = list(model.named_modules())
    out = []
    for (a, m), (b, n) in zip(mods, mods[1:]):
        if isinstance(m, torch.nn.Conv2d) and isinstance(n, torch.nn.BatchNorm2d) and n.num_features == m.out_channels:
            out.append([a, b, float(n.eps)])
    return out


def relpos_tables(model) -> list:
    """[table, window_h, window_w] of each Swin attention: torch.onnx folds
    table[index].view(N, N, -1).permute(2, 0, 1).unsqueeze(0) into one constant."""
    out = []
    for name, m in model.named_modules():
        if hasattr(m, "relative_position_bias_table") and hasattr(m, "window_size"):
            out.append([f"{name}.relative_position_bias_table", int(m.window_size[0]), int(m.window_size[1])])
    return out


def fold(model, folds) -> None:
    """Folds each [conv, bn, eps] the export folded, with the formula the skeleton rebuilds
    (test/helpers/onnx.ts): scale = gamma / sqrt(var + eps) in float64, weight * scale and
    beta - mean * scale rounded once to float32. The BN becomes an Identity."""
    mods = dict(model.named_modules())
    for conv, bn, eps in folds:
        c, b = mods[conv], mods[bn]
        g, beta, mean, var = (t.detach().double() for t in (b.weight, b.bias, b.running_mean, b.running_var))
        scale = g / torch.sqrt(var + eps)
        w = (c.weight.detach().double() * scale[:, None, None, None]).float()
        bias = (beta - mean * scale).float()
        c.weight = torch.nn.Parameter(w.to(c.weight.dtype))
        c.bias = torch.nn.Parameter(bias.to(c.weight.dtype))
        parent, _, leaf = bn.rpartition(".")
        setattr(mods[parent] if parent else model, leaf, torch.nn.Identity())


def filter_params(model) -> list:
    """Names of the conv weights, in named_parameters order: those of the modules torch.onnx
    exports as Conv (nn.Conv1d, Conv2d, Conv3d), whose output channels are pss's filters. For
    torchvision's families these are the 4-D parameters; a ConvTranspose2d is not among them."""
    mods = dict(model.named_modules())
    conv = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    return [n for n, _ in model.named_parameters() if n.endswith(".weight") and isinstance(mods.get(n[:-7]), conv)]
