"""python -m train --config train/configs/synth/lbi_stage1.yaml [--resume] [--set training.epochs=5]

Trains the model of a config in its training mode and evaluates it on the config's evaluation
sets. Under torchrun it trains data-parallel (gloo on CPU, NCCL on CUDA).
"""

from __future__ import annotations

import argparse
import sys

from lbi.data.format import DatasetError
from lbi.io.weights import WeightsError

from .core.config import ConfigError, load_config
from .core.engine import CheckpointError, fit
from .core.evaluate import results_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help="YAML file with data/model/training sections")
    parser.add_argument("--set", nargs="*", default=[], metavar="SECTION.KEY=VALUE", help="override config values")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt if present")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.set)
        results = fit(cfg, resume=args.resume)
    except (ConfigError, DatasetError, WeightsError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if results:
        print(results_markdown({cfg.training.out: results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
