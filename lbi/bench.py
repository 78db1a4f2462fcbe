"""Latency, printed as JSON: the whole photo -> 3D pipeline, or the lifter alone.

    python -m lbi bench                                   # pipeline on the bundled weights and photo
    python -m lbi bench --lifter --encoders hrnet_w32 blazepose_s4 --batches 1 32

Pipeline: median milliseconds per stage (detector, crop, encoder, stage 1, stage 2, drawing) of
the Estimator, for a static photo and for live mode (the webcam path: people followed from frame to frame, the
small 3D view; one person, and two), and end-to-end frames per second; and frames per second of
``lbi video --people 4`` on rendered 640x480 clips of one person and of three (the median of several runs each, taken
in turns; their ratio: ``fps_vs_one_person``).
Live mode and video lift with onnxruntime where it is installed (``--no-onnx``: PyTorch only).
Lifter (``--lifter``): for each encoder and
batch size, the encoder, stage 1 (embeddings + TL/PGTL/TL + coarse head, from encoder features),
stage 2 (selection + 3 TLs + refine head, from cached stage-1 results) and the whole forward
pass, on random weights (latency does not depend on them). On CUDA, bf16 autocast is used.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from .crop.codec import DEFAULT_CROP_SIZE
from .encoders import ENCODERS
from .model import LiftingByImage, LiftingConfig

EXAMPLE_PHOTO = Path(__file__).resolve().parent / "example_assets" / "grace_hopper.jpg"  # the checkout's assets/


def _median_ms(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000.0)
    return round(statistics.median(times), 2)


def bench_model(
    encoder: str,
    batch: int,
    device: torch.device,
    repeats: int,
    retention: float = LiftingConfig.retention,
    crop_size: tuple[int, int] = DEFAULT_CROP_SIZE,
) -> dict:
    model = LiftingByImage(LiftingConfig(encoder=encoder, retention=retention, crop_size=crop_size)).to(device).eval()
    w, h = model.config.crop_size
    images = torch.rand(batch, 3, h, w, device=device)
    joints2d = torch.rand(batch, 17, 2, device=device) * 2 - 1
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    with torch.inference_mode(), autocast:
        features = model.encoder(images)
        s1 = model.stage1(joints2d, features=features)
        result = {
            "encoder": encoder,
            "batch": batch,
            "tokens": features.shape[-2] * features.shape[-1],
            "kept_tokens": model(None, joints2d, features=features).kept_indices.shape[1],
            "encoder_ms": _median_ms(lambda: model.encoder(images), repeats, device),
            "stage1_ms": _median_ms(lambda: model.stage1(joints2d, features=features), repeats, device),
            "stage2_ms": _median_ms(lambda: model.stage2(s1), repeats, device),
            "total_ms": _median_ms(lambda: model(images, joints2d), repeats, device),
        }
    result["encoder_params_m"] = round(sum(p.numel() for p in model.encoder.parameters()) / 1e6, 2)
    result["lifter_params_m"] = round(sum(p.numel() for p in model.parameters()) / 1e6 - result["encoder_params_m"], 2)
    result["per_sample_ms"] = round(result["total_ms"] / batch, 2)
    return result


def bench_pipeline(estimator, rgb, repeats: int, live: bool = False, flip_test: bool = True) -> dict:
    """Median per-stage milliseconds of what the app runs per photo (``Estimator.predict_people`` +
    ``views.photo_view``, with or without the flip test) or per webcam frame (``live``: ``views.live_frame``:
    tracking detector, no flip test, small 3D view), and frames per second. "drawing" is everything
    the view adds to the estimator's stages."""
    from .pipeline.estimate import Estimate
    from .views.files import OutputFiles
    from .views.live import live_frame
    from .views.photo import photo_view

    files, state = OutputFiles(), None
    stages: dict[str, list[float]] = {}
    totals = []
    estimate: Estimate | None = None
    found = 0
    for i in range(repeats + 1):  # the first run warms up
        start = time.perf_counter()
        if live:
            _, state = live_frame(estimator, rgb, state)
            estimate, found = state.last, len(state.people)
        else:
            people = estimator.predict_people(rgb, flip_test=flip_test)
            photo_view(rgb, people, files)
            estimate, found = people[0], len(people)
        total = (time.perf_counter() - start) * 1000
        assert estimate is not None  # live_frame found the person in the example photo
        if i:
            for name, ms in {
                **estimate.diagnostics.timings_ms,
                "drawing": total - sum(estimate.diagnostics.timings_ms.values()),
            }.items():
                stages.setdefault(name, []).append(ms)
            totals.append(total)
    if state is not None:
        state.close()
    assert estimate is not None
    total = statistics.median(totals)
    return {
        "mode": "live" if live else "photo",
        "flip_test": estimate.diagnostics.flip_test,
        "image": f"{rgb.shape[1]}x{rgb.shape[0]}",
        "people": found,
        **{f"{k}_ms": round(statistics.median(v), 2) for k, v in stages.items()},
        "total_ms": round(total, 2),
        "fps": round(1000.0 / total, 1),
        "kept_tokens": estimate.diagnostics.kept_tokens,
        "total_tokens": estimate.diagnostics.total_tokens,
    }


def bench_videos(
    estimator, people: tuple[int, ...] = (1, 3), frames: int = 40, width: int = 640, repeats: int = 3
) -> list[dict]:
    """Frames per second of ``lbi video --people 4`` (:func:`lbi.motion.video.analyse_video`, smoothing on) on
    rendered clips (:func:`lbi.data.synth.clip.render_clip`: that many people walking side by side, width x 3/4
    width), one row per count in ``people``: the median of ``repeats`` runs, taken in turns (one clip of each count,
    then again), so that a machine whose speed drifts meets every count alike. Rows after the first say their rate as a
    share of the first's (``fps_vs_one_person`` when the first is one person): the median of the runs' shares."""
    import tempfile

    from .data.synth.clip import render_clip
    from .motion.video import analyse_video

    runs: dict[int, list[tuple[float, float]]] = {n: [] for n in people}
    found: dict[int, float] = {}
    smoothing = True
    with tempfile.TemporaryDirectory() as folder:
        clips = {n: Path(folder) / f"bench_{n}.mp4" for n in people}
        truths = {n: render_clip(clips[n], frames=frames, fps=30.0, people=n, width=width) for n in people}
        for _ in range(repeats):
            for n in people:
                start, cpu = time.perf_counter(), time.process_time()
                clip = analyse_video(clips[n], estimator, max_people=4)
                runs[n].append((time.perf_counter() - start, time.process_time() - cpu))
                found[n] = statistics.mean(len(f.people) for f in clip.frames)
                smoothing = clip.smoothing is not None
    rows = []
    for n in people:
        seconds = statistics.median(r[0] for r in runs[n])
        rows.append(
            {
                "mode": f"video, {n} {'person' if n == 1 else 'people'}",
                "clip": f"{truths[n].size[0]}x{truths[n].size[1]}, {frames} frames",
                "onnxruntime": estimator.onnx is not None,
                "smoothing": smoothing,
                "people_found_per_frame": round(found[n], 2),
                "runs": repeats,
                "ms_per_frame": round(1000 * seconds / frames, 2),
                "fps": round(frames / seconds, 1),
                "cpu_seconds": round(statistics.median(r[1] for r in runs[n]), 1),
            }
        )
    first = people[0]
    for n, row in zip(people[1:], rows[1:]):
        shares = [a[0] / b[0] for a, b in zip(runs[first], runs[n])]  # fps(n) / fps(first), run by run
        key = "fps_vs_one_person" if first == 1 else f"fps_vs_{first}_people"
        row[key] = round(statistics.median(shares), 2)
    return rows


def two_people_frame(width: int = 640) -> np.ndarray:
    """A webcam-sized frame (width x 3/4 width) of two rendered people side by side: live mode's two-person row."""
    import tempfile

    import cv2

    from .data.synth.clip import render_clip

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "two.avi"
        render_clip(path, frames=1, people=2, width=width)
        capture = cv2.VideoCapture(str(path))
        ok, bgr = capture.read()
        capture.release()
    if not ok:
        raise RuntimeError("OpenCV could not read back the rendered frame")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _system(device: torch.device) -> dict:
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``lbi bench``'s options (:func:`lbi.cli.parser`)."""
    parser.add_argument("--lifter", action="store_true", help="time the lifter alone on random weights")
    parser.add_argument("--image", default=None, help="photo for the pipeline (default: the bundled example)")
    parser.add_argument("--weights", default=None, help="model file for the pipeline (default: the bundled weights)")
    parser.add_argument("--encoders", nargs="+", default=["hrnet_w32", "blazepose_s4"], choices=ENCODERS)
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-onnx", action="store_true", help="PyTorch only, even where onnxruntime is installed")


def run(args: argparse.Namespace) -> None:
    """Times what ``args`` asks for and prints it as JSON."""
    device = torch.device(args.device)
    if args.lifter:
        runs = [bench_model(enc, b, device, args.repeats) for enc in args.encoders for b in args.batches]
        print(
            json.dumps(
                {"system": {**_system(device), "input": "the model's default crop (256x192)"}, "runs": runs}, indent=2
            )
        )
        return
    from .io.images import read_image
    from .pipeline.estimator import Estimator

    image = read_image(args.image or EXAMPLE_PHOTO)
    estimator = Estimator(args.weights, device=device, onnx=not args.no_onnx)
    runs = [
        bench_pipeline(estimator, image, args.repeats, live=live, flip_test=flip)
        for live, flip in ((False, True), (False, False), (True, False))
    ]
    runs.append(bench_pipeline(estimator, two_people_frame(), args.repeats, live=True, flip_test=False))
    runs += bench_videos(estimator, (1, 3), repeats=5)
    print(json.dumps({"system": _system(device), "weights": str(args.weights or "bundled"), "runs": runs}, indent=2))
