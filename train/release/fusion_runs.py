"""The learned fusion's experiment in one command (every step resumable, skipped when its output exists):

    python -m train.release.fusion_runs [--workers 2] [--report-only]

1. data: LBI-Synth rand and photo at size "small" (``data/small``) with MediaPipe's 2D and 3D on every crop
   (``train.data.detect_2d``), and the pose-only pairs (``data/lbi-synth/pairs``): the paths the configs name;
2. the runs of ``train/configs/fusion/`` in order (``RUNS``): the lifter reading MediaPipe's 3D, stage 1 with the
   prior's training errors at two sizes, and the lifting-only twin with the prior at three (the first is the
   ensemble's ``weights/prior_mlp.safetensors``); each resumes where it stopped;
3. the tables: ``train.reports.mediapipe_3d`` (MediaPipe's own 3D on our renders, crops and whole frames) and
   ``train.reports.fusion_table`` (every way of joining lbi and MediaPipe's 3D, real photos and synthetic splits).

Costs (render, detection and feature seconds in each data set's meta.json and features/*.json, training in each
run's metrics.csv) are summed into ``train/results/fusion_runs.json``. ``--report-only`` rewrites that record from
what is there and trains nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lbi.data.format import PreparedData
from lbi.io.files import atomic_write_text

from .. import CONFIGS as CONFIG_ROOT
from .. import RESULTS
from ..core.config import load_config
from ..core.engine import epoch_seconds, fit

CONFIGS = CONFIG_ROOT / "fusion"
#: the runs, in order: the learned fusion (two sizes of the prior's training errors; the line stopped there, two
#: steps without a 2 mm gain on real photos over the plain fusion) and the twin with the prior (the ensemble's second
#: lifter; two more sizes of the errors did not pay either)
RUNS = (
    "lbi_prior_stage1.yaml",
    "lbi_prior_stage1_low_noise.yaml",
    "twin_prior.yaml",
    "twin_prior_low_noise.yaml",
    "twin_prior_high_noise.yaml",
)
#: where the configs put their data and runs
DATA, RUNS_DIR = Path("data"), Path("runs/fusion")


def prepare_data(data: Path, workers: int) -> None:
    """Step 1, each part only when missing."""
    from ..data import detect_2d, make_synth

    small = data / "small"
    for domain in ("rand", "photo"):
        if not (small / domain / "meta.json").is_file():
            make_synth.main(["--out", str(small), "--size", "small", "--domains", domain, "--workers", str(workers)])
        if detect_2d.KIND not in PreparedData(small / domain).meta.inputs_2d:
            detect_2d.main(["--data", str(small / domain), "--workers", str(workers)])
    if not (data / "lbi-synth" / "pairs" / "meta.json").is_file():
        make_synth.main(["--out", str(data / "lbi-synth"), "--domains", "pairs", "--workers", str(workers), "--resume"])


def costs(data: Path, runs: Path) -> dict:
    """Minutes spent on each data set (render, MediaPipe, features) and each run (training)."""
    record: dict = {"data": {}, "runs": {}}
    for root in (data / "small" / "rand", data / "small" / "photo", data / "lbi-synth" / "pairs"):
        if not (root / "meta.json").is_file():
            continue
        info = PreparedData(root).meta.info
        features = [json.loads(p.read_text())["seconds"] for p in (root / "features").glob("*.json")]
        record["data"][str(root)] = {
            "samples": len(PreparedData(root)),
            "render_min": round(info.get("render_seconds", 0) / 60, 1),
            "mediapipe_min": round(info.get("mediapipe", {}).get("seconds", 0) / 60, 1),
            "features_min": round(sum(features) / 60, 1),
        }
    for config in RUNS:
        run = runs / Path(config).stem
        seconds = epoch_seconds(run) if (run / "metrics.csv").is_file() else 0.0
        record["runs"][run.name] = {"training_min": round(seconds / 60, 1)}
    spent = [v for d in record["data"].values() for k, v in d.items() if k.endswith("_min")]
    spent += [r["training_min"] for r in record["runs"].values()]
    record["total_min"] = round(sum(spent), 1)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.release.fusion_runs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--report-only", action="store_true", help="rewrite the cost record only; train nothing")
    args = parser.parse_args(argv)
    data, runs = DATA, RUNS_DIR
    if not args.report_only:
        prepare_data(data, args.workers)
        for config in RUNS:
            cfg = load_config(CONFIGS / config)
            if not (Path(cfg.training.out) / "model.safetensors").is_file():
                fit(cfg, resume=True)
        from ..reports import fusion_table, mediapipe_3d

        mediapipe_3d.main(["--data", str(data / "small"), str(data / "lbi-synth")])
        fusion_table.main(["--data", str(data / "small")])
    if not any((runs / Path(c).stem / "metrics.csv").is_file() for c in RUNS):
        print(f"no runs under {runs}: the committed record stays as it is")
        return 0
    atomic_write_text(RESULTS / "fusion_runs.json", json.dumps(costs(data, runs), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
