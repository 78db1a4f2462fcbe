"""python -m train.data.detect_2d --data data/lbi-synth/wild [--splits test] [--workers 2]

Runs MediaPipe Pose (the app's 2D detector) on every crop of a prepared dataset and stores what it
returns, the way CPN detections serve Human3.6M:

- ``joints2d_mediapipe`` (T, 17, 2): its 2D pose as an input kind (image pixels), so a model can
  be evaluated or trained on the 2D input it gets in the app (``--inputs-2d mediapipe`` /
  ``data.inputs_2d: mediapipe``);
- ``confidence_mediapipe`` (T, 17): its per-joint visibility;
- ``joints3d_mediapipe`` (T, 17, 3): its world landmarks mapped to H36M-17, root-relative mm:
  the 3D pose a MediaPipe user already has, evaluated as the peer row.

Crops where MediaPipe finds nobody (and samples outside ``--splits``) are NaN: datasets leave
them out of that input kind and say how many. Annotations and meta are rewritten atomically.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from collections.abc import Iterator
from dataclasses import asdict

import numpy as np
from tqdm import tqdm

from lbi.crop.affine import affine_points
from lbi.data.format import ANNOTATIONS, META, PreparedData
from lbi.io.files import atomic_path, atomic_write_text
from lbi.pose2d.landmarks import PoseDetector

KIND = "mediapipe"
_worker: dict = {}


def _init(root: str) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    _worker["data"] = PreparedData(root)
    _worker["detector"] = PoseDetector()


def _detect(index: int) -> tuple[int, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """One crop -> (index, joints in image pixels, confidences, world joints in mm) or Nones."""
    data = _worker["data"]
    pose = _worker["detector"](data.image(index))
    if pose is None:
        return index, None, None, None
    return index, affine_points(pose.joints, data.crop(index).to_image_matrix), pose.confidence, pose.world


def detect(data: PreparedData, indices: np.ndarray, workers: int = 1) -> dict[str, np.ndarray]:
    """MediaPipe on the crops of ``indices``: the three arrays above, NaN where nobody was found."""
    out = {
        f"joints2d_{KIND}": np.full((len(data), 17, 2), np.nan, np.float32),
        f"confidence_{KIND}": np.full((len(data), 17), np.nan, np.float32),
        f"joints3d_{KIND}": np.full((len(data), 17, 3), np.nan, np.float32),
    }
    jobs = [int(i) for i in indices]
    results: Iterator[tuple[int, np.ndarray | None, np.ndarray | None, np.ndarray | None]]  # see _detect
    if workers > 1:
        pool = mp.get_context("spawn").Pool(workers, initializer=_init, initargs=(str(data.root),))
        results = pool.imap_unordered(_detect, jobs, chunksize=16)
    else:
        _init(str(data.root))
        pool, results = None, map(_detect, jobs)
    try:
        for index, joints, confidence, world in tqdm(
            results, total=len(jobs), desc=f"MediaPipe on {data.root.name}", unit="crop"
        ):
            if joints is not None:
                out[f"joints2d_{KIND}"][index] = joints
                out[f"confidence_{KIND}"][index] = confidence
                out[f"joints3d_{KIND}"][index] = world
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        else:
            _worker["detector"].close()
    return out


def crop_pixel_error(data: PreparedData, joints: np.ndarray, indices: np.ndarray) -> dict[str, float]:
    """Median and mean distance (crop pixels) between ``joints`` and the ground-truth 2D joints,
    over the samples of ``indices`` that have ``joints``."""
    indices = indices[np.isfinite(joints[indices]).all(axis=(1, 2))]
    matrices = data.to_crop_matrices()[indices]
    to_crop = lambda points: np.einsum("tij,tkj->tki", matrices[:, :, :2], points) + matrices[:, None, :, 2]  # noqa: E731
    error = np.linalg.norm(to_crop(joints[indices]) - to_crop(data.ann["joints2d_gt"][indices]), axis=-1)
    return {"median_crop_px": round(float(np.median(error)), 2), "mean_crop_px": round(float(np.mean(error)), 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a prepared dataset folder")
    parser.add_argument("--splits", nargs="*", default=None, help="only these splits (default: every sample)")
    parser.add_argument("--workers", type=int, default=1, help="MediaPipe processes (one per core)")
    args = parser.parse_args(argv)
    data = PreparedData(args.data)
    indices = (
        np.arange(len(data))
        if args.splits is None
        else np.unique(np.concatenate([data.indices(s) for s in args.splits]))
    )
    start = time.perf_counter()
    arrays = detect(data, indices, args.workers)
    seconds = round(time.perf_counter() - start, 1)
    with atomic_path(data.root / ANNOTATIONS) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **{**data.ann, **arrays})
    found = int(np.isfinite(arrays[f"joints2d_{KIND}"][indices]).all(axis=(1, 2)).sum())
    meta = data.meta
    meta.inputs_2d = sorted({*meta.inputs_2d, KIND})
    meta.info[KIND] = {
        "detected": found,
        "missed": int(len(indices) - found),
        "splits": args.splits or "all",
        "seconds": seconds,
        "workers": args.workers,
        **crop_pixel_error(data, arrays[f"joints2d_{KIND}"], indices),
    }
    atomic_write_text(data.root / META, json.dumps(asdict(meta), indent=2))
    print(json.dumps({"samples": int(len(indices)), **meta.info[KIND]}))


if __name__ == "__main__":
    main()
