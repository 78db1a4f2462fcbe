"""The model's codec: a person box, the photo and its 2D pose -> what the lifter reads; and the
3D pose it predicts <-> camera coordinates.

One object encodes model inputs and targets for training, evaluation and inference alike (mmpose's
codecs):

    codec = InputCodec.for_model(model)               # from the model's config / weights header
    inputs = codec.encode(rgb, box, joints_px)        # Crop, (3, h, w) image in [0, 1], normalised 2D
    joints2d = codec.normalize(joints_crop_px)        # crop pixels -> crop-normalised screen coordinates
    target = codec.encode_pose(joints3d_mm, centres, intrinsics)   # training targets, metres
    camera = codec.decode_pose(prediction, centre, intrinsics)     # a prediction in camera axes

The crop follows HRNet (box padded to the crop's aspect ratio, enlarged 1.25x, affine warp); the 2D
pose is given in the crop's pixels normalised as ``x / w * 2 - [1, h / w]`` (VideoPose3D's
``normalize_screen_coordinates``, applied to the crop). The 3D pose is root-relative, in the camera's
axes (``frame="camera"``) or in those of a virtual camera looking through the crop's centre
(``frame="ray"``, :func:`lbi.geometry.camera.ray_rotation`): a crop shows the body as seen along that ray,
so only this frame can be read off it when the person stands off the image centre. A model keeps
its crop size and frame in its config, so a file trained otherwise is never fed the wrong crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..geometry.camera import from_ray_frame, normalize_screen_coordinates, ray_rotation
from .affine import Crop, affine_points, image_to_tensor

#: (w, h) of the paper's 256x192 person crop
DEFAULT_CROP_SIZE = (192, 256)
#: the axes of the predicted 3D pose: the camera's, or a virtual camera's looking through the crop centre
FRAMES = ("camera", "ray")


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
    frame: str = "camera"  # see FRAMES

    def __post_init__(self) -> None:
        w, h = (int(v) for v in self.crop_size)
        if w <= 0 or h <= 0:
            raise ValueError(f"crop size must be positive (w, h), got {self.crop_size}")
        if self.frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {self.frame!r}")
        object.__setattr__(self, "crop_size", (w, h))

    @classmethod
    def for_model(cls, model) -> InputCodec:
        """The codec of a model (LiftingByImage or a baseline), from its config's ``crop_size`` and ``frame``."""
        config = model.config
        return cls(tuple(getattr(config, "crop_size", DEFAULT_CROP_SIZE)), getattr(config, "frame", "camera"))

    def rotations(self, centres: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
        """Camera axes -> the model's axes, (..., 3, 3), for crops centred at ``centres`` (..., 2) image
        pixels in images of ``intrinsics`` (..., 4: fx, fy, cx, cy; NaN when unknown)."""
        centres = np.asarray(centres, dtype=np.float64)
        if self.frame == "camera":
            return np.broadcast_to(np.eye(3), (*centres.shape[:-1], 3, 3)).copy()
        return ray_rotation(centres, intrinsics)

    def encode_pose(self, joints3d: np.ndarray, centres: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
        """Camera-frame joints (T, N, 3) in mm -> root-relative targets in metres in the model's axes, float32."""
        joints3d = np.asarray(joints3d, dtype=np.float64)
        relative = (joints3d - joints3d[:, :1]) / 1000.0
        return np.einsum("tij,tnj->tni", self.rotations(centres, intrinsics), relative).astype(np.float32)

    def decode_pose(self, pose: np.ndarray, centre: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
        """A prediction (N, 3) in the model's axes -> the same pose in camera axes."""
        return np.asarray(pose, dtype=np.float64) @ self.rotations(centre, intrinsics)

    def encode_prior(self, world_mm: np.ndarray, centres: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
        """A 3D pose prior (..., N, 3) in mm in the axes of a camera looking at the person (MediaPipe's world
        landmarks, :attr:`lbi.pose2d.landmarks.Pose2D.world`: the ray frame of the crops centred at ``centres`` (...,
        2) in
        images of ``intrinsics`` (..., 4)) -> root-relative metres in the model's axes, float32 (NaN stays NaN)."""
        world = np.asarray(world_mm, dtype=np.float64)
        relative = (world - world[..., :1, :]) / 1000.0
        if self.frame == "camera":
            relative = from_ray_frame(relative, centres, intrinsics)
        return relative.astype(np.float32)

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
        return ModelInputs(
            crop, image_to_tensor(crop.warp(rgb))[0], joints_crop, torch.from_numpy(self.normalize(joints_crop))
        )

    def check_dataset(self, crop_size: tuple[int, int], source: str) -> None:
        """Raises ValueError when a dataset's crops are not the size this codec encodes."""
        if tuple(crop_size) != self.crop_size:
            raise ValueError(
                f"{source} holds {crop_size[0]}x{crop_size[1]} (w x h) crops, but the model reads "
                f"{self.crop_size[0]}x{self.crop_size[1]}: prepare the data at the model's crop size"
            )
