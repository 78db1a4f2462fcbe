"""Backgrounds, lights and camera effects of the domain-randomised LBI-Synth split.

Every background is ray cast from the same camera as the person, so floors and walls have the
right perspective: a room (textured floor, one or two walls, furniture boxes), an outdoor scene
(textured ground, a photograph as a far backdrop) or a flat photograph or pattern. Textures are
photographs shipped by installed packages (matplotlib; scikit-image, the ``synth`` extra; photos
of people left out) or procedural (noise, stripes, tiles, blocks, wood, bricks, gradients). Photographs are
split in two halves, one for the training split and one for the test split, so the test split's
backgrounds are unseen. The person casts a soft shadow on the floor.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ...crop.affine import Crop
from .render import Camera, Light, ray_directions
from .scenes import procedural_texture

#: photographs in installed packages that show no person (file names relative to each package)
PHOTO_FILES = {
    "skimage": (
        "data/brick.png",
        "data/chelsea.png",
        "data/coffee.png",
        "data/grass.png",
        "data/gravel.png",
        "data/hubble_deep_field.jpg",
        "data/ihc.png",
        "data/motorcycle_left.png",
        "data/motorcycle_right.png",
        "data/rocket.jpg",
        "data/color.png",
        "data/coins.png",
        "data/page.png",
        "data/retina.jpg",
    ),
    "matplotlib": ("mpl-data/sample_data/Minduka_Present_Blue_Pack.png", "mpl-data/sample_data/logo2.png"),
}


@lru_cache(maxsize=2)
def photo_library(split: str) -> tuple[np.ndarray, ...]:
    """Photographs (RGB float32 in [0, 1]) for ``split``: "train" gets every other one, "test" the
    rest. Packages that are not installed contribute nothing (see :func:`photo_names`)."""
    names = photo_names()
    chosen = names[0::2] if split == "train" else names[1::2]
    images = []
    for path in chosen:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"), np.float32) / 255
        if min(rgb.shape[:2]) >= 64:
            images.append(rgb)
    return tuple(images)


def photo_names() -> list[Path]:
    """The photograph files found, in a fixed order."""
    import importlib.util

    found = []
    for package, files in PHOTO_FILES.items():
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        root = Path(spec.origin).parent
        found += [root / f for f in files if (root / f).is_file()]
    return found


def _extra_texture(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Wood grain, bricks or a smooth gradient: (h, w, 3) float32."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    c1, c2 = rng.uniform(0, 1, 3).astype(np.float32), rng.uniform(0, 1, 3).astype(np.float32)
    kind = rng.integers(3)
    if kind == 0:  # wood
        noise = cv2.resize(rng.random((8, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        t = 0.5 + 0.5 * np.sin((ys / rng.uniform(3, 12) + 6 * noise) * np.pi)
    elif kind == 1:  # bricks with mortar
        bh, bw = int(rng.integers(8, 24)), int(rng.integers(20, 60))
        row = (ys // bh).astype(int)
        t = (((ys % bh) < 2) | (((xs + (row % 2) * bw / 2) % bw) < 2)).astype(np.float32)
    else:  # gradient
        angle = rng.uniform(0, np.pi)
        t = xs * np.cos(angle) + ys * np.sin(angle)
        t = (t - t.min()) / (np.ptp(t) + 1e-6)
    return c1 * t[..., None] + c2 * (1 - t[..., None])


def texture(rng: np.random.Generator, photos: tuple[np.ndarray, ...], size: tuple[int, int] = (256, 256)) -> np.ndarray:
    """A random texture (h, w, 3) float32: a view of a photograph or a procedural pattern."""
    w, h = size
    if photos and rng.random() < 0.55:
        src = photos[rng.integers(len(photos))]
        sh, sw = src.shape[:2]
        zoom = rng.uniform(0.25, 1.0)
        cw, ch = max(16, int(sw * zoom)), max(16, int(sh * zoom))
        x0, y0 = rng.integers(0, sw - cw + 1), rng.integers(0, sh - ch + 1)
        out = cv2.resize(src[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_AREA)
        out = np.rot90(out, int(rng.integers(4))) if rng.random() < 0.3 else out
        out = np.ascontiguousarray(out[:, ::-1] if rng.random() < 0.5 else out)
        out = cv2.resize(out, (w, h)) if out.shape[:2] != (h, w) else out
        return np.clip(out * rng.uniform(0.6, 1.3, 3).astype(np.float32), 0, 1)
    if rng.random() < 0.35:
        return _extra_texture(rng, size)
    return procedural_texture(rng, size)


def _sample(tex: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear, wrapping lookup of ``tex`` at texture coordinates in tiles (any real numbers)."""
    th, tw = tex.shape[:2]
    mx = ((u % 1.0) * tw).astype(np.float32)
    my = ((v % 1.0) * th).astype(np.float32)
    return cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def _planes(
    rng: np.random.Generator, focus: np.ndarray, camera: Camera
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """A room's planes as (point, normal, u axis, v axis): the floor and walls behind the person."""
    planes = [(np.zeros(3), np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]))]
    away = focus - camera.position
    away[1] = 0
    away /= np.linalg.norm(away) + 1e-9
    for k in range(1 + int(rng.random() < 0.5)):
        angle = rng.uniform(-0.7, 0.7) + (0 if k == 0 else rng.choice([-1, 1]) * rng.uniform(1.2, 1.8))
        c, s = np.cos(angle), np.sin(angle)
        normal = -np.array([c * away[0] - s * away[2], 0.0, s * away[0] + c * away[2]])  # facing the camera
        point = focus - normal * rng.uniform(0.8, 4.5)
        u_axis = np.cross([0.0, 1.0, 0.0], normal)
        planes.append((point, normal, u_axis, np.array([0.0, 1.0, 0.0])))
    return planes


def _boxes(
    rng: np.random.Generator, focus: np.ndarray, camera: Camera
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Furniture: boxes on the floor beside and behind the person, (centre, rotation, half sizes)."""
    away = focus - camera.position
    away[1] = 0
    away /= np.linalg.norm(away) + 1e-9
    side = np.cross([0.0, 1.0, 0.0], away)
    boxes = []
    for _ in range(int(rng.integers(0, 4))):
        half = np.array([rng.uniform(0.15, 0.8), rng.uniform(0.2, 1.0), rng.uniform(0.15, 0.5)])
        centre = focus + away * rng.uniform(0.6, 3.0) + side * rng.uniform(-2.5, 2.5)
        centre[1] = half[1]
        yaw = rng.uniform(-np.pi, np.pi)
        rot = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
        boxes.append((centre, rot, half))
    return boxes


def random_background(
    rng: np.random.Generator,
    camera: Camera,
    crop: Crop,
    light: Light,
    joints: np.ndarray,
    photos: tuple[np.ndarray, ...],
) -> np.ndarray:
    """A crop-sized background (h, w, 3) float32 for a person with world ``joints`` seen by ``camera``."""
    w, h = crop.size
    kind = rng.choice(3, p=[0.45, 0.3, 0.25])  # room, outdoor, flat
    if kind == 2:
        out = texture(rng, photos, (w, h))
        if rng.random() < 0.5:
            out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 3.0))
        return out
    rays = (ray_directions(camera, crop) @ camera.rotation).astype(np.float32)  # world directions (h, w, 3)
    origin = camera.position
    light_world = light.direction @ camera.rotation
    focus = joints[0].copy()
    depth = np.full((h, w), np.inf, np.float32)
    out = np.zeros((h, w, 3), np.float32)
    if kind == 0:  # room
        surfaces = _planes(rng, focus, camera)
    else:  # outdoor: the ground, then a photograph at infinity
        surfaces = _planes(rng, focus, camera)[:1]
        azimuth = np.arctan2(rays[..., 0], rays[..., 2]) / (2 * np.pi)
        elevation = np.arcsin(np.clip(rays[..., 1], -1, 1))
        sky = texture(rng, photos, (512, 256))
        out = _sample(sky, azimuth * rng.uniform(1.0, 3.0) + rng.random(), 0.75 - elevation * rng.uniform(0.6, 1.2))
        out = np.clip(out, 0, 1)
    for point, normal, u_axis, v_axis in surfaces:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((point - origin) @ normal) / (rays @ normal)
        hit = (t > 0) & (t < 60) & (t < depth)
        if not hit.any():
            continue
        world = origin + t[..., None] * rays
        tile = rng.uniform(0.4, 3.0)
        tex = texture(rng, photos)
        colour = _sample(tex, ((world - point) @ u_axis) / tile, ((world - point) @ v_axis) / tile)
        lit = light.ambient + light.intensity * max(0.0, float(normal @ light_world)) * rng.uniform(0.6, 1.0)
        colour = colour * np.float32(min(1.2, lit + 0.15))
        if normal[1] > 0.5:  # the floor: a soft shadow under the body, haze far away
            feet = joints[[0, 2, 3, 5, 6], :][:, [0, 2]]  # under the pelvis, knees and feet
            d2 = ((world[..., None, [0, 2]] - feet.astype(np.float32)) ** 2).sum(-1).min(-1)
            colour = colour * (1 - 0.35 * np.exp(-d2 / 0.06))[..., None].astype(np.float32)
            fog = np.clip(t / 60.0, 0, 1)[..., None].astype(np.float32) * 0.6
            colour = colour * (1 - fog) + fog * colour.mean()
        out[hit] = colour[hit]
        depth[hit] = t[hit]
    if kind == 0:
        for centre, rot, half in _boxes(rng, focus, camera):
            o = (origin - centre) @ rot
            dd = rays @ rot
            with np.errstate(divide="ignore", invalid="ignore"):
                t1, t2 = (-half - o) / dd, (half - o) / dd
            t_in = np.nan_to_num(np.minimum(t1, t2), nan=-np.inf).max(-1)
            t_out = np.nan_to_num(np.maximum(t1, t2), nan=np.inf).min(-1)
            hit = (t_in <= t_out) & (t_in > 0) & (t_in < depth)
            axis = np.nan_to_num(np.minimum(t1, t2), nan=-np.inf).argmax(-1)
            shade = np.array([0.8, 1.0, 0.65], np.float32)[axis] * (light.ambient + light.intensity * 0.6)
            colour = rng.uniform(0.05, 0.9, 3).astype(np.float32)
            out[hit] = np.clip(colour * shade[hit][:, None], 0, 1)
            depth[hit] = t_in[hit]
    if rng.random() < 0.4:  # depth of field: the background out of focus
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 2.5))
    return np.clip(out, 0, 1)


def random_light(rng: np.random.Generator) -> Light:
    """A light for the person (camera frame): mostly from above, any side, tinted."""
    direction = np.array([rng.normal(), -abs(rng.normal()) - 0.3, rng.normal() - 0.3])
    return Light(
        direction / np.linalg.norm(direction),
        ambient=rng.uniform(0.2, 0.6),
        intensity=rng.uniform(0.4, 0.9),
        colour=np.clip(rng.normal(1.0, 0.07, 3), 0.8, 1.2),
    )


def camera_effects(image: np.ndarray, rng: np.random.Generator, upsampling: float) -> tuple[np.ndarray, int]:
    """What a real camera and its JPEG do to the crop: blur where the person was small in the
    frame (``upsampling``: crop pixels per image pixel), sensor noise, white balance, gamma; and
    a JPEG quality to encode with. uint8 in, uint8 out."""
    out: np.ndarray = image.astype(np.float32) / 255
    sigma = max(0.0, 0.45 * (upsampling - 1.0)) + (rng.uniform(0, 0.8) if rng.random() < 0.3 else 0.0)
    if sigma > 0.2:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    out = out * rng.uniform(0.85, 1.15, 3).astype(np.float32)  # white balance
    out = np.clip(out, 0, 1) ** np.float32(rng.uniform(0.8, 1.25))
    out = out + rng.normal(0, rng.uniform(0.0, 0.025), out.shape).astype(np.float32)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8), int(rng.integers(60, 96))
