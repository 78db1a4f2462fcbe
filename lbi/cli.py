"""Command line: ``python -m lbi predict IMAGE... --json OUT`` and ``python -m lbi bench``."""

from __future__ import annotations

import argparse
import json
import sys

from .fileio import atomic_write_text
from .model.selection import retention_rate

USAGE = """python -m lbi COMMAND ...

commands:
  predict IMAGE... --json OUT   3D pose of the largest person in each photo, written as JSON
  bench                         per-stage latency and frames per second, as JSON
"""


def predict(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lbi predict", description="3D pose of the largest person in each photo, as JSON."
    )
    parser.add_argument("images", nargs="+", help="photos (JPEG, PNG, WebP, TIFF, ...)")
    parser.add_argument("--json", required=True, help="output file (written atomically); '-' for stdout")
    parser.add_argument("--weights", default=None, help="model file (default: the bundled weights, or $LBI_WEIGHTS)")
    parser.add_argument(
        "--retention",
        type=retention_rate,
        default=None,
        help="share of image tokens stage 2 keeps, in (0, 1] (default: the model's)",
    )
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument(
        "--no-flip-test", action="store_true", help="lift the crop alone, not also its mirror (faster, less accurate)"
    )
    args = parser.parse_args(argv)

    from .estimator import Estimator, NoPersonFound
    from .image_io import ImageError, read_photo
    from .weights import WeightsError

    try:
        estimator = Estimator(args.weights, device=args.device, flip_test=not args.no_flip_test)
    except WeightsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    results, failed = [], 0
    for path in args.images:
        try:
            photo = read_photo(path)
            estimate = estimator.predict(photo.rgb, retention=args.retention)
            if photo.note:
                estimate.diagnostics.notes.append(photo.note)
            # 2D joints and the crop box in the pixels of the file, also when it was analysed downscaled
            results.append({"image": path, **estimate.scaled(photo.original_size[0] / photo.rgb.shape[1]).to_dict()})
            diag = estimate.diagnostics
            notes = f" ({'; '.join(diag.notes)})" if diag.notes else ""
            print(
                f"{path}: ok, {diag.kept_tokens}/{diag.total_tokens} tokens kept{notes}",
                file=sys.stderr,
            )
        except (ImageError, NoPersonFound) as err:
            failed += 1
            results.append({"image": path, "error": str(err)})
            print(f"{path}: {err}", file=sys.stderr)
    text = json.dumps({"weights": str(args.weights or "bundled"), "results": results}, indent=2)
    if args.json == "-":
        print(text)
    else:
        atomic_write_text(args.json, text)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "predict":
        return predict(rest)
    if command == "bench":
        from .bench import main as bench_main

        bench_main(rest)
        return 0
    print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2
