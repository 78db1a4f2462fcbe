"""Pose-only LBI-Synth (``pairs``): a procedural pose (:mod:`.poses`) of a body of random proportions,
seen by a camera of the photos people take (:data:`.randomised.PHOTO_CAMERAS`), as a prepared-dataset
row with no image: its 3D joints, 2D joints and person crop.

They are what a lifter's pose prior learns from (the image absent) and what the lifting-only twin
trains on beside the renders: nothing is rendered, so they cost a small part of a render. The crop
is framed as rand's renders frame theirs (the joints' box grown by 6-20 % and shifted a little).
"""

from __future__ import annotations

import numpy as np

from ...crop.affine import joint_box
from ...crop.codec import InputCodec
from .poses import body_lengths, build_skeleton, sample_pose
from .randomised import PHOTO_CAMERAS, CameraDistribution, random_camera


def sample_pair(rng: np.random.Generator, codec: InputCodec, cameras: CameraDistribution = PHOTO_CAMERAS) -> dict:
    """One pair as an annotation row (:mod:`lbi.data.format`): joints3d (mm, camera axes), joints2d_gt
    (image pixels), the crop's center and scale, image_size, intrinsics, and the pose's family as action."""
    lengths, hip_half, shoulder_half = body_lengths(rng)
    spec = sample_pose(rng)
    joints = build_skeleton(spec, lengths, hip_half, shoulder_half).joints
    camera = random_camera(rng, joints, cameras=cameras)
    joints_cam = camera.to_camera(joints)
    joints_px = camera.project(joints_cam)
    x, y, w, h = joint_box(joints_px, grow=rng.uniform(0.06, 0.2))
    shift = rng.normal(0, 0.04, 2) * max(w, h)
    crop = codec.crop((x + shift[0], y + shift[1], w, h))
    K = camera.K
    return dict(
        action=f"{spec.family} {spec.gesture}",
        joints3d=joints_cam * 1000.0,
        joints2d_gt=joints_px,
        center=crop.center,
        scale=crop.scale,
        image_size=camera.size,
        intrinsics=(K[0, 0], K[1, 1], K[0, 2], K[1, 2]),
    )
