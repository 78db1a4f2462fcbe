"""2D pose from MediaPipe Pose (legacy API, model_complexity=1: the model that ships in the wheel).

The 33 landmarks are mapped to H36M-17 (:func:`lbi.geometry.skeleton.mediapipe_to_h36m`), the person box is
the joints' bounding box grown by 10 % (the convention the training crops use), and each joint
carries the visibility of its least visible source landmark as its confidence.

The legacy graph finds one person per call (the training caches use it, one person per crop); everyone in a photo
or a stream is found by :mod:`lbi.pose2d.people`.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def world_joints(landmarks_m: np.ndarray) -> np.ndarray:
    """MediaPipe's 33 world landmarks (metres, hip-centred) -> H36M-17 joints in mm, root-relative."""
    joints, _ = mediapipe_to_h36m(np.asarray(landmarks_m, dtype=np.float64) * 1000.0)
    return joints - joints[:1]


class PoseDetector:
    """MediaPipe's legacy Pose graph on still images, one person each (the training crops' 2D and 3D; everyone in a
    photo or a stream: :mod:`lbi.pose2d.people`)."""

    def __init__(self) -> None:
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)

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
        return Pose2D(joints, confidence, landmarks, visibility, joint_box(joints), world)

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> PoseDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
