"""python -m train.data.prepare_3dhp --root mpi_inf_3dhp_test_set [--out data/3dhp]

Prepares the MPI-INF-3DHP test set (TS1-TS6, valid frames, univ_annot3) in lbi's format, with the
scene groups GS, noGS and Outdoor as splits.
"""

from __future__ import annotations

import argparse
import json
import sys

from lbi.data.format import DatasetError
from lbi.data.mpi_inf_3dhp import SEQUENCES, prepare_3dhp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="folder holding TS1/annot_data.mat, TS1/imageSequence/ ...")
    parser.add_argument("--out", default="data/3dhp")
    parser.add_argument("--sequences", nargs="+", default=list(SEQUENCES))
    args = parser.parse_args(argv)
    try:
        counts = prepare_3dhp(args.root, args.out, tuple(args.sequences))
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"out": args.out, "valid_frames": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
