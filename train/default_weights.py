"""python -m train.default_weights [--data data/lbi-synth] [--runs runs/rand] [--out weights] [--workers 2]

Retrains the bundled default weights in one command, every step resumable and skipped when its
output exists (each output records its own cost: render and detection seconds in the data's
meta.json, feature caching in features/<cache>.json, training in each run's metrics.csv):

1. LBI-Synth: the lab and wild test splits (for comparison with earlier weights), the
   domain-randomised split (train + test) and upper (its crops cut below the shoulders, as
   portraits and webcams at a desk are), ``train.make_synth``;
2. MediaPipe Pose on every crop, ``train.detect_2d``: the 2D input the model trains and is tested on,
   and MediaPipe's own 3D estimate (the peer row);
3. MediaPipe's 2D errors on the training crops as a noise model, ``train.noise_2d``;
4. LBI stage 1 (rand), stage 1 continued with an annealed learning rate (rand + upper), once more with
   flip augmentation (rand + upper, half of each batch mirrored), once more with the joint distances as
   the loss (``training.loss: mpjpe``) and stage 2 (rand + upper, flips, the same loss;
   ``train/configs/rand/``), then ``<out>/lbi_synth.safetensors`` (the BlazePose
   trunk is left out: it is re-read from the mediapipe wheel);
5. the exported weights evaluated with ground-truth and MediaPipe 2D on rand-test, upper-test,
   wild-test and lab-test, with the flip test (as the app runs them) and, for MediaPipe 2D, without
   (peer rows, where the attention looks) into ``train/results/bundled.{md,json}``, and
   ``<out>/MODEL_CARD.md`` with these numbers next to the previous weights'
   (``train/results/bundled_before.json``: ``--before FILE`` re-evaluates a weights file for it).

6. the lifting-only twin (``lifting_only_bundled_twin.yaml``: the chain's data, no image) into
   ``<out>/lifting_only.safetensors``, and both on the real annotated photos of ``--photos``
   (``train.evaluate_photos``; skipped where they are not) into ``train/results/realval_bundled.{md,json}``
   and the card.

Each run's config and training time is also kept in ``train/results/bundled_runs.json``, so the card can be
written on a machine without the runs. ``--stage1-from WEIGHTS`` retrains stage 2 only, on the frozen stage 1
of WEIGHTS (the bundled weights hold the last stage-1 run's stage 1), and takes the stage-1 runs' records from
that file. ``--card-only`` trains nothing but the twin (when missing) and rewrites the card from those records.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from lbi.data.format import PreparedData
from lbi.fileio import atomic_write_text
from lbi.weights import load_model, save_model

from .config import load_config, split_spec
from .engine import fit
from .evaluate import PEER, EvalResult, attention_markdown, evaluate, results_markdown, with_peer, write_results
from .features import model_dataset
from .synth_table import epoch_seconds

CONFIGS = Path(__file__).parent / "configs" / "rand"
RESULTS = Path(__file__).parent / "results"
NOISE_MODEL = RESULTS / "mediapipe_noise_2d.json"
ASSETS = RESULTS.parents[1] / "assets"
PORTRAITS = ("astronaut.jpg", "grace_hopper.jpg")
SPLITS = {"rand-test": "rand:test", "upper-test": "upper:test", "wild-test": "wild:test", "lab-test": "lab:test"}
RUN_RECORDS = RESULTS / "bundled_runs.json"


def prepare_data(data: Path, workers: int) -> None:
    """Steps 1-3: renders (and the pose-only pairs), detections and the noise model, each only when missing."""
    from . import detect_2d, make_synth, noise_2d

    if not (data / "rand" / "meta.json").is_file():
        make_synth.main(["--out", str(data), "--domains", "rand", "--workers", str(workers), "--resume"])
    if not (data / "upper" / "meta.json").is_file():
        make_synth.main(["--out", str(data), "--domains", "upper"])
    if not (data / "pairs" / "meta.json").is_file():
        make_synth.main(["--out", str(data), "--domains", "pairs", "--workers", str(workers), "--resume"])
    missing = [p for p, d in (("lab_test", "lab"), ("wild_test", "wild")) if not (data / d / "meta.json").is_file()]
    if missing:
        make_synth.main(
            ["--out", str(data), "--domains", "lab", "wild", "--parts", *missing, "--workers", str(workers)]
        )
    for domain in ("rand", "upper", "lab", "wild"):
        if detect_2d.KIND not in PreparedData(data / domain).meta.inputs_2d:
            detect_2d.main(["--data", str(data / domain), "--workers", str(workers)])
    if not NOISE_MODEL.is_file():
        noise_2d.main(["--data", str(data / "rand"), "--split", "train", "--out", str(NOISE_MODEL)])


#: the runs behind the bundled weights, in order (the last one is stage 2); each config names its training data,
#: the run it starts from and its output under DATA and RUNS, which --data and --runs move elsewhere
RUNS = ("lbi_stage1.yaml", "lbi_stage1_anneal.yaml", "lbi_stage1_flip.yaml", "lbi_stage1_mpjpe.yaml", "lbi_stage2.yaml")
#: the lifting-only twin of the chain: the same data, no image (bundled as weights/lifting_only.safetensors)
TWIN = "lifting_only_bundled_twin.yaml"
DATA, RUNS_DIR = "data/lbi-synth", "runs/rand"
#: real annotated photos the weights are measured on (python -m train.evaluate_photos; skipped when absent)
PHOTOS = "../shared/realval/h36m_s9"


def relocated(path: str, data: Path, runs: Path) -> str:
    """A path from a chain config with its data folder and runs folder replaced by ``data`` and ``runs``."""
    for default, new in ((DATA, data), (RUNS_DIR, runs)):
        if path == default or path.startswith(default + "/"):
            return str(new) + path[len(default) :]
    return path


@dataclass
class RunRecord:
    """What the model card says of one run of the chain: its name, its config and its training time."""

    name: str
    config: dict
    seconds: float  # the sum of its epochs' times

    @classmethod
    def of(cls, run: Path) -> RunRecord:
        return cls(run.name, _run_config(run), epoch_seconds(run))


def load_run_records(path: Path | None = None) -> dict[str, RunRecord]:
    path = path or RUN_RECORDS
    if not path.is_file():
        return {}
    return {name: RunRecord(name, **record) for name, record in json.loads(path.read_text())["runs"].items()}


def save_run_records(records: list[RunRecord], path: Path | None = None) -> None:
    runs = {r.name: {k: v for k, v in asdict(r).items() if k != "name"} for r in records}
    atomic_write_text(path or RUN_RECORDS, json.dumps({"runs": runs}, indent=1) + "\n")


def train_runs(data: Path, runs: Path, stage1_from: Path | None = None) -> list[RunRecord]:
    """Step 4: the RUNS in order (the last one is stage 2), each resuming where it stopped. With
    ``stage1_from``, stage 2 alone, on that file's stage 1; the stage-1 runs' records are the kept ones."""
    splits = "{" + ", ".join(f"{name}: {data}/{spec}" for name, spec in SPLITS.items()) + "}"
    common = [f"data.eval={splits}", f"training.noise_model={NOISE_MODEL}"]
    kept, records = load_run_records(), []
    for config in RUNS:
        run, stage2 = runs / Path(config).stem, config == RUNS[-1]
        if stage1_from and not stage2:
            if run.name not in kept:
                raise SystemExit(f"error: {RUN_RECORDS} has no record of {run.name}; train the whole chain instead")
            records.append(kept[run.name])
            continue
        cfg = load_config(CONFIGS / config, [*common, f"training.out={run}"])
        train = [cfg.data.train] if isinstance(cfg.data.train, str) else cfg.data.train
        cfg.data.train = [relocated(spec, data, runs) for spec in train]
        if cfg.training.init:
            cfg.training.init = str(stage1_from) if stage1_from else relocated(cfg.training.init, data, runs)
        if not (run / "results.json").is_file() or _run_config(run)["training"]["epochs"] != cfg.training.epochs:
            fit(cfg, resume=True)  # a config with more epochs than the run has continues its checkpoint
        records.append(RunRecord.of(run))
    return records


def train_twin(data: Path, runs: Path) -> Path:
    """The lifting-only twin (TWIN) on the chain's data, resuming where it stopped; returns its model file."""
    cfg = load_config(
        CONFIGS / TWIN,
        [f"training.out={runs / Path(TWIN).stem}", f"training.noise_model={NOISE_MODEL}", "data.photos=[]"],
    )
    train = [cfg.data.train] if isinstance(cfg.data.train, str) else cfg.data.train
    cfg.data.train = [relocated(spec, data, runs) for spec in train]
    cfg.data.eval = {name: relocated(spec, data, runs) for name, spec in cfg.data.eval.items()}
    run = Path(cfg.training.out)
    if not (run / "results.json").is_file():
        fit(cfg, resume=True)
    return run / "model.safetensors"


def measure_photos(weights: Path, twin: Path | None, photos: list[str], out: Path):
    """``weights`` (as the app runs them, and their pose path with the image absent) and the ``twin`` on real
    annotated photos into ``out``.md / .json; None when the photos are not there."""
    from .evaluate_photos import lifters_of, measure

    lifters = lifters_of(load_model(weights), "lbi")
    if twin is not None:
        lifters.update(lifters_of(load_model(twin), "twin"))
    return measure(photos, lifters, out, weights=str(weights), twin=None if twin is None else str(twin))


def _run_config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def evaluate_weights(weights: Path, data: Path, name: str) -> dict[str, dict[str, EvalResult]]:
    """A weights file on every test split with ground-truth and with MediaPipe 2D, with the flip test
    (as the app runs it), with MediaPipe 2D also without it (``--no-flip-test``, live mode), plus the peer rows
    (MediaPipe's own 3D on the crops where it found the person)."""
    model = load_model(weights)
    table: dict[str, dict[str, EvalResult]] = {}
    for inputs, flip in (("gt", True), ("mediapipe", True), ("mediapipe", False)):
        results, datasets = {}, {}
        for split, spec in SPLITS.items():
            root, part = spec.split(":")
            datasets[split] = model_dataset(
                model, data / root, part, inputs, cache="build", silhouettes=True, mirrored=flip
            )
            results[split] = evaluate(model, datasets[split], flip=flip)
        label = f"{name}, {'ground-truth' if inputs == 'gt' else 'MediaPipe'} 2D" + ("" if flip else ", no flip test")
        table.update(with_peer({label: results}, datasets) if inputs == "mediapipe" and flip else {label: results})
    return table


def _table(payload: dict) -> dict[str, dict[str, EvalResult]]:
    """The results of a :func:`write_results` JSON, already read."""
    return {run: {split: EvalResult(**r) for split, r in splits.items()} for run, splits in payload["results"].items()}


def _data_costs(data: Path) -> list[str]:
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
    """The real-photo section of the card: the means of ``train.evaluate_photos`` reports (their JSON payloads)
    of these weights, with their twin and MediaPipe's world landmarks, and of the previous weights."""
    if not after:
        return []
    lines = [
        "## Real photos (mm)",
        f"`python -m train.evaluate_photos` on {', '.join(after['sets'])} (real Human3.6M frames, validation only: "
        "nothing is trained or tuned on them); MPJPE after aligning the pelvis and PA-MPJPE after a similarity "
        "Procrustes, on the 14 joints Human3.6M and MPI-INF-3DHP both annotate well and on all 17; the "
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


def _accuracy_limits(after: dict, before: dict | None, training: str) -> list[str]:
    """The card's limits that depend on the numbers: the aim of 70 mm, the lifter with perfect 2D, and the
    splits where the previous weights had the lower MPJPE."""
    gt = next((splits for name, splits in after.items() if name.endswith("ground-truth 2D")), {})
    mediapipe = next((splits for name, splits in after.items() if name.endswith("MediaPipe 2D")), {})
    lines = []
    if gt and mediapipe and min(r.mpjpe for r in mediapipe.values()) > 70:
        lines.append(
            f"- Far from the 70 mm the project aimed at: with ground-truth 2D these weights are at "
            f"{min(r.mpjpe for r in gt.values()):.0f}-{max(r.mpjpe for r in gt.values()):.0f} mm MPJPE, so the "
            f"lifter itself ({training} on a 2-core CPU) is the limit as much as MediaPipe's 2D."
        )
    old = next((splits for name, splits in (before or {}).items() if name.endswith("MediaPipe 2D")), {})
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


def portrait_arms(weights: Path) -> dict[str, tuple[float, float]]:
    """Upper-arm and forearm length (mm, mean of left and right, refined pose) on the example portraits,
    where MediaPipe cannot see the hands: the failure the upper split is there to fix."""
    from lbi.estimator import Estimator
    from lbi.image_io import read_image
    from lbi.skeleton import BONES, H36M_JOINTS, bone_lengths

    estimator, arms = Estimator(weights, device="cpu"), {}
    for name in PORTRAITS:
        lengths = bone_lengths(estimator.predict(read_image(ASSETS / name)).pose.joints3d_mm)
        bone = {H36M_JOINTS[child]: length for (child, _), length in zip(BONES, lengths)}  # named by the child joint
        arms[name] = ((bone["left_elbow"] + bone["right_elbow"]) / 2, (bone["left_wrist"] + bone["right_wrist"]) / 2)
    return arms


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
) -> str:
    """MODEL_CARD.md from the records of the RUNS (stage-1 runs in order, then stage 2), the evaluations
    and the arms on the example portraits (:func:`portrait_arms`)."""
    *stage1_runs, stage2 = runs
    model, training = stage2.config["model"], stage2.config["training"]
    stage1_epochs = sum(run.config["training"]["epochs"] for run in stage1_runs)
    s1, s2 = sum(run.seconds for run in stage1_runs), stage2.seconds
    noise = json.loads(NOISE_MODEL.read_text())
    parts = [
        "# Model card: `lbi_synth.safetensors`",
        "",
        "LBI (Lifting by Image) trained on LBI-Synth rand, the project's domain-randomised synthetic data. It lifts a "
        "2D pose (17 Human3.6M joints, from MediaPipe Pose in the app) to a root-relative 3D pose in millimetres "
        "(camera axes), while the joints query image features from the BlazePose-full trunk (stride 8, frozen; its "
        "weights are read from the mediapipe 0.10.21 wheel, so this file holds only the lifter).",
        "",
        "## Retrain",
        f'`pip install -e ".[synth]"` (scikit-image: background photographs), then `python -m train.default_weights '
        f"--data {data}`: renders, detects, measures the noise model, trains, exports, evaluates and writes this card; "
        "every step resumes.",
        "",
        "## Model",
        f"- stage 1 (TL, PGTL, TL; coarse loss), {stage1_epochs} epochs in {len(stage1_runs)} runs, each starting from "
        "the one before (`train/configs/rand/`):",
        *(f"  {i}. {_run_line(run)}{'.' if i == len(stage1_runs) else ';'}" for i, run in enumerate(stage1_runs, 1)),
        f"- stage 2: {model['stage2_depth']} TLs on the kept {model['retention']:.0%} of the tokens, "
        "stage 1 loaded and "
        f"frozen: {_run_line(stage2)}. Together, the paper's progressive training.",
        "- Inference: the flip test (the crop and its mirror in one batch, the two poses averaged; "
        "`lbi.model.flip`), on by default for photos (`python -m lbi predict --no-flip-test` lifts the crop alone, "
        "as the app's live mode does).",
        f"- dim {model['dim']}, {model['heads']} heads, encoder `{model['encoder']}`, keypoint tokens carry their "
        f"joint's position (`pose_positions`); batch {training['batch_size']}; file size "
        f"{weights.stat().st_size / 2**20:.1f} MB.",
        "- 2D input: MediaPipe Pose's detections on the training crops; in half of each batch instead the ground "
        "truth with MediaPipe-like errors from the measured noise model "
        f"(`{NOISE_MODEL.relative_to(RESULTS.parents[1])}`: "
        f"whole-body left/right flips {noise['flip_rate']:.1%} of crops, single-pair swaps up to "
        f"{max(noise['swap_rates']):.1%}, gross errors up to {max(noise['gross_rates']):.1%} per joint), plus "
        f"{training['noise_2d_px']:g} px jitter.",
        "",
        "## Data",
        "LBI-Synth rand: people with varied body shapes, skin tones, hair and clothes (sleeves, trousers, shorts, "
        "skirts, prints) in everyday poses (standing, walking, running, sitting on chairs and on the floor, crouching, "
        "kneeling, bending, reaching, leaning, exercising; arms crossed, hands on hips, phoning, waving, "
        "pointing, ...) "
        "seen by cameras from knee height to ceiling mounts, level to steeply down, 35-95 degree fields of view; each "
        "training pose on two backgrounds (rooms, outdoor scenes, photographs, patterns). Test subjects, poses and "
        "background photographs are held out. Upper: rand crops whose photo ends between the shoulders and the knees "
        "(black beyond, as the app's crop of a portrait or a webcam at a desk is), for every stage-1 run after the "
        "first and for stage 2. Sizes and costs "
        "(2-core CPU):",
        *_data_costs(data),
        f"- training: {(s1 + s2) / 60:.1f} min ({s1 / 60:.1f} stage 1, {s2 / 60:.1f} stage 2; sum of epoch times) on "
        f"{platform.machine()} CPU, {torch.get_num_threads()} threads, no GPU.",
        "",
        *realval_markdown(photos, photos_before),
        *(
            ["## Before and after on synthetic test splits (mm, %)", "", before_after_markdown(after, before)]
            if before
            else []
        ),
        "## Metrics (mm, %)",
        "MPJPE after root alignment; P-MPJPE after similarity alignment; with MediaPipe 2D, the crops where MediaPipe "
        "found nobody are left out (their count is the difference in n). The peer row is MediaPipe's own 3D "
        "(its world landmarks, mapped to the 17 joints) on the same crops.",
        "",
        results_markdown(after, title=None),
        attention_markdown({k: v for k, v in after.items() if PEER not in k}, title=None),
    ]
    if before:
        parts += [
            "## The previous weights, same evaluation",
            *([before_description, ""] if before_description else []),
            results_markdown(before, title=None),
            attention_markdown({k: v for k, v in before.items() if PEER not in k}, title=None),
        ]
    parts += [
        "## Limits",
        "- Trained on synthetic people only; measured on real photos of one subject in one studio (above), more real "
        "frames are held out by the project and checked after each release.",
        *_accuracy_limits(after, before, f"d = {model['dim']}, {stage1_epochs} + {training['epochs']} epochs"),
        *_portrait_lines(portraits),
        "- Not for any use that identifies people or makes decisions about them.",
    ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/lbi-synth")
    parser.add_argument("--runs", default="runs/rand")
    parser.add_argument("--out", default="weights")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--before", default=None, help="re-evaluate this weights file as the previous weights")
    parser.add_argument(
        "--stage1-from",
        default=None,
        type=Path,
        help="retrain stage 2 only, on this weights file's frozen stage 1 (e.g. the bundled weights)",
    )
    parser.add_argument(
        "--photos",
        nargs="*",
        default=[PHOTOS],
        help="folders of real annotated photos to measure on (train.evaluate_photos; skipped when absent)",
    )
    parser.add_argument(
        "--card-only",
        action="store_true",
        help="train nothing: (re)train the twin if needed, measure the bundled weights on the photos and rewrite "
        "the card from the committed records (bundled_runs.json, bundled.json)",
    )
    args = parser.parse_args(argv)
    data, runs = Path(args.data), Path(args.runs)
    prepare_data(data, args.workers)
    if args.card_only:
        kept = load_run_records()
        trained = [kept[Path(config).stem] for config in RUNS]
    else:
        trained = train_runs(data, runs, args.stage1_from)
        save_run_records(trained)
    if args.before:
        command = " ".join(["python -m train.default_weights", *sys.argv[1:]])
        write_results(
            evaluate_weights(Path(args.before), data, "previous"),
            RESULTS / "bundled_before",
            title="Previous bundled weights",
            info={"weights": args.before, "command": command, "description": f"`{args.before}`, re-evaluated:"},
        )
        measure_photos(Path(args.before), None, args.photos, RESULTS / "realval_previous")
    twin = save_model(
        load_model(train_twin(data, runs)),
        Path(args.out) / "lifting_only.safetensors",
        extra={"twin_of": "lbi_synth.safetensors", "config": f"train/configs/rand/{TWIN}"},
    )
    weights = Path(args.out) / "lbi_synth.safetensors"
    if not args.card_only:
        save_model(
            load_model(runs / trained[-1].name / "model.safetensors"),
            weights,
            extra={"trained_on": "LBI-Synth rand:train + upper:train", "configs": "train/configs/rand"},
        )
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    after_path = RESULTS / "bundled.json"
    evaluated = json.loads(after_path.read_text()) if after_path.is_file() else None
    if evaluated and evaluated["info"].get("sha256") == digest:
        after = _table(evaluated)  # these very weights were evaluated already
    else:
        after = evaluate_weights(weights, data, "bundled")
        write_results(
            after, RESULTS / "bundled", title="Bundled weights", info={"weights": str(weights), "sha256": digest}
        )
    before_path = RESULTS / "bundled_before.json"
    previous = json.loads(before_path.read_text()) if before_path.is_file() else None
    before, description = (_table(previous), previous["info"].get("description")) if previous else (None, None)
    photos = measure_photos(weights, twin, args.photos, RESULTS / "realval_bundled")
    photos_before = RESULTS / "realval_previous.json"
    atomic_write_text(
        Path(args.out) / "MODEL_CARD.md",
        model_card(
            after,
            before,
            trained,
            weights,
            data,
            portrait_arms(weights),
            description,
            json.loads(photos.to_json()) if photos else None,
            json.loads(photos_before.read_text()) if photos_before.is_file() else None,
        ),
    )
    print(f"wrote {weights}, {Path(args.out) / 'MODEL_CARD.md'} and {RESULTS / 'bundled.md'}")


if __name__ == "__main__":
    main()
