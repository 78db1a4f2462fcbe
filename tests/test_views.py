"""What the app draws: overlays line up with the estimate, the 3D figure holds the right poses."""

from pathlib import Path

import numpy as np
import pytest

from lbi import draw
from lbi.estimator import Estimator
from lbi.image_io import read_image
from lbi.views import layer_names, photo_view, summary_markdown

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
    view = photo_view(photo, estimate, layer=1, joint="left_wrist", show="both")
    for image in (view.pose2d, view.attention, view.kept):
        assert image.shape == photo.shape and image.dtype == np.uint8 and not np.array_equal(image, photo)
    assert Path(view.json_path).is_file() and "Kept patches" in view.summary
    names = {trace.name for trace in view.figure.data}
    assert {"refined left", "refined right", "coarse left", "coarse right"} <= names


def test_kept_overlay_darkens_exactly_the_pruned_patches(photo, estimate):
    out = draw.kept_patches_overlay(photo, estimate)
    kept = estimate.map_to_image(estimate.kept_mask.astype(np.float32), photo.shape[:2]) > 0.5
    inside = estimate.map_to_image(np.ones_like(estimate.kept_mask, np.float32), photo.shape[:2]) > 0.5
    pruned = inside & ~kept
    assert out[pruned].mean() < 0.4 * photo[pruned].mean()
    changed_outside = (out[~inside] != photo[~inside]).any(axis=1).mean()
    assert changed_outside < 0.01  # outside the crop only the outline's anti-aliased edge


def test_attention_overlay_peaks_where_the_attention_does(photo, estimate):
    heat = estimate.map_to_image(draw.attention_map(estimate, 1, None), photo.shape[:2])
    overlay = draw.attention_overlay(photo, estimate, 1, None)
    hot = heat > 0.8 * heat.max()
    cold = heat < 0.05 * heat.max()
    change = np.abs(overlay.astype(int) - photo).sum(axis=2)
    assert change[hot].mean() > change[cold].mean()


def test_retention_changes_what_is_shown(estimator, photo, estimate):
    wide = estimator.refine(estimate, 1.0)
    assert "768 of 768" in summary_markdown(wide) and "231 of 768" in summary_markdown(estimate)
    out = draw.kept_patches_overlay(photo, wide)  # all kept: nothing darkened, only the outline drawn
    assert np.abs(out.astype(int) - photo).mean() < 3


def test_projected_skeleton_and_empty_figure(estimate):
    small = draw.projected_skeleton(estimate.joints3d_mm, size=160)
    assert small.shape == (160, 160, 3) and (small != 30).any()
    assert len(draw.skeleton_figure(None).data) == 0
