"""python -m train.reports.image_reliance --weights W --data lab-test=data/lbi-synth/lab:test ... [--out STEM]

How much does an image model use its image? Evaluates it three times on the same 2D inputs:
with each sample's own image features, with another sample's (the batch rolled by one: right
image statistics, wrong person) and with the batch-mean features (no per-sample image content).
If the errors barely differ, the model lifts from the 2D pose alone and ignores the picture.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from lbi.io.files import atomic_write_text
from lbi.io.weights import load_model

from ..core.config import split_spec
from ..core.evaluate import predict, summarise
from ..core.features import model_dataset

VARIANTS = {
    "own image": None,
    "another sample's image": lambda f: torch.roll(f, shifts=1, dims=0),
    "batch-mean image": lambda f: f.mean(dim=0, keepdim=True).expand_as(f),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", nargs="+", required=True, help="name=root:split ...")
    parser.add_argument("--inputs-2d", default="gt")
    parser.add_argument("--out", default=None, help="write <out>.md and <out>.json")
    args = parser.parse_args(argv)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    model = load_model(args.weights)
    rows = {}
    for item in args.data:
        name, _, spec = item.partition("=")
        root, split = split_spec(spec)
        dataset = model_dataset(model, root, split, args.inputs_2d, cache="build")
        rows[name] = {
            variant: summarise(predict(model, dataset, batch_size=128, alter_features=alter))
            for variant, alter in VARIANTS.items()
        }
    lines = [
        f"### Image reliance of `{args.weights}`",
        "",
        "| split | image features | MPJPE | coarse MPJPE | P-MPJPE |",
        "|---|---|---|---|---|",
    ]
    for name, variants in rows.items():
        for variant, r in variants.items():
            lines.append(f"| {name} | {variant} | {r.mpjpe:.1f} | {r.mpjpe_coarse:.1f} | {r.p_mpjpe:.1f} |")
    lines += [
        "",
        f"{args.inputs_2d} 2D inputs; `python -m train.reports.image_reliance {' '.join(argv or sys.argv[1:])}`: "
        f"{time.perf_counter() - start_wall:.0f} s wall, {time.process_time() - start_cpu:.0f} s CPU "
        "(feature caches built if missing)",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        atomic_write_text(Path(args.out).with_suffix(".md"), table)
        atomic_write_text(
            Path(args.out).with_suffix(".json"),
            json.dumps(
                {name: {v: r.__dict__ for v, r in variants.items()} for name, variants in rows.items()}, indent=2
            ),
        )


if __name__ == "__main__":
    main()
