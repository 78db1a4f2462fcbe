"""The model's input codec: a person box, the photo and its 2D pose -> what the lifter reads.

One object encodes model inputs for training, evaluation and inference alike (mmpose's codecs):

    codec = InputCodec.for_model(model)               # crop size from the model's config / weights header
    inputs = codec.encode(rgb, box, joints_px)        # Crop, (3, h, w) image in [0, 1], normalised 2D
    joints2d = codec.normalize(joints_crop_px)        # crop pixels -> crop-normalised screen coordinates

The crop follows HRNet (box padded to the crop's aspect ratio, enlarged 1.25x, affine warp); the 2D
pose is given in the crop's pixels normalised as ``x / w * 2 - [1, h / w]`` (VideoPose3D's
``normalize_screen_coordinates``, applied to the crop). A model trained on one crop size reads
its size from its own config, so a file trained at another size is never fed the wrong crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .camera import normalize_screen_coordinates
from .crop import Crop, affine_points, image_to_tensor

#: (w, h) of the paper's 256x192 person crop
DEFAULT_CROP_SIZE = (192, 256)


@dataclass
class ModelInputs:
    """One person, encoded."""

    crop: Crop
    image: torch.Tensor  # (3, h, w) RGB in [0, 1]
    joints_crop_px: np.ndarray  # (N, 2) the 2D pose in crop pixels
    joints2d: torch.Tensor  # (N, 2) crop-normalised screen coordinates (float32)


@dataclass(frozen=True)
class InputCodec:
    """Crop size and 2D normalisation of a model: the one place they are defined."""

    crop_size: tuple[int, int] = DEFAULT_CROP_SIZE  # (w, h)

    def __post_init__(self) -> None:
        w, h = (int(v) for v in self.crop_size)
        if w <= 0 or h <= 0:
            raise ValueError(f"crop size must be positive (w, h), got {self.crop_size}")
        object.__setattr__(self, "crop_size", (w, h))

    @classmethod
    def for_model(cls, model) -> "InputCodec":
        """The codec of a model (LiftingByImage or a baseline), from its config's ``crop_size``."""
        return cls(tuple(getattr(model.config, "crop_size", DEFAULT_CROP_SIZE)))

    def crop(self, box: tuple[float, float, float, float]) -> Crop:
        """The person crop of a box (x, y, w, h) in image pixels."""
        return Crop.from_box(box, self.crop_size)

    def normalize(self, joints_crop_px: np.ndarray) -> np.ndarray:
        """Crop pixels (..., 2) -> crop-normalised screen coordinates (float32)."""
        return normalize_screen_coordinates(joints_crop_px, *self.crop_size).astype(np.float32)

    def pixels(self, px: float) -> float:
        """A distance in crop pixels in normalised units (e.g. the std of 2D training noise)."""
        return 2.0 * px / self.crop_size[0]

    def encode_joints(self, joints_image_px: np.ndarray, to_crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image-pixel joints (T, N, 2) and their image -> crop affines (T, 2, 3) -> the joints in
        crop pixels and normalised, both (T, N, 2) float32."""
        joints = np.asarray(joints_image_px, dtype=np.float64)
        px = np.einsum("tij,tnj->tni", to_crop[:, :, :2], joints) + to_crop[:, None, :, 2]
        return px.astype(np.float32), self.normalize(px)

    def encode(self, rgb: np.ndarray, box: tuple[float, float, float, float], joints_px: np.ndarray) -> ModelInputs:
        """A photo (H, W, 3) uint8, the person's box and 2D joints (N, 2) in image pixels -> model inputs."""
        crop = self.crop(box)
        joints_crop = affine_points(joints_px, crop.to_crop_matrix)
        return ModelInputs(crop, image_to_tensor(crop.warp(rgb))[0], joints_crop,
                           torch.from_numpy(self.normalize(joints_crop)))

    def check_dataset(self, crop_size: tuple[int, int], source: str) -> None:
        """Raises ValueError when a dataset's crops are not the size this codec encodes."""
        if tuple(crop_size) != self.crop_size:
            raise ValueError(f"{source} holds {crop_size[0]}x{crop_size[1]} (w x h) crops, but the model reads "
                             f"{self.crop_size[0]}x{self.crop_size[1]}: prepare the data at the model's crop size")
