"""The two LBI-Synth domains: "lab" (like Human3.6M) and "wild" (like 3DHP outdoor).

lab:  4 fixed cameras on a circle around the capture area (focal ~1145 px, 1000x1000 frames),
      each with its own fixed wall and floor texture and its own light. Subjects mostly face one
      world direction, so the background reveals the camera and hence the likely body
      orientation: the dataset bias the paper says image models overfit.
wild: a random camera (distance, height, focal length) per sample, a random textured or
      photographic background, a random floor, random lighting, uniform body orientation.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ...crop.affine import Crop
from .render import Camera, Light

FRAME = (1000, 1000)
LAB_FOCAL = 1145.0
LAB_CAMERAS = ("cam_a", "cam_b", "cam_c", "cam_d")


# ----------------------------------------------------------------------------------- textures
@lru_cache(maxsize=1)
def photo_sources() -> tuple[np.ndarray, ...]:
    """Photographic images that installed packages ship (matplotlib's sample data), RGB float."""
    import matplotlib
    from matplotlib import cm
    from matplotlib.colors import LightSource

    root = Path(matplotlib.get_data_path()) / "sample_data"
    images = []
    present = cv2.imread(str(root / "Minduka_Present_Blue_Pack.png"))
    if present is not None:
        images.append(cv2.cvtColor(present, cv2.COLOR_BGR2RGB).astype(np.float32) / 255)
    light = LightSource(azdeg=315, altdeg=45)
    for name, key, cmap in (
        ("jacksboro_fault_dem.npz", "elevation", cm.gist_earth),
        ("topobathy.npz", "topo", cm.terrain),
    ):
        path = root / name
        if path.exists():
            with np.load(path) as data:
                z = np.asarray(data[key], dtype=np.float64)
            images.append(light.shade(z, cmap=cmap, blend_mode="soft")[..., :3].astype(np.float32))
    mri = root / "s1045.ima.gz"
    if mri.exists():
        with gzip.open(mri) as handle:
            raw = np.frombuffer(handle.read(), np.uint16).astype(np.float32)
        side = int(np.sqrt(raw.size))
        gray = raw[: side * side].reshape(side, side)
        gray = (gray - gray.min()) / (np.ptp(gray) + 1e-6)
        images.append(np.repeat(gray[..., None], 3, axis=2))
    return tuple(images)


def procedural_texture(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A random texture (w, h) -> (h, w, 3) float: noise, stripes, tiles or blocks in random colours."""
    w, h = size
    kind = rng.integers(4)
    c1, c2 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    if kind == 0:  # multi-octave value noise
        t = np.zeros((h, w), np.float32)
        for octave in range(4):
            cells = 2 ** (octave + 2)
            grid = rng.random((cells, cells)).astype(np.float32)
            t += cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC) / 2**octave
        t = (t - t.min()) / (np.ptp(t) + 1e-6)
    elif kind == 1:  # stripes at a random angle
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        angle, period = rng.uniform(0, np.pi), rng.uniform(8, 60)
        t = 0.5 + 0.5 * np.sin((xs * np.cos(angle) + ys * np.sin(angle)) * 2 * np.pi / period)
    elif kind == 2:  # tiles
        ys, xs = np.mgrid[0:h, 0:w]
        cell = int(rng.integers(12, 64))
        t = ((xs // cell + ys // cell) % 2).astype(np.float32)
    else:  # random blocks ("furniture")
        t = np.full((h, w), 0.5, np.float32)
        for _ in range(int(rng.integers(5, 15))):
            x0, y0 = rng.integers(0, w), rng.integers(0, h)
            t[y0 : y0 + rng.integers(10, h // 2), x0 : x0 + rng.integers(10, w // 2)] = rng.random()
    return (c1 * t[..., None] + c2 * (1 - t[..., None])).astype(np.float32)


def random_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A crop-sized background: half procedural, half a random view of a shipped photo."""
    w, h = size
    photos = photo_sources()
    if photos and rng.random() < 0.5:
        src = photos[rng.integers(len(photos))]
        sh, sw = src.shape[:2]
        zoom = rng.uniform(0.3, 1.0)
        cw, ch = max(8, int(sw * zoom)), max(8, int(sh * zoom * h / w))
        ch = min(ch, sh)
        x0, y0 = rng.integers(0, sw - cw + 1), rng.integers(0, sh - ch + 1)
        out = cv2.resize(src[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            out = out[:, ::-1]
        gain = rng.uniform(0.6, 1.3, 3).astype(np.float32)
        return np.clip(out * gain, 0, 1).astype(np.float32)
    return procedural_texture(rng, size)


def floor_overlay(
    image: np.ndarray, camera: Camera, crop: Crop | None, texture: np.ndarray, tile_m: float
) -> np.ndarray:
    """Paints the floor plane y = 0 (tiled with ``texture``) over the pixels whose rays hit it."""
    h, w = image.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    px = np.stack([xs, ys], axis=-1)
    if crop is not None:
        px = crop.to_image(px)
    rays_cam = np.concatenate([px, np.ones((h, w, 1))], axis=-1) @ np.linalg.inv(camera.K).T
    rays = rays_cam @ camera.rotation  # world directions
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -camera.position[1] / rays[..., 1]
    hit = (t > 0) & (t < 40)
    world = camera.position + t[..., None] * rays
    th, tw = texture.shape[:2]
    u = ((world[..., 0] / tile_m) % 1.0 * (tw - 1)).astype(np.int32)
    v = ((world[..., 2] / tile_m) % 1.0 * (th - 1)).astype(np.int32)
    floor = texture[np.where(hit, v, 0), np.where(hit, u, 0)]
    fog = np.clip(t / 40.0, 0, 1)[..., None] * 0.5  # far floor fades into the wall colour
    floor = floor * (1 - fog) + image * fog
    return np.where(hit[..., None], floor, image).astype(np.float32)


# ----------------------------------------------------------------------------------- domains
@dataclass
class Shot:
    camera: Camera
    camera_name: str
    light: Light
    yaw: float  # body orientation in the world
    position: tuple[float, float]  # body (x, z) on the floor


@lru_cache(maxsize=8)
def lab_camera(index: int) -> tuple[Camera, Light]:
    angle = np.deg2rad(45 + 90 * index)
    rng = np.random.default_rng(1000 + index)
    dist, height = 5.0 + 0.4 * rng.standard_normal(), 1.5 + 0.2 * rng.standard_normal()
    pos = np.array([dist * np.sin(angle), height, dist * np.cos(angle)])
    principal = (FRAME[0] / 2 + rng.normal(0, 8), FRAME[1] / 2 + rng.normal(0, 8))
    cam = Camera.look_at(pos, [0.0, 0.9, 0.0], LAB_FOCAL, FRAME, principal)
    light_world = np.array([np.sin(angle + 0.6), 1.6, np.cos(angle + 0.6)])
    direction = cam.rotation @ (light_world / np.linalg.norm(light_world))
    return cam, Light(direction, ambient=0.38, intensity=0.72)


@lru_cache(maxsize=8)
def lab_background(index: int) -> np.ndarray:
    """The fixed full-frame background of lab camera ``index``: its wall and its floor."""
    rng = np.random.default_rng(2000 + index)
    cam, _ = lab_camera(index)
    wall = procedural_texture(rng, FRAME)
    floor = procedural_texture(rng, (256, 256))
    return floor_overlay(wall, cam, None, floor, tile_m=rng.uniform(0.5, 1.5))


def lab_shot(rng: np.random.Generator) -> Shot:
    index = int(rng.integers(len(LAB_CAMERAS)))
    cam, light = lab_camera(index)
    # orientation bias: most subjects face world +z (von Mises), a few face anywhere
    yaw = rng.vonmises(0.0, 2.0) if rng.random() < 0.85 else rng.uniform(-np.pi, np.pi)
    return Shot(cam, LAB_CAMERAS[index], light, float(yaw), (rng.uniform(-1, 1), rng.uniform(-1, 1)))


def wild_shot(rng: np.random.Generator) -> Shot:
    dist, height = rng.uniform(3.0, 8.0), rng.uniform(0.3, 2.5)
    angle = rng.uniform(-np.pi, np.pi)
    pos = np.array([dist * np.sin(angle), height, dist * np.cos(angle)])
    target = np.array([rng.normal(0, 0.3), rng.uniform(0.5, 1.3), rng.normal(0, 0.3)])
    size = ((1920, 1080), (1080, 1920), (2048, 2048), (1000, 1000))[rng.integers(4)]
    focal = rng.uniform(0.7, 1.6) * max(size)
    cam = Camera.look_at(pos, target, focal, size)
    light_dir = np.array([rng.normal(), -abs(rng.normal()) - 0.3, rng.normal()])  # from above, camera frame
    light = Light(
        light_dir / np.linalg.norm(light_dir), ambient=rng.uniform(0.2, 0.55), intensity=rng.uniform(0.5, 0.9)
    )
    return Shot(cam, "wild", light, float(rng.uniform(-np.pi, np.pi)), (0.0, 0.0))


def shot_background(shot: Shot, crop: Crop, rng: np.random.Generator) -> np.ndarray:
    """The crop-sized background for a shot."""
    if shot.camera_name in LAB_CAMERAS:
        full = lab_background(LAB_CAMERAS.index(shot.camera_name))
        return crop.warp(full)
    image = random_background(rng, crop.size)
    if rng.random() < 0.7:
        image = floor_overlay(image, shot.camera, crop, random_background(rng, (128, 128)), rng.uniform(0.5, 3.0))
    return image
