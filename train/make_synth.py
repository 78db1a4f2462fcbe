"""python -m train.make_synth --out data/lbi-synth [--size tiny|small|default] [--seed 0] [--workers 2]

Renders LBI-Synth (lab: train + test subjects; wild: test) into the prepared-dataset format.
"""

from __future__ import annotations

import argparse
import json

from lbi.data.synth.generate import SIZES, generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/lbi-synth")
    parser.add_argument("--size", default="default", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    seconds = generate(args.out, args.size, args.seed, args.workers)
    print(json.dumps({"out": args.out, "size": args.size, "counts": SIZES[args.size],
                      "seconds": {k: round(v, 1) for k, v in seconds.items()}}))


if __name__ == "__main__":
    main()
