"""Generates LBI-Synth into the prepared-dataset format (deterministic by seed).

<out>/lab   splits: train (subjects L00-L09), test (L10-L13)   4 fixed cameras
<out>/wild  split:  test (subjects W00-W05)                     random cameras and scenes
<out>/rand  splits: train (R000-R199), test (T000-T039)         domain-randomised (randomised.py):
            any camera, rooms / outdoor / flat backgrounds, each pose on several of them
<out>/photo splits as rand                                      rand's renders under the cameras of
            everyday photos (PHOTO_CAMERAS), other poses and people
<out>/pairs splits: train, mix, test                            pose-only pairs under PHOTO_CAMERAS
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

from ...crop.affine import joint_box
from ...crop.codec import DEFAULT_CROP_SIZE, InputCodec
from ..format import DatasetMeta, DatasetWriter, encode_jpeg, encode_mask
from .body import BodyShape, pose_body, sample_angles
from .people import Person
from .randomised import PHOTO_CAMERAS, RAND_CAMERAS, render_randomised
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


def render_job(job: Job) -> tuple[bytes, bytes, dict]:
    """Renders one sample: its crop (JPEG bytes), silhouette (PNG bytes) and annotation row."""
    part_code = ("lab_train", "lab_test", "wild_test").index(job.part)
    rng = np.random.default_rng([job.seed, part_code, job.index])
    shot = lab_shot(rng) if job.part.startswith("lab") else wild_shot(rng)
    family, angles = sample_angles(rng, yaw=shot.yaw)
    posed = pose_body(subject_shape(job.seed, job.subject), angles, shot.position)
    joints_cam = shot.camera.to_camera(posed.joints)
    joints_px = shot.camera.project(joints_cam)
    crop = CODEC.crop(joint_box(joints_px, grow=0.12))
    image, silhouette = render_body(posed, shot.camera, crop, shot_background(shot, crop, rng), shot.light)
    K = shot.camera.K
    row = dict(
        subject=job.subject,
        action=family,
        camera=shot.camera_name,
        frame=job.index,
        joints3d=joints_cam * 1000.0,
        joints2d_gt=joints_px,
        center=crop.center,
        scale=crop.scale,
        image_size=shot.camera.size,
        intrinsics=(K[0, 0], K[1, 1], K[0, 2], K[1, 2]),
    )
    return encode_jpeg(image), encode_mask(silhouette), row


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    cv2.setNumThreads(1)


def _jobs(seed: int, part: str, count: int, subjects: list[str]) -> list[Job]:
    return [Job(seed, part, i, subjects[i % len(subjects)]) for i in range(count)]


PARTS = ("lab_train", "lab_test", "wild_test")

# ------------------------------------------------------------------ the domain-randomised split
RAND_TRAIN = [f"R{i:03d}" for i in range(200)]
RAND_TEST = [f"T{i:03d}" for i in range(40)]
#: poses per split and backgrounds (variants) per pose
RAND_SIZES = {
    "tiny": {"train": 12, "test": 8},
    "small": {"train": 2000, "test": 400},
    "default": {"train": 20000, "test": 2000},
}
RAND_VARIANTS = {"train": 2, "test": 1}
#: the randomised domains: their camera distributions and poses per split (photo: rand's renders under the
#: cameras of everyday photos, a smaller set)
RAND_DOMAINS = {"rand": RAND_CAMERAS, "photo": PHOTO_CAMERAS}
PHOTO_SIZES = {
    "tiny": {"train": 8, "test": 4},
    "small": {"train": 1000, "test": 200},
    "default": {"train": 6000, "test": 600},
}


@dataclass(frozen=True)
class RandJob:
    seed: int
    split: str  # train | test
    index: int
    subject: str
    domain: str = "rand"  # a key of RAND_DOMAINS


def _split_code(job: RandJob) -> int:
    """The job's split as a number; each domain draws from its own streams (other poses, people and scenes)."""
    return ("train", "test").index(job.split) + 2 * list(RAND_DOMAINS).index(job.domain)


def rand_person(job: RandJob) -> tuple[np.random.Generator, Person]:
    """The sample's random stream and its person: the subject's body in this sample's clothes."""
    split_code = _split_code(job)
    rng = np.random.default_rng([job.seed, 10 + split_code, job.index])
    body = Person.sample(np.random.default_rng([job.seed, 30 + split_code, int(job.subject[1:])]))
    return rng, body.dressed(rng)


def render_rand_job(job: RandJob) -> list[tuple[bytes, bytes, dict]]:
    """One pose of the domain-randomised split on its backgrounds: (JPEG, silhouette PNG, row) each."""
    split_code = _split_code(job)
    rng, person = rand_person(job)
    variant_rngs = [
        np.random.default_rng([job.seed, 20 + split_code, job.index, k]) for k in range(RAND_VARIANTS[job.split])
    ]
    sample = render_randomised(rng, person, variant_rngs, job.split, CODEC, RAND_DOMAINS[job.domain])
    joints_cam = sample.camera.to_camera(sample.joints_world)
    K = sample.camera.K
    row = dict(
        subject=job.subject,
        action=f"{sample.spec.family} {sample.spec.gesture}",
        camera=job.domain,
        frame=job.index,
        joints3d=joints_cam * 1000.0,
        joints2d_gt=sample.camera.project(joints_cam),
        center=sample.crop.center,
        scale=sample.crop.scale,
        image_size=sample.camera.size,
        intrinsics=(K[0, 0], K[1, 1], K[0, 2], K[1, 2]),
    )
    mask = encode_mask(sample.silhouette)
    return [(encode_jpeg(v.image, v.jpeg_quality), mask, {**row, "variant": k}) for k, v in enumerate(sample.variants)]


def _render_lab_wild(job: Job) -> list[tuple[bytes, bytes, dict]]:
    return [render_job(job)]


def _write(out: Path, meta: DatasetMeta, jobs: list, render, workers: int, resume: bool, every: int = 256) -> float:
    """Renders ``jobs`` into a prepared dataset at ``out`` (resuming from its last checkpoint); the
    render's wall seconds go into meta.json (those of this call only, when it resumed)."""
    start = time.perf_counter()
    writer = DatasetWriter(out, meta, resume=resume)
    resumed_at = writer.progress
    todo = jobs[resumed_at:]
    ctx = mp.get_context("spawn") if workers > 1 else None
    pool = ctx.Pool(workers, initializer=_init_worker) if ctx else None
    try:
        results = pool.imap(render, todo, chunksize=8) if pool else map(render, todo)
        for done, samples in enumerate(
            tqdm(results, total=len(todo), desc=f"LBI-Synth {out.name}", unit="job"), start=writer.progress + 1
        ):
            for jpeg, mask, row in samples:
                writer.add(jpeg, mask, **row)
            if done % every == 0:
                writer.checkpoint(done)
    finally:
        if pool:
            pool.close()
            pool.join()
    seconds = time.perf_counter() - start
    meta.info.update(render_seconds=round(seconds, 1), workers=workers, resumed_after_job=resumed_at)
    writer.close()
    return seconds


def generate(
    out: str | Path,
    size: str = "default",
    seed: int = 0,
    workers: int = 2,
    parts: tuple[str, ...] = PARTS,
    resume: bool = False,
) -> dict[str, float]:
    """Writes <out>/lab and <out>/wild; returns wall seconds per domain. ``parts`` renders only
    some of lab_train, lab_test, wild_test (each sample is the same whatever else is rendered)."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {sorted(SIZES)}")
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown parts {unknown}; choose from {PARTS}")
    counts = {part: n if part in parts else 0 for part, n in SIZES[size].items()}
    out = Path(out)
    plan = {
        "lab": (
            DatasetMeta(
                "lbi-synth-lab",
                CODEC.crop_size,
                {"train": LAB_TRAIN, "test": LAB_TEST},
                info={"size": size, "seed": seed, "domain": "lab"},
                silhouettes=True,
            ),
            _jobs(seed, "lab_train", counts["lab_train"], LAB_TRAIN)
            + _jobs(seed, "lab_test", counts["lab_test"], LAB_TEST),
        ),
        "wild": (
            DatasetMeta(
                "lbi-synth-wild",
                CODEC.crop_size,
                {"test": WILD_TEST},
                info={"size": size, "seed": seed, "domain": "wild"},
                silhouettes=True,
            ),
            _jobs(seed, "wild_test", counts["wild_test"], WILD_TEST),
        ),
    }
    return {
        domain: _write(out / domain, meta, jobs, _render_lab_wild, workers, resume)
        for domain, (meta, jobs) in plan.items()
        if jobs
    }


def rand_jobs(seed: int, counts: dict[str, int], domain: str = "rand") -> list[RandJob]:
    return [
        RandJob(seed, split, i, subjects[i % len(subjects)], domain)
        for split, subjects in (("train", RAND_TRAIN), ("test", RAND_TEST))
        for i in range(counts[split])
    ]


def generate_randomised(
    out: str | Path,
    size: str = "default",
    seed: int = 0,
    workers: int = 2,
    resume: bool = False,
    domain: str = "rand",
) -> float:
    """Writes a domain-randomised split to <out>/<domain> (rand or photo; train: RAND_TRAIN subjects, test:
    RAND_TEST, RAND_VARIANTS backgrounds per pose); returns wall seconds."""
    sizes = {"rand": RAND_SIZES, "photo": PHOTO_SIZES}[domain]
    if size not in sizes:
        raise ValueError(f"unknown size {size!r}; choose one of {sorted(sizes)}")
    from .backgrounds import photo_names

    counts = sizes[size]
    jobs = rand_jobs(seed, counts, domain)
    meta = DatasetMeta(
        f"lbi-synth-{domain}",
        CODEC.crop_size,
        {"train": RAND_TRAIN, "test": RAND_TEST},
        info={
            "size": size,
            "seed": seed,
            "domain": domain,
            "variants": RAND_VARIANTS,
            "photos": [p.name for p in photo_names()],
        },
        silhouettes=True,
    )
    return _write(Path(out) / domain, meta, jobs, render_rand_job, workers, resume)


# ------------------------------------------------------------------ pose-only pairs (no images)
PAIR_TRAIN = [f"P{i:03d}" for i in range(100)]
PAIR_TEST = [f"Q{i:03d}" for i in range(10)]
#: splits of pairs: train (all training subjects), mix (a tenth of them: pose-only batches beside renders), test
PAIR_SPLITS = {"train": PAIR_TRAIN, "mix": PAIR_TRAIN[:10], "test": PAIR_TEST}
#: pairs per split
PAIR_SIZES = {
    "tiny": {"train": 80, "test": 16},
    "small": {"train": 20000, "test": 2000},
    "default": {"train": 200000, "test": 5000},
}
PAIRS_PER_JOB = 100


@dataclass(frozen=True)
class PairJob:
    seed: int
    split: str  # train | test
    index: int  # pairs index * PAIRS_PER_JOB ... (index + 1) * PAIRS_PER_JOB - 1
    count: int


def pair_job(job: PairJob) -> list[tuple[None, None, dict]]:
    """``job.count`` pose-only pairs (:mod:`.pairs`), each one subject's row."""
    from .pairs import sample_pair

    split_code = ("train", "test").index(job.split)
    rng = np.random.default_rng([job.seed, 40 + split_code, job.index])
    subjects = PAIR_TRAIN if job.split == "train" else PAIR_TEST
    first = job.index * PAIRS_PER_JOB
    return [
        (
            None,
            None,
            {
                **sample_pair(rng, CODEC),
                "subject": subjects[(first + k) % len(subjects)],
                "camera": "photo",
                "frame": first + k,
            },
        )
        for k in range(job.count)
    ]


def generate_pairs(
    out: str | Path, size: str = "default", seed: int = 0, workers: int = 2, resume: bool = False
) -> float:
    """Writes pose-only pairs under photo-like cameras to <out>/pairs (splits: PAIR_SPLITS); returns wall seconds."""
    if size not in PAIR_SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {sorted(PAIR_SIZES)}")
    jobs = [
        PairJob(seed, split, i, min(PAIRS_PER_JOB, n - i * PAIRS_PER_JOB))
        for split, n in PAIR_SIZES[size].items()
        for i in range(-(-n // PAIRS_PER_JOB))
    ]
    meta = DatasetMeta(
        "lbi-synth-pairs",
        CODEC.crop_size,
        PAIR_SPLITS,
        info={"size": size, "seed": seed, "domain": "pairs", "cameras": "photo"},
        images=False,
    )
    return _write(Path(out) / "pairs", meta, jobs, pair_job, workers, resume, every=50)
