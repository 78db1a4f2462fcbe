"""Two 3D estimates of one person, made into one: lbi's pose and MediaPipe's own 3D (its world landmarks).

On real photos the two make different errors (lbi's global orientation and depth are better, MediaPipe's pose
shape; docs/results.md), so a blend beats both. :func:`plain_fusion` is the blend without learning:

1. MediaPipe's pose is scaled to lbi's size (its people come out about 10 % small);
2. both poses turn to the orientation between theirs, ``weight`` of the way from lbi's towards MediaPipe's (the
   rotation between them from an orthogonal Procrustes fit, no scale; ``align="mid"``), so the blend mixes two
   shapes, never two orientations; ``align="lbi"`` keeps lbi's orientation (MediaPipe's pose turned onto it),
   ``"none"`` turns nothing;
3. the two are averaged joint by joint, ``weight`` (a number or one per joint) on MediaPipe's.

The estimator's fusions (:func:`fuse`) then give the blend lbi's bone lengths (:func:`with_bone_lengths`): the blend
decides where each bone points, the lifter (trained with a bone-length loss) how long it is; MediaPipe's people are
small and their hips narrow, and on renders its 3D is poor enough to bend a limb out of human proportions.

The learned alternative is a lifter that reads MediaPipe's pose as a prior (``LiftingConfig.prior``,
:mod:`lbi.model.prior`). Which one the estimator runs is its ``fusion`` setting (:data:`FUSIONS`).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from ..crop.codec import InputCodec
from ..geometry.skeleton import BONES

#: how the estimator combines its pose with MediaPipe's 3D (:func:`fuse`): "none" (the lifter alone; a prior-taking
#: model is told the prior is absent), "plain" (:func:`plain_fusion` of the lifter's pose, lifted without a prior,
#: and MediaPipe's), "learned" (a prior-taking image model reads MediaPipe's pose), "ensemble" (the plain blend
#: averaged with the pose of a lifting-only model that reads MediaPipe's pose: the estimator's ``prior_lifter``)
FUSIONS = ("none", "plain", "learned", "ensemble")
#: how plain fusion orients MediaPipe's pose before the blend (see the module's docstring)
ALIGNS = ("mid", "lbi", "none")
#: MediaPipe's share of the plain blend for a joint it sees surely; times its confidence per joint (docs/results.md)
PLAIN_WEIGHT = 0.5
#: the joints of MediaPipe's 3D it sees less surely than this are withheld from a learned fusion's prior
PRIOR_MIN_CONFIDENCE = 0.5
#: the prior lifter's share of the ensemble (the plain blend has the rest)
ENSEMBLE_SHARE = 0.5


def blend_weights(confidence: np.ndarray, weight: float = PLAIN_WEIGHT) -> np.ndarray:
    """MediaPipe's share of the plain blend per joint: ``weight`` times its confidence (visibility) in the joint."""
    return weight * np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)


def learned_prior(
    codec: InputCodec, world_mm: np.ndarray | None, confidence: np.ndarray, centre: np.ndarray, intrinsics: np.ndarray
) -> np.ndarray:
    """MediaPipe's 3D of one person (``Pose2D.world``, or None) -> the prior a model reads (17, 3): metres in the
    model's axes for the crop centred at ``centre``, NaN where absent or where MediaPipe is unsure of a joint
    (PRIOR_MIN_CONFIDENCE; the root stays: it is the origin of MediaPipe's pose, seen or not)."""
    if world_mm is None:
        return np.full((len(confidence), 3), np.nan, np.float32)
    prior = codec.encode_prior(world_mm, centre, intrinsics)
    unsure = np.asarray(confidence) < PRIOR_MIN_CONFIDENCE
    unsure[0] = False
    prior[unsure] = np.nan
    return prior


def procrustes_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation R (3, 3), det +1, that best turns root-relative ``source`` (N, 3) onto ``target``
    (least squares: ``source @ R.T ~ target``)."""
    u, _, vt = np.linalg.svd(source.T @ target)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def plain_fusion(
    pose_mm: np.ndarray, other_mm: np.ndarray, weight: float | np.ndarray = PLAIN_WEIGHT, align: str = "mid"
) -> np.ndarray:
    """lbi's pose and MediaPipe's (17, 3 each, mm, same axes) -> their blend, root-relative; ``weight``: MediaPipe's
    share, a number or (17,) per joint, in [0, 1]. Returns lbi's pose where MediaPipe's is not finite."""
    if align not in ALIGNS:
        raise ValueError(f"align must be one of {ALIGNS}, got {align!r}")
    pose = np.asarray(pose_mm, dtype=np.float64)
    pose = pose - pose[:1]
    other = np.asarray(other_mm, dtype=np.float64)
    if not np.isfinite(other).all():
        return pose
    other = other - other[:1]
    w = np.broadcast_to(np.asarray(weight, dtype=np.float64), (len(pose),))
    if ((w < 0) | (w > 1)).any():
        raise ValueError(f"blend weights must lie in [0, 1], got {weight}")
    size = np.linalg.norm(other)
    if size > 0:
        other = other * np.linalg.norm(pose) / size
    if align != "none":
        turn = Rotation.from_matrix(procrustes_rotation(other, pose)).as_rotvec()  # MediaPipe's -> lbi's
        share = float(w.mean()) if align == "mid" else 0.0  # where the blend's orientation lies
        other = other @ Rotation.from_rotvec(turn * (1 - share)).as_matrix().T
        pose = pose @ Rotation.from_rotvec(-turn * share).as_matrix().T
    return (1 - w[:, None]) * pose + w[:, None] * other


def fuse(
    fusion: str,
    pose_mm: np.ndarray,
    mediapipe_mm: np.ndarray | None,
    confidence: np.ndarray,
    learned_mm: np.ndarray | None = None,
    blend: float = PLAIN_WEIGHT,
) -> np.ndarray:
    """The pose a fusion answers with (17, 3, mm, root-relative, all in the same axes): the lifter's ``pose_mm``
    ("none", and "learned", whose lifter read MediaPipe's pose itself), its plain blend with MediaPipe's
    ``mediapipe_mm`` (weighted per joint by MediaPipe's ``confidence`` and ``blend``), or that blend averaged with
    a prior lifter's ``learned_mm`` ("ensemble"). Without MediaPipe's pose, the lifter's."""
    pose = np.asarray(pose_mm, dtype=np.float64)
    if fusion in ("none", "learned") or mediapipe_mm is None:
        return pose - pose[:1]
    fused = plain_fusion(pose, mediapipe_mm, blend_weights(confidence, blend))
    if fusion == "ensemble" and learned_mm is not None:
        learned = np.asarray(learned_mm, dtype=np.float64)
        fused = (1 - ENSEMBLE_SHARE) * fused + ENSEMBLE_SHARE * (learned - learned[:1])
    return with_bone_lengths(fused, pose)


def with_bone_lengths(pose_mm: np.ndarray, lengths_of: np.ndarray) -> np.ndarray:
    """``pose_mm`` (17, 3) with the bone lengths of ``lengths_of`` (17, 3): each bone keeps its direction and takes
    the other pose's length, from the root outwards (a bone of no direction takes the other pose's). Root-relative."""
    pose, other = np.asarray(pose_mm, dtype=np.float64), np.asarray(lengths_of, dtype=np.float64)
    out = np.zeros_like(pose)
    for child, parent in BONES:  # parents come before their children
        direction, reference = pose[child] - pose[parent], other[child] - other[parent]
        norm = np.linalg.norm(direction)
        out[child] = out[parent] + (direction / norm * np.linalg.norm(reference) if norm > 1e-9 else reference)
    return out
