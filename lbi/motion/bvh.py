"""A clip's 3D poses as the motion of one skeleton: fixed bone lengths, joint rotations, BVH.

Per-frame poses from a lifter have bones that change length from frame to frame and no rotations. A motion
file (BVH: Blender, MotionBuilder, most animation tools) needs a skeleton whose bones keep their lengths and
whose joints rotate. :func:`fit_motion` turns a clip into one:

- bone lengths: each bone's median over the clip;
- the pelvis (hips + spine) and the chest (neck + shoulders) are rigid triads: each frame's rotation is the
  least-squares fit (Kabsch) of the clip's median triad onto that frame's;
- every other bone keeps its frame's direction: its joint turns by the smallest rotation that aims it there.

The fitted positions (``Motion.positions_mm``) are what the BVH reproduces by forward kinematics; they differ
from the lifter's poses only by the fixed lengths and the rigid triads (a few millimetres).

BVH axes: metres, Y up, the person facing +Z when facing the camera (X = camera x, Y = -camera y,
Z = -camera z); channels ``Zrotation Xrotation Yrotation`` (R = Rz Rx Ry); the root also carries its position.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..geometry.skeleton import H36M_JOINTS, PARENTS
from ..io.files import atomic_write_text

#: camera axes (x right, y down, z forward) -> BVH axes (Y up, facing +Z)
TO_BVH = np.diag([1.0, -1.0, -1.0])
#: joints whose children move together: joint -> (its upper child, its left child, its right child)
TRIADS = {0: (7, 4, 1), 8: (9, 11, 14)}
CHILDREN = {j: tuple(c for c, p in enumerate(PARENTS) if p == j) for j in range(len(PARENTS))}
#: the rest pose's direction of each single-child bone, by its child (a T-pose facing +Z; +X is the person's left)
REST_DIRECTION = {
    2: (0, -1, 0),  # right thigh
    3: (0, -1, 0),  # right shin
    5: (0, -1, 0),
    6: (0, -1, 0),
    8: (0, 1, 0),  # upper spine
    10: (0, 1, 0),  # head
    12: (1, 0, 0),  # left upper arm
    13: (1, 0, 0),
    15: (-1, 0, 0),  # right upper arm
    16: (-1, 0, 0),
}


@dataclass
class Motion:
    """A skeleton (offsets from each joint's parent, metres, BVH axes) and its per-frame pose."""

    offsets: np.ndarray  # (17, 3) rest offset of each joint from its parent (the root's: zero)
    rotations: np.ndarray  # (T, 17, 3, 3) each joint's rotation relative to its parent (leaves: identity)
    root_m: np.ndarray  # (T, 3) the root's position, metres, BVH axes
    positions_mm: np.ndarray  # (T, 17, 3) the fitted poses, root-relative, camera axes, mm

    @property
    def frames(self) -> int:
        return len(self.rotations)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(..., K, 3) point sets -> (..., 3, 3) the rotation R minimising |R source - target| (no reflection)."""
    h = np.swapaxes(source, -1, -2) @ target
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    fix = np.broadcast_to(np.eye(3), d.shape + (3, 3)).copy()
    fix[..., 2, 2] = d
    return np.swapaxes(vt, -1, -2) @ fix @ np.swapaxes(u, -1, -2)


def _aim(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(T, 3) unit vectors -> (T, 3, 3) the smallest rotations taking each source onto its target."""
    v, c = np.cross(source, target), np.einsum("ti,ti->t", source, target)
    vx = np.zeros(v.shape + (3,))
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    vx = vx - np.swapaxes(vx, 1, 2)
    out = np.eye(3) + vx + vx @ vx / np.maximum(1 + c, 1e-9)[:, None, None]
    opposite = c < -1 + 1e-9  # a half turn: about any axis perpendicular to the source
    if opposite.any():
        axis = _unit(np.cross(source[opposite], [[0.0, 0.0, 1.0]]))
        axis[np.linalg.norm(axis, axis=1) < 0.5] = [1.0, 0.0, 0.0]
        out[opposite] = Rotation.from_rotvec(np.pi * axis).as_matrix()
    return out


def fit_motion(poses_mm: np.ndarray) -> Motion:
    """(T, 17, 3) root-relative poses (camera axes, mm) -> the clip's :class:`Motion` (see the module)."""
    poses = np.asarray(poses_mm, dtype=np.float64) @ TO_BVH.T / 1000.0  # metres, BVH axes
    t, n = poses.shape[:2]
    lengths = {c: float(np.median(np.linalg.norm(poses[:, c] - poses[:, p], axis=1))) for c, p in enumerate(PARENTS)}
    offsets = np.zeros((n, 3))
    for child, direction in REST_DIRECTION.items():
        offsets[child] = lengths[child] * np.asarray(direction, dtype=np.float64)
    world = np.zeros((t, n, 3, 3))  # each joint's rotation in the world
    for joint, triad in TRIADS.items():  # the rest triad: the clip's median, in the triad's own frame
        vectors = poses[:, triad] - poses[:, joint : joint + 1]  # (T, 3, 3)
        across = _unit(vectors[:, 1] - vectors[:, 2])  # right child -> left child: the person's left, +X
        up = _unit(vectors[:, 0] - (vectors[:, 0] * across).sum(-1, keepdims=True) * across)
        frame = np.stack([across, up, np.cross(across, up)], axis=-1)  # (T, 3, 3) columns X, Y, Z
        local = np.einsum("tji,tkj->tki", frame, vectors)  # each vector in its frame's axes
        rest = np.median(local, axis=0)
        offsets[list(triad)] = rest
        world[:, joint] = _kabsch(np.broadcast_to(rest, vectors.shape), vectors)
    positions = np.zeros_like(poses)
    for joint in range(n):  # parents come before their children in H36M order
        parent = PARENTS[joint]
        if parent >= 0:
            positions[:, joint] = positions[:, parent] + world[:, parent] @ offsets[joint]
        children = CHILDREN[joint]
        if len(children) == 1:  # aim the one bone this joint moves
            (child,) = children
            base = world[:, parent]  # the root is a triad, so every aimed joint has a parent
            target = _unit(poses[:, child] - poses[:, joint])
            world[:, joint] = _aim(base @ _unit(offsets[child]), target) @ base
        elif not children:
            world[:, joint] = world[:, parent]
    rotations = np.einsum("tnji,tnjk->tnik", world[:, [max(p, 0) for p in PARENTS]], world)
    rotations[:, 0] = world[:, 0]
    feet = positions[:, [3, 6], 1].min(axis=1)
    root = np.zeros((t, 3))
    root[:, 1] = float(np.median(-feet))  # the pelvis at its height above the lower foot: feet on the floor
    return Motion(offsets, rotations, root, positions @ TO_BVH.T * 1000.0)


def _names() -> list[str]:
    return ["".join(part.capitalize() for part in name.split("_")) for name in H36M_JOINTS]


def _hierarchy_order() -> list[int]:
    """The joints in the order a BVH hierarchy lists them: depth first from the root."""
    order: list[int] = []

    def visit(j: int) -> None:
        order.append(j)
        for child in CHILDREN[j]:
            visit(child)

    visit(0)
    return order


def bvh_text(motion: Motion, fps: float) -> str:
    """The BVH file of ``motion`` at ``fps`` frames per second. Every H36M joint is a BVH joint (the wrists,
    feet and head too, so that tools show them as bones); each of those ends in a 5-cm End Site along its bone."""
    names, lines = _names(), ["HIERARCHY"]

    def block(j: int, depth: int) -> None:
        pad, root = "  " * depth, PARENTS[j] < 0
        lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {names[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in motion.offsets[j])}")
        position = "Xposition Yposition Zposition " if root else ""
        lines.append(f"{pad}  CHANNELS {6 if root else 3} {position}Zrotation Xrotation Yrotation")
        for child in CHILDREN[j]:
            block(child, depth + 1)
        if not CHILDREN[j]:
            tip = 0.05 * _unit(motion.offsets[j])
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {' '.join(f'{v:.6f}' for v in tip)}"])
            lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")

    block(0, 0)
    order = _hierarchy_order()
    euler = Rotation.from_matrix(motion.rotations[:, order].reshape(-1, 3, 3)).as_euler("ZXY", degrees=True)
    euler = euler.reshape(motion.frames, len(order), 3)
    lines += ["MOTION", f"Frames: {motion.frames}", f"Frame Time: {1.0 / fps:.6f}"]
    for k in range(motion.frames):
        lines.append(" ".join(f"{v:.6f}" for v in (*motion.root_m[k], *euler[k].ravel())))
    return "\n".join(lines) + "\n"


def write_bvh(path: str | Path, motion: Motion, fps: float) -> None:
    """Writes ``motion`` as BVH, atomically."""
    atomic_write_text(path, bvh_text(motion, fps))
