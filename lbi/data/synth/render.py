"""Per-pixel ray casting of a posed body straight into the network's crop.

Each crop pixel is mapped back to the full image through the crop's inverse affine and turned into
a camera ray with the intrinsics. Capsules, ellipsoids and spheres are hit in closed form; a
depth buffer keeps the nearest surface, so self-occlusion is right. Shading is Lambertian plus
ambient from one directional light. Every primitive is tested only against the pixels inside its
projected bounding box, which makes a 256x192 crop cost ~10-20 ms in NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...crop import Crop
from .body import Posed


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: X_cam = rotation @ (X_world - position); OpenCV axes (x right, y down)."""

    rotation: np.ndarray  # (3, 3) world -> camera
    position: np.ndarray  # (3,) world, metres
    K: np.ndarray  # (3, 3) intrinsics in pixels
    size: tuple[int, int]  # image (w, h)

    @classmethod
    def look_at(cls, position, target, focal: float, size: tuple[int, int], principal=None) -> "Camera":
        position, target = np.asarray(position, float), np.asarray(target, float)
        z = target - position
        z /= np.linalg.norm(z)
        x = np.cross(z, [0.0, 1.0, 0.0])
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        cx, cy = principal if principal is not None else (size[0] / 2, size[1] / 2)
        K = np.array([[focal, 0, cx], [0, focal, cy], [0, 0, 1.0]])
        return cls(np.stack([x, y, z]), position, K, size)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points) - self.position) @ self.rotation.T

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        p = points_cam @ self.K.T
        return p[..., :2] / p[..., 2:3]


def ray_directions(camera: Camera, crop: Crop) -> np.ndarray:
    """Unit camera-frame ray through every crop pixel centre: (h, w, 3)."""
    w, h = crop.size
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    image_px = crop.to_image(np.stack([xs, ys], axis=-1))
    rays = np.concatenate([image_px, np.ones((h, w, 1))], axis=-1) @ np.linalg.inv(camera.K).T
    return rays / np.linalg.norm(rays, axis=-1, keepdims=True)


def _hit_sphere(d: np.ndarray, c: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Rays from the origin with unit directions d (P, 3) against a sphere -> t (P,), normals."""
    b = d @ c
    disc = b * b - (c @ c - r * r)
    t = np.where(disc >= 0, b - np.sqrt(np.maximum(disc, 0)), np.inf)
    t = np.where(t > 0, t, np.inf)
    n = (t[:, None] * d - c) / r
    return t, n


def _hit_capsule(d: np.ndarray, a: np.ndarray, b: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    ba = b - a
    oa = -a
    baba = ba @ ba
    bard = d @ ba
    baoa = ba @ oa
    rdoa = d @ oa
    oaoa = oa @ oa
    qa = baba - bard * bard
    qb = baba * rdoa - baoa * bard
    qc = baba * oaoa - baoa * baoa - r * r * baba
    disc = qb * qb - qa * qc
    with np.errstate(divide="ignore", invalid="ignore"):
        t_body = (-qb - np.sqrt(np.maximum(disc, 0))) / qa
    y = baoa + t_body * bard
    body_ok = (disc >= 0) & (y > 0) & (y < baba) & (qa > 1e-12)
    t_a, _ = _hit_sphere(d, a, r)
    t_b, _ = _hit_sphere(d, b, r)
    t = np.where(body_ok, t_body, np.minimum(t_a, t_b))
    t = np.where((t > 0) & np.isfinite(t), t, np.inf)
    p = t[:, None] * d
    pa = p - a
    hpos = np.clip((pa @ ba) / baba, 0.0, 1.0)
    n = (pa - hpos[:, None] * ba) / r
    return t, n


def _hit_ellipsoid(d: np.ndarray, c: np.ndarray, rot: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ellipsoid with axes = columns of ``rot`` (camera frame) and semi-axes ``radii``."""
    o = (rot.T @ (-c)) / radii  # ray origin in unit-sphere space
    dd = (d @ rot) / radii
    qa = np.einsum("ij,ij->i", dd, dd)
    qb = dd @ o
    qc = o @ o - 1.0
    disc = qb * qb - qa * qc
    t = np.where(disc >= 0, (-qb - np.sqrt(np.maximum(disc, 0))) / qa, np.inf)
    t = np.where(t > 0, t, np.inf)
    p = o + t[:, None] * dd
    n = (p / radii) @ rot.T
    n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-12
    return t, n


@dataclass
class Light:
    direction: np.ndarray  # (3,) unit vector towards the light, camera frame
    ambient: float = 0.35
    intensity: float = 0.75


def render_body(posed: Posed, camera: Camera, crop: Crop, background: np.ndarray, light: Light) -> np.ndarray:
    """Draws ``posed`` over ``background`` ((h, w, 3) float in [0, 1], crop-sized) -> uint8 RGB."""
    w, h = crop.size
    rays = ray_directions(camera, crop)
    depth = np.full((h, w), np.inf)
    normal = np.zeros((h, w, 3))
    albedo = np.zeros((h, w, 3))
    crop_per_image_px = w / (crop.scale[0] * 200.0)

    def draw(centre_cam: np.ndarray, bound: float, colour: np.ndarray, hit) -> None:
        z = centre_cam[2]
        if z <= bound + 0.05:
            return
        u, v = crop.to_crop(camera.project(centre_cam))
        r_px = camera.K[0, 0] * bound / (z - bound) * crop_per_image_px + 2
        x0, x1 = int(max(0, np.floor(u - r_px))), int(min(w, np.ceil(u + r_px) + 1))
        y0, y1 = int(max(0, np.floor(v - r_px))), int(min(h, np.ceil(v + r_px) + 1))
        if x0 >= x1 or y0 >= y1:
            return
        d = rays[y0:y1, x0:x1].reshape(-1, 3)
        with np.errstate(invalid="ignore", divide="ignore"):  # misses are t = inf; their normals are unused
            t, n = hit(d)
        t = t.reshape(y1 - y0, x1 - x0)
        closer = t < depth[y0:y1, x0:x1]
        if not closer.any():
            return
        depth[y0:y1, x0:x1][closer] = t[closer]
        normal[y0:y1, x0:x1][closer] = n.reshape(y1 - y0, x1 - x0, 3)[closer]
        albedo[y0:y1, x0:x1][closer] = colour

    for a, b, r, colour in posed.capsules:
        ac, bc = camera.to_camera(a), camera.to_camera(b)
        draw((ac + bc) / 2, np.linalg.norm(bc - ac) / 2 + r, colour, lambda d, ac=ac, bc=bc, r=r: _hit_capsule(d, ac, bc, r))
    for c, rot, radii, colour in posed.ellipsoids:
        cc, rc = camera.to_camera(c), camera.rotation @ rot
        draw(cc, radii.max(), colour, lambda d, cc=cc, rc=rc, radii=radii: _hit_ellipsoid(d, cc, rc, radii))
    for c, r, colour in posed.spheres:
        cc = camera.to_camera(c)
        draw(cc, r, colour, lambda d, cc=cc, r=r: _hit_sphere(d, cc, r))

    mask = np.isfinite(depth)
    shade = light.ambient + light.intensity * np.clip(normal @ light.direction, 0.0, 1.0)
    out = np.where(mask[..., None], np.clip(albedo * shade[..., None], 0, 1), background)
    # anti-aliasing: soften the silhouette (and only it) with a small blur
    m8 = mask.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    edge = (cv2.dilate(m8, kernel) - cv2.erode(m8, kernel)).astype(bool)
    out = out.astype(np.float32)
    blurred = cv2.GaussianBlur(out, (3, 3), 0.8)
    out[edge] = blurred[edge]
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
