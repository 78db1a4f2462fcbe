"""What the app shows, without Gradio: a photo's estimates (one per person) turned into pictures, a 3D figure, a
summary and a JSON file, plus the per-stream state of live mode. ``app.py`` only wires these to widgets."""

from __future__ import annotations

import atexit
import hashlib
import json
import re
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from . import draw, figure3d
from .estimate import Estimate
from .estimator import Estimator, NoPersonFound, runnable_fusions
from .fileio import atomic_path
from .image_io import ImageError, Photo, as_rgb, read_photo
from .model.selection import retention_rate
from .pose2d import PoseDetector
from .skeleton import H36M_JOINTS

if TYPE_CHECKING:
    from .video import VideoResult

ALL_JOINTS = "all keypoints"
#: what the 3D view shows: the final (refined) pose, stage 1's (coarse), both, or the final one beside MediaPipe's own
VIEWS_3D = figure3d.VIEWS
#: the app's names for the estimator's fusions (lbi.fusion.FUSIONS)
FUSION_LABELS = {
    "ensemble": "lbi + MediaPipe's 3D + a lifter that reads it (ensemble)",
    "learned": "lbi reading MediaPipe's 3D (learned fusion)",
    "plain": "lbi blended with MediaPipe's 3D (plain fusion)",
    "none": "lbi alone (the paper's model)",
}


def fusion_choices(estimator: Estimator) -> list[tuple[str, str]]:
    """(label, fusion) pairs the estimator's weights can run, its default first."""
    runnable = runnable_fusions(estimator.model, estimator.prior_lifter)
    ordered = [estimator.fusion, *(f for f in FUSION_LABELS if f in runnable and f != estimator.fusion)]
    return [(FUSION_LABELS[f], f) for f in ordered]


#: the attention layer shown first: stage 1's second layer, the PGTL
DEFAULT_LAYER = 1
#: overlays are drawn at most this large (px, longer side): what a page shows, whatever the photo's size
DISPLAY_SIDE = 1024


@dataclass(frozen=True)
class Controls:
    """The photo tab's settings, checked: a request may come from a script, not only from the page."""

    retention: float
    joint: str  # a joint name or ALL_JOINTS
    layer: int  # index into the layer names
    show: str  # one of VIEWS_3D
    person: int = 0  # index into the people found, largest first
    fusion: str | None = None  # one of lbi.fusion.FUSIONS; None: the estimator's

    @classmethod
    def parse(
        cls, retention, joint, layer, show, layers: list[str], person=None, people: int = 1, fusion=None
    ) -> Controls:
        """Raises ValueError with a message for the user when any setting is not one the app offers. ``person``:
        an entry of :func:`person_choices` for ``people`` people (None: the largest); ``fusion``: a key of
        FUSION_LABELS (None: the estimator's; whether the weights can run it is the estimator's to say)."""
        r = retention_rate(retention)
        choices = person_choices(people)
        if person is not None and person not in choices:
            raise ValueError(f"unknown person {str(person)[:40]!r}: choose one of {', '.join(choices)}")
        if joint not in (ALL_JOINTS, *H36M_JOINTS):
            raise ValueError(f"unknown keypoint {str(joint)[:40]!r}: choose one of the list")
        if layer not in layers:
            raise ValueError(f"unknown attention layer {str(layer)[:40]!r}: choose one of the list")
        if show not in VIEWS_3D:
            raise ValueError(f"unknown 3D view {str(show)[:40]!r}: choose {', '.join(VIEWS_3D)}")
        if fusion is not None and fusion not in FUSION_LABELS:
            raise ValueError(f"unknown fusion {str(fusion)[:40]!r}: choose {', '.join(FUSION_LABELS)}")
        return cls(r, joint, layers.index(layer), show, 0 if person is None else choices.index(person), fusion)


def layer_names(estimator: Estimator) -> list[str]:
    """Names of the attention layers, in the order of Estimate.attention."""
    return estimator.model.config.layer_names


@dataclass
class PhotoView:
    """Everything the photo tab displays for a photo."""

    pose2d: str  # JPEG file: the 2D skeleton and crop box on the photo
    attention: str  # JPEG file: the chosen layer's attention for the chosen keypoint(s)
    kept: str  # JPEG file: the patches stage 2 kept
    figure: object  # plotly Figure
    summary: str  # markdown: background attention, tokens, timings, notes
    json_path: str  # the result as a JSON file (see OutputFiles)


def load_photo(source: str | Path | bytes | np.ndarray, name: str | None = None) -> Photo:
    """A path, bytes or array from the UI -> Photo at working size; raises ImageError with a clear message."""
    if source is None:
        raise ImageError("no image given: upload a photo, pick an example or take a webcam snapshot")
    if isinstance(source, np.ndarray):
        rgb = as_rgb(source, "the image")
        return Photo(rgb, (rgb.shape[1], rgb.shape[0]))
    return read_photo(source, name)


def summary_markdown(estimate: Estimate) -> str:
    diag = estimate.diagnostics
    lines = [f"**Note:** {note}" for note in diag.notes]
    lines.append(f"**3D pose from:** {FUSION_LABELS[estimate.pose.fusion]}")
    if diag.off_person_attention is not None and diag.off_person_uniform is not None:
        lines.append(
            f"**Attention off the person** (last stage-1 layer; MediaPipe's segmentation): "
            f"{100 * diag.off_person_attention:.1f} % "
            f"(uniform attention: {100 * diag.off_person_uniform:.1f} %)"
        )
    bg = "n/a" if diag.background_attention is None else f"{100 * diag.background_attention:.1f} %"
    lines.append(f"**Background attention** (last stage-1 layer, outside 30 px of the joints): {bg}")
    lines.append(f"**Kept patches:** {diag.kept_tokens} of {diag.total_tokens} (retention {diag.retention:.2f})")
    timings = " · ".join(f"{name} {ms:.1f}" for name, ms in diag.timings_ms.items())
    lines.append(f"**Timings (ms):** {timings}")
    return "\n\n".join(lines)


class OutputFiles:
    """Where the app's downloads go: one private folder per process; one file per distinct output,
    named by its content's hash and written atomically, so two requests never write a file the
    other is serving; the oldest removed beyond ``keep`` files; the folder removed at exit.
    Disk use stays bounded however many requests come."""

    def __init__(self, keep: int = 256) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="lbi-outputs-"))
        self.keep = keep
        self._lock = threading.Lock()
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)

    def _store(self, data: bytes, stem: str, suffix: str) -> str:
        path = self.folder / f"{stem}_{hashlib.sha1(data).hexdigest()[:16]}{suffix}"
        with self._lock:
            if not path.is_file():
                with atomic_path(path) as tmp:
                    tmp.write_bytes(data)
            path.touch()  # most recently used
            files = sorted(self.folder.iterdir(), key=lambda p: p.stat().st_mtime)
            for old in files[: -self.keep]:
                old.unlink(missing_ok=True)
        return str(path)

    def json(self, estimates: list[Estimate]) -> str:
        """A photo's people as a JSON file, ``{"people": [...]}`` (what the download button serves)."""
        payload = {"people": [e.to_dict() for e in estimates]}
        return self._store(json.dumps(payload, indent=1).encode(), "lbi_pose", ".json")

    def clip(self, clip: VideoResult) -> list[str]:
        """A clip's motion as files: JSON, CSV and one BVH per person, named after the clip."""
        from .motion import bvh_text

        stem = re.sub(r"[^A-Za-z0-9_-]", "_", Path(clip.info.path).stem)[:40] or "clip"
        paths = [
            self._store(json.dumps(clip.to_dict()).encode(), f"{stem}_poses", ".json"),
            self._store(clip.csv_text().encode(), f"{stem}_poses", ".csv"),
        ]
        for pid, motion in clip.motions.items():
            paths.append(self._store(bvh_text(motion, clip.info.fps).encode(), f"{stem}_person{pid}", ".bvh"))
        return paths

    def image(self, rgb: np.ndarray, stem: str = "lbi_view", quality: int = 90) -> str:
        """An RGB picture as a JPEG file."""
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ImageError("could not encode the picture as JPEG")
        return self._store(buf.tobytes(), stem, ".jpg")


def display_size(rgb: np.ndarray, max_side: int = DISPLAY_SIDE) -> tuple[np.ndarray, float]:
    """The photo at most ``max_side`` px on its longer side (what the page shows) and its scale."""
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    if scale == 1.0:
        return rgb, 1.0
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def attention_view(
    rgb: np.ndarray, estimate: Estimate, files: OutputFiles, layer: int = DEFAULT_LAYER, joint: str = ALL_JOINTS
) -> str:
    """The attention overlay of one layer and keypoint (or all), drawn at display size: a JPEG file."""
    shown, scale = display_size(rgb)
    joint_index = None if joint in (None, ALL_JOINTS) else H36M_JOINTS.index(joint)
    return files.image(draw.attention_overlay(shown, estimate.scaled(scale), layer, joint_index), "lbi_attention")


def person_choices(count: int) -> list[str]:
    """The person picker's entries: people are numbered from 1, the largest first."""
    return [f"{k + 1}{' (largest)' if k == 0 and count > 1 else ''}" for k in range(count)]


def photo_view(
    rgb: np.ndarray,
    estimates: list[Estimate],
    files: OutputFiles,
    person: int = 0,
    layer: int = DEFAULT_LAYER,
    joint: str = ALL_JOINTS,
    show: str = "refined",
    original_scale: float = 1.0,
) -> PhotoView:
    """Everything the photo tab shows for the people of ``rgb``: everyone's 2D pose (each in their colours) and 3D
    pose, the attention, kept patches and summary of the ``person``-th, drawn at display size and saved as JPEG
    files, and the JSON of all (its 2D in the pixels of the original photo: ``original_scale`` = original /
    analysed size)."""
    shown, scale = display_size(rgb)
    picked = estimates[person]
    pose2d = shown
    for k, estimate in enumerate(estimates):
        pose = estimate.scaled(scale).pose
        pose2d = draw.draw_skeleton_2d(
            pose2d, pose.joints2d_px, pose.confidence, pose.crop.box if k == person else None, k
        )
    summary = summary_markdown(picked)
    if len(estimates) > 1:
        summary = f"**{len(estimates)} people found**; shown below: person {person + 1}\n\n{summary}"
    return PhotoView(
        pose2d=files.image(pose2d, "lbi_pose2d"),
        attention=attention_view(rgb, picked, files, layer, joint),
        kept=files.image(draw.kept_patches_overlay(shown, picked.scaled(scale)), "lbi_kept"),
        figure=figure3d.skeleton_figure([e.pose for e in estimates], show),
        summary=summary,
        json_path=files.json([e.scaled(original_scale) for e in estimates]),
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
