"""Renders the LBI-Synth example photos in ``assets/``: whole camera frames (not crops), one per
domain, of held-out subjects, so the app has full-body examples whose 3D pose is known; and the README's
animated example of ``lbi video``.

    python -m train.release.make_examples [--out assets] [--seed 3] [--video-only]

Writes ``lbi_synth_lab.jpg`` and ``lbi_synth_wild.jpg`` and, beside them, ``lbi_synth_examples.json``
with each picture's ground-truth 3D joints (camera frame, mm) and 2D joints (pixels); and ``video_example.gif``:
a rendered clip of two people walking, through :func:`lbi.motion.video.analyse_video` (two people, smoothing on),
each frame beside the 3D poses seen from a turned camera.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from lbi.crop.affine import PIXEL_STD, Crop
from lbi.data.synth.body import pose_body, sample_angles
from lbi.data.synth.generate import subject_shape
from lbi.data.synth.render import render_body
from lbi.data.synth.scenes import lab_shot, shot_background, wild_shot
from lbi.io.files import atomic_path, atomic_write_text

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


def video_example(out: Path, frames: int = 16, width: int = 320) -> Path:
    """The README's animated example: a clip rendered, analysed by ``lbi video``'s code, drawn as a GIF."""
    import tempfile

    from PIL import Image

    from lbi.data.synth.clip import render_clip
    from lbi.motion.video import analyse_video, open_video, read_frames
    from lbi.pipeline.estimator import Estimator
    from lbi.views.photo import draw

    with tempfile.TemporaryDirectory() as folder:
        clip_path = Path(folder) / "two.mp4"
        render_clip(clip_path, frames=frames, fps=8.0, people=2, width=2 * width)
        clip = analyse_video(clip_path, Estimator(device="cpu", onnx=True), max_people=2)
        capture, _ = open_video(clip_path)
        pictures = []
        for frame, rgb in zip(clip.frames, read_frames(capture, frames)):
            for person in frame.people:
                rgb = draw.draw_skeleton_2d(rgb, person.joints2d_px, person.confidence, person=person.id)
            small = cv2.resize(rgb, (width, round(rgb.shape[0] * width / rgb.shape[1])), interpolation=cv2.INTER_AREA)
            side = small.shape[0]
            panel = np.full((side, side, 3), 30, np.uint8)
            for person in frame.people:  # each person's 3D pose, side by side
                view = draw.projected_skeleton(person.joints3d_mm, size=side, person=person.id)
                half = slice(person.id * side // 2, (person.id + 1) * side // 2)
                panel[:, half] = view[:, side // 4 : side // 4 + side // 2]
            pictures.append(Image.fromarray(np.concatenate([small, panel], axis=1)))
        capture.release()
    path = out / "video_example.gif"
    with atomic_path(path) as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=125, loop=0)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="assets")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--video-only", action="store_true", help="only the animated example of lbi video")
    args = parser.parse_args(argv)
    print(f"wrote {video_example(Path(args.out))}")
    if args.video_only:
        return
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
