"""Evaluation metrics: MPJPE (P1), P-MPJPE (P2), per-action means, 3DHP PCK/AUC, and the
paper's background-attention ratio. Inputs are NumPy arrays (or anything np.asarray accepts)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .skeleton import BONES, H36M_JOINTS, H36M_TO_MPI, MPI_EVAL_JOINTS, MPI_JOINT_GROUPS, bone_lengths

PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.arange(0.0, 151.0, 5.0)  # 0:5:150, 31 values


def joint_errors(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(..., J, 3) x 2 -> (..., J) Euclidean distances."""
    return np.linalg.norm(np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64), axis=-1)


def mpjpe(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Protocol 1 per sample: mean joint error (..., J, 3) -> (...). Align roots beforehand."""
    return joint_errors(pred, target).mean(axis=-1)


def procrustes_align(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Similarity-aligns each pred (B, J, 3) to its target: the rotation, uniform scale and
    translation minimising the squared error, with reflections excluded (det R = +1)."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    mu_p, mu_t = pred.mean(axis=1, keepdims=True), target.mean(axis=1, keepdims=True)
    p, t = pred - mu_p, target - mu_t
    h = np.einsum("bji,bjk->bik", p, t)  # (B, 3, 3) cross-covariance
    u, s, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("bij,bjk->bik", u, vt)))  # -1 where a reflection would fit best
    s[:, -1] *= d
    u[:, :, -1] *= d[:, None]
    rotation = np.einsum("bij,bjk->bik", u, vt)  # applied as p @ rotation
    scale = s.sum(axis=1) / np.sum(p**2, axis=(1, 2))
    return scale[:, None, None] * np.einsum("bji,bik->bjk", p, rotation) + mu_t


def p_mpjpe(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Protocol 2 per sample: MPJPE after similarity Procrustes alignment, (B, J, 3) -> (B,)."""
    return mpjpe(procrustes_align(pred, target), target)


def bone_length_error(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per sample: the mean |predicted - true| length of the 16 bones, (B, J, 3) x 2 -> (B,)."""
    pred, target = (bone_lengths(np.asarray(p, dtype=np.float64)) for p in (pred, target))
    return np.abs(pred - target).mean(axis=-1)


#: the forearms' indices in BONES (wrist -> elbow)
FOREARMS = tuple(i for i, (child, _) in enumerate(BONES) if H36M_JOINTS[child].endswith("wrist"))


def forearm_ratio(pred: np.ndarray, target: np.ndarray) -> float:
    """The median over samples and both arms of predicted / true forearm length (1: right on average;
    a pose loss alone tends to shorten the limbs it is unsure of)."""
    pred, target = (bone_lengths(np.asarray(p, dtype=np.float64)) for p in (pred, target))
    return float(np.median((pred / target)[:, FOREARMS]))


def action_group(action: str) -> str:
    """'Walking 1' -> 'Walking': results are grouped by the name before the first space."""
    return action.split(" ")[0]


def per_action_mean(errors: np.ndarray, actions: list[str]) -> dict[str, float]:
    """Mean error per action group, plus 'average': the mean over actions (not over frames)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for err, action in zip(np.asarray(errors, dtype=np.float64), actions):
        groups[action_group(action)].append(float(err))
    result = {name: float(np.mean(values)) for name, values in sorted(groups.items())}
    result["average"] = float(np.mean(list(result.values()))) if result else float("nan")
    return result


def to_mpi_eval_joints(joints_h36m: np.ndarray) -> np.ndarray:
    """H36M-ordered (..., 17, 3) -> the 14 joints of the official 3DHP evaluation, 3DHP order."""
    return np.asarray(joints_h36m)[..., list(H36M_TO_MPI), :][..., list(MPI_EVAL_JOINTS), :]


def pck(errors: np.ndarray, threshold: float = PCK_THRESHOLD_MM) -> float:
    """Percentage of joint errors (any shape, mm) at or below ``threshold``."""
    return float(np.mean(np.asarray(errors) <= threshold) * 100.0)


def auc(errors: np.ndarray, thresholds: np.ndarray = AUC_THRESHOLDS_MM) -> float:
    """Area under the PCK curve: the mean PCK over thresholds 0:5:150 mm, in percent."""
    return float(np.mean([pck(errors, t) for t in thresholds]))


def mpi_pck_report(pred_h36m: np.ndarray, target_h36m: np.ndarray) -> dict[str, float]:
    """Official-style 3DHP numbers on root-relative (B, 17, 3) mm poses: PCK@150, AUC and MPJPE
    over the 14 evaluation joints, plus PCK per joint group."""
    err = joint_errors(to_mpi_eval_joints(pred_h36m), to_mpi_eval_joints(target_h36m))  # (B, 14)
    report = {"pck": pck(err), "auc": auc(err), "mpjpe": float(err.mean())}
    for name, joints in MPI_JOINT_GROUPS.items():
        report[f"pck_{name}"] = pck(err[:, list(joints)])
    return report


def circle_background(joints_px: np.ndarray, grid: tuple[int, int], stride: int, radius_px: float = 30.0) -> np.ndarray:
    """The paper's background: per token, the share of its stride x stride pixels that lie more
    than ``radius_px`` from every joint (crop pixels, pixel centres at integers). joints_px
    (B, N, 2) -> (B, H, W) in [0, 1]."""
    joints_px = np.asarray(joints_px, dtype=np.float64)
    h, w = grid
    ys = np.arange(h * stride, dtype=np.float64)
    xs = np.arange(w * stride, dtype=np.float64)
    out = np.empty((len(joints_px), h, w))
    for i, joints in enumerate(joints_px):
        dy = (ys[None, :] - joints[:, 1:2]) ** 2  # (N, h * stride)
        dx = (xs[None, :] - joints[:, 0:1]) ** 2  # (N, w * stride)
        foreground = (dy[:, :, None] + dx[:, None, :] <= radius_px**2).any(axis=0)
        out[i] = 1.0 - foreground.reshape(h, stride, w, stride).mean(axis=(1, 3))
    return out


def silhouette_background(masks: np.ndarray, stride: int) -> np.ndarray:
    """Person masks (B, h, w) in crop pixels -> (B, h / stride, w / stride): the share of each
    token's pixels off the person."""
    masks = np.asarray(masks, dtype=np.float64)
    b, h, w = masks.shape
    return 1.0 - masks.reshape(b, h // stride, stride, w // stride, stride).mean(axis=(2, 4))


def attention_share(attention: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Share of keypoint-to-image attention that falls in ``region``, averaged over keypoints.

    attention (B, N, H, W): one map per keypoint over the token grid (heads averaged); region
    (B, H, W): how much of each token belongs to the region (a token half in counts half).
    Returns (B,) in [0, 1]. Uniform attention scores ``region.mean(axis=(1, 2))``: the level to compare with.
    """
    attention = np.asarray(attention, dtype=np.float64)
    share = (attention * np.asarray(region)[:, None]).sum(axis=(2, 3)) / attention.sum(axis=(2, 3))
    return share.mean(axis=1)


def background_attention_ratio(
    attention: np.ndarray, joints_px: np.ndarray, stride: int, radius_px: float = 30.0
) -> np.ndarray:
    """The paper's background-attention ratio: the share of keypoint-to-image attention outside
    every joint's 30-px circle (256x192 crop), averaged over keypoints; (B, N, H, W) -> (B,)."""
    attention = np.asarray(attention)
    grid = (attention.shape[-2], attention.shape[-1])
    return attention_share(attention, circle_background(joints_px, grid, stride, radius_px))


def peak_tokens(attention: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The most-attended token of each keypoint: rows and columns, (B, N) each."""
    attention = np.asarray(attention)
    b, n, h, w = attention.shape
    flat = attention.reshape(b, n, h * w).argmax(axis=-1)
    return flat // w, flat % w


def peak_near_joint(attention: np.ndarray, joints_px: np.ndarray, stride: int, radius_px: float = 30.0) -> np.ndarray:
    """Share of keypoints whose most-attended token's centre lies within ``radius_px`` of their own
    joint (crop pixels), per sample: (B,)."""
    rows, cols = peak_tokens(attention)
    centres = np.stack([(cols + 0.5) * stride - 0.5, (rows + 0.5) * stride - 0.5], axis=-1)
    return (np.linalg.norm(centres - np.asarray(joints_px), axis=-1) <= radius_px).mean(axis=1)


def peak_on_person(attention: np.ndarray, background: np.ndarray, max_background: float = 0.5) -> np.ndarray:
    """Share of keypoints whose most-attended token lies on the person (at most ``max_background``
    of its pixels off the silhouette; ``background`` from :func:`silhouette_background`): (B,)."""
    rows, cols = peak_tokens(attention)
    off = np.take_along_axis(background.reshape(len(background), -1), rows * background.shape[-1] + cols, axis=1)
    return (off <= max_background).mean(axis=1)
