"""The command line, ``lbi COMMAND`` (or ``python -m lbi COMMAND``): predict, video, export, bench, app.

Each command is a subparser of :func:`parser` and a function taking its parsed arguments; the heavy imports
(PyTorch's models, MediaPipe, Gradio) happen inside the command that needs them.
"""

from __future__ import annotations

import argparse
import json
import sys

from .io.files import atomic_write_text
from .model.selection import retention_rate
from .pipeline.fusion import FUSIONS


def _weights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", default=None, help="model file (default: the bundled weights, or $LBI_WEIGHTS)")


def _lifting(parser: argparse.ArgumentParser) -> None:
    """The options every command that lifts shares: weights, device, onnxruntime, the fusion with MediaPipe's 3D."""
    _weights(parser)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--no-onnx", action="store_true", help="lift with PyTorch even where onnxruntime is installed")
    parser.add_argument(
        "--fusion",
        choices=FUSIONS,
        default=None,
        help="how MediaPipe's own 3D joins the pose: ensemble (lbi, MediaPipe's 3D and an MLP reading it), plain "
        "(lbi blended with MediaPipe's 3D), learned (weights that read it) or none (the paper's lifter alone); "
        "default: the weights' best on real photos",
    )


def estimator_of(args: argparse.Namespace, **kwargs):
    """The estimator the command line asks for; ValueError (WeightsError, a fusion the weights cannot run) otherwise."""
    from .pipeline.estimator import Estimator

    return Estimator(args.weights, device=args.device, onnx=not args.no_onnx, fusion=args.fusion, **kwargs)


def predict(args: argparse.Namespace) -> int:

    from .io.images import ImageError, read_photo
    from .pipeline.estimator import NoPersonFound

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


def video(args: argparse.Namespace) -> int:

    from tqdm import tqdm

    from .motion.video import FORMATS, MAX_SECONDS, Smoothing, VideoError, analyse_video

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


def export(args: argparse.Namespace) -> int:

    from .io.weights import WeightsError, default_weights, load_model
    from .model import LiftingByImage
    from .pipeline.onnx_lifter import onnx_available

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
    from .pipeline.export import export_onnx

    path = export_onnx(model, args.onnx, args.retention)
    print(f"wrote {path} (retention {args.retention or model.config.retention})", file=sys.stderr)
    return 0


def bench(args: argparse.Namespace) -> int:
    from .bench import run

    run(args)
    return 0


def app(args: argparse.Namespace) -> int:
    try:
        from .app import serve
    except ImportError as err:
        print(f'error: the app needs Gradio and Plotly ({err}): pip install "lbi[app]"', file=sys.stderr)
        return 2
    serve(args)
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line: one subparser per command."""
    main_parser = argparse.ArgumentParser(prog="lbi", description=__doc__.split("\n", 1)[0])
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "predict",
        help="3D pose of everyone in each photo, as JSON",
        description=("3D pose of everyone in each photo (largest first), as JSON."),
    )
    p.add_argument("images", nargs="+", help="photos (JPEG, PNG, WebP, TIFF, ...)")
    p.add_argument("--json", required=True, help="output file (written atomically); '-' for stdout")
    p.add_argument(
        "--retention",
        type=retention_rate,
        default=None,
        help="share of image tokens stage 2 keeps, in (0, 1] (default: the model's)",
    )
    p.add_argument(
        "--no-flip-test", action="store_true", help="lift the crop alone, not also its mirror (faster, less accurate)"
    )
    p.add_argument("--max-people", type=int, default=4, help="the most people looked for in a photo")
    _lifting(p)
    p.set_defaults(run=predict)

    p = commands.add_parser(
        "video",
        help="3D motion of the people in a clip: .json, .csv, .bvh",
        description=(
            "3D motion of the people in a video clip. Frames are streamed (a long clip never sits in memory); what was "
            "analysed is written even when the clip breaks off."
        ),
    )
    p.add_argument("clip", help="a video file (MP4, AVI, MOV, MKV, WebM)")
    p.add_argument(
        "--out",
        nargs="+",
        required=True,
        help="output files, by suffix: .json (everything), .csv (a row per frame, person and joint), .bvh (a "
        "skeleton with joint rotations at the clip's frame rate). Several people give one BVH each: --out NAME.bvh "
        "writes NAME_person0.bvh, NAME_person1.bvh, ... Every file covers every frame of the clip: a person missing "
        "from frames is interpolated between the frames where they are seen and held before and after (the JSON and "
        "the CSV mark each pose seen, interpolated or held)",
    )
    p.add_argument(
        "--people", type=int, default=1, help="the most people followed (each costs a landmark run and a lift a frame)"
    )
    p.add_argument("--no-smoothing", action="store_true", help="no temporal smoothing (the 1-euro filter)")
    p.add_argument("--flip-test", action="store_true", help="also lift each mirrored crop (slower)")
    p.add_argument("--max-seconds", type=float, default=None, help="refuse clips longer than this (default 600)")
    p.add_argument("--retention", type=retention_rate, default=None, help="share of tokens stage 2 keeps")
    _lifting(p)
    p.set_defaults(run=video)

    p = commands.add_parser(
        "export",
        help="the lifter as one ONNX graph",
        description=(
            "The lifter (image encoder, stage 1, selection and stage 2) as one ONNX graph at one retention rate; "
            "inputs and outputs: lbi.pipeline.export. Needs pip install lbi[onnx]."
        ),
    )
    p.add_argument("--onnx", required=True, help="output file (written atomically)")
    _weights(p)
    p.add_argument(
        "--retention", type=retention_rate, default=None, help="share of tokens stage 2 keeps (default: the model's)"
    )
    p.set_defaults(run=export)

    from .bench import add_arguments

    p = commands.add_parser(
        "bench",
        help="per-stage latency and frames per second, as JSON",
        description=("Per-stage latency of the photo, live and video paths (or the lifter alone), as JSON."),
    )
    add_arguments(p)
    p.set_defaults(run=bench)

    p = commands.add_parser(
        "app",
        help='serve the Gradio app (pip install "lbi[app]")',
        description=("Serves the app: photo, video or webcam in, 3D poses, attention and pruned patches out."),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0 for the network)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for PyTorch and onnxruntime (default: PyTorch's, one per core, as the other commands use)",
    )
    _lifting(p)
    p.set_defaults(run=app)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    return int(args.run(args))
