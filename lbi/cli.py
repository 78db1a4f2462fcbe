"""Command line: ``python -m lbi predict IMAGE... --json OUT``, ``python -m lbi video CLIP --out OUT`` and
``python -m lbi bench``."""

from __future__ import annotations

import argparse
import json
import sys

from .fileio import atomic_write_text
from .model.selection import retention_rate

USAGE = """python -m lbi COMMAND ...

commands:
  predict IMAGE... --json OUT   3D pose of everyone in each photo, written as JSON
  video CLIP --out OUT...       3D motion of the people in a video clip: .json, .csv, .bvh
  export --onnx OUT.onnx        the lifter (encoder + both stages) as one ONNX graph
  bench                         per-stage latency and frames per second, as JSON
"""


def add_fusion(parser: argparse.ArgumentParser) -> None:
    from .fusion import FUSIONS

    parser.add_argument(
        "--fusion",
        choices=FUSIONS,
        default=None,
        help="how MediaPipe's own 3D joins the pose: learned (weights that read it), plain (a blend with the "
        "lifter's pose) or none (the paper's lifter alone); default: the weights' best on real photos",
    )


def estimator_of(args: argparse.Namespace, **kwargs):
    """The estimator the command line asks for, or the one-line reason it cannot be built (WeightsError, a fusion
    the weights cannot run)."""
    from .estimator import Estimator

    return Estimator(args.weights, device=args.device, onnx=not args.no_onnx, fusion=args.fusion, **kwargs)


def predict(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lbi predict", description="3D pose of everyone in each photo (largest first), as JSON."
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
    parser.add_argument("--max-people", type=int, default=4, help="the most people looked for in a photo")
    parser.add_argument("--no-onnx", action="store_true", help="lift with PyTorch even where onnxruntime is installed")
    add_fusion(parser)
    args = parser.parse_args(argv)

    from .estimator import NoPersonFound
    from .image_io import ImageError, read_photo

    try:
        estimator = estimator_of(args, flip_test=not args.no_flip_test)
    except ValueError as err:  # WeightsError, or a fusion the weights cannot run
        print(f"error: {err}", file=sys.stderr)
        return 2
    results, failed = [], 0
    for path in args.images:
        try:
            photo = read_photo(path)
            people = estimator.predict_people(
                photo.rgb, retention=args.retention, max_people=args.max_people, refinable=False
            )
            for estimate in people:
                estimate.diagnostics.notes.extend([photo.note] if photo.note else [])
            # 2D joints and the crop box in the pixels of the file, also when it was analysed downscaled
            scale = photo.original_size[0] / photo.rgb.shape[1]
            results.append({"image": path, "people": [e.scaled(scale).to_dict() for e in people]})
            diag = people[0].diagnostics
            notes = f" ({'; '.join(diag.notes)})" if diag.notes else ""
            print(f"{path}: {len(people)} {'person' if len(people) == 1 else 'people'}{notes}", file=sys.stderr)
        except (ImageError, NoPersonFound) as err:
            failed += 1
            results.append({"image": path, "error": str(err)})
            print(f"{path}: {err}", file=sys.stderr)
    text = json.dumps(
        {"weights": str(args.weights or "bundled"), "fusion": estimator.fusion, "results": results}, indent=2
    )
    if args.json == "-":
        print(text)
    else:
        atomic_write_text(args.json, text)
    return 1 if failed else 0


def video(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lbi video",
        description="3D motion of the people in a video clip. Frames are streamed (a long clip never sits in "
        "memory); what was analysed is written even when the clip breaks off.",
    )
    parser.add_argument("clip", help="a video file (MP4, AVI, MOV, MKV, WebM)")
    parser.add_argument(
        "--out",
        nargs="+",
        required=True,
        help="output files, by suffix: .json (everything), .csv (a row per frame, person and joint), .bvh "
        "(a skeleton with joint rotations at the clip's frame rate; one file per person when there are several)",
    )
    parser.add_argument(
        "--people", type=int, default=1, help="the most people per frame (1: MediaPipe tracks one, faster)"
    )
    parser.add_argument("--no-smoothing", action="store_true", help="no temporal smoothing (the 1-euro filter)")
    parser.add_argument("--flip-test", action="store_true", help="also lift each mirrored crop (slower)")
    parser.add_argument("--max-seconds", type=float, default=None, help="refuse clips longer than this (default 600)")
    parser.add_argument("--weights", default=None, help="model file (default: the bundled weights, or $LBI_WEIGHTS)")
    parser.add_argument("--retention", type=retention_rate, default=None, help="share of tokens stage 2 keeps")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--no-onnx", action="store_true", help="lift with PyTorch even where onnxruntime is installed")
    add_fusion(parser)
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from .video import FORMATS, MAX_SECONDS, Smoothing, VideoError, analyse_video

    unknown = [o for o in args.out if not o.lower().endswith(FORMATS)]
    if unknown or args.people < 1:
        problem = f"unknown output format: {', '.join(unknown)}" if unknown else "--people must be at least 1"
        print(f"error: {problem} (outputs: {', '.join(FORMATS)})", file=sys.stderr)
        return 2
    try:
        estimator = estimator_of(args)
    except ValueError as err:  # WeightsError, or a fusion the weights cannot run
        print(f"error: {err}", file=sys.stderr)
        return 2
    bar = tqdm(desc=args.clip, unit="frame")

    def progress(done: int, total: int) -> None:
        bar.total = total or None
        bar.update(done - bar.n)

    try:
        clip = analyse_video(
            args.clip,
            estimator,
            max_people=args.people,
            smoothing=None if args.no_smoothing else Smoothing(),
            max_seconds=args.max_seconds or MAX_SECONDS,
            retention=args.retention,
            flip_test=args.flip_test,
            progress=progress,
        )
    except VideoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    written = [str(path) for out in args.out for path in clip.write(out)]
    found = sum(bool(f.people) for f in clip.frames)
    print(
        f"{args.clip}: {len(clip.frames)} frames, people in {found}, ids {clip.ids}; wrote {', '.join(written)}",
        file=sys.stderr,
    )
    for note in clip.notes:
        print(f"note: {note}", file=sys.stderr)
    if clip.error:
        print(f"error: {clip.error}", file=sys.stderr)
    return 1 if clip.error or not clip.ids else 0


def export(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lbi export",
        description="The lifter (image encoder, stage 1, selection and stage 2) as one ONNX graph at one retention "
        "rate; inputs and outputs: lbi.export. Needs pip install lbi[onnx].",
    )
    parser.add_argument("--onnx", required=True, help="output file (written atomically)")
    parser.add_argument("--weights", default=None, help="model file (default: the bundled weights, or $LBI_WEIGHTS)")
    parser.add_argument(
        "--retention", type=retention_rate, default=None, help="share of tokens stage 2 keeps (default: the model's)"
    )
    args = parser.parse_args(argv)

    from .model import LiftingByImage
    from .onnx_lifter import onnx_available
    from .weights import WeightsError, default_weights, load_model

    if not onnx_available():
        print('error: exporting needs onnx and onnxscript: pip install "lbi[onnx]"', file=sys.stderr)
        return 2
    try:
        model = load_model(args.weights or default_weights())
    except WeightsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not isinstance(model, LiftingByImage):
        print(f"error: {model.arch} is a lifting-only model: export the MLP with torch.onnx directly", file=sys.stderr)
        return 2
    from .export import export_onnx

    path = export_onnx(model, args.onnx, args.retention)
    print(f"wrote {path} (retention {args.retention or model.config.retention})", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "predict":
        return predict(rest)
    if command == "video":
        return video(rest)
    if command == "export":
        return export(rest)
    if command == "bench":
        from .bench import main as bench_main

        bench_main(rest)
        return 0
    print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2
