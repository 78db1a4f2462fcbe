"""Token embeddings: 2D pose -> keypoint tokens, feature map -> image tokens, and positions."""

from __future__ import annotations

import math

import torch
from torch import nn


def sine_positional_embedding(height: int, width: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """Fixed 2D sine-cosine embedding of a height x width grid -> (height * width, dim).

    Half of the channels encode the row, half the column (DETR style), each as sin/cos pairs
    over geometrically spaced frequencies. Positions are normalised to [0, 2*pi] so that grids of
    different sizes (e.g. stride-4 vs stride-8 encoders) map to the same range.
    """
    if dim % 4:
        raise ValueError(f"dim must be divisible by 4 for a 2D sine embedding, got {dim}")
    quarter = dim // 4
    freq = temperature ** (-torch.arange(quarter, dtype=torch.float32) / quarter)  # (dim/4,)
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height * 2 * math.pi
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width * 2 * math.pi
    y = ys[:, None] * freq[None]  # (H, dim/4)
    x = xs[:, None] * freq[None]  # (W, dim/4)
    y = torch.cat([y.sin(), y.cos()], dim=1)[:, None, :].expand(height, width, dim // 2)
    x = torch.cat([x.sin(), x.cos()], dim=1)[None, :, :].expand(height, width, dim // 2)
    return torch.cat([y, x], dim=2).reshape(height * width, dim)


class PoseEmbedding(nn.Module):
    """J2d (B, N, 2) -> keypoint tokens T_J (B, N, d): a linear projection plus a learned
    per-joint embedding, so that tokens know which joint they are even when two coincide."""

    def __init__(self, num_joints: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(2, dim)
        self.joint = nn.Parameter(torch.zeros(num_joints, dim))
        nn.init.trunc_normal_(self.joint, std=0.02)

    def forward(self, joints2d: torch.Tensor) -> torch.Tensor:
        return self.proj(joints2d) + self.joint


class ImageEmbedding(nn.Module):
    """Feature map F_I (B, C, H, W) -> image tokens T_I (B, HW, d) and their positions (1, HW, d)."""

    def __init__(self, in_channels: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_channels, dim)
        self.dim = dim
        self._cache: dict[tuple, torch.Tensor] = {}

    def positions(self, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
        """(1, HW, d) on ``like``'s device and dtype, computed once per grid size."""
        key = (height, width, like.device, like.dtype)
        if key not in self._cache:
            self._cache[key] = sine_positional_embedding(height, width, self.dim).to(like)[None]
        return self._cache[key]

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, _, h, w = features.shape
        tokens = self.proj(features.flatten(2).transpose(1, 2))  # (B, HW, d)
        return tokens, self.positions(h, w, tokens)
