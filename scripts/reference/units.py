"""pss's unit table on a torchvision model (src/models/units.ts), for the fixture scripts and
the benchmark: the weights whose rows are units, in named_parameters order."""

from __future__ import annotations

import torch
from torchvision.models.swin_transformer import ShiftedWindowAttention


def unit_params(model):
    """[(name, heads)] of the weights whose rows are units, in named_parameters order: conv
    weights (4-D), nn.Linear weights, MultiheadAttention's in_proj_weight; heads > 0 for an
    in-projection (MultiheadAttention, Swin's qkv)."""
    linear, heads = set(), {}
    for name, m in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(m, torch.nn.Linear):
            linear.add(f"{prefix}weight")
        if isinstance(m, torch.nn.MultiheadAttention):
            linear.add(f"{prefix}in_proj_weight")
            heads[f"{prefix}in_proj_weight"] = m.num_heads
        if isinstance(m, ShiftedWindowAttention):
            heads[f"{prefix}qkv.weight"] = m.num_heads
    return [(n, heads.get(n, 0)) for n, p in model.named_parameters() if p.dim() == 4 or n in linear]
