"""2D pose from MediaPipe Pose (legacy API, model_complexity=1: the model that ships in the wheel).

The 33 landmarks are mapped to H36M-17 (:func:`lbi.skeleton.mediapipe_to_h36m`), the person box is
the joints' bounding box grown by 10 % (the convention the training crops use), and each joint
carries the visibility of its least visible source landmark as its confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .crop import joint_box
from .skeleton import mediapipe_to_h36m


@dataclass
class Pose2D:
    joints: np.ndarray  # (17, 2) H36M joints in image pixels
    confidence: np.ndarray  # (17,) in [0, 1]
    landmarks: np.ndarray  # (33, 2) MediaPipe landmarks in image pixels
    visibility: np.ndarray  # (33,)
    box: tuple[float, float, float, float]  # (x, y, w, h) pixels

    @property
    def score(self) -> float:
        """Mean joint confidence: low values mean MediaPipe is unsure a person is there."""
        return float(self.confidence.mean())


class PoseDetector:
    """One MediaPipe Pose graph. ``video=True`` tracks across frames (one detector per stream)."""

    def __init__(self, video: bool = False, min_confidence: float = 0.5) -> None:
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(static_image_mode=not video, model_complexity=1, smooth_landmarks=video,
                                            enable_segmentation=False, min_detection_confidence=min_confidence,
                                            min_tracking_confidence=min_confidence)

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
        return Pose2D(joints, confidence, landmarks, visibility, joint_box(joints))

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> "PoseDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
