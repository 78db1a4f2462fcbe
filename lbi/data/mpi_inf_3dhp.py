"""MPI-INF-3DHP test set -> a prepared dataset (for cross-dataset evaluation).

Input: ``<root>/TS1 .. TS6/annot_data.mat`` (MATLAB v7.3 = HDF5, read with h5py) and the frames
``<root>/TS*/imageSequence/img_000001.jpg`` (1-based). Only valid frames are kept. 3D joints are
``univ_annot3`` (mm, rescaled to the universal skeleton, as the official numbers use), reordered
to H36M-17. Splits: ``test`` (all), and the scene groups ``GS`` (TS1-2, green screen), ``noGS``
(TS3-4) and ``Outdoor`` (TS5-6), so every group is evaluated like any other split.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
from tqdm import tqdm

from ..crop.affine import joint_box
from ..crop.codec import DEFAULT_CROP_SIZE, InputCodec
from ..geometry.skeleton import MPI_TO_H36M
from .format import DatasetError, DatasetMeta, DatasetWriter

SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
SCENE_GROUPS = {"GS": ["TS1", "TS2"], "noGS": ["TS3", "TS4"], "Outdoor": ["TS5", "TS6"]}
ACTIVITIES = {
    1: "Standing/Walking",
    2: "Exercising",
    3: "Sitting",
    4: "Reaching/Crouching",
    5: "OnTheFloor",
    6: "Sports",
    7: "Miscellaneous",
}


def read_annotations(path: str | Path) -> dict[str, np.ndarray]:
    """annot_data.mat -> annot2 (n, 17, 2), univ_annot3 (n, 17, 3), valid (n,) bool, activity (n,)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} is missing (expected the 3DHP test set's TS*/annot_data.mat)")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("annot2", "univ_annot3", "valid_frame") if k not in f]
            if missing:
                raise DatasetError(f"{path}: lacks {missing}; has {sorted(f.keys())}")
            annot2 = np.asarray(f["annot2"], dtype=np.float64).reshape(-1, 17, 2)
            annot3 = np.asarray(f["univ_annot3"], dtype=np.float64).reshape(-1, 17, 3)
            valid = np.asarray(f["valid_frame"]).reshape(-1).astype(bool)
            activity = (
                np.asarray(f["activity_annotation"]).reshape(-1).astype(int)
                if "activity_annotation" in f
                else np.zeros(len(valid), int)
            )
    except OSError as err:
        raise DatasetError(f"{path}: not a readable MATLAB v7.3 / HDF5 file ({err})") from err
    if not len(annot2) == len(annot3) == len(valid):
        raise DatasetError(
            f"{path}: annot2, univ_annot3 and valid_frame disagree in length "
            f"({len(annot2)}, {len(annot3)}, {len(valid)})"
        )
    return {"annot2": annot2, "univ_annot3": annot3, "valid": valid, "activity": activity}


def prepare_3dhp(
    root: str | Path,
    out: str | Path,
    sequences: tuple[str, ...] = SEQUENCES,
    crop_size: tuple[int, int] = DEFAULT_CROP_SIZE,
) -> dict[str, int]:
    """Writes the prepared 3DHP test set to ``out``; returns counts per sequence."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"3DHP test-set folder not found: {root} (expected {root}/TS1/annot_data.mat ...)")
    splits = {"test": list(sequences), **{g: [s for s in seqs if s in sequences] for g, seqs in SCENE_GROUPS.items()}}
    codec = InputCodec(crop_size)
    writer = DatasetWriter(out, DatasetMeta("mpi-inf-3dhp", crop_size, splits, info={"joints3d": "univ_annot3"}))
    counts = {}
    for seq in sequences:
        ann = read_annotations(root / seq / "annot_data.mat")
        frames = np.flatnonzero(ann["valid"])
        counts[seq] = 0
        for i in tqdm(frames, desc=f"3DHP {seq}", unit="frame"):
            image_path = root / seq / "imageSequence" / f"img_{i + 1:06d}.jpg"
            bgr = cv2.imread(str(image_path))
            if bgr is None:
                raise DatasetError(f"{image_path}: missing or not a readable image")
            joints2d = ann["annot2"][i][list(MPI_TO_H36M)]
            crop = codec.crop(joint_box(joints2d))
            writer.add(
                crop.warp(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)),
                subject=seq,
                action=ACTIVITIES.get(int(ann["activity"][i]), "unknown"),
                camera=seq,
                frame=int(i),
                joints3d=ann["univ_annot3"][i][list(MPI_TO_H36M)],
                joints2d_gt=joints2d,
                center=crop.center,
                scale=crop.scale,
                image_size=(bgr.shape[1], bgr.shape[0]),
                intrinsics=(np.nan,) * 4,
            )
            counts[seq] += 1
    writer.close()
    return counts
