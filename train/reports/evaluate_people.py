"""Finding everyone in a photo: recall and phantoms of a multi-person 2D detector on annotated photos.

    python -m train.reports.evaluate_people FOLDER [FOLDER...] [--max-people 8] [--no-windows] [--out OUT]

A folder holds photos and ``gt.json`` (the format of ``../shared/multival``)::

    {"joints": [12 names: left_shoulder, right_shoulder, left_elbow, right_elbow, left_wrist, right_wrist,
                left_hip, right_hip, left_knee, right_knee, left_ankle, right_ankle],
     "images": [{"image": file name, "source": any label (e.g. "coco"),
                 "people": [{"box": [x, y, w, h] px, "joints": [[x, y, labelled 0/1] x 12]}]}]}

The measure:

- an annotated person **counts** when at least 6 of their 12 joints are labelled;
- a found person **matches** an annotated one when at least half of that person's labelled joints lie within
  0.15 x the longer side of its box of the found person's corresponding joint (left and right may be swapped as
  a whole); matching is one-to-one, greedily by that share;
- **recall** = matched / counted people; a **phantom** is a found person who matches no annotated person, not
  even a barely annotated one, at a quarter of the joints. Found people who are neither matched nor phantoms
  (a second find of someone already matched, someone barely annotated) are listed as ``other``.

A found person's 12 joints are MediaPipe's landmarks 11-16 and 23-28 (shoulders, elbows, wrists, hips, knees,
ankles); a pose without landmarks (:meth:`lbi.pose2d.landmarks.Pose2D.from_joints`) uses its H36M joints instead.
The people are found as the app, ``lbi predict`` and ``lbi video`` find them
(:class:`lbi.pose2d.people.PeopleDetector`);
``--no-windows``: its detector sees the whole photo only, as MediaPipe's legacy graph does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lbi.io.files import atomic_write_text
from lbi.io.images import ImageError, read_photo
from lbi.pose2d.landmarks import Pose2D

JOINTS = (
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
#: MediaPipe's landmarks for the 12 joints, in JOINTS order
LANDMARKS = (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
#: the H36M joints for them (lbi.geometry.skeleton.H36M_JOINTS), for poses without landmarks
H36M = (11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3)
#: JOINTS with left and right swapped
SWAP = (1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10)
#: a person counts with at least this many labelled joints
MIN_LABELLED = 6
#: a joint is found within this share of the longer side of the person's box
RADIUS = 0.15
#: shares of a person's labelled joints for a match, and for a found person not to be a phantom
MATCH_SHARE, PHANTOM_SHARE = 0.5, 0.25

Detector = Callable[[np.ndarray], list[Pose2D]]


class PeopleSetError(ValueError):
    """A folder that is not in the format above; the message says what is wrong."""


@dataclass
class Annotated:
    box: tuple[float, float, float, float]  # (x, y, w, h) px
    joints: np.ndarray  # (12, 2) px
    labelled: np.ndarray  # (12,) bool

    @property
    def counts(self) -> bool:
        return int(self.labelled.sum()) >= MIN_LABELLED


@dataclass
class AnnotatedImage:
    name: str
    source: str
    people: list[Annotated]


def load_folder(root: str | Path) -> list[AnnotatedImage]:
    """A folder's gt.json, checked; raises :class:`PeopleSetError` saying what is wrong."""
    root = Path(root)
    if not root.is_dir():
        raise PeopleSetError(f"{root}: no such folder")
    path = root / "gt.json"
    if not path.is_file():
        raise PeopleSetError(f"{root}: no gt.json (see python -m train.reports.evaluate_people --help for the format)")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise PeopleSetError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise PeopleSetError(f"{path}: expected an object with an 'images' list")
    if "joints" in data and list(data["joints"]) != list(JOINTS):
        raise PeopleSetError(f"{path}: 'joints' should be {list(JOINTS)}")
    images = []
    for k, entry in enumerate(data["images"]):
        try:
            name = str(entry["image"])
            people = []
            for person in entry["people"]:
                box = tuple(float(v) for v in person["box"])
                joints = np.asarray(person["joints"], dtype=np.float64)
                if len(box) != 4 or joints.shape != (len(JOINTS), 3) or not np.isfinite(joints).all():
                    raise ValueError("a person needs a box [x, y, w, h] and 12 finite [x, y, labelled] joints")
                people.append(Annotated(box, joints[:, :2], joints[:, 2] > 0))
        except (KeyError, TypeError, ValueError) as err:
            raise PeopleSetError(f"{path}: image entry {k} is not in the format ({err})") from None
        if Path(name).name != name:
            raise PeopleSetError(f"{path}: 'image' holds file names in the folder, not paths: {name!r}")
        if not (root / name).is_file():
            raise PeopleSetError(f"{root}: the image {name!r} named in gt.json is missing")
        images.append(AnnotatedImage(name, str(entry.get("source", "")), people))
    return images


def twelve_joints(pose: Pose2D) -> np.ndarray:
    """A found person's 12 joints (12, 2) px, in JOINTS order."""
    if len(pose.landmarks) >= max(LANDMARKS) + 1:
        return np.asarray(pose.landmarks, np.float64)[list(LANDMARKS)]
    return np.asarray(pose.joints, np.float64)[list(H36M)]


def share(found: np.ndarray, person: Annotated) -> float:
    """The share of ``person``'s labelled joints that ``found`` (12, 2) px has within the radius (the better of
    found as it is and with left and right swapped); 0 for a person without labelled joints."""
    if not person.labelled.any():
        return 0.0
    radius = RADIUS * max(person.box[2], person.box[3])
    best = 0.0
    for joints in (found, found[list(SWAP)]):
        near = np.linalg.norm(joints - person.joints, axis=1) <= radius
        best = max(best, float(near[person.labelled].mean()))
    return best


@dataclass
class ImageResult:
    name: str
    source: str
    counted: int
    found: int
    matched: int
    phantoms: int
    other: int
    #: per annotated person: whether they count, the found person matched to them (index into the found list,
    #: or None) and that share
    people: list[dict] = field(default_factory=list)
    ms: float = 0.0


def match(found: Sequence[np.ndarray], people: Sequence[Annotated]) -> tuple[dict[int, int], list[int], np.ndarray]:
    """found (12, 2) px each, annotated people -> (found index -> person index, one-to-one, greedily by share,
    among counted people with at least MATCH_SHARE; the unmatched found people who are phantoms; shares (F, P))."""
    shares = np.array([[share(f, p) for p in people] for f in found]).reshape(len(found), len(people))
    pairs = [
        (shares[i, j], i, j)
        for i in range(len(found))
        for j in range(len(people))
        if people[j].counts and shares[i, j] >= MATCH_SHARE
    ]
    pairs.sort(key=lambda t: -t[0])  # stable: ties in found, then person order
    matched: dict[int, int] = {}
    taken: set[int] = set()
    for _, i, j in pairs:
        if i not in matched and j not in taken:
            matched[i] = j
            taken.add(j)
    phantoms = [i for i in range(len(found)) if i not in matched and not (shares[i] >= PHANTOM_SHARE).any()]
    return matched, phantoms, shares


def evaluate_image(image: AnnotatedImage, poses: Sequence[Pose2D], ms: float = 0.0) -> ImageResult:
    found = [twelve_joints(p) for p in poses]
    matched, phantoms, shares = match(found, image.people)
    by_person = {j: i for i, j in matched.items()}
    people = [
        {
            "counts": person.counts,
            "labelled": int(person.labelled.sum()),
            "found": by_person.get(j),
            "share": round(float(shares[by_person[j], j]), 3) if j in by_person else None,
            "best_share": round(float(shares[:, j].max()), 3) if len(found) else 0.0,
        }
        for j, person in enumerate(image.people)
    ]
    counted = sum(p.counts for p in image.people)
    other = len(found) - len(matched) - len(phantoms)
    return ImageResult(image.name, image.source, counted, len(found), len(matched), len(phantoms), other, people, ms)


@dataclass
class PeopleReport:
    detector: str
    images: list[ImageResult]
    info: dict = field(default_factory=dict)

    def totals(self, source: str | None = None) -> dict:
        rows = [r for r in self.images if source is None or r.source == source]
        counted, matched = sum(r.counted for r in rows), sum(r.matched for r in rows)
        return {
            "images": len(rows),
            "counted": counted,
            "matched": matched,
            "recall": matched / counted if counted else None,
            "found": sum(r.found for r in rows),
            "phantoms": sum(r.phantoms for r in rows),
            "other": sum(r.other for r in rows),
            "median_ms": float(np.median([r.ms for r in rows])) if rows else None,
        }

    @property
    def sources(self) -> list[str]:
        return sorted({r.source for r in self.images})

    def markdown(self) -> str:
        head = "| {} | counted | matched | recall | found | phantoms | other | ms |\n|---|---|---|---|---|---|---|---|"

        def row(name: str, t: dict) -> str:
            recall = "-" if t["recall"] is None else f"{t['recall']:.2f}"
            ms = t.get("median_ms", t.get("ms", 0.0)) or 0.0
            return (
                f"| {name} | {t['counted']} | {t['matched']} | {recall} | {t['found']} | {t['phantoms']} "
                f"| {t['other']} | {ms:.0f} |"
            )

        lines = [f"## {self.detector}", "", head.format("image")]
        for r in self.images:
            t = {**vars(r), "recall": r.matched / r.counted if r.counted else None}
            lines.append(row(f"{r.name} ({r.source})", t))
        lines += ["", head.format("overall")]
        for source in self.sources:
            lines.append(row(source, self.totals(source)))
        total = self.totals()
        lines.append(row(f"**all** ({total['images']} images)", total))
        lines += ["", "ms: the detector's time per photo (per source and overall: the median)."]
        if self.info:
            lines += [""] + [f"- {k}: {v}" for k, v in self.info.items()]
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps(
            {
                "detector": self.detector,
                "overall": self.totals(),
                "sources": {s: self.totals(s) for s in self.sources},
                "images": [vars(r) for r in self.images],
                "info": self.info,
            },
            indent=1,
        )


def evaluate_people(folders: Sequence[str | Path], detect: Detector, name: str = "detector") -> PeopleReport:
    """Runs ``detect`` (an RGB image -> a list of Pose2D) on every annotated photo in ``folders``."""
    sets = [(Path(folder), load_folder(folder)) for folder in folders]  # every folder checked before any detection
    results = []
    for root, images in sets:
        for image in images:
            photo = read_photo(root / image.name)
            start = time.perf_counter()
            poses = detect(photo.rgb)
            ms = 1000 * (time.perf_counter() - start)
            scale = photo.original_size[0] / photo.rgb.shape[1]  # photos read at a reduced working size
            if scale != 1.0:
                poses = [_scaled(p, scale) for p in poses]
            results.append(evaluate_image(image, poses, ms))
    return PeopleReport(name, results)


def _scaled(pose: Pose2D, scale: float) -> Pose2D:
    return Pose2D(
        pose.joints * scale,
        pose.confidence,
        pose.landmarks * scale,
        pose.visibility,
        tuple(v * scale for v in pose.box),  # type: ignore[arg-type]
        pose.world,
        None,
    )


def build_detector(max_people: int, with_windows: bool = True) -> Detector:
    """The app's 2D pass (:class:`lbi.pose2d.people.PeopleDetector`), at most ``max_people`` per photo."""
    from lbi.pose2d.people import PeopleDetector

    people = PeopleDetector(with_windows=with_windows)
    return lambda rgb: people(rgb, max_people=max_people)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.reports.evaluate_people",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dirs", nargs="+", help="folders of annotated photos (format above)")
    parser.add_argument("--max-people", type=int, default=8, help="the most people a photo may give (default 8)")
    parser.add_argument(
        "--no-windows", action="store_true", help="the detector sees the whole photo only (as MediaPipe's legacy graph)"
    )
    parser.add_argument("--out", default=None, help="write OUT.md and OUT.json (atomically)")
    args = parser.parse_args(argv)
    if args.max_people < 1:
        parser.error("--max-people must be at least 1")
    try:
        for folder in args.dirs:  # the folders first: a wrong path is told before the networks load
            load_folder(folder)
        name = "lbi.pose2d.people" + (" (whole photo only)" if args.no_windows else "")
        detect = build_detector(args.max_people, not args.no_windows)
        started, cpu = time.perf_counter(), time.process_time()
        report = evaluate_people(args.dirs, detect, name)
    except (PeopleSetError, ImageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    report.info = {
        "max_people": args.max_people,
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "command": " ".join(["python -m train.reports.evaluate_people", *(sys.argv[1:] if argv is None else argv)]),
    }
    print(report.markdown())
    if args.out:
        atomic_write_text(f"{args.out}.md", report.markdown())
        atomic_write_text(f"{args.out}.json", report.to_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
