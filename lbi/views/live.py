"""Live mode, without Gradio: one webcam stream's state and what each of its frames shows."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..io.images import as_rgb
from ..pipeline.estimate import Estimate
from ..pipeline.estimator import Estimator, NoPersonFound
from ..pose2d.landmarks import PoseDetector
from . import draw


@dataclass
class LiveState:
    """One webcam stream: its own tracking detector, the last estimate, and recent frame times."""

    detector: PoseDetector = field(default_factory=lambda: PoseDetector(video=True))
    last: Estimate | None = None
    last_rgb: np.ndarray | None = None
    frame_times: deque = field(default_factory=lambda: deque(maxlen=30))

    @property
    def fps(self) -> float:
        if len(self.frame_times) < 2:
            return 0.0
        span = self.frame_times[-1] - self.frame_times[0]
        return (len(self.frame_times) - 1) / span if span > 0 else 0.0

    def close(self) -> None:
        self.detector.close()


def live_frame(
    estimator: Estimator,
    frame: np.ndarray,
    state: LiveState | None,
    retention: float | None = None,
    fusion: str | None = None,
) -> tuple[np.ndarray, LiveState]:
    """One webcam frame -> the frame with its 2D skeleton, a small 3D view in the corner and fps.
    Live frames skip the flip test: it doubles the lifter's batch (docs/results.md has the timings)."""
    state = state or LiveState()
    rgb = as_rgb(frame, "the webcam frame")
    state.frame_times.append(time.perf_counter())
    try:
        estimate = estimator.predict(
            rgb, retention=retention, detector=state.detector, flip_test=False, refinable=False, fusion=fusion
        )
    except NoPersonFound:
        out = rgb.copy()
        _label(out, "no person in view")
    else:
        state.last, state.last_rgb = estimate, rgb
        out = draw.draw_skeleton_2d(rgb, estimate.pose.joints2d_px, estimate.pose.confidence)
        inset_size = max(96, min(out.shape[:2]) // 3)
        inset = draw.projected_skeleton(estimate.pose.joints3d_mm, size=inset_size)
        out[-inset_size:, -inset_size:] = inset
    _label(out, f"{state.fps:4.1f} fps", row=1)
    return out, state


def _label(image: np.ndarray, text: str, row: int = 0) -> None:
    """White text with a dark outline, in the bottom-left corner (row 0 lowest)."""
    scale = max(0.5, min(image.shape[:2]) / 600)
    y = image.shape[0] - int(10 + 28 * scale * row)
    cv2.putText(image, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(image, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
