"""FashionCNN: the PyTorch twin of pss's `fashion-cnn` architecture (src/models/fashion.ts).

Same module names, parameter shapes and state_dict order as the TypeScript declaration:
conv1..conv5 (3x3, padding 1, no bias), each followed by bn1..bn5 and ReLU; 2x2 max pools
after conv2 and conv4; global average pool; dropout (identity at inference); fc.
Input [B, 1, 28, 28], normalised with the Fashion-MNIST training-set mean and std.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# Widths of the three stages (conv1/conv2, conv3/conv4, conv5). Keep in sync with fashion.ts.
WIDTHS = (16, 32, 128)
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# Per-pixel mean and std of the 60,000 training images (pixel / 255), rounded to 4 digits;
# train_fashion.py recomputes them and checks.
MEAN = 0.2860
STD = 0.3530


class FashionCNN(nn.Module):
    def __init__(self, num_classes: int = 10, widths=WIDTHS, dropout: float = 0.2):
        super().__init__()
        a, b, c = widths
        self.conv1 = nn.Conv2d(1, a, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(a)
        self.conv2 = nn.Conv2d(a, a, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(a)
        self.conv3 = nn.Conv2d(a, b, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(b)
        self.conv4 = nn.Conv2d(b, b, 3, padding=1, bias=False)
        self.bn4 = nn.BatchNorm2d(b)
        self.conv5 = nn.Conv2d(b, c, 3, padding=1, bias=False)
        self.bn5 = nn.BatchNorm2d(c)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.bn3(self.conv3(x)))
        x = F.relu(self.bn4(self.conv4(x)))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.bn5(self.conv5(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.dropout(x))
