"""The 3D pose prior seen in training: the true pose with structured errors of the size MediaPipe's world landmarks
make on real photos, instead of MediaPipe's own 3D on our renders (which is far worse there than on real photos:
a fusion trained on it learns to ignore the prior, on real photos too).

    noise = PriorNoise(bone_deg=15, length_sd=0.1, turn_deg=10, jitter_mm=10)
    prior = noise.sample(target, generator)   # (B, 17, 3) metres -> (B, 17, 3) metres, root-relative

The errors are those of a pose estimate, not of independent joints: each bone turns by its own random rotation
(so an error at the elbow carries the wrist with it), bones stretch or shrink, the whole pose turns a little, and
every joint jitters. The sizes are settings (``training.prior_*``) chosen on real validation photos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lbi.geometry.skeleton import PARENTS


def random_rotations(angle_sd_deg: float, count: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """(*count, 3, 3) rotations about uniformly random axes by angles ~ N(0, ``angle_sd_deg``) (Rodrigues)."""
    axis = torch.randn(*count, 3, generator=generator)
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    angle = torch.randn(*count, generator=generator) * math.radians(angle_sd_deg)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    cross = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).view(*count, 3, 3)
    sin, cos = angle.sin()[..., None, None], angle.cos()[..., None, None]
    return torch.eye(3).expand(*count, 3, 3) + sin * cross + (1 - cos) * cross @ cross


@dataclass(frozen=True)
class PriorNoise:
    """Structured errors of a 3D pose estimate; every size is a standard deviation."""

    bone_deg: float = 15.0  # each bone's direction
    length_sd: float = 0.1  # each bone's length, as a share of it
    turn_deg: float = 10.0  # the whole pose's orientation
    jitter_mm: float = 10.0  # each joint, after the above

    def sample(self, pose: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B, N, 3) root-relative poses in metres -> noisy copies, root-relative (on the CPU, float32)."""
        pose = pose.detach().float().cpu()
        b, n, _ = pose.shape
        parents = torch.tensor(PARENTS[1:])
        bones = pose[:, 1:] - pose[:, parents]  # (B, N-1, 3): joint j's bone from its parent
        turns = random_rotations(self.bone_deg, (b, n - 1), generator)
        stretch = 1 + torch.randn(b, n - 1, 1, generator=generator) * self.length_sd
        bones = (turns @ bones[..., None])[..., 0] * stretch.clamp_min(0.3)
        joints = [torch.zeros(b, 3)]
        for j in range(1, n):  # parents come before their children
            joints.append(joints[PARENTS[j]] + bones[:, j - 1])
        noisy = torch.stack(joints, dim=1) @ random_rotations(self.turn_deg, (b,), generator).transpose(-1, -2)
        noisy = noisy + torch.randn(b, n, 3, generator=generator) * self.jitter_mm / 1000.0
        return noisy - noisy[:, :1]
