"""Person crops as in HRNet: box -> centre/scale -> affine warp to the network input, and back.

A box (x, y, w, h) in image pixels is padded to the input's aspect ratio and enlarged by 1.25;
``scale`` is its size in units of 200 px (HRNet's ``pixel_std``). The affine map sends the box
onto the output crop; its inverse maps crop pixels (joints, attention maps) back to the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

PIXEL_STD = 200.0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def box_to_center_scale(
    box: tuple[float, float, float, float], aspect_ratio: float, padding: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """box (x, y, w, h) -> centre (2,) in pixels and scale (2,) in units of 200 px, padded so that
    width / height == aspect_ratio (the crop's w / h), then enlarged by ``padding``."""
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"box must have positive width and height, got {box}")
    center = np.array([x + w / 2, y + h / 2])
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    return center, np.array([w, h]) / PIXEL_STD * padding


def joint_box(joints_px: np.ndarray, grow: float = 0.1) -> tuple[float, float, float, float]:
    """The 2D joints' bounding box (x, y, w, h), grown by ``grow`` of its longer side on each edge
    (the person box of every data set and of the estimator)."""
    lo, hi = joints_px.min(axis=0), joints_px.max(axis=0)
    margin = grow * (hi - lo).max()
    return (lo[0] - margin, lo[1] - margin, hi[0] - lo[0] + 2 * margin, hi[1] - lo[1] + 2 * margin)


def seen_centre(box: tuple[float, float, float, float], image_shape: tuple[int, ...]) -> np.ndarray:
    """The centre (2,) of the part of a person box (x, y, w, h) inside the image: the box's own centre
    when the whole person is in the photo; for a portrait, whose box reaches past the photo's edge
    (MediaPipe extrapolates the legs), the middle of what the camera saw of the person."""
    x, y, w, h = (float(v) for v in box)
    height, width = image_shape[:2]
    x0, y0, x1, y1 = max(x, 0.0), max(y, 0.0), min(x + w, float(width)), min(y + h, float(height))
    if x1 <= x0 or y1 <= y0:  # nothing of the box in the photo: keep its centre
        return np.array([x + w / 2, y + h / 2])
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2])


def get_affine_transform(
    center: np.ndarray,
    scale: np.ndarray,
    output_size: tuple[int, int],
    rotation_deg: float = 0.0,
    inverse: bool = False,
) -> np.ndarray:
    """2x3 matrix mapping the (rotated) box given by centre/scale onto an output of size (w, h).

    Three point pairs define it: the centre, a point above the centre and a point to its left
    (the latter two rotated with the box). ``inverse`` maps output pixels back to the image.
    """
    src_w = scale[0] * PIXEL_STD
    out_w, out_h = output_size
    theta = np.deg2rad(rotation_deg)
    up = np.array([np.sin(theta), -np.cos(theta)]) * src_w * 0.5  # (0, -w/2) rotated as HRNet does
    src = np.stack([center, center + up, center + up + np.array([-up[1], up[0]])])
    out_up = np.array([0.0, -out_w * 0.5])
    out_c = np.array([out_w * 0.5, out_h * 0.5])
    dst = np.stack([out_c, out_c + out_up, out_c + out_up + np.array([-out_up[1], out_up[0]])])
    if inverse:
        src, dst = dst, src
    return cv2.getAffineTransform(src.astype(np.float32), dst.astype(np.float32))


def affine_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Applies a 2x3 affine matrix to points (..., 2)."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


@dataclass(frozen=True)
class Crop:
    """One person crop: where it lies in the image and how to move between the two frames."""

    center: np.ndarray  # (2,) pixels
    scale: np.ndarray  # (2,) units of 200 px
    size: tuple[int, int]  # output (w, h)
    rotation: float = 0.0

    @classmethod
    def from_box(cls, box: tuple[float, float, float, float], size: tuple[int, int], padding: float = 1.25) -> Crop:
        """The crop of ``size`` (w, h) around a box (x, y, w, h): see :class:`lbi.crop.codec.InputCodec`."""
        center, scale = box_to_center_scale(box, size[0] / size[1], padding)
        return cls(center, scale, size)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The crop's area in the image (x, y, w, h) pixels (unrotated)."""
        w, h = self.scale * PIXEL_STD
        return (float(self.center[0] - w / 2), float(self.center[1] - h / 2), float(w), float(h))

    @property
    def to_crop_matrix(self) -> np.ndarray:
        return get_affine_transform(self.center, self.scale, self.size, self.rotation)

    @property
    def to_image_matrix(self) -> np.ndarray:
        return get_affine_transform(self.center, self.scale, self.size, self.rotation, inverse=True)

    def warp(self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """Cuts the crop out of an (H, W, C) image; outside pixels are black."""
        return np.asarray(
            cv2.warpAffine(
                image,
                self.to_crop_matrix,
                self.size,
                flags=interpolation,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(0,),
            )
        )

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image pixels (..., 2) -> crop pixels."""
        return affine_points(points, self.to_crop_matrix)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Crop pixels (..., 2) -> image pixels."""
        return affine_points(points, self.to_image_matrix)


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB (or (B, H, W, 3)) -> float tensor (B, 3, H, W) in [0, 1]."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGB pixels, got {array.dtype}")
    tensor = torch.from_numpy(np.ascontiguousarray(array)).float().div_(255.0)
    tensor = tensor[None] if tensor.ndim == 3 else tensor
    return tensor.permute(0, 3, 1, 2).contiguous()


def normalize_image(
    images: torch.Tensor,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> (x - mean) / std per channel."""
    mean_t = images.new_tensor(mean).view(1, 3, 1, 1)
    std_t = images.new_tensor(std).view(1, 3, 1, 1)
    return (images - mean_t) / std_t
