"""python -m train.detect_2d --data data/lbi-synth/wild [--splits test]

Runs MediaPipe Pose (the app's 2D detector) on every crop of a prepared dataset and stores the
result as the 2D input kind ``mediapipe`` (``joints2d_mediapipe``, image pixels), the way CPN
detections serve Human3.6M: a model can then be evaluated, or trained, on the 2D input it gets in
the app (``--inputs-2d mediapipe`` / ``data.inputs_2d: mediapipe``).

Crops where MediaPipe finds nobody keep the ground truth (counted in meta.json's info); samples
outside ``--splits`` are left NaN. Annotations and meta are rewritten atomically.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

import numpy as np
from tqdm import tqdm

from lbi.crop import affine_points
from lbi.data.format import ANNOTATIONS, META, PreparedData
from lbi.fileio import atomic_path, atomic_write_text
from lbi.pose2d import PoseDetector

KIND = "mediapipe"


def detect(data: PreparedData, indices: np.ndarray) -> tuple[np.ndarray, int]:
    """(T, 17, 2) MediaPipe joints in image pixels for ``indices`` (NaN elsewhere); number missed."""
    joints = np.full((len(data), 17, 2), np.nan, np.float32)
    missed = 0
    with PoseDetector() as detector:
        for i in tqdm(indices, desc=f"MediaPipe on {data.root.name}", unit="crop"):
            pose = detector(data.image(int(i)))
            if pose is None:
                missed += 1
                joints[i] = data.ann["joints2d_gt"][i]
            else:  # crop pixels -> image pixels
                joints[i] = affine_points(pose.joints, data.crop(int(i)).to_image_matrix)
    return joints, missed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a prepared dataset folder")
    parser.add_argument("--splits", nargs="*", default=None, help="only these splits (default: every sample)")
    args = parser.parse_args(argv)
    data = PreparedData(args.data)
    indices = (np.arange(len(data)) if args.splits is None
               else np.unique(np.concatenate([data.indices(s) for s in args.splits])))
    joints, missed = detect(data, indices)
    with atomic_path(data.root / ANNOTATIONS) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{**data.ann, f"joints2d_{KIND}": joints})
    meta = data.meta
    meta.inputs_2d = sorted({*meta.inputs_2d, KIND})
    meta.info[KIND] = {"detected": int(len(indices) - missed), "missed_kept_gt": int(missed),
                       "splits": args.splits or "all"}
    atomic_write_text(data.root / META, json.dumps(asdict(meta), indent=2))
    print(json.dumps({"samples": int(len(indices)), "missed": int(missed), **crop_pixel_error(data, joints, indices)}))


def crop_pixel_error(data: PreparedData, joints: np.ndarray, indices: np.ndarray) -> dict[str, float]:
    """Median and mean distance (crop pixels) between ``joints`` and the ground-truth 2D joints."""
    matrices = data.to_crop_matrices()[indices]
    to_crop = lambda points: np.einsum("tij,tkj->tki", matrices[:, :, :2], points) + matrices[:, None, :, 2]  # noqa: E731
    error = np.linalg.norm(to_crop(joints[indices]) - to_crop(data.ann["joints2d_gt"][indices]), axis=-1)
    return {"median_crop_px": round(float(np.median(error)), 2), "mean_crop_px": round(float(np.mean(error)), 2)}


if __name__ == "__main__":
    main()
