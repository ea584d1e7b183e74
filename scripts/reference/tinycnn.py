"""TinyCNN: the small parity model (input [B, 3, 29, 29], 10 classes).

Module declaration order fixes the state_dict / named_parameters order; do not reorder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=4, bias=True)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 32, 3, stride=1, padding=2, dilation=2, groups=32, bias=False)
        self.conv4 = nn.Conv2d(32, 48, 1, bias=True)
        self.bn4 = nn.BatchNorm2d(48)
        self.conv5 = nn.Conv2d(48, 64, 3, stride=2, padding=1, bias=False)
        self.bn5 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, stride=2, padding=1)  # 29 -> 15
        x = F.relu(self.bn2(self.conv2(x)))  # -> 8
        x = F.relu(self.conv3(x))
        x = F.relu(self.bn4(self.conv4(x)))  # 8
        x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)  # -> 4
        x = F.relu(self.bn5(self.conv5(x)))  # -> 2
        x = F.avg_pool2d(x, 3, stride=1, padding=1)  # count_include_pad=True, 2
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


INPUT_SHAPE = (3, 29, 29)
NUM_CLASSES = 10
