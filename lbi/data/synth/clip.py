"""Short LBI-Synth video clips: people walking in place in the lab, seen by lab camera A, written with OpenCV.

The tests make their own clips with it (a clip of known 3D poses for ``lbi video``), and ``train.release.make_examples``
the README's animated example. Frames are 4:3, the middle of the lab camera's square frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...crop.affine import PIXEL_STD, Crop
from .body import PoseAngles, pose_body
from .generate import subject_shape
from .render import render_body
from .scenes import LAB_CAMERAS, lab_background, lab_camera

SUBJECTS = ("L11", "L12", "L13")


@dataclass
class ClipTruth:
    fps: float
    size: tuple[int, int]  # (w, h)
    joints3d_mm: np.ndarray  # (T, people, 17, 3) camera axes
    joints2d_px: np.ndarray  # (T, people, 17, 2) pixels of the clip


def walk_angles(phase: float, yaw: float) -> PoseAngles:
    """A walking step at ``phase`` (radians; one stride per 2 pi), facing ``yaw``."""
    swing = 0.45 * np.sin(phase)
    return PoseAngles(
        yaw=yaw,
        hip_flex=(swing, -swing),
        knee=(0.5 * max(0.0, -np.sin(phase)) + 0.1, 0.5 * max(0.0, np.sin(phase)) + 0.1),
        shoulder_flex=(-0.8 * swing, 0.8 * swing),
        shoulder_abd=(0.15, 0.15),
        elbow=(0.4, 0.4),
        twist=0.15 * np.sin(phase),
    )


def render_clip(
    path: str | Path, frames: int = 16, fps: float = 8.0, people: int = 1, width: int = 640, cross: bool = False
) -> ClipTruth:
    """Writes a clip of ``people`` (0-3) walking in place, side by side 1.2 m apart, and returns their true poses
    per frame. ``cross``: the people change places instead, each walking sideways across the frame to where the
    one opposite started, the first 0.8 m nearer the camera than the second (they pass in front of each other
    halfway). The suffix of ``path`` picks the codec: .avi Motion JPEG, .webm VP8, else MPEG-4 Part 2."""
    camera, light = lab_camera(0)
    w, h = camera.size
    crop = Crop(np.array([w / 2, h / 2]), np.array([w, w * 0.75]) / PIXEL_STD, (width, round(width * 0.75)))
    backdrop = crop.warp(lab_background(LAB_CAMERAS.index("cam_a"))).astype(np.float32)
    towards_camera = float(np.arctan2(camera.position[0], camera.position[2]))
    right = camera.rotation[0] / np.linalg.norm(camera.rotation[0, [0, 2]])
    offsets = (np.arange(people) - (people - 1) / 2) * 1.2
    towards = np.array([camera.position[0], camera.position[2]]) / np.hypot(camera.position[0], camera.position[2])
    nearer = (0.4 - 0.8 * np.arange(people) / max(people - 1, 1)) if cross else np.zeros(people)  # metres
    truth_3d, truth_2d = [], []
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")  # OpenCV picks the container by the suffix
    try:
        codec = {".avi": "MJPG", ".webm": "VP80"}.get(path.suffix.lower(), "mp4v")
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*codec), fps, crop.size)
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {codec} video here")
        try:
            for k in range(frames):
                image, frame_3d, frame_2d = backdrop, [], []
                for p, offset in enumerate(offsets):
                    phase = 2 * np.pi * k / frames + p
                    if cross:  # from its own place to the one opposite
                        offset = offset * (1.0 - 2.0 * k / max(frames - 1, 1))
                    ground = offset * right[[0, 2]] + nearer[p] * towards
                    position = (float(ground[0]), float(ground[1]))
                    posed = pose_body(subject_shape(0, SUBJECTS[p]), walk_angles(phase, towards_camera), position)
                    rendered, _ = render_body(posed, camera, crop, image, light)
                    image = rendered.astype(np.float32) / 255.0
                    joints_cam = camera.to_camera(posed.joints)
                    frame_3d.append(joints_cam * 1000.0)
                    frame_2d.append(crop.to_crop(camera.project(joints_cam)))
                writer.write(cv2.cvtColor((image * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR))
                truth_3d.append(frame_3d)
                truth_2d.append(frame_2d)
        finally:
            writer.release()
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return ClipTruth(fps, crop.size, np.array(truth_3d), np.array(truth_2d))
