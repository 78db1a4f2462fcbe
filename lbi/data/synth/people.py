"""People for the domain-randomised LBI-Synth: body shapes, skin, hair and clothes, dressed onto a
posed :class:`~lbi.data.synth.poses.Skeleton` as ray-castable primitives.

Limbs taper (two capsules per segment), the torso is a chest, a waist and a pelvis, hands and feet
have size, the head has a face (nose, eyes), ears and hair (short, long or tied back, or none).
Clothes: tops with long, short or no sleeves; trousers, shorts or a skirt; solid colours or prints
(stripes, checks, dots) that follow the body; shoes. Skin tones span light to dark.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .kinematics import SIDES, SKIN_TONES, J
from .poses import Skeleton, body_lengths
from .render import Primitive

HAIR_COLOURS = np.array(
    [
        [0.05, 0.04, 0.03],
        [0.18, 0.11, 0.06],
        [0.35, 0.22, 0.12],
        [0.55, 0.38, 0.2],
        [0.8, 0.65, 0.4],
        [0.6, 0.6, 0.6],
        [0.85, 0.85, 0.85],
        [0.45, 0.12, 0.06],
    ]
)


@dataclass
class Print:
    """A garment's colours: a base colour and, for prints, a second colour in a pattern that is
    fixed in the body's frame (so stripes stay horizontal on the chest as the body turns)."""

    base: np.ndarray
    kind: str = "solid"  # solid | hstripes | vstripes | checks | dots
    second: np.ndarray | None = None
    period: float = 0.06  # metres
    origin: np.ndarray | None = None  # set when dressed: the body frame
    frame: np.ndarray | None = None

    def colours(self, points: np.ndarray) -> np.ndarray:
        """(P, 3) world points on the garment -> (P, 3) RGB."""
        if self.kind == "solid":
            return np.broadcast_to(self.base, points.shape).copy()
        assert self.origin is not None and self.frame is not None and self.second is not None  # set by dress()
        local = (points - self.origin) @ self.frame
        x, y = local[:, 0] / self.period, local[:, 1] / self.period
        if self.kind == "hstripes":
            on = np.floor(y) % 2 == 0
        elif self.kind == "vstripes":
            on = np.floor(x) % 2 == 0
        elif self.kind == "checks":
            on = (np.floor(x) + np.floor(y)) % 2 == 0
        else:  # dots
            on = (x - np.round(x)) ** 2 + (y - np.round(y)) ** 2 < 0.09
        return np.where(on[:, None], self.base, self.second)


@dataclass
class Person:
    """One synthetic subject."""

    lengths: dict[str, float]
    hip_half: float
    shoulder_half: float
    girth: float  # multiplies limb and torso radii
    chest: float  # relative chest depth / width
    belly: float
    skin: np.ndarray
    hair: np.ndarray
    hair_style: str  # short | long | tied | none
    top: Print
    sleeves: str  # long | short | none
    bottom: Print
    legwear: str  # trousers | shorts | skirt
    shoes: np.ndarray

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Person:
        lengths, hip_half, shoulder_half = body_lengths(rng)
        skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.93, 1.05)
        return cls(
            lengths,
            hip_half,
            shoulder_half,
            girth=rng.uniform(0.85, 1.25),
            chest=rng.uniform(0.9, 1.15),
            belly=rng.uniform(0.85, 1.25),
            skin=np.clip(skin, 0, 1),
            hair=HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15),
            hair_style=("short", "long", "tied", "none")[rng.choice(4, p=[0.45, 0.3, 0.15, 0.1])],
            top=_print(rng),
            sleeves=("long", "short", "none")[rng.choice(3, p=[0.45, 0.45, 0.1])],
            bottom=_print(rng, dark=True),
            legwear=("trousers", "shorts", "skirt")[rng.choice(3, p=[0.65, 0.15, 0.2])],
            shoes=rng.uniform(0.02, 0.6, 3) * rng.uniform(0.3, 1.0),
        )

    def dressed(self, rng: np.random.Generator) -> Person:
        """The same body in other clothes (and shoes)."""
        other = Person.sample(rng)
        return replace(
            self, top=other.top, sleeves=other.sleeves, bottom=other.bottom, legwear=other.legwear, shoes=other.shoes
        )

    def skeleton(self, spec, position: tuple[float, float] = (0.0, 0.0)) -> Skeleton:
        from .poses import build_skeleton

        return build_skeleton(spec, self.lengths, self.hip_half, self.shoulder_half, position)


def _colour(rng: np.random.Generator, dark: bool = False) -> np.ndarray:
    """A clothing colour: often muted (greys, navy, denim, beige), sometimes saturated."""
    if rng.random() < 0.45:
        grey = rng.uniform(0.05, 0.9) * (0.6 if dark else 1.0)
        return np.clip(grey + rng.normal(0, 0.03, 3), 0, 1)
    hue = rng.uniform(0, 1)
    sat = rng.uniform(0.2, 0.9)
    val = rng.uniform(0.15, 0.95) * (0.75 if dark else 1.0)
    rgb = np.clip(np.abs((hue * 6 + np.array([0, 4, 2])) % 6 - 3) - 1, 0, 1)  # hue wheel
    return val * (1 - sat + sat * rgb)


def _print(rng: np.random.Generator, dark: bool = False) -> Print:
    kind = ("solid", "hstripes", "vstripes", "checks", "dots")[rng.choice(5, p=[0.6, 0.13, 0.07, 0.12, 0.08])]
    return Print(_colour(rng, dark), kind, _colour(rng, dark), rng.uniform(0.02, 0.09))


def _limb(a: np.ndarray, b: np.ndarray, r_a: float, r_b: float, colour, split: float = 0.5) -> list[Primitive]:
    """A tapering segment: two capsules, the near half thicker."""
    m = a + split * (b - a)
    return [
        Primitive("capsule", a, m, radius=r_a, colour=colour),
        Primitive("capsule", m, b, radius=r_b, colour=colour),
    ]


def _frame_along(a: np.ndarray, b: np.ndarray, up: np.ndarray) -> np.ndarray:
    """A rotation whose y axis runs from b to a (a limb's axis) and whose z axis is ``up`` made perpendicular."""
    y = (a - b) / (np.linalg.norm(a - b) + 1e-9)
    z = up - (up @ y) * y
    z = z / (np.linalg.norm(z) + 1e-9) if np.linalg.norm(z) > 1e-6 else np.cross(y, [1.0, 0.0, 0.0])
    return np.stack([np.cross(y, z), y, z], axis=1)


def dress(person: Person, sk: Skeleton) -> list[Primitive]:
    """The body's primitives (all marked ``person``): skin, hair, clothes and shoes."""
    j = sk.joints
    for garment in (person.top, person.bottom):  # prints follow the torso
        garment.origin, garment.frame = j[J["pelvis"]], sk.frames["high"]
    skin, top, bottom = person.skin, person.top, person.bottom
    arm_sleeve = {"long": (top, top), "short": (top, skin), "none": (skin, skin)}[person.sleeves]
    leg_cover = {"trousers": (bottom, bottom), "shorts": (bottom, skin), "skirt": (skin, skin)}[person.legwear]
    return [
        *_torso(person, sk, arm_sleeve[0]),
        *_head(person, sk),
        *_arms(person, sk, arm_sleeve),
        *_legs(person, sk, leg_cover),
    ]


def _torso(person: Person, sk: Skeleton, shoulder_colour) -> list[Primitive]:
    """Pelvis, waist and chest ellipsoids, and the shoulders."""
    g, j, low, high = person.girth, sk.joints, sk.frames["low"], sk.frames["high"]
    top, bottom = person.top, person.bottom
    pelvis, spine, thorax = j[J["pelvis"]], j[J["spine"]], j[J["thorax"]]
    prims: list[Primitive] = []
    prims += [
        Primitive(
            "ellipsoid",
            pelvis + low @ np.array([0, -0.01, -0.01]),
            np.array([0.155, 0.12, 0.115]) * g**0.8,
            rotation=low,
            colour=bottom,
        ),
        Primitive(
            "ellipsoid",
            (pelvis + spine) / 2 + low @ np.array([0, 0.03, 0.0]),
            np.array([0.145, 0.17, 0.105 * person.belly]) * g,
            rotation=low,
            colour=top,
        ),
        Primitive(
            "ellipsoid",
            (spine + thorax) / 2 + high @ np.array([0, -0.02, 0.0]),
            np.array([0.165 * person.chest, 0.21, 0.11 * person.chest]) * g,
            rotation=high,
            colour=top,
        ),
    ]
    for side in SIDES:
        prims.append(Primitive("sphere", j[J[f"{side}_shoulder"]], np.array([0.058 * g]), colour=shoulder_colour))
    return prims


def _head(person: Person, sk: Skeleton) -> list[Primitive]:
    """Neck, head, face (nose, eyes), ears and hair."""
    g, j, high, head, skin = person.girth, sk.joints, sk.frames["high"], sk.frames["head"], person.skin
    thorax = j[J["thorax"]]
    prims: list[Primitive] = []
    prims.append(
        Primitive(
            "capsule",
            thorax + high @ np.array([0, -0.02, 0]),
            sk.head_centre + head @ np.array([0, -0.05, -0.01]),
            radius=0.05 * min(g, 1.15),
            colour=skin,
        )
    )
    hc = sk.head_centre
    prims.append(Primitive("ellipsoid", hc, np.array([0.078, 0.105, 0.095]), rotation=head, colour=skin))
    prims.append(Primitive("sphere", hc + head @ np.array([0, -0.015, 0.095]), np.array([0.018]), colour=skin * 0.9))
    for sx in (1.0, -1.0):
        prims.append(
            Primitive(
                "sphere",
                hc + head @ np.array([sx * 0.032, 0.018, 0.086]),
                np.array([0.013]),
                colour=np.array([0.05, 0.05, 0.08]),
            )
        )
        prims.append(
            Primitive(
                "ellipsoid",
                hc + head @ np.array([sx * 0.079, 0.0, 0.0]),
                np.array([0.012, 0.03, 0.02]),
                rotation=head,
                colour=skin * 0.95,
            )
        )
    if person.hair_style != "none":
        prims.append(
            Primitive(
                "ellipsoid",
                hc + head @ np.array([0, 0.03, -0.014]),
                np.array([0.083, 0.09, 0.097]),
                rotation=head,
                colour=person.hair,
            )
        )
        if person.hair_style == "long":
            prims.append(
                Primitive(
                    "ellipsoid",
                    hc + head @ np.array([0, -0.07, -0.06]),
                    np.array([0.085, 0.14, 0.05]),
                    rotation=head,
                    colour=person.hair,
                )
            )
        elif person.hair_style == "tied":
            prims.append(
                Primitive("sphere", hc + head @ np.array([0, 0.02, -0.11]), np.array([0.04]), colour=person.hair)
            )
    return prims


def _arms(person: Person, sk: Skeleton, sleeve: tuple) -> list[Primitive]:
    """Upper arms and forearms (sleeved or bare) and hands."""
    g, j, high, skin = person.girth, sk.joints, sk.frames["high"], person.skin
    arm_sleeve = sleeve
    prims: list[Primitive] = []
    for side in SIDES:
        s, e, w = (j[J[f"{side}_{n}"]] for n in ("shoulder", "elbow", "wrist"))
        prims += _limb(s, e, 0.05 * g, 0.042 * g, arm_sleeve[0])
        prims += _limb(e, w, 0.04 * g, 0.031 * g, arm_sleeve[1])
        hand = sk.hands[side]
        prims.append(
            Primitive(
                "ellipsoid",
                (w + hand) / 2,
                np.array([0.042, 0.055, 0.018]),
                rotation=_frame_along(w, hand, high @ np.array([0, 0, 1.0])),
                colour=skin,
            )
        )
    return prims


def _legs(person: Person, sk: Skeleton, cover: tuple) -> list[Primitive]:
    """Thighs and shins (covered or bare), shoes, and a skirt over the thighs."""
    g, j, root, bottom = person.girth, sk.joints, sk.frames["root"], person.bottom
    leg_cover, pelvis = cover, j[J["pelvis"]]
    prims: list[Primitive] = []
    for side in SIDES:
        h, k, a = (j[J[f"{side}_{n}"]] for n in ("hip", "knee", "foot"))
        prims += _limb(h, k, 0.085 * g, 0.062 * g, leg_cover[0], split=0.4)
        prims += _limb(k, a, 0.055 * g, 0.042 * g, leg_cover[1], split=0.4)
        prims.append(
            Primitive(
                "capsule",
                a + (a - k) / (np.linalg.norm(a - k) + 1e-9) * 0.01,
                sk.toes[side],
                radius=0.045,
                colour=person.shoes,
            )
        )
    if person.legwear == "skirt":
        knees = (j[J["left_knee"]] + j[J["right_knee"]]) / 2
        centre = pelvis + 0.4 * (knees - pelvis)
        spread = float(np.clip(np.linalg.norm(j[J["left_knee"]] - j[J["right_knee"]]) / 2 + 0.07, 0.15, 0.22))
        prims.append(
            Primitive(
                "ellipsoid",
                centre,
                np.array([spread, max(0.12, np.linalg.norm(knees - pelvis) * 0.5), 0.13]) * g**0.5,
                rotation=_frame_along(pelvis, knees, root @ np.array([0, 0, 1.0])),
                colour=bottom,
            )
        )
    return prims


def chair_primitives(sk: Skeleton, rng: np.random.Generator) -> list[Primitive]:
    """A chair under a seated skeleton (a prop: not part of the silhouette)."""
    if sk.chair is None:
        return []
    pelvis, height, frame = sk.chair
    colour = rng.uniform(0.1, 0.8, 3) * rng.uniform(0.4, 1.0)
    width, depth = rng.uniform(0.4, 0.55), rng.uniform(0.38, 0.5)
    seat_c = pelvis + frame @ np.array([0.0, 0.0, depth / 2 - 0.13])
    seat_c[1] = height - 0.02
    prims = [
        Primitive("box", seat_c, np.array([width / 2, 0.025, depth / 2]), rotation=frame, colour=colour, person=False)
    ]
    for sx in (-1, 1):
        for sz in (-1, 1):
            leg = seat_c + frame @ np.array([sx * (width / 2 - 0.03), 0, sz * (depth / 2 - 0.03)])
            prims.append(
                Primitive(
                    "box",
                    np.array([leg[0], (height - 0.045) / 2, leg[2]]),
                    np.array([0.02, max(0.01, (height - 0.045) / 2), 0.02]),
                    rotation=frame,
                    colour=colour,
                    person=False,
                )
            )
    if rng.random() < 0.8:  # a backrest
        back = seat_c + frame @ np.array([0, 0.25, -depth / 2 + 0.02])
        prims.append(
            Primitive("box", back, np.array([width / 2, 0.22, 0.02]), rotation=frame, colour=colour, person=False)
        )
    return prims
