"""What the app's Video tab shows, without Gradio: a clip analysed into motion (:mod:`lbi.motion.video`), its downloads,
the clip with everyone's 2D skeleton and number drawn (a WebM) playing in step with the animated 3D view (one page:
:mod:`lbi.views.player`), and any frame of it with everyone's 2D pose and one person's attention.

In the 3D view people stand where the clip shows them: each frame's poses are placed along the rays through their
pelvises at the depths their sizes in the frame imply (:func:`lbi.views.figure3d.root_position`, the clip's camera
assumed: :func:`lbi.geometry.camera.default_intrinsics`), the whole motion centred on the median of those places."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from ..geometry.camera import default_intrinsics
from ..motion.video import PersonFrame, Smoothing, VideoError, VideoResult, analyse_video, read_frames
from ..pipeline.estimator import Estimator
from . import draw, figure3d
from .files import OutputFiles, safe_stem
from .photo import ALL_JOINTS, DEFAULT_LAYER, attention_view, display_size
from .player import player_page

#: the longest clip the app analyses (seconds): a minute keeps a request within a few minutes on a CPU
APP_MAX_SECONDS = 60.0
#: the annotated clip's longer side at most (px): what the page shows (VP8 encoding time grows with the pixels)
VIDEO_SIDE = 640
#: ``progress(stage, done, total)``: ``done`` of ``total`` frames (0: unknown) of a stage (STAGES) are through
Progress = Callable[[str, int, int], None]
#: the stages :func:`analyse_clip` reports progress of
STAGES = ("frames analysed", "frames drawn")
#: plotly.js as the pages load it, from the output folder's static/ (the installed plotly package's copy)
PLOTLY_JS = "plotly-{version}.min.js"


@dataclass
class ClipView:
    clip: VideoResult
    downloads: list[str]  # JSON, CSV, BVH files, and the annotated clip (WebM) when it could be written
    figure: object  # the animated 3D view (plotly Figure)
    page: str  # the player: the annotated clip and the 3D view in step (HTML file beside the WebM)
    video: str | None  # the annotated clip (WebM file); None when OpenCV could not write it
    status: str


def analyse_clip(
    estimator: Estimator,
    path: str,
    files: OutputFiles,
    max_people: int = 1,
    smoothing: bool = True,
    progress: Progress | None = None,
    fusion: str | None = None,
) -> ClipView:
    """The clip at ``path`` analysed (at most APP_MAX_SECONDS) and shown (:func:`clip_view`). Raises VideoError
    when the file is not a usable clip."""
    clip = analyse_video(
        path,
        estimator,
        max_people=max_people,
        smoothing=Smoothing() if smoothing else None,
        max_seconds=APP_MAX_SECONDS,
        progress=None if progress is None else partial(progress, STAGES[0]),
        fusion=fusion,
    )
    return clip_view(clip, files, progress)


def clip_view(clip: VideoResult, files: OutputFiles, progress: Progress | None = None) -> ClipView:
    """An analysed clip as the tab shows it: its motion as JSON, CSV and BVH files, the clip with everyone drawn
    (WebM; when OpenCV cannot write it, the status says so and the 3D view plays on its own), the player page and a
    status line. ``progress``: told of each frame drawn."""
    downloads = files.clip(clip)
    found = sum(bool(f.people) for f in clip.frames)
    status = f"{len(clip.frames)} frames at {clip.info.fps:g} fps; people in {found} of them (ids {clip.ids})."
    notes = [*clip.notes, *([f"⚠️ {clip.error}"] if clip.error else [])]
    try:
        video: str | None = annotated_video(clip, files, progress)
    except VideoError as err:
        video, notes = None, [*notes, f"The clip with the 2D poses drawn could not be written: {err}."]
    figure = figure3d.motion_figure(placed_motion(clip), clip.info.fps, controls=video is None)
    page = player_page_file(figure, video, clip, files)
    return ClipView(clip, downloads + ([video] if video else []), figure, page, video, " ".join([status, *notes]))


def placed_motion(clip: VideoResult) -> list[dict[int, np.ndarray]]:
    """Per frame, each person's pose by id (17 x 3 mm, camera axes) placed where the frame shows them (see the
    module); a person missing from a frame is missing from its dict."""
    intrinsics = default_intrinsics(*clip.info.size)
    frames = [
        {
            p.id: p.joints3d_mm - p.joints3d_mm[:1] + figure3d.root_position(p.joints3d_mm, p.joints2d_px, intrinsics)
            for p in frame.people
        }
        for frame in clip.frames
    ]
    roots = [pose[0] for frame in frames for pose in frame.values()]
    centre = np.median(roots, axis=0) if roots else np.zeros(3)
    return [{pid: pose - centre for pid, pose in frame.items()} for frame in frames]


def draw_people(rgb: np.ndarray, people: list[PersonFrame], scale: float = 1.0) -> np.ndarray:
    """Everyone of a frame on ``rgb`` (the frame, ``scale`` x the file's size): skeleton, box and "person ID" tag in
    the colours of their id."""
    for p in people:
        x, y, w, h = (v * scale for v in p.box)
        rgb = draw.draw_skeleton_2d(rgb, p.joints2d_px * scale, p.confidence, (x, y, w, h), p.id, f"person {p.id}")
    return rgb


def annotated_frames(
    clip: VideoResult, max_side: int = VIDEO_SIDE, progress: Progress | None = None
) -> Iterator[np.ndarray]:
    """The clip's analysed frames, in order, each with everyone in it drawn (:func:`draw_people`), at most
    ``max_side`` px on the longer side and of even sizes (what VP8 takes). Reads the file once, frame by frame;
    ``progress`` is told of each frame drawn."""
    wanted = {f.index: f for f in clip.frames}
    w, h = clip.info.size
    scale = min(1.0, max_side / max(w, h))
    size = (max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2))
    capture = cv2.VideoCapture(clip.info.path)
    try:
        for index, rgb in enumerate(read_frames(capture, max(wanted, default=-1) + 1)):
            if index in wanted:
                shown = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if size != (w, h) else rgb
                yield draw_people(shown, wanted[index].people, size[0] / w)
                if progress is not None:
                    progress(STAGES[1], index + 1, len(wanted))
    finally:
        capture.release()


def write_webm(frames: Iterable[np.ndarray], fps: float, path: Path) -> None:
    """RGB frames (all of one size) -> a VP8 WebM at ``path``; VideoError when OpenCV cannot write one here or there
    are no frames."""
    writer = None
    try:
        for rgb in frames:
            if writer is None:
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"VP80"), fps, (rgb.shape[1], rgb.shape[0]))
                if not writer.isOpened():
                    raise VideoError("OpenCV cannot write VP8 (WebM) video here")
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise VideoError("no frame of the clip could be read again")


def annotated_video(clip: VideoResult, files: OutputFiles, progress: Progress | None = None) -> str:
    """The clip with everyone drawn (:func:`annotated_frames`) as a WebM file, written atomically (VideoError when it
    cannot be)."""
    stem = f"{safe_stem(clip.info.path)}_people"
    frames = annotated_frames(clip, progress=progress)
    return files.written(lambda tmp: write_webm(frames, clip.info.fps, tmp), stem, ".webm")


def player_page_file(figure, video: str | None, clip: VideoResult, files: OutputFiles) -> str:
    """The player page (:func:`lbi.views.player.player_page`) as an HTML file beside ``video``, plotly.js in the
    folder's static/."""
    import plotly
    from plotly.offline import get_plotlyjs

    script = files.shared(PLOTLY_JS.format(version=plotly.__version__), lambda: get_plotlyjs().encode())
    step = figure3d.motion_step(len(clip.frames))
    html = player_page(figure, video, clip.info.fps, len(clip.frames), step, f"static/{Path(script).name}")
    return files.html(html, "lbi_player")


def read_frame(path: str, index: int) -> np.ndarray:
    """Frame ``index`` of the clip as RGB (VideoError when it cannot be read)."""
    capture = cv2.VideoCapture(path)
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = capture.read()
    finally:
        capture.release()
    if not ok or bgr is None:
        raise VideoError(f"frame {index} of the clip cannot be read")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def frame_view(
    estimator: Estimator,
    clip: VideoResult,
    index: int,
    files: OutputFiles,
    person: int | None = None,
    layer: int = DEFAULT_LAYER,
    joint: str = ALL_JOINTS,
) -> tuple[str, str | None, str]:
    """Frame ``index``: everyone's 2D pose (JPEG file: :func:`draw_people`), the attention of
    the person with id ``person`` (else the frame's first; the lifter re-run on the frame with that person's 2D
    pose; None when nobody is in the frame) and a line about the frame."""
    frame = clip.frames[index]
    rgb = read_frame(clip.info.path, frame.index)
    shown, scale = display_size(rgb)
    pose2d = files.image(draw_people(shown, frame.people, scale), "lbi_clip_pose2d")
    if not frame.people:
        return pose2d, None, f"frame {frame.index} ({frame.time_s:.2f} s): nobody found"
    picked = next((p for p in frame.people if p.id == person), frame.people[0])
    estimate = estimator.lift(rgb, picked.joints2d_px, flip_test=False)
    ids = ", ".join(str(pid) for pid in sorted(p.id for p in frame.people))
    line = f"frame {frame.index} ({frame.time_s:.2f} s): people {ids}; attention of person {picked.id}"
    return pose2d, attention_view(rgb, estimate, files, layer, joint), line
