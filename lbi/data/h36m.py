"""Human3.6M: the original release's videos + the common pose files -> a prepared dataset.

Inputs (the user brings them; Human3.6M is licensed):

- videos: ``<videos>/<subject>/Videos/<action>.<camera>.mp4`` from the original release;
- ``data_3d_h36m.npz``: ``positions_3d`` = {subject: {action: (T, 32, 3) metres, world frame}};
- 2D inputs in the common format, any of ``gt``, ``cpn`` (``data_2d_h36m_cpn_ft_h36m_dbb.npz``),
  ``sh``: ``positions_2d`` = {subject: {action: [4 cameras x (T, 17 or 16, 2) pixels]}};
  ``gt`` is projected from the 3D poses when no file is given;
- camera parameters as JSON (schema in :func:`load_cameras`).

Output: frames at 5 fps (every 10th of 50), cropped around the ground-truth box (the 2D joints'
bounding box grown by 10 %, then HRNet's 1.25 padding) to the encoder's input size; 3D joints
in camera coordinates (mm); splits train = S1 S5 S6 S7 S8, test = S9 S11. S11 "Directions" is
skipped (its video is corrupt in the release). Where a video has fewer frames than the mocap, the
sequence is trimmed to the shorter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..crop.affine import joint_box
from ..crop.codec import DEFAULT_CROP_SIZE, InputCodec
from ..geometry.camera import Intrinsics, project_to_2d, world_to_camera
from .format import DatasetError, DatasetMeta, DatasetWriter
from .safe_npz import load_npz

CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")
TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
#: the 17 of the 32 mocap joints that make up H36M-17
KEEP_32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
#: Stacked Hourglass (MPII order, 16 joints) -> H36M order without neck/nose
SH_TO_H36M16 = (6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 13, 14, 15, 12, 11, 10)


@dataclass(frozen=True)
class H36MCamera:
    intrinsics: Intrinsics
    size: tuple[int, int]
    orientation: np.ndarray  # quaternion (w, x, y, z), camera -> world
    translation: np.ndarray  # camera position, world frame, mm


def load_cameras(path: str | Path) -> dict[tuple[str, str], H36MCamera]:
    """Camera parameters JSON -> {(subject, camera id): camera}. Schema::

        {"intrinsics": {"54138969": {"res_w": 1000, "res_h": 1002, "center": [cx, cy],
                                     "focal_length": [fx, fy], "radial_distortion": [k1, k2, k3],
                                     "tangential_distortion": [p1, p2]}, ...},
         "extrinsics": {"S1": {"54138969": {"orientation": [w, x, y, z], "translation": [x, y, z]}, ...}, ...}}

    orientation rotates camera axes into the world; translation is the camera centre in mm.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"camera parameters not found: {path}")
    try:
        raw = json.loads(path.read_text())
        cameras = {}
        for subject, cams in raw["extrinsics"].items():
            for cam_id, ext in cams.items():
                i = raw["intrinsics"][cam_id]
                intr = Intrinsics(
                    i["focal_length"][0],
                    i["focal_length"][1],
                    i["center"][0],
                    i["center"][1],
                    tuple(i.get("radial_distortion", (0, 0, 0))),
                    tuple(i.get("tangential_distortion", (0, 0))),
                )
                cameras[(subject, cam_id)] = H36MCamera(
                    intr,
                    (int(i["res_w"]), int(i["res_h"])),
                    np.asarray(ext["orientation"], float),
                    np.asarray(ext["translation"], float),
                )
    except (json.JSONDecodeError, KeyError, IndexError, TypeError) as err:
        raise DatasetError(
            f"{path}: expected {{'intrinsics': {{camera: ...}}, 'extrinsics': {{subject: {{camera: ...}}}}}} "
            f"with res_w, res_h, center, focal_length, orientation, translation ({err!r})"
        ) from err
    return cameras


def sh_to_h36m(joints16: np.ndarray) -> np.ndarray:
    """Stacked-Hourglass 16 joints (MPII order) -> H36M-17; neck/nose is synthesised halfway
    between the thorax (SH upper neck) and the head top."""
    j = np.asarray(joints16)[..., list(SH_TO_H36M16), :]
    neck_nose = (j[..., 8:9, :] + j[..., 9:10, :]) / 2
    return np.concatenate([j[..., :9, :], neck_nose, j[..., 9:, :]], axis=-2)


def _positions_2d(path: Path) -> dict:
    data = load_npz(path)
    if "positions_2d" not in data or not isinstance(data["positions_2d"], dict):
        raise DatasetError(f"{path}: expected key 'positions_2d' holding {{subject: {{action: [4 cameras]}}}}")
    return data["positions_2d"]


def _read_frames(video: Path, count: int, stride: int):
    """Yields (frame index, RGB frame) for frames 0, stride, 2*stride, ... < count."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise DatasetError(f"{video}: cannot open the video")
    try:
        for index in range(count):
            if not cap.grab():
                return
            if index % stride == 0:
                ok, frame = cap.retrieve()
                if not ok:
                    return
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def prepare_h36m(
    videos: str | Path,
    poses_3d: str | Path,
    cameras: str | Path,
    out: str | Path,
    poses_2d: dict[str, str | Path] | None = None,
    subjects: tuple[str, ...] = TRAIN_SUBJECTS + TEST_SUBJECTS,
    stride: int = 10,
    crop_size: tuple[int, int] = DEFAULT_CROP_SIZE,
) -> dict[str, int]:
    """Writes a prepared Human3.6M dataset to ``out``; returns counts (samples, videos, missing)."""
    videos = Path(videos)
    if not videos.is_dir():
        raise DatasetError(f"video folder not found: {videos} (expected <videos>/S1/Videos/<action>.<camera>.mp4)")
    data3d = load_npz(poses_3d)
    if "positions_3d" not in data3d or not isinstance(data3d["positions_3d"], dict):
        raise DatasetError(f"{poses_3d}: expected key 'positions_3d' holding {{subject: {{action: (T, 32, 3)}}}}")
    positions = data3d["positions_3d"]
    cams = load_cameras(cameras)
    kinds = {name: _positions_2d(Path(p)) for name, p in (poses_2d or {}).items()}
    meta = DatasetMeta(
        "h36m",
        crop_size,
        {"train": [s for s in TRAIN_SUBJECTS if s in subjects], "test": [s for s in TEST_SUBJECTS if s in subjects]},
        inputs_2d=sorted({"gt", *kinds}),
        info={"stride": stride, "fps": 50 / stride},
    )
    writer = DatasetWriter(out, meta)
    codec = InputCodec(crop_size)
    counts = {"samples": 0, "videos": 0, "missing_videos": 0}
    jobs = [
        (s, a, c)
        for s in subjects
        for a in sorted(positions.get(s, {}))
        for c in range(len(CAMERA_IDS))
        if not (s == "S11" and a.startswith("Directions"))
    ]
    if not jobs:
        raise DatasetError(f"{poses_3d} has no poses for subjects {list(subjects)}")
    for subject, action, cam_index in tqdm(jobs, desc="Human3.6M", unit="video"):
        cam_id = CAMERA_IDS[cam_index]
        video = videos / subject / "Videos" / f"{action}.{cam_id}.mp4"
        if (subject, cam_id) not in cams:
            raise DatasetError(f"{cameras}: no parameters for {subject} camera {cam_id}")
        if not video.is_file():
            counts["missing_videos"] += 1
            tqdm.write(f"warning: {video} not found; skipped")
            continue
        cam = cams[(subject, cam_id)]
        world_mm = np.asarray(positions[subject][action], dtype=np.float64)[:, list(KEEP_32_TO_17)] * 1000.0
        joints_cam = world_to_camera(world_mm, cam.orientation, cam.translation)
        inputs = {"gt": project_to_2d(joints_cam, cam.intrinsics)}
        for name, table in kinds.items():
            try:
                det = np.asarray(table[subject][action][cam_index], dtype=np.float64)
            except (KeyError, IndexError) as err:
                raise DatasetError(f"2D input {name!r} lacks {subject} / {action} / camera {cam_index}") from err
            inputs[name] = sh_to_h36m(det) if det.shape[1] == 16 else det
        count = min(len(joints_cam), *(len(v) for v in inputs.values()))
        counts["videos"] += 1
        for frame, rgb in _read_frames(video, count, stride):
            crop = codec.crop(joint_box(inputs["gt"][frame]))
            writer.add(
                crop.warp(rgb),
                subject=subject,
                action=action,
                camera=cam_id,
                frame=frame,
                joints3d=joints_cam[frame],
                center=crop.center,
                scale=crop.scale,
                image_size=cam.size,
                intrinsics=(cam.intrinsics.fx, cam.intrinsics.fy, cam.intrinsics.cx, cam.intrinsics.cy),
                **{f"joints2d_{k}": v[frame] for k, v in inputs.items()},
            )
            counts["samples"] += 1
    if counts["samples"] == 0:
        raise DatasetError(f"no frames were prepared: check {videos} (expected <subject>/Videos/<action>.<camera>.mp4)")
    writer.close()
    return counts
