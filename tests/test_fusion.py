"""MediaPipe's 3D joining lbi's: the plain fusion, the prior a lifter reads, prior dropout, and the estimator's
fusion setting."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from lbi.crop.codec import InputCodec
from lbi.model import LiftingByImage, LiftingConfig, MartinezConfig, MartinezMLP
from lbi.model.flip import flip_test, mirror_joints, mirror_joints2d
from lbi.model.prior import PriorEmbedding, drop_prior, normalise_prior
from lbi.pipeline.fusion import PRIOR_MIN_CONFIDENCE, blend_weights, learned_prior, plain_fusion, procrustes_rotation


@pytest.fixture
def pose() -> np.ndarray:
    """A root-relative 17-joint pose in mm, not symmetric (so a rotation is determined)."""
    rng = np.random.default_rng(0)
    joints = rng.normal(0, 300, (17, 3))
    return joints - joints[:1]


def turned(pose: np.ndarray, degrees: float, axis=(0, 1, 0)) -> np.ndarray:
    return pose @ Rotation.from_rotvec(np.radians(degrees) * np.asarray(axis, float)).as_matrix().T


def test_procrustes_finds_a_known_rotation(pose):
    rotation = Rotation.from_rotvec([0.2, -0.5, 0.3]).as_matrix()
    np.testing.assert_allclose(procrustes_rotation(pose, pose @ rotation.T), rotation, atol=1e-9)


def test_plain_fusion_blends_shapes_not_orientations(pose):
    mediapipe = 0.9 * turned(pose, 40)  # the same shape, smaller and turned 40 degrees about y
    np.testing.assert_allclose(plain_fusion(pose, mediapipe, 0.5, align="lbi"), pose, atol=1e-6)
    np.testing.assert_allclose(plain_fusion(pose, mediapipe, 0.5, align="mid"), turned(pose, 20), atol=1e-6)
    np.testing.assert_allclose(plain_fusion(pose, mediapipe, 0.25, align="mid"), turned(pose, 10), atol=1e-6)
    np.testing.assert_allclose(plain_fusion(pose, mediapipe, 0.0), pose, atol=1e-9)
    # without turning, two orientations averaged: the limbs shrink (what "mid" avoids)
    unturned = plain_fusion(pose, mediapipe, 0.5, align="none")
    assert np.linalg.norm(unturned) < 0.99 * np.linalg.norm(pose)


def test_plain_fusion_takes_a_weight_per_joint(pose):
    other = pose.copy()
    other[13] += [0.0, 200.0, 0.0]  # MediaPipe disagrees about the left wrist
    weights = np.zeros(17)
    weights[13] = 1.0
    fused = plain_fusion(pose, other, weights, align="none")
    scale = np.linalg.norm(pose) / np.linalg.norm(other)  # MediaPipe's pose is scaled to lbi's size first
    np.testing.assert_allclose(fused[13], other[13] * scale, atol=1e-9)
    np.testing.assert_allclose(np.delete(fused, 13, axis=0), np.delete(pose, 13, axis=0), atol=1e-9)
    np.testing.assert_allclose(plain_fusion(pose, np.full((17, 3), np.nan)), pose)  # no MediaPipe: lbi's pose
    with pytest.raises(ValueError, match="weights"):
        plain_fusion(pose, other, 1.5)
    np.testing.assert_allclose(blend_weights(np.array([1.0, 0.4, 0.0])), [0.5, 0.2, 0.0])


def test_the_fusions_keep_the_lifters_bone_lengths(pose):
    """plain and ensemble blend where the bones point; the lifter's pose gives their lengths (with_bone_lengths)."""
    from lbi.geometry.skeleton import bone_lengths
    from lbi.pipeline.fusion import fuse, with_bone_lengths

    stretched = with_bone_lengths(pose, 1.3 * pose)
    np.testing.assert_allclose(bone_lengths(stretched), 1.3 * bone_lengths(pose), rtol=1e-9)
    np.testing.assert_allclose(stretched, 1.3 * pose, atol=1e-9)  # same directions: the same pose, larger
    other = turned(pose, 30) * 0.7
    other[[3, 6]] *= 1.5  # MediaPipe's feet far off
    learned = turned(pose, -10)
    confidence = np.ones(17)
    for fusion in ("plain", "ensemble"):
        fused = fuse(fusion, pose, other, confidence, learned)
        np.testing.assert_allclose(bone_lengths(fused), bone_lengths(pose), rtol=1e-9)
        assert not np.allclose(fused, pose, atol=1.0)
    np.testing.assert_allclose(fuse("none", pose, other, confidence), pose)
    np.testing.assert_allclose(fuse("ensemble", pose, None, confidence, learned), pose)  # no MediaPipe: the lifter's


def test_learned_prior_withholds_unsure_joints(pose):
    codec = InputCodec(frame="ray")
    confidence = np.ones(17)
    confidence[[0, 3, 6]] = PRIOR_MIN_CONFIDENCE - 0.1  # both feet and the root unsure: the root is the origin
    prior = learned_prior(codec, pose + 5.0, confidence, np.array([500.0, 400.0]), np.array([1000.0, 1000, 500, 500]))
    assert prior.dtype == np.float32 and np.isnan(prior[[3, 6]]).all()
    np.testing.assert_allclose(np.delete(prior, [3, 6], axis=0), np.delete(pose, [3, 6], axis=0) / 1000, atol=1e-6)
    assert np.isnan(learned_prior(codec, None, confidence, np.zeros(2), np.ones(4))).all()
    # a camera-frame model reads MediaPipe's pose turned from the ray through the crop into camera axes
    off_centre = InputCodec(frame="camera").encode_prior(pose, np.array([900.0, 500.0]), np.array([800, 800, 500, 500]))
    assert not np.allclose(off_centre, pose / 1000, atol=1e-3)


def test_normalised_prior_ignores_size_and_absent_joints(pose):
    prior = torch.from_numpy(pose / 1000).float()[None]
    small, _ = normalise_prior(prior * 0.8)
    large, present = normalise_prior(prior * 1.3)
    torch.testing.assert_close(small, large)
    assert present.all()
    gap = prior.clone()
    gap[0, 5] = float("nan")
    joints, present = normalise_prior(gap)
    assert not present[0, 5] and present[0, [0, 4, 6]].all() and (joints[0, 5] == 0).all()
    no_root = prior.clone()
    no_root[0, 0] = float("nan")
    assert not normalise_prior(no_root)[1].any()  # without its root a prior cannot be read at all


def test_prior_dropout():
    prior = torch.randn(4000, 17, 3)
    assert drop_prior(prior, 0.0) is prior
    dropped = torch.isnan(drop_prior(prior, 0.25, 0.1)).any(dim=-1)  # (B, N)
    whole = dropped.all(dim=1)
    assert 0.2 < whole.float().mean() < 0.3
    assert 0.08 < dropped[~whole][:, 1:].float().mean() < 0.12 and not dropped[~whole][:, 0].any()
    embed = PriorEmbedding(8, dropout=1.0)
    torch.nn.init.normal_(embed.absent)
    like = torch.zeros(2, 17, 8)
    embed.train()
    torch.testing.assert_close(embed(torch.randn(2, 17, 3), like), embed.absent.expand(2, 17, 8))
    embed.eval()  # no dropout at inference
    assert not torch.allclose(embed(torch.randn(2, 17, 3), like), embed.absent.expand(2, 17, 8))


def test_a_pose_lifted_with_and_without_a_prior(small_config):
    paper = LiftingByImage(small_config).eval()
    fused = LiftingByImage(LiftingConfig(**{**small_config.to_dict(), "prior": True})).eval()
    fused.load_state_dict(paper.state_dict(), strict=False)  # everything but the prior's embedding
    crops, joints2d = torch.rand(2, 3, 256, 192), torch.rand(2, 17, 2) * 2 - 1
    prior = torch.randn(2, 17, 3) * 0.3
    with torch.inference_mode():
        # the prior's embedding starts at zero: a model started from the paper's weights is the paper's model
        torch.testing.assert_close(fused(crops, joints2d, prior=prior).refined, paper(crops, joints2d).refined)
        for parameter in fused.prior_embed.parameters():
            torch.nn.init.normal_(parameter, std=0.5)
        with_prior = fused(crops, joints2d, prior=prior).refined
        without = fused(crops, joints2d).refined
        absent = torch.full_like(prior, float("nan"))
        torch.testing.assert_close(fused(crops, joints2d, prior=absent).refined, without)
        assert (with_prior - without).abs().max() > 1e-3
        # the flip test mirrors the prior with the crop and the 2D pose: mirrored inputs give the mirrored pose
        codec = InputCodec.for_model(fused)
        plain = flip_test(fused, crops, joints2d, prior=prior).refined
        mirrored = flip_test(fused, crops.flip(-1), mirror_joints2d(joints2d, codec), prior=mirror_joints(prior))
        torch.testing.assert_close(mirror_joints(mirrored.refined), plain, atol=1e-5, rtol=1e-4)


def test_the_twin_takes_a_prior_too():
    twin = MartinezMLP(MartinezConfig(hidden=64, prior=True)).eval()
    joints2d, prior = torch.rand(3, 17, 2) * 2 - 1, torch.randn(3, 17, 3) * 0.3
    with torch.inference_mode():
        assert (twin(None, joints2d, prior=prior).refined - twin(None, joints2d).refined).abs().max() > 1e-4
    assert twin.inp[0].in_features == 17 * 2 + 17 * 4  # 2D, prior joints, one presence flag per joint
    with pytest.raises(ValueError, match="prior_dropout"):
        MartinezConfig(prior=True, prior_dropout=1.5)
