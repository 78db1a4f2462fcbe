"""What the photo tab shows, without Gradio: a photo's estimates (one per person) turned into pictures, a 3D figure,
a summary and a JSON file, and the settings that choose them (:class:`Controls`). ``lbi.app`` only wires these to
widgets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..geometry.skeleton import H36M_JOINTS
from ..io.images import ImageError, Photo, as_rgb, read_photo
from ..model.selection import retention_rate
from ..pipeline.estimate import Estimate
from ..pipeline.estimator import Estimator, runnable_fusions
from . import draw, figure3d
from .files import OutputFiles

ALL_JOINTS = "all keypoints"
#: what the 3D view shows: the final (refined) pose, stage 1's (coarse), both, or the final one beside MediaPipe's own
VIEWS_3D = figure3d.VIEWS
#: the app's names for the estimator's fusions (lbi.pipeline.fusion.FUSIONS)
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
    fusion: str | None = None  # one of lbi.pipeline.fusion.FUSIONS; None: the estimator's

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
    if diag.background_attention is not None:  # None: a stream's frame (not measured)
        lines.append(
            f"**Background attention** (last stage-1 layer, outside 30 px of the joints): "
            f"{100 * diag.background_attention:.1f} %"
        )
    lines.append(f"**Kept patches:** {diag.kept_tokens} of {diag.total_tokens} (retention {diag.retention:.2f})")
    timings = " · ".join(f"{name} {ms:.1f}" for name, ms in diag.timings_ms.items())
    lines.append(f"**Timings (ms):** {timings}")
    return "\n\n".join(lines)


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
    """Everything the photo tab shows for the people of ``rgb``: everyone's 2D pose (each in their colours; with
    several people, each one's box and number, the ``person``-th's box white) and 3D pose, the attention, kept
    patches and summary of the ``person``-th, drawn at display size and saved as JPEG files, and the JSON of all
    (its 2D in the pixels of the original photo: ``original_scale`` = original / analysed size)."""
    shown, scale = display_size(rgb)
    picked = estimates[person]
    pose2d = shown
    several = len(estimates) > 1
    for k, estimate in enumerate(estimates):
        pose = estimate.scaled(scale).pose
        box = pose.crop.box if several or k == person else None
        label = f"person {k + 1}" if several else None
        pose2d = draw.draw_skeleton_2d(pose2d, pose.joints2d_px, pose.confidence, box, k, label, picked=k == person)
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
