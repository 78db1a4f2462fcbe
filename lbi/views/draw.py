"""Pictures of an Estimate: 2D skeleton, attention heatmaps, kept patches, a fast 3D view (the interactive 3D
views are :mod:`lbi.views.figure3d`).

Colours follow one convention everywhere: the first person's left limbs blue, right limbs orange, the spine
grey; every further person has a pair of their own (:func:`person_colours`).
All functions take and return (H, W, 3) uint8 RGB images and never modify their input.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..geometry.skeleton import BONES, LEFT, RIGHT
from ..pipeline.estimate import Estimate

Colour = tuple[int, int, int]
#: (left, right, centre) limbs of each person, in the order people are listed
PERSON_COLOURS: tuple[tuple[Colour, Colour, Colour], ...] = (
    ((40, 120, 255), (255, 140, 0), (200, 200, 200)),
    ((30, 190, 90), (230, 50, 150), (160, 220, 170)),
    ((150, 90, 255), (250, 215, 40), (200, 180, 240)),
    ((0, 200, 210), (230, 60, 50), (170, 220, 225)),
)


def person_colours(person: int) -> tuple[Colour, Colour, Colour]:
    """The (left, right, centre) colours of the ``person``-th person (the palette repeats after four)."""
    return PERSON_COLOURS[person % len(PERSON_COLOURS)]


def joint_colour(joint: int, person: int = 0) -> Colour:
    left, right, centre = person_colours(person)
    return left if joint in LEFT else right if joint in RIGHT else centre


def _line_width(image: np.ndarray) -> int:
    return max(2, round(max(image.shape[:2]) / 250))


def draw_skeleton_2d(
    rgb: np.ndarray,
    joints2d: np.ndarray,
    confidence: np.ndarray | None = None,
    box: tuple[float, float, float, float] | None = None,
    person: int = 0,
    label: str | None = None,
    picked: bool = False,
) -> np.ndarray:
    """The 2D pose on the image in the ``person``-th person's colours; joints MediaPipe is unsure of
    (confidence < 0.5) drawn hollow. ``box`` (x, y, w, h) is outlined in the person's colour (white and thicker
    when ``picked``), ``label`` written on a tag of that colour at the box's top-left corner (above the head when
    there is no box)."""
    out = rgb.copy()
    width = _line_width(out)
    confidence = np.ones(len(joints2d)) if confidence is None else confidence
    tag_colour = person_colours(person)[0]
    corner = tuple(np.round(joints2d[:, :2].min(axis=0) - [0, 3 * width]).astype(int))
    if box is not None:
        x, y, w, h = (int(round(v)) for v in box)
        outline = (255, 255, 255) if picked else tag_colour
        cv2.rectangle(out, (x, y), (x + w, y + h), outline, max(1, width if picked else width // 2), cv2.LINE_AA)
        corner = (x, y)
    points = np.round(joints2d).astype(int)
    for child, parent in BONES:
        colour = joint_colour(child, person)
        cv2.line(out, tuple(points[child]), tuple(points[parent]), colour, width, cv2.LINE_AA)
    for j, (p, c) in enumerate(zip(points, confidence)):
        fill = -1 if c >= 0.5 else width // 2 + 1
        cv2.circle(out, tuple(p), width + 2, joint_colour(j, person), fill, cv2.LINE_AA)
    return out if label is None else draw_tag(out, label, corner, tag_colour)


def draw_tag(rgb: np.ndarray, text: str, corner: tuple[int, int], colour: Colour) -> np.ndarray:
    """``text`` on a filled tag of ``colour`` (in black or white, whichever reads better on it) whose top-left is
    ``corner`` (moved inside the image), drawn in place; returns ``rgb``."""
    scale = max(0.5, max(rgb.shape[:2]) / 900)
    thickness = max(1, round(2 * scale))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(2, round(4 * scale))
    x = int(np.clip(corner[0], 0, max(0, rgb.shape[1] - w - 2 * pad)))
    y = int(np.clip(corner[1], 0, max(0, rgb.shape[0] - h - base - 2 * pad)))
    cv2.rectangle(rgb, (x, y), (x + w + 2 * pad, y + h + base + 2 * pad), colour, -1)
    ink = (0, 0, 0) if 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] > 150 else (255, 255, 255)
    cv2.putText(rgb, text, (x + pad, y + pad + h), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thickness, cv2.LINE_AA)
    return rgb


def heatmap_overlay(rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Blends a non-negative map of image size (H, W) onto the image as a 'jet' heatmap."""
    peak = float(heat.max())
    scaled = np.zeros(heat.shape, np.uint8) if peak <= 0 else np.clip(heat / peak * 255, 0, 255).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    weight = alpha * np.sqrt(scaled.astype(np.float32) / 255.0)[..., None]  # faint where attention is low
    return (rgb * (1 - weight) + colour * weight).round().astype(np.uint8)


def attention_map(estimate: Estimate, layer: int, joint: int | None = None) -> np.ndarray:
    """One layer's attention on the token grid (H, W): one keypoint's, or the sum over all (None)."""
    maps = estimate.diagnostics.attention[layer]  # (17, H, W)
    return maps.sum(axis=0) if joint is None else maps[joint]


def attention_overlay(rgb: np.ndarray, estimate: Estimate, layer: int, joint: int | None = None) -> np.ndarray:
    """A layer's keypoint-to-image attention mapped back onto the photo, with the 2D pose on top."""
    heat = estimate.map_to_image(attention_map(estimate, layer, joint), rgb.shape[:2])
    out = heatmap_overlay(rgb, heat)
    joints = estimate.pose.joints2d_px if joint is None else estimate.pose.joints2d_px[joint : joint + 1]
    for p in np.round(joints).astype(int):
        cv2.circle(out, tuple(p), _line_width(out) + 1, (255, 255, 255), -1, cv2.LINE_AA)
    return out


def kept_patches_overlay(rgb: np.ndarray, estimate: Estimate) -> np.ndarray:
    """The patches stage 2 kept at full brightness, the pruned ones darkened, kept ones outlined."""
    if estimate.diagnostics.kept_mask is None:
        return rgb.copy()
    kept = estimate.map_to_image(estimate.diagnostics.kept_mask.astype(np.float32), rgb.shape[:2]) > 0.5
    inside = estimate.map_to_image(np.ones_like(estimate.diagnostics.kept_mask, np.float32), rgb.shape[:2]) > 0.5
    out = rgb.astype(np.float32)
    out[inside & ~kept] *= 0.25
    out = out.round().astype(np.uint8)
    contours, _ = cv2.findContours(kept.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, (80, 255, 80), max(1, _line_width(out) // 2), cv2.LINE_AA)
    return out


def to_display(joints3d_mm: np.ndarray) -> np.ndarray:
    """Camera axes (x right, y down, z forward) -> display axes (x right, y depth, z up)."""
    return np.stack([joints3d_mm[..., 0], joints3d_mm[..., 2], -joints3d_mm[..., 1]], axis=-1)


def projected_skeleton(
    joints3d_mm: np.ndarray, size: int = 240, yaw_deg: float = 35.0, elevation_deg: float = 15.0, person: int = 0
) -> np.ndarray:
    """A quick 3D view for live mode: the skeleton seen from a turned camera, as a small image (in the
    ``person``-th person's colours)."""
    points = to_display(joints3d_mm - joints3d_mm[0])
    yaw, elev = np.radians(yaw_deg), np.radians(elevation_deg)
    turn = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    tilt = np.array([[1, 0, 0], [0, np.cos(elev), -np.sin(elev)], [0, np.sin(elev), np.cos(elev)]])
    view = points @ (tilt @ turn).T  # x right, y depth, z up
    screen = np.stack([view[:, 0], -view[:, 2]], axis=1)
    pixels = screen / 2200.0 * size + size / 2  # +-1.1 m around the pelvis
    out = np.full((size, size, 3), 30, np.uint8)
    floor = int(size / 2 + 1000 / 2200 * size)
    cv2.line(out, (0, floor), (size, floor), (70, 70, 70), 1)
    order = sorted(BONES, key=lambda b: -view[b[0], 1])  # far bones first
    for child, parent in order:
        p, q = np.round(pixels[[child, parent]]).astype(int)
        cv2.line(out, tuple(p), tuple(q), joint_colour(child, person), 3, cv2.LINE_AA)
    return out
