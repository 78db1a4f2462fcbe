"""A tiny convolutional encoder for fast tests and CPU experiments (no pretraining)."""

from __future__ import annotations

import torch
from torch import nn

from .base import ImageEncoder


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallCNNEncoder(ImageEncoder):
    """Four 3x3 conv blocks, two of them strided: (B, 3, H, W) -> (B, width, H/4, W/4)."""

    stride = 4
    size_multiple = 4
    input_mean = (0.5, 0.5, 0.5)
    input_std = (0.25, 0.25, 0.25)

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.out_channels = width
        self.body = nn.Sequential(
            _block(3, width // 2, 2), _block(width // 2, width, 1), _block(width, width, 2), _block(width, width, 1)
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
