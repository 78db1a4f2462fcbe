"""The app's downloads: result files written once, atomically, under content-hash names in a private folder."""

from __future__ import annotations

import atexit
import hashlib
import json
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..io.files import atomic_path
from ..io.images import ImageError

if TYPE_CHECKING:
    from ..motion.video import VideoResult
    from ..pipeline.estimate import Estimate


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
            path.touch()  # most recently used
            files = sorted(self.folder.iterdir(), key=lambda p: p.stat().st_mtime)
            for old in files[: -self.keep]:
                old.unlink(missing_ok=True)
        return str(path)

    def json(self, estimates: list[Estimate]) -> str:
        """A photo's people as a JSON file, ``{"people": [...]}`` (what the download button serves)."""
        payload = {"people": [e.to_dict() for e in estimates]}
        return self._store(json.dumps(payload, indent=1).encode(), "lbi_pose", ".json")

    def clip(self, clip: VideoResult) -> list[str]:
        """A clip's motion as files: JSON, CSV and one BVH per person, named after the clip."""
        from ..motion.bvh import bvh_text

        stem = re.sub(r"[^A-Za-z0-9_-]", "_", Path(clip.info.path).stem)[:40] or "clip"
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
