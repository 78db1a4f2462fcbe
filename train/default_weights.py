"""python -m train.default_weights [--data data/lbi-synth] [--runs runs/synth] [--out weights]

Retrains the bundled default weights in one command: LBI stage 1 (TL, PGTL, TL on the frozen
BlazePose trunk) and stage 2 (r = 0.3) on LBI-Synth lab-train, exactly the "LBI coarse" and
"LBI refined r=0.3" runs of the LBI-Synth table (``python -m train.synth_table``; finished runs
are reused). Then exports ``<out>/lbi_synth.safetensors`` (the trunk is left out: it is re-read
from the mediapipe wheel) and writes ``<out>/MODEL_CARD.md`` from the runs' own records.
The optional ``--finetune`` run measures fine-tuning the trunk against keeping it frozen.
"""

from __future__ import annotations

import argparse
import json
import platform
from dataclasses import asdict
from pathlib import Path

import torch

from lbi.data.format import PreparedData
from lbi.fileio import atomic_write_text
from lbi.weights import load_model, save_model

from . import synth_table
from .config import load_config
from .detect_2d import KIND as MEDIAPIPE
from .engine import fit
from .evaluate import EvalResult, evaluate, results_markdown
from .features import model_dataset

STAGE1_ROW, STAGE2_ROW = "LBI coarse (stage 1, PGTL)", "LBI refined r=0.3"
FINETUNE_CONFIGS = ("lbi_stage1_finetune_frozen.yaml", "lbi_stage1_finetune_trunk.yaml")


def _run_dir(runs: str, row: str) -> Path:
    return Path(runs) / synth_table.slug(row)


def _results(run: Path) -> dict:
    payload = json.loads((run / "results.json").read_text())
    return {"results": next(iter(payload["results"].values())), "info": payload["info"],
            "config": json.loads((run / "config.json").read_text()), "train_seconds": synth_table.epoch_seconds(run)}


def finetune_comparison(data: str, runs: str) -> dict[str, dict]:
    """One more epoch from the trained stage 1, trunk frozen vs trunk fine-tuned (lr 1e-4)."""
    out = {}
    for config in FINETUNE_CONFIGS:
        run = Path(runs) / config.removesuffix(".yaml")
        cfg = load_config(synth_table.CONFIGS / config, [
            f"data.train={data}/lab:train", f"data.eval={{lab-test: {data}/lab:test, wild-test: {data}/wild:test}}",
            f"training.out={run}", f"training.init={_run_dir(runs, STAGE1_ROW)}/model.safetensors"])
        if not (run / "results.json").is_file():
            fit(cfg, resume=True)
        out[config.removesuffix(".yaml")] = _results(run)
    return out


def mediapipe_inputs(model, data: str) -> dict | None:
    """The exported model evaluated on the test splits whose MediaPipe 2D detections exist
    (``python -m train.detect_2d``): the 2D input the app gives it. None when there are none."""
    results = {}
    for name, spec in (("lab-test", f"{data}/lab:test"), ("wild-test", f"{data}/wild:test")):
        root, split = spec.rsplit(":", 1)
        if Path(root, "meta.json").is_file() and MEDIAPIPE in PreparedData(root).meta.inputs_2d:
            results[name] = asdict(evaluate(model, model_dataset(model, root, split, MEDIAPIPE)))
    return {"results": results} if results else None


def _metrics_table(rows: dict[str, dict]) -> str:
    """The results table of ``train.evaluate`` for run records (their ``results`` as saved in JSON)."""
    return results_markdown({name: {split: EvalResult(**r) for split, r in record["results"].items()}
                             for name, record in rows.items()}, title=None)


def model_card(stage1: dict, stage2: dict, weights: Path, finetune: dict | None, data: str,
               mediapipe: dict | None = None) -> str:
    minutes = (stage1["train_seconds"] + stage2["train_seconds"]) / 60
    size_mb = weights.stat().st_size / 2**20
    parts = [
        "# Model card: `lbi_synth.safetensors`",
        "",
        "LBI (Lifting by Image) trained on LBI-Synth, the project's synthetic benchmark. It lifts a 2D pose "
        "(17 Human3.6M joints, from MediaPipe Pose in the app) to a root-relative 3D pose in millimetres, "
        "while the joints query image features from the BlazePose-full trunk (stride 8, frozen; its weights are "
        "read from the mediapipe 0.10.21 wheel, so this file holds only the lifter).",
        "",
        "## Retrain",
        f"`python -m train.make_synth --out {data}` (once), then `python -m train.default_weights --data {data}`.",
        "",
        "## Model",
        f"- configs: `train/configs/synth/lbi_stage1.yaml` (stage 1: TL, PGTL, TL; coarse loss) then "
        f"`lbi_stage2.yaml` (stage 2: 3 TLs on the kept {stage2['config']['model']['retention']:.0%} of the "
        "tokens; stage 1 frozen), i.e. the paper's progressive training.",
        f"- dim {stage2['config']['model']['dim']}, {stage2['config']['model']['heads']} heads, "
        f"encoder `{stage2['config']['model']['encoder']}`; file size {size_mb:.1f} MB.",
        f"- trained {stage1['config']['training']['epochs']} + {stage2['config']['training']['epochs']} epochs, "
        f"batch {stage2['config']['training']['batch_size']}, Adam {stage2['config']['training']['lr']:g}, "
        f"2D input: ground-truth projections + {stage2['config']['training']['noise_2d_px']:g} px Gaussian noise.",
        "",
        "## Data",
        "LBI-Synth default size: 24,000 lab-train crops (10 subjects, 4 fixed cameras) for training; "
        "lab-test (4,000 crops, 4 held-out subjects) and wild-test (4,000 crops, 6 subjects, random cameras, "
        "backgrounds and light) for evaluation. Nothing of the test splits is seen in training.",
        "",
        "## Cost",
        f"- training: {minutes:.1f} min ({stage1['train_seconds'] / 60:.1f} stage 1, "
        f"{stage2['train_seconds'] / 60:.1f} stage 2; sum of epoch times) on {platform.machine()} CPU, "
        f"{torch.get_num_threads()} threads (no GPU), from cached trunk features; caching the features of "
        "the 32,000 crops once takes ~9 min more.",
        "",
        "## LBI-Synth metrics (mm, %)",
        _metrics_table({"stage 1 (coarse)": stage1, "bundled (refined, r = 0.3)": stage2}),
        "",
    ]
    if mediapipe:
        parts += [
            "## With MediaPipe 2D inputs (the app's setting)",
            "The same weights, with the 2D pose from MediaPipe Pose run on each test crop "
            f"(`python -m train.detect_2d --data {data}/wild --splits test`) instead of the ground truth:",
            _metrics_table({"bundled, MediaPipe 2D": mediapipe}),
            "",
        ]
    if finetune:
        parts += [
            "## Frozen vs fine-tuned trunk",
            "One more epoch from the trained stage 1 (lr 1e-4, same data and seed): the trunk kept frozen "
            "(features from the cache) versus fine-tuned (images through the trunk, gradients into it). "
            "Coarse (stage-1) metrics:",
            _metrics_table(finetune),
            "",
        ]
    parts += [
        "## Limits",
        "- Trained on synthetic mannequins only: on real photos it gives plausible but not accurate 3D poses; "
        "MediaPipe's 2D errors are larger than the training noise.",
        "- Portraits: MediaPipe extrapolates unseen legs; the lifter lifts them anyway.",
        "- Not for any use that identifies people or makes decisions about them.",
    ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/lbi-synth")
    parser.add_argument("--runs", default="runs/synth")
    parser.add_argument("--out", default="weights")
    parser.add_argument("--finetune", action="store_true", help="also measure a fine-tuned trunk (slow on CPU)")
    args = parser.parse_args(argv)
    synth_table.main(["--data", args.data, "--runs", args.runs, "--out", str(Path(args.runs) / "default_weights_table"),
                      "--only", STAGE1_ROW, STAGE2_ROW])
    stage1, stage2 = (_results(_run_dir(args.runs, row)) for row in (STAGE1_ROW, STAGE2_ROW))
    model = load_model(_run_dir(args.runs, STAGE2_ROW) / "model.safetensors")
    weights = save_model(model, Path(args.out) / "lbi_synth.safetensors",
                         extra={"trained_on": "LBI-Synth lab-train", "results": stage2["results"]})
    finetune = finetune_comparison(args.data, args.runs) if args.finetune else None
    card = model_card(stage1, stage2, weights, finetune, args.data, mediapipe_inputs(model, args.data))
    atomic_write_text(Path(args.out) / "MODEL_CARD.md", card)
    print(f"wrote {weights} and {Path(args.out) / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
