"""Generates LBI-Synth into the prepared-dataset format (deterministic by seed).

    <out>/lab   splits: train (subjects L00-L09), test (L10-L13)   4 fixed cameras
    <out>/wild  split:  test (subjects W00-W05)                     random cameras and scenes
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ...codec import DEFAULT_CROP_SIZE, InputCodec
from ...crop import joint_box
from ..format import DatasetMeta, DatasetWriter, encode_jpeg
from .body import BodyShape, pose_body, sample_angles
from .render import render_body
from .scenes import lab_shot, shot_background, wild_shot

CODEC = InputCodec(DEFAULT_CROP_SIZE)  # the crops every model of the LBI-Synth tables reads
LAB_TRAIN = [f"L{i:02d}" for i in range(10)]
LAB_TEST = [f"L{i:02d}" for i in range(10, 14)]
WILD_TEST = [f"W{i:02d}" for i in range(6)]
SIZES = {
    "tiny": {"lab_train": 48, "lab_test": 16, "wild_test": 16},
    "small": {"lab_train": 3000, "lab_test": 600, "wild_test": 600},
    "default": {"lab_train": 24000, "lab_test": 4000, "wild_test": 4000},
}


@dataclass(frozen=True)
class Job:
    seed: int
    part: str  # lab_train | lab_test | wild_test
    index: int
    subject: str


def subject_shape(seed: int, subject: str) -> BodyShape:
    return BodyShape.sample(np.random.default_rng([seed, 7, ord(subject[0]), int(subject[1:])]))


def render_job(job: Job) -> tuple[bytes, dict]:
    """Renders one sample: its crop (JPEG bytes) and its annotation row."""
    part_code = ("lab_train", "lab_test", "wild_test").index(job.part)
    rng = np.random.default_rng([job.seed, part_code, job.index])
    shot = lab_shot(rng) if job.part.startswith("lab") else wild_shot(rng)
    family, angles = sample_angles(rng, yaw=shot.yaw)
    posed = pose_body(subject_shape(job.seed, job.subject), angles, shot.position)
    joints_cam = shot.camera.to_camera(posed.joints)
    joints_px = shot.camera.project(joints_cam)
    crop = CODEC.crop(joint_box(joints_px, grow=0.12))
    image = render_body(posed, shot.camera, crop, shot_background(shot, crop, rng), shot.light)
    K = shot.camera.K
    row = dict(subject=job.subject, action=family, camera=shot.camera_name, frame=job.index,
               joints3d=joints_cam * 1000.0, joints2d_gt=joints_px, center=crop.center, scale=crop.scale,
               image_size=shot.camera.size, intrinsics=(K[0, 0], K[1, 1], K[0, 2], K[1, 2]))
    return encode_jpeg(image), row


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    cv2.setNumThreads(1)


def _jobs(seed: int, part: str, count: int, subjects: list[str]) -> list[Job]:
    return [Job(seed, part, i, subjects[i % len(subjects)]) for i in range(count)]


def generate(out: str | Path, size: str = "default", seed: int = 0, workers: int = 2) -> dict[str, float]:
    """Writes <out>/lab and <out>/wild; returns wall seconds per domain."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {sorted(SIZES)}")
    counts = SIZES[size]
    out = Path(out)
    plan = {
        "lab": (DatasetMeta("lbi-synth-lab", CODEC.crop_size, {"train": LAB_TRAIN, "test": LAB_TEST},
                            info={"size": size, "seed": seed, "domain": "lab"}),
                _jobs(seed, "lab_train", counts["lab_train"], LAB_TRAIN) + _jobs(seed, "lab_test", counts["lab_test"], LAB_TEST)),
        "wild": (DatasetMeta("lbi-synth-wild", CODEC.crop_size, {"test": WILD_TEST},
                             info={"size": size, "seed": seed, "domain": "wild"}),
                 _jobs(seed, "wild_test", counts["wild_test"], WILD_TEST)),
    }
    timings = {}
    ctx = mp.get_context("spawn") if workers > 1 else None
    for domain, (meta, jobs) in plan.items():
        start = time.perf_counter()
        writer = DatasetWriter(out / domain, meta)
        if ctx is None:
            results = map(render_job, jobs)
            for jpeg, row in tqdm(results, total=len(jobs), desc=f"LBI-Synth {domain}", unit="crop"):
                writer.add(jpeg, **row)
        else:
            with ctx.Pool(workers, initializer=_init_worker) as pool:
                results = pool.imap(render_job, jobs, chunksize=32)
                for jpeg, row in tqdm(results, total=len(jobs), desc=f"LBI-Synth {domain}", unit="crop"):
                    writer.add(jpeg, **row)
        writer.close()
        timings[domain] = time.perf_counter() - start
    return timings
