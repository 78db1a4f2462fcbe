"""The app's downloads: result files written once, atomically, under content-hash names in a private folder.

The folder is what the app serves to the page (``allowed_paths``): its files are named by their content's hash, so
a name is known only to whoever was given the result; ``static/`` holds files every page shares (plotly.js)."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..io.files import atomic_path
from ..io.images import ImageError

if TYPE_CHECKING:
    from ..motion.video import VideoResult
    from ..pipeline.estimate import Estimate


def safe_stem(path: str | Path) -> str:
    """A file name's stem made safe for names of outputs (and for a page that refers to them): letters, digits, _
    and - only, at most 40 of them ("clip" when none is left)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", Path(path).stem)[:40] or "clip"


class OutputFiles:
    """Where the app's downloads go: one private folder per process; one file per distinct output,
    named by its content's hash and written atomically, so two requests never write a file the
    other is serving; the oldest removed beyond ``keep`` files; the folder removed at exit.
    Disk use stays bounded however many requests come."""

    def __init__(self, keep: int = 256) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="lbi-outputs-"))
        self.keep = keep
        self._lock = threading.Lock()
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)

    def _store(self, data: bytes, stem: str, suffix: str) -> str:
        path = self.folder / f"{stem}_{hashlib.sha1(data).hexdigest()[:16]}{suffix}"
        with self._lock:
            if not path.is_file():
                with atomic_path(path) as tmp:
                    tmp.write_bytes(data)
            self._keep_newest(path)
        return str(path)

    def _keep_newest(self, path: Path) -> None:
        """Marks ``path`` most recently used and removes the oldest files beyond ``keep`` (the caller holds the
        lock). Only the folder's own outputs count: not ``static/``, ``partial/`` or a temporary file."""
        path.touch()
        files = [p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        for old in sorted(files, key=lambda p: p.stat().st_mtime)[: -self.keep]:
            old.unlink(missing_ok=True)

    def written(self, write: Callable[[Path], None], stem: str, suffix: str) -> str:
        """A file that ``write(path)`` writes itself (a video: OpenCV picks the container by ``suffix``), written
        under a temporary name in ``partial/``, then moved in one step under its content's hash name. When
        ``write`` raises, nothing is left behind."""
        partial = self.folder / "partial"
        partial.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{stem}.", suffix=suffix, dir=partial)
        os.close(fd)
        tmp = Path(name)
        try:
            write(tmp)
            digest = hashlib.sha1()
            with open(tmp, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            path = self.folder / f"{stem}_{digest.hexdigest()[:16]}{suffix}"
            with self._lock:
                os.replace(tmp, path)
                self._keep_newest(path)
        finally:
            tmp.unlink(missing_ok=True)
        return str(path)

    def shared(self, name: str, read: Callable[[], bytes]) -> str:
        """``static/NAME``, written once (atomically) from ``read()``: a file every page refers to by this name
        (never removed while the app runs)."""
        path = self.folder / "static" / name
        with self._lock:
            if not path.is_file():
                with atomic_path(path) as tmp:
                    tmp.write_bytes(read())
        return str(path)

    def html(self, text: str, stem: str = "lbi_page") -> str:
        """A page (UTF-8 HTML) as a file."""
        return self._store(text.encode(), stem, ".html")

    def json(self, estimates: list[Estimate]) -> str:
        """A photo's people as a JSON file, ``{"people": [...]}`` (what the download button serves)."""
        payload = {"people": [e.to_dict() for e in estimates]}
        return self._store(json.dumps(payload, indent=1).encode(), "lbi_pose", ".json")

    def clip(self, clip: VideoResult) -> list[str]:
        """A clip's motion as files: JSON, CSV and one BVH per person, named after the clip."""
        from ..motion.bvh import bvh_text

        stem = safe_stem(clip.info.path)
        paths = [
            self._store(json.dumps(clip.to_dict()).encode(), f"{stem}_poses", ".json"),
            self._store(clip.csv_text().encode(), f"{stem}_poses", ".csv"),
        ]
        for pid, motion in clip.motions.items():
            paths.append(self._store(bvh_text(motion, clip.info.fps).encode(), f"{stem}_person{pid}", ".bvh"))
        return paths

    def image(self, rgb: np.ndarray, stem: str = "lbi_view", quality: int = 90) -> str:
        """An RGB picture as a JPEG file."""
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ImageError("could not encode the picture as JPEG")
        return self._store(buf.tobytes(), stem, ".jpg")
