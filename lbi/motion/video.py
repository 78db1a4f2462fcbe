"""Video clips -> 3D motion: frames streamed from the file, people found and lifted frame by frame, their
identities kept (:mod:`lbi.motion.tracking`), poses smoothed over time (the 1-euro filter), written as JSON, CSV or BVH.

    clip = analyse_video("clip.mp4", estimator)        # a VideoResult; frames are read one at a time
    clip.write("poses.json"); clip.write("poses.bvh")  # also .csv

The people are followed from frame to frame (:class:`lbi.motion.tracking.PeopleTracker`: each looked for where
they were, the detector run now and then for newcomers), so the first frame gives the people a photo of it gives.
The JSON, the CSV and the BVH hold the same 3D poses: those of each person's skeleton of fixed bone lengths
(:func:`lbi.motion.bvh.fit_motion`), in camera axes, mm, root-relative.

**Every person's motion covers every frame of the clip**, so all files keep the clip's time (:class:`Timeline`):
between two frames where a person is seen, their joints are interpolated linearly; before their first and after
their last they hold that pose. The JSON and the CSV mark each pose ``seen``, ``interpolated`` or ``held`` (filled
poses have confidence 0); a BVH has one frame per frame of the clip.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from OneEuroFilter import OneEuroFilter

from ..geometry.skeleton import H36M_JOINTS
from ..io.files import atomic_write_text
from ..pipeline.estimate import Estimate
from ..pipeline.estimator import Estimator
from ..pose2d.people import PeopleDetector
from .bvh import Motion, fit_motion, write_bvh
from .tracking import PeopleTracker

#: the longest clip analysed by default (seconds)
MAX_SECONDS = 600.0
#: frames larger than this on their longer side are analysed downscaled to it (2D is given in the file's pixels)
WORK_SIDE = 1280
FORMATS = (".json", ".csv", ".bvh")


class VideoError(ValueError):
    """A file that cannot be analysed as a video; the message says why."""


@dataclass(frozen=True)
class Smoothing:
    """The 1-euro filter's settings (Casiez et al. 2012): the cutoff frequency at rest, and how fast it rises
    with the speed of a coordinate (per mm/s in 3D, per px/s in 2D)."""

    min_cutoff_hz: float = 1.0
    beta_3d: float = 0.004
    beta_2d: float = 0.02


@dataclass
class VideoInfo:
    path: str
    fps: float
    size: tuple[int, int]  # (w, h) of the file's frames
    frames_declared: int  # what the container says (0 when it does not)

    @property
    def seconds(self) -> float:
        return self.frames_declared / self.fps


@dataclass
class PersonFrame:
    """One person in one frame."""

    id: int
    joints3d_mm: np.ndarray  # (17, 3) camera axes, root-relative
    joints2d_px: np.ndarray  # (17, 2) the file's pixels
    confidence: np.ndarray  # (17,)
    box: tuple[float, float, float, float]  # (x, y, w, h) the file's pixels


@dataclass
class FrameResult:
    index: int
    time_s: float
    people: list[PersonFrame]


#: how a person's pose in a frame came about: seen in the frame, interpolated between two frames where they were
#: seen, or held from the nearest one (before their first, after their last)
SOURCES = ("seen", "interpolated", "held")


@dataclass
class Timeline:
    """One person over every frame of the clip (T: the frames analysed), gaps filled (see the module)."""

    joints3d_mm: np.ndarray  # (T, 17, 3) camera axes, root-relative
    joints2d_px: np.ndarray  # (T, 17, 2) the file's pixels
    confidence: np.ndarray  # (T, 17); 0 where filled
    box: np.ndarray  # (T, 4) (x, y, w, h) the file's pixels
    source: list[str]  # (T,) each frame's entry of SOURCES

    @classmethod
    def fill(cls, frames: int, seen: dict[int, PersonFrame]) -> Timeline:
        """A person seen in the frames ``seen`` (frame index -> their pose; at least one) over ``frames`` frames."""
        index = np.array(sorted(seen))
        everywhere = np.arange(frames)

        def filled(values: np.ndarray) -> np.ndarray:  # (S, ...) at the seen frames -> (T, ...)
            flat = values.reshape(len(values), -1)
            columns = [np.interp(everywhere, index, flat[:, c]) for c in range(flat.shape[1])]
            return np.stack(columns, axis=1).reshape(frames, *values.shape[1:])

        people = [seen[k] for k in index]
        confidence = np.zeros((frames, 17))
        confidence[index] = np.stack([p.confidence for p in people])
        seen_, interpolated, held = SOURCES
        source = [held if k < index[0] or k > index[-1] else interpolated for k in everywhere]
        for k in index:
            source[k] = seen_
        return cls(
            filled(np.stack([p.joints3d_mm for p in people])),
            filled(np.stack([p.joints2d_px for p in people])),
            confidence,
            filled(np.array([p.box for p in people], dtype=np.float64)),
            source,
        )


@dataclass
class VideoResult:
    """A clip's people, frame by frame; ``error`` says why the analysis stopped early (None: it did not)."""

    info: VideoInfo
    frames: list[FrameResult] = field(default_factory=list)
    smoothing: Smoothing | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    #: each person's motion over every frame of the clip, by id (:meth:`fit_motions`)
    motions: dict[int, Motion] = field(default_factory=dict)
    #: each person over every frame of the clip, gaps filled, by id (:meth:`fit_motions`)
    timelines: dict[int, Timeline] = field(default_factory=dict)
    #: how MediaPipe's 3D joined the poses (lbi.pipeline.fusion.FUSIONS)
    fusion: str = "none"

    @property
    def ids(self) -> list[int]:
        return sorted({p.id for f in self.frames for p in f.people})

    def fit_motions(self) -> VideoResult:
        """Fills each person's gaps (:class:`Timeline`), fits their motion over the whole clip
        (:func:`lbi.motion.bvh.fit_motion`) and replaces their 3D poses by their skeleton's, so that the JSON, the
        CSV and the BVH hold the same poses."""
        for pid in self.ids:
            seen = {k: p for k, f in enumerate(self.frames) for p in f.people if p.id == pid}
            timeline = Timeline.fill(len(self.frames), seen)
            motion = fit_motion(timeline.joints3d_mm)
            timeline.joints3d_mm = motion.positions_mm
            for k, person in seen.items():
                person.joints3d_mm = motion.positions_mm[k]
            self.timelines[pid], self.motions[pid] = timeline, motion
        return self

    def entries(self) -> list[tuple[int, float, list[tuple[int, str, int]]]]:
        """(frame index, time s, [(person id, source, timeline row)]) for every frame: everyone in every frame."""
        ids = self.ids
        return [
            (f.index, f.time_s, [(pid, self.timelines[pid].source[k], k) for pid in ids])
            for k, f in enumerate(self.frames)
        ]

    def to_dict(self) -> dict:
        people = [{"id": pid, "frames_seen": self.timelines[pid].source.count(SOURCES[0])} for pid in self.ids]
        return {
            "video": Path(self.info.path).name,
            "fps": self.info.fps,
            "size": list(self.info.size),
            "frames_declared": self.info.frames_declared,
            "frames_analysed": len(self.frames),
            "smoothing": None if self.smoothing is None else vars(self.smoothing),
            "fusion": self.fusion,
            "joint_names": list(H36M_JOINTS),
            "units": "joints3d_mm: mm, camera axes (x right, y down, z forward), root-relative; joints2d_px: pixels",
            "sources": "seen: found in the frame; interpolated: between two frames where seen; held: before the "
            "first or after the last (filled poses have confidence 0)",
            "people": people,
            "frames": [
                {
                    "frame": index,
                    "time_s": round(time_s, 4),
                    "people": [self._entry(pid, source, k) for pid, source, k in row],
                }
                for index, time_s, row in self.entries()
            ],
            "notes": self.notes,
            "error": self.error,
        }

    def _entry(self, pid: int, source: str, k: int) -> dict:
        t = self.timelines[pid]
        return {
            "id": pid,
            "source": source,
            "joints3d_mm": np.round(t.joints3d_mm[k], 2).tolist(),
            "joints2d_px": np.round(t.joints2d_px[k], 2).tolist(),
            "confidence": np.round(t.confidence[k], 3).tolist(),
            "box_xywh": [round(float(v), 2) for v in t.box[k]],
        }

    def csv_text(self) -> str:
        """One row per frame, person and joint; every person in every frame (``source``: see the module)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["frame", "time_s", "person", "source", "joint", "x_mm", "y_mm", "z_mm", "u_px", "v_px", "confidence"]
        )
        for index, time_s, row in self.entries():
            for pid, source, k in row:
                t = self.timelines[pid]
                for j, name in enumerate(H36M_JOINTS):
                    x, y, z = (round(float(v), 2) for v in t.joints3d_mm[k, j])
                    u, v = (round(float(c), 2) for c in t.joints2d_px[k, j])
                    conf = round(float(t.confidence[k, j]), 3)
                    writer.writerow([index, round(time_s, 4), pid, source, name, x, y, z, u, v, conf])
        return out.getvalue()

    def write(self, path: str | Path) -> list[Path]:
        """Writes the clip in the format of ``path``'s suffix (atomically): .json, .csv, or .bvh (one file per
        person: ``NAME.bvh`` for one, ``NAME_person<id>.bvh`` for several, each with every frame of the clip);
        returns the files written."""
        path = Path(path)
        if path.suffix.lower() == ".json":
            atomic_write_text(path, json.dumps(self.to_dict()))
            return [path]
        if path.suffix.lower() == ".csv":
            atomic_write_text(path, self.csv_text())
            return [path]
        if path.suffix.lower() == ".bvh":
            written = []
            for pid, motion in self.motions.items():
                target = path if len(self.motions) == 1 else path.with_name(f"{path.stem}_person{pid}{path.suffix}")
                write_bvh(target, motion, self.info.fps)
                written.append(target)
            return written
        raise ValueError(f"unknown output format {path.suffix!r}: use one of {', '.join(FORMATS)}")


def open_video(path: str | Path, max_seconds: float = MAX_SECONDS) -> tuple[cv2.VideoCapture, VideoInfo]:
    """The clip, opened for reading, and what it says about itself; VideoError when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        if (container := _container(path)) is not None:
            raise VideoError(
                f"{path.name} starts as {container} but OpenCV cannot read it: the file is truncated or damaged "
                "(an interrupted download, copy or recording?)"
            )
        raise VideoError(f"{path.name} is not a video OpenCV can read (MP4, AVI, MOV, MKV or WebM)")
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if width <= 0 or height <= 0:
        capture.release()
        raise VideoError(f"{path.name} has no video frames OpenCV can decode")
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if math.isfinite(fps) and 0.1 <= fps <= 1000.0 else 30.0  # else unknown: assume 30
    declared = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    info = VideoInfo(str(path), float(fps), (width, height), declared)
    if info.seconds > max_seconds:
        capture.release()
        raise VideoError(
            f"{path.name} is {info.seconds:.0f} s long ({declared} frames at {fps:g} fps); the limit is "
            f"{max_seconds:.0f} s: cut the clip, or raise the limit (--max-seconds)"
        )
    return capture, info


def _container(path: Path) -> str | None:
    """The video container a file's first bytes announce (MP4/MOV, Matroska/WebM, AVI), or None."""
    with path.open("rb") as f:
        head = f.read(16)
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):
        return "an MP4 / MOV video"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "a Matroska / WebM video"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "an AVI video"
    return None


def read_frames(capture: cv2.VideoCapture, limit: int) -> Iterator[np.ndarray]:
    """The clip's frames as RGB, one at a time, at most ``limit`` of them."""
    for _ in range(limit):
        ok, bgr = capture.read()
        if not ok or bgr is None:
            return
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class Smoother:
    """One 1-euro filter per person, joint and coordinate, in 3D and in 2D."""

    def __init__(self, fps: float, settings: Smoothing) -> None:
        self.fps, self.settings = fps, settings
        self.filters: dict[int, tuple[list[OneEuroFilter], list[OneEuroFilter]]] = {}

    def _make(self, count: int, beta: float) -> list[OneEuroFilter]:
        return [OneEuroFilter(self.fps, self.settings.min_cutoff_hz, beta) for _ in range(count)]

    def __call__(self, person: PersonFrame, time_s: float) -> PersonFrame:
        if person.id not in self.filters:
            self.filters[person.id] = (self._make(51, self.settings.beta_3d), self._make(34, self.settings.beta_2d))
        in_3d, in_2d = self.filters[person.id]
        person.joints3d_mm = np.array([f(float(v), time_s) for f, v in zip(in_3d, person.joints3d_mm.ravel())])
        person.joints3d_mm = person.joints3d_mm.reshape(17, 3)
        person.joints2d_px = np.array([f(float(v), time_s) for f, v in zip(in_2d, person.joints2d_px.ravel())])
        person.joints2d_px = person.joints2d_px.reshape(17, 2)
        return person


def _person(pid: int, estimate: Estimate, scale: float) -> PersonFrame:
    pose = estimate.scaled(scale).pose
    return PersonFrame(pid, pose.joints3d_mm.copy(), pose.joints2d_px.copy(), pose.confidence.copy(), pose.crop.box)


def analyse_video(
    path: str | Path,
    estimator: Estimator,
    max_people: int = 1,
    smoothing: Smoothing | None = Smoothing(),
    max_seconds: float = MAX_SECONDS,
    retention: float | None = None,
    flip_test: bool = False,
    progress: Callable[[int, int], None] | None = None,
    fusion: str | None = None,
) -> VideoResult:
    """Every frame of the clip at ``path`` (see the module). Frames where nobody is found have no people.
    ``fusion``: how MediaPipe's 3D joins the poses (None: the estimator's).

    Stops early, keeping the frames done and saying why in ``error``, when the file ends before the frames its
    container declares (truncated), when the decoder fails, or on a KeyboardInterrupt. ``progress(done, total)``
    is called after each frame (total: the declared frame count, 0 when unknown). VideoError before the first
    frame: the file is not a usable clip.
    """
    fusion = estimator.fusion_for(fusion)
    capture, info = open_video(path, max_seconds)
    result = VideoResult(info, smoothing=smoothing, fusion=fusion)
    limit = info.frames_declared or int(max_seconds * info.fps)
    smoother = Smoother(info.fps, smoothing) if smoothing else None
    tracker = PeopleTracker(PeopleDetector(), max_people=max_people)
    try:
        for index, rgb in enumerate(read_frames(capture, limit)):
            scale = max(rgb.shape[:2]) / WORK_SIDE
            if scale > 1:
                size = (round(rgb.shape[1] / scale), round(rgb.shape[0] / scale))
                rgb = np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
            time_s = index / info.fps
            followed = tracker(rgb)
            estimates = []
            if followed:
                estimates = estimator.predict_people(
                    rgb,
                    retention,
                    flip_test=flip_test,
                    max_people=max_people,
                    refinable=False,
                    fusion=fusion,
                    poses=[pose for _, pose in followed],
                    measures=False,
                )
            people = [_person(pid, e, max(scale, 1.0)) for (pid, _), e in zip(followed, estimates)]
            if smoother is not None:
                people = [smoother(p, time_s) for p in people]
            result.frames.append(FrameResult(index, time_s, people))
            if progress is not None:
                progress(index + 1, info.frames_declared)
    except KeyboardInterrupt:
        result.error = f"interrupted after {len(result.frames)} frames; the frames done are kept"
    except cv2.error as err:
        result.error = f"the decoder failed after {len(result.frames)} frames ({err}); the frames done are kept"
    finally:
        capture.release()
        tracker.close()
        if not result.frames and result.error is None:
            result.error = f"{Path(path).name}: no frame could be decoded"
        elif info.frames_declared and len(result.frames) < info.frames_declared - 1 and result.error is None:
            result.error = (
                f"the file ended after {len(result.frames)} of the {info.frames_declared} frames it declares: "
                "truncated or damaged; the frames read are kept"
            )
    if not result.ids:
        result.notes.append("no person found in any frame")
    return result.fit_motions()
