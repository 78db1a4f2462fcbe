"""What the estimator returns for one person: the pose (:class:`PersonPose`) and how it came about
(:class:`Diagnostics`: attention, kept patches, timings, notes), with the stage-1 cache that lets stage 2 re-run.

The JSON of ``python -m lbi predict --json`` is :meth:`Estimate.to_dict`: one flat object per person.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from ..crop.affine import Crop
from ..geometry.camera import from_ray_frame
from ..geometry.skeleton import H36M_JOINTS
from ..model import Stage1Output


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class PersonPose:
    """One person's pose in the photo: 3D in mm (root-relative, camera axes) and the 2D pose it was lifted from."""

    joints3d_mm: np.ndarray  # (17, 3) refined pose (stage 2)
    coarse3d_mm: np.ndarray  # (17, 3) stage-1 pose
    joints2d_px: np.ndarray  # (17, 2) image pixels (the 2D input)
    confidence: np.ndarray  # (17,) the 2D detector's visibility per joint
    crop: Crop
    #: (fx, fy, cx, cy) of the photo (assumed where unknown): turns the pose from the axes of a model that predicts
    #: along the crop's ray ("ray" frame) into camera axes
    intrinsics: np.ndarray
    #: (2,) the pixel whose ray the model's axes are turned back from: the centre of the part of the person box
    #: inside the photo (the crop centre unless the person reaches past the photo's edge)
    ray_through_px: np.ndarray
    #: (17, 3) MediaPipe's own 3D pose (``Pose2D.world``: mm, root-relative, its axes), None without one
    world: np.ndarray | None = None
    #: (17, 3) the ensemble's prior lifter's pose (mm, root-relative, camera axes), None outside the ensemble
    learned3d_mm: np.ndarray | None = None
    #: how MediaPipe's 3D joined ``joints3d_mm`` (lbi.pipeline.fusion.FUSIONS): "none" when the lifter answered alone
    fusion: str = "none"

    @property
    def mediapipe3d_mm(self) -> np.ndarray | None:
        """(17, 3) MediaPipe's 3D pose in camera axes (mm, root-relative), turned back from the ray through
        ``ray_through_px`` as the lifter's is; None without one."""
        if self.world is None:
            return None
        return from_ray_frame(self.world - self.world[:1], self.ray_through_px, self.intrinsics)

    def scaled(self, factor: float) -> PersonPose:
        """The same pose for the photo resized by ``factor`` (2D joints, crop and camera in its pixels)."""
        crop = Crop(self.crop.center * factor, self.crop.scale * factor, self.crop.size, self.crop.rotation)
        return replace(
            self,
            joints2d_px=self.joints2d_px * factor,
            crop=crop,
            intrinsics=self.intrinsics * factor,
            ray_through_px=self.ray_through_px * factor,
        )


@dataclass
class Diagnostics:
    """How a pose came about: where the keypoints looked, what stage 2 kept, how long each stage took."""

    attention: np.ndarray  # (layers, 17, H, W) head-averaged keypoint-to-image attention on the token grid
    kept_mask: np.ndarray | None  # (H, W) tokens stage 2 kept
    retention: float
    background_attention: float | None  # last stage-1 layer, outside 30-px circles (crop pixels)
    #: whether the pose averages the crop's and its mirror's (the flip test)
    flip_test: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    people_found: int = 1
    notes: list[str] = field(default_factory=list)  # e.g. "3 people found: showing the largest"
    #: share of the last stage-1 layer's attention off the person (the detector's segmentation), and what
    #: uniform attention would give on the same crop; None without a segmentation (live mode)
    off_person_attention: float | None = None
    off_person_uniform: float | None = None

    @property
    def total_tokens(self) -> int:
        return int(self.attention.shape[-2] * self.attention.shape[-1])

    @property
    def kept_tokens(self) -> int:
        return int(self.kept_mask.sum()) if self.kept_mask is not None else self.total_tokens


@dataclass
class Estimate:
    """One person: the pose, its diagnostics and the stage-1 cache (:meth:`lbi.pipeline.estimator.Estimator.refine`)."""

    pose: PersonPose
    diagnostics: Diagnostics
    #: stage 1 of the crop (and, with the flip test, of its mirror): stage 2 re-runs from it
    _stage1: Stage1Output | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """The JSON-ready result (what ``python -m lbi predict --json`` writes)."""
        pose, diag = self.pose, self.diagnostics
        return {
            "joint_names": list(H36M_JOINTS),
            "joints3d_mm": np.round(pose.joints3d_mm, 2).tolist(),
            "coarse3d_mm": np.round(pose.coarse3d_mm, 2).tolist(),
            "joints2d_px": np.round(pose.joints2d_px, 2).tolist(),
            "confidence": np.round(pose.confidence, 3).tolist(),
            "crop_box_xywh": [round(float(v), 2) for v in pose.crop.box],
            "retention": diag.retention,
            "kept_tokens": diag.kept_tokens,
            "total_tokens": diag.total_tokens,
            "background_attention": _rounded(diag.background_attention),
            "off_person_attention": _rounded(diag.off_person_attention),
            "off_person_attention_uniform": _rounded(diag.off_person_uniform),
            "timings_ms": diag.timings_ms,
            "people_found": diag.people_found,
            "notes": diag.notes,
            "intrinsics_assumed": np.round(pose.intrinsics, 2).tolist(),
            "ray_through_px": np.round(pose.ray_through_px, 2).tolist(),
            "flip_test": diag.flip_test,
            "fusion": pose.fusion,
            "mediapipe3d_mm": None if pose.mediapipe3d_mm is None else np.round(pose.mediapipe3d_mm, 2).tolist(),
        }

    def scaled(self, factor: float) -> Estimate:
        """The same estimate for the photo resized by ``factor`` (2D joints and crop in its pixels);
        the 3D pose, attention and stage-1 cache are unchanged, so it can still be refined."""
        if factor == 1.0:
            return self
        diagnostics = replace(self.diagnostics, notes=list(self.diagnostics.notes))
        return replace(self, pose=self.pose.scaled(factor), diagnostics=diagnostics)

    def noting_people(self, count: int) -> Estimate:
        """Records how many people the detector found (the estimate is of the largest)."""
        self.diagnostics.people_found = count
        if count > 1:
            self.diagnostics.notes.append(f"{count} people found: showing the largest")
        return self

    def noting_unseen(self, image_shape: tuple[int, ...]) -> Estimate:
        """Notes the joints the 2D detector placed outside the photo (a portrait's hands and legs): inferred."""
        h, w = image_shape[:2]
        x, y = self.pose.joints2d_px[:, 0], self.pose.joints2d_px[:, 1]
        outside = [H36M_JOINTS[j].replace("_", " ") for j in np.flatnonzero((x < 0) | (x >= w) | (y < 0) | (y >= h))]
        if outside:
            self.diagnostics.notes.append(f"outside the photo, so inferred rather than seen: {', '.join(outside)}")
        return self

    def map_to_image(self, grid: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
        """A token-grid map (H, W) -> image pixels (h, w) through the crop's inverse affine."""
        crop = self.pose.crop
        on_crop = cv2.resize(grid.astype(np.float32), crop.size, interpolation=cv2.INTER_NEAREST)
        return np.asarray(
            cv2.warpAffine(
                on_crop,
                crop.to_image_matrix,
                (image_shape[1], image_shape[0]),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(0,),
            )
        )
