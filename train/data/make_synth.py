"""python -m train.data.make_synth --out data/lbi-synth [--size tiny|small|default] [--domains lab wild rand upper
pairs]
                             [--resume]

Renders LBI-Synth into the prepared-dataset format: lab (train + test subjects, 4 fixed cameras),
wild (test: random cameras and scenes) and rand (train + test: the domain-randomised split, each
pose on several backgrounds; its photographs come from scikit-image: pip install -e ".[synth]") and upper
(rand's crops cut below the shoulders, as portraits and webcams at a desk are; made from rand), photo
(rand's renders under the cameras of everyday photos: eye-level to moderately high, 40-75 degree lenses) and
pairs (pose-only: procedural poses under the cameras of everyday photos, no image; lbi.data.synth.pairs).
``--resume`` continues an interrupted render from its last checkpoint.
"""

from __future__ import annotations

import argparse
import json

from lbi.data.synth.generate import (
    PAIR_SIZES,
    PARTS,
    PHOTO_SIZES,
    RAND_SIZES,
    SIZES,
    generate,
    generate_pairs,
    generate_randomised,
)
from lbi.data.synth.upper import UPPER_SIZES, generate_upper


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/lbi-synth")
    parser.add_argument("--size", default="default", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--domains",
        nargs="+",
        default=["lab", "wild", "rand", "upper"],
        choices=["lab", "wild", "rand", "upper", "photo", "pairs"],
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        default=list(PARTS),
        choices=PARTS,
        help="lab and wild: render only these parts (e.g. lab_test wild_test: the two test splits)",
    )
    parser.add_argument("--resume", action="store_true", help="continue an interrupted render")
    args = parser.parse_args(argv)
    parts = tuple(p for p in args.parts if p.split("_")[0] in args.domains)
    seconds = generate(args.out, args.size, args.seed, args.workers, parts, args.resume) if parts else {}
    if "rand" in args.domains:
        seconds["rand"] = generate_randomised(args.out, args.size, args.seed, args.workers, args.resume)
    if "photo" in args.domains:
        seconds["photo"] = generate_randomised(args.out, args.size, args.seed, args.workers, args.resume, "photo")
    if "upper" in args.domains:
        seconds["upper"] = generate_upper(args.out, args.size, args.seed)
    if "pairs" in args.domains:
        seconds["pairs"] = generate_pairs(args.out, args.size, args.seed, args.workers, args.resume)
    print(
        json.dumps(
            {
                "out": args.out,
                "size": args.size,
                "counts": {
                    **SIZES[args.size],
                    "rand": RAND_SIZES[args.size],
                    "upper": UPPER_SIZES[args.size],
                    "photo": PHOTO_SIZES[args.size],
                    "pairs": PAIR_SIZES[args.size],
                },
                "seconds": {k: round(v, 1) for k, v in seconds.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
