"""Camera geometry: screen-coordinate normalisation, world <-> camera, pinhole projection."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def normalize_screen_coordinates(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """Pixels -> [-1, 1] along x keeping the aspect ratio: X / w * 2 - [1, h / w]."""
    points = np.asarray(points, dtype=np.float64)
    return points / width * 2 - np.array([1.0, height / width])


def image_coordinates(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """Inverse of :func:`normalize_screen_coordinates`."""
    points = np.asarray(points, dtype=np.float64)
    return (points + np.array([1.0, height / width])) * width / 2


def quaternion_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotates vectors v (..., 3) by unit quaternions q (..., 4) given as (w, x, y, z)."""
    q = np.broadcast_to(np.asarray(q, dtype=np.float64), v.shape[:-1] + (4,))
    w, u = q[..., :1], q[..., 1:]
    uv = np.cross(u, v)
    return v + 2 * (w * uv + np.cross(u, uv))


def quaternion_inverse(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def world_to_camera(points: np.ndarray, orientation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """World points (..., 3) -> camera frame, for a camera at ``translation`` (world units) whose
    orientation quaternion maps camera axes to world axes (the Human3.6M convention)."""
    return quaternion_rotate(quaternion_inverse(orientation), np.asarray(points, dtype=np.float64) - translation)


def camera_to_world(points: np.ndarray, orientation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    return quaternion_rotate(orientation, np.asarray(points, dtype=np.float64)) + translation


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels with optional Brown-Conrady distortion (k1, k2, k3; p1, p2)."""

    fx: float
    fy: float
    cx: float
    cy: float
    radial: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tangential: tuple[float, float] = (0.0, 0.0)

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


def project_to_2d(points: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Camera-frame points (..., 3) with z > 0 -> pixels (..., 2), distortion included."""
    points = np.asarray(points, dtype=np.float64)
    xy = points[..., :2] / points[..., 2:3]
    k = np.asarray(intrinsics.radial)
    p = np.asarray(intrinsics.tangential)
    r2 = np.sum(xy**2, axis=-1, keepdims=True)
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tangential = np.sum(p * xy, axis=-1, keepdims=True)
    xy = xy * (radial + tangential) + p[::-1] * r2
    return xy * np.array([intrinsics.fx, intrinsics.fy]) + np.array([intrinsics.cx, intrinsics.cy])


def ray_rotation(pixels: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Rotations (..., 3, 3) from camera axes to the axes of a virtual camera turned about its centre
    to look through ``pixels`` (..., 2): its z axis is the ray through the pixel, its x axis stays
    horizontal in the image (perpendicular to the camera's y axis). ``intrinsics`` (..., 4) are
    fx, fy, cx, cy; where they are unknown (NaN) the rotation is the identity.

    A person off the image centre is seen obliquely: the crop shows the body as seen along the ray,
    so a lifter that reads only the crop can know the pose in this frame, not in the camera's.
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    k = np.asarray(intrinsics, dtype=np.float64)
    fx, fy, cx, cy = np.moveaxis(k, -1, 0)
    z = np.stack([(pixels[..., 0] - cx) / fx, (pixels[..., 1] - cy) / fy, np.ones_like(fx)], axis=-1)
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    x = np.cross(np.array([0.0, 1.0, 0.0]), z)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    rotation = np.stack([x, np.cross(z, x), z], axis=-2)  # rows: the virtual camera's axes
    unknown = ~np.isfinite(rotation).all(axis=(-1, -2))
    rotation[unknown] = np.eye(3)
    return rotation


def from_ray_frame(points: np.ndarray, pixels: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Points (..., N, 3) in the axes of the virtual camera looking through ``pixels`` (..., 2) (:func:`ray_rotation`)
    -> the same points in camera axes."""
    return np.einsum("...nj,...jk->...nk", np.asarray(points, dtype=np.float64), ray_rotation(pixels, intrinsics))


def default_intrinsics(width: int, height: int, focal_factor: float = 0.8) -> np.ndarray:
    """(fx, fy, cx, cy) assumed for a photo of unknown camera: the principal point at the centre and
    a focal length of ``focal_factor`` x the longer side (0.8: ~64 degrees across it, a phone's
    or webcam's main camera)."""
    focal = focal_factor * max(width, height)
    return np.array([focal, focal, width / 2.0, height / 2.0])
