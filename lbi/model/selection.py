"""Adaptive Feature Selection Module: keep the image tokens the keypoints attend to most."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


def retention_rate(retention) -> float:
    """The retention rate r as a float; raises ValueError unless it is a number in (0, 1] (the one check of r,
    for the model, the command lines and the app alike; usable as an argparse ``type``)."""
    try:
        r = float(retention)
    except (TypeError, ValueError):
        raise ValueError(f"the retention rate must be a number in (0, 1], got {retention!r}") from None
    if not 0.0 < r <= 1.0:  # NaN fails too
        raise ValueError(f"the retention rate must lie in (0, 1], got {retention!r}")
    return r


def kept_count(retention: float, num_tokens: int) -> int:
    """ceil(r * HW), at least 1; r must lie in (0, 1]."""
    return max(1, min(num_tokens, math.ceil(retention_rate(retention) * num_tokens - 1e-9)))


@dataclass
class Selection:
    tokens: torch.Tensor  # (B, k, d) kept image tokens
    pos: torch.Tensor  # (B, k, d) their positional embeddings
    indices: torch.Tensor  # (B, k) indices into the HW grid, highest score first
    scores: torch.Tensor  # (B, HW) head-averaged attention summed over keypoints


class FeatureSelection(nn.Module):
    """Ranks image tokens by the last stage-1 layer's attention, averaged over heads and summed
    over keypoints, and keeps the top ceil(r * HW) together with their positional embeddings."""

    def forward(self, attn: torch.Tensor, tokens: torch.Tensor, pos: torch.Tensor, retention: float) -> Selection:
        """attn (B, h, N, HW), tokens (B, HW, d), pos (1 or B, HW, d)."""
        scores = attn.mean(dim=1).sum(dim=1)  # (B, HW)
        k = kept_count(retention, scores.shape[1])
        indices = scores.topk(k, dim=1).indices  # (B, k)
        gather = indices[..., None].expand(-1, -1, tokens.shape[-1])
        kept = tokens.gather(1, gather)
        kept_pos = pos.expand(tokens.shape[0], -1, -1).gather(1, gather)
        return Selection(kept, kept_pos, indices, scores)
