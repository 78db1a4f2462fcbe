"""The bundled weights' model card: :func:`model_card` fills the Markdown template ``model_card.md`` (the prose)
with the records of the training runs, the data's costs and the evaluations (the numbers)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from lbi.data.format import PreparedData
from lbi.model import LiftingConfig

from .. import RESULTS
from ..core.config import split_spec
from ..core.evaluate import PEER, EvalResult, attention_markdown, results_markdown
from .records import NOISE_MODEL, RunRecord

TEMPLATE = Path(__file__).with_name("model_card.md")


#: where the card keeps the data's costs: kept from the card being rewritten when the data is not on this machine
COST_LINE = ("- rand:", "- upper:", "- lab:", "- wild:", "- BlazePose features of")


def _data_costs(data: Path, card: Path | None = None) -> list[str]:
    """The data's sizes and costs from its records (``meta.json``, ``features/*.json``); where the data is not on this
    machine, the lines of the card at ``card`` that said them (so rewriting the card elsewhere keeps them)."""
    if not (data / "rand" / "meta.json").is_file() and card is not None and card.is_file():
        return [line for line in card.read_text().splitlines() if line.startswith(COST_LINE)]
    lines = []
    for domain in ("rand", "upper", "lab", "wild"):
        if not (data / domain / "meta.json").is_file():
            continue
        info = PreparedData(data / domain).meta.info
        render, mp = info.get("render_seconds"), info.get("mediapipe", {})
        lines.append(
            f"- {domain}: {len(PreparedData(data / domain))} crops; rendering "
            f"{'%.1f min' % (render / 60) if render else 'not recorded'}, MediaPipe "
            f"{'%.1f min' % (mp['seconds'] / 60) if mp.get('seconds') else 'not recorded'} "
            f"({mp.get('detected', '?')} detected, {mp.get('missed', '?')} missed; median 2D error "
            f"{mp.get('median_crop_px', '?')} crop px)"
        )
    for domain in ("rand", "upper"):
        for cache in sorted((data / domain / "features").glob("*.json")):
            record = json.loads(cache.read_text())
            lines.append(
                f"- BlazePose features of the {domain} crops (`{cache.stem}`): {record['seconds'] / 60:.1f} min"
            )
    return lines


def before_after_markdown(after: dict[str, dict[str, EvalResult]], before: dict[str, dict[str, EvalResult]]) -> str:
    """One row per test split: MediaPipe-2D MPJPE / P-MPJPE of the previous and these weights next to the
    peer's, and the last stage-1 layer's attention (off the silhouette vs uniform; peak on the person)."""

    def run(table: dict, kind: str) -> dict[str, EvalResult]:
        return next((splits for name, splits in table.items() if name.endswith(f"{kind} 2D")), {})

    def last_layer(result: EvalResult, key: str) -> str:
        value = list(result.attention.values())[-1].get(key) if result.attention else None
        return "-" if value is None else f"{value:.1%}"

    old_runs, new_runs, peers = run(before, "MediaPipe"), run(after, "MediaPipe"), after.get(PEER, {})
    rows = []
    for split in [s for s in new_runs if s in old_runs]:
        old, new, peer = old_runs[split], new_runs[split], peers.get(split)
        rows.append(
            f"| {split} | {old.mpjpe:.1f} -> **{new.mpjpe:.1f}** | {old.p_mpjpe:.1f} -> **{new.p_mpjpe:.1f}** | "
            + (f"{peer.mpjpe:.1f} / {peer.p_mpjpe:.1f}" if peer else "-")
            + f" | {last_layer(old, 'off_silhouette')} -> **{last_layer(new, 'off_silhouette')}** "
            f"({last_layer(new, 'off_silhouette_uniform')}) | {last_layer(old, 'peak_on_person')} -> "
            f"**{last_layer(new, 'peak_on_person')}** |"
        )
    header = (
        "| split (MediaPipe 2D) | MPJPE: previous -> now | P-MPJPE: previous -> now | MediaPipe world landmarks: "
        "MPJPE / P-MPJPE | last stage-1 layer off the silhouette: previous -> now (uniform) | peak on the person: "
        "previous -> now |"
    )
    return "\n".join([header, "|---|---|---|---|---|---|", *rows]) + "\n"


def realval_markdown(after: dict | None, before: dict | None) -> list[str]:
    """The real-photo section of the card: the means of ``train.core.evaluate_photos`` reports (their JSON payloads)
    of these weights, with their twin and MediaPipe's world landmarks, and of the previous weights."""
    if not after:
        return []
    lines = [
        "## Real photos (mm)",
        f"`python -m train.core.evaluate_photos` on {', '.join(after['sets'])} (real Human3.6M frames, "
        "validation only: nothing is trained or tuned on them); MPJPE after aligning the pelvis and PA-MPJPE after a "
        "similarity Procrustes, on the 14 joints Human3.6M and MPI-INF-3DHP both annotate well and on all 17; the "
        "MediaPipe-2D rows average the frames MediaPipe found (n).",
        "",
        "| weights | row | n | MPJPE 14 | PA-MPJPE 14 | MPJPE 17 | PA-MPJPE 17 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, report in (("these", after), ("previous", before)):
        for row, m in (report or {}).get("means", {}).items():
            if label == "previous" and row == "MediaPipe world landmarks":
                continue  # the same detector on the same photos
            lines.append(
                f"| {label} | {row} | {m['n']} | {m['mpjpe14']:.1f} | {m['pa14']:.1f} | {m['mpjpe17']:.1f} | "
                f"{m['pa17']:.1f} |"
            )
    return [*lines, ""]


#: the card's section on the fusion with MediaPipe's 3D (written by :func:`fusion_markdown`)
FUSION_HEADING = "## With MediaPipe's 3D: what the app and the CLI answer by default"
FUSION_REPORT = RESULTS / "fusion_realval.json"


def fusion_markdown(report: dict | None) -> str:
    """The card's fusion section from ``train.reports.fusion_table``'s real-photo report (its JSON payload): every row
    with
    MediaPipe's 2D (as the app runs), and the frames where MediaPipe's 3D drags the fusion most."""
    if not report:
        return ""
    rows = {row: m for row, m in report["means"].items() if not row.endswith("ground-truth 2D")}
    lines = [
        FUSION_HEADING,
        "MediaPipe Pose gives a 3D pose too (its world landmarks), learned from real photos: its pose shape is better "
        "than this lifter's there, its orientation, depth and size worse. By default the estimator (the app, "
        "`python -m lbi predict` and `video`, live mode) joins the two in the **ensemble** (`lbi.pipeline.fusion`): "
        "this lifter's pose and MediaPipe's, turned to the orientation between them, MediaPipe's scaled to this "
        "lifter's size and weighted 0.5 x its confidence per joint (the plain fusion), averaged with the pose of "
        "`prior_mlp.safetensors`, a lifting-only MLP that reads the 2D pose and MediaPipe's 3D "
        "(`train/configs/fusion/twin_prior.yaml`: trained on renders and pose-only pairs with the true pose plus "
        "structured errors as that prior, never on MediaPipe's 3D of a render). `--fusion none` (the app: *lbi "
        "alone*) gives the paper's lifter alone. Real photos, MediaPipe 2D, mm "
        "(`python -m train.reports.fusion_table`; every row also with ground-truth 2D in "
        "`train/results/fusion_realval.md`):",
        "",
        "| row | n | MPJPE 14 | PA-MPJPE 14 | MPJPE 17 | PA-MPJPE 17 |",
        "|---|---|---|---|---|---|",
        *(
            f"| {row.removesuffix(', MediaPipe 2D')} | {m['n']} | {m['mpjpe14']:.1f} | {m['pa14']:.1f} | "
            f"{m['mpjpe17']:.1f} | {m['pa17']:.1f} |"
            for row, m in rows.items()
        ),
        "",
        "Where MediaPipe's 3D drags the fusion (PA-MPJPE 14, the frames most behind this lifter alone; the "
        "ensemble's worst drawn in `docs/fusion_worst_frame.png`):",
    ]
    for fused, frames in report.get("worst_frames", {}).items():
        alone = "lbi, MediaPipe 2D"
        worst = "; ".join(
            f"`{f['image']}` {f[fused]['pa14']:.1f} vs {f[alone]['pa14']:.1f} alone "
            f"(MediaPipe {f['MediaPipe world landmarks']['pa14']:.1f})"
            for f in frames
        )
        lines.append(f"- {fused.removesuffix(', MediaPipe 2D')}: {worst}.")
    return "\n".join(lines) + "\n\n"


def replace_fusion_section(card: Path, report: dict) -> None:
    """Rewrites the fusion section of an existing card (from its heading to the next one) in place, atomically."""
    from lbi.io.files import atomic_write_text

    text = card.read_text()
    start = text.find(FUSION_HEADING)
    if start < 0:
        return
    end = text.find("\n## ", start + len(FUSION_HEADING))
    atomic_write_text(card, text[:start] + fusion_markdown(report) + (text[end + 1 :] if end >= 0 else ""))


def _accuracy_limits(after: dict, before: dict | None, training: str) -> list[str]:
    """The card's limits that depend on the numbers: the aim of 70 mm, the lifter with perfect 2D, and the
    splits where the previous weights had the lower MPJPE."""
    gt: dict[str, EvalResult] = next((splits for name, splits in after.items() if name.endswith("ground-truth 2D")), {})
    mediapipe: dict[str, EvalResult] = next(
        (splits for name, splits in after.items() if name.endswith("MediaPipe 2D")), {}
    )
    lines = []
    if gt and mediapipe and min(r.mpjpe for r in mediapipe.values()) > 70:
        lines.append(
            f"- Far from the 70 mm the project aimed at: with ground-truth 2D these weights are at "
            f"{min(r.mpjpe for r in gt.values()):.0f}-{max(r.mpjpe for r in gt.values()):.0f} mm MPJPE, so the "
            f"lifter itself ({training} on a 2-core CPU) is the limit as much as MediaPipe's 2D."
        )
    old: dict[str, EvalResult] = next(
        (splits for name, splits in (before or {}).items() if name.endswith("MediaPipe 2D")), {}
    )
    worse = {
        split: r.mpjpe - old[split].mpjpe
        for split, r in mediapipe.items()
        if split in old and r.mpjpe > old[split].mpjpe
    }
    if worse:
        lines.append(
            "- MPJPE with MediaPipe 2D is higher than the previous weights' on "
            + ", ".join(f"{split} (+{diff:.1f} mm)" for split, diff in worse.items())
            + "."
        )
    return lines


def _portrait_lines(portraits: dict[str, tuple[float, float]]) -> list[str]:
    measured = "; ".join(
        f"{name}: upper arm {upper:.0f} mm, forearm {fore:.0f} mm" for name, (upper, fore) in portraits.items()
    )
    ratios = {name: upper / fore for name, (upper, fore) in portraits.items()}
    short = [name for name, ratio in ratios.items() if ratio > 1.67]
    verdict = (
        f"forearms still come out short on {', '.join(short)} (`tests/test_pipeline.py` fails on it)"
        if short
        else "the arms keep the proportions `tests/test_pipeline.py` checks (upper arm / forearm under 1.67; "
        f"an adult's is about 1.1-1.3, these are {min(ratios.values()):.2f}-{max(ratios.values()):.2f})"
    )
    return [
        f"- Portraits (MediaPipe extrapolates the hands and legs it cannot see): {verdict}. On the example "
        f"portraits, refined pose: {measured}."
    ]


def _run_line(run: RunRecord) -> str:
    """One training run of the chain, from its config: epochs, data, schedule, flips, loss."""
    training, train = run.config["training"], run.config.get("data", {}).get("train", "rand:train")
    splits = " and ".join(Path(split_spec(spec)[0]).name for spec in ([train] if isinstance(train, str) else train))
    epochs, anneal = training["epochs"], training.get("anneal_epochs", 0)
    if anneal >= epochs:
        schedule = f"Adam, a cosine from {training['lr']:g} down to {training.get('anneal_to', 1.0):g} of it"
    else:
        schedule = f"Adam {training['lr']:g} x {training['lr_decay']} every {training['lr_decay_every']} epochs"
        schedule += f", the last {anneal} a cosine down to {training.get('anneal_to', 1.0):g} of that" if anneal else ""
    flip = f", {training['flip']:.0%} of each batch mirrored left to right" if training.get("flip") else ""
    loss = (
        "the joint distances as the loss (`training.loss: mpjpe`)"
        if training.get("loss") == "mpjpe"
        else "Eq. 3's squared distances as the loss"
    )
    if training.get("bone_weight"):
        loss += f" plus {training['bone_weight']:g} x the bone-length errors (`training.bone_weight`)"
    return f"`{run.name}.yaml`: {epochs} epochs on {splits}, {schedule}{flip}, {loss}"


def model_card(
    after: dict,
    before: dict | None,
    runs: list[RunRecord],
    weights: Path,
    data: Path,
    portraits: dict[str, tuple[float, float]],
    before_description: str | None = None,
    photos: dict | None = None,
    photos_before: dict | None = None,
    fusion: dict | None = None,
) -> str:
    """MODEL_CARD.md (the template :data:`TEMPLATE`) from the records of the RUNS (stage-1 runs in order, then
    stage 2), the evaluations, the arms on the example portraits (:func:`train.release.default_weights.portrait_arms`)
    and
    the fusion with MediaPipe's 3D (``train.reports.fusion_table``'s real-photo report, :data:`FUSION_REPORT`)."""
    *stage1_runs, stage2 = runs
    model = {**LiftingConfig().to_dict(), **stage2.config["model"]}  # a record states what differs from the defaults
    training = stage2.config["training"]
    stage1_epochs = sum(run.config["training"]["epochs"] for run in stage1_runs)
    s1, s2 = sum(run.seconds for run in stage1_runs), stage2.seconds
    noise = json.loads(NOISE_MODEL.read_text())
    previous = ""
    if before:
        previous = (
            "\n".join(
                [
                    "## The previous weights, same evaluation",
                    *([before_description, ""] if before_description else []),
                    results_markdown(before, title=None),
                    attention_markdown({k: v for k, v in before.items() if PEER not in k}, title=None),
                ]
            )
            + "\n"
        )
    realval = realval_markdown(photos, photos_before)
    return TEMPLATE.read_text().format(
        data=data,
        stage1_epochs=stage1_epochs,
        stage1_count=len(stage1_runs),
        stage1_runs="\n".join(
            f"  {i}. {_run_line(run)}{'.' if i == len(stage1_runs) else ';'}" for i, run in enumerate(stage1_runs, 1)
        ),
        stage2_depth=model["stage2_depth"],
        retention=model["retention"],
        stage2_run=_run_line(stage2),
        dim=model["dim"],
        heads=model["heads"],
        mlp_ratio=model["mlp_ratio"],
        frame=model["frame"],
        encoder=model["encoder"],
        batch_size=training["batch_size"],
        size_mb=weights.stat().st_size / 2**20,
        noise_path=NOISE_MODEL.relative_to(RESULTS.parents[1]),
        flip_rate=noise["flip_rate"],
        swap_rate=max(noise["swap_rates"]),
        gross_rate=max(noise["gross_rates"]),
        jitter_px=training["noise_2d_px"],
        data_costs="\n".join(_data_costs(data, weights.parent / "MODEL_CARD.md")),
        train_minutes=(s1 + s2) / 60,
        stage1_minutes=s1 / 60,
        stage2_minutes=s2 / 60,
        machine=platform.machine(),
        threads=torch.get_num_threads(),
        realval="\n".join(realval) + "\n" if realval else "",
        fusion=fusion_markdown(fusion),
        before_after="## Before and after on synthetic test splits (mm, %)\n\n"
        + before_after_markdown(after, before)
        + "\n"
        if before
        else "",
        results=results_markdown(after, title=None),
        attention=attention_markdown({k: v for k, v in after.items() if PEER not in k}, title=None),
        previous=previous,
        limits="\n".join(
            [
                *_accuracy_limits(after, before, f"d = {model['dim']}, {stage1_epochs} + {training['epochs']} epochs"),
                *_portrait_lines(portraits),
            ]
        ),
    )
