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
