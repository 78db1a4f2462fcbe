"""What the app draws: overlays line up with the estimate, the 3D figure holds the right poses."""

import re
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from lbi.crop.affine import Crop
from lbi.io.images import read_image
from lbi.model import kept_count
from lbi.pipeline.estimate import Diagnostics, Estimate, PersonPose
from lbi.pipeline.estimator import Estimator
from lbi.views.files import OutputFiles
from lbi.views.photo import Controls, draw, figure3d, layer_names, photo_view, summary_markdown

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture(scope="module")
def estimator():
    return Estimator(device="cpu")


@pytest.fixture(scope="module")
def photo():
    return read_image(ASSETS / "lbi_synth_lab.jpg")


@pytest.fixture(scope="module")
def estimate(estimator, photo):
    return estimator.predict(photo)


def test_photo_view(estimator, photo, estimate):
    names = layer_names(estimator)
    assert len(names) == len(estimate.diagnostics.attention) and "PGTL" in names[1]
    view = photo_view(photo, [estimate], OutputFiles(), layer=1, joint="left_wrist", show="both")
    for path in (view.pose2d, view.attention, view.kept):
        image = read_image(path)
        assert image.shape == photo.shape and np.abs(image.astype(int) - photo).mean() > 1
    assert Path(view.json_path).is_file() and "Kept patches" in view.summary
    names = {trace.name for trace in view.figure.data}
    assert {"refined left", "refined right", "coarse left", "coarse right"} <= names


def _grid_estimate(kept: np.ndarray | None, attention: np.ndarray) -> Estimate:
    """A hand-made estimate whose 192x256 crop is the image region x 50-242, y 40-296 at scale 1:
    token (i, j) of an 8 x 6 grid (stride 32) covers x 50 + 32 j .. +32, y 40 + 32 i .. +32."""
    crop = Crop(np.array([50 + 96.0, 40 + 128.0]), np.array([192 / 200, 256 / 200]), (192, 256))
    zeros = np.zeros((17, 3))
    camera, ray = np.array([300.0, 300.0, 150.0, 170.0]), crop.center
    pose = PersonPose(zeros, zeros, np.full((17, 2), 100.0), np.ones(17), crop, camera, ray)
    return Estimate(pose, Diagnostics(attention, kept, 0.3, None))


def _block(i: int, j: int, inset: int = 4) -> tuple[slice, slice]:
    return slice(40 + 32 * i + inset, 40 + 32 * (i + 1) - inset), slice(50 + 32 * j + inset, 50 + 32 * (j + 1) - inset)


def test_kept_overlay_darkens_exactly_the_pruned_patches():
    photo = np.full((340, 300, 3), 200, np.uint8)
    kept = (np.add.outer(np.arange(8), np.arange(6)) % 3) == 0  # a diagonal pattern of kept tokens
    out = draw.kept_patches_overlay(photo, _grid_estimate(kept, np.zeros((1, 17, 8, 6))))
    for i in range(8):
        for j in range(6):
            expected = 200 if kept[i, j] else 50  # pruned: a quarter of the brightness
            assert np.all(out[_block(i, j)] == expected), (i, j)
    assert np.all(out[:30] == 200) and np.all(out[:, 250:] == 200)  # outside the crop: untouched


def test_attention_overlay_peaks_where_the_attention_does():
    photo = np.full((340, 300, 3), 128, np.uint8)
    attention = np.zeros((1, 17, 8, 6))
    attention[0, :, 5, 2] = 1.0  # every keypoint looks at token (5, 2) only
    est = _grid_estimate(None, attention)
    overlay = draw.attention_overlay(photo, est, 0, None).astype(int)
    change = np.abs(overlay - photo).sum(axis=2)
    assert change[_block(5, 2)].min() > 100  # the attended patch is coloured
    assert change[_block(1, 4)].max() == 0 and change[_block(7, 0)].max() == 0  # the others are not


def test_retention_changes_what_is_shown(estimator, photo, estimate):
    wide = estimator.refine(estimate, 1.0)
    total = estimate.diagnostics.total_tokens
    assert wide.diagnostics.kept_tokens == total and estimate.diagnostics.kept_tokens == kept_count(0.3, total)
    assert f"{total} of {total}" in summary_markdown(
        wide
    ) and f"{kept_count(0.3, total)} of {total}" in summary_markdown(estimate)
    out = draw.kept_patches_overlay(photo, wide)  # all kept: nothing darkened, only the outline drawn
    assert np.abs(out.astype(int) - photo).mean() < 3


def test_projected_skeleton_and_empty_figure(estimate):
    small = draw.projected_skeleton(estimate.pose.joints3d_mm, size=160)
    assert small.shape == (160, 160, 3) and (small != 30).any()
    assert len(figure3d.skeleton_figure(None).data) == 0


def test_output_files_are_reused_and_bounded(estimate):
    files = OutputFiles(keep=3)
    first = files.json([estimate])
    assert files.json([estimate]) == first  # the same result: the same file, not a new one
    paths = {first}
    for r in (0.1, 0.2, 0.4, 0.5):
        other = replace(estimate, diagnostics=replace(estimate.diagnostics, retention=r))
        paths.add(files.json([other]))
    assert len(paths) == 5 and len(list(files.folder.iterdir())) == 3  # only the newest three are kept
    picture = np.full((80, 60, 3), 90, np.uint8)
    assert files.image(picture) == files.image(picture) and files.image(picture).endswith(".jpg")


@pytest.mark.slow
def test_large_photos_are_drawn_at_display_size_with_the_json_in_original_pixels(estimator, photo, estimate):
    import json

    from lbi.views.photo import DISPLAY_SIDE

    big = cv2.resize(photo, None, fx=3, fy=3)  # analysed as if it were a 3x larger photo
    scaled = estimate.scaled(3.0)
    view = photo_view(big, [scaled], OutputFiles(), original_scale=2.0)
    assert max(read_image(view.pose2d).shape[:2]) == DISPLAY_SIDE
    (saved,) = json.loads(Path(view.json_path).read_text())["people"]
    np.testing.assert_allclose(saved["joints2d_px"], estimate.pose.joints2d_px * 6, atol=0.02)
    np.testing.assert_allclose(
        estimator.refine(scaled, 1.0).pose.joints3d_mm, estimator.refine(estimate, 1.0).pose.joints3d_mm, atol=1e-4
    )  # a rescaled estimate refines to the same 3D


@pytest.mark.parametrize(
    "retention, joint, layer, show, message",
    [
        (0, "all keypoints", 0, "refined", "must lie in"),
        (5, "all keypoints", 0, "refined", "must lie in"),
        ("abc", "all keypoints", 0, "refined", "must be a number"),
        (float("nan"), "all keypoints", 0, "refined", "must lie in"),
        (0.3, "left_tail", 0, "refined", "unknown keypoint"),
        (0.3, "all keypoints", "layer 9", "refined", "unknown attention layer"),
        (0.3, "all keypoints", 0, "sideways", "unknown 3D view"),
    ],
)
def test_controls_are_checked(retention, joint, layer, show, message):
    layers = ["a", "b"]
    with pytest.raises(ValueError, match=message):
        Controls.parse(retention, joint, layers[layer] if isinstance(layer, int) else layer, show, layers)
    assert Controls.parse("0.5", "left_wrist", "b", "both", layers) == Controls(0.5, "left_wrist", 1, "both")


@pytest.fixture(scope="module")
def two_walkers(tmp_path_factory):
    """A rendered clip of two people (6 frames, 320 px wide) and its VideoResult made from the true poses, person 1
    missing from frames 2 and 3 (a gap)."""
    from lbi.data.synth.clip import render_clip
    from lbi.motion.video import FrameResult, PersonFrame, VideoInfo, VideoResult

    path = tmp_path_factory.mktemp("clip") / "walkers.avi"
    truth = render_clip(path, frames=6, fps=8.0, people=2, width=320)
    frames = []
    for k in range(6):
        people = []
        for pid in (0, 1):
            if pid == 1 and k in (2, 3):
                continue
            joints2d = truth.joints2d_px[k, pid]
            lo, hi = joints2d.min(axis=0) - 10, joints2d.max(axis=0) + 10
            joints3d = truth.joints3d_mm[k, pid] - truth.joints3d_mm[k, pid, :1]
            people.append(PersonFrame(pid, joints3d, joints2d, np.ones(17), (*lo, *(hi - lo))))
        frames.append(FrameResult(k, k / 8.0, people))
    return VideoResult(VideoInfo(str(path), 8.0, truth.size, 6), frames).fit_motions(), truth


def test_root_position_finds_where_a_person_stands():
    """A skeleton 4 m in front of a camera and 1 m to its left: its root is found there from its 2D projection."""
    from lbi.geometry.camera import default_intrinsics

    rng = np.random.default_rng(0)
    pose = rng.normal(0, 300, (17, 3))
    pose -= pose[:1]
    root = np.array([-1000.0, 200.0, 4000.0])
    k = default_intrinsics(640, 480)
    points = pose + root
    pixels = points[:, :2] / points[:, 2:] * k[:2] + k[2:]
    found = figure3d.root_position(pose, pixels, k)
    assert np.linalg.norm(found - root) < 0.05 * 4000  # a weak-perspective size: within 5 % (a 0.6 m deep blob)


def test_clip_view_plays_the_annotated_clip_in_step_with_the_placed_3d_motion(two_walkers):
    from lbi.views.clip import VIDEO_SIDE, clip_view

    clip, truth = two_walkers
    files = OutputFiles()
    view = clip_view(clip, files)
    assert view.video in view.downloads and view.video.endswith(".webm") and Path(view.page).is_file()
    capture = cv2.VideoCapture(view.video)
    shot = [capture.read()[1] for _ in range(6)]
    assert all(s is not None for s in shot) and not capture.read()[0]  # one frame per analysed frame
    assert shot[0].shape[1] % 2 == 0 and max(shot[0].shape[:2]) <= VIDEO_SIDE
    original = cv2.VideoCapture(clip.info.path).read()[1]
    assert np.abs(shot[0].astype(int) - original).mean() > 2  # the skeletons, boxes and numbers are drawn
    # the 3D: one animation frame per clip frame, person 1 absent where the clip lacks them, people where they stand
    figure = view.figure
    assert [f.name for f in figure.frames] == [str(k) for k in range(6)]
    person1 = [t for t, name in zip(figure.data, (t.name for t in figure.data)) if name == "person 1"][0]
    index = list(figure.data).index(person1)
    gap = figure.frames[2].data[index]
    assert len(gap.x) > 0 and all(v is None or not np.isfinite(v) for v in gap.x)
    assert np.isfinite(np.array(figure.frames[1].data[index].x, float)).all()
    order_2d = np.argsort(truth.joints2d_px[0, :, 0, 0])
    xs = [np.nanmean(np.array(figure.frames[0].data[5 * pid + 3].x, float)) for pid in (0, 1)]
    assert list(np.argsort(xs)) == list(order_2d)  # left to right as in the image
    titles = [figure.layout.scene[a].title.text for a in ("xaxis", "yaxis", "zaxis")]
    assert all("mm" in t for t in titles), titles
    assert not figure.layout.updatemenus and not figure.layout.sliders  # the video is the only clock
    page = Path(view.page).read_text()
    assert f'src="{Path(view.video).name}"' in page and "lbiPlayer(" in page and "lbiFrame" in page
    script = re.search(r'<script src="(static/plotly-[\d.]+\.min\.js)"', page)
    assert script and (files.folder / script[1]).stat().st_size > 1_000_000  # plotly.js beside the page
    assert "cdn" not in page.lower() and "https://" not in page  # nothing from the network


def test_clip_view_without_a_video_keeps_plotly_s_own_controls(two_walkers, monkeypatch):
    from lbi.motion.video import VideoError
    from lbi.views import clip as clip_module

    def broken(*args):
        raise VideoError("OpenCV cannot write VP8 (WebM) video here")

    monkeypatch.setattr(clip_module, "annotated_video", broken)
    view = clip_module.clip_view(two_walkers[0], OutputFiles())
    assert view.video is None and not any(d.endswith(".webm") for d in view.downloads)
    assert "could not be written: OpenCV cannot write VP8" in view.status
    assert view.figure.layout.updatemenus and "<video" not in Path(view.page).read_text()


def test_written_files_are_atomic_and_bounded():
    files = OutputFiles(keep=2)

    def fails(path):
        path.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.written(fails, "clip", ".webm")
    assert not any(files.folder.glob("*.webm")) and not any((files.folder / "partial").iterdir())
    script = files.shared("plotly-test.js", lambda: b"x" * 10)
    paths = [files.written(lambda p, k=k: p.write_bytes(bytes([k]) * 9), "clip", ".webm") for k in range(4)]
    assert len(set(paths)) == 4 and sorted(p.name for p in files.folder.glob("*.webm")) == sorted(
        Path(p).name for p in paths[-2:]
    )  # the oldest removed; the shared script kept
    assert (
        Path(script).read_bytes() == b"x" * 10
        and files.written(lambda p: p.write_bytes(b"\x03" * 9), "clip", ".webm") == paths[3]
    )


def test_people_get_their_number_and_box():
    image = np.full((200, 300, 3), 40, np.uint8)
    joints = np.stack([np.linspace(100, 140, 17), np.linspace(60, 160, 17)], axis=1)
    out = draw.draw_skeleton_2d(image, joints, None, (90, 50, 60, 120), 1, "person 1")
    tag = draw.person_colours(1)[0]
    assert (out[52:58, 92:100] == tag).all(axis=2).any()  # the tag at the box's corner, in the person's colour

    def near(picture, x, colour):  # the box's side at column x (anti-aliased: within a pixel, nearly the colour)
        return (np.abs(picture[110, x - 1 : x + 2].astype(int) - colour).max(axis=1) < 60).any()

    assert near(out, 90, tag) and near(out, 150, tag) and not near(out, 120, tag)  # the box's sides
    picked = draw.draw_skeleton_2d(image, joints, None, (90, 50, 60, 120), 1, "person 1", picked=True)
    assert near(picked, 90, (255, 255, 255))  # the picked person's box: white
    assert (image == 40).all()  # the input untouched


def test_a_clip_s_name_never_reaches_the_page_raw(two_walkers, tmp_path):
    """The player page names the video by the uploaded clip's name: only letters, digits, _ and - of it."""
    import shutil
    from dataclasses import replace as replaced

    from lbi.views.clip import clip_view

    clip, _ = two_walkers
    hostile = tmp_path / 'a"><img src=x onerror=alert(1)>.avi'
    shutil.copy(clip.info.path, hostile)
    view = clip_view(replaced(clip, info=replaced(clip.info, path=str(hostile))), OutputFiles())
    page = Path(view.page).read_text()
    assert "<img" not in page and "onerror=" not in page and Path(view.video).name.startswith("a___img_src_x_")
