"""Multi-head attention that also returns its attention map (needed for selection and display)."""

from __future__ import annotations

import torch
from torch import nn


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, L, d) -> (B, h, L, d/h)."""
    b, length, dim = x.shape
    return x.view(b, length, heads, dim // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, h, L, d/h) -> (B, L, d)."""
    b, h, length, dh = x.shape
    return x.transpose(1, 2).reshape(b, length, h * dh)


class MultiHeadAttention(nn.Module):
    """softmax(Q K^T / sqrt(d_head)) V with an output projection (Eq. 1).

    Returns the output (B, Lq, d) and the attention (B, heads, Lq, Lk); each row sums to 1 over Lk.
    Used both as MSA (keypoints among themselves) and MCA (keypoints query image tokens).
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = split_heads(self.q(query), self.heads)  # (B, h, Lq, dh)
        k = split_heads(self.k(key), self.heads)  # (B, h, Lk, dh)
        v = split_heads(self.v(value), self.heads)  # (B, h, Lk, dh)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)  # (B, h, Lq, Lk)
        out = merge_heads(self.drop(attn) @ v)
        return self.proj(out), attn


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, mlp_ratio: float, dropout: float = 0.0) -> None:
        hidden = int(dim * mlp_ratio)
        super().__init__(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout)
        )
