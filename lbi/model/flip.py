"""Left-right mirroring: flip augmentation while training and the flip test at inference.

A crop flipped left to right shows the person mirrored. In the axes of a virtual camera looking
through the crop centre (``frame="ray"``, the bundled weights) that mirror negates x, and it swaps
the left and right joints (:func:`mirror_joints`); in camera axes (``frame="camera"``) this holds
only approximately, for crops near the image centre. In the crop, pixel column ``u`` becomes ``w - 1 - u``
(OpenCV's pixel centres), so a 2D pose in crop-normalised coordinates (``x = 2u / w - 1``) goes
to ``-x - 2 / w`` (:func:`mirror_joints2d`).

Flip augmentation of a training batch is ``train.core.augment.mirror_batch``. The flip test runs the lifter on the
crop and on its mirror. It mirrors the second pose back and
averages the two:

    out = flip_test(model, images, joints2d)                          # from crops
    out = flip_test(model, None, joints2d, features, features_mirrored)  # from cached features

Attention, pruned patches and the stage-1 cache are those of the unflipped pass: that is what the
app shows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from ..crop.codec import InputCodec
from ..geometry.skeleton import flip_permutation
from .lifter import LiftingOutput, select_samples

_PERMUTATION = flip_permutation()


def mirror_joints(joints: torch.Tensor) -> torch.Tensor:
    """(..., 17, D) 2D or 3D joints -> their mirror image: x negated, left and right swapped."""
    mirrored = joints[..., _PERMUTATION, :].clone()
    mirrored[..., 0] = -mirrored[..., 0]
    return mirrored


def mirror_joints2d(joints2d: torch.Tensor, codec: InputCodec) -> torch.Tensor:
    """(..., 17, 2) 2D joints normalised by ``codec`` -> those of its crop flipped left to right."""
    mirrored = mirror_joints(joints2d)
    mirrored[..., 0] -= codec.pixels(1.0)  # u -> w - 1 - u
    return mirrored


@dataclass
class Mirrored:
    """A batch doubled for the flip test (:func:`with_mirrors`): the B inputs, then their B mirrors."""

    joints2d: torch.Tensor  # (2B, N, 2)
    images: torch.Tensor | None = None  # (2B, 3, h, w)
    features: torch.Tensor | None = None  # (2B, C, H, W)
    prior: torch.Tensor | None = None  # (2B, N, 3)


def with_mirrors(
    joints2d: torch.Tensor,
    codec: InputCodec,
    images: torch.Tensor | None = None,
    features: torch.Tensor | None = None,
    features_mirrored: torch.Tensor | None = None,
    prior: torch.Tensor | None = None,
) -> Mirrored:
    """Doubles a batch for the flip test: the B inputs, then their B mirrors. Cached ``features`` need the
    mirrored crops' ``features_mirrored``; a ``prior`` (B, N, 3) is mirrored like the target."""
    if features is not None and features_mirrored is None:
        raise ValueError("the flip test on cached features needs the mirrored crops' features too")
    return Mirrored(
        torch.cat([joints2d, mirror_joints2d(joints2d, codec)]),
        None if images is None else torch.cat([images, images.flip(-1)]),
        None if features is None or features_mirrored is None else torch.cat([features, features_mirrored]),
        None if prior is None else torch.cat([prior, mirror_joints(prior)]),
    )


def merge_mirrors(out: LiftingOutput) -> LiftingOutput:
    """The output of a doubled batch (:func:`with_mirrors`) -> that of the first B inputs, their
    coarse and refined poses averaged with their mirrors' (mirrored back). Attention, kept patches
    and the stage-1 cache are the unflipped pass's."""
    b = out.coarse.shape[0] // 2
    plain, mirrored = select_samples(out, slice(0, b)), select_samples(out, slice(b, 2 * b))
    return replace(
        plain,
        coarse=(plain.coarse + mirror_joints(mirrored.coarse)) / 2,
        refined=(plain.refined + mirror_joints(mirrored.refined)) / 2,
    )


def flip_test(
    model: nn.Module,
    images: torch.Tensor | None,
    joints2d: torch.Tensor,
    features: torch.Tensor | None = None,
    features_mirrored: torch.Tensor | None = None,
    retention: float | None = None,
    prior: torch.Tensor | None = None,
) -> LiftingOutput:
    """The model's output on the inputs, its coarse and refined poses averaged with those of the
    mirrored inputs (mirrored back), in one batch of 2B. ``images`` (B, 3, h, w) are flipped here;
    with cached ``features`` (B, C, H, W), the mirrored crops' ``features_mirrored`` are needed too."""
    both = with_mirrors(joints2d, InputCodec.for_model(model), images, features, features_mirrored, prior)
    return merge_mirrors(
        model(both.images, both.joints2d, retention=retention, features=both.features, prior=both.prior)
    )
