"""python -m train.reports.study [--seeds 0 1 2] [--train-size 2000] [--epochs 6] [--out train/results/study]

The paper's claims under control, on LBI-Synth at CPU scale: every arm of every claim trained under two
conditions (lab: the first benchmark's fixed scenes, as Human3.6M is; rand: domain-randomised) with several
seeds, tested in and out of its domain (lab-test, wild-test, rand-test) with ground-truth and with MediaPipe 2D,
and aggregated into mean +- sd per cell with a verdict per claim:

(a) image cues beat lifting-only (Tables 2-3); (b) the PGTL keeps attention on the body and so generalises
better (Tables 5-6, Fig. 5); (c) progressive training with feature selection beats end-to-end (Table 4), and
the retention rate barely matters (Table 7: here the same stage 2 evaluated at other rates, not retrained).
Also the encoder trained in stage 1 (as the paper does) against frozen, on a smaller subset, one seed; and two
probes that deviate from the paper: PGTL's "double normalisation" read as renormalisation, and keypoint queries
without their 2D position code.

Each run trains in the background of the driver with ``--resume`` semantics: a finished run (its
``study_eval.json``) is reused, an interrupted one resumes from its checkpoint; killing the driver loses at most
the epoch in progress. The lab condition's data (LBI-Synth lab, size "small": 3,000 training crops of subjects
L00-L09 and 600 test crops of L10-L13, with MediaPipe's 2D) is rendered into ``--study-data`` when missing; rand
and wild come from ``--data`` (``python -m train.release.default_weights`` prepares them). Writes ``<out>.md`` and
``<out>.json``, with each run's CPU seconds and the total.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lbi.io.files import atomic_write_text
from lbi.io.weights import load_model

from ..core.config import config_from_dict
from ..core.engine import fit
from ..core.evaluate import evaluate
from ..core.features import model_dataset

#: the image models' architecture: the bundled weights' at d = 64 (positions in the keypoint queries on)
LBI = {
    "arch": "lbi",
    "encoder": "blazepose_s8",
    "frame": "camera",
    "dim": 64,
    "heads": 4,
    "mlp_ratio": 2.0,
    "stage1": ["tl", "pgtl", "tl"],
    "stage2_depth": 3,
    "retention": 0.3,
    "pose_positions": True,
}
PLAIN = {**LBI, "stage1": ["tl", "tl", "tl"], "stage2_depth": 0}
MLP = {"arch": "martinez", "hidden": 1024, "blocks": 2, "dropout": 0.25}
COARSE = "LBI coarse (stage 1)"
REFINED = "LBI refined r=0.3 (progressive)"


@dataclass(frozen=True)
class Arm:
    """One row of the study: a model and how it trains (``training`` keys on top of the condition's)."""

    name: str
    claims: tuple[str, ...]  # "a", "b", "c", "probe", "encoder"
    model: dict
    training: dict
    init_from: str | None = None  # the arm whose run of the same seed this one starts from (stage 2)
    retentions: tuple[float, ...] = ()  # also evaluated at these rates (Table 7)
    seeds: int | None = None  # at most this many seeds
    train_size: int | None = None  # another training subset
    conditions: tuple[str, ...] = ("lab", "rand")
    epochs_factor: int = 1  # the lifting-only MLP is ~8x faster per epoch: it gets more


ARMS = (
    Arm("lifting-only (MLP)", ("a",), MLP, {"mode": "single"}, epochs_factor=4),
    Arm(COARSE, ("a", "b", "c"), LBI, {"mode": "stage1"}),
    Arm(REFINED, ("a", "c"), LBI, {"mode": "stage2"}, init_from=COARSE, retentions=(0.01, 1.0)),
    Arm("LBI end-to-end (both losses)", ("c",), LBI, {"mode": "end_to_end_both"}),
    Arm("plain image model (3 TLs)", ("b",), PLAIN, {"mode": "single"}),
    Arm("probe: PGTL renormalised", ("probe",), {**LBI, "pgtl_norm": "renorm"}, {"mode": "stage1"}),
    Arm("probe: LBI coarse, no position code", ("probe",), {**LBI, "pose_positions": False}, {"mode": "stage1"}),
    Arm("probe: plain image, no position code", ("probe",), {**PLAIN, "pose_positions": False}, {"mode": "single"}),
    Arm(
        "encoder trained in stage 1",
        ("encoder",),
        LBI,
        {"mode": "stage1", "freeze_encoder": False},
        seeds=1,
        train_size=600,
        conditions=("lab",),
    ),
    Arm(
        "encoder frozen (same subset)",
        ("encoder",),
        LBI,
        {"mode": "stage1"},
        seeds=1,
        train_size=600,
        conditions=("lab",),
    ),
)
KINDS = {"gt": "ground-truth 2D", "mediapipe": "MediaPipe 2D"}
#: each claim's comparison: (claim, the paper's arm, the arm it should beat, what the verdict calls it)
PAIRS = (
    ("a", REFINED, "lifting-only (MLP)", "LBI refined vs lifting-only"),
    ("b", COARSE, "plain image model (3 TLs)", "PGTL vs plain TLs"),
    ("c", REFINED, "LBI end-to-end (both losses)", "progressive vs end-to-end"),
)
#: the arms of the paper's claims (a-c), without the probes and the encoder comparison
CLAIM_ARMS = tuple(arm for arm in ARMS if set(arm.claims) & {"a", "b", "c"})


@dataclass
class StudyPlan:
    """Where the study's data and runs live and how large it is."""

    data: Path
    study_data: Path
    runs: Path
    seeds: tuple[int, ...] = (0, 1, 2)
    train_size: int = 2000
    epochs: int = 6
    eval_limit: int = 1000
    arms: tuple[Arm, ...] = ARMS
    kinds: tuple[str, ...] = tuple(KINDS)  # the 2D inputs tested with

    def tests(self) -> dict[str, str]:
        return {
            "lab-test": f"{self.study_data}/lab:test",
            "wild-test": f"{self.data}/wild:test",
            "rand-test": f"{self.data}/rand:test",
        }

    def train_split(self, condition: str) -> str:
        return f"{self.study_data}/lab:train" if condition == "lab" else f"{self.data}/rand:train"

    def runs_of(self) -> list[tuple[Arm, str, int]]:
        """Every (arm, condition, seed): the claims' arms for every seed first, then the probes, then the encoder
        comparison (so that a study cut short answers the claims); within a seed, arms whose runs others start
        from come first."""

        def tier(arm: Arm) -> int:
            return 2 if "encoder" in arm.claims else 1 if "probe" in arm.claims else 0

        return [
            (arm, condition, seed)
            for level in (0, 1, 2)
            for seed in self.seeds
            for arm in self.arms
            for condition in arm.conditions
            if tier(arm) == level and (arm.seeds is None or self.seeds.index(seed) < arm.seeds)
        ]

    def folder(self, arm: Arm, condition: str, seed: int) -> Path:
        slug = "".join(c if c.isalnum() else "_" for c in arm.name.lower()).strip("_")
        return self.runs / condition / f"{slug}_seed{seed}"

    def config(self, arm: Arm, condition: str, seed: int):
        training = {
            "epochs": self.epochs * arm.epochs_factor,
            "batch_size": 64,
            "lr": 1.0e-3,
            "lr_decay": 0.9,
            "lr_decay_every": 2 * arm.epochs_factor,
            "freeze_encoder": True,
            "noise_2d_px": 1.0,
            "eval_every": 0,
            "eval_limit": 200,
            "seed": seed,
            "out": str(self.folder(arm, condition, seed)),
            **arm.training,
        }
        if arm.init_from is not None:
            source = next(a for a in self.arms if a.name == arm.init_from)
            training["init"] = str(self.folder(source, condition, seed) / "model.safetensors")
        data = {
            "train": self.train_split(condition),
            "eval": {"in-domain": self.tests()["lab-test" if condition == "lab" else "rand-test"]},
            "inputs_2d": "gt",
            "cache_features": training["freeze_encoder"],
            "train_limit": arm.train_size or self.train_size,
        }
        return config_from_dict({"data": data, "model": dict(arm.model), "training": training}, arm.name)


def prepare_lab(study_data: Path, workers: int = 2) -> None:
    """The lab condition's data: LBI-Synth lab at size "small" with MediaPipe's 2D (skipped when present)."""
    from ..data import detect_2d, make_synth

    meta = study_data / "lab" / "meta.json"
    if not meta.is_file():
        make_synth.main(
            [
                *("--out", str(study_data), "--size", "small", "--domains", "lab"),
                *("--parts", "lab_train", "lab_test", "--workers", str(workers), "--resume"),
            ]
        )
    if "mediapipe" not in json.loads(meta.read_text()).get("info", {}):
        detect_2d.main(["--data", str(study_data / "lab"), "--workers", str(workers)])


def evaluate_run(plan: StudyPlan, arm: Arm, folder: Path) -> dict:
    """A finished run on every test split, with both 2D inputs (and its other rates): {label: {split: result}}."""
    model = load_model(folder / "model.safetensors").eval()
    coarse_only = arm.training.get("mode") == "stage1"
    cache = "off" if arm.training.get("freeze_encoder") is False else "build"  # a trained encoder: no cache
    table: dict[str, dict] = {}
    for kind in plan.kinds:
        label = KINDS[kind]
        for retention in (None, *arm.retentions):
            name = label if retention is None else f"{label}, r={retention:g}"
            results = {}
            for split, spec in plan.tests().items():
                root, part = spec.rsplit(":", 1)
                dataset = model_dataset(model, root, part, kind, cache=cache, silhouettes=True)
                results[split] = vars(
                    evaluate(model, dataset, limit=plan.eval_limit, retention=retention, coarse_only=coarse_only)
                )
            table[name] = results
    return table


def run_all(plan: StudyPlan, log=print) -> dict[str, dict]:
    """Trains and evaluates every run of ``plan`` not yet done; returns {run folder: its record}."""
    records = {}
    for arm, condition, seed in plan.runs_of():
        folder = plan.folder(arm, condition, seed)
        record_path = folder / "study_eval.json"
        if not record_path.is_file():
            log(f"study: {arm.name} / {condition} / seed {seed}")
            resumed = (folder / "checkpoint.pt").is_file()  # its CPU time then counts only what is left
            cpu = time.process_time()
            fit(plan.config(arm, condition, seed), resume=True)
            results = evaluate_run(plan, arm, folder)
            record = {
                "arm": arm.name,
                "condition": condition,
                "seed": seed,
                "cpu_seconds": round(time.process_time() - cpu, 1),
                "resumed": resumed,
                "results": results,
            }
            atomic_write_text(record_path, json.dumps(record))
        records[str(folder)] = json.loads(record_path.read_text())
    return records


def finished_runs(runs: Path) -> dict[str, dict]:
    """The records of the finished runs under ``runs``: {run folder: its record}."""
    return {str(p.parent): json.loads(p.read_text()) for p in sorted(runs.glob("*/*/study_eval.json"))}


# ------------------------------------------------------------------------------------------ aggregation
@dataclass
class Cell:
    mean: float
    sd: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Cell:
        finite = [v for v in values if v is not None and math.isfinite(v)]
        if not finite:
            return cls(math.nan, math.nan, 0)
        sd = statistics.stdev(finite) if len(finite) > 1 else 0.0
        return cls(statistics.fmean(finite), sd, len(finite))

    def text(self, digits: int = 1, scale: float = 1.0) -> str:
        if not self.n:
            return "-"
        return f"{self.mean * scale:.{digits}f} +- {self.sd * scale:.{digits}f}" + ("" if self.n > 1 else " (1)")


def metric(record: dict, label: str, split: str, key: str) -> float | None:
    result = record["results"].get(label, {}).get(split)
    return None if result is None else result.get(key)


def attention_share(record: dict, label: str, split: str, layer: int, key: str) -> float | None:
    result = record["results"].get(label, {}).get(split)
    if not result or not result.get("attention"):
        return None
    layers = list(result["attention"].values())
    return layers[layer].get(key) if layer < len(layers) else None


def cells(records: list[dict], arm: str, condition: str, label: str, split: str, key: str) -> Cell:
    return Cell.of([metric(r, label, split, key) for r in records if r["arm"] == arm and r["condition"] == condition])


def difference(a: Cell, b: Cell) -> tuple[float, float]:
    """b - a and its standard error (Welch)."""
    se = math.sqrt((a.sd**2 / a.n if a.n else math.inf) + (b.sd**2 / b.n if b.n else math.inf))
    return b.mean - a.mean, se


def verdict(gain: float, se: float, n: int, what: str) -> str:
    """One sentence: reproduces / does not / cannot tell, with the effect and its spread (positive gain: the
    paper's side is better)."""
    if not math.isfinite(gain):
        return f"{what}: cannot tell (runs missing)."
    if n < 2:
        return f"{what}: cannot tell from one seed (effect {gain:+.1f} mm)."
    if gain > 2 * se:
        return f"{what}: reproduces (effect {gain:+.1f} mm, standard error {se:.1f} mm)."
    if gain < -2 * se:
        return f"{what}: does not reproduce (effect {gain:+.1f} mm, standard error {se:.1f} mm)."
    return f"{what}: cannot tell at this noise level (effect {gain:+.1f} mm, standard error {se:.1f} mm)."


SPLITS = ("lab-test", "wild-test", "rand-test")
CLAIMS = {
    "a": "Image cues beat lifting-only (Tables 2-3)",
    "b": "The PGTL keeps attention on the body and so generalises better (Tables 5-6, Fig. 5)",
    "c": "Progressive training with feature selection beats end-to-end (Table 4); the retention rate barely "
    "matters (Table 7)",
    "probe": "Probes (deviations from the paper)",
    "encoder": "The encoder trained in stage 1 (as the paper does) against frozen (smaller subset, one seed)",
}


def rows_of(records: list[dict], claim: str) -> list[tuple[str, str]]:
    """(arm, result label) rows of a claim's table, in ARMS order; the other rates of an arm as their own rows."""
    rows = []
    for arm in ARMS:
        if claim in arm.claims and any(r["arm"] == arm.name for r in records):
            rows.append((arm.name, ""))
            if claim == "c":
                rows += [(arm.name, f", r={r:g}") for r in arm.retentions]
    return rows


def claim_table(records: list[dict], claim: str, condition: str, kind: str) -> list[str]:
    label = KINDS[kind]
    lines = [
        f"**{CLAIMS[claim]}** - trained on {condition}, tested with {label} (mm, mean +- sd over seeds)",
        "",
        "| arm | " + " | ".join(f"{s} MPJPE | {s} P-MPJPE" for s in SPLITS) + " |",
        "|---|" + "---|---|" * len(SPLITS),
    ]
    for arm, suffix in rows_of(records, claim):
        if not any(r["arm"] == arm and r["condition"] == condition for r in records):
            continue
        values = [
            cells(records, arm, condition, label + suffix, split, key).text()
            for split in SPLITS
            for key in ("mpjpe", "p_mpjpe")
        ]
        lines.append(f"| {arm}{suffix.replace(', ', ' evaluated at ')} | " + " | ".join(values) + " |")
    return [*lines, ""] if len(lines) > 4 else []


def attention_table(records: list[dict], condition: str) -> list[str]:
    """Off-silhouette attention of each stage-1 layer (ground-truth 2D) next to uniform attention's level."""
    lines = [
        f"**Attention off the silhouette** - trained on {condition}, ground-truth 2D: each stage-1 layer's share "
        "(mean +- sd, %) / uniform attention's on the same crops",
        "",
        "| arm | layer | " + " | ".join(SPLITS) + " |",
        "|---|---|" + "---|" * len(SPLITS),
    ]
    for arm in ARMS:
        runs = [r for r in records if r["arm"] == arm.name and r["condition"] == condition]
        if not runs or arm.model["arch"] != "lbi":
            continue
        for layer, kind in enumerate(arm.model["stage1"]):
            values = []
            for split in SPLITS:
                share = Cell.of([attention_share(r, KINDS["gt"], split, layer, "off_silhouette") for r in runs])
                uniform = Cell.of(
                    [attention_share(r, KINDS["gt"], split, layer, "off_silhouette_uniform") for r in runs]
                )
                values.append(f"{share.text(1, 100)} / {uniform.mean * 100:.1f}" if share.n else "-")
            lines.append(f"| {arm.name} | {layer + 1} ({kind.upper()}) | " + " | ".join(values) + " |")
    return [*lines, ""]


def effect(records: list[dict], condition: str, split: str, ours: str, theirs: str) -> tuple[float, float, int]:
    """``theirs`` - ``ours`` in MPJPE with ground-truth 2D (positive: the paper's side is better), its standard
    error and the seeds of the smaller arm."""
    a, b = (cells(records, arm, condition, KINDS["gt"], split, "mpjpe") for arm in (ours, theirs))
    gain, se = difference(a, b)
    return gain, se, min(a.n, b.n)


def verdicts(records: list[dict]) -> list[str]:
    """One sentence per claim and condition, in domain and out of it, with ground-truth 2D."""
    out = []
    for condition, home in (("lab", "lab-test"), ("rand", "rand-test")):
        for split in (home, "wild-test"):
            for claim, ours, theirs, what in PAIRS:
                gain, se, n = effect(records, condition, split, ours, theirs)
                out.append(verdict(gain, se, n, f"({claim}) {condition}, {split}: {what}"))
        low, high = (cells(records, REFINED, condition, f"{KINDS['gt']}, r={r}", home, "mpjpe") for r in ("0.01", "1"))
        if low.n and high.n:
            out.append(
                f"(c) {condition}, {home}: r = 0.01 vs r = 1 differ by {abs(low.mean - high.mean):.1f} mm "
                f"(sd {max(low.sd, high.sd):.1f} mm): "
                + ("the rate barely matters." if abs(low.mean - high.mean) < 2 else "the rate matters here.")
            )
    return out


def study_markdown(records: dict[str, dict], plan: StudyPlan, command: str) -> str:
    runs = list(records.values())
    cpu = sum(r["cpu_seconds"] for r in runs)
    lines = [
        "# The paper's claims on LBI-Synth, with seeds",
        "",
        f"`{command}`: {len(runs)} runs, seeds {list(plan.seeds)}, {plan.train_size} training crops per "
        f"condition, {plan.epochs} epochs (the lifting-only MLP {plan.epochs * 4}), test splits capped at "
        f"{plan.eval_limit} crops; CPU time {cpu / 60:.1f} min in total (per run: `{Path(plan.runs)}/*/*/"
        "study_eval.json`). Image models are the bundled architecture at d = 64 on frozen BlazePose features.",
        "",
        "## Verdicts (ground-truth 2D)",
        "",
        *(f"- {v}" for v in verdicts(runs)),
        "",
    ]
    for claim in CLAIMS:
        lines += [f"## {CLAIMS[claim]}", ""]
        for condition in ("lab", "rand"):
            for kind in KINDS:
                if any(r["condition"] == condition for r in runs):
                    lines += claim_table(runs, claim, condition, kind)
        if claim == "b":
            lines += attention_table(runs, "lab") + attention_table(runs, "rand")
    lines += ["## CPU time per run (s; * resumed: the time after the resume)", "", "| run | CPU s |", "|---|---|"]
    lines += [
        f"| {Path(k).parent.name}/{Path(k).name} | {r['cpu_seconds']:.0f}{' *' if r.get('resumed') else ''} |"
        for k, r in records.items()
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/lbi-synth", help="LBI-Synth with rand and wild (and MediaPipe 2D)")
    parser.add_argument("--study-data", default="data/study", help="where the lab condition's data is rendered")
    parser.add_argument("--runs", default="runs/study")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--train-size", type=int, default=2000, help="training crops per condition")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--eval-limit", type=int, default=1000, help="test crops per split (0: all)")
    parser.add_argument("--workers", type=int, default=2, help="processes for rendering and MediaPipe")
    parser.add_argument("--out", default="train/results/study")
    parser.add_argument("--report-only", action="store_true", help="no training: tables from the runs done")
    args = parser.parse_args(argv)
    plan = StudyPlan(
        Path(args.data),
        Path(args.study_data),
        Path(args.runs),
        tuple(args.seeds),
        args.train_size,
        args.epochs,
        args.eval_limit,
    )
    if args.report_only:
        records = finished_runs(Path(args.runs))
    else:
        prepare_lab(plan.study_data, args.workers)
        records = run_all(plan)
    command = "python -m train.reports.study " + " ".join(sys.argv[1:] if argv is None else argv)
    atomic_write_text(f"{args.out}.md", study_markdown(records, plan, command.strip()))
    atomic_write_text(f"{args.out}.json", json.dumps({"command": command.strip(), "runs": records}, indent=1))
    print(f"wrote {args.out}.md and {args.out}.json ({len(records)} runs)")


if __name__ == "__main__":
    main()
