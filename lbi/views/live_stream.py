"""Live mode over plain HTTP: the page posts each webcam frame as a JPEG and gets the drawn frame back as a JPEG.

A frame is one request, bytes in and bytes out; nothing is written to disk. Each stream (a key the page makes up)
has its own :class:`lbi.views.live.LiveState`. Its frames pass the two stages of a live frame in the order they come,
one frame per stage at a time: while one frame is lifted and drawn (:func:`lbi.views.live.show`), the next has its
people followed (:func:`lbi.views.live.follow`), so the page keeps two frames in flight and the cores that the one
stage leaves idle work on the other. Gradio's streaming webcam sends each frame as base64 in JSON,
writes each result to a file that the page then fetches, and re-renders its widgets per frame; where the browser
shares the machine's cores, that left the pipeline far fewer frames (docs/results.md has the rates).

Streams unused for :data:`IDLE_SECONDS` are closed when another needs the room; at most :data:`MAX_STREAMS` run.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..io.images import ImageError, read_image
from ..pipeline.estimator import Estimator
from .live import LiveState, follow, show

#: the most live streams served at once (each follows its people with its own MediaPipe graphs)
MAX_STREAMS = 4
#: a stream without a frame for this long (s) gives its room to a new one
IDLE_SECONDS = 30.0
#: the largest frame accepted, in bytes of the encoded image
MAX_FRAME_BYTES = 8 * 1024 * 1024
#: the quality of the JPEG sent back
JPEG_QUALITY = 80
_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


class LiveFrameError(ValueError):
    """A frame that cannot be answered, with the HTTP status that says why (400: the request; 503: the server)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Stream:
    state: LiveState | None = None  # made by the first frame (its MediaPipe graphs take a while)
    following: threading.Lock = field(default_factory=threading.Lock)  # held by the frame in the first stage
    showing: threading.Lock = field(default_factory=threading.Lock)  # held by the frame in the second stage
    used: float = field(default_factory=time.monotonic)
    closed: bool = False

    def frame(self, estimator: Estimator, rgb: np.ndarray, retention: float | None, fusion: str | None) -> np.ndarray:
        """``rgb`` through both stages; the second is taken before the first is let go, so frames keep their order."""
        with self.following:
            if self.closed:  # while this frame waited (the app makes a new stream for the key's next frame)
                raise LiveFrameError("the stream was closed; start the webcam again")
            state = self.state = self.state or LiveState()
            followed = follow(state, rgb)
            self.showing.acquire()
        try:
            drawn = show(estimator, rgb, followed, state, retention, fusion)
            self.used = time.monotonic()
            return drawn
        finally:
            self.showing.release()

    def close(self, wait: bool = True) -> bool:
        """Closes the state's MediaPipe graphs once no frame is in either stage; ``wait`` False: only if none is now
        (says whether it closed)."""
        if not self.following.acquire(blocking=wait):
            return False
        try:
            if not self.showing.acquire(blocking=wait):
                return False
            try:
                if self.state is not None:
                    self.state.close()
                self.closed = True
                return True
            finally:
                self.showing.release()
        finally:
            self.following.release()


class LiveStreams:
    """The live streams of one app: JPEG frame in, JPEG frame out (:meth:`frame`). Thread-safe.

    ``estimator`` None: the model could not be loaded, and every frame answers ``unavailable``, the reason (503)."""

    def __init__(
        self,
        estimator: Estimator | None,
        unavailable: str | None = None,
        max_streams: int = MAX_STREAMS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.estimator, self.unavailable = estimator, unavailable or "the model could not be loaded"
        self.max_streams, self.idle_seconds = max_streams, idle_seconds
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()

    def frame(self, key: str, image: bytes, retention: str | float | None = None, fusion: str | None = None) -> bytes:
        """One webcam frame of stream ``key`` (JPEG or PNG bytes) -> the frame drawn as by
        :func:`lbi.views.live.live_frame` (in its two stages, see the module), as JPEG bytes. ``retention`` and
        ``fusion`` as there (None: the model's and the estimator's). Raises LiveFrameError."""
        if self.estimator is None:
            raise LiveFrameError(self.unavailable, 503)
        rate = _retention(retention)
        if fusion is not None:
            try:
                self.estimator.fusion_for(fusion)  # before the frame: the tracker would move on for nothing
            except ValueError as err:
                raise LiveFrameError(str(err)) from None
        rgb = decode_frame(image)
        drawn = self._stream(key).frame(self.estimator, rgb, rate, fusion)
        bgr = cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        assert ok  # an (H, W, 3) uint8 image always encodes
        return jpeg.tobytes()

    def state(self, key: str) -> LiveState | None:
        """Stream ``key``'s state (its last people), None for a stream never seen or closed."""
        with self._lock:
            stream = self._streams.get(key)
        return None if stream is None else stream.state

    def close(self, key: str | None = None) -> None:
        """Closes stream ``key`` (every stream: None); a frame of it later starts it again."""
        with self._lock:
            keys = list(self._streams) if key is None else [key]
            closing = [s for k in keys if (s := self._streams.pop(k, None)) is not None]
        for stream in closing:
            stream.close()

    def _stream(self, key: str) -> _Stream:
        if not _KEY.fullmatch(key or ""):
            raise LiveFrameError("a live stream needs a key of 8 to 64 letters, digits, '-' or '_'")
        with self._lock:
            if key not in self._streams:
                self._make_room()
                self._streams[key] = _Stream()
            return self._streams[key]

    def _make_room(self) -> None:
        """Closes the streams idle for longer than ``idle_seconds``, and says when the rest leave no room
        (called under the lock)."""
        now = time.monotonic()
        for key, stream in list(self._streams.items()):
            if now - stream.used > self.idle_seconds and stream.close(wait=False):
                del self._streams[key]
        if len(self._streams) >= self.max_streams:
            raise LiveFrameError(
                f"{len(self._streams)} live streams run already, the most this app serves at once; "
                f"try again when one stops (a stream idle for {self.idle_seconds:.0f} s gives way)",
                503,
            )


def decode_frame(image: bytes) -> np.ndarray:
    """JPEG or PNG bytes -> (H, W, 3) uint8 RGB, as a photo is read (:func:`lbi.io.images.read_image`: checked and
    reduced to the working size); LiveFrameError for what is empty, too large or not an image."""
    if not image:
        raise LiveFrameError("the frame is empty")
    if len(image) > MAX_FRAME_BYTES:
        raise LiveFrameError(f"the frame is {len(image) / 2**20:.1f} MB; at most {MAX_FRAME_BYTES // 2**20} MB")
    try:
        return read_image(image, "the frame")
    except ImageError as err:
        raise LiveFrameError(str(err)) from None


def _retention(value: str | float | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        rate = float(value)
    except ValueError:
        raise LiveFrameError(f"retention must be a number, got {value!r}") from None
    if not 0.0 < rate <= 1.0:
        raise LiveFrameError(f"retention must lie in (0, 1], got {rate}")
    return rate
