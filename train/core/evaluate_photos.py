"""Real annotated photos as a yardstick: lbi against its lifting-only twin and MediaPipe's own 3D.

    python -m train.core.evaluate_photos ../shared/realval/h36m_s9 [MORE_DIRS...] [--weights [NAME=]W ...]
                                    [--twin [NAME=]T ...] [--blends 0.25 0.5] [--no-flip-test] [--out OUT]

A folder of photos is read in this format (a user's own annotated photos work as they are):

    DIR/
      <image files>          any format lbi reads (JPEG, PNG, ...), one person each
      gt.npz                 imgname     (T,)        file names in DIR
                             joints3d_mm (T, 17, 3)  the 17 Human3.6M joints in that image's camera
                                                     coordinates (x right, y down, z forward), mm,
                                                     in lbi.geometry.skeleton.H36M_JOINTS order
                             K           (T, 3, 3)   each image's intrinsics: K @ X projects a joint

Rows, per frame and as means (MPJPE after aligning the pelvis, and PA-MPJPE after a similarity
Procrustes, mm; on the 14 joints that Human3.6M and MPI-INF-3DHP both annotate well, and on all 17):

- ``lbi, MediaPipe 2D``: the app's path (MediaPipe finds the person, the largest one is lifted), the lifter alone;
- ``lbi, ground-truth 2D``: the joints projected with K, box and crop as for a detection;
- ``lbi + MediaPipe 3D, plain fusion`` (one row per ``--blends`` share) and, for weights that read a prior,
  ``... learned fusion``: MediaPipe's own 3D joined (``lbi.pipeline.fusion``); with ground-truth 2D, MediaPipe's 3D of
  the frame is still the one it gave with its own 2D;
- ``twin, ...``: the lifting-only twin (no image; ``weights/lifting_only.safetensors``), same 2D inputs; a twin that
  reads a prior also with MediaPipe's 3D;
- ``MediaPipe world landmarks``: MediaPipe's own 3D estimate, the peer users already have.

Every pose is compared in camera axes: the models predict along the ray through the person box's
centre and are turned back with the photo's known K, as is MediaPipe's 3D. Frames where MediaPipe finds nobody
are counted and named; the rows that need MediaPipe average the frames it found, the ground-truth rows all.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from lbi.crop.affine import seen_centre
from lbi.crop.codec import InputCodec
from lbi.geometry.camera import from_ray_frame
from lbi.geometry.metrics import mpjpe, p_mpjpe, to_mpi_eval_joints
from lbi.geometry.skeleton import NUM_JOINTS
from lbi.io.files import atomic_write_text
from lbi.io.images import ImageError, read_image
from lbi.io.weights import BUNDLED_PRIOR_LIFTER, BUNDLED_WEIGHTS, WeightsError, load_model
from lbi.model import MartinezMLP
from lbi.model.flip import flip_test
from lbi.pipeline.fusion import PLAIN_WEIGHT, learned_prior
from lbi.pose2d.landmarks import Pose2D

#: the lifting-only twin of the bundled weights (train/configs/rand/lifting_only_twin.yaml)
BUNDLED_TWIN = BUNDLED_WEIGHTS.with_name("lifting_only.safetensors")
KEYS = ("imgname", "joints3d_mm", "K")
#: the peer row: MediaPipe's own 3D pose
MEDIAPIPE_ROW = "MediaPipe world landmarks"


class PhotoSetError(ValueError):
    """A folder that is not in the format above; the message says what is wrong."""


@dataclass
class PhotoSet:
    root: Path
    names: list[str]
    joints3d_mm: np.ndarray  # (T, 17, 3) camera coordinates, mm
    K: np.ndarray  # (T, 3, 3)

    @classmethod
    def load(cls, root: str | Path) -> PhotoSet:
        root = Path(root)
        if not (root / "gt.npz").is_file():
            raise PhotoSetError(f"{root}: no gt.npz (see python -m train.core.evaluate_photos --help for the format)")
        try:
            with np.load(root / "gt.npz", allow_pickle=False) as npz:
                data = {key: npz[key] for key in npz.files}
        except (ValueError, OSError, EOFError) as err:  # not a zip, truncated, or object arrays (never unpickled)
            raise PhotoSetError(f"{root / 'gt.npz'} is not a readable .npz of plain arrays ({err})") from None
        missing = [k for k in KEYS if k not in data]
        if missing:
            raise PhotoSetError(f"{root / 'gt.npz'} lacks {missing}; it needs {list(KEYS)}")
        names = [str(n) for n in data["imgname"]]
        joints, k = np.asarray(data["joints3d_mm"], np.float64), np.asarray(data["K"], np.float64)
        t = len(names)
        if joints.shape != (t, NUM_JOINTS, 3) or k.shape != (t, 3, 3):
            raise PhotoSetError(
                f"{root / 'gt.npz'}: joints3d_mm {joints.shape} and K {k.shape} should be "
                f"({t}, {NUM_JOINTS}, 3) and ({t}, 3, 3) for its {t} images"
            )
        if not (np.isfinite(joints).all() and np.isfinite(k).all()):
            raise PhotoSetError(f"{root / 'gt.npz'}: joints3d_mm and K must be finite")
        if (joints[..., 2] <= 0).any():
            raise PhotoSetError(f"{root / 'gt.npz'}: joints must lie in front of the camera (z > 0, mm)")
        nested = [n for n in names if Path(n).name != n]
        if nested:
            raise PhotoSetError(f"{root / 'gt.npz'}: imgname holds file names in the folder, not paths: {nested[:3]}")
        absent = [n for n in names if not (root / n).is_file()]
        if absent:
            raise PhotoSetError(f"{root}: {len(absent)} image(s) named in gt.npz are missing, e.g. {absent[:3]}")
        return cls(root, names, joints, k)

    def intrinsics(self, k: int) -> np.ndarray:
        """(fx, fy, cx, cy) of frame ``k``."""
        K = self.K[k]
        return np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2]])

    def joints2d_px(self, k: int) -> np.ndarray:
        """The ground truth projected with K, (17, 2) image pixels."""
        projected = self.joints3d_mm[k] @ self.K[k].T
        return projected[:, :2] / projected[:, 2:]


def errors(pred_mm: np.ndarray, true_mm: np.ndarray) -> dict[str, float]:
    """Root-relative MPJPE and PA-MPJPE, mm, of one pose (17, 3) on the 14 and on all 17 joints."""
    pred, true = pred_mm - pred_mm[:1], true_mm - true_mm[:1]
    pred14, true14 = to_mpi_eval_joints(pred)[None], to_mpi_eval_joints(true)[None]
    return {
        "mpjpe14": float(mpjpe(pred14, true14)[0]),
        "pa14": float(p_mpjpe(pred14, true14)[0]),
        "mpjpe17": float(mpjpe(pred[None], true[None])[0]),
        "pa17": float(p_mpjpe(pred[None], true[None])[0]),
    }


class ImageLifter:
    """lbi as the app runs it (:meth:`lbi.pipeline.estimator.Estimator.lift`) on a photo and a 2D pose, with
    MediaPipe's 3D
    joining as ``fusion`` says (:data:`lbi.pipeline.fusion.FUSIONS`); ``coarse``: stage 1's pose instead of the
    refined one
    (a model whose stage 2 is not trained yet)."""

    def __init__(self, estimator, coarse: bool = False, fusion: str = "none") -> None:
        self.estimator, self.coarse, self.fusion = estimator, coarse, fusion

    def pose_mm(self, rgb: np.ndarray, pose: Pose2D, intrinsics: np.ndarray, flip: bool) -> np.ndarray | None:
        """-> (17, 3) root-relative mm in camera axes; None when the fusion needs MediaPipe's 3D and there is none."""
        if self.fusion != "none" and pose.world is None:
            return None
        estimate = self.estimator.lift(rgb, pose, flip_test=flip, intrinsics=intrinsics, fusion=self.fusion)
        return estimate.pose.coarse3d_mm if self.coarse else estimate.pose.joints3d_mm


class PoseLifter:
    """A model on a photo's 2D pose alone, the image absent: the lifting-only twin, or an image model's
    pose path (``coarse``: its stage-1 pose); with ``prior``, also MediaPipe's 3D (a model that reads one).
    Encoded by the model's codec and turned back into camera axes as lbi's poses are."""

    def __init__(self, model: torch.nn.Module, coarse: bool = False, prior: bool = False) -> None:
        self.model, self.coarse, self.prior = model.eval(), coarse, prior
        self.codec = InputCodec.for_model(model)

    def pose_mm(self, rgb: np.ndarray, pose: Pose2D, intrinsics: np.ndarray, flip: bool) -> np.ndarray | None:
        if self.prior and pose.world is None:
            return None
        crop = self.codec.crop(pose.box)
        joints2d = torch.from_numpy(self.codec.normalize(crop.to_crop(pose.joints)))[None]
        prior = None
        if self.prior:
            prior = torch.from_numpy(learned_prior(self.codec, pose.world, pose.confidence, crop.center, intrinsics))
            prior = prior[None]
        with torch.inference_mode():
            if flip:
                out = flip_test(self.model, None, joints2d, prior=prior)
            else:
                out = self.model(None, joints2d, prior=prior)
        predicted = (out.coarse if self.coarse else out.refined)[0].float().numpy() * 1000.0
        return self.codec.decode_pose(predicted - predicted[:1], seen_centre(pose.box, rgb.shape), intrinsics)


@dataclass
class Report:
    """Per-frame errors of every row, and the frames MediaPipe missed."""

    sets: list[str]
    frames: list[dict] = field(default_factory=list)  # {"set", "image", "rows": {row: {metric: mm}}}
    missed: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def rows(self) -> list[str]:
        names: list[str] = []
        for frame in self.frames:
            names += [k for k in frame["rows"] if k not in names]
        return names

    def means(self) -> dict[str, dict[str, float]]:
        """Row -> the mean of each metric over the frames that row has, and their count ``n``."""
        out = {}
        for row in self.rows():
            values = [f["rows"][row] for f in self.frames if row in f["rows"]]
            out[row] = {m: round(float(np.mean([v[m] for v in values])), 2) for m in values[0]} | {"n": len(values)}
        return out

    def markdown(self) -> str:
        lines = [
            f"# Real photos: {', '.join(self.sets)}",
            "",
            "MPJPE after aligning the pelvis and PA-MPJPE (similarity Procrustes), mm; 14 joints (those "
            "Human3.6M and MPI-INF-3DHP both annotate well) and all 17; n frames averaged.",
            "",
            "| | n | MPJPE 14 | PA-MPJPE 14 | MPJPE 17 | PA-MPJPE 17 |",
            "|---|---|---|---|---|---|",
        ]
        for row, m in self.means().items():
            lines.append(
                f"| {row} | {m['n']} | {m['mpjpe14']:.1f} | {m['pa14']:.1f} | {m['mpjpe17']:.1f} | {m['pa17']:.1f} |"
            )
        total = len(self.frames)
        lines += [
            "",
            f"MediaPipe found the person in {total - len(self.missed)} of {total} frames"
            + (f"; missed: {', '.join(self.missed)}." if self.missed else "."),
            "",
        ]
        lines += [f"{key.replace('_', ' ').capitalize()}: `{value}`" + "  " for key, value in self.info.items()]
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps(
            {"sets": self.sets, "means": self.means(), "missed": self.missed, "frames": self.frames, "info": self.info},
            indent=1,
        )


def evaluate_photos(sets: list[PhotoSet], lifters: dict, detector, flip: bool = True, progress=None) -> Report:
    """Every lifter (name -> an object with ``pose_mm(rgb, pose2d, intrinsics, flip)`` returning a pose or None) with
    MediaPipe's 2D (``detector``: callable rgb -> 2D poses, largest first: the app's
    :class:`lbi.pose2d.people.PeopleDetector`; the largest person) and with the ground
    truth's (with MediaPipe's 3D and its confidences, where it found the person), and MediaPipe's world landmarks
    (turned into camera axes as the estimator turns them), on every frame of ``sets``."""
    report = Report([s.root.name for s in sets])
    for photos in sets:
        for k, name in enumerate(photos.names):
            rgb = read_image(photos.root / name, max_side=10**6)  # no downscaling: K is in the file's pixels
            true, camera = photos.joints3d_mm[k], photos.intrinsics(k)
            people = detector(rgb)
            truth = Pose2D.from_joints(photos.joints2d_px(k))
            inputs = {"ground-truth 2D": truth}
            if people:
                found = people[0]
                inputs = {
                    "MediaPipe 2D": found,
                    "ground-truth 2D": replace(truth, confidence=found.confidence, world=found.world),
                }
            else:
                report.missed.append(f"{photos.root.name}/{name}")
            poses = {
                f"{lifter}, {source}": model.pose_mm(rgb, pose, camera, flip)
                for lifter, model in lifters.items()
                for source, pose in inputs.items()
            }
            rows = {row: errors(pose, true) for row, pose in poses.items() if pose is not None}
            if people and people[0].world is not None:
                world = people[0].world
                rows[MEDIAPIPE_ROW] = errors(from_ray_frame(world, seen_centre(people[0].box, rgb.shape), camera), true)
            report.frames.append(
                {
                    "set": photos.root.name,
                    "image": name,
                    "rows": {r: {m: round(v, 2) for m, v in e.items()} for r, e in rows.items()},
                }
            )
            if progress is not None:
                progress()
    return report


def photo_report(dirs: Sequence[str | Path], lifters: dict, flip: bool = True, show_progress: bool = False) -> Report:
    """:func:`evaluate_photos` on folders, with the app's 2D pass and the time it took."""
    from tqdm import tqdm

    from lbi.pose2d.people import PeopleDetector

    sets = [PhotoSet.load(d) for d in dirs]
    started, cpu = time.perf_counter(), time.process_time()
    detector = PeopleDetector()
    with tqdm(total=sum(len(s.names) for s in sets), unit="photo", disable=not show_progress) as bar:
        report = evaluate_photos(sets, lifters, detector, flip, progress=bar.update)
    detector.close()
    report.info.update(
        flip_test=flip, seconds=round(time.perf_counter() - started, 1), cpu_seconds=round(time.process_time() - cpu, 1)
    )
    return report


def lifters_of(
    model: torch.nn.Module,
    name: str,
    coarse: bool = False,
    image_absent: bool = True,
    blends: tuple[float, ...] = (PLAIN_WEIGHT,),
    prior_lifter: MartinezMLP | None = None,
) -> dict[str, ImageLifter | PoseLifter]:
    """The rows a model gives. An image model: as the app runs it alone, with MediaPipe's 3D in a plain fusion (one
    row per MediaPipe share in ``blends``), in the learned fusion (a model that reads a prior), in the ensemble
    with ``prior_lifter`` (when given), and (``image_absent``) its pose path with the image absent. A lifting-only
    model: on the 2D pose alone, and with MediaPipe's 3D (one that reads a prior). ``coarse``: stage 1's pose, for a
    model whose stage 2 is untrained."""
    from lbi.model import LiftingByImage
    from lbi.pipeline.estimator import Estimator

    rows: dict[str, ImageLifter | PoseLifter]

    model = model.float().cpu().eval()
    takes_prior = bool(getattr(model.config, "prior", False))
    if isinstance(model, LiftingByImage):
        alone = Estimator(model=model, device="cpu", fusion="none")
        rows = {name: ImageLifter(alone, coarse)}
        for blend in blends:
            estimator = Estimator(model=model, device="cpu", fusion="none", blend=blend, detector=alone.detector)
            label = "plain fusion" if blend == PLAIN_WEIGHT else f"plain fusion, w = {blend:g}"
            rows[f"{name} + MediaPipe 3D, {label}"] = ImageLifter(estimator, coarse, "plain")
        if takes_prior:
            rows[f"{name} + MediaPipe 3D, learned fusion"] = ImageLifter(alone, coarse, "learned")
        if prior_lifter is not None:
            ensemble = Estimator(model=model, device="cpu", prior_lifter=prior_lifter, detector=alone.detector)
            rows[f"{name} + MediaPipe 3D, ensemble"] = ImageLifter(ensemble, coarse, "ensemble")
        if image_absent:
            rows[f"{name}, image absent"] = PoseLifter(model, coarse)
        return rows
    rows = {name: PoseLifter(model, coarse)}
    if takes_prior:
        rows[f"{name} + MediaPipe 3D"] = PoseLifter(model, coarse, prior=True)
    return rows


def measure(dirs: list[str], models: dict, out: Path, coarse: bool = False, **info) -> Report | None:
    """The rows of ``models`` (name -> model, :func:`lifters_of`; ``coarse``: stage 1's poses) on the photos of
    ``dirs`` written to ``out``.md / .json (``info`` added to it); None, with the reason printed, when a folder is not
    there or not in the format."""
    lifters = {}
    for name, model in models.items():
        lifters.update(lifters_of(model, name, coarse))
    try:
        report = photo_report(dirs, lifters)
    except PhotoSetError as err:
        print(f"real photos skipped: {err}")
        return None
    report.info.update(info)
    atomic_write_text(out.with_suffix(".md"), report.markdown())
    atomic_write_text(out.with_suffix(".json"), report.to_json())
    return report


def named_files(items: list[str], default_name: str) -> dict[str, str]:
    """``NAME=FILE`` or ``FILE`` items -> {name: file}; a bare file is named ``default_name`` (its stem if several)."""
    named = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            name, path = (default_name if len(items) == 1 else Path(item).stem), item
        named[name] = path
    return named


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.core.evaluate_photos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dirs", nargs="+", help="folders of annotated photos (format above)")
    parser.add_argument(
        "--weights",
        nargs="+",
        default=None,
        metavar="[NAME=]FILE",
        help="lbi model file(s), rows named NAME (default: the bundled weights, named lbi)",
    )
    parser.add_argument(
        "--twin",
        nargs="+",
        default=None,
        metavar="[NAME=]FILE",
        help="lifting-only model file(s) ('none' to leave the twin's rows out; default: the bundled twin, if any)",
    )
    parser.add_argument(
        "--image-absent",
        action="store_true",
        help="also lbi's pose path alone (the image absent): what the image adds or costs",
    )
    parser.add_argument(
        "--prior-lifter",
        default=None,
        metavar="FILE",
        help="the ensemble's lifting-only model that reads MediaPipe's 3D ('none': no ensemble rows; default: the "
        "bundled one, if any)",
    )
    parser.add_argument(
        "--blends",
        nargs="+",
        type=float,
        default=[PLAIN_WEIGHT],
        metavar="W",
        help=f"MediaPipe's shares in the plain fusion, a row each (default {PLAIN_WEIGHT})",
    )
    parser.add_argument("--no-flip-test", action="store_true", help="lift each crop alone, not also its mirror")
    parser.add_argument(
        "--coarse", action="store_true", help="lbi's stage-1 pose (as a stage-1 training run reports it), not stage 2's"
    )
    parser.add_argument("--out", default=None, help="write OUT.md and OUT.json (atomically)")
    args = parser.parse_args(argv)

    from lbi.io.weights import default_weights
    from lbi.pipeline.estimator import load_prior_lifter

    weights = named_files(args.weights or [str(default_weights())], "lbi")
    ensemble = args.prior_lifter or (str(BUNDLED_PRIOR_LIFTER) if BUNDLED_PRIOR_LIFTER.is_file() else "none")
    twins = [] if args.twin == ["none"] else args.twin or ([str(BUNDLED_TWIN)] if BUNDLED_TWIN.is_file() else [])
    twin = named_files(twins, "twin")
    try:
        for folder in args.dirs:  # the folders first: a wrong path is told before the models load
            PhotoSet.load(folder)
        lifters = {}
        partner = None if ensemble == "none" else load_prior_lifter(ensemble)
        for name, path in {**weights, **twin}.items():
            model = load_model(path)
            lifters.update(lifters_of(model, name, args.coarse, args.image_absent, tuple(args.blends), partner))
        report = photo_report(args.dirs, lifters, flip=not args.no_flip_test, show_progress=True)
    except (PhotoSetError, WeightsError, ImageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    report.info = {
        "weights": weights,
        "twin": twin or None,
        "prior_lifter": None if ensemble == "none" else ensemble,
        **report.info,
        "command": " ".join(["python -m train.core.evaluate_photos", *(sys.argv[1:] if argv is None else argv)]),
    }
    print(report.markdown())
    if args.out:
        atomic_write_text(f"{args.out}.md", report.markdown())
        atomic_write_text(f"{args.out}.json", report.to_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
