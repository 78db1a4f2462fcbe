"""Live-mode throughput as the user sees it, against what the pipeline allows, printed as JSON: ``python app.py``
is started, headless Chromium plays a clip through its fake webcam into the Live tab, and the processed frames that
come back are counted; in turns with that, :func:`lbi.bench.bench_pipeline`'s live row (``lbi bench``) times the same
frame here, with the app's threads, while the browser rests. ``fps_vs_live_row`` is the median of the turns' ratios,
so that a machine whose speed drifts meets both alike.

    python -m tests.harness.bench_live [--seconds 20] [--turns 3] [--clip PHOTO | --two-people] [--no-onnx]

Needs playwright (a dev dependency) and Debian's chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]  # the checkout: these harnesses start its app.py
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


def chromium_path() -> str | None:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).exists() else None


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 15) -> None:
    """Frames (RGB, even sizes) -> a YUV4MPEG2 clip, Chromium's fake-camera input format."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())


def still_clip(image: Path | np.ndarray, path: Path, size: tuple[int, int] = (640, 480), frames: int = 16) -> Path:
    """A webcam-sized clip of a photo (:func:`webcam_frame`) drifting sideways, so consecutive frames differ."""
    framed = webcam_frame(image, size)
    clip = [np.roll(framed, 4 * (k - frames // 2), axis=1) for k in range(frames)]
    write_y4m(path, clip)
    return path


def webcam_frame(image: Path | np.ndarray, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A photo (a file, or RGB) fitted into a ``size`` frame, its shape kept, the border repeated: RGB."""
    rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB) if isinstance(image, Path) else image
    w, h = size
    scale = min(w / rgb.shape[1], h / rgb.shape[0])
    fitted = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    top, left = (h - fitted.shape[0]) // 2, (w - fitted.shape[1]) // 2
    return cv2.copyMakeBorder(
        fitted, top, h - fitted.shape[0] - top, left, w - fitted.shape[1] - left, cv2.BORDER_REPLICATE
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(
    timeout: float = 120.0, extra_args: tuple[str, ...] = (), env: dict | None = None, log=None, on_start=None
):
    """``python app.py`` on a free port, as a user starts it; yields its URL. ``log``: a file for its
    output (default: discarded); ``on_start(process)`` is called once it serves."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port), *extra_args],
        cwd=ROOT,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.time() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError("app.py exited during start-up") from None
                if time.time() > deadline:
                    raise TimeoutError(f"app.py did not serve within {timeout:.0f} s") from None
                time.sleep(0.5)
        if on_start is not None:
            on_start(process)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=30)


def image_src(page, elem_id: str) -> str | None:
    return page.evaluate(f"(() => {{ const i = document.querySelector('#{elem_id} img'); return i ? i.src : null }})()")


def start_live(page, url: str) -> None:
    """Opens the Live tab and starts streaming the (fake) webcam."""
    page.goto(url, wait_until="load")
    page.get_by_role("tab", name="Live webcam").click()
    start_webcam(page)


def start_webcam(page) -> None:
    """Starts streaming the (fake) webcam in the open Live tab: a new stream."""
    page.get_by_role("button", name="Start webcam").click()


def stop_live(page) -> None:
    """Stops the webcam and waits for the frames in flight to come back."""
    page.get_by_role("button", name="Stop webcam").click()
    page.wait_for_timeout(1000)


def count_frames(page, seconds: float, elem_id: str = "live-out") -> int:
    """Distinct processed frames shown in ``elem_id`` during ``seconds``, counted inside the page by a
    MutationObserver (polling from here would itself load the two cores being measured)."""
    page.evaluate(
        """(id) => {
        window.__frames = new Set();
        const note = () => {
          const i = document.querySelector('#' + id + ' img'); if (i && i.src) window.__frames.add(i.src); };
        window.__observer = new MutationObserver(note);
        window.__observer.observe(document.querySelector('#' + id), {subtree: true, childList: true, attributes: true});
    }""",
        elem_id,
    )
    page.wait_for_timeout(seconds * 1000)
    return page.evaluate("() => { window.__observer.disconnect(); return window.__frames.size; }")


def main(argv: list[str] | None = None) -> None:
    import torch
    from playwright.sync_api import sync_playwright

    from lbi.bench import bench_pipeline, two_people_frame
    from lbi.pipeline.estimator import Estimator
    from lbi.views.live_stream import MAX_STREAMS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="frames are counted this long in each turn")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--turns", type=int, default=3, choices=range(1, MAX_STREAMS + 1), help="turns of the row and the browser"
    )
    parser.add_argument("--repeats", type=int, default=20, help="frames the live row times in each turn")
    parser.add_argument(
        "--clip", default=str(ROOT / "assets" / "lbi_synth_lab.jpg"), help="photo to play as the webcam"
    )
    parser.add_argument(
        "--two-people", action="store_true", help="play two rendered people side by side (lbi.bench.two_people_frame)"
    )
    parser.add_argument("--threads", type=int, default=None, help="the app's --threads, and the row's")
    parser.add_argument("--no-onnx", action="store_true", help="start the app with --no-onnx (PyTorch only)")
    args = parser.parse_args(argv)
    chromium = chromium_path()
    if chromium is None:
        sys.exit("chromium not found: apt-get install chromium")
    source: Path | np.ndarray
    if args.two_people:
        source, name = two_people_frame(), "two rendered people (lbi.bench.two_people_frame)"
    else:
        source, name = Path(args.clip), Path(args.clip).name
    frame = webcam_frame(source)
    clip = still_clip(frame, Path("/tmp/lbi_bench_live.y4m"))
    if args.threads:
        torch.set_num_threads(args.threads)  # before the estimator: its onnxruntime session takes as many
    estimator = Estimator(onnx=not args.no_onnx)
    extra = (*(("--threads", str(args.threads)) if args.threads else ()), *(("--no-onnx",) if args.no_onnx else ()))
    turns = []
    with running_app(extra_args=extra) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={clip}"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        for turn in range(args.turns):
            row = bench_pipeline(estimator, frame, args.repeats, live=True, flip_test=False)
            if turn == 0:
                start_live(page, url)
            else:
                start_webcam(page)
            count_frames(page, args.warmup)
            fps = count_frames(page, args.seconds) / args.seconds
            stop_live(page)
            turns.append({"row_ms": row["total_ms"], "people": row["people"], "fps_end_to_end": round(fps, 1)})
        size = page.evaluate(
            "(() => { const i = document.querySelector('#live-out img'); "
            "return i ? [i.naturalWidth, i.naturalHeight] : null })()"
        )
        browser.close()
    print(
        json.dumps(
            {
                "clip": f"640x480 from {name}",
                "onnxruntime": not args.no_onnx,
                "threads": torch.get_num_threads(),
                "frame_size_processed": size,
                "seconds": args.seconds,
                "turns": turns,
                "fps_end_to_end": round(statistics.median(t["fps_end_to_end"] for t in turns), 1),
                "live_row_fps": round(statistics.median(1000 / t["row_ms"] for t in turns), 1),
                "fps_vs_live_row": round(statistics.median(t["fps_end_to_end"] * t["row_ms"] / 1000 for t in turns), 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
