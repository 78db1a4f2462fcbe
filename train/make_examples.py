"""Renders the LBI-Synth example photos in ``assets/``: whole camera frames (not crops), one per
domain, of held-out subjects, so the app has full-body examples whose 3D pose is known.

    python -m train.make_examples [--out assets] [--seed 3]

Writes ``lbi_synth_lab.jpg`` and ``lbi_synth_wild.jpg`` and, beside them, ``lbi_synth_examples.json``
with each picture's ground-truth 3D joints (camera frame, mm) and 2D joints (pixels).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from lbi.crop import PIXEL_STD, Crop
from lbi.data.synth.body import pose_body, sample_angles
from lbi.data.synth.generate import subject_shape
from lbi.data.synth.render import render_body
from lbi.data.synth.scenes import lab_shot, shot_background, wild_shot
from lbi.fileio import atomic_path, atomic_write_text

MAX_SIDE = 720
EXAMPLES = (  # (file stem, domain, subject, motion family)
    ("lbi_synth_lab", "lab", "L11", "walk"),
    ("lbi_synth_wild", "wild", "W02", "reach"),
)


def full_frame_crop(size: tuple[int, int]) -> Crop:
    """A 'crop' that is the whole camera frame, downscaled to at most MAX_SIDE pixels."""
    w, h = size
    factor = min(1.0, MAX_SIDE / max(w, h))
    return Crop(np.array([w / 2, h / 2]), np.array([w, h]) / PIXEL_STD, (round(w * factor), round(h * factor)))


def render_example(seed: int, domain: str, subject: str, family: str) -> tuple[np.ndarray, dict]:
    rng = np.random.default_rng([seed, 99, ord(domain[0])])
    for _ in range(100):  # a shot whose person lies well inside the frame
        shot = lab_shot(rng) if domain == "lab" else wild_shot(rng)
        _, angles = sample_angles(rng, family=family, yaw=shot.yaw)
        posed = pose_body(subject_shape(0, subject), angles, shot.position)
        joints_cam = shot.camera.to_camera(posed.joints)
        joints_px = shot.camera.project(joints_cam)
        w, h = shot.camera.size
        lo, hi = joints_px.min(0), joints_px.max(0)
        if lo.min() > 0.1 * min(w, h) and hi[0] < 0.9 * w and hi[1] < 0.9 * h and (hi - lo).max() > 0.45 * max(w, h):
            break
    crop = full_frame_crop(shot.camera.size)
    image, silhouette = render_body(posed, shot.camera, crop, shot_background(shot, crop, rng), shot.light)
    truth = {
        "joints3d_mm": np.round(joints_cam * 1000, 1).tolist(),
        "joints2d_px": np.round(crop.to_crop(joints_px), 1).tolist(),
        "subject": subject,
        "family": family,
    }
    return image, truth


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="assets")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    truths = {}
    for stem, domain, subject, family in EXAMPLES:
        image, truths[stem] = render_example(args.seed, domain, subject, family)
        path = Path(args.out) / f"{stem}.jpg"
        with atomic_path(path) as tmp:
            ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
            tmp.write_bytes(data.tobytes())
        print(f"wrote {path} ({image.shape[1]}x{image.shape[0]})")
    atomic_write_text(Path(args.out) / "lbi_synth_examples.json", json.dumps(truths, indent=1))


if __name__ == "__main__":
    main()
