"""PyTorch access to one split of a prepared dataset, encoded for a model by its input codec."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from ..crop.affine import image_to_tensor
from ..crop.codec import InputCodec
from .format import DatasetError, PreparedData

#: the annotations' MediaPipe 3D pose (its world landmarks as H36M joints, root-relative mm; ``train.data.detect_2d``)
PRIOR_KEY = "joints3d_mediapipe"


@dataclass
class Batch:
    """Collated :class:`PoseDataset` items, every tensor's first axis the sample (B); the optional
    fields are there when the dataset gives them."""

    joints2d: torch.Tensor  # (B, N, 2) the 2D input, normalised by the model's codec
    joints2d_px: torch.Tensor  # (B, N, 2) the same in crop pixels
    joints2d_gt_px: torch.Tensor  # (B, N, 2) the true 2D joints in crop pixels
    target: torch.Tensor  # (B, N, 3) root-relative metres in the model's axes
    index: torch.Tensor  # (B,) the samples' rows in their dataset
    detected: torch.Tensor  # (B,) bool: the detector's 2D input is there
    image: torch.Tensor | None = None  # (B, 3, h, w) in [0, 1]
    features: torch.Tensor | None = None  # (B, C, H, W) cached encoder features
    features_mirrored: torch.Tensor | None = None  # (B, C, H, W) those of the crops flipped left to right
    silhouette: torch.Tensor | None = None  # (B, h, w) uint8 0/1
    prior: torch.Tensor | None = None  # (B, N, 3) MediaPipe's 3D pose, metres in the model's axes; NaN where absent

    @classmethod
    def collate(cls, items: list[dict[str, torch.Tensor]]) -> Batch:
        """A DataLoader's ``collate_fn``: PoseDataset items -> one Batch."""
        return cls(**default_collate(items))

    def __len__(self) -> int:
        return len(self.target)

    def to(self, device: torch.device | str) -> Batch:
        return replace(
            self,
            **{
                f.name: value.to(device, non_blocking=True)
                for f in fields(self)
                if (value := getattr(self, f.name)) is not None
            },
        )

    @property
    def has_image(self) -> bool:
        """The crops or their features are there (pose-only data has neither: the image is absent)."""
        return self.image is not None or self.features is not None


class PoseDataset(Dataset):
    """One split of a prepared dataset as model inputs and targets.

    Each item: ``joints2d`` (17, 2) the chosen 2D input encoded by ``codec`` (crop-normalised), ``joints2d_px``
    (17, 2) the same in crop pixels, ``joints2d_gt_px`` the true 2D joints in crop pixels, ``target`` (17, 3)
    root-relative 3D joints in metres in the model's axes (the codec's frame), ``index`` the sample's row, and either
    ``image`` (3, h, w) in [0, 1] or, given precomputed encoder features (T, C, H, W), ``features`` (C, H, W); with
    ``load_silhouettes`` also ``silhouette`` (h, w) uint8 0/1; given ``features_mirrored`` (the features of the crops
    flipped left to right), also ``features_mirrored``; ``detected`` (bool) says whether the 2D input is there; with
    ``prior``, ``prior`` (17, 3): MediaPipe's own 3D pose on the crop (``train.data.detect_2d``), root-relative metres
    in
    the model's axes (:meth:`lbi.crop.codec.InputCodec.encode_prior`), NaN where it has none.

    Samples whose 2D input is missing (a detector found nobody: NaN) are left out (``missing="drop"``, for
    evaluation) or given the ground truth instead (``missing="ground_truth"``, for training with a noise model, which
    then always replaces their 2D); ``missing_2d`` counts them.
    """

    def __init__(
        self,
        data: PreparedData | str,
        split: str,
        codec: InputCodec | None = None,
        inputs_2d: str = "gt",
        features: np.ndarray | None = None,
        load_images: bool = True,
        load_silhouettes: bool = False,
        missing: str = "drop",
        features_mirrored: np.ndarray | None = None,
        prior: bool = False,
    ) -> None:
        self.data = data if isinstance(data, PreparedData) else PreparedData(data)
        self.codec = codec or InputCodec()
        try:
            self.codec.check_dataset(self.data.meta.crop_size, str(self.data.root))
        except ValueError as err:
            raise DatasetError(str(err)) from None
        key = f"joints2d_{inputs_2d}"
        if key not in self.data.ann:
            raise DatasetError(f"{self.data.root} has no 2D input {inputs_2d!r}; it has {self.data.meta.inputs_2d}")
        if missing not in ("drop", "ground_truth"):
            raise ValueError(f"missing must be 'drop' or 'ground_truth', got {missing!r}")
        rows = self.data.indices(split)
        # a detector's 2D input is NaN where it found nobody
        found = np.isfinite(self.data.ann[key][rows]).all(axis=(1, 2))
        self.missing_2d = int((~found).sum())
        self.rows = rows[found] if missing == "drop" else rows
        self.detected = found[found] if missing == "drop" else found
        if len(self.rows) == 0:
            raise DatasetError(
                f"{self.data.root}: split {split!r} has no samples with 2D input {inputs_2d!r}"
                if len(rows)
                else f"{self.data.root}: split {split!r} is empty"
            )
        self.split = split
        self.inputs_2d = inputs_2d
        to_crop = self.data.to_crop_matrices()[self.rows]
        inputs = np.where(
            self.detected[:, None, None], self.data.ann[key][self.rows], self.data.ann["joints2d_gt"][self.rows]
        )
        self.joints2d_px, self.joints2d = self.codec.encode_joints(inputs, to_crop)
        self.joints2d_gt_px = self.codec.encode_joints(self.data.ann["joints2d_gt"][self.rows], to_crop)[0]
        centres, intrinsics = self.data.ann["center"][self.rows], self.data.ann["intrinsics"][self.rows]
        self.rotation = self.codec.rotations(centres, intrinsics)  # (T, 3, 3) camera axes -> the model's
        self.target = self.codec.encode_pose(self.data.ann["joints3d"][self.rows], centres, intrinsics)
        self.prior: np.ndarray | None = None
        if prior:
            world = self.data.ann.get(PRIOR_KEY)
            self.prior = (
                np.full(self.target.shape, np.nan, np.float32)
                if world is None
                else self.codec.encode_prior(world[self.rows], centres, intrinsics)
            )
        if features_mirrored is not None and features is None:
            raise ValueError("mirrored features come with the plain ones")
        self.features, self.features_mirrored = features, features_mirrored
        self.load_images = load_images
        if load_silhouettes and not self.data.meta.silhouettes:
            raise DatasetError(f"{self.data.root} has no silhouettes (only synthetic data sets do)")
        self.load_silhouettes = load_silhouettes

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def has_image(self) -> bool:
        """Its items carry the crops or their features (pose-only data carries neither)."""
        return self.features is not None or self.load_images

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        row = int(self.rows[k])
        item = {
            "joints2d": torch.from_numpy(self.joints2d[k]),
            "joints2d_px": torch.from_numpy(self.joints2d_px[k]),
            "joints2d_gt_px": torch.from_numpy(self.joints2d_gt_px[k]),
            "target": torch.from_numpy(self.target[k]),
            "index": torch.tensor(row),
            "detected": torch.tensor(bool(self.detected[k])),
        }
        if self.features is not None:
            item["features"] = torch.from_numpy(np.asarray(self.features[row], dtype=np.float32))
            if self.features_mirrored is not None:
                item["features_mirrored"] = torch.from_numpy(np.asarray(self.features_mirrored[row], dtype=np.float32))
        elif self.load_images:
            item["image"] = image_to_tensor(self.data.image(row))[0]
        if self.prior is not None:
            item["prior"] = torch.from_numpy(self.prior[k])
        if self.load_silhouettes:
            item["silhouette"] = torch.from_numpy(self.data.silhouette(row).astype(np.uint8))
        return item
