"""The Human3.6M 17-joint skeleton and the maps from other joint sets onto it.

Joints that a source lacks are synthesised linearly from the ones it has (so every map is one
17 x K matrix, applied to 2D or 3D points alike):

- MediaPipe Pose (33 landmarks) has no pelvis, spine, thorax or head top.
  pelvis = mid-hips; thorax = mid-shoulders; spine = halfway between pelvis and thorax (H36M's
  spine joint sits at about 0.48 of that segment); head top = the ear midpoint pushed away from
  the thorax by half the thorax-to-ears distance (1.5 * ears - 0.5 * thorax); neck/nose = nose.
- MPI-INF-3DHP's 17-joint test set has all seventeen, only in another order.
"""

from __future__ import annotations

import numpy as np

H36M_JOINTS = (
    "pelvis",
    "right_hip",
    "right_knee",
    "right_foot",
    "left_hip",
    "left_knee",
    "left_foot",
    "spine",
    "thorax",
    "neck_nose",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
)
NUM_JOINTS = len(H36M_JOINTS)
ROOT = 0
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
LEFT = (4, 5, 6, 11, 12, 13)
RIGHT = (1, 2, 3, 14, 15, 16)
#: (child, parent) pairs: the 16 bones
BONES = tuple((j, p) for j, p in enumerate(PARENTS) if p >= 0)


def flip_permutation() -> list[int]:
    """Index map that swaps left and right joints (for horizontal-flip augmentation)."""
    perm = list(range(NUM_JOINTS))
    for left, right in zip(LEFT, RIGHT):
        perm[left], perm[right] = right, left
    return perm


def bone_lengths(joints):
    """joints (..., 17, D) -> (..., 16) lengths of BONES; a NumPy array or a torch tensor (differentiable:
    the training loss uses it), answered in kind."""
    child, parent = np.array(BONES).T
    return (((joints[..., child, :] - joints[..., parent, :]) ** 2).sum(-1)) ** 0.5


# ------------------------------------------------------------------------------- MediaPipe -> H36M
MEDIAPIPE_NUM_LANDMARKS = 33
MP = {
    "nose": 0,
    "left_ear": 7,
    "right_ear": 8,
    "left_shoulder": 11,
    "right_shoulder": 12,
    "left_elbow": 13,
    "right_elbow": 14,
    "left_wrist": 15,
    "right_wrist": 16,
    "left_hip": 23,
    "right_hip": 24,
    "left_knee": 25,
    "right_knee": 26,
    "left_ankle": 27,
    "right_ankle": 28,
}


def _mediapipe_matrix() -> np.ndarray:
    w = np.zeros((NUM_JOINTS, MEDIAPIPE_NUM_LANDMARKS))
    hips = {MP["left_hip"]: 0.5, MP["right_hip"]: 0.5}
    shoulders = {MP["left_shoulder"]: 0.5, MP["right_shoulder"]: 0.5}
    rows = {
        "pelvis": hips,
        "right_hip": {MP["right_hip"]: 1.0},
        "right_knee": {MP["right_knee"]: 1.0},
        "right_foot": {MP["right_ankle"]: 1.0},
        "left_hip": {MP["left_hip"]: 1.0},
        "left_knee": {MP["left_knee"]: 1.0},
        "left_foot": {MP["left_ankle"]: 1.0},
        "spine": {**{k: 0.5 * v for k, v in hips.items()}, **{k: 0.5 * v for k, v in shoulders.items()}},
        "thorax": shoulders,
        "neck_nose": {MP["nose"]: 1.0},
        # 1.5 * mid-ears - 0.5 * mid-shoulders
        "head": {MP["left_ear"]: 0.75, MP["right_ear"]: 0.75, MP["left_shoulder"]: -0.25, MP["right_shoulder"]: -0.25},
        "left_shoulder": {MP["left_shoulder"]: 1.0},
        "left_elbow": {MP["left_elbow"]: 1.0},
        "left_wrist": {MP["left_wrist"]: 1.0},
        "right_shoulder": {MP["right_shoulder"]: 1.0},
        "right_elbow": {MP["right_elbow"]: 1.0},
        "right_wrist": {MP["right_wrist"]: 1.0},
    }
    for name, weights in rows.items():
        for landmark, weight in weights.items():
            w[H36M_JOINTS.index(name), landmark] = weight
    return w


#: (17, 33): H36M joint j = sum_k MEDIAPIPE_TO_H36M[j, k] * landmark k (each row sums to 1)
MEDIAPIPE_TO_H36M = _mediapipe_matrix()


def mediapipe_to_h36m(
    landmarks: np.ndarray, visibility: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """landmarks (..., 33, D) -> H36M joints (..., 17, D); visibility (..., 33) -> (..., 17),
    each synthesised joint as confident as its least confident source landmark."""
    joints = np.einsum("jk,...kd->...jd", MEDIAPIPE_TO_H36M, np.asarray(landmarks, dtype=np.float64))
    if visibility is None:
        return joints, None
    visibility = np.asarray(visibility, dtype=np.float64)
    used = MEDIAPIPE_TO_H36M != 0  # (17, 33)
    conf = np.where(used, visibility[..., None, :], np.inf).min(axis=-1)
    return joints, conf


# ------------------------------------------------------------------------------ MPI-INF-3DHP <-> H36M
MPI_INF_3DHP_JOINTS = (
    "head_top",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "pelvis",
    "spine",
    "head",
)
#: h36m[..., j, :] = mpi[..., MPI_TO_H36M[j], :]
MPI_TO_H36M = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
#: mpi[..., j, :] = h36m[..., H36M_TO_MPI[j], :]
H36M_TO_MPI = (10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6, 0, 7, 9)
#: the official 3DHP metrics use the first 14 joints (no pelvis, spine, head)
MPI_EVAL_JOINTS = tuple(range(14))
#: joint groups of the official evaluation, in 3DHP order
MPI_JOINT_GROUPS = {
    "head": (0,),
    "neck": (1,),
    "shoulder": (2, 5),
    "elbow": (3, 6),
    "wrist": (4, 7),
    "hip": (8, 11),
    "knee": (9, 12),
    "ankle": (10, 13),
}
