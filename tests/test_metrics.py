import numpy as np
import pytest

from lbi.geometry.metrics import (
    AUC_THRESHOLDS_MM,
    FOREARMS,
    auc,
    background_attention_ratio,
    bone_length_error,
    forearm_ratio,
    mpi_pck_report,
    mpjpe,
    p_mpjpe,
    pck,
    per_action_mean,
    procrustes_align,
)
from lbi.geometry.skeleton import BONES, H36M_JOINTS


def _rotations(b, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(b, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    return q * np.sign(np.linalg.det(q))[:, None, None]  # proper rotations


def _poses(b=4, seed=0):
    return np.random.default_rng(seed).normal(0, 300, (b, 17, 3))


def test_mpjpe_hand_value():
    target = np.zeros((1, 17, 3))
    pred = target.copy()
    pred[0, :, 0] = 10.0
    pred[0, 0] = [0, 0, 0]
    assert mpjpe(pred, target)[0] == pytest.approx(160.0 / 17)


def test_p_mpjpe_is_zero_for_a_similar_copy():
    target = _poses()
    rot = _rotations(4, seed=1)
    pred = 1.7 * np.einsum("bij,bkj->bki", rot, target) + np.array([100.0, -50.0, 2000.0])
    assert np.all(mpjpe(pred, target) > 100)
    np.testing.assert_allclose(p_mpjpe(pred, target), 0.0, atol=1e-6)
    np.testing.assert_allclose(procrustes_align(pred, target), target, atol=1e-6)


def test_p_mpjpe_does_not_undo_a_reflection():
    target = _poses(seed=2)
    mirrored = target * np.array([-1.0, 1.0, 1.0])  # a reflection is not a rotation
    assert np.all(p_mpjpe(mirrored, target) > 1.0)
    aligned = procrustes_align(mirrored, target)
    # the fitted transform is a proper rotation: handedness of the pose is kept
    a0, t0 = aligned - aligned.mean(1, keepdims=True), mirrored - mirrored.mean(1, keepdims=True)
    m = np.linalg.lstsq(t0[0], a0[0], rcond=None)[0]
    assert np.linalg.det(m) > 0


def test_p_mpjpe_never_exceeds_mpjpe_after_centring():
    pred, target = _poses(seed=3), _poses(seed=4)
    centred = pred - pred.mean(1, keepdims=True) + target.mean(1, keepdims=True)
    assert np.all(p_mpjpe(pred, target) <= mpjpe(centred, target) + 1e-9)


def test_bone_lengths_hand_values():
    """A rotated, shifted copy has exact bones; wrists pulled halfway to the elbows halve the forearms."""
    target = _poses(3)
    moved = np.einsum("bij,bnj->bni", _rotations(3, 1), target) + 50.0
    assert bone_length_error(moved, target) == pytest.approx(np.zeros(3), abs=1e-9)
    assert forearm_ratio(moved, target) == pytest.approx(1.0)
    assert [(H36M_JOINTS[BONES[i][0]], H36M_JOINTS[BONES[i][1]]) for i in FOREARMS] == [
        ("left_wrist", "left_elbow"),
        ("right_wrist", "right_elbow"),
    ]
    short = target.copy()
    for wrist, elbow in (BONES[i] for i in FOREARMS):
        short[:, wrist] = (target[:, wrist] + target[:, elbow]) / 2
    assert forearm_ratio(short, target) == pytest.approx(0.5)
    forearms = np.linalg.norm(target[:, [13, 16]] - target[:, [12, 15]], axis=-1)  # (B, 2)
    assert bone_length_error(short, target) == pytest.approx(forearms.sum(axis=1) / 2 / len(BONES))


def test_per_action_mean_groups_by_first_word_and_averages_actions():
    errors = [10, 20, 30, 100]
    actions = ["Walking 1", "Walking", "Eating 2", "Sitting Down"]
    result = per_action_mean(errors, actions)
    assert result == {"Eating": 30.0, "Sitting": 100.0, "Walking": 15.0, "average": pytest.approx(145 / 3)}


def test_pck_and_auc_hand_values():
    assert len(AUC_THRESHOLDS_MM) == 31 and AUC_THRESHOLDS_MM[-1] == 150
    errors = np.full((10, 14), 100.0)
    assert pck(errors) == 100.0
    assert auc(errors) == pytest.approx(11 / 31 * 100)  # thresholds 100, 105, ..., 150
    errors[:5] = 151.0
    assert pck(errors) == 50.0
    assert pck(np.array([0.0, 150.0, 150.0001])) == pytest.approx(200 / 3)
    assert auc(np.zeros(5)) == 100.0


def test_mpi_report_uses_the_14_official_joints():
    target = _poses(seed=5)
    pred = target.copy()
    pred[:, [0, 7, 9]] += 1000.0  # pelvis, spine, neck/nose: not scored by the 3DHP protocol
    report = mpi_pck_report(pred, target)
    assert report["pck"] == 100.0 and report["auc"] == 100.0 and report["mpjpe"] == 0.0
    pred[:, 10, 0] += 200.0  # the head top is scored
    report = mpi_pck_report(pred, target)
    assert report["pck"] == pytest.approx(13 / 14 * 100) and report["pck_head"] == 0.0
    assert report["mpjpe"] == pytest.approx(200 / 14)


def test_background_attention_ratio_constructed_maps():
    stride, h, w = 4, 16, 12  # a 64 x 48 crop
    joints = np.array([[[10.0, 10.0], [10.0, 10.0]]])  # two keypoints at the same place
    att = np.zeros((1, 2, h, w))
    att[0, 0, 2, 2] = 1.0  # token centred near (10, 10): foreground
    att[0, 1, 15, 11] = 1.0  # far corner: background
    ratio = background_attention_ratio(att, joints, stride, radius_px=30.0)
    assert ratio[0] == pytest.approx(0.5)
    uniform = np.full((1, 2, h, w), 1.0 / (h * w))
    ratio = background_attention_ratio(uniform, joints, stride, radius_px=30.0)
    ys, xs = np.mgrid[0:64, 0:48]
    expected = np.mean(np.hypot(xs - 10, ys - 10) > 30)
    assert ratio[0] == pytest.approx(expected)
    assert background_attention_ratio(uniform, joints, stride, radius_px=1000.0)[0] == 0.0
