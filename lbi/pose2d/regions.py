"""Where the two BlazePose networks look: upright squares of the photo for the person detector, and turned squares
(one per person, upright body inside) for the landmark network.

The constants are MediaPipe's (the options of its graphs ``PoseDetectionToRoi`` and ``PoseLandmarksToRoi`` as compiled
into the mediapipe 0.10.21 wheel), each named after its option; the windows are this module's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: DetectionsToRectsCalculatorOptions.rotation_vector_target_angle_degrees: the hip-to-size-point direction is
#: turned to point straight up
TARGET_ANGLE = math.radians(90.0)
#: RectTransformationCalculatorOptions.scale_x = scale_y (square_long: true)
ROI_SCALE = 1.25
#: the side of the square the detector sees (ImageToTensorCalculatorOptions.output_tensor_width / _height)
DETECTOR_SIZE = 224

#: The detector was trained to find the person in a photo: in a view of several people it scores the most
#: prominent one and leaves the others far below its threshold, though each scores high in a view of their own.
#: So it also looks at windows (squares of the photo's shorter side, and of half its longer side) overlapping
#: their neighbours by this share of a side
WINDOW_OVERLAP = 0.5
#: squares of the shorter side are among the windows of photos at least this much longer than wide (in squarer
#: photos they would be nearly the whole photo again)
ELONGATED = 1.2
#: A window hides the context the detector was trained with: what it finds there turned on its side or upside
#: down is mostly a body part or the background taken for a person. Windows keep only people turned less than this
#: from upright; the whole photo (MediaPipe's own view) keeps any orientation
WINDOW_MAX_TURN = math.radians(45.0)
#: two regions are one when this alike (centres closer than this share of the larger side, sides within this
#: ratio, turned less than this apart): their crops show the same, so one landmark run does
SAME_REGION = (0.1, 0.8, math.radians(20.0))


@dataclass(frozen=True)
class Region:
    """A square in image pixels, possibly turned: a view of the photo (the detector's are upright; the landmark
    network's are turned so that the person stands upright in it)."""

    centre: tuple[float, float]  # (x, y) px
    size: float  # side, px
    rotation: float  # radians; the angle the square's axes are turned by (image axes, y down)

    def affine(self, out_size: int) -> np.ndarray:
        """(2, 3) image px -> crop px of an ``out_size`` square: the square's corners to the crop's corners
        (as MediaPipe's ImageToTensorCalculator maps a rotated rect onto its tensor)."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        a = out_size / self.size
        rot_t = np.array([[c, s], [-s, c]]) * a  # R^T scaled
        shift = out_size / 2 - rot_t @ np.asarray(self.centre)
        return np.concatenate([rot_t, shift[:, None]], axis=1)

    def to_image(self, crop_xy: np.ndarray, out_size: int) -> np.ndarray:
        """(..., 2) crop px -> image px (the inverse of :meth:`affine`)."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        local = (np.asarray(crop_xy, np.float64) / out_size - 0.5) * self.size
        rot = np.array([[c, -s], [s, c]])
        return local @ rot.T + np.asarray(self.centre)


def person_region(hip: np.ndarray, scale_point: np.ndarray, scale: float = ROI_SCALE) -> Region:
    """The landmark network's region from two points in image px: the hip centre and the point whose distance and
    direction give the body's size and rotation (the detector's first two keypoints, or the landmark network's two
    auxiliary landmarks of the frame before).

    AlignmentPointsRectsCalculator: centre at the hip centre, side twice their distance, rotated so that the
    hip-to-point direction becomes the target angle (90 degrees: straight up); RectTransformationCalculator:
    the square (square_long) grown by ``scale``.
    """
    (x0, y0), (x1, y1) = np.asarray(hip, np.float64), np.asarray(scale_point, np.float64)
    size = 2.0 * math.hypot(x1 - x0, y1 - y0)
    angle = TARGET_ANGLE - math.atan2(-(y1 - y0), x1 - x0)
    angle -= 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))  # into [-pi, pi)
    return Region((float(x0), float(y0)), size * scale, angle)


def same_region(a: Region, b: Region, limits: tuple[float, float, float] = SAME_REGION) -> bool:
    """Whether two regions are so alike that their crops show the same (:data:`SAME_REGION`)."""
    near, ratio, turn = limits
    larger = max(a.size, b.size)
    apart = math.hypot(a.centre[0] - b.centre[0], a.centre[1] - b.centre[1])
    turned = abs((a.rotation - b.rotation + math.pi) % (2 * math.pi) - math.pi)
    return apart < near * larger and min(a.size, b.size) >= ratio * larger and turned < turn


def letterbox(image_shape: tuple[int, ...]) -> Region:
    """The detector's view of the whole photo: a square of its longer side centred on it (MediaPipe letterboxes
    the photo into its square)."""
    height, width = image_shape[:2]
    return Region((width / 2, height / 2), float(max(width, height)), 0.0)


def windows(image_shape: tuple[int, ...], side: float, overlap: float = WINDOW_OVERLAP) -> list[Region]:
    """Squares of ``side`` px over the photo, row by row, neighbours overlapping by at least ``overlap`` of a side
    (the first and last flush with the photo's edges; one centred square along a side shorter than ``side``)."""
    height, width = image_shape[:2]

    def starts(length: float) -> np.ndarray:
        if side >= length:
            return np.array([(length - side) / 2])
        return np.linspace(0.0, length - side, math.ceil((length - side) / (side * (1 - overlap))) + 1)

    return [Region((x + side / 2, y + side / 2), side, 0.0) for y in starts(height) for x in starts(width)]


def detector_views(image_shape: tuple[int, ...], with_windows: bool = True) -> list[Region]:
    """Where the detector looks: the whole photo (MediaPipe's one view) first; with ``with_windows`` also squares
    of the photo's shorter side along its longer one (:data:`ELONGATED` photos) and squares of half its longer side,
    neighbours overlapping by :data:`WINDOW_OVERLAP`."""
    height, width = image_shape[:2]
    views = [letterbox(image_shape)]
    if with_windows:
        if max(width, height) >= ELONGATED * min(width, height):
            views += windows(image_shape, float(min(width, height)))
        for view in windows(image_shape, max(width, height) / 2):  # a photo twice as long as wide has them already
            if not any(abs(view.size - v.size) < 1 and math.dist(view.centre, v.centre) < 1 for v in views):
                views.append(view)
    return views
