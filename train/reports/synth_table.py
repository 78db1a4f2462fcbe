"""python -m train.reports.synth_table [--data data/lbi-synth] [--epochs N] [--out train/results/lbi_synth]

Trains and evaluates every model of the LBI-Synth table on lab-test and wild-test: the lifting-only
baseline, the plain image model (3 TLs), LBI coarse (stage 1 with PGTL), LBI refined (stage 2 with
r = 0.01, 0.3, 1), LBI trained end to end, LBI with a 60-epoch stage 1, and a lifting-only MLP
as small as LBI's d = 64 lifter. Runs that already finished (results.json present)
are reused; an interrupted run resumes from its checkpoint. Writes <out>.md and <out>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lbi.io.files import atomic_path

from .. import CONFIGS as CONFIG_ROOT
from ..core.config import load_config
from ..core.engine import CHECKPOINT, epoch_seconds, fit
from ..core.evaluate import EvalResult, results_markdown, write_results

CONFIGS = CONFIG_ROOT / "synth"
STAGE1 = "LBI coarse (stage 1, PGTL)"
STAGE1_LONG = "LBI coarse, 60 epochs"


@dataclass(frozen=True)
class Row:
    name: str
    config: str  # file in CONFIGS
    overrides: tuple[str, ...] = ()
    init_from: str | None = None  # row whose model initialises this one (stage 2)
    continues: str | None = None  # row of the same config and fewer epochs whose checkpoint it resumes


RUNS = (  # in order of importance, so that an interrupted table still answers the main questions
    Row("lifting-only (Martinez)", "lifting_only.yaml"),
    Row(STAGE1, "lbi_stage1.yaml"),
    Row("plain image (3 TLs)", "plain_image.yaml"),
    Row("LBI refined r=0.3", "lbi_stage2.yaml", init_from=STAGE1),
    Row("LBI end-to-end (both losses)", "lbi_end_to_end.yaml"),
    Row("LBI refined r=0.01", "lbi_stage2.yaml", ("model.retention=0.01",), init_from=STAGE1),
    Row("LBI refined r=1", "lbi_stage2.yaml", ("model.retention=1.0",), init_from=STAGE1),
    # is the image model undertrained at 20 epochs (the MLP gets 100), or is it the lifter's size?
    Row(STAGE1_LONG, "lbi_stage1.yaml", ("training.epochs=60", "training.eval_every=10"), continues=STAGE1),
    Row("LBI refined r=0.3, 60-epoch stage 1", "lbi_stage2.yaml", init_from=STAGE1_LONG),
    Row("lifting-only, hidden 256", "lifting_only.yaml", ("model.hidden=256",)),  # LBI d=64's parameter count
    # PGTL vs plain TLs when trained longer (compare with the 60-epoch LBI's epoch-40 row in its metrics.csv)
    Row(
        "plain image (3 TLs), 40 epochs",
        "plain_image.yaml",
        ("training.epochs=40", "training.eval_every=10"),
        continues="plain image (3 TLs)",
    ),
)


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def continue_from(run: Path, source: Path) -> bool:
    """Starts ``run`` from ``source``'s last checkpoint when ``run`` has none: with per-epoch seeds,
    resuming a shorter run of the same config is bit-identical to training the longer one from scratch."""
    if (run / CHECKPOINT).is_file() or not (source / CHECKPOINT).is_file():
        return False
    with atomic_path(run / CHECKPOINT) as tmp:
        shutil.copyfile(source / CHECKPOINT, tmp)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/lbi-synth")
    parser.add_argument("--runs", default="runs/synth", help="folder for the runs' checkpoints and logs")
    parser.add_argument("--epochs", type=int, default=None, help="override every config's epochs")
    parser.add_argument("--out", default="train/results/lbi_synth")
    parser.add_argument("--only", nargs="*", default=None, help="row names to run (default: all)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    results: dict[str, dict[str, EvalResult]] = {}
    timings: dict[str, float] = {}
    train_seconds: dict[str, float] = {}
    for row in RUNS:
        name = row.name
        if args.only is not None and name not in args.only:
            continue
        out = Path(args.runs) / slug(name)
        overrides = [
            f"data.train={args.data}/lab:train",
            f"data.eval={{lab-test: {args.data}/lab:test, wild-test: {args.data}/wild:test}}",
            f"training.out={out}",
            *row.overrides,
        ]
        if row.init_from:
            overrides.append(f"training.init={Path(args.runs) / slug(row.init_from)}/model.safetensors")
        if args.epochs:
            overrides.append(f"training.epochs={args.epochs}")
        cfg = load_config(CONFIGS / row.config, overrides)
        done = out / "results.json"
        if not done.is_file():
            if row.continues and continue_from(out, Path(args.runs) / slug(row.continues)):
                print(f"[{name}] continues the checkpoint of [{row.continues}]", flush=True)
            print(f"[{name}] training ({row.config} {' '.join(row.overrides)})", flush=True)
            fit(cfg, resume=True)
        payload = json.loads(done.read_text())
        results[name] = {split: EvalResult(**r) for split, r in next(iter(payload["results"].values())).items()}
        timings[name] = payload["info"].get("wall_seconds")
        train_seconds[name] = epoch_seconds(out)
        if row.continues and (Path(args.runs) / slug(row.continues) / "metrics.csv").is_file():
            # its first epochs are the continued run's (copied history): count only its own
            train_seconds[name] = round(train_seconds[name] - epoch_seconds(Path(args.runs) / slug(row.continues)), 1)
        print(results_markdown({name: results[name]}), flush=True)

    info = {
        "command": " ".join(["python -m train.reports.synth_table", *(shlex.quote(a) for a in (argv or sys.argv[1:]))]),
        "wall_seconds_this_call": round(time.perf_counter() - start, 1),
        "train_and_eval_seconds_per_run": timings,
        "total_train_and_eval_seconds": round(sum(timings.values()), 1),
        "train_seconds_per_run": train_seconds,
        "total_train_seconds": round(sum(train_seconds.values()), 1),
        "machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
        "data": args.data,
    }
    notes = [
        f"Command: `{info['command']}` (data: `python -m train.data.make_synth --out {args.data}`)",
        f"Training time of these runs (sum of their epochs, from metrics.csv): "
        f"{info['total_train_seconds'] / 60:.1f} min on {info['machine']}; per run (min): "
        + ", ".join(f"{name} {sec / 60:.1f}" for name, sec in train_seconds.items()),
        "MPJPE, P-MPJPE, coarse MPJPE in mm; PCK@150 mm and AUC (0:5:150 mm) in % on the 14 3DHP joints; "
        "bg. attention: share of the last stage-1 layer's attention outside 30-px circles around the joints",
    ]
    write_results(results, args.out, title="LBI-Synth", info=info, notes=notes)
    print(Path(args.out).with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
