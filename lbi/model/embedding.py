"""Token embeddings: 2D pose -> keypoint tokens, feature map -> image tokens, and positions."""

from __future__ import annotations

import math

import torch
from torch import nn


def sine_embedding(y: torch.Tensor, x: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """Continuous 2D sine-cosine embedding of positions given as fractions of the crop's height and
    width (0 = top / left edge, 1 = bottom / right): (...,) and (...,) -> (..., dim).

    Half of the channels encode the row, half the column (DETR style), each as sin/cos pairs over
    geometrically spaced frequencies, on positions scaled to [0, 2*pi].
    """
    if dim % 4:
        raise ValueError(f"dim must be divisible by 4 for a 2D sine embedding, got {dim}")
    quarter = dim // 4
    freq = temperature ** (-torch.arange(quarter, dtype=torch.float32, device=x.device) / quarter)  # (dim/4,)
    y = (y.float() * 2 * math.pi)[..., None] * freq
    x = (x.float() * 2 * math.pi)[..., None] * freq
    return torch.cat([y.sin(), y.cos(), x.sin(), x.cos()], dim=-1)


def sine_positional_embedding(height: int, width: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """Fixed 2D sine-cosine embedding of a height x width token grid -> (height * width, dim), each
    token at its centre; grids of different sizes (stride 4 or 8 encoders) span the same range."""
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return sine_embedding(grid_y.reshape(-1), grid_x.reshape(-1), dim, temperature)


class PoseEmbedding(nn.Module):
    """J2d (B, N, 2) -> keypoint tokens T_J (B, N, d): a linear projection plus a learned
    per-joint embedding, so that tokens know which joint they are even when two coincide; and,
    with ``positional``, each joint's position as the image tokens' sine embedding (B, N, d), for
    the keypoint queries: a keypoint can then find its own place in the image by matching
    positions (a linear projection of (x, y) cannot express the sinusoids the image keys carry).
    Kept out of the tokens themselves, it cannot drown the joint embedding (as DETR's query
    positions). ``aspect`` is the crop's h / w, to turn crop-normalised coordinates into positions.
    """

    def __init__(self, num_joints: int, dim: int, positional: bool = False, aspect: float = 256 / 192) -> None:
        super().__init__()
        self.proj = nn.Linear(2, dim)
        self.joint = nn.Parameter(torch.zeros(num_joints, dim))
        nn.init.trunc_normal_(self.joint, std=0.02)
        self.positional, self.aspect, self.dim = positional, aspect, dim

    def forward(self, joints2d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """-> keypoint tokens (B, N, d) and their positions (B, N, d), or None without ``positional``."""
        tokens = self.proj(joints2d) + self.joint
        if not self.positional:
            return tokens, None
        x = (joints2d[..., 0] + 1) / 2  # x_n = 2 u / w - 1, y_n = 2 v / w - h / w  ->  u / w, v / h
        y = (joints2d[..., 1] + self.aspect) / (2 * self.aspect)
        return tokens, sine_embedding(y, x, self.dim).to(tokens.dtype)


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
