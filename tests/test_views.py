"""What the app draws: overlays line up with the estimate, the 3D figure holds the right poses."""

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
