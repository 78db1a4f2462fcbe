"""Live mode, without Gradio: one webcam stream's state and what each of its frames shows, in two stages (who is
followed, then their lift and drawing) that a stream can run on consecutive frames at once."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..io.images import as_rgb
from ..motion.tracking import PeopleTracker
from ..pipeline.estimate import Estimate
from ..pipeline.estimator import Estimator
from ..pose2d.landmarks import Pose2D
from ..pose2d.people import PeopleDetector
from . import draw

#: the most people live mode follows (each costs a landmark run and a lift per frame)
LIVE_PEOPLE = 2


@dataclass
class LiveState:
    """One webcam stream: its own tracker (up to :data:`LIVE_PEOPLE` people), the last estimates, and recent frame
    times."""

    tracker: PeopleTracker = field(default_factory=lambda: PeopleTracker(PeopleDetector(), max_people=LIVE_PEOPLE))
    people: list[tuple[int, Estimate]] = field(default_factory=list)  # (id, estimate) of the last frame with people
    last_rgb: np.ndarray | None = None
    frame_times: deque = field(default_factory=lambda: deque(maxlen=30))

    @property
    def fps(self) -> float:
        if len(self.frame_times) < 2:
            return 0.0
        span = self.frame_times[-1] - self.frame_times[0]
        return (len(self.frame_times) - 1) / span if span > 0 else 0.0

    @property
    def last(self) -> Estimate | None:
        """The first person's estimate of the last frame with people."""
        return self.people[0][1] if self.people else None

    def close(self) -> None:
        self.tracker.close()


def live_frame(
    estimator: Estimator,
    frame: np.ndarray,
    state: LiveState | None,
    retention: float | None = None,
    fusion: str | None = None,
) -> tuple[np.ndarray, LiveState]:
    """One webcam frame -> the frame with everyone's 2D skeleton and number (up to :data:`LIVE_PEOPLE`), a small 3D
    view of the first in the corner, and fps: :func:`follow`, then :func:`show`. Live frames skip the flip test: it
    doubles the lifter's batch (docs/results.md has the timings)."""
    state = state or LiveState()
    rgb = as_rgb(frame, "the webcam frame")
    return show(estimator, rgb, follow(state, rgb), state, retention, fusion), state


@dataclass
class Followed:
    """The first stage of a live frame: who the stream's tracker follows in it, and how long that took."""

    people: list[tuple[int, Pose2D]]  # (id, 2D pose), ids ascending
    ms: float


def follow(state: LiveState, rgb: np.ndarray) -> Followed:
    """The first stage of a live frame (MediaPipe: everyone's 2D landmarks). It reads and moves only
    ``state.tracker``, so a stream can follow the people of the next frame while :func:`show` lifts this one."""
    start = time.perf_counter()
    people = state.tracker(rgb)
    return Followed(people, (time.perf_counter() - start) * 1000)


def show(
    estimator: Estimator,
    rgb: np.ndarray,
    followed: Followed,
    state: LiveState,
    retention: float | None = None,
    fusion: str | None = None,
) -> np.ndarray:
    """The second stage of a live frame (the lift and the drawing; see :func:`live_frame`); frames of a stream come
    here in order. Moves everything of ``state`` but its tracker."""
    state.frame_times.append(time.perf_counter())
    estimates: list[Estimate] = []
    if followed.people:
        estimates = estimator.predict_people(
            rgb,
            retention,
            flip_test=False,
            max_people=LIVE_PEOPLE,
            refinable=False,
            fusion=fusion,
            poses=[pose for _, pose in followed.people],
            measures=False,
        )
        for estimate in estimates:
            estimate.diagnostics.timings_ms["detector"] = followed.ms  # the 2D stage: the tracker's
    if not estimates:
        out = rgb.copy()
        _label(out, "no person in view")
    else:
        state.people, state.last_rgb = [(pid, e) for (pid, _), e in zip(followed.people, estimates)], rgb
        out = rgb
        for pid, estimate in state.people:
            pose = estimate.pose
            out = draw.draw_skeleton_2d(out, pose.joints2d_px, pose.confidence, pose.crop.box, pid, f"#{pid}")
        inset_size = max(96, min(out.shape[:2]) // 3)
        inset = draw.projected_skeleton(state.people[0][1].pose.joints3d_mm, size=inset_size)
        out[-inset_size:, -inset_size:] = inset
    _label(out, f"{state.fps:4.1f} fps", row=1)
    return out


def _label(image: np.ndarray, text: str, row: int = 0) -> None:
    """White text with a dark outline, in the bottom-left corner (row 0 lowest)."""
    scale = max(0.5, min(image.shape[:2]) / 600)
    y = image.shape[0] - int(10 + 28 * scale * row)
    cv2.putText(image, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(image, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
