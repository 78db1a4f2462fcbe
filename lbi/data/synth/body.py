"""The first benchmark's people (lab / wild): per-subject body shapes, a pose sampler, and the body's primitives,
on the kinematic core of :mod:`.kinematics` (frames, joints and bone lengths as documented there).

Poses are built by forward kinematics from joint angles with anatomical limits. A pose is drawn
from one of six motion families (walk, sit, squat, reach, bend, turn) and then perturbed within
the limits, so the sampler covers everyday poses densely without the limb-through-body poses of
unconstrained random angles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .kinematics import (
    DOWN,
    LAB_SKIN_TONES,
    SIDES,
    J,
    bone_end,
    head_points,
    limb_rotation,
    rot_x,
    rot_y,
    sample_lengths,
    spine_chain,
)

FAMILIES = ("walk", "sit", "squat", "reach", "bend", "turn")


@dataclass
class BodyShape:
    """One synthetic subject: bone lengths, limb thickness and clothing colours (RGB in [0, 1])."""

    lengths: dict[str, float]
    girth: float  # multiplies every radius
    skin: np.ndarray
    shirt: np.ndarray
    pants: np.ndarray
    shoes: np.ndarray
    hair: np.ndarray

    @classmethod
    def sample(cls, rng: np.random.Generator) -> BodyShape:
        lengths = sample_lengths(rng, (0.9, 1.1), (0.96, 1.04))  # overall size +-10 %, each bone +-4 %
        skin = LAB_SKIN_TONES[rng.integers(len(LAB_SKIN_TONES))] * rng.uniform(0.92, 1.05)
        return cls(
            lengths=lengths,
            girth=rng.uniform(0.85, 1.2),
            skin=np.clip(skin, 0, 1),
            shirt=rng.uniform(0.05, 0.95, 3),
            pants=rng.uniform(0.05, 0.7, 3),
            shoes=rng.uniform(0.02, 0.25, 3),
            hair=rng.uniform(0.02, 0.35, 3),
        )


@dataclass
class PoseAngles:
    """Joint angles in radians (left/right pairs as (left, right))."""

    yaw: float = 0.0
    pitch: float = 0.0  # whole-body forward tilt
    bend: float = 0.0  # spine flexion forward
    twist: float = 0.0  # spine rotation about its axis
    lean: float = 0.0  # spine side bend
    head_pitch: float = 0.0
    head_yaw: float = 0.0
    hip_flex: tuple[float, float] = (0.0, 0.0)
    hip_abd: tuple[float, float] = (0.0, 0.0)
    knee: tuple[float, float] = (0.0, 0.0)
    shoulder_flex: tuple[float, float] = (0.0, 0.0)
    shoulder_abd: tuple[float, float] = (0.15, 0.15)
    elbow: tuple[float, float] = (0.1, 0.1)

    LIMITS = {
        "bend": (-0.3, 1.6),
        "twist": (-0.8, 0.8),
        "lean": (-0.4, 0.4),
        "head_pitch": (-0.6, 0.7),
        "head_yaw": (-1.0, 1.0),
        "hip_flex": (-0.5, 2.1),
        "hip_abd": (-0.2, 0.8),
        "knee": (0.0, 2.5),
        "shoulder_flex": (-0.9, 3.0),
        "shoulder_abd": (0.0, 2.8),
        "elbow": (0.0, 2.5),
        "pitch": (-0.3, 0.3),
    }

    def clipped(self) -> PoseAngles:
        values: dict[str, Any] = {}
        for name, (lo, hi) in self.LIMITS.items():
            v = getattr(self, name)
            values[name] = (
                tuple(float(np.clip(x, lo, hi)) for x in v) if isinstance(v, tuple) else float(np.clip(v, lo, hi))
            )
        return PoseAngles(yaw=self.yaw, **values)


def sample_angles(
    rng: np.random.Generator, family: str | None = None, yaw: float | None = None
) -> tuple[str, PoseAngles]:
    """A pose from a motion family (random if None), perturbed within the joint limits."""
    family = family or FAMILIES[rng.integers(len(FAMILIES))]
    u = rng.uniform
    side = rng.choice([-1.0, 1.0])
    if family == "walk":
        phase = u(-1, 1)
        swing = u(0.2, 0.55) * phase
        a = PoseAngles(
            hip_flex=(swing, -swing),
            knee=(u(0, 0.9) if swing < 0 else u(0, 0.3), u(0, 0.9) if swing > 0 else u(0, 0.3)),
            shoulder_flex=(-swing * u(0.6, 1.2), swing * u(0.6, 1.2)),
            elbow=(u(0.1, 0.8), u(0.1, 0.8)),
            bend=u(-0.05, 0.15),
            twist=0.2 * phase,
        )
    elif family == "sit":
        hip = u(1.2, 1.75)
        a = PoseAngles(
            hip_flex=(hip + u(-0.2, 0.2), hip + u(-0.2, 0.2)),
            knee=(u(1.2, 1.9), u(1.2, 1.9)),
            hip_abd=(u(0, 0.35), u(0, 0.35)),
            bend=u(-0.15, 0.4),
            shoulder_flex=(u(0, 1.0), u(0, 1.0)),
            elbow=(u(0.3, 1.8), u(0.3, 1.8)),
        )
    elif family == "squat":
        knee = u(1.6, 2.4)
        a = PoseAngles(
            hip_flex=(knee * u(0.75, 0.95),) * 2,
            knee=(knee, knee + u(-0.15, 0.15)),
            hip_abd=(u(0.1, 0.5), u(0.1, 0.5)),
            bend=u(0.2, 0.7),
            shoulder_flex=(u(0.3, 1.6), u(0.3, 1.6)),
            elbow=(u(0, 1.2), u(0, 1.2)),
        )
    elif family == "reach":
        up = (u(1.2, 3.0), u(-0.3, 1.0)) if side > 0 else (u(-0.3, 1.0), u(1.2, 3.0))
        a = PoseAngles(
            shoulder_flex=up,
            shoulder_abd=(u(0, 1.2), u(0, 1.2)),
            elbow=(u(0, 0.6), u(0, 0.6)),
            bend=u(-0.1, 0.3),
            lean=u(-0.25, 0.25),
            hip_flex=(u(-0.1, 0.3), u(-0.1, 0.3)),
            twist=u(-0.4, 0.4),
        )
    elif family == "bend":
        a = PoseAngles(
            bend=u(0.6, 1.5),
            hip_flex=(u(0.1, 0.6),) * 2,
            knee=(u(0, 0.5), u(0, 0.5)),
            shoulder_flex=(u(0.3, 1.8), u(0.3, 1.8)),
            elbow=(u(0, 0.8), u(0, 0.8)),
            head_pitch=u(-0.5, 0.2),
        )
    elif family == "turn":
        a = PoseAngles(
            twist=side * u(0.3, 0.8),
            head_yaw=side * u(0.2, 1.0),
            lean=u(-0.2, 0.2),
            hip_flex=(u(-0.1, 0.4), u(-0.1, 0.4)),
            knee=(u(0, 0.4), u(0, 0.4)),
            shoulder_flex=(u(-0.4, 1.2), u(-0.4, 1.2)),
            shoulder_abd=(u(0, 1.2), u(0, 1.2)),
            elbow=(u(0, 1.5), u(0, 1.5)),
        )
    else:
        raise ValueError(f"unknown motion family {family!r}; choose one of {FAMILIES}")
    # perturb every angle a little, then clip to the limits
    for name in PoseAngles.LIMITS:
        v = getattr(a, name)
        setattr(a, name, tuple(x + rng.normal(0, 0.08) for x in v) if isinstance(v, tuple) else v + rng.normal(0, 0.08))
    a.yaw = float(rng.uniform(-np.pi, np.pi) if yaw is None else yaw)
    return family, a.clipped()


@dataclass
class Posed:
    """A body in a pose: H36M joints plus the primitives the renderer draws (world frame)."""

    joints: np.ndarray  # (17, 3)
    capsules: list[tuple[np.ndarray, np.ndarray, float, np.ndarray]]  # (a, b, radius, colour)
    ellipsoids: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]  # (centre, rotation, radii, colour)
    spheres: list[tuple[np.ndarray, float, np.ndarray]]  # (centre, radius, colour)


def pose_body(shape: BodyShape, a: PoseAngles, position: tuple[float, float] = (0.0, 0.0)) -> Posed:
    """Forward kinematics, then lowers the body so that its lowest point touches the floor."""
    L = shape.lengths
    root = rot_y(a.yaw) @ rot_x(a.pitch)
    pelvis, spine, thorax, r_low, r_high = spine_chain(root, a.bend, a.twist, a.lean, L)
    r_head = r_high @ rot_y(a.head_yaw) @ rot_x(a.head_pitch)
    nose, head_top, head_centre = head_points(thorax, r_head, L)

    joints = np.zeros((17, 3))
    joints[J["pelvis"]], joints[J["spine"]], joints[J["thorax"]] = pelvis, spine, thorax
    joints[J["neck_nose"]], joints[J["head"]] = nose, head_top
    g = shape.girth
    capsules, ellipsoids, spheres = [], [], []
    feet = []
    for k, side in enumerate(SIDES):
        sx = 1.0 if side == "left" else -1.0
        hip = pelvis + root @ np.array([sx * L["hip"], -0.02, 0])
        r_thigh = limb_rotation(root, sx, a.hip_abd[k], a.hip_flex[k])
        knee = bone_end(hip, r_thigh, L["thigh"])
        r_shin = r_thigh @ rot_x(a.knee[k])
        ankle = bone_end(knee, r_shin, L["shin"])
        toe = ankle + r_shin @ rot_x(-np.pi / 2 - 0.1) @ (DOWN * 0.15) + np.array([0, -0.03, 0])
        joints[J[f"{side}_hip"]], joints[J[f"{side}_knee"]], joints[J[f"{side}_foot"]] = hip, knee, ankle
        capsules += [
            (hip, knee, 0.075 * g, shape.pants),
            (knee, ankle, 0.055 * g, shape.pants),
            (ankle, toe, 0.042, shape.shoes),
        ]
        feet += [ankle, toe]

        shoulder = thorax + r_high @ np.array([sx * L["shoulder"], -0.03, -0.01])
        r_upper = limb_rotation(r_high, sx, a.shoulder_abd[k], a.shoulder_flex[k])
        elbow = bone_end(shoulder, r_upper, L["upper_arm"])
        r_fore = r_upper @ rot_x(-a.elbow[k])
        wrist = bone_end(elbow, r_fore, L["forearm"])
        hand = bone_end(wrist, r_fore, 0.07)
        joints[J[f"{side}_shoulder"]], joints[J[f"{side}_elbow"]], joints[J[f"{side}_wrist"]] = shoulder, elbow, wrist
        capsules += [(shoulder, elbow, 0.048 * g, shape.shirt), (elbow, wrist, 0.038 * g, shape.skin)]
        spheres.append((hand, 0.045, shape.skin))

    ellipsoids += [
        ((pelvis + spine) / 2 + r_low @ np.array([0, -0.03, 0]), r_low, np.array([0.165, 0.17, 0.11]) * g, shape.pants),
        (
            (spine + thorax) / 2 + r_high @ np.array([0, -0.02, 0]),
            r_high,
            np.array([0.175, 0.19, 0.115]) * g,
            shape.shirt,
        ),
        (head_centre, r_head, np.array([0.078, 0.105, 0.095]), shape.skin),
        (head_centre + r_head @ np.array([0, 0.03, -0.012]), r_head, np.array([0.082, 0.09, 0.095]), shape.hair),
    ]
    capsules.append((thorax + r_high @ np.array([0, -0.02, 0]), head_centre, 0.05 * g, shape.skin))
    # a face: nose and eyes on the front of the head (front/back and left/right cues)
    spheres += [(head_centre + r_head @ np.array([0, -0.015, 0.095]), 0.018, shape.skin * 0.9)]
    for sx in (1.0, -1.0):
        spheres.append(
            (head_centre + r_head @ np.array([sx * 0.032, 0.018, 0.086]), 0.014, np.array([0.05, 0.05, 0.08]))
        )

    lowest = min(p[1] for p in feet) - 0.042
    offset = np.array([position[0], -lowest, position[1]])
    return Posed(
        joints + offset,
        [(p + offset, q + offset, r, c) for p, q, r, c in capsules],
        [(c + offset, rot, radii, col) for c, rot, radii, col in ellipsoids],
        [(c + offset, r, col) for c, r, col in spheres],
    )
