"""Classifiers as users write them (custom PyTorch modules, not torchvision families) for the
ONNX parity suite test/models/onnx-patterns.test.ts: the same machinery as onnx_families.py
(make_onnx_patterns.py runs make_onnx_families.py's steps on this list), each small for CI time.

Each pattern is a Case: its module, input shape (NHWC for `nhwc_sigmoid`), the opsets torch.onnx
(PyTorch 1.13) exports it at, and whether its fixture holds the second-order input gradient.
A module's `ending` is the activation it ends in; pss drops a final Softmax or Sigmoid and keeps
a LogSoftmax (src/models/onnx/inspect.ts), so the reference's logits are the scores pss reads.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from onnx_families import Case

ENDINGS = {"softmax": torch.softmax, "log_softmax": torch.log_softmax, "sigmoid": lambda s, _: torch.sigmoid(s)}


class Classifier(nn.Module):
    """scores(x), then the module's `ending`; with `pss_logits` set, the scores pss reads."""

    ending = "softmax"
    pss_logits = False

    def forward(self, x):
        s = self.scores(x)
        if self.pss_logits and self.ending != "log_softmax":
            return s
        return ENDINGS[self.ending](s, 1)


class NormsCNN(Classifier):
    """Dilated and grouped convs, GroupNorm, InstanceNorm2d(affine), LocalResponseNorm, SiLU,
    Hardswish, ELU, PReLU, Softplus, MaxPool ceil_mode, bilinear and nearest interpolation,
    avg_pool, amax over H and W, cat, F.normalize; log_softmax."""

    ending = "log_softmax"

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=2, dilation=2)
        self.gn = nn.GroupNorm(4, 16)
        self.grouped = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.inorm = nn.InstanceNorm2d(16, affine=True)
        self.lrn = nn.LocalResponseNorm(5, alpha=1e-2)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)  # 32 -> 16: the last window is partial
        self.conv = nn.Conv2d(16, 24, 3, padding=1)
        self.prelu = nn.PReLU(24)
        self.branch = nn.Conv2d(24, 8, 1)
        self.fc = nn.Linear(32, 10)

    def scores(self, x):
        x = F.silu(self.gn(self.stem(x)))
        x = F.hardswish(self.inorm(self.grouped(x)))
        x = self.pool(self.lrn(x))
        y = self.prelu(F.elu(self.conv(x)))
        small = F.avg_pool2d(y, 2)
        up = F.interpolate(small, scale_factor=2.0, mode="bilinear", align_corners=False)
        near = F.interpolate(F.softplus(self.branch(small)), scale_factor=2.0, mode="nearest")
        h = torch.amax(torch.cat([up, near], 1), dim=(2, 3))
        return self.fc(F.normalize(h, dim=1))


class Attention(Classifier):
    """Patch embedding, LayerNorm, nn.MultiheadAttention(batch_first=True) with a residual,
    mean over tokens; softmax."""

    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, 4, stride=4)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def scores(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)
        q = self.norm1(t)
        t = t + self.attn(q, q, q, need_weights=False)[0]
        return self.head(self.norm2(t).mean(1))


class Gated(Classifier):
    """Reflect-padded conv, selu, clamp, chunk into tanh-and-sigmoid gating, nn.Upsample
    (bilinear, align_corners), std and mean over H and W, an einsum head; softmax."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, padding_mode="reflect")
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.w = nn.Parameter(torch.zeros(10, 32))
        self.b = nn.Parameter(torch.zeros(10))

    def scores(self, x):
        x = torch.clamp(F.selu(self.conv1(x)), -1.5, 1.5)
        a, g = self.conv2(F.max_pool2d(x, 2)).chunk(2, dim=1)
        x = self.up(F.avg_pool2d(torch.tanh(a) * torch.sigmoid(g), 2))
        feat = torch.cat([x.std(dim=(2, 3)), x.mean(dim=(2, 3))], 1)
        return torch.einsum("bc,kc->bk", feat, self.w) + self.b


class ECA(Classifier):
    """ECA channel attention (Conv1d over the channel axis), PixelShuffle, ConvTranspose2d, and
    x.view(B, 1, -1).squeeze(1), which torch.onnx exports as an If at opset >= 11; softmax."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.eca = nn.Conv1d(1, 1, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.up = nn.ConvTranspose2d(8, 12, 2, stride=2)
        self.conv3 = nn.Conv2d(12, 16, 3, stride=4, padding=1)
        self.fc = nn.Linear(16, 10)

    def scores(self, x):
        x = F.relu(self.conv1(x))
        y = self.eca(x.mean((2, 3), keepdim=True).squeeze(-1).transpose(-1, -2))
        x = x * torch.sigmoid(y.transpose(-1, -2).unsqueeze(-1))
        x = self.up(self.shuffle(F.relu(self.conv2(x))))
        x = F.relu(self.conv3(F.relu(x))).mean((2, 3))
        return self.fc(x.view(x.size(0), 1, -1).squeeze(1))


class NHWC(Classifier):
    """An NHWC input (permuted to NCHW first), Conv-BN-ReLU blocks; sigmoid per class."""

    ending = "sigmoid"

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 10)

    def scores(self, x):
        x = x.permute(0, 3, 1, 2)
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(x.mean((2, 3)))


class ResNetD(Classifier):
    """timm's ResNet-D shortcut (AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False) on an
    odd size, then a 1x1 conv), a ceil-mode average pool that counts its padding, GroupNorm and
    Mish (torch.onnx 1.13 writes Mish as Softplus, Tanh, Mul)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1)  # 31 -> 16
        self.gn = nn.GroupNorm(4, 16)
        self.body = nn.Conv2d(16, 32, 3, stride=2, padding=1)  # 16 -> 8
        self.down = nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)
        self.shortcut = nn.Conv2d(16, 32, 1)
        self.pad_pool = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=True)
        self.fc = nn.Linear(32, 10)

    def scores(self, x):
        x = F.mish(self.gn(self.stem(x)))
        odd = x[:, :, 1:, 1:]  # 15 x 15: the last window of the shortcut's pool is partial
        x = F.relu(self.body(odd) + self.shortcut(self.down(odd)))
        return self.fc(self.pad_pool(x).mean((2, 3)))


def tiny_vit():
    return torchvision.models.vision_transformer.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, num_classes=10)


# Swin: swin_t is in onnx_families.py already. einsum exists from opset 12 only.
PATTERNS = {
    # at opset 9 torch.onnx exports bilinear interpolation as Upsample, which it warns does not match
    "norms_cnn": Case(NormsCNN, (1, 3, 32, 32), (13, 17)),
    "attention": Case(Attention, (1, 3, 32, 32), (9, 13, 17), input_gradient=True),
    "vit_tiny": Case(tiny_vit, (1, 3, 32, 32), (9, 13, 17)),
    "gated": Case(Gated, (1, 3, 32, 32), (13, 17), input_gradient=True),
    "eca": Case(ECA, (1, 3, 16, 16), (9, 13, 17)),
    "nhwc_sigmoid": Case(NHWC, (1, 32, 32, 3), (9, 13, 17), layout="NHWC"),
    "resnet_d": Case(ResNetD, (1, 3, 31, 31), (9, 13, 17)),
    # initializers listed as graph inputs, as older exporters and the ONNX model zoo have them
    "resnet18_legacy": Case(lambda: torchvision.models.resnet18(), (1, 3, 32, 32), (7, 8),
                            export={"keep_initializers_as_inputs": True}),
}
