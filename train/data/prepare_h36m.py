"""python -m train.data.prepare_h36m --videos H36M_ROOT --poses-3d data_3d_h36m.npz --cameras cameras.json
       [--poses-2d cpn=data_2d_h36m_cpn_ft_h36m_dbb.npz sh=data_2d_h36m_sh_pt_mpii.npz] [--out data/h36m]

Turns the original Human3.6M release (videos) and the common pose files into lbi's prepared format:
frames at 5 fps cropped around ground-truth boxes, 3D joints in camera coordinates (mm), 2D inputs.
"""

from __future__ import annotations

import argparse
import json
import sys

from lbi.data.format import DatasetError
from lbi.data.h36m import TEST_SUBJECTS, TRAIN_SUBJECTS, prepare_h36m


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", required=True, help="folder holding S1/Videos/<action>.<camera>.mp4, ...")
    parser.add_argument("--poses-3d", required=True, help="data_3d_h36m.npz (positions_3d, metres, world frame)")
    parser.add_argument("--cameras", required=True, help="camera parameters JSON (see lbi.data.h36m.load_cameras)")
    parser.add_argument(
        "--poses-2d", nargs="*", default=[], metavar="NAME=NPZ", help="2D inputs, e.g. cpn=FILE sh=FILE"
    )
    parser.add_argument("--out", default="data/h36m")
    parser.add_argument("--subjects", nargs="+", default=list(TRAIN_SUBJECTS + TEST_SUBJECTS))
    parser.add_argument("--stride", type=int, default=10, help="keep every n-th frame (10: 50 -> 5 fps)")
    args = parser.parse_args(argv)
    kinds = {}
    for item in args.poses_2d:
        name, sep, path = item.partition("=")
        if not sep:
            parser.error(f"--poses-2d {item!r}: write NAME=FILE, e.g. cpn=data_2d_h36m_cpn_ft_h36m_dbb.npz")
        kinds[name] = path
    try:
        counts = prepare_h36m(
            args.videos, args.poses_3d, args.cameras, args.out, kinds, tuple(args.subjects), args.stride
        )
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"out": args.out, **counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
