"""LBI-Synth upper: rand crops whose photo ends below the shoulders (portraits, webcams at a desk).

In the app a photo that shows a person from the waist or the chest up still gets a full-body crop:
MediaPipe places the joints it cannot see below the photo, the crop is the box around all of them,
and the crop is black beyond the photo's edge. This domain makes such crops from rand's (same
person, pose, camera and background): everything below a cut row, drawn between the lower shoulder
and the knees, is black, the silhouette is cut at the same row, and the 3D and 2D ground truth are
unchanged, so the lifter learns the arms and legs it cannot see from the ones it can.

    <out>/upper  splits: train (from rand:train), test (from rand:test, held-out subjects)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ...crop.affine import affine_points
from ...geometry.skeleton import H36M_JOINTS
from ..format import DatasetMeta, DatasetWriter, PreparedData

#: crops per split at most (drawn without repetition from rand's crops of the same split that can be cut)
UPPER_SIZES = {
    "tiny": {"train": 8, "test": 4},
    "small": {"train": 1000, "test": 200},
    "default": {"train": 8000, "test": 1000},
}
#: the cut row lies this far from the lower shoulder towards the knees (0: shoulders, 1: knees)
CUT_RANGE = (0.15, 1.0)
_SHOULDERS = [H36M_JOINTS.index("left_shoulder"), H36M_JOINTS.index("right_shoulder")]
_KNEES = [H36M_JOINTS.index("left_knee"), H36M_JOINTS.index("right_knee")]
_COPIED = (
    "subject",
    "action",
    "camera",
    "frame",
    "joints3d",
    "joints2d_gt",
    "center",
    "scale",
    "image_size",
    "intrinsics",
    "variant",
)


def cut_row(joints_crop: np.ndarray, crop_height: int, rng: np.random.Generator) -> int | None:
    """A crop row between the lower shoulder and the knees, or None when the body does not run
    from top to bottom of the crop (lying, seen from above) far enough to cut it there."""
    shoulders = float(joints_crop[_SHOULDERS, 1].max())
    knees = float(joints_crop[_KNEES, 1].mean())
    if knees - shoulders < 0.25 * crop_height:
        return None
    return int(round(shoulders + rng.uniform(*CUT_RANGE) * (knees - shoulders)))


def cut_below(image: np.ndarray, silhouette: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray]:
    """The crop and the person's mask with every row from ``row`` down beyond the photo: black, not the person."""
    image, silhouette = image.copy(), silhouette.copy()
    image[row:] = 0
    silhouette[row:] = False
    return image, silhouette


def generate_upper(out: str | Path, size: str = "default", seed: int = 0) -> float:
    """Writes <out>/upper from the crops of <out>/rand (rendered first); returns wall seconds."""
    if size not in UPPER_SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {sorted(UPPER_SIZES)}")
    start = time.perf_counter()
    source = PreparedData(Path(out) / "rand")
    meta = DatasetMeta(
        "lbi-synth-upper",
        source.meta.crop_size,
        dict(source.meta.splits),
        info={"size": size, "seed": seed, "domain": "upper", "source": "rand", "cut_range": list(CUT_RANGE)},
        silhouettes=True,
    )
    writer = DatasetWriter(Path(out) / "upper", meta)
    matrices = source.to_crop_matrices()
    height = source.meta.crop_size[1]
    skipped = 0
    for code, (split, count) in enumerate(UPPER_SIZES[size].items()):
        rng = np.random.default_rng([seed, 40 + code])
        candidates = rng.permutation(source.indices(split))
        written = 0
        with tqdm(total=count, desc=f"LBI-Synth upper {split}", unit="crop") as bar:
            for index in candidates:
                if written == count:
                    break
                joints = affine_points(source.ann["joints2d_gt"][index].astype(np.float64), matrices[index])
                row = cut_row(joints, height, rng)
                if row is None:
                    skipped += 1
                    continue
                image, mask = cut_below(source.image(index), source.silhouette(index), row)
                writer.add(
                    image, mask, **{k: source.ann[k][index] for k in _COPIED}, cut_row=row, source_index=int(index)
                )
                written += 1
                bar.update()
    seconds = time.perf_counter() - start
    meta.info.update(render_seconds=round(seconds, 1), skipped_lying_or_from_above=skipped)
    writer.close()
    return seconds
