"""Load and hostile-input test of the app and the CLI, loopback only, bounded in count and time;
prints JSON.

    python -m tests.harness.stress [--clients 8] [--requests 50] [--hostile 320] [--seed 0]

1. ``python app.py`` is started on 127.0.0.1 with its own temporary folder (so its disk use can be
   measured); its memory (RSS) is sampled throughout.
2. Load: ``--clients`` gradio clients at once, each making ``--requests`` requests that share the
   example photos (a photo, then a retention change, alternately); every returned picture must
   decode, every JSON parse and hold the client's own photo's result.
3. Hostile files: ``--hostile`` generated files (truncated, random bytes, empty, huge headers,
   decompression and text-chunk bombs, odd modes and formats, byte-flipped mutants) uploaded one by
   one; each must get a specific message in the status line, and the app must keep answering a
   good photo in between. The same files go through ``python -m lbi predict`` in one run: every
   file gets a result or an ``error`` entry in the JSON, and nothing prints a traceback.
4. Traversal: crafted requests for files outside the upload folder must be refused.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from lbi.model import LiftingConfig

from .bench_live import ROOT, running_app

ASSETS = ROOT / "assets"
RETENTION = LiftingConfig.retention  # what the app's slider starts at
PHOTOS = (ASSETS / "astronaut.jpg", ASSETS / "grace_hopper.jpg", ASSETS / "lbi_synth_lab.jpg")
ERROR_MARK = "⚠️"


# ---------------------------------------------------------------------------- hostile files
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` and whose pixel data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _png_bomb(side: int) -> bytes:
    """A real PNG of side x side black pixels: a few hundred kB that decode to side^2 * 3 bytes."""
    row = b"\x00" + b"\x00" * (side * 3)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def _save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def hostile_files(folder: Path, count: int = 320, seed: int = 0) -> list[tuple[Path, str]]:
    """Writes ``count`` hostile or odd files into ``folder``: (path, category) each, deterministic by seed."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    photo = Image.open(ASSETS / "grace_hopper.jpg").convert("RGB")
    valid = {
        "jpg": _save(photo, "JPEG", quality=90),
        "png": _save(photo, "PNG"),
        "webp": _save(photo, "WEBP"),
        "gif": _save(photo.convert("P"), "GIF"),
        "tif": _save(photo, "TIFF"),
        "bmp": _save(photo, "BMP"),
    }
    cases: list[tuple[str, str, bytes]] = [("empty", "jpg", b""), ("empty", "png", b"")]
    for k in range(30):
        cases.append(("random bytes", ["jpg", "png", "bin"][k % 3], rng.bytes(int(rng.integers(1, 60_000)))))
    for k in range(40):
        ext = list(valid)[k % len(valid)]
        data = valid[ext]
        cases.append(("truncated", ext, data[: int(rng.integers(1, len(data) - 1))]))
    for side in (8001, 20000, 65535, 100000):
        cases.append(("huge header", "png", _png_header_only(side, side)))
        cases.append(("huge header", "png", _png_header_only(side, 64)))
    cases.append(("decompression bomb", "png", _png_bomb(7999)))
    cases.append(("decompression bomb", "png", _png_bomb(4000)))
    for size in (2_000_000, 20_000_000):
        info = PngImagePlugin.PngInfo()
        info.add_text("comment", "A" * size, zip=True)
        cases.append(("text-chunk bomb", "png", _save(photo, "PNG", pnginfo=info)))
        icc = _png_chunk(b"iCCP", b"bomb\x00\x00" + zlib.compress(b"\x00" * size))
        png = valid["png"]
        cases.append(("text-chunk bomb", "png", png[:33] + icc + png[33:]))
    grey = photo.convert("L")
    modes = {
        "1": photo.convert("1"),
        "L": grey,
        "LA": photo.convert("LA"),
        "P": photo.convert("P"),
        "PA": photo.convert("PA"),
        "RGBA-clear": Image.new("RGBA", photo.size, (0, 0, 0, 0)),
        "CMYK": photo.convert("CMYK"),
        "I;16": Image.fromarray(np.asarray(grey, np.uint16) * 257),
        "I": Image.fromarray(np.asarray(grey, np.int32) * 300 - 20000),
        "F": Image.fromarray(np.asarray(grey, np.float32) / 255 * 3 - 1),
        "F-nan": Image.fromarray(np.full((200, 200), np.nan, np.float32)),
        "YCbCr": photo.convert("YCbCr"),
        "HSV": photo.convert("HSV"),
    }
    for image in modes.values():
        for fmt in ("TIFF",) if image.mode in ("I", "F") else ("PNG", "TIFF"):  # a format that stores the mode
            try:
                cases.append(("odd mode", fmt.lower(), _save(image, fmt)))
                break
            except (OSError, KeyError, ValueError):
                continue
    cases.append(("odd mode", "png", _save(Image.fromarray((np.asarray(photo, np.uint16) * 257)[..., 0]), "PNG")))
    formats = {
        "ico": ("ICO", photo.resize((128, 128))),
        "ppm": ("PPM", photo),
        "pcx": ("PCX", photo),
        "tga": ("TGA", photo),
        "jp2": ("JPEG2000", photo),
        "eps": ("EPS", photo),
        "pdf": ("PDF", photo),
        "im": ("IM", photo),
        "sgi": ("SGI", photo),
        "dds": ("DDS", photo.convert("RGBA")),
        "qoi": ("QOI", photo),
    }
    for ext, (fmt, image) in formats.items():
        with contextlib.suppress(OSError, KeyError, ValueError):  # a format this Pillow cannot write
            cases.append(("odd format", ext, _save(image, fmt)))
    frames = [photo.rotate(a).convert("P") for a in (0, 10, 20)]
    cases.append(("odd format", "gif", _save(frames[0], "GIF", save_all=True, append_images=frames[1:])))
    cases.append(("odd format", "tif", _save(photo, "TIFF", save_all=True, append_images=[grey.convert("RGB")])))
    cases.append(("odd format", "svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'))
    cases.append(("odd format", "jpg", valid["png"]))  # a PNG named .jpg
    cases.append(("tiny", "png", _save(photo.resize((10, 10)), "PNG")))
    cases.append(("extreme aspect", "png", _save(Image.new("RGB", (7999, 64), (200, 100, 50)), "PNG")))
    # small files of 7999 px that decode to gigabytes at full size: a photo of a person, a 16-bit gradient
    person = Image.open(ASSETS / "astronaut.jpg").convert("RGB")
    cases.append(
        ("large photo", "jpg", _save(person.resize((7999, 7999), Image.Resampling.BILINEAR), "JPEG", quality=80))
    )
    gradient = np.add.outer(np.arange(7999, dtype=np.uint32), np.arange(6000, dtype=np.uint32)) * 4
    cases.append(("large photo", "png", _save(Image.fromarray(gradient.astype(np.uint16)), "PNG")))
    del gradient
    while len(cases) < count:  # byte-flipped mutants of valid files
        ext = list(valid)[int(rng.integers(len(valid)))]
        data = bytearray(valid[ext])
        for _ in range(int(rng.integers(1, 40))):
            position = int(rng.integers(0, min(len(data), 4096) if rng.random() < 0.5 else len(data)))
            data[position] = int(rng.integers(256))
        cases.append(("byte-flipped", ext, bytes(data)))
    out = []
    for k, (category, ext, data) in enumerate(cases[:count]):
        path = folder / f"hostile_{k:03d}.{ext}"
        path.write_bytes(data)
        out.append((path, category))
    return out


# ---------------------------------------------------------------------------- measurements
class Monitor:
    """Samples a process's resident memory and a folder's size in the background."""

    def __init__(self, folder: Path, every: float = 0.25) -> None:
        self.folder, self.every = folder, every
        self.pid: int | None = None
        self.rss_mb: list[float] = []
        self.disk_mb: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, process: subprocess.Popen) -> None:
        self.pid = process.pid
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
                self.rss_mb.append(
                    int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024
                )
            except (OSError, StopIteration):
                pass
            self.disk_mb.append(folder_mb(self.folder))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak_since(self, start: int) -> float | None:
        """The highest RSS (MB) sampled since sample number ``start`` (``len(rss_mb)`` at that time)."""
        return round(max(self.rss_mb[start:]), 1) if self.rss_mb[start:] else None


def folder_mb(folder: Path) -> float:
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):  # deleted meanwhile
                total += os.lstat(os.path.join(root, name)).st_size
    return total / 2**20


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    q = statistics.quantiles(values, n=20) if len(values) > 1 else values * 19
    return {"p50": round(statistics.median(values), 2), "p95": round(q[18], 2), "max": round(max(values), 2)}


# ---------------------------------------------------------------------------- phases
def load_phase(url: str, clients: int, requests: int, layer: str) -> dict:
    import gradio_client

    from lbi.io.images import read_image

    photo_of = {}
    errors: list[str] = []
    latencies: list[float] = []

    def client_run(k: int) -> None:
        client = gradio_client.Client(url, verbose=False)
        photo = PHOTOS[k % len(PHOTOS)]
        for i in range(requests):
            start = time.perf_counter()
            try:
                if i % 2 == 0:
                    out = client.predict(
                        gradio_client.handle_file(str(photo)),
                        RETENTION,
                        "all keypoints",
                        layer,
                        "refined",
                        api_name="/analyse",
                    )
                    for picture in (out[0], out[2], out[3]):
                        read_image(picture)  # a whole picture, not a truncated download
                else:
                    out = client.predict(
                        0.1 + 0.8 * (i % 7) / 6, "all keypoints", layer, "refined", "1", api_name="/retention"
                    )
                result = json.loads(Path(out[5]).read_text())["people"][0]
                if (out[6] or "").startswith(ERROR_MARK):  # notes ("2 people found", ...) are not errors
                    raise RuntimeError(f"status {out[6]!r}")
                photo_of.setdefault(photo.name, result["joints2d_px"])
                if result["joints2d_px"] != photo_of[photo.name]:
                    raise RuntimeError(f"client {k} got another photo's result")
            except Exception as err:  # noqa: BLE001 - every failure of a request is counted and reported
                errors.append(f"client {k} request {i}: {type(err).__name__}: {str(err)[:200]}")
            latencies.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client_run, range(clients)))
    return {
        "clients": clients,
        "requests": clients * requests,
        "errors": len(errors),
        "error_samples": errors[:5],
        "seconds": round(time.perf_counter() - start, 1),
        "latency_ms": _percentiles(latencies),
    }


def hostile_phase(url: str, files: list[tuple[Path, str]], layer: str) -> dict:
    import gradio_client

    client = gradio_client.Client(url, verbose=False)
    by_category: dict[str, dict[str, int]] = {}
    crashes, generic, latencies, messages = [], [], [], {}
    for n, (path, category) in enumerate(files):
        counts = by_category.setdefault(category, {"files": 0, "refused": 0, "analysed": 0})
        counts["files"] += 1
        start = time.perf_counter()
        try:
            out = client.predict(
                gradio_client.handle_file(str(path)), RETENTION, "all keypoints", layer, "refined", api_name="/analyse"
            )
        except Exception as err:  # noqa: BLE001 - a request that fails outright is what this phase looks for
            crashes.append(f"{path.name} ({category}): {type(err).__name__}: {str(err)[:160]}")
            continue
        finally:
            latencies.append((time.perf_counter() - start) * 1000)
        status = out[6] or ""
        if status.startswith(ERROR_MARK):
            counts["refused"] += 1
            message = status.removeprefix(ERROR_MARK).strip()
            messages.setdefault(category, message[:120])
            if len(message) < 20 or message.strip() == "Error":
                generic.append(f"{path.name}: {message}")
        else:
            counts["analysed"] += 1
        if n % 40 == 39:  # the app keeps serving real photos in between
            good = client.predict(
                gradio_client.handle_file(str(PHOTOS[0])),
                RETENTION,
                "all keypoints",
                layer,
                "refined",
                api_name="/analyse",
            )
            if (good[6] or "").startswith(ERROR_MARK) or not good[5]:
                crashes.append(f"a good photo after {path.name} got {good[6]!r}")
    return {
        "files": len(files),
        "crashes": len(crashes),
        "crash_samples": crashes[:5],
        "generic_messages": len(generic),
        "by_category": by_category,
        "latency_ms": _percentiles(latencies),
        "example_messages": messages,
    }


def cli_phase(files: list[tuple[Path, str]], out: Path) -> dict:
    """``python -m lbi predict`` on every hostile file in one run."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "lbi", "predict", *(str(p) for p, _ in files), "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    written = json.loads(out.read_text()) if out.is_file() else {"results": []}
    entries = written["results"]
    return {
        "exit_code": proc.returncode,
        "json_written": out.is_file(),
        "entries": len(entries),
        "errors": sum("error" in e for e in entries),
        "results": sum("people" in e for e in entries),
        "tracebacks": proc.stderr.count("Traceback"),
        "seconds": round(time.perf_counter() - start, 1),
    }


def traversal_phase(url: str, layer: str) -> dict:
    """Crafted requests for files that are not uploads: each must be refused."""
    import httpx

    refused, attempts = 0, 0
    for path in (
        "/etc/passwd",
        str(ROOT / "README.md"),
        "../../../../etc/hostname",
        str(ROOT / "weights" / "lbi_synth.safetensors"),
    ):
        for route in (f"gradio_api/file={path}", f"file={path}", f"gradio_api/file/{path}"):
            attempts += 1
            refused += httpx.get(url + route, timeout=10).status_code != 200
        attempts += 1
        data = [{"path": path, "meta": {"_type": "gradio.FileData"}}, RETENTION, "all keypoints", layer, "refined"]
        event = httpx.post(url + "gradio_api/call/analyse", json={"data": data}, timeout=10).json().get("event_id")
        with httpx.stream("GET", f"{url}gradio_api/call/analyse/{event}", timeout=60) as stream:
            body = "".join(stream.iter_lines())
        refused += ("event: error" in body) or (ERROR_MARK in body and "not an upload" in body)
    return {"attempts": attempts, "refused": refused}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.harness.stress", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--hostile", type=int, default=320)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lbi-stress-"))
    app_tmp = work / "app-tmp"
    app_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(app_tmp), "GRADIO_TEMP_DIR": str(app_tmp / "gradio")}
    files = hostile_files(work / "hostile", args.hostile, args.seed)
    monitor = Monitor(app_tmp)
    log = open(work / "app.log", "w")  # noqa: SIM115  (the app writes to it until the report is done)
    report: dict = {"machine": f"{os.cpu_count()} cores", "app_tmp": str(app_tmp)}
    with running_app(env=env, log=log, on_start=monitor.start) as url:
        from lbi.io.weights import default_weights, read_header
        from lbi.model import LiftingConfig

        layer = LiftingConfig.from_dict(read_header(default_weights())["config"]).layer_names[1]
        report["idle_rss_mb"] = round(monitor.rss_mb[-1], 1) if monitor.rss_mb else None
        for phase, run in (
            ("load", lambda: load_phase(url, args.clients, args.requests, layer)),
            ("hostile_app", lambda: hostile_phase(url, files, layer)),
        ):
            start = len(monitor.rss_mb)
            report[phase] = run()
            report[phase]["max_rss_mb"] = monitor.peak_since(start)
        log.flush()
        report["server_tracebacks_load_and_hostile"] = (work / "app.log").read_text(errors="replace").count("Traceback")
        report["traversal"] = traversal_phase(url, layer)
    monitor.stop()
    log.close()
    report["hostile_cli"] = cli_phase(files, work / "cli.json")
    # Gradio itself logs a traceback for each crafted request it refuses (InvalidPathError)
    report["server_tracebacks_traversal"] = (work / "app.log").read_text(errors="replace").count("Traceback") - report[
        "server_tracebacks_load_and_hostile"
    ]
    report["max_rss_mb"] = round(max(monitor.rss_mb), 1) if monitor.rss_mb else None
    report["app_tmp_mb"] = {"max": round(max(monitor.disk_mb), 1), "end": round(monitor.disk_mb[-1], 1)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
