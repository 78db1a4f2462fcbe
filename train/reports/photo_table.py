"""python -m train.reports.photo_table RUN [RUN ...] [--out train/results/real_photo_runs]

One table of finished training runs (``python -m train`` outputs) side by side: each run's real-photo numbers
(its ``realval.json``, written when its config names ``data.photos``) next to its synthetic ones (its
``results.json``: MPJPE / P-MPJPE per evaluation split) and its training time (the sum of its epochs in
``metrics.csv``). Writes <out>.md and <out>.json; reads only what the runs wrote, so it regenerates in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lbi.io.files import atomic_write_text

from ..core.engine import epoch_seconds

#: the real-photo rows shown, by what they measure (a run's rows are named after the run)
PHOTO_ROWS = ("MediaPipe 2D", "ground-truth 2D", "image absent, MediaPipe 2D", "image absent, ground-truth 2D")


def run_row(run: Path) -> dict:
    """What one run measured: real-photo means by row kind, synthetic (MPJPE, P-MPJPE) by split, minutes."""
    photos = json.loads((run / "realval.json").read_text())["means"] if (run / "realval.json").is_file() else {}
    results = json.loads((run / "results.json").read_text())["results"] if (run / "results.json").is_file() else {}
    first: dict[str, dict] = next(iter(results.values()), {})  # the run's own row (the peer row follows it)
    synthetic = {split: (r["mpjpe"], r["p_mpjpe"]) for split, r in first.items()}
    real = {kind: photos[f"{run.name}, {kind}"] for kind in PHOTO_ROWS if f"{run.name}, {kind}" in photos}
    real.update({kind: photos[kind] for kind in ("MediaPipe world landmarks",) if kind in photos})
    return {"run": run.name, "minutes": round(epoch_seconds(run) / 60, 1), "real": real, "synthetic": synthetic}


def markdown(rows: list[dict], command: str) -> str:
    kinds = [k for k in (*PHOTO_ROWS, "MediaPipe world landmarks") if any(k in r["real"] for r in rows)]
    splits = list(dict.fromkeys(s for r in rows for s in r["synthetic"]))
    lines = [
        "# Training runs on real photos and synthetic splits",
        "",
        "Real photos: PA-MPJPE / MPJPE on the 14 joints (mm; `train.core.evaluate_photos`, flip test; a stage-1 "
        "run's coarse pose). Synthetic: MPJPE / P-MPJPE (mm) on each evaluation split, the run's own 2D input, no flip "
        "test. Minutes: training time, the sum of the run's epochs.",
        "",
        "| run | minutes | " + " | ".join(f"real, {k}" for k in kinds) + " | " + " | ".join(splits) + " |",
        "|---" * (2 + len(kinds) + len(splits)) + "|",
    ]
    for r in rows:
        real = [f"{r['real'][k]['pa14']:.1f} / {r['real'][k]['mpjpe14']:.1f}" if k in r["real"] else "-" for k in kinds]
        synth = [
            f"{r['synthetic'][s][0]:.1f} / {r['synthetic'][s][1]:.1f}" if s in r["synthetic"] else "-" for s in splits
        ]
        lines.append(f"| {r['run']} | {r['minutes']} | " + " | ".join(real) + " | " + " | ".join(synth) + " |")
    return "\n".join([*lines, "", f"`{command}`", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (training.out of each run)")
    parser.add_argument("--out", default="train/results/real_photo_runs")
    args = parser.parse_args(argv)
    missing = [str(run) for run in args.runs if not (run / "metrics.csv").is_file()]
    if missing:
        print(f"error: not finished training runs (no metrics.csv): {', '.join(missing)}", file=sys.stderr)
        return 2
    rows = [run_row(run) for run in args.runs]
    command = " ".join(["python -m train.reports.photo_table", *(sys.argv[1:] if argv is None else argv)])
    atomic_write_text(f"{args.out}.md", markdown(rows, command))
    atomic_write_text(f"{args.out}.json", json.dumps({"runs": rows, "command": command}, indent=1))
    print(markdown(rows, command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
