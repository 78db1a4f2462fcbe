"""Everyone in a photo in one pass, from the two BlazePose networks in the mediapipe wheel.

MediaPipe's legacy Pose graph runs its person detector on the whole photo, keeps the best detection and runs the
landmark network on it. This module runs the same two networks (as PyTorch modules,
:class:`lbi.encoders.tflite_graph.TFLiteGraph`), with the same constants, for everyone:

1. **Detector** (``pose_detection.tflite``, one batch): views of the photo, each an upright square warped to
   224 x 224 (zero outside the photo) and scaled to [-1, 1]. The first view is MediaPipe's own: the whole photo,
   letterboxed. The detector was trained to find *the* person in a photo, so in a view of several people it scores
   one; further views are windows: squares of the photo's shorter side along its longer one, and squares of half
   its longer side, overlapping by half (:func:`detector_views`). Per view the network scores 2254 SSD anchors and
   regresses per anchor a fixed-size box and 4 keypoints (hip centre, a point whose distance and direction give
   the body's size and rotation, and the same pair for the upper body); sigmoid scores above a threshold, weighted
   non-maximum suppression, back to image pixels.
2. **Regions**: per detection a square turned so that the body stands upright, centred on the hip centre, 2 x 1.25
   times the distance to the size/rotation keypoint on a side. Windows' people turned on their side are dropped
   (:data:`WINDOW_MAX_TURN`), as are regions alike enough to give the same crop; the whole photo's come first.
3. **Landmarks** (``pose_landmark_full.tflite``, one batch): every region warped to 256 x 256 (in [0, 1], border
   replicated): 39 landmarks x (x, y, z, visibility, presence), a presence score, a 256 x 256 segmentation,
   64 x 64 heatmaps (which refine the landmarks) and 39 world landmarks (metres, hip-centred). The first 33
   landmarks go back through the inverse of their region's warp into image pixels; the world landmarks are turned
   about z by the region's rotation.
4. **People**: a region whose presence score is low goes; so does a second find of someone already kept (their
   visible landmarks agree, or lie on that person's visible skeleton). The rest become
   :class:`lbi.pose2d.landmarks.Pose2D`
   as :class:`lbi.pose2d.landmarks.PoseDetector` builds them, largest visible person first.

With ``with_windows=False`` the pass sees only the whole photo and answers as MediaPipe's legacy graph does, for
its best detection and for every other one. The constants of steps 1-3 are MediaPipe's (the options of its graphs
``PoseDetectionCpu``, ``PoseDetectionToRoi``, ``PoseLandmarkByRoiCpu`` and ``TensorsToPoseLandmarksAndSegmentation``
as compiled into the mediapipe 0.10.21 wheel), each named after its option; the windows and the tests for the same
person are this module's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..crop.affine import joint_box
from ..encoders.blazepose import MEDIAPIPE_VERSION, MediaPipeModelMissing, landmark_model_path
from ..encoders.tflite_graph import TFLiteGraph
from ..geometry.skeleton import MEDIAPIPE_NUM_LANDMARKS, mediapipe_to_h36m
from .landmarks import Pose2D, world_joints

# ------------------------------------------------------------------ detector (PoseDetectionCpu)
#: ImageToTensorCalculatorOptions.output_tensor_width / _height (keep_aspect_ratio: true, border_mode: BORDER_ZERO)
DETECTOR_SIZE = 224
#: ImageToTensorCalculatorOptions.output_tensor_float_range {min: -1, max: 1}
DETECTOR_RANGE = (-1.0, 1.0)
#: SsdAnchorsCalculatorOptions: num_layers 5, strides, anchor_offset_x/_y, aspect_ratios [1.0],
#: interpolated_scale_aspect_ratio 1.0 (the default), fixed_anchor_size: true (every anchor 1 x 1, so min_scale
#: 0.1484375 and max_scale 0.75, which would size them, play no part), input_size_width/_height 224
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
ANCHOR_OFFSET = 0.5
ANCHOR_ASPECT_RATIOS = (1.0,)
ANCHOR_INTERPOLATED_RATIO = 1.0
#: TensorsToDetectionsCalculatorOptions: num_boxes, num_coords, box_coord_offset 0, keypoint_coord_offset 4,
#: num_keypoints 4, num_values_per_keypoint 2; reverse_output_order: true (x before y)
NUM_ANCHORS = 2254
NUM_KEYPOINTS = 4
#: TensorsToDetectionsCalculatorOptions.x_scale = y_scale = w_scale = h_scale
DETECTION_SCALE = 224.0
#: TensorsToDetectionsCalculatorOptions.score_clipping_thresh (logits clipped before sigmoid_score: true)
SCORE_CLIP = 100.0
#: TensorsToDetectionsCalculatorOptions.min_score_thresh (0.5 in the wheel's graph; mp.solutions.pose sets it to
#: min_detection_confidence, 0.5 by default)
MIN_DETECTION_SCORE = 0.5
#: NonMaxSuppressionCalculatorOptions.min_suppression_threshold (overlap_type: INTERSECTION_OVER_UNION,
#: algorithm: WEIGHTED)
NMS_IOU = 0.3

# ------------------------------------------------------------------ region (PoseDetectionToRoi)
#: DetectionsToRectsCalculatorOptions.rotation_vector_start_keypoint_index / _end_keypoint_index: the hip
#: centre and the point that encodes the full body's size and rotation
HIP_KEYPOINT, SCALE_KEYPOINT = 0, 1
#: DetectionsToRectsCalculatorOptions.rotation_vector_target_angle_degrees
TARGET_ANGLE = math.radians(90.0)
#: RectTransformationCalculatorOptions.scale_x = scale_y (square_long: true)
ROI_SCALE = 1.25

# ------------------------------------------------------------------ landmarks (PoseLandmarkByRoiCpu)
#: ImageToTensorCalculatorOptions.output_tensor_width / _height (range [0, 1]; border_mode unset: replicate)
LANDMARK_SIZE = 256
#: TensorsToLandmarksCalculatorOptions.num_landmarks (33 pose landmarks, then auxiliary ones)
NUM_LANDMARKS = 39
#: ThresholdingCalculatorOptions.threshold on the pose flag (Identity_1, a sigmoid inside the network)
MIN_PRESENCE = 0.5
#: RefineLandmarksFromHeatmapCalculatorOptions.kernel_size; min_confidence_to_refine (its default)
HEATMAP_KERNEL = 7
HEATMAP_MIN_CONFIDENCE = 0.5
#: the landmark network's outputs (pose_landmark_full.tflite): 39 x 5 landmarks, pose flag, segmentation
#: (256 x 256 logits), heatmaps (64 x 64 x 39 logits), 39 x 3 world landmarks
LANDMARKS, PRESENCE, SEGMENTATION, HEATMAPS, WORLD = "Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4"

# ------------------------------------------------------------------ this module's own choices
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
#: two detections are one when their regions are this alike (centres closer than this share of the larger side,
#: sides within this ratio, turned less than this apart): their crops show the same, so one landmark run does
SAME_REGION = (0.1, 0.8, math.radians(20.0))
#: two people are one when their landmarks lie this close (median over the BODY landmarks both see, as a share of
#: the longer side of the larger landmark box): two regions on the same body give nearly the same landmarks where
#: the photo shows it, two people overlapping in the photo do not
SAME_PERSON = 0.1
#: a person is a second view of someone found before (or of a part of them: an arm taken for a body) when more than
#: this share of their visible landmarks lies on that someone's visible skeleton (within ON_BODY_RADIUS of their
#: size); people standing in front of each other share less, as each is seen where the other is not
ON_BODY_SHARE = 2 / 3
ON_BODY_RADIUS = 0.05
#: a landmark is visible from this visibility on
VISIBLE = 0.5
#: the landmarks that compare two people: the nose and the body (shoulders down); the other ten face landmarks
#: would count one spot ten times over
BODY = (0, *range(11, 33))
#: MediaPipe's skeleton (mp.solutions.pose.POSE_CONNECTIONS): the bones between the 33 landmarks
BONES = (
    (0, 1), (0, 4), (1, 2), (2, 3), (3, 7), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (11, 23),
    (12, 14), (12, 24), (13, 15), (14, 16), (15, 17), (15, 19), (15, 21), (16, 18), (16, 20), (16, 22),
    (17, 19), (18, 20), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (27, 31), (28, 30),
    (28, 32), (29, 31), (30, 32),
)  # fmt: skip


def detector_model_path() -> Path:
    """Path of ``pose_detection.tflite`` inside the installed mediapipe package."""
    path = landmark_model_path().parents[1] / "pose_detection" / "pose_detection.tflite"
    if not path.is_file():
        raise MediaPipeModelMissing(
            f"{path} is missing: reinstall mediapipe=={MEDIAPIPE_VERSION}, whose wheel ships it"
        )
    return path


# ------------------------------------------------------------------ geometry
@dataclass(frozen=True)
class Region:
    """A square in image pixels, possibly turned: a view of the photo (the detector's upright ones; the landmark
    network's, turned so that the person stands upright in it)."""

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


def ssd_anchors(
    input_size: int = DETECTOR_SIZE,
    strides: tuple[int, ...] = ANCHOR_STRIDES,
    offset: float = ANCHOR_OFFSET,
    aspect_ratios: tuple[float, ...] = ANCHOR_ASPECT_RATIOS,
    interpolated_ratio: float = ANCHOR_INTERPOLATED_RATIO,
) -> np.ndarray:
    """The SSD anchor centres (N, 2), normalised to the square input, in the detector's output order.

    As MediaPipe's SsdAnchorsCalculator: consecutive layers with the same stride share one feature map, each of
    those layers adds one anchor per aspect ratio and one interpolated anchor per cell; cells row by row, the
    anchors of a cell together. With ``fixed_anchor_size`` every anchor is 1 x 1, so only the centres matter.
    """
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        same = layer
        per_cell = 0
        while same < len(strides) and strides[same] == strides[layer]:
            per_cell += len(aspect_ratios) + (1 if interpolated_ratio > 0 else 0)
            same += 1
        cells = math.ceil(input_size / strides[layer])
        y, x = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(x.ravel() + offset) / cells, (y.ravel() + offset) / cells], axis=1)  # (cells^2, 2)
        centres.append(np.repeat(grid, per_cell, axis=0))
        layer = same
    return np.concatenate(centres)


@dataclass
class Detections:
    """Detector output in a view's normalised coordinates, or (after :func:`view_to_image`) image px."""

    boxes: np.ndarray  # (K, 4) xmin, ymin, w, h: a box of fixed size (a fifth of the view) near the head
    keypoints: np.ndarray  # (K, 4, 2) hip centre, full-body size/rotation point, shoulder centre, upper-body point
    scores: np.ndarray  # (K,) in [0, 1]

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def concatenate(cls, parts: list[Detections]) -> Detections:
        return cls(
            np.concatenate([p.boxes.reshape(-1, 4) for p in parts]),
            np.concatenate([p.keypoints.reshape(-1, NUM_KEYPOINTS, 2) for p in parts]),
            np.concatenate([p.scores.reshape(-1) for p in parts]),
        )

    def take(self, index: np.ndarray | slice) -> Detections:
        return Detections(self.boxes[index], self.keypoints[index], self.scores[index])


def decode_detections(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float = MIN_DETECTION_SCORE
) -> Detections:
    """raw_boxes (N, 12), raw_scores (N,) logits, anchors (N, 2) -> the detections scoring at least ``min_score``.

    As TensorsToDetectionsCalculator: box centre = raw / scale + anchor, size = raw / scale (anchors are 1 x 1),
    keypoints = raw / scale + anchor; score = sigmoid of the logit clipped to +-SCORE_CLIP.
    """
    raw_boxes = np.asarray(raw_boxes, np.float64).reshape(len(anchors), 4 + 2 * NUM_KEYPOINTS)
    scores = 1.0 / (1.0 + np.exp(-np.clip(np.asarray(raw_scores, np.float64).reshape(-1), -SCORE_CLIP, SCORE_CLIP)))
    keep = np.flatnonzero(scores >= min_score)
    raw, anchor = raw_boxes[keep] / DETECTION_SCALE, anchors[keep]
    centre, size = raw[:, 0:2] + anchor, raw[:, 2:4]
    boxes = np.concatenate([centre - size / 2, size], axis=1)
    keypoints = raw[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + anchor[:, None, :]
    return Detections(boxes, keypoints, scores[keep])


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(K, 4), (M, 4) xmin, ymin, w, h -> (K, M) intersection over union."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    union = a[:, None, 2:].prod(-1) + b[None, :, 2:].prod(-1) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(detections: Detections, iou_threshold: float = NMS_IOU) -> Detections:
    """MediaPipe's weighted non-maximum suppression (NonMaxSuppressionCalculator, algorithm WEIGHTED).

    The best remaining detection takes every remaining one whose box overlaps it by more than ``iou_threshold``
    (itself included); its box and keypoints become their score-weighted mean, its score stays its own.
    Output by descending score.
    """
    order = np.argsort(-detections.scores, kind="stable")
    boxes, keypoints, scores = [], [], []
    while len(order):
        best = order[0]
        iou = _iou_matrix(detections.boxes[best : best + 1], detections.boxes[order])[0]
        group = order[iou > iou_threshold]
        group = group if len(group) else order[:1]
        weights = detections.scores[group][:, None]
        boxes.append((detections.boxes[group] * weights).sum(0) / weights.sum())
        keypoints.append((detections.keypoints[group] * weights[:, :, None]).sum(0) / weights.sum())
        scores.append(detections.scores[best])
        order = order[iou <= iou_threshold]
    if not scores:
        return detections.take(slice(0, 0))
    return Detections(np.array(boxes), np.array(keypoints), np.array(scores))


def hard_nms(detections: Detections, iou_threshold: float = NMS_IOU) -> Detections:
    """Plain non-maximum suppression (OpenCV's): the best of each overlapping group, unchanged."""
    if not len(detections):
        return detections
    boxes = [[float(v) for v in box] for box in detections.boxes]
    kept = np.asarray(cv2.dnn.NMSBoxes(boxes, [float(s) for s in detections.scores], 0.0, iou_threshold), np.int64)
    kept = kept.reshape(-1)
    return detections.take(kept[np.argsort(-detections.scores[kept], kind="stable")])


def letterbox(image_shape: tuple[int, ...]) -> Region:
    """The detector's view of the whole photo: a square of its longer side centred on it (ImageToTensorCalculator
    with keep_aspect_ratio: the photo letterboxed into the square, the rest zero)."""
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


def view_to_image(detections: Detections, view: Region) -> Detections:
    """Coordinates normalised to an upright square view -> image px (for the whole photo: MediaPipe's
    DetectionLetterboxRemovalCalculator, then the photo's size)."""
    corner = np.asarray(view.centre) - view.size / 2
    boxes = np.concatenate([detections.boxes[:, :2] * view.size + corner, detections.boxes[:, 2:] * view.size], axis=1)
    return Detections(boxes, detections.keypoints * view.size + corner, detections.scores)


def detection_region(hip: np.ndarray, scale_point: np.ndarray, scale: float = ROI_SCALE) -> Region:
    """The landmark network's region from the two full-body keypoints (image px).

    AlignmentPointsRectsCalculator: centre at the hip centre, side twice their distance, rotated so that the
    hip-to-point direction becomes the target angle (90 degrees: straight up); RectTransformationCalculator:
    the square (square_long) grown by ``scale``.
    """
    (x0, y0), (x1, y1) = np.asarray(hip, np.float64), np.asarray(scale_point, np.float64)
    size = 2.0 * math.hypot(x1 - x0, y1 - y0)
    angle = TARGET_ANGLE - math.atan2(-(y1 - y0), x1 - x0)
    angle -= 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))  # into [-pi, pi)
    return Region((float(x0), float(y0)), size * scale, angle)


def refine_from_heatmaps(
    xy: np.ndarray, heatmaps: np.ndarray, kernel: int = HEATMAP_KERNEL, min_confidence: float = HEATMAP_MIN_CONFIDENCE
) -> np.ndarray:
    """xy (P, L, 2) landmarks normalised to the crop, heatmaps (P, L, h, w) logits -> refined xy (P, L, 2).

    As RefineLandmarksFromHeatmapCalculator: around the heatmap cell a landmark falls in (coordinates truncated),
    a ``kernel`` window of sigmoid confidences (cut at the heatmap's edge); where its largest confidence reaches
    ``min_confidence``, the landmark moves to the window's confidence-weighted mean cell index / heatmap size.
    A landmark outside the heatmap stays (MediaPipe tests the column twice and the row only from above, so a
    landmark just below the crop still uses the rows inside it: kept here for the same answers).
    """
    p, n, h, w = heatmaps.shape
    half = (kernel - 1) // 2
    col = np.trunc(xy[..., 0] * w).astype(np.int64)  # (P, L) as C++'s float -> int
    row = np.trunc(xy[..., 1] * h).astype(np.int64)
    valid = (col >= 0) & (col < w) & (row >= 0) & (row < h + half)
    # zero border == the window cut at the edge; rows below the heatmap reach 2 * half past it
    conf = np.zeros((p, n, h + 3 * half, w + 2 * half))
    conf[:, :, half : half + h, half : half + w] = 1.0 / (1.0 + np.exp(-heatmaps.astype(np.float64)))
    offsets = np.arange(-half, half + 1)
    rows = np.clip(row, 0, h - 1 + half)[..., None] + offsets  # (P, L, k) heatmap rows
    cols = np.clip(col, 0, w - 1)[..., None] + offsets
    pi, li = np.arange(p)[:, None, None, None], np.arange(n)[None, :, None, None]
    window = conf[pi, li, rows[..., :, None] + half, cols[..., None, :] + half]  # (P, L, k, k)
    total = window.sum((-1, -2))
    refine = valid & (window.max((-1, -2)) >= min_confidence) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    new_x = (window.sum(-2) * cols).sum(-1) / safe / w
    new_y = (window.sum(-1) * rows).sum(-1) / safe / h
    return np.where(refine[..., None], np.stack([new_x, new_y], axis=-1), xy)


# ------------------------------------------------------------------ the detector
@dataclass
class Person:
    """One person as the two networks see them: :meth:`PeopleDetector.people`'s answer."""

    detection_score: float  # the detector's score
    view: int  # where the detector found them: 0 the whole photo, else a window (:func:`detector_views`)
    presence: float  # the landmark network's pose flag
    region: Region
    landmarks: np.ndarray  # (33, 2) image px
    depth: np.ndarray  # (33,) px, hips near 0, smaller nearer the camera (MediaPipe's z times the photo's width)
    visibility: np.ndarray  # (33,) in [0, 1]
    landmark_presence: np.ndarray  # (33,) in [0, 1]
    world_m: np.ndarray  # (33, 3) metres, hip-centred (MediaPipe's world landmarks)
    mask: np.ndarray | None = None  # (H, W) float32 in [0, 1]

    def pose2d(self) -> Pose2D:
        """The person as :class:`lbi.pose2d.landmarks.PoseDetector` reports one."""
        joints, confidence = mediapipe_to_h36m(self.landmarks, self.visibility)
        assert confidence is not None  # given visibilities, the map gives confidences
        return Pose2D(
            joints,
            confidence,
            self.landmarks,
            self.visibility,
            joint_box(joints),
            world_joints(self.world_m),
            self.mask,
        )


def same_person(
    a: np.ndarray,
    b: np.ndarray,
    a_visibility: np.ndarray | None = None,
    b_visibility: np.ndarray | None = None,
    share: float = SAME_PERSON,
) -> bool:
    """Whether two landmark sets (33, 2) px are one body: the median distance of the :data:`BODY` landmarks both
    see (all of them when they share fewer than 3, or without visibilities) is under ``share`` of the longer side of
    the larger of their two boxes. (Two fits of one body agree where the photo shows it, not where it is guessed.)"""
    side = max(float((a.max(0) - a.min(0)).max()), float((b.max(0) - b.min(0)).max()))
    body = list(BODY)
    distance = np.linalg.norm(a[body] - b[body], axis=-1)
    if a_visibility is not None and b_visibility is not None:
        both = (a_visibility[body] >= VISIBLE) & (b_visibility[body] >= VISIBLE)
        if both.sum() >= 3:
            distance = distance[both]
    return float(np.median(distance)) < share * side


def on_body(
    landmarks: np.ndarray,
    visibility: np.ndarray,
    other: np.ndarray,
    other_visibility: np.ndarray,
    radius: float = ON_BODY_RADIUS,
) -> float:
    """The share of one person's visible :data:`BODY` landmarks (33, 2) px that lie on another's visible skeleton:
    within ``radius`` times the other's size (the longer side of their landmark box) of a bone both of whose ends they
    see. 0 when either sees nothing."""
    seen = np.zeros(len(landmarks), dtype=bool)
    seen[list(BODY)] = visibility[list(BODY)] >= VISIBLE
    bones = np.array([b for b in BONES if other_visibility[b[0]] >= VISIBLE and other_visibility[b[1]] >= VISIBLE])
    if not seen.any() or not len(bones):
        return 0.0
    start, end = other[bones[:, 0]], other[bones[:, 1]]  # (B, 2)
    points = landmarks[seen][:, None, :]  # (N, 1, 2)
    along = end - start
    t = np.clip(((points - start) * along).sum(-1) / np.maximum((along**2).sum(-1), 1e-9), 0.0, 1.0)  # (N, B)
    distance = np.linalg.norm(points - (start + t[..., None] * along), axis=-1).min(axis=1)  # (N,)
    size = float((other.max(0) - other.min(0)).max())
    return float((distance < radius * size).mean())


def same_region(a: Region, b: Region, limits: tuple[float, float, float] = SAME_REGION) -> bool:
    """Whether two regions are so alike that their crops show the same (:data:`SAME_REGION`)."""
    near, ratio, turn = limits
    larger = max(a.size, b.size)
    apart = math.hypot(a.centre[0] - b.centre[0], a.centre[1] - b.centre[1])
    turned = abs((a.rotation - b.rotation + math.pi) % (2 * math.pi) - math.pi)
    return apart < near * larger and min(a.size, b.size) >= ratio * larger and turned < turn


class PeopleDetector:
    """MediaPipe's person detector and landmark network, run once per photo for everyone in it.

    ``segmentation``: each person gets the landmark network's segmentation warped back into the photo.
    ``with_windows``: the detector also looks at windows of the photo (:func:`detector_views`); without, it sees
    the whole photo only, as MediaPipe does (and then finds mostly one person). ``min_score``: the detector's score
    threshold; ``min_presence``: the landmark network's; ``nms``: "weighted" (MediaPipe's) or "hard" (OpenCV's).
    The graphs are built once per instance; not thread-safe.
    """

    def __init__(
        self,
        segmentation: bool = False,
        with_windows: bool = True,
        min_score: float = MIN_DETECTION_SCORE,
        min_presence: float = MIN_PRESENCE,
        nms: str = "weighted",
        device: str | torch.device = "cpu",
    ) -> None:
        if nms not in ("weighted", "hard"):
            raise ValueError(f"nms must be 'weighted' or 'hard', not {nms!r}")
        self.segmentation, self.with_windows = segmentation, with_windows
        self.min_score, self.min_presence, self.nms = min_score, min_presence, nms
        self.device = torch.device(device)
        self.detector = TFLiteGraph(detector_model_path(), outputs=["Identity", "Identity_1"]).eval().to(self.device)
        outputs = [LANDMARKS, PRESENCE, HEATMAPS, WORLD] + ([SEGMENTATION] if segmentation else [])
        self.landmarker = TFLiteGraph(landmark_model_path(), outputs=outputs).eval().to(self.device)
        self.anchors = ssd_anchors()  # (2254, 2)
        if len(self.anchors) != NUM_ANCHORS:
            raise MediaPipeModelMissing(f"{len(self.anchors)} anchors for a detector with {NUM_ANCHORS}")

    def __call__(self, rgb: np.ndarray, max_people: int = 8) -> list[Pose2D]:
        """rgb (H, W, 3) uint8 -> everyone found (at most ``max_people``), largest visible person first."""
        poses = [person.pose2d() for person in self.people(rgb, max_people)]
        return sorted(poses, key=lambda p: p.visible_area, reverse=True)

    # -------------------------------------------------------------- the stages
    @torch.no_grad()
    def detect(self, rgb: np.ndarray) -> tuple[Detections, np.ndarray]:
        """rgb (H, W, 3) uint8 -> (the detector's people in image px; the view each came from (K,), 0: the whole
        photo). Those of the whole photo (MediaPipe's own view) come first, then the windows', each by descending
        score. Suppression runs per view, as MediaPipe runs it on its one view."""
        views = detector_views(rgb.shape, self.with_windows)
        batch = np.stack(
            [
                cv2.warpAffine(
                    rgb,
                    view.affine(DETECTOR_SIZE),
                    (DETECTOR_SIZE, DETECTOR_SIZE),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=(0, 0, 0),
                )
                for view in views
            ]
        )  # (V, 224, 224, 3)
        lo, hi = DETECTOR_RANGE
        x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float() * ((hi - lo) / 255.0) + lo
        raw_boxes, raw_scores = (t.float().cpu().numpy() for t in self.detector(x))  # (V, 2254, 12), (V, 2254, 1)
        parts, view_of = [], []
        for v, view in enumerate(views):
            found = decode_detections(raw_boxes[v], raw_scores[v, :, 0], self.anchors, self.min_score)
            found = weighted_nms(found) if self.nms == "weighted" else hard_nms(found)
            parts.append(view_to_image(found, view))
            view_of += [v] * len(found)
        found, views_of = Detections.concatenate(parts), np.asarray(view_of, dtype=np.int64)
        order = np.lexsort((-found.scores, views_of > 0))  # the whole photo's (MediaPipe's view) first, then by score
        return found.take(order), views_of[order]

    @torch.no_grad()
    def people(self, rgb: np.ndarray, max_people: int = 8) -> list[Person]:
        """rgb (H, W, 3) uint8 -> everyone found (at most ``max_people``): the whole photo's detections first, then
        the windows', each by descending score."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        if max_people < 1:
            return []
        rgb = np.ascontiguousarray(rgb)
        found, view_of = self.detect(rgb)
        candidates: list[tuple[int, Region]] = []  # (detection index, region), best first
        for k, keypoints in enumerate(found.keypoints):
            region = detection_region(keypoints[HIP_KEYPOINT], keypoints[SCALE_KEYPOINT])
            if region.size < 1.0 or (view_of[k] > 0 and abs(region.rotation) >= WINDOW_MAX_TURN):
                continue  # a degenerate detection; a window's person on their side (WINDOW_MAX_TURN)
            if not any(same_region(region, other) for _, other in candidates):
                candidates.append((k, region))
            if len(candidates) == 2 * max_people:  # room for duplicates and absent people
                break
        if not candidates:
            return []
        regions = [r for _, r in candidates]
        crops = np.stack(
            [
                cv2.warpAffine(
                    rgb,
                    r.affine(LANDMARK_SIZE),
                    (LANDMARK_SIZE, LANDMARK_SIZE),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE,
                )
                for r in regions
            ]
        )  # (P, 256, 256, 3)
        x = torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        outs = [t.float().cpu().numpy() for t in self.landmarker(x)]
        raw, flag, heat, world = outs[:4]  # (P, 195), (P, 1), (P, 39, 64, 64), (P, 117)
        raw = raw.reshape(len(regions), NUM_LANDMARKS, 5).astype(np.float64)
        xy = refine_from_heatmaps(raw[..., :2] / LANDMARK_SIZE, heat) * LANDMARK_SIZE  # (P, 39, 2) crop px
        sigmoid = 1.0 / (1.0 + np.exp(-raw[..., 3:5]))
        world = world.reshape(len(regions), NUM_LANDMARKS, 3).astype(np.float64)
        masks = outs[4][:, 0] if self.segmentation else None  # (P, 256, 256) logits

        people: list[Person] = []
        n = MEDIAPIPE_NUM_LANDMARKS
        for p, (k, region) in enumerate(candidates):
            if float(flag[p, 0]) <= self.min_presence:
                continue
            landmarks = region.to_image(xy[p, :n], LANDMARK_SIZE)
            visibility = sigmoid[p, :n, 0]
            if any(
                same_person(landmarks, other.landmarks, visibility, other.visibility)
                or on_body(landmarks, visibility, other.landmarks, other.visibility) > ON_BODY_SHARE
                for other in people
            ):
                continue
            c, s = math.cos(region.rotation), math.sin(region.rotation)
            w = world[p, :n]
            world_m = np.stack([c * w[:, 0] - s * w[:, 1], s * w[:, 0] + c * w[:, 1], w[:, 2]], axis=1)
            mask = None
            if masks is not None:
                mask = cv2.warpAffine(
                    (0.5 * (1.0 + np.tanh(0.5 * masks[p]))).astype(np.float32),  # the sigmoid, without overflow
                    region.affine(LANDMARK_SIZE),
                    (rgb.shape[1], rgb.shape[0]),
                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=(0.0,),
                )
            people.append(
                Person(
                    detection_score=float(found.scores[k]),
                    view=int(view_of[k]),
                    presence=float(flag[p, 0]),
                    region=region,
                    landmarks=landmarks,
                    depth=raw[p, :n, 2] / LANDMARK_SIZE * region.size,
                    visibility=visibility,
                    landmark_presence=sigmoid[p, :n, 1],
                    world_m=world_m,
                    mask=mask,
                )
            )
            if len(people) == max_people:
                break
        return people
