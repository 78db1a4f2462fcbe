"""Evaluation: MPJPE, P-MPJPE, PCK, AUC, bone lengths and background attention per split, and results tables.

python -m train.core.evaluate --weights runs/x/model.safetensors --data lab-test=data/lbi-synth/lab:test
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from lbi.data.dataset import PRIOR_KEY, Batch, PoseDataset
from lbi.geometry.metrics import (
    attention_share,
    auc,
    bone_length_error,
    circle_background,
    forearm_ratio,
    joint_errors,
    mpjpe,
    p_mpjpe,
    pck,
    peak_near_joint,
    peak_on_person,
    per_action_mean,
    silhouette_background,
    to_mpi_eval_joints,
)
from lbi.io.files import atomic_write_text
from lbi.model import LiftingByImage, LiftingOutput
from lbi.model.flip import flip_test
from lbi.model.selection import retention_rate


@dataclass
class EvalResult:
    samples: int
    mpjpe: float  # mm, refined pose, Protocol 1
    p_mpjpe: float  # mm, Protocol 2
    pck: float  # %, 3DHP protocol (14 joints, 150 mm)
    auc: float  # %
    mpjpe_coarse: float  # mm, stage-1 pose (== mpjpe for one-stage models)
    background_attention: float | None  # share of last stage-1 attention outside 30-px circles
    per_action: dict[str, float] = field(default_factory=dict)
    #: per stage-1 layer: where the attention looks, each share next to uniform attention's (see ATTENTION_METRICS)
    attention: dict[str, dict[str, float]] = field(default_factory=dict)
    bone_error: float | None = None  # mm, mean |predicted - true| bone length (None in tables from before it)
    forearm_ratio: float | None = None  # median predicted / true forearm length


#: per stage-1 layer, averaged over samples (and keypoints): the share of attention outside the 30-px
#: joint circles (the paper's "background") and off the silhouette, each with the level of uniform
#: attention on the same crops; and the share of keypoints whose most-attended token is within 30 px
#: of their own joint, and on the person (silhouette only on synthetic data)
ATTENTION_METRICS = (
    "off_circles",
    "off_circles_uniform",
    "off_silhouette",
    "off_silhouette_uniform",
    "peak_near_joint",
    "peak_on_person",
)


def attention_metrics(
    stage1_attention: list[torch.Tensor],
    grid: tuple[int, int],
    stride: int,
    joints_px: np.ndarray,
    silhouettes: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Per-sample ATTENTION_METRICS of each stage-1 layer (heads averaged): keys ``<layer>/<metric>``.
    joints_px (B, N, 2): the true joints in crop pixels; silhouettes (B, h, w) or None."""
    h, w = grid
    circles = circle_background(joints_px, grid, stride)
    body = silhouette_background(silhouettes, stride) if silhouettes is not None else None
    out = {}
    for i, attn in enumerate(stage1_attention):
        maps = attn.float().mean(dim=1).cpu().numpy().reshape(len(joints_px), -1, h, w)
        values = {
            "off_circles": attention_share(maps, circles),
            "off_circles_uniform": circles.mean(axis=(1, 2)),
            "peak_near_joint": peak_near_joint(maps, joints_px, stride),
        }
        if body is not None:
            values.update(
                off_silhouette=attention_share(maps, body),
                off_silhouette_uniform=body.mean(axis=(1, 2)),
                peak_on_person=peak_on_person(maps, body),
            )
        out.update({f"{i}/{k}": v for k, v in values.items()})
    return out


def spread(n: int, limit: int) -> np.ndarray:
    """``limit`` indices spread evenly over range(n); all n when limit is 0 or at least n."""
    return np.arange(n) if not limit or limit >= n else np.linspace(0, n - 1, limit).astype(int)


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: PoseDataset,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    retention: float | None = None,
    limit: int = 0,
    workers: int = 0,
    coarse_only: bool = False,
    alter_features: Callable[[torch.Tensor], torch.Tensor] | None = None,
    flip: bool = False,
    use_prior: bool = True,
) -> dict[str, np.ndarray]:
    """Runs the model over a dataset: refined and coarse poses (mm), targets (mm), the row indices
    and, for image models, the per-sample attention metrics of every stage-1 layer
    (:func:`attention_metrics`; "background" is the last layer's share outside the 30-px circles).
    ``coarse_only`` (a model whose stage 2 is untrained) reports the coarse pose as refined.
    ``alter_features`` changes each batch of cached encoder features first (ablations). ``flip``: the
    flip test (:func:`lbi.model.flip.flip_test`; cached features need the mirrored crops' too). ``use_prior``: a
    model that takes a 3D prior gets the dataset's (MediaPipe's 3D on each crop, absent where it has none); False:
    absent everywhere."""
    if flip and coarse_only:
        raise ValueError("the flip test runs the whole model; it has no coarse-only mode")
    model.eval()
    subset = Subset(dataset, spread(len(dataset), limit).tolist()) if limit else dataset
    loader = DataLoader(subset, batch_size=batch_size, num_workers=workers, collate_fn=Batch.collate)
    stride = getattr(getattr(model, "encoder", None), "stride", None)
    out: dict[str, list] = {"refined": [], "coarse": [], "target": [], "background": [], "index": []}
    for batch in tqdm(loader, desc="evaluating", unit="batch", leave=False):
        batch = batch.to(device)
        images, features = batch.image, batch.features
        if alter_features is not None:
            features = alter_features(features)
        joints2d, prior = batch.joints2d, batch.prior if use_prior else None
        if coarse_only:  # stage 1 alone: its coarse pose is the result, stage 2 is never run
            s1 = cast(LiftingByImage, model).stage1(joints2d, images, features, prior)  # only lbi has stages
            result = LiftingOutput(coarse=s1.coarse, refined=s1.coarse, stage1_attention=s1.attention, grid=s1.grid)
        elif flip:
            result = flip_test(model, images, joints2d, features, batch.features_mirrored, retention, prior)
        else:
            result = model(images, joints2d, retention=retention, features=features, prior=prior)
        out["refined"].append(result.refined.float().cpu().numpy() * 1000)
        out["coarse"].append(result.coarse.float().cpu().numpy() * 1000)
        out["target"].append(batch.target.cpu().numpy() * 1000)
        out["index"].append(batch.index.cpu().numpy())
        if result.stage1_attention and stride and batch.has_image:  # pose-only data has no attention to measure
            silhouettes = batch.silhouette.cpu().numpy() if batch.silhouette is not None else None
            assert result.grid is not None  # set with the stage-1 attention
            metrics = attention_metrics(
                result.stage1_attention, result.grid, stride, batch.joints2d_gt_px.cpu().numpy(), silhouettes
            )
            for key, value in metrics.items():
                out.setdefault(key, []).append(value)
            out["background"].append(metrics[f"{len(result.stage1_attention) - 1}/off_circles"])
        else:
            out["background"].append(np.full(len(batch), np.nan))
    return {k: np.concatenate(v) for k, v in out.items()}


def summarise(
    pred: dict[str, np.ndarray], actions: np.ndarray | None = None, layer_names: list[str] | None = None
) -> EvalResult:
    refined, coarse, target = pred["refined"], pred["coarse"], pred["target"]
    errors = mpjpe(refined, target)
    err14 = joint_errors(to_mpi_eval_joints(refined), to_mpi_eval_joints(target))
    background = pred["background"]
    attention: dict[str, dict[str, float]] = {}
    for key, values in pred.items():
        layer, _, metric = key.partition("/")
        if metric:
            name = layer_names[int(layer)] if layer_names else f"stage 1 · layer {int(layer) + 1}"
            attention.setdefault(name, {})[metric] = float(np.mean(values))
    return EvalResult(
        samples=len(target),
        mpjpe=float(errors.mean()),
        p_mpjpe=float(p_mpjpe(refined, target).mean()),
        pck=pck(err14),
        auc=auc(err14),
        mpjpe_coarse=float(mpjpe(coarse, target).mean()),
        background_attention=None if np.isnan(background).all() else float(np.nanmean(background)),
        per_action=per_action_mean(errors, list(actions)) if actions is not None else {},
        attention=attention,
        bone_error=float(bone_length_error(refined, target).mean()),
        forearm_ratio=forearm_ratio(refined, target),
    )


def mediapipe_peer(dataset: PoseDataset, limit: int = 0) -> EvalResult | None:
    """The peer row: MediaPipe's own 3D estimate (its world landmarks mapped to H36M-17, stored by
    ``train.data.detect_2d``) on the same samples as :func:`predict` with the same ``limit``, same metrics, in the
    targets' axes as :meth:`lbi.crop.codec.InputCodec.encode_prior` reads it. None when the data has none."""
    if PRIOR_KEY not in dataset.data.ann:
        return None
    pick = spread(len(dataset), limit)
    rows = dataset.rows[pick]
    ann = dataset.data.ann
    pred = 1000.0 * dataset.codec.encode_prior(ann[PRIOR_KEY][rows], ann["center"][rows], ann["intrinsics"][rows])
    found = np.isfinite(pred).all(axis=(1, 2))
    if not found.any():
        return None
    pred, target = pred[found], dataset.target[pick][found].astype(np.float64) * 1000
    return summarise(
        {"refined": pred, "coarse": pred, "target": target, "background": np.full(len(pred), np.nan)},
        dataset.data.ann["action"][rows[found]],
    )


def evaluate(model: nn.Module, dataset: PoseDataset, **kwargs) -> EvalResult:
    pred = predict(model, dataset, **kwargs)
    names = getattr(model.config, "layer_names", None)
    return summarise(pred, dataset.data.ann["action"][pred["index"]], names)


COLUMNS = (
    ("MPJPE", "mpjpe"),
    ("P-MPJPE", "p_mpjpe"),
    ("PCK", "pck"),
    ("AUC", "auc"),
    ("coarse MPJPE", "mpjpe_coarse"),
    ("bone error", "bone_error"),
    ("forearm length", "forearm_ratio"),
    ("bg. attention", "background_attention"),
)


def results_markdown(results: dict[str, dict[str, EvalResult]], title: str | None = "Results") -> str:
    """One row per (run, split): the columns of COLUMNS, mm and %; a ``### title`` above unless None."""
    lines = [f"### {title}", ""] if title else []
    lines += [
        "| run | split | n | " + " | ".join(c for c, _ in COLUMNS) + " |",
        "|---|---|---|" + "---|" * len(COLUMNS),
    ]
    for run, splits in results.items():
        for split, r in splits.items():
            cells = []
            for _, key in COLUMNS:
                value = getattr(r, key)
                cells.append(
                    "-"
                    if value is None
                    else f"{value * 100:.1f}%"
                    if key == "background_attention"
                    else f"{value:.2f}x"
                    if key == "forearm_ratio"
                    else f"{value:.1f}"
                )
            lines.append(f"| {run} | {split} | {r.samples} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def attention_markdown(
    results: dict[str, dict[str, EvalResult]], title: str | None = "Where the attention looks"
) -> str:
    """Per (run, split, stage-1 layer): attention off the 30-px joint circles and off the silhouette,
    each as model / uniform attention, and where the keypoints' most-attended tokens lie. Empty
    when no result has attention."""
    rows = []
    for run, splits in results.items():
        for split, r in splits.items():
            for layer, m in r.attention.items():

                def pct(key: str, m: dict = m) -> str:
                    return f"{m[key] * 100:.1f}%" if key in m else "-"

                rows.append(
                    f"| {run} | {split} | {layer} | {pct('off_circles')} / {pct('off_circles_uniform')} | "
                    f"{pct('off_silhouette')} / {pct('off_silhouette_uniform')} | {pct('peak_near_joint')} | "
                    f"{pct('peak_on_person')} |"
                )
    if not rows:
        return ""
    lines = [f"### {title}", ""] if title else []
    lines += [
        "| run | split | layer | off 30-px circles: model / uniform | off silhouette: model / uniform | "
        "peak within 30 px of own joint | peak on the person |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    return "\n".join(lines) + "\n"


def write_results(
    results: dict[str, dict[str, EvalResult]],
    out_stem: str | Path,
    title: str = "Results",
    info: dict | None = None,
    notes: Sequence[str] = (),
) -> None:
    """Writes <stem>.md (the tables, then ``notes`` as a list) and <stem>.json atomically."""
    out_stem = Path(out_stem)
    payload = {
        "info": info or {},
        "results": {run: {s: asdict(r) for s, r in splits.items()} for run, splits in results.items()},
    }
    atomic_write_text(out_stem.with_suffix(".json"), json.dumps(payload, indent=2))
    footer = "".join(f"- {note}\n" for note in notes)
    attention = attention_markdown(results)
    atomic_write_text(
        out_stem.with_suffix(".md"),
        results_markdown(results, title) + ("\n" + attention if attention else "") + ("\n" + footer if footer else ""),
    )


PEER = "MediaPipe world landmarks (peer)"


def with_peer(
    results: dict[str, dict[str, EvalResult]], datasets: dict[str, PoseDataset], limit: int = 0
) -> dict[str, dict[str, EvalResult]]:
    """``results`` plus the peer row (:func:`mediapipe_peer`) on the splits whose data has it."""
    peer = {split: r for split, ds in datasets.items() if (r := mediapipe_peer(ds, limit)) is not None}
    return {**results, PEER: peer} if peer else results


def main(argv: list[str] | None = None) -> int:
    from lbi.data.format import DatasetError
    from lbi.io.weights import WeightsError, load_model

    from .config import ConfigError, split_spec
    from .features import model_dataset

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", nargs="+", required=True, help="name=root:split ...")
    parser.add_argument("--inputs-2d", default="gt")
    parser.add_argument(
        "--retention",
        type=retention_rate,
        default=None,
        help="share of image tokens stage 2 keeps, in (0, 1] (default: the model's)",
    )
    parser.add_argument(
        "--flip-test",
        action="store_true",
        help="average each pose with the mirrored crop's (mirrored features are cached too)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        help="evaluate N samples spread evenly over each split (0: all), the peer row on the same",
    )
    parser.add_argument("--out", default=None, help="write <out>.md and <out>.json")
    args = parser.parse_args(argv)
    if args.limit < 0:
        parser.error(f"--limit must be 0 (all) or positive, got {args.limit}")
    try:
        model = load_model(args.weights)
        results, datasets = {}, {}
        for item in args.data:
            name, _, spec = item.partition("=")
            root, split = split_spec(spec)
            datasets[name] = model_dataset(
                model, root, split, args.inputs_2d, silhouettes=True, mirrored=args.flip_test
            )
            results[name] = evaluate(
                model, datasets[name], retention=args.retention, flip=args.flip_test, limit=args.limit
            )
    except (DatasetError, WeightsError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = with_peer({Path(args.weights).parent.name: results}, datasets, args.limit)
    print(results_markdown(table))
    print(attention_markdown(table))
    if args.out:
        command = "python -m train.core.evaluate " + " ".join(sys.argv[1:] if argv is None else argv)
        write_results(table, args.out, info={"weights": args.weights, "command": command}, notes=[f"`{command}`"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
