"""MediaPipe's 2D errors, measured on training crops and replayed as a noise model.

    python -m train.core.noise_2d --data data/lbi-synth/rand --split train --out train/results/mediapipe_noise_2d.json

A lifter trained on ground-truth 2D meets MediaPipe's detections in the app. Measured from
``train.data.detect_2d``'s detections against the ground truth (crop pixels), the model has:

- whole-body left/right flips (the front and back of a person confused), per crop;
- swaps of single left/right pairs (a crossed pair of knees or wrists), per pair;
- gross errors (a joint more than ``gross_px`` off after undoing swaps: missed or hallucinated),
  per joint, replayed from the measured error vectors;
- the remaining (inlier) error of each joint: its mean (bias) and 2x2 covariance.

``training.noise_model`` (this file) adds it to the ground-truth 2D of a share of each batch.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lbi.geometry.skeleton import LEFT, RIGHT, flip_permutation
from lbi.io.files import atomic_write_text

from .config import ConfigError

PAIRS = tuple(zip(LEFT, RIGHT))
FLIP = flip_permutation()


def _pair_costs(det: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample and L/R pair: the distance of the detection as labelled and with the pair swapped."""
    left, right = np.array(LEFT), np.array(RIGHT)
    same = np.linalg.norm(det[:, left] - gt[:, left], axis=-1) + np.linalg.norm(det[:, right] - gt[:, right], axis=-1)
    swap = np.linalg.norm(det[:, left] - gt[:, right], axis=-1) + np.linalg.norm(det[:, right] - gt[:, left], axis=-1)
    return same, swap


@dataclass
class NoiseModel2D:
    flip_rate: float
    swap_rates: list[float]  # per pair of PAIRS
    gross_px: float
    gross_rates: list[float]  # per joint
    bias: list[list[float]]  # per joint (2,), crop pixels
    cov: list[list[list[float]]]  # per joint (2, 2)
    gross_errors: list[list[list[float]]]  # per joint, a sample of its gross error vectors
    detected: float  # share of crops in which MediaPipe found the person
    source: dict = field(default_factory=dict)

    @classmethod
    def measure(
        cls,
        gt: np.ndarray,
        det: np.ndarray,
        gross_px: float = 25.0,
        margin_px: float = 10.0,
        keep: int = 300,
        seed: int = 0,
    ) -> NoiseModel2D:
        """From ground-truth and detected 2D joints (T, 17, 2) in crop pixels (NaN: not detected)."""
        found = np.isfinite(det).all(axis=(1, 2))
        gt, det = np.asarray(gt, np.float64)[found], np.asarray(det, np.float64)[found]
        same, swap = _pair_costs(det, gt)
        flipped = swap.sum(axis=1) + margin_px * len(PAIRS) < same.sum(axis=1)
        det = np.where(flipped[:, None, None], det[:, FLIP], det)  # undo whole-body flips
        same, swap = _pair_costs(det, gt)
        swapped = swap + margin_px < same  # (T', pairs)
        fixed = det.copy()
        for k, (left, right) in enumerate(PAIRS):
            fixed[swapped[:, k], left], fixed[swapped[:, k], right] = (
                det[swapped[:, k], right],
                det[swapped[:, k], left],
            )
        error = fixed - gt
        gross = np.linalg.norm(error, axis=-1) > gross_px
        rng = np.random.default_rng(seed)
        bias, cov, pools = [], [], []
        for j in range(gt.shape[1]):
            inliers = error[~gross[:, j], j]
            bias.append(inliers.mean(axis=0).tolist())
            cov.append(np.cov(inliers.T).tolist())
            pool = error[gross[:, j], j]
            pools.append(pool[rng.permutation(len(pool))[:keep]].round(2).tolist())
        return cls(
            flip_rate=float(flipped.mean()),
            swap_rates=swapped[~flipped].mean(axis=0).tolist(),
            gross_px=gross_px,
            gross_rates=gross.mean(axis=0).tolist(),
            bias=bias,
            cov=cov,
            gross_errors=pools,
            detected=float(found.mean()),
        )

    def sample(self, gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Ground-truth 2D (B, 17, 2) in crop pixels -> the same with MediaPipe-like errors."""
        gt = np.asarray(gt, np.float64)
        b, n, _ = gt.shape
        out = np.where((rng.random(b) < self.flip_rate)[:, None, None], gt[:, FLIP], gt)
        for k, (left, right) in enumerate(PAIRS):
            swap = rng.random(b) < self.swap_rates[k]
            out[swap, left], out[swap, right] = out[swap, right], out[swap, left].copy()
        for j in range(n):
            out[:, j] += rng.multivariate_normal(self.bias[j], self.cov[j], size=b)
            pool = np.asarray(self.gross_errors[j])
            gross = rng.random(b) < self.gross_rates[j]
            if gross.any() and len(pool):
                out[gross, j] += pool[rng.integers(len(pool), size=int(gross.sum()))]
        return out

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> NoiseModel2D:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"2D noise model not found: {path} (make it with python -m train.core.noise_2d)")
        try:
            return cls(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError) as err:
            raise ConfigError(f"{path} is not a 2D noise model written by train.core.noise_2d ({err})") from None

    def summary(self) -> dict:
        return {
            "flip_rate": round(self.flip_rate, 4),
            "swap_rates": [round(r, 4) for r in self.swap_rates],
            "gross_rates": [round(r, 4) for r in self.gross_rates],
            "detected": round(self.detected, 4),
            "inlier_std_px": [round(float(np.sqrt(np.trace(np.asarray(c)) / 2)), 2) for c in self.cov],
        }


def main(argv: list[str] | None = None) -> None:
    from lbi.crop.codec import InputCodec
    from lbi.data.format import PreparedData

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data", required=True, help="a prepared dataset with MediaPipe detections (train.data.detect_2d)"
    )
    parser.add_argument("--split", default="train")
    parser.add_argument("--out", required=True, help="the noise model (JSON)")
    args = parser.parse_args(argv)
    data = PreparedData(args.data)
    rows = data.indices(args.split)
    codec = InputCodec(data.meta.crop_size)
    to_crop = data.to_crop_matrices()[rows]
    gt = codec.encode_joints(data.ann["joints2d_gt"][rows], to_crop)[0]
    if "joints2d_mediapipe" not in data.ann:
        raise SystemExit(
            f"error: {args.data} has no MediaPipe detections: run python -m train.data.detect_2d --data {args.data}"
        )
    det = codec.encode_joints(data.ann["joints2d_mediapipe"][rows], to_crop)[0]
    model = NoiseModel2D.measure(gt, det)
    model.source = {"data": str(args.data), "split": args.split, "samples": int(len(rows))}
    model.save(args.out)
    print(json.dumps(model.summary()))


if __name__ == "__main__":
    main()
