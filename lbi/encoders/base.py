"""The one interface every image encoder implements."""

from __future__ import annotations

import torch
from torch import nn

from ..crop.affine import normalize_image


class ImageEncoder(nn.Module):
    """Maps an RGB crop to a grid of feature tokens.

    Subclasses set ``out_channels`` and ``stride`` and implement :meth:`features`. Input images are
    RGB in [0, 1], shape (B, 3, H, W); each encoder applies its own input normalisation, so callers
    never need to know whether it expects ImageNet statistics or raw [0, 1] values.
    """

    out_channels: int
    stride: int
    #: input sides must be multiples of this (a trunk that downsamples further than ``stride``)
    size_multiple: int = 32
    #: per-channel (mean, std) applied to [0, 1] input; None leaves the input as is
    input_mean: tuple[float, float, float] | None = None
    input_std: tuple[float, float, float] | None = None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) normalised -> (B, C, H / stride, W / stride)."""
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (B, 3, H, W) RGB in [0, 1] -> feature grid (B, out_channels, H/s, W/s)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        h, w = images.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"image size {h}x{w}: both sides must be multiples of {self.size_multiple}")
        if self.input_mean is not None and self.input_std is not None:
            images = normalize_image(images, self.input_mean, self.input_std)
        return self.features(images)
