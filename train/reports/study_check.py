"""python -m train.reports.study_check [--study train/results/study.json] [--out train/results/study_check]

Does the study's ranking hold on the full training sets? ``python -m train.reports.study`` trains on a subset (its
``--train-size`` first crops of each condition, a few epochs) so that three seeds of every arm fit the CPU. This
check trains each claim's arms (a-c) with fewer seeds on every training crop of a condition, for longer (``FULL``),
tests them on the same capped test crops, and sets each claim's full-set effect beside the subset study's
mean +- standard error: the ranking holds where the signs agree. Resumable like the study (same driver, its own
``--runs``); writes ``<out>.md`` and ``<out>.json`` with every run's CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

from scipy.stats import kendalltau

from lbi.io.files import atomic_write_text

from .study import (
    CLAIM_ARMS,
    KINDS,
    PAIRS,
    REFINED,
    SPLITS,
    StudyPlan,
    attention_table,
    cells,
    effect,
    finished_runs,
    run_all,
    verdicts,
)

#: condition: (training crops, 0 = all; epochs): lab has 3,000 crops, rand 40,000
FULL = {"lab": (0, 20), "rand": (0, 3)}
GT = KINDS["gt"]


def plans(data: Path, study_data: Path, runs: Path, eval_limit: int, seeds=(0, 1)) -> list[StudyPlan]:
    """One plan per condition: the claims' arms (a-c), every training crop."""
    out = []
    for condition, (size, epochs) in FULL.items():
        arms = tuple(replace(arm, conditions=(condition,)) for arm in CLAIM_ARMS)
        out.append(StudyPlan(data, study_data, runs, tuple(seeds), size, epochs, eval_limit, arms))
    return out


def order_agreement(subset: list[dict], full: list[dict], condition: str, split: str) -> float:
    """Kendall's tau between the claims' arms' subset means and full-set values (MPJPE, ground-truth 2D)."""
    pairs = [
        (cells(subset, arm, condition, GT, split, "mpjpe").mean, cells(full, arm, condition, GT, split, "mpjpe").mean)
        for arm in (a.name for a in CLAIM_ARMS)
    ]
    pairs = [p for p in pairs if not any(math.isnan(v) for v in p)]
    return float(kendalltau(*zip(*pairs)).statistic) if len(pairs) >= 3 else math.nan


def check_markdown(subset: list[dict], full: list[dict], command: str, subset_command: str) -> str:
    cpu = sum(r["cpu_seconds"] for r in full)
    lines = [
        "# Does the study's ranking hold on the full training sets?",
        "",
        f"`{command}`: {len(full)} runs, seeds {sorted({r['seed'] for r in full})}, every training crop "
        + ", ".join(f"{c} {e} epochs" for c, (_, e) in FULL.items())
        + f" (lab: 3,000 crops, rand: 40,000); CPU time {cpu / 60:.1f} min in total. The subset study: "
        f"`{subset_command}`. MPJPE with ground-truth 2D; effect = the other arm's error minus the paper's arm's "
        "(positive: the paper's side is better).",
        "",
        "| claim | condition | test | subset study: effect +- se (seeds) | full set: effect +- se (seeds) | ranking |",
        "|---|---|---|---|---|---|",
    ]
    held = decided = 0
    for claim, ours, theirs, _ in PAIRS:
        for condition in FULL:
            for split in SPLITS:
                small, se, n = effect(subset, condition, split, ours, theirs)
                large, large_se, m = effect(full, condition, split, ours, theirs)
                if not (n and m):
                    continue
                if abs(small) <= 2 * se:
                    outcome = "the subset could not tell"
                else:
                    same = (small > 0) == (large > 0)
                    held, decided = held + same, decided + 1
                    outcome = "holds" if same else "flips"
                lines.append(
                    f"| ({claim}) {ours} vs {theirs} | {condition} | {split} | {small:+.1f} +- {se:.1f} ({n}) | "
                    f"{large:+.1f}{f' +- {large_se:.1f}' if m > 1 else ''} ({m}) | {outcome} |"
                )
    lines += [
        "",
        "Where the subset study gave a verdict (an effect beyond two standard errors), the full set keeps its sign "
        f"in {held} of {decided} cells.",
        "",
    ]
    lines += ["## Verdicts on the full set (ground-truth 2D)", "", *(f"- {v}" for v in verdicts(full)), ""]
    lines += [
        "## Does the ranking hold?",
        "",
        "Order of the five arms by MPJPE: Kendall's tau between the subset means and the full-set values "
        "(1: the same order, -1: reversed).",
        "",
        "| condition | " + " | ".join(SPLITS) + " |",
        "|---|" + "---|" * len(SPLITS),
    ]
    for condition in FULL:
        taus = [order_agreement(subset, full, condition, split) for split in SPLITS]
        lines.append(f"| {condition} | " + " | ".join("-" if math.isnan(t) else f"{t:+.2f}" for t in taus) + " |")
    lines += ["", "## Every arm, both scales (MPJPE, ground-truth 2D, mean +- sd over seeds)", ""]
    lines += ["| condition | arm | " + " | ".join(f"{s} subset | {s} full" for s in SPLITS) + " |"]
    lines += ["|---|---|" + "---|---|" * len(SPLITS)]
    arms = [a.name for a in CLAIM_ARMS]
    for condition in FULL:
        for arm in arms:
            for suffix in ("", ", r=0.01", ", r=1") if arm == REFINED else ("",):
                values = []
                for split in SPLITS:
                    values.append(cells(subset, arm, condition, GT + suffix, split, "mpjpe").text())
                    big = cells(full, arm, condition, GT + suffix, split, "mpjpe")
                    values.append(big.text())
                label = arm + suffix.replace(", ", " evaluated at ")
                lines.append(f"| {condition} | {label} | " + " | ".join(values) + " |")
    lines += ["", "## Attention off the silhouette, full set", ""]
    for condition in FULL:
        lines += attention_table(full, condition)
    lines += ["## CPU time per run (s)", "", "| run | CPU s |", "|---|---|"]
    lines += [f"| {r['condition']}/{r['arm']}, seed {r['seed']} | {r['cpu_seconds']:.0f} |" for r in full]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/lbi-synth", help="LBI-Synth with rand and wild (and MediaPipe 2D)")
    parser.add_argument(
        "--study-data", default="data/study", help="the study's lab data (python -m train.reports.study)"
    )
    parser.add_argument("--runs", default="runs/study_full")
    parser.add_argument("--study", default="train/results/study.json", help="the subset study's results")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--eval-limit", type=int, default=500, help="test crops per split (the study's)")
    parser.add_argument("--out", default="train/results/study_check")
    parser.add_argument("--report-only", action="store_true", help="no training: tables from the runs done")
    args = parser.parse_args(argv)
    study = json.loads(Path(args.study).read_text())
    if args.report_only:
        records = finished_runs(Path(args.runs))
    else:
        records = {}
        for plan in plans(Path(args.data), Path(args.study_data), Path(args.runs), args.eval_limit, args.seeds):
            records.update(run_all(plan))
    command = "python -m train.reports.study_check " + " ".join(sys.argv[1:] if argv is None else argv)
    text = check_markdown(list(study["runs"].values()), list(records.values()), command.strip(), study["command"])
    atomic_write_text(f"{args.out}.md", text)
    atomic_write_text(f"{args.out}.json", json.dumps({"command": command.strip(), "runs": records}, indent=1))
    print(f"wrote {args.out}.md and {args.out}.json ({len(records)} runs)")


if __name__ == "__main__":
    main()
