"""What the app's Video tab shows, without Gradio: a clip analysed into motion (:mod:`lbi.motion.video`), its downloads,
the animated 3D view, and any frame of it with everyone's 2D pose and one person's attention."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..motion.video import Smoothing, VideoError, VideoResult, analyse_video
from ..pipeline.estimator import Estimator
from . import draw, figure3d
from .files import OutputFiles
from .photo import ALL_JOINTS, DEFAULT_LAYER, attention_view, display_size

#: the longest clip the app analyses (seconds): a minute keeps a request within a few minutes on a CPU
APP_MAX_SECONDS = 60.0


@dataclass
class ClipView:
    clip: VideoResult
    downloads: list[str]  # JSON, CSV and BVH files
    figure: object  # the animated 3D view (plotly Figure)
    status: str


def analyse_clip(
    estimator: Estimator,
    path: str,
    files: OutputFiles,
    max_people: int = 1,
    smoothing: bool = True,
    progress: Callable[[int, int], None] | None = None,
    fusion: str | None = None,
) -> ClipView:
    """The clip at ``path`` analysed (at most APP_MAX_SECONDS), written as JSON, CSV and BVH files, and its
    animated 3D view. Raises VideoError when the file is not a usable clip."""
    clip = analyse_video(
        path,
        estimator,
        max_people=max_people,
        smoothing=Smoothing() if smoothing else None,
        max_seconds=APP_MAX_SECONDS,
        progress=progress,
        fusion=fusion,
    )
    downloads = files.clip(clip)
    poses = [{p.id: p.joints3d_mm for p in frame.people} for frame in clip.frames]
    found = sum(bool(f.people) for f in clip.frames)
    status = f"{len(clip.frames)} frames at {clip.info.fps:g} fps; people in {found} of them (ids {clip.ids})."
    status = " ".join([status, *clip.notes, *([f"⚠️ {clip.error}"] if clip.error else [])])
    return ClipView(clip, downloads, figure3d.motion_figure(poses, clip.info.fps), status)


def read_frame(path: str, index: int) -> np.ndarray:
    """Frame ``index`` of the clip as RGB (VideoError when it cannot be read)."""
    capture = cv2.VideoCapture(path)
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = capture.read()
    finally:
        capture.release()
    if not ok or bgr is None:
        raise VideoError(f"frame {index} of the clip cannot be read")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def frame_view(
    estimator: Estimator,
    clip: VideoResult,
    index: int,
    files: OutputFiles,
    person: int | None = None,
    layer: int = DEFAULT_LAYER,
    joint: str = ALL_JOINTS,
) -> tuple[str, str | None, str]:
    """Frame ``index``: everyone's 2D pose (JPEG file, each person in the colours of their id), the attention of
    the person with id ``person`` (else the frame's first; the lifter re-run on the frame with that person's 2D
    pose; None when nobody is in the frame) and a line about the frame."""
    frame = clip.frames[index]
    rgb = read_frame(clip.info.path, frame.index)
    shown, scale = display_size(rgb)
    for p in frame.people:
        shown = draw.draw_skeleton_2d(shown, p.joints2d_px * scale, p.confidence, person=p.id)
    pose2d = files.image(shown, "lbi_clip_pose2d")
    if not frame.people:
        return pose2d, None, f"frame {frame.index} ({frame.time_s:.2f} s): nobody found"
    picked = next((p for p in frame.people if p.id == person), frame.people[0])
    estimate = estimator.lift(rgb, picked.joints2d_px, flip_test=False)
    ids = ", ".join(str(p.id) for p in frame.people)
    line = f"frame {frame.index} ({frame.time_s:.2f} s): people {ids}; attention of person {picked.id}"
    return pose2d, attention_view(rgb, estimate, files, layer, joint), line
