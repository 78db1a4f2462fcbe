"""The 3D pose prior: a second 3D estimate of the same person (MediaPipe's world landmarks in the app) that a
lifter may take beside the 2D pose (``LiftingConfig.prior`` / ``MartinezConfig.prior``).

A prior is given as (B, N, 3) root-relative joints in metres, in the model's axes (for MediaPipe's landmarks,
:meth:`lbi.crop.codec.InputCodec.encode_prior` puts them there). A joint that is absent (one MediaPipe cannot see) is
NaN; a sample whose prior is absent (a user's own 2D pose, no MediaPipe) is NaN everywhere, or at its root: the
model then answers from the 2D pose and the image alone.

What stays true of the encoding:

- only the prior's shape and orientation are read: it is scaled to a unit root-mean-square distance of the joints
  from the root (:func:`normalise_prior`), so a prior of another body size (MediaPipe's people are ~10 % small)
  changes nothing; the pose's size comes from the 2D pose and the image, as without a prior;
- an absent joint adds a learned "absent" vector to its keypoint token, a present one a learned projection of its
  normalised position; both start at zero, so a model fine-tuned from the paper's weights starts as that model;
- prior dropout (training only) withholds a share of the samples' priors and of their joints, so one set of weights
  serves with and without MediaPipe, and with the joints it cannot see left out.
"""

from __future__ import annotations

import torch
from torch import nn

#: the smallest root-mean-square joint distance (metres) a prior may have to be read as a pose
MIN_PRIOR_SIZE = 1e-3


def check_dropout(rate: float, joint_rate: float) -> None:
    """ValueError unless both prior dropout rates are shares, in [0, 1]."""
    for name, value in (("prior_dropout", rate), ("prior_joint_dropout", joint_rate)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} is a share, between 0 and 1, got {value}")


def prior_joints_present(prior: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) -> (B, N) bool: the joints of each prior that are there (finite), none where its root is not or
    where it has collapsed to a point."""
    joints = torch.isfinite(prior).all(dim=-1)
    clean = torch.nan_to_num(prior)
    relative = (clean - clean[:, :1]) * joints[..., None]
    size = relative.pow(2).sum(-1).sum(-1) / joints.sum(-1).clamp_min(1)
    whole = joints[:, 0] & (size > MIN_PRIOR_SIZE**2)
    return joints & whole[:, None]


def normalise_prior(prior: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, N, 3) metres -> the prior root-relative at unit RMS size over its present joints (zeros elsewhere) and
    (B, N) which joints are present."""
    present = prior_joints_present(prior)
    clean = torch.nan_to_num(prior)
    relative = (clean - clean[:, :1]) * present[..., None]
    size = (relative.pow(2).sum(-1).sum(-1) / present.sum(-1).clamp_min(1)).clamp_min(MIN_PRIOR_SIZE**2).sqrt()
    return relative / size[:, None, None], present


def drop_prior(prior: torch.Tensor, rate: float, joint_rate: float = 0.0) -> torch.Tensor:
    """Prior dropout: each sample's prior marked absent (NaN) with probability ``rate``, and each of its joints but
    the root with probability ``joint_rate`` (as the joints MediaPipe cannot see are withheld at inference)."""
    if rate <= 0 and joint_rate <= 0:
        return prior
    b, n, _ = prior.shape
    joints = torch.rand(b, n, device=prior.device) < joint_rate
    joints[:, 0] = False
    dropped = joints | (torch.rand(b, 1, device=prior.device) < rate)
    return torch.where(dropped[..., None], torch.full_like(prior, float("nan")), prior)


class PriorEmbedding(nn.Module):
    """Prior (B, N, 3) -> (B, N, d), added to the keypoint tokens: a two-layer MLP of each joint's normalised
    position where present, a learned vector where absent (both zero at initialisation); ``dropout`` and
    ``joint_dropout`` are prior dropout in training (:func:`drop_prior`)."""

    def __init__(self, dim: int, dropout: float = 0.0, joint_dropout: float = 0.0) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, dim), nn.GELU(), nn.Linear(dim, dim))
        self.absent = nn.Parameter(torch.zeros(dim))
        self.dropout, self.joint_dropout = dropout, joint_dropout

    def reset_parameters(self) -> None:
        """The zero start: the last layer and the absent vector at zero (after the model's own initialisation)."""
        last = self.mlp[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        nn.init.zeros_(self.absent)

    def forward(self, prior: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """``prior`` (B, N, 3) or None (absent for the whole batch) -> (B, N, d), shaped and typed like the keypoint
        tokens ``like``."""
        if prior is None:
            return self.absent.to(like.dtype).expand_as(like)
        if self.training:
            prior = drop_prior(prior, self.dropout, self.joint_dropout)
        joints, present = normalise_prior(prior.float())
        embedded = self.mlp(joints.to(like.dtype))
        return torch.where(present[..., None], embedded, self.absent.to(embedded.dtype))
