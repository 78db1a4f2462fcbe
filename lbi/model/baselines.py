"""Baselines for side-by-side comparison with LiftingByImage.

- :class:`MartinezMLP`: the lifting-only network of Martinez et al. (2017), which sees no image.
- The "straightforward image-based model" (three plain TLs) is LiftingByImage with
  :func:`lbi.model.lifter.plain_image_config`, so it shares every line of code with the real model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..crop.codec import DEFAULT_CROP_SIZE, InputCodec
from .dict_config import DictConfig
from .lifter import LiftingOutput
from .prior import check_dropout, drop_prior, normalise_prior


@dataclass
class MartinezConfig(DictConfig):
    num_joints: int = 17
    hidden: int = 1024
    blocks: int = 2
    dropout: float = 0.5
    #: (w, h) of the crop whose normalised coordinates the 2D input is given in
    crop_size: tuple[int, int] = DEFAULT_CROP_SIZE
    #: axes of the predicted pose (see LiftingConfig)
    frame: str = "camera"
    #: also read a 3D pose prior (lbi.model.prior): its normalised joints and whether it is there join the input
    prior: bool = False
    #: prior dropout in training (see LiftingConfig)
    prior_dropout: float = 0.2
    prior_joint_dropout: float = 0.1

    def __post_init__(self) -> None:
        w, h = self.crop_size
        self.crop_size = InputCodec((w, h), self.frame).crop_size
        check_dropout(self.prior_dropout, self.prior_joint_dropout)


class _ResidualBlock(nn.Module):
    def __init__(self, hidden: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class MartinezMLP(nn.Module):
    """J2d (B, N, 2) -> J3d (B, N, 3) with a residual MLP; same call signature as LiftingByImage
    (images and retention are accepted and ignored) so training code treats both alike. With ``config.prior``
    the input also holds the prior's normalised joints (zeros where absent) and a flag per joint saying whether
    it is there."""

    arch = "martinez"

    def __init__(self, config: MartinezConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or MartinezConfig()
        n = config.num_joints
        inputs = n * 2 + (n * 4 if config.prior else 0)
        self.inp = nn.Sequential(
            nn.Linear(inputs, config.hidden),
            nn.BatchNorm1d(config.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
        )
        self.blocks = nn.Sequential(*(_ResidualBlock(config.hidden, config.dropout) for _ in range(config.blocks)))
        self.out = nn.Linear(config.hidden, n * 3)

    def forward(
        self,
        images: torch.Tensor | None,
        joints2d: torch.Tensor,
        retention: float | None = None,
        features: torch.Tensor | None = None,
        prior: torch.Tensor | None = None,
    ) -> LiftingOutput:
        b, n, _ = joints2d.shape
        x = joints2d.reshape(b, n * 2)
        if self.config.prior:
            config = self.config
            prior = torch.full((b, n, 3), float("nan"), device=x.device) if prior is None else prior
            if self.training:
                prior = drop_prior(prior, config.prior_dropout, config.prior_joint_dropout)
            joints, present = normalise_prior(prior)
            x = torch.cat([x, joints.reshape(b, n * 3).to(x.dtype), present.to(x.dtype)], dim=1)
        pose = self.out(self.blocks(self.inp(x))).view(b, n, 3)
        return LiftingOutput(coarse=pose, refined=pose)
