"""2D pose from MediaPipe Pose (legacy API, model_complexity=1: the model that ships in the wheel).

The 33 landmarks are mapped to H36M-17 (:func:`lbi.geometry.skeleton.mediapipe_to_h36m`), the person box is
the joints' bounding box grown by 10 % (the convention the training crops use), and each joint
carries the visibility of its least visible source landmark as its confidence.

The legacy graph finds one person per call. :meth:`PoseDetector.detect_people` finds more by
greying out each person found (their box) and searching again, on the whole image and then on its
left and right parts (people side by side who fill the frame, whom the whole-image search misses).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..crop.affine import joint_box
from ..geometry.skeleton import mediapipe_to_h36m


@dataclass
class Pose2D:
    joints: np.ndarray  # (17, 2) H36M joints in image pixels
    confidence: np.ndarray  # (17,) in [0, 1]
    landmarks: np.ndarray  # (33, 2) MediaPipe landmarks in image pixels
    visibility: np.ndarray  # (33,)
    box: tuple[float, float, float, float]  # (x, y, w, h) pixels
    #: (17, 3) MediaPipe's own 3D estimate (its world landmarks as H36M joints): mm, root-relative, in the axes of a
    #: camera looking at the person (x right, y down, z away; the ray frame of lbi.crop.codec): the 3D pose prior
    world: np.ndarray | None = None
    mask: np.ndarray | None = None  # (H, W) float in [0, 1]: MediaPipe's person segmentation, when asked for

    @classmethod
    def from_joints(cls, joints: np.ndarray, confidence: np.ndarray | None = None) -> Pose2D:
        """A 2D pose from another source (17 H36M joints in image pixels): no landmarks, no 3D, no mask."""
        joints = np.asarray(joints, dtype=np.float64)
        confidence = np.ones(len(joints)) if confidence is None else np.asarray(confidence, dtype=np.float64)
        return cls(joints, confidence, np.empty((0, 2)), np.empty(0), joint_box(joints))

    @property
    def visible_area(self) -> float:
        """Area (px^2) of the box around the joints MediaPipe sees (confidence >= 0.5): how large
        the person appears, without the limbs it extrapolates beyond the frame."""
        seen = self.joints[self.confidence >= 0.5]
        if len(seen) < 2:
            return 0.0
        w, h = seen.max(axis=0) - seen.min(axis=0)
        return float(w * h)

    def shifted(self, dx: float, full_shape: tuple[int, ...]) -> Pose2D:
        """The pose found in a window that starts ``dx`` pixels from the left of an image of ``full_shape``."""
        mask = None
        if self.mask is not None:
            mask = np.zeros(full_shape[:2], np.float32)
            x0 = int(round(dx))
            mask[:, x0 : x0 + self.mask.shape[1]] = self.mask[:, : full_shape[1] - x0]
        x, y, w, h = self.box
        move = np.array([dx, 0.0])
        return replace(
            self, joints=self.joints + move, landmarks=self.landmarks + move, box=(x + dx, y, w, h), mask=mask
        )

    @property
    def score(self) -> float:
        """Mean joint confidence: low values mean MediaPipe is unsure a person is there."""
        return float(self.confidence.mean())


def world_joints(landmarks_m: np.ndarray) -> np.ndarray:
    """MediaPipe's 33 world landmarks (metres, hip-centred) -> H36M-17 joints in mm, root-relative."""
    joints, _ = mediapipe_to_h36m(np.asarray(landmarks_m, dtype=np.float64) * 1000.0)
    return joints - joints[:1]


#: the least mean joint confidence of a person found in a window of the image
MIN_WINDOW_SCORE = 0.3
#: only photos at least this much wider than tall are searched in windows (people side by side fill wide frames;
#: two more MediaPipe calls would cost every portrait ~70 ms)
WIDE = 1.2


def _intersection(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    inter = _intersection(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def box_overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """The share of the smaller of two (x, y, w, h) boxes that the other covers."""
    smaller = min(a[2] * a[3], b[2] * b[3])
    return _intersection(a, b) / smaller if smaller > 0 else 0.0


def _covers_two(pose: Pose2D, others: list[Pose2D]) -> bool:
    """Whether ``pose``'s box covers a good part (30 %) of two other boxes that do not overlap each other."""
    covered = [o for o in others if o is not pose and box_overlap(o.box, pose.box) > 0.3]
    return any(box_overlap(a.box, b.box) < 0.1 for i, a in enumerate(covered) for b in covered[i + 1 :])


class PoseDetector:
    """One MediaPipe Pose graph. ``video=True`` tracks across frames (one detector per stream)."""

    def __init__(self, video: bool = False, min_confidence: float = 0.5, segmentation: bool = False) -> None:
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(
            static_image_mode=not video,
            model_complexity=1,
            smooth_landmarks=video,
            enable_segmentation=segmentation,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )

    def __call__(self, rgb: np.ndarray) -> Pose2D | None:
        """rgb: (H, W, 3) uint8 -> the person's 2D pose, or None when nobody is found."""
        h, w = rgb.shape[:2]
        result = self._pose.process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None:
            return None
        lm = result.pose_landmarks.landmark
        landmarks = np.array([[p.x * w, p.y * h] for p in lm])
        visibility = np.array([p.visibility for p in lm])
        joints, confidence = mediapipe_to_h36m(landmarks, visibility)
        assert confidence is not None  # given visibilities, the map gives confidences
        world = None
        if result.pose_world_landmarks is not None:
            world = world_joints(np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark]))
        mask = None if result.segmentation_mask is None else np.asarray(result.segmentation_mask, np.float32)
        return Pose2D(joints, confidence, landmarks, visibility, joint_box(joints), world, mask)

    def detect_people(
        self, rgb: np.ndarray, max_people: int = 3, min_extra_score: float = 0.9, windows: bool = True
    ) -> list[Pose2D]:
        """Everyone MediaPipe finds (up to ``max_people``), largest visible person first. Static images only:
        in video mode the graph tracks one person across frames.

        After the first person, the search runs on the image with the people found greyed out; there
        MediaPipe also "finds" people in textures, so a further person counts only when its mean joint
        confidence is at least ``min_extra_score``. With ``windows`` (and room for more people) in a wide image
        (:data:`WIDE`), the left and the right 60 % of the image are searched too, for people side by side who
        fill the frame: the whole-image search misses them or takes two for one. A person of the whole-image
        search who covers two others that are apart was two people taken for one and goes; a person found in a
        window counts when they do not overlap (half of the smaller box) anyone already found, so a photo of one
        person gives the same answer with or without the windows.
        """
        image = np.ascontiguousarray(rgb).copy()
        fill = np.median(rgb.reshape(-1, rgb.shape[-1]), axis=0).astype(rgb.dtype)
        people: list[Pose2D] = []
        while len(people) < max_people:
            pose = self(image)
            if pose is None or (people and pose.score < min_extra_score):
                break
            people.append(pose)
            x, y, w, h = (int(round(v)) for v in pose.box)
            image[max(y, 0) : max(y + h, 0), max(x, 0) : max(x + w, 0)] = fill
        if windows and len(people) < max_people and rgb.shape[1] >= WIDE * rgb.shape[0]:
            width, seen = rgb.shape[1], []
            for x0, x1 in ((0, int(0.6 * width)), (int(0.4 * width), width)):
                found = self(np.ascontiguousarray(rgb[:, x0:x1]))
                if found is not None and found.score >= MIN_WINDOW_SCORE:
                    seen.append(found.shifted(x0, rgb.shape) if x0 else found)
            people = [p for p in people if not _covers_two(p, people + seen)]  # two people taken for one
            for pose in sorted(seen, key=lambda p: p.score, reverse=True):
                if len(people) < max_people and all(box_overlap(pose.box, p.box) <= 0.5 for p in people):
                    people.append(pose)
        return sorted(people, key=lambda p: p.visible_area, reverse=True)

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> PoseDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
