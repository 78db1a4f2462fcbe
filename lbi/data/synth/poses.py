"""Poses of everyday life for the domain-randomised LBI-Synth: a skeleton built by forward
kinematics (torso, head, legs) with arms either posed by joint angles or placed by two-bone IK on a
target (a hand at the ear, on the hip, across the chest), so gestures combine with any body pose.

Families (what real photos show, Human3.6M's and 3DHP's activities among them): stand, walk, run,
sit on a chair, sit on the floor, crouch, kneel, bend, reach, lean, exercise (lunge, star jump,
stretch, leg raise). Arm gestures: relaxed, swinging, arms crossed, hands on hips, phone at the
ear, greeting wave, pointing, hand at the chin, hands in pockets, behind the back, holding
something, taking a photo, reaching up or forward, hands on the lap or around the knees.

Frames, joints and bone lengths: the kinematic core of :mod:`.kinematics`, which lab / wild's people share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kinematics import (
    DOWN,
    SIDES,
    J,
    bone_end,
    head_points,
    limb_rotation,
    rot_x,
    rot_y,
    rot_z,
    sample_lengths,
    spine_chain,
)

#: family -> sampling weight
FAMILIES = {
    "stand": 1.2,
    "walk": 1.0,
    "run": 0.35,
    "sit_chair": 1.3,
    "sit_floor": 0.6,
    "crouch": 0.45,
    "kneel": 0.4,
    "bend": 0.55,
    "reach": 0.45,
    "lean": 0.4,
    "exercise": 0.5,
}
#: gesture -> sampling weight, for families that leave the arms free
GESTURES = {
    "relaxed": 2.0,
    "crossed": 0.5,
    "hip": 0.5,
    "phone": 0.55,
    "wave": 0.4,
    "point": 0.45,
    "chin": 0.3,
    "pocket": 0.35,
    "behind": 0.3,
    "hold": 0.6,
    "photo": 0.25,
    "reach_up": 0.25,
    "reach_forward": 0.3,
}
BIMANUAL = ("crossed", "hold", "photo")  # gestures that use both arms


@dataclass
class Limb:
    """One arm or leg: joint angles (radians), or a target for its end (arms) with a pole that
    says where the elbow points (both in the body's torso frame, relative to ``anchor``)."""

    flex: float = 0.0  # forward swing
    abd: float = 0.0  # sideways, away from the body
    rot: float = 0.0  # about the limb's own axis (outward positive)
    bend: float = 0.0  # elbow / knee
    target: tuple[str, np.ndarray] | None = None  # (anchor: "thorax" | "pelvis" | "head" | "knee", offset)
    pole: np.ndarray | None = None


@dataclass
class PoseSpec:
    """Everything that fixes a pose before the body's own proportions are known."""

    family: str
    gesture: str = "relaxed"
    yaw: float = 0.0  # about the world's vertical axis
    pitch: float = 0.0  # whole body tilted forward (+) or back
    roll: float = 0.0  # whole body tilted to its left (+)
    bend: float = 0.0  # spine flexion
    twist: float = 0.0
    lean: float = 0.0  # spine side bend
    head: tuple[float, float, float] = (0.0, 0.0, 0.0)  # pitch (down +), yaw, roll
    legs: dict[str, Limb] = field(default_factory=lambda: {s: Limb() for s in SIDES})
    arms: dict[str, Limb] = field(default_factory=lambda: {s: Limb(abd=0.15, bend=0.15) for s in SIDES})
    ankle: tuple[float, float] = (0.0, 0.0)  # foot pitch (toes up +), left and right
    seat: str | None = None  # "chair" | "floor" | None


@dataclass
class Skeleton:
    """A posed skeleton in the world (metres, y up, floor y = 0) and the points the body is dressed on."""

    joints: np.ndarray  # (17, 3) H36M order
    toes: dict[str, np.ndarray]
    hands: dict[str, np.ndarray]  # end of each hand (fingertips)
    head_centre: np.ndarray
    frames: dict[str, np.ndarray]  # rotations (3, 3): "root", "low" (pelvis), "high" (chest), "head"
    chair: tuple[np.ndarray, float, np.ndarray] | None = None  # pelvis (world), seat height, facing rotation


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], float)
    return names[rng.choice(len(names), p=p / p.sum())]


def _relaxed_arm(rng: np.random.Generator) -> Limb:
    return Limb(flex=_u(rng, -0.3, 0.5), abd=_u(rng, 0.05, 0.45), rot=_u(rng, -0.3, 0.3), bend=_u(rng, 0.05, 0.9))


def gesture_arms(rng: np.random.Generator, gesture: str) -> dict[str, Limb]:
    """Both arms for a gesture; one-armed gestures use a random side and relax the other arm."""
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    arms = {s: _relaxed_arm(rng) for s in SIDES}
    if gesture == "relaxed":
        return arms
    if gesture == "crossed":  # each wrist under the other elbow, in front of the chest
        for s in SIDES:
            sx = 1.0 if s == "left" else -1.0
            arms[s] = Limb(
                target=("thorax", np.array([-sx * u(0.08, 0.16), -u(0.18, 0.26), u(0.13, 0.2)])),
                pole=np.array([sx, -0.6, 0.2]),
            )
        return arms
    if gesture == "hold":  # something held in front with both hands
        y, z = u(-0.35, 0.05), u(0.25, 0.45)
        for s in SIDES:
            sx = 1.0 if s == "left" else -1.0
            arms[s] = Limb(
                target=("thorax", np.array([sx * u(0.06, 0.18), y, z])), pole=np.array([sx * 0.7, -1.0, 0.0])
            )
        return arms
    if gesture == "photo":  # a phone or camera in front of the face
        for s in SIDES:
            sx = 1.0 if s == "left" else -1.0
            arms[s] = Limb(
                target=("head", np.array([sx * u(0.05, 0.1), u(-0.06, 0.02), u(0.2, 0.3)])),
                pole=np.array([sx * 0.6, -1.0, 0.0]),
            )
        return arms
    side = SIDES[rng.integers(2)]
    sx = 1.0 if side == "left" else -1.0
    if gesture == "hip":
        for s in SIDES if rng.random() < 0.6 else (side,):  # often both hands
            sy = 1.0 if s == "left" else -1.0
            arms[s] = Limb(
                target=("pelvis", np.array([sy * u(0.17, 0.22), u(0.02, 0.12), u(-0.04, 0.04)])),
                pole=np.array([sy, 0.0, -0.4]),
            )
    elif gesture == "phone":
        arms[side] = Limb(
            target=("head", np.array([sx * u(0.07, 0.1), u(-0.06, 0.0), u(0.0, 0.05)])),
            pole=np.array([sx * 0.4, -1.0, 0.4]),
        )
    elif gesture == "chin":
        arms[side] = Limb(
            target=("head", np.array([sx * u(0.0, 0.03), u(-0.13, -0.09), u(0.07, 0.11)])),
            pole=np.array([sx * 0.3, -1.0, 0.3]),
        )
    elif gesture == "wave":
        arms[side] = Limb(
            target=("thorax", np.array([sx * u(0.3, 0.5), u(0.15, 0.4), u(-0.05, 0.25)])),
            pole=np.array([sx, -1.0, -0.2]),
        )
    elif gesture == "point":
        arms[side] = Limb(flex=u(0.9, 1.7), abd=u(0.0, 1.2), rot=u(-0.3, 0.3), bend=u(0.0, 0.25))
    elif gesture == "pocket":
        for s in SIDES if rng.random() < 0.5 else (side,):
            sy = 1.0 if s == "left" else -1.0
            arms[s] = Limb(
                target=("pelvis", np.array([sy * u(0.13, 0.17), u(-0.1, -0.03), u(0.05, 0.1)])),
                pole=np.array([sy, -0.2, -0.5]),
            )
    elif gesture == "behind":
        for s in SIDES:
            sy = 1.0 if s == "left" else -1.0
            arms[s] = Limb(
                target=("pelvis", np.array([sy * u(0.0, 0.08), u(-0.02, 0.1), -u(0.14, 0.2)])),
                pole=np.array([sy, -0.3, -0.3]),
            )
    elif gesture == "reach_up":
        for s in SIDES if rng.random() < 0.4 else (side,):
            arms[s] = Limb(flex=u(2.3, 3.05), abd=u(0.0, 0.5), rot=u(-0.3, 0.3), bend=u(0.0, 0.5))
    elif gesture == "reach_forward":
        for s in SIDES if rng.random() < 0.4 else (side,):
            arms[s] = Limb(flex=u(1.0, 1.8), abd=u(-0.1, 0.4), rot=u(-0.3, 0.3), bend=u(0.0, 0.6))
    else:
        raise ValueError(f"unknown gesture {gesture!r}")
    return arms


def _stand(rng: np.random.Generator, p: PoseSpec, legs: dict[str, Limb], lead: str, other: str) -> None:
    """Weight on both legs or on one."""
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    if rng.random() < 0.4:  # weight on one leg
        legs[other] = Limb(flex=u(0.0, 0.3), abd=u(0.0, 0.25), rot=u(0.0, 0.5), bend=u(0.1, 0.5))
        p.roll = u(-0.06, 0.06)


def _walk_run(rng: np.random.Generator, p: PoseSpec, legs: dict[str, Limb], lead: str, other: str) -> None:
    """Legs and arms swinging in opposition."""
    family = p.family
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    swing = u(0.2, 0.55) if family == "walk" else u(0.5, 1.0)
    legs[lead] = Limb(flex=swing, abd=u(0.0, 0.1), rot=u(0.0, 0.2), bend=u(0.0, 0.35 if family == "walk" else 1.4))
    legs[other] = Limb(
        flex=-swing * u(0.5, 1.0), abd=u(0.0, 0.1), rot=u(0.0, 0.2), bend=u(0.1, 0.7 if family == "walk" else 2.0)
    )
    p.pitch = u(0.0, 0.08) if family == "walk" else u(0.1, 0.3)
    if p.gesture == "relaxed" or family == "run":
        p.gesture = "swing"
        for s, sign in ((lead, -1.0), (other, 1.0)):
            p.arms[s] = Limb(
                flex=sign * swing * u(0.6, 1.2),
                abd=u(0.05, 0.25),
                rot=u(-0.2, 0.2),
                bend=u(0.2, 0.7) if family == "walk" else u(1.2, 1.9),
            )


def _sit_chair(rng: np.random.Generator, p: PoseSpec, legs: dict[str, Limb], lead: str, other: str) -> None:
    """On a chair, sometimes legs crossed or hands on the lap."""
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    p.seat = "chair"
    hip = u(1.25, 1.75)
    for s in SIDES:
        legs[s] = Limb(flex=hip + u(-0.2, 0.2), abd=u(0.0, 0.35), rot=u(-0.2, 0.3), bend=u(1.1, 2.0))
    if rng.random() < 0.2:  # legs crossed at the knees
        legs[lead] = Limb(flex=hip + u(0.1, 0.35), abd=-u(0.25, 0.4), rot=u(0.0, 0.3), bend=u(1.2, 1.6))
    p.bend, p.pitch = u(-0.1, 0.45), -u(0.0, 0.25)
    if p.gesture == "relaxed" and rng.random() < 0.5:
        p.gesture = "lap"
        for s in SIDES:
            sx = 1.0 if s == "left" else -1.0
            p.arms[s] = Limb(
                target=("knee", np.array([sx * 0.0, u(0.06, 0.12), -u(0.05, 0.2)])), pole=np.array([sx, -0.5, -0.3])
            )


def _sit_floor(rng: np.random.Generator, p: PoseSpec, legs: dict[str, Limb], lead: str, other: str) -> None:
    """Cross-legged, legs out, knees up or one leg out."""
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    p.seat = "floor"
    style = rng.integers(4)
    if style == 0:  # cross-legged
        for s in SIDES:
            legs[s] = Limb(flex=u(1.1, 1.5), abd=u(0.6, 0.95), rot=u(0.5, 0.9), bend=u(2.2, 2.5))
    elif style == 1:  # legs out in front
        for s in SIDES:
            legs[s] = Limb(flex=u(1.35, 1.65), abd=u(0.0, 0.3), rot=u(0.0, 0.4), bend=u(0.0, 0.4))
    elif style == 2:  # knees up
        for s in SIDES:
            legs[s] = Limb(flex=u(1.8, 2.15), abd=u(0.05, 0.3), rot=u(-0.1, 0.2), bend=u(1.9, 2.4))
        if p.gesture == "relaxed":
            p.gesture = "hug_knees"
            for s in SIDES:
                sx = 1.0 if s == "left" else -1.0
                p.arms[s] = Limb(
                    target=("knee", np.array([-sx * 0.04, -u(0.0, 0.1), u(0.05, 0.12)])),
                    pole=np.array([sx, -0.3, 0.0]),
                )
    else:  # one leg bent, one out
        legs[lead] = Limb(flex=u(1.35, 1.65), abd=u(0.1, 0.35), rot=u(0.0, 0.4), bend=u(0.0, 0.5))
        legs[other] = Limb(flex=u(1.5, 2.0), abd=u(0.2, 0.6), rot=u(0.2, 0.7), bend=u(1.8, 2.4))
    p.pitch, p.bend = -u(0.05, 0.35), u(0.0, 0.4)


def _crouch(rng: np.random.Generator, p: PoseSpec, legs: dict[str, Limb], lead: str, other: str) -> None:
    """Knees deep, heels up."""
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    knee = u(1.8, 2.45)
    for s in SIDES:
        legs[s] = Limb(flex=knee * u(0.75, 0.95), abd=u(0.15, 0.5), rot=u(0.0, 0.5), bend=knee + u(-0.15, 0.1))
    p.bend, p.pitch = u(0.2, 0.8), u(0.0, 0.3)
    p.ankle = (-u(0.0, 0.4), -u(0.0, 0.4))


def _kneel(rng: np.random.Generator, p: PoseSpec, legs: dict[str, Limb], lead: str, other: str) -> None:
    """On one knee or both."""
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    if rng.random() < 0.5:  # on one knee
        legs[lead] = Limb(flex=u(1.2, 1.6), abd=u(0.0, 0.2), rot=u(0.0, 0.3), bend=u(1.3, 1.7))
        legs[other] = Limb(flex=u(-0.15, 0.2), abd=u(0.0, 0.15), rot=u(0.0, 0.3), bend=u(1.4, 1.75))
        p.ankle = _per_side({lead: 0.0, other: -0.5})
    else:  # on both knees, upright or sitting back on the heels
        back = u(1.4, 2.5)
        for s in SIDES:
            legs[s] = Limb(flex=max(0.0, back - 1.5) + u(-0.1, 0.2), abd=u(0.0, 0.2), rot=u(0.0, 0.3), bend=back)
        p.ankle = (-1.3, -1.3)
    p.bend = u(-0.1, 0.4)


def _bend(rng: np.random.Generator, p: PoseSpec, legs: dict[str, Limb], lead: str, other: str) -> None:
    """Forward from the hips."""
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    p.bend, p.pitch = u(0.5, 1.3), u(0.2, 0.7)
    for s in SIDES:
        legs[s] = Limb(flex=u(0.0, 0.5), abd=u(0.0, 0.25), rot=u(0.0, 0.3), bend=u(0.0, 0.7))
    if p.gesture == "relaxed":
        p.gesture = "reach_down"
        for s in SIDES:
            p.arms[s] = Limb(flex=u(0.6, 1.6), abd=u(0.0, 0.4), rot=u(-0.3, 0.3), bend=u(0.0, 0.8))


def _reach(rng: np.random.Generator, p: PoseSpec, legs: dict[str, Limb], lead: str, other: str) -> None:
    """One arm up."""
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    p.lean, p.bend = u(-0.3, 0.3), u(-0.15, 0.15)
    p.arms[lead] = Limb(flex=u(2.0, 3.05), abd=u(0.0, 1.0), rot=u(-0.3, 0.3), bend=u(0.0, 0.5))
    p.gesture = "reach_up"
    legs[lead] = Limb(flex=u(-0.05, 0.1), abd=u(0.0, 0.15), bend=u(0.0, 0.1))


def _lean(rng: np.random.Generator, p: PoseSpec, legs: dict[str, Limb], lead: str, other: str) -> None:
    """To a side, forward or back."""
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    p.lean, p.pitch, p.roll = u(-0.45, 0.45), u(-0.15, 0.3), u(-0.12, 0.12)


def _exercise(rng: np.random.Generator, p: PoseSpec, legs: dict[str, Limb], lead: str, other: str) -> None:
    """Lunge, star jump, side stretch or a leg raised."""
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    kind = rng.integers(4)
    if kind == 0:  # lunge
        legs[lead] = Limb(flex=u(1.0, 1.5), abd=u(0.0, 0.15), rot=u(0.0, 0.2), bend=u(1.2, 1.8))
        legs[other] = Limb(flex=-u(0.3, 0.6), abd=u(0.0, 0.15), rot=u(0.0, 0.2), bend=u(0.6, 1.4))
        p.ankle = _per_side({lead: 0.0, other: -0.6})
    elif kind == 1:  # star jump
        for s in SIDES:
            legs[s] = Limb(abd=u(0.25, 0.55), bend=u(0.0, 0.3))
            p.arms[s] = Limb(abd=u(1.8, 2.9), flex=u(-0.2, 0.3), bend=u(0.0, 0.4))
        p.gesture = "star"
    elif kind == 2:  # side stretch
        p.lean = u(0.25, 0.55) * (1.0 if lead == "right" else -1.0)
        p.arms[lead] = Limb(flex=u(2.3, 3.0), abd=u(0.3, 1.0), bend=u(0.0, 0.3))
        p.gesture = "stretch"
    else:  # leg raised forward or to the side
        legs[lead] = Limb(flex=u(0.6, 1.6), abd=u(0.0, 0.9), rot=u(0.0, 0.3), bend=u(0.0, 1.2))


#: family -> what sets its legs (and, for some, the arms and trunk) on top of the common pose
_FAMILY_POSES = {
    "stand": _stand,
    "walk": _walk_run,
    "run": _walk_run,
    "sit_chair": _sit_chair,
    "sit_floor": _sit_floor,
    "crouch": _crouch,
    "kneel": _kneel,
    "bend": _bend,
    "reach": _reach,
    "lean": _lean,
    "exercise": _exercise,
}


def sample_pose(rng: np.random.Generator, family: str | None = None) -> PoseSpec:
    """A random everyday pose: a family (by FAMILIES' weights unless given), a gesture, then the family's
    parameters (``_FAMILY_POSES``), mirrored half of the time."""
    family = family or _pick(rng, FAMILIES)
    if family not in _FAMILY_POSES:
        raise ValueError(f"unknown pose family {family!r}; choose one of {sorted(FAMILIES)}")
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    gesture = _pick(rng, GESTURES)
    p = PoseSpec(
        family,
        gesture,
        yaw=u(-np.pi, np.pi),
        head=(u(-0.35, 0.45), u(-0.7, 0.7), u(-0.2, 0.2)),
        bend=u(-0.1, 0.2),
        twist=u(-0.25, 0.25),
        lean=u(-0.1, 0.1),
    )
    p.arms = gesture_arms(rng, gesture)
    legs = {s: Limb(flex=u(-0.1, 0.15), abd=u(0.0, 0.2), rot=u(-0.2, 0.35), bend=u(0.0, 0.2)) for s in SIDES}
    lead = SIDES[rng.integers(2)]
    other = SIDES[1 - SIDES.index(lead)]
    _FAMILY_POSES[family](rng, p, legs, lead, other)
    p.legs = legs
    if rng.random() < 0.5:  # mirror: any asymmetry equally often on both sides
        p.legs = {"left": p.legs["right"], "right": p.legs["left"]}
        p.arms = {"left": _mirror(p.arms["right"]), "right": _mirror(p.arms["left"])}
        p.lean, p.roll, p.twist = -p.lean, -p.roll, -p.twist
        p.head = (p.head[0], -p.head[1], -p.head[2])
        p.ankle = p.ankle[::-1]
    return p


def _per_side(values: dict[str, float]) -> tuple[float, float]:
    return values["left"], values["right"]


def _mirror(limb: Limb) -> Limb:
    """The same limb on the other side of the body (targets and poles mirrored in x)."""
    flip = np.array([-1.0, 1.0, 1.0])
    target = None if limb.target is None else (limb.target[0], limb.target[1] * flip)
    return Limb(limb.flex, limb.abd, limb.rot, limb.bend, target, None if limb.pole is None else limb.pole * flip)


def two_bone_ik(
    start: np.ndarray, target: np.ndarray, upper: float, lower: float, pole: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joint of a two-bone chain from ``start`` reaching for ``target`` (clamped to
    its reach), bending towards ``pole`` (a direction): (elbow, wrist)."""
    to = target - start
    dist = float(np.clip(np.linalg.norm(to), abs(upper - lower) + 1e-3, upper + lower - 1e-3))
    axis = to / (np.linalg.norm(to) + 1e-12)
    side = pole - (pole @ axis) * axis
    if np.linalg.norm(side) < 1e-6:  # pole along the chain: any perpendicular will do
        side = np.cross(axis, [0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.cross(axis, [1.0, 0.0, 0.0])
    side /= np.linalg.norm(side)
    cos_a = (upper**2 + dist**2 - lower**2) / (2 * upper * dist)
    middle = start + upper * (cos_a * axis + np.sqrt(max(0.0, 1 - cos_a**2)) * side)
    return middle, start + dist * axis


def build_skeleton(
    spec: PoseSpec,
    lengths: dict[str, float],
    hip_half: float,
    shoulder_half: float,
    position: tuple[float, float] = (0.0, 0.0),
) -> Skeleton:
    """Forward kinematics (and arm IK) of ``spec`` for a body of these proportions, placed with its
    lowest point (or its feet, on a chair) on the floor at ``position`` (x, z)."""
    L = lengths
    upright = rot_y(spec.yaw) @ rot_z(-spec.roll)
    root = upright @ rot_x(spec.pitch)
    pelvis, spine, thorax, r_low, r_high = spine_chain(root, spec.bend, spec.twist, spec.lean, L)
    hp, hy, hr = spec.head
    r_head = r_high @ rot_y(hy) @ rot_x(hp) @ rot_z(-hr)
    nose, head_top, head_centre = head_points(thorax, r_head, L)
    joints = np.zeros((17, 3))
    joints[J["pelvis"]], joints[J["spine"]], joints[J["thorax"]] = pelvis, spine, thorax
    joints[J["neck_nose"]], joints[J["head"]] = nose, head_top
    toes, hands, knees = {}, {}, {}
    for k, side in enumerate(SIDES):
        sx = 1.0 if side == "left" else -1.0
        leg = spec.legs[side]
        hip = pelvis + root @ np.array([sx * hip_half, -0.03, 0.0])
        # thighs swing from the upright (yawed, rolled) frame: pitching the pelvis bends at the hips
        r_thigh = limb_rotation(upright, sx, leg.abd, leg.flex, leg.rot)
        knee = bone_end(hip, r_thigh, L["thigh"])
        r_shin = r_thigh @ rot_x(leg.bend)
        ankle = bone_end(knee, r_shin, L["shin"])
        toes[side] = ankle + r_shin @ rot_x(-np.pi / 2 - 0.1 + spec.ankle[k]) @ (DOWN * 0.15) + r_shin @ (DOWN * 0.04)
        joints[J[f"{side}_hip"]], joints[J[f"{side}_knee"]], joints[J[f"{side}_foot"]] = hip, knee, ankle
        knees[side] = knee
    anchors = {"thorax": (thorax, r_high), "pelvis": (pelvis, r_low), "head": (head_centre, r_head)}
    for side in SIDES:
        sx = 1.0 if side == "left" else -1.0
        arm = spec.arms[side]
        shoulder = thorax + r_high @ np.array([sx * shoulder_half, -0.03, -0.01])
        if arm.target is None:
            r_upper = limb_rotation(r_high, sx, arm.abd, arm.flex, arm.rot)
            elbow = bone_end(shoulder, r_upper, L["upper_arm"])
            wrist = bone_end(elbow, r_upper @ rot_x(-arm.bend), L["forearm"])
        else:
            name, offset = arm.target
            if name == "knee":
                origin, frame = knees[side], r_low
            else:
                origin, frame = anchors[name]
            elbow, wrist = two_bone_ik(
                shoulder, origin + frame @ offset, L["upper_arm"], L["forearm"], r_high @ arm.pole
            )
        hands[side] = wrist + (wrist - elbow) / (np.linalg.norm(wrist - elbow) + 1e-9) * 0.09
        joints[J[f"{side}_shoulder"]], joints[J[f"{side}_elbow"]], joints[J[f"{side}_wrist"]] = shoulder, elbow, wrist

    chair = None
    points = np.concatenate([joints, np.stack(list(toes.values())), np.stack(list(hands.values()))])
    feet_low = min(min(toes[s][1], joints[J[f"{s}_foot"]][1]) for s in SIDES) - 0.045
    if spec.seat == "chair":
        lift = -feet_low  # feet on the floor, a chair under the buttocks
        seat_height = pelvis[1] + lift - 0.1
        chair = (pelvis.copy(), seat_height, rot_y(spec.yaw))
    else:
        lowest = min(
            feet_low,
            min(p[1] for p in (joints[J["left_knee"]], joints[J["right_knee"]])) - 0.06,
            pelvis[1] - 0.12 if spec.seat == "floor" else np.inf,
            points[:, 1].min() - 0.04,
        )
        lift = -lowest
    offset = np.array([position[0], lift, position[1]])
    return Skeleton(
        joints + offset,
        {s: t + offset for s, t in toes.items()},
        {s: h + offset for s, h in hands.items()},
        head_centre + offset,
        {"root": root, "low": r_low, "high": r_high, "head": r_head},
        None if chair is None else (chair[0] + offset, chair[1], chair[2]),
    )


def body_lengths(rng: np.random.Generator) -> tuple[dict[str, float], float, float]:
    """A subject's bone lengths (H36M means, overall size +-12 %, each bone +-5 %), and half the
    hip and shoulder widths."""
    lengths = sample_lengths(rng, (0.88, 1.12), (0.95, 1.05))
    return lengths, lengths["hip"] * rng.uniform(0.9, 1.12), lengths["shoulder"] * rng.uniform(0.9, 1.12)
