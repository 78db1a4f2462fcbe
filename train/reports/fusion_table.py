"""lbi and MediaPipe's own 3D, every way of joining them, on real photos and on the synthetic test splits:

    python -m train.reports.fusion_table [--photos ../shared/realval/h36m_s9] [--data data/small]
                                 [--lbi W] [--learned W] [--twin W] [--twin-prior W] [--out train/results/fusion]

Rows (MPJPE and PA-MPJPE, mm, 14 and 17 joints, n samples):

- ``lbi``: the paper's lifter alone (the bundled weights);
- ``lbi + MediaPipe 3D, plain fusion`` at MediaPipe shares 0.25, 0.5 (the default) and 0.75 (``lbi.pipeline.fusion``);
- ``lbi-fused + MediaPipe 3D, learned fusion``: the lifter that reads MediaPipe's 3D as a prior, and ``lbi-fused``,
  the same weights lifting without it (a user's own 2D pose); the coarse pose of a file from a stage-1 run;
- ``twin`` and ``twin-prior (+ MediaPipe 3D)``: the lifting-only MLP without and with the prior (is the image still
  worth it once a 3D prior is there?);
- ``lbi + MediaPipe 3D, ensemble``: the plain fusion averaged with twin-prior's pose (the shipped default);
- ``MediaPipe world landmarks``: its own 3D.

Real photos (``train.core.evaluate_photos``, MediaPipe's 2D and the ground truth's, per frame in the JSON) go to
OUT_realval.md / .json with the frames where MediaPipe's 3D drags the fusion most; the synthetic splits (rand and
photo test crops of ``--data``, MediaPipe's 2D, the flip test; MediaPipe's 3D on the crops, which is far worse there
than on real photos: train/results/mediapipe_3d.md) to OUT_synth.md / .json. A weights file that is not there
(``runs/`` is not in git) leaves the table unwritten: committed tables are never replaced by partial ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from lbi.data.format import PreparedData
from lbi.io.files import atomic_write_text
from lbi.io.weights import BUNDLED_PRIOR_LIFTER, BUNDLED_WEIGHTS, load_model, read_header
from lbi.model import MartinezMLP
from lbi.pipeline.fusion import PLAIN_WEIGHT, fuse

from .. import DOCS, RESULTS
from ..core.evaluate import EvalResult, mediapipe_peer, predict, results_markdown, summarise
from ..core.evaluate_photos import BUNDLED_TWIN, MEDIAPIPE_ROW, lifters_of, photo_report
from ..core.features import model_dataset
from ..release.model_card import replace_fusion_section

BLENDS = (0.25, PLAIN_WEIGHT, 0.75)
#: the learned fusion's run (train/configs/fusion/; the line stopped after stage 1: docs/results.md)
LEARNED = "runs/fusion/lbi_prior_stage1_low_noise/model.safetensors"
TWIN_PRIOR = str(BUNDLED_PRIOR_LIFTER)
PHOTOS = "../shared/realval/h36m_s9"
SPLITS = ("rand", "photo")


FIGURE = DOCS / "fusion_worst_frame.png"


def worst_frame_figure(photos: list[str], image: str, lifter, out: Path) -> None:
    """Front and side views of one real frame's poses: the truth, lbi alone, MediaPipe's and the ensemble's
    (skeletons only: the photo itself is not drawn), aligned at the pelvis, in camera axes; written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lbi.geometry.skeleton import BONES
    from lbi.io.images import read_image
    from lbi.views.draw import to_display

    from ..core.evaluate_photos import PhotoSet

    sets = [PhotoSet.load(p) for p in photos]
    photo_set = next(s for s in sets if image in s.names)
    k = photo_set.names.index(image)
    rgb = read_image(photo_set.root / image, max_side=10**6)
    estimator = lifter.estimator
    person = estimator.detect(rgb)[0]
    camera = photo_set.intrinsics(k)
    fused = estimator.lift(rgb, person, intrinsics=camera, fusion="ensemble").pose
    alone = estimator.lift(rgb, person, intrinsics=camera, fusion="none").pose
    truth = photo_set.joints3d_mm[k] - photo_set.joints3d_mm[k][:1]
    poses = {
        "truth": (truth, "black"),
        "lbi alone": (alone.joints3d_mm, "tab:blue"),
        "MediaPipe's 3D": (fused.mediapipe3d_mm, "tab:orange"),
        "ensemble (default)": (fused.joints3d_mm, "tab:green"),
    }
    figure, axes = plt.subplots(1, 2, figsize=(8, 4.6))
    for ax, (u, label) in zip(axes, ((0, "front (x, up)"), (1, "side (depth, up)"))):
        for name, (pose, colour) in poses.items():
            points = to_display(pose)  # x right, y depth, z up
            for child, parent in BONES:
                ax.plot(points[[child, parent], u], points[[child, parent], 2], color=colour, lw=2)
            ax.plot([], [], color=colour, lw=2, label=name)
        ax.set_title(label, fontsize=10)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(fontsize=8, loc="lower left")
    figure.suptitle(f"{image}: where MediaPipe's 3D drags the fusion (mm, pelvis at 0)", fontsize=10)
    figure.tight_layout()
    from lbi.io.files import atomic_path

    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", dpi=90)
    plt.close(figure)


def stage1_only(path: Path) -> bool:
    """Whether a model file comes from a stage-1 run (its stage 2 untrained: its coarse pose is its answer)."""
    return read_header(path)["extra"].get("training", {}).get("mode") == "stage1"


def worst_frames(report: dict, fused: str, alone: str, count: int = 3) -> list[dict]:
    """The frames where the row ``fused`` is most behind ``alone`` in PA-MPJPE (14 joints), with both rows' errors."""
    frames = [f for f in report["frames"] if fused in f["rows"] and alone in f["rows"]]
    frames.sort(key=lambda f: f["rows"][alone]["pa14"] - f["rows"][fused]["pa14"])
    return [
        {
            "image": f["image"],
            fused: f["rows"][fused],
            alone: f["rows"][alone],
            MEDIAPIPE_ROW: f["rows"].get(MEDIAPIPE_ROW),
        }
        for f in frames[:count]
    ]


def realval(photos: list[str], models: dict[str, Path]) -> tuple[str, dict]:
    """Every row on the real photos: markdown and JSON (with the worst frames of each fusion)."""
    partner = load_model(models["twin_prior"])
    assert isinstance(partner, MartinezMLP)  # the lifting-only twin that reads MediaPipe's 3D
    lifters = lifters_of(load_model(models["lbi"]), "lbi", image_absent=False, blends=BLENDS, prior_lifter=partner)
    coarse = stage1_only(models["learned"])
    lifters.update(lifters_of(load_model(models["learned"]), "lbi-fused", coarse, image_absent=False, blends=()))
    lifters.update(lifters_of(load_model(models["twin"]), "twin"))
    lifters.update(lifters_of(load_model(models["twin_prior"]), "twin-prior"))
    report = photo_report(photos, lifters)
    payload = json.loads(report.to_json())
    alone = "lbi, MediaPipe 2D"
    worst = {
        fused: worst_frames(payload, fused, alone)
        for fused in (
            "lbi + MediaPipe 3D, ensemble, MediaPipe 2D",
            "lbi + MediaPipe 3D, plain fusion, MediaPipe 2D",
            "lbi-fused + MediaPipe 3D, learned fusion, MediaPipe 2D",
        )
    }
    payload["worst_frames"] = worst
    ensemble = "lbi + MediaPipe 3D, ensemble, MediaPipe 2D"
    if worst[ensemble]:
        worst_frame_figure(
            photos, worst[ensemble][0]["image"], lifters[ensemble.removesuffix(", MediaPipe 2D")], FIGURE
        )
    lines = [report.markdown(), "## Where MediaPipe's 3D drags the fusion", ""]
    lines += [f"The worst frame of the ensemble, drawn: [`docs/{FIGURE.name}`](../../docs/{FIGURE.name}).", ""]
    for fused, frames in worst.items():
        lines.append(f"- **{fused}**, PA-MPJPE 14 behind lbi alone the most:")
        for f in frames:
            mediapipe = f[MEDIAPIPE_ROW]["pa14"] if f[MEDIAPIPE_ROW] else "-"
            lines.append(
                f"  - `{f['image']}`: fused {f[fused]['pa14']:.1f}, lbi alone {f[alone]['pa14']:.1f}, "
                f"MediaPipe {mediapipe}"
            )
    return "\n".join(lines) + "\n", payload


def fusion_rows(model, dataset, partner, partner_dataset) -> dict[str, EvalResult]:
    """``model``'s poses joined with MediaPipe's 3D on the same crops (all in the model's axes): the plain fusion per
    MediaPipe share (BLENDS) and the ensemble with ``partner``'s poses; crops without MediaPipe's 3D are left out."""
    pred = predict(model, dataset, flip=True)
    learned = predict(partner, partner_dataset, flip=True)["refined"]
    assert dataset.prior is not None and np.array_equal(dataset.rows, partner_dataset.rows)
    prior = dataset.prior * 1000.0  # the model's axes, mm: the fusion needs no camera
    confidence = dataset.data.ann["confidence_mediapipe"][pred["index"]]
    has = np.isfinite(prior).all(axis=(1, 2))
    kinds = {
        ("plain fusion" if blend == PLAIN_WEIGHT else f"plain fusion, w = {blend:g}"): ("plain", blend)
        for blend in BLENDS
    }
    kinds["ensemble"] = ("ensemble", PLAIN_WEIGHT)
    rows = {}
    for label, (fusion, blend) in kinds.items():
        fused = np.stack(
            [fuse(fusion, p, q, c, t, blend) for p, q, c, t in zip(pred["refined"], prior, confidence, learned)]
        )
        picked = {"refined": fused[has], "coarse": fused[has], "target": pred["target"][has]}
        picked["background"] = np.full(int(has.sum()), np.nan)
        rows[f"lbi + MediaPipe 3D, {label}"] = summarise(picked)
    return rows


def synthetic(data: Path, models: dict[str, Path]) -> dict[str, dict[str, EvalResult]]:
    """Every row on the rand and photo test crops with MediaPipe's 2D (the crops where it found the person)."""
    lbi, learned = load_model(models["lbi"]), load_model(models["learned"])
    twin, twin_prior = load_model(models["twin"]), load_model(models["twin_prior"])
    table: dict[str, dict[str, EvalResult]] = {}
    for split in SPLITS:
        data_split = PreparedData(data / split)
        name = f"{split}-test"
        coarse = stage1_only(models["learned"])  # its coarse pose (no flip test then), else the flip test
        plain = model_dataset(lbi, data_split, "test", "mediapipe", cache="build", mirrored=True, prior=True)
        fused = model_dataset(learned, data_split, "test", "mediapipe", cache="build", mirrored=True)
        plain_only = model_dataset(twin, data_split, "test", "mediapipe")
        prior_only = model_dataset(twin_prior, data_split, "test", "mediapipe")
        results = {
            "lbi": predict_result(lbi, plain),
            **fusion_rows(lbi, plain, twin_prior, prior_only),
            "lbi-fused + MediaPipe 3D, learned fusion": summarise(
                predict(learned, fused, coarse_only=coarse, flip=not coarse)
            ),
            "lbi-fused": summarise(predict(learned, fused, coarse_only=coarse, flip=not coarse, use_prior=False)),
            "twin": predict_result(twin, plain_only),
            "twin-prior + MediaPipe 3D": predict_result(twin_prior, prior_only),
            "twin-prior": predict_result(twin_prior, prior_only, use_prior=False),
        }
        peer = mediapipe_peer(plain)
        if peer is not None:
            results[MEDIAPIPE_ROW] = peer
        for row, result in results.items():
            table.setdefault(row, {})[name] = result
    return table


def predict_result(model, dataset, **kwargs) -> EvalResult:
    """``model`` on ``dataset`` with the flip test, summarised."""
    return summarise(predict(model, dataset, flip=True, **kwargs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.reports.fusion_table",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--photos", nargs="*", default=[PHOTOS], help="folders of annotated real photos")
    parser.add_argument("--data", default="data/small", help="the prepared rand and photo test splits")
    parser.add_argument("--lbi", default=str(BUNDLED_WEIGHTS), help="the paper's lifter")
    parser.add_argument("--learned", default=LEARNED, help="the lifter that reads MediaPipe's 3D")
    parser.add_argument("--twin", default=str(BUNDLED_TWIN), help="the lifting-only twin")
    parser.add_argument("--twin-prior", default=TWIN_PRIOR, help="the lifting-only twin that reads MediaPipe's 3D")
    parser.add_argument("--out", default="train/results/fusion")
    args = parser.parse_args(argv)
    models = {k: Path(getattr(args, k)) for k in ("lbi", "learned", "twin", "twin_prior")}
    absent = [str(p) for p in models.values() if not p.is_file()]
    if absent:
        print(
            f"error: {', '.join(absent)} not there (train them first: docs/training.md); nothing written",
            file=sys.stderr,
        )
        return 2
    command = " ".join(["python -m train.reports.fusion_table", *(sys.argv[1:] if argv is None else argv)])
    info = {"command": command, **{k: str(v) for k, v in models.items()}}
    started, cpu = time.perf_counter(), time.process_time()
    if all(Path(p, "gt.npz").is_file() for p in args.photos):
        text, payload = realval(args.photos, models)
        timing = {
            "seconds": round(time.perf_counter() - started, 1),
            "cpu_seconds": round(time.process_time() - cpu, 1),
        }
        payload["info"].update(info | timing)
        atomic_write_text(f"{args.out}_realval.md", text + f"\nCommand: `{command}`\n")
        atomic_write_text(f"{args.out}_realval.json", json.dumps(payload, indent=1))
        if Path(args.out).resolve() == (RESULTS / "fusion").resolve():  # the committed tables: the card follows
            replace_fusion_section(BUNDLED_WEIGHTS.with_name("MODEL_CARD.md"), payload)
        print(text)
    else:
        print(f"real photos skipped: {args.photos} not there")
    started, cpu = time.perf_counter(), time.process_time()
    table = synthetic(Path(args.data), models)
    timing = {"seconds": round(time.perf_counter() - started, 1), "cpu_seconds": round(time.process_time() - cpu, 1)}
    text = results_markdown(table, "lbi and MediaPipe's 3D on the synthetic test splits (MediaPipe 2D)")
    payload = {"info": info | timing, "results": {r: {s: vars(e) for s, e in v.items()} for r, v in table.items()}}
    atomic_write_text(f"{args.out}_synth.md", text + f"\nCommand: `{command}`; {timing}\n")
    atomic_write_text(f"{args.out}_synth.json", json.dumps(payload, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
