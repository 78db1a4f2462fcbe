"""The kinematic core that both generations of LBI-Synth people stand on (lab / wild: ``body.py``; rand, photo and
pairs: ``poses.py`` + ``people.py``): the joint order, mean bone lengths, rotations, the spine, head and limb
chains of forward kinematics, and the skin tones.

World frame: metres, y up, floor at y = 0. Body frame before the global yaw: +x is the body's left, +y up, +z the
direction the body faces. Joints in H36M-17 order.
"""

from __future__ import annotations

import numpy as np

from ...geometry.skeleton import H36M_JOINTS

J = {name: i for i, name in enumerate(H36M_JOINTS)}
SIDES = ("left", "right")
DOWN = np.array([0.0, -1.0, 0.0])

#: mean H36M segment lengths in metres (root-to-hip and thorax-to-shoulder are lateral)
MEAN_LENGTHS = {
    "hip": 0.13,
    "thigh": 0.45,
    "shin": 0.44,
    "spine_low": 0.23,
    "spine_high": 0.25,
    "neck": 0.115,
    "head": 0.115,
    "shoulder": 0.15,
    "upper_arm": 0.28,
    "forearm": 0.25,
}

#: skin tones (RGB in [0, 1]), light to dark: the randomised domains draw from all eight
SKIN_TONES = np.array(
    [
        [0.98, 0.84, 0.74],
        [0.93, 0.76, 0.63],
        [0.85, 0.66, 0.52],
        [0.75, 0.55, 0.40],
        [0.62, 0.43, 0.30],
        [0.48, 0.32, 0.22],
        [0.35, 0.23, 0.16],
        [0.25, 0.16, 0.11],
    ]
)
#: the five tones of the first benchmark (lab / wild), kept so that its renders stay as published
LAB_SKIN_TONES = np.array(
    [[0.96, 0.80, 0.69], [0.87, 0.67, 0.52], [0.71, 0.51, 0.36], [0.55, 0.37, 0.25], [0.36, 0.24, 0.16]]
)


def rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def sample_lengths(
    rng: np.random.Generator, scale: tuple[float, float], jitter: tuple[float, float]
) -> dict[str, float]:
    """A subject's bone lengths: :data:`MEAN_LENGTHS` times one overall size drawn from ``scale``, each bone times
    its own factor drawn from ``jitter``."""
    size = rng.uniform(*scale)
    return {k: v * size * rng.uniform(*jitter) for k, v in MEAN_LENGTHS.items()}


def spine_chain(
    root: np.ndarray, bend: float, twist: float, lean: float, lengths: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pelvis (the origin), spine and thorax, and the rotations of the lower and upper back: flexion, twist and side
    bend split evenly between the two segments. Returns (pelvis, spine, thorax, r_low, r_high)."""
    half = rot_x(bend / 2) @ rot_y(twist / 2) @ rot_z(-lean / 2)
    r_low = root @ half
    r_high = r_low @ half
    pelvis = np.zeros(3)
    spine = pelvis + r_low @ np.array([0, lengths["spine_low"], 0])
    thorax = spine + r_high @ np.array([0, lengths["spine_high"], 0])
    return pelvis, spine, thorax, r_low, r_high


def limb_rotation(parent: np.ndarray, sx: float, abd: float, flex: float, rot: float = 0.0) -> np.ndarray:
    """The frame of an upper arm or thigh hanging from ``parent``: abducted sideways (``sx``: +1 left, -1 right),
    swung forward, then turned about its own axis (outward positive)."""
    r = parent @ rot_z(sx * abd) @ rot_x(-flex)
    return r @ rot_y(sx * rot) if rot else r


def bone_end(start: np.ndarray, frame: np.ndarray, length: float) -> np.ndarray:
    """The far end of a bone of ``length`` that hangs down ``frame``'s y axis from ``start``."""
    return start + frame @ (DOWN * length)


def head_points(thorax: np.ndarray, r_head: np.ndarray, lengths: dict[str, float]) -> tuple[np.ndarray, ...]:
    """The H36M neck/nose and head-top joints, and the head's centre, from the thorax and the head's rotation."""
    nose = thorax + r_head @ np.array([0, lengths["neck"] * 0.95, 0.07])
    head_top = thorax + r_head @ np.array([0, lengths["neck"] + lengths["head"] + 0.04, 0.0])
    head_centre = thorax + r_head @ np.array([0, lengths["neck"] + 0.045, 0.015])
    return nose, head_top, head_centre
