"""What the app draws: overlays line up with the estimate, the 3D figure holds the right poses."""

from pathlib import Path

import numpy as np
import pytest

from lbi import draw
from lbi.crop import Crop
from lbi.estimator import Estimate, Estimator
from lbi.image_io import read_image
from lbi.model import kept_count
from lbi.views import ResultFiles, layer_names, photo_view, summary_markdown

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
    assert len(names) == len(estimate.attention) and "PGTL" in names[1]
    view = photo_view(photo, estimate, ResultFiles(), layer=1, joint="left_wrist", show="both")
    for image in (view.pose2d, view.attention, view.kept):
        assert image.shape == photo.shape and image.dtype == np.uint8 and not np.array_equal(image, photo)
    assert Path(view.json_path).is_file() and "Kept patches" in view.summary
    names = {trace.name for trace in view.figure.data}
    assert {"refined left", "refined right", "coarse left", "coarse right"} <= names


def _grid_estimate(kept: np.ndarray | None, attention: np.ndarray) -> Estimate:
    """A hand-made estimate whose 192x256 crop is the image region x 50-242, y 40-296 at scale 1:
    token (i, j) of an 8 x 6 grid (stride 32) covers x 50 + 32 j .. +32, y 40 + 32 i .. +32."""
    crop = Crop(np.array([50 + 96.0, 40 + 128.0]), np.array([192 / 200, 256 / 200]), (192, 256))
    zeros = np.zeros((17, 3))
    return Estimate(zeros, zeros, np.full((17, 2), 100.0), np.ones(17), crop, attention, kept, None, 0.3)


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
    total = estimate.total_tokens
    assert wide.kept_tokens == total and estimate.kept_tokens == kept_count(0.3, total)
    assert f"{total} of {total}" in summary_markdown(wide) and f"{kept_count(0.3, total)} of {total}" in summary_markdown(estimate)
    out = draw.kept_patches_overlay(photo, wide)  # all kept: nothing darkened, only the outline drawn
    assert np.abs(out.astype(int) - photo).mean() < 3


def test_projected_skeleton_and_empty_figure(estimate):
    small = draw.projected_skeleton(estimate.joints3d_mm, size=160)
    assert small.shape == (160, 160, 3) and (small != 30).any()
    assert len(draw.skeleton_figure(None).data) == 0


def test_result_files_are_reused_and_bounded(estimate):
    files = ResultFiles(keep=3)
    first = files.write(estimate)
    assert files.write(estimate) == first  # the same result: the same file, not a new one
    paths = {first}
    for r in (0.1, 0.2, 0.4, 0.5):
        other = Estimate(**{**estimate.__dict__, "retention": r})
        paths.add(files.write(other))
    assert len(paths) == 5 and len(list(files.folder.iterdir())) == 3  # only the newest three are kept
