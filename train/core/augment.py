"""What training does to a batch before the model sees it: the 2D input with a measured detector's errors, the 3D
prior with structured errors (models that read one), and left-right mirroring."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from lbi.crop.codec import InputCodec
from lbi.data.dataset import Batch
from lbi.model.flip import mirror_joints, mirror_joints2d

from .config import TrainingConfig
from .noise_2d import NoiseModel2D
from .prior_noise import PriorNoise


class Augment2D:
    """The 2D input seen in training: a share of each batch (and every sample whose detector found
    nobody) replaced by the ground truth with a measured detector's errors (``training.noise_model``),
    then Gaussian jitter (``noise_2d_px``)."""

    def __init__(self, training: TrainingConfig, codec: InputCodec) -> None:
        self.codec = codec
        self.gaussian = codec.pixels(training.noise_2d_px)
        self.model = NoiseModel2D.load(training.noise_model) if training.noise_model else None
        self.share = training.noise_model_share

    def __call__(self, batch: Batch, rng: np.random.Generator) -> torch.Tensor:
        joints2d = batch.joints2d
        if self.model is not None:
            pick = (rng.random(len(joints2d)) < self.share) | ~batch.detected.cpu().numpy()
            if pick.any():
                noisy = self.model.sample(batch.joints2d_gt_px[torch.from_numpy(pick)].cpu().numpy(), rng)
                joints2d = joints2d.clone()
                joints2d[torch.from_numpy(pick).to(joints2d.device)] = torch.from_numpy(self.codec.normalize(noisy)).to(
                    joints2d
                )
        if self.gaussian > 0:
            joints2d = joints2d + torch.randn_like(joints2d) * self.gaussian
        return joints2d


class AugmentPrior:
    """The 3D pose prior seen in training (models that take one): a ``prior_noise_share`` of each batch, and every
    sample without MediaPipe's 3D, gets the true pose with structured errors
    (:class:`train.core.prior_noise.PriorNoise`)
    instead."""

    def __init__(self, training: TrainingConfig) -> None:
        self.noise = PriorNoise(
            training.prior_bone_deg, training.prior_length_sd, training.prior_turn_deg, training.prior_jitter_mm
        )
        self.share = training.prior_noise_share

    def __call__(self, batch: Batch, rng: np.random.Generator) -> torch.Tensor | None:
        if batch.prior is None:
            return None
        has_own = torch.isfinite(batch.prior).flatten(1).all(dim=1).cpu().numpy()
        pick = torch.from_numpy((rng.random(len(has_own)) < self.share) | ~has_own)
        if not pick.any():
            return batch.prior
        generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        prior = batch.prior.clone()
        prior[pick.to(prior.device)] = self.noise.sample(batch.target[pick.to(prior.device)], generator).to(prior)
        return prior


def mirror_batch(batch: Batch, which: torch.Tensor, codec: InputCodec) -> Batch:
    """Flip augmentation: the samples of a training batch where ``which`` (B,) bool is set get
    their mirror image: 2D input ``joints2d`` (B, N, 2), ``target`` (B, N, 3), the 3D ``prior`` (B, N, 3) when
    there is one, and ``image`` (B, 3, h, w) flipped or ``features`` (B, C, H, W) replaced by ``features_mirrored``."""
    pick, pick_maps = which.view(-1, 1, 1), which.view(-1, 1, 1, 1)
    out = replace(
        batch,
        joints2d=torch.where(pick, mirror_joints2d(batch.joints2d, codec), batch.joints2d),
        target=torch.where(pick, mirror_joints(batch.target), batch.target),
        prior=None if batch.prior is None else torch.where(pick, mirror_joints(batch.prior), batch.prior),
    )
    if batch.features is not None:
        if batch.features_mirrored is None:
            raise ValueError("flip augmentation on cached features needs the mirrored crops' features too")
        return replace(out, features=torch.where(pick_maps, batch.features_mirrored, batch.features))
    if batch.image is not None:
        return replace(out, image=torch.where(pick_maps, batch.image.flip(-1), batch.image))
    return out
