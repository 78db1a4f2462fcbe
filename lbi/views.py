"""What the app shows, without Gradio: an Estimate turned into pictures, a 3D figure, a summary and
a JSON file, plus the per-stream state of live mode. ``app.py`` only wires these to widgets."""

from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import draw
from .estimator import Estimate, Estimator, NoPersonFound
from .fileio import atomic_write_text
from .image_io import ImageError, as_rgb, read_image
from .pose2d import PoseDetector
from .skeleton import H36M_JOINTS

ALL_JOINTS = "all keypoints"
#: the attention layer shown first: stage 1's second layer, the PGTL
DEFAULT_LAYER = 1


def layer_names(estimator: Estimator) -> list[str]:
    """Names of the attention layers, in the order of Estimate.attention."""
    config = estimator.model.config
    stage1 = [f"stage 1 · layer {i + 1} ({kind.upper()})" for i, kind in enumerate(config.stage1)]
    stage2 = [f"stage 2 · layer {i + 1} (TL, kept patches)" for i in range(config.stage2_depth)]
    return stage1 + stage2


@dataclass
class PhotoView:
    """Everything the photo tab displays for one estimate."""

    pose2d: np.ndarray  # the 2D skeleton and crop box on the photo
    attention: np.ndarray  # the chosen layer's attention for the chosen keypoint(s)
    kept: np.ndarray  # the patches stage 2 kept
    figure: object  # plotly Figure
    summary: str  # markdown: background attention, tokens, timings, notes
    json_path: str  # the result as a JSON file (see ResultFiles)


def load_photo(source: str | Path | bytes | np.ndarray, name: str | None = None) -> np.ndarray:
    """A path, bytes or array from the UI -> RGB uint8; raises ImageError with a clear message."""
    if source is None:
        raise ImageError("no image given: upload a photo, pick an example or take a webcam snapshot")
    if isinstance(source, np.ndarray):
        return as_rgb(source, "the image")
    return read_image(source, name)


def summary_markdown(estimate: Estimate) -> str:
    lines = []
    for note in estimate.notes:
        lines.append(f"**Note:** {note}")
    bg = "n/a" if estimate.background_attention is None else f"{100 * estimate.background_attention:.1f} %"
    lines.append(f"**Background attention** (last stage-1 layer, outside 30 px of the joints): {bg}")
    lines.append(f"**Kept patches:** {estimate.kept_tokens} of {estimate.total_tokens} "
                 f"(retention {estimate.retention:.2f})")
    timings = " · ".join(f"{name} {ms:.1f}" for name, ms in estimate.timings_ms.items())
    lines.append(f"**Timings (ms):** {timings}")
    return "\n\n".join(lines)


class ResultFiles:
    """Where the JSON downloads go: one private folder per process, one file per distinct result
    (named by its content's hash, written atomically), the oldest removed beyond ``keep`` files,
    and the folder removed when the process exits. Disk use stays bounded however many requests come."""

    def __init__(self, keep: int = 64) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="lbi-results-"))
        self.keep = keep
        self._lock = threading.Lock()
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)

    def write(self, estimate: Estimate) -> str:
        text = json.dumps(estimate.to_dict(), indent=1)
        path = self.folder / f"lbi_pose_{hashlib.sha1(text.encode()).hexdigest()[:16]}.json"
        with self._lock:
            if not path.is_file():
                atomic_write_text(path, text)
            path.touch()  # most recently used
            files = sorted(self.folder.glob("lbi_pose_*.json"), key=lambda p: p.stat().st_mtime)
            for old in files[:-self.keep]:
                old.unlink(missing_ok=True)
        return str(path)


def photo_view(rgb: np.ndarray, estimate: Estimate, files: ResultFiles, layer: int = DEFAULT_LAYER,
               joint: str = ALL_JOINTS, show: str = "refined") -> PhotoView:
    """Everything the photo tab shows for an estimate; its JSON is written to ``files``."""
    joint_index = None if joint in (None, ALL_JOINTS) else H36M_JOINTS.index(joint)
    return PhotoView(
        pose2d=draw.draw_skeleton_2d(rgb, estimate.joints2d_px, estimate.confidence, estimate.crop.box),
        attention=draw.attention_overlay(rgb, estimate, layer, joint_index),
        kept=draw.kept_patches_overlay(rgb, estimate),
        figure=draw.skeleton_figure(estimate, show),
        summary=summary_markdown(estimate),
        json_path=files.write(estimate),
    )


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


def live_frame(estimator: Estimator, frame: np.ndarray, state: LiveState | None,
               retention: float | None = None) -> tuple[np.ndarray, LiveState]:
    """One webcam frame -> the frame with its 2D skeleton, a small 3D view in the corner and fps."""
    state = state or LiveState()
    rgb = as_rgb(frame, "the webcam frame")
    state.frame_times.append(time.perf_counter())
    try:
        estimate = estimator.predict(rgb, retention=retention, detector=state.detector)
    except NoPersonFound:
        out = rgb.copy()
        _label(out, "no person in view")
    else:
        state.last, state.last_rgb = estimate, rgb
        out = draw.draw_skeleton_2d(rgb, estimate.joints2d_px, estimate.confidence)
        inset_size = max(96, min(out.shape[:2]) // 3)
        inset = draw.projected_skeleton(estimate.joints3d_mm, size=inset_size)
        out[-inset_size:, -inset_size:] = inset
    _label(out, f"{state.fps:4.1f} fps", row=1)
    return out, state


def _label(image: np.ndarray, text: str, row: int = 0) -> None:
    """White text with a dark outline, in the bottom-left corner (row 0 lowest)."""
    scale = max(0.5, min(image.shape[:2]) / 600)
    y = image.shape[0] - int(10 + 28 * scale * row)
    cv2.putText(image, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(image, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
