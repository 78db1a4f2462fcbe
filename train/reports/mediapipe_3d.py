"""How good MediaPipe's own 3D (its world landmarks) is on our renders, and whether it is the crops that hurt it:

    python -m train.reports.mediapipe_3d [--data data/small data/lbi-synth] [--count 200] [--out
    train/results/mediapipe_3d]

1. every prepared test split under ``--data`` that ``train.data.detect_2d`` ran on: MediaPipe's 3D on the stored crops
   (the tight 192x256 crops training reads);
2. ``--count`` test poses of the rand and photo domains rendered afresh twice, the same person, pose, camera and
   scene: as the crop the training data holds, and as the camera's whole frame (960 px on the longer side), which
   is what MediaPipe sees in a user's photo.

Each is compared with the truth in camera axes (MediaPipe's pose is read in the axes of a camera looking at the
person, as the estimator reads it: :meth:`lbi.crop.codec.InputCodec.encode_prior`), on the 14 joints of the real-photo
table and on all 17, root-relative (MPJPE) and after a similarity Procrustes (PA-MPJPE), mm; n counts the samples
where MediaPipe found the person. The same measure on real photos is the "MediaPipe world landmarks" row of
``train.core.evaluate_photos``. Writes OUT.md and OUT.json (atomically) with the CPU time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lbi.crop.affine import seen_centre
from lbi.data.dataset import PRIOR_KEY
from lbi.data.format import DatasetError, PreparedData
from lbi.data.synth.generate import CODEC, RAND_DOMAINS, RAND_TEST, RandJob, rand_person
from lbi.data.synth.randomised import render_randomised
from lbi.geometry.camera import from_ray_frame
from lbi.io.files import atomic_write_text
from lbi.pose2d.landmarks import PoseDetector

from ..core.evaluate_photos import errors

WHOLE_FRAME = 960
METRICS = ("mpjpe14", "pa14", "mpjpe17", "pa17")


def mean_errors(rows: list[dict[str, float]], tried: int) -> dict[str, float]:
    """Per-sample errors -> their means and ``n`` (samples with a pose) of ``tried``."""
    means = {m: round(float(np.mean([r[m] for r in rows])), 1) if rows else float("nan") for m in METRICS}
    return {**means, "n": len(rows), "of": tried}


def stored_crops(root: Path) -> dict[str, float] | None:
    """MediaPipe's 3D on the test crops of a prepared data set (``train.data.detect_2d``'s), or None without it."""
    try:
        data = PreparedData(root)
    except DatasetError:
        return None
    if PRIOR_KEY not in data.ann or "test" not in data.meta.splits:
        return None
    ann, rows = data.ann, data.indices("test")
    world = ann[PRIOR_KEY][rows].astype(np.float64)
    found = np.isfinite(world).all(axis=(1, 2))
    truth = ann["joints3d"][rows].astype(np.float64)
    camera = from_ray_frame(world[found], ann["center"][rows][found], ann["intrinsics"][rows][found])
    return mean_errors([errors(p, t) for p, t in zip(camera, truth[found])], len(rows))


def render_pair(job: RandJob) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """The job's test pose rendered as its crop and as the whole frame: (crop, frame, truth in camera axes mm,
    the camera's intrinsics (fx, fy, cx, cy), the whole frame's size over the camera's, the crop's centre)."""
    shots = []
    for whole in (0, WHOLE_FRAME):
        rng, person = rand_person(job)
        variant = [np.random.default_rng([job.seed, 21, job.index, 0])]
        shots.append(render_randomised(rng, person, variant, "test", CODEC, RAND_DOMAINS[job.domain], whole))
    crop, frame = shots
    K = crop.camera.K
    shrink = WHOLE_FRAME / max(crop.camera.size)
    intrinsics = np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2]])
    truth = crop.camera.to_camera(crop.joints_world) * 1000.0
    return crop.variants[0].image, frame.variants[0].image, truth, intrinsics, shrink, crop.crop.center


def rendered(domain: str, count: int, detector: PoseDetector) -> dict[str, dict[str, float]]:
    """MediaPipe's 3D on ``count`` fresh test poses of ``domain``: as crops and as whole frames."""
    crops, frames = [], []
    for index in tqdm(range(count), desc=f"MediaPipe on {domain} crops and frames", unit="pose"):
        job = RandJob(0, "test", 100_000 + index, RAND_TEST[index % len(RAND_TEST)], domain)
        crop, frame, truth, intrinsics, shrink, centre = render_pair(job)
        seen = detector(crop)
        if seen is not None and seen.world is not None:
            crops.append(errors(from_ray_frame(seen.world, centre, intrinsics), truth))
        seen = detector(frame)
        if seen is not None and seen.world is not None:
            through = seen_centre(seen.box, frame.shape) / shrink  # in the camera's own pixels
            frames.append(errors(from_ray_frame(seen.world, through, intrinsics), truth))
    return {f"{domain}, crops": mean_errors(crops, count), f"{domain}, whole frames": mean_errors(frames, count)}


def markdown(table: dict[str, dict[str, float]], info: dict) -> str:
    lines = [
        "# MediaPipe's own 3D on LBI-Synth renders",
        "",
        "Its world landmarks against the truth in camera axes, mm (see `python -m train.reports.mediapipe_3d --help`); "
        "n: samples where MediaPipe found the person, of those tried.",
        "",
        "| where | n | MPJPE 14 | PA-MPJPE 14 | MPJPE 17 | PA-MPJPE 17 |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in table.items():
        lines.append(f"| {name} | {m['n']} / {m['of']} | {m['mpjpe14']} | {m['pa14']} | {m['mpjpe17']} | {m['pa17']} |")
    lines += ["", *(f"{k.replace('_', ' ').capitalize()}: `{v}`  " for k, v in info.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.reports.mediapipe_3d",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", nargs="*", default=["data/small", "data/lbi-synth"], help="folders of data sets")
    parser.add_argument("--count", type=int, default=200, help="fresh test poses per domain (rand, photo)")
    parser.add_argument("--out", default="train/results/mediapipe_3d")
    args = parser.parse_args(argv)
    started, cpu = time.perf_counter(), time.process_time()
    table: dict[str, dict[str, float]] = {}
    for folder in args.data:
        for root in sorted(p for p in Path(folder).glob("*") if p.is_dir()):
            if (result := stored_crops(root)) is not None:
                table[f"{folder}/{root.name} test, stored crops"] = result
    with PoseDetector() as detector:
        for domain in RAND_DOMAINS:
            table.update(rendered(domain, args.count, detector))
    info = {
        "command": " ".join(["python -m train.reports.mediapipe_3d", *(sys.argv[1:] if argv is None else argv)]),
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
    }
    print(markdown(table, info))
    atomic_write_text(f"{args.out}.md", markdown(table, info))
    atomic_write_text(f"{args.out}.json", json.dumps({"results": table, "info": info}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
