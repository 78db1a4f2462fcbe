import math
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest
import torch

from lbi.model import LiftingByImage, LiftingConfig
from lbi.pipeline.estimator import Estimate, Estimator, NoPersonFound

GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def estimator():
    """The lifter alone (fusion "none"): the tests below check its path; test_fusion_* the fusions on top."""
    torch.manual_seed(0)
    model = LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4))
    return Estimator(model=model, device="cpu", fusion="none")


@pytest.fixture(scope="module")
def photo():
    return cv2.cvtColor(cv2.imread(str(GRACE_HOPPER)), cv2.COLOR_BGR2RGB)


@pytest.mark.slow
def test_predict_on_a_photo(estimator, photo):
    est = estimator.predict(photo)
    assert isinstance(est, Estimate)
    assert est.pose.joints3d_mm.shape == est.pose.coarse3d_mm.shape == (17, 3) and np.all(est.pose.joints3d_mm[0] == 0)
    h, w = photo.shape[:2]
    visible = est.pose.confidence > 0.5  # a portrait: MediaPipe extrapolates the unseen legs below the frame
    assert 5 <= visible.sum() < 17  # head, nose, thorax, shoulders
    assert np.all((est.pose.joints2d_px[visible] >= 0) & (est.pose.joints2d_px[visible] <= [w, h]))
    assert est.diagnostics.attention.shape == (6, 17, 64, 48)
    np.testing.assert_allclose(est.diagnostics.attention[:3].sum(axis=(2, 3)), 1.0, rtol=1e-4)
    assert est.diagnostics.kept_tokens == math.ceil(0.3 * 3072) and est.diagnostics.total_tokens == 3072
    assert 0.0 <= est.diagnostics.background_attention <= 1.0
    assert (
        0.0 <= est.diagnostics.off_person_attention <= 1.0 and 0.0 < est.diagnostics.off_person_uniform < 1.0
    )  # MediaPipe's segmentation
    nobody = estimator.off_person(est, np.zeros(photo.shape[:2], np.float32))
    everyone = estimator.off_person(est, np.ones(photo.shape[:2], np.float32))
    assert (
        nobody == (1.0, 1.0)
        and everyone[1] < est.diagnostics.off_person_uniform
        and everyone[0] <= est.diagnostics.off_person_attention + 1e-9
    )
    assert {"detector", "crop", "encoder", "stage1", "stage2"} <= set(est.diagnostics.timings_ms)
    heat = est.map_to_image(est.diagnostics.attention[2].sum(0), photo.shape[:2])
    assert heat.shape == photo.shape[:2] and heat.max() > 0


@pytest.mark.slow
def test_refine_reruns_stage2_only(estimator, photo):
    est = estimator.predict(photo)
    calls = []
    handle = estimator.model.encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        wide = estimator.refine(est, retention=1.0)
    finally:
        handle.remove()
    assert calls == [] and wide.diagnostics.kept_tokens == 3072 and wide.diagnostics.retention == 1.0
    np.testing.assert_array_equal(wide.pose.coarse3d_mm, est.pose.coarse3d_mm)
    assert not np.allclose(wide.pose.joints3d_mm, est.pose.joints3d_mm)


@pytest.mark.slow
def test_no_person_and_batches(estimator, photo):
    blank = np.full((300, 200, 3), 90, np.uint8)
    with pytest.raises(NoPersonFound):
        estimator.predict(blank)
    results = estimator.predict_batch([photo, blank, photo[:, ::-1].copy()])
    assert (
        isinstance(results[0], Estimate) and isinstance(results[1], NoPersonFound) and isinstance(results[2], Estimate)
    )
    single = estimator.predict(photo)
    np.testing.assert_allclose(results[0].pose.joints3d_mm, single.pose.joints3d_mm, atol=1e-3)


@pytest.mark.slow
def test_the_flip_test_is_the_mean_of_the_crop_and_its_mirror(estimator, photo):
    """predict's flip test gives exactly flip_test() on the same crop (in camera axes); refine keeps
    it; attention and kept patches are the unflipped crop's; live frames can turn it off."""
    from lbi.geometry.camera import default_intrinsics
    from lbi.model.flip import flip_test

    flipped, plain = estimator.predict(photo), estimator.predict(photo, flip_test=False)
    assert flipped.diagnostics.flip_test and not plain.diagnostics.flip_test and flipped.to_dict()["flip_test"] is True
    inputs = estimator.codec.encode(photo, estimator.detect(photo)[0].box, flipped.pose.joints2d_px)
    with torch.no_grad():
        out = flip_test(estimator.model, inputs.image[None], inputs.joints2d[None])
    pose = (out.refined[0] - out.refined[0, :1]).numpy() * 1000
    expected = estimator.codec.decode_pose(pose, inputs.crop.center, default_intrinsics(photo.shape[1], photo.shape[0]))
    np.testing.assert_allclose(flipped.pose.joints3d_mm, expected, atol=1e-2)
    assert not np.allclose(flipped.pose.joints3d_mm, plain.pose.joints3d_mm, atol=1.0)
    np.testing.assert_allclose(flipped.diagnostics.attention, plain.diagnostics.attention, atol=1e-5)
    np.testing.assert_array_equal(flipped.diagnostics.kept_mask, plain.diagnostics.kept_mask)
    wide = estimator.refine(flipped, retention=1.0)
    assert wide.diagnostics.flip_test and wide.diagnostics.kept_tokens == 3072
    np.testing.assert_allclose(wide.pose.coarse3d_mm, flipped.pose.coarse3d_mm, atol=1e-3)
    assert (
        Estimator(model=estimator.model, device="cpu", detector=estimator.detector, flip_test=False)
        .predict(photo)
        .diagnostics.flip_test
        is False
    )


@pytest.mark.slow
def test_lift_takes_a_given_2d_pose_and_a_known_camera(photo):
    """lift() runs the same path as predict() on a 2D pose from elsewhere; a known camera replaces the assumed
    one when the pose is turned back from the model's axes (a ray-frame model) into the camera's."""
    torch.manual_seed(0)
    estimator = Estimator(
        model=LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4, frame="ray")),
        device="cpu",
        fusion="none",
    )
    found = estimator.predict(photo, flip_test=False)
    given = estimator.lift(photo, found.pose.joints2d_px, flip_test=False)
    assert given.pose.crop.box == pytest.approx(found.pose.crop.box)
    assert np.allclose(given.pose.joints3d_mm, found.pose.joints3d_mm, atol=1e-3)
    h, w = photo.shape[:2]
    off_centre = np.array([0.8 * w, 0.8 * w, 0.0, 0.0])  # principal point in a corner: the person sits off-axis
    known = estimator.lift(photo, found.pose.joints2d_px, flip_test=False, intrinsics=off_centre)
    assert np.allclose(known.pose.intrinsics, off_centre)
    # the same pose in the model's axes, turned back along another ray: same shape, another orientation
    assert np.allclose(
        np.linalg.norm(known.pose.joints3d_mm, axis=1), np.linalg.norm(found.pose.joints3d_mm, axis=1), atol=1e-3
    )
    assert not np.allclose(known.pose.joints3d_mm, found.pose.joints3d_mm, atol=1.0)


@pytest.mark.slow
def test_fusion_plain_blends_mediapipes_3d_and_says_so(estimator, photo):
    """fusion "plain": the lifter's pose blended with MediaPipe's 3D (per joint, by its confidence); refine keeps
    the fusion; the JSON names it and carries MediaPipe's pose; a given 2D pose without a 3D one is lifted alone."""
    from lbi.pipeline.fusion import fuse

    alone = estimator.predict(photo)
    fused = estimator.predict(photo, fusion="plain")
    assert alone.pose.fusion == "none" and fused.pose.fusion == "plain"
    mediapipe = fused.pose.mediapipe3d_mm
    assert mediapipe.shape == (17, 3) and np.all(mediapipe[0] == 0)
    expected = fuse("plain", alone.pose.joints3d_mm, mediapipe, alone.pose.confidence)
    np.testing.assert_allclose(fused.pose.joints3d_mm, expected, atol=1e-6)
    assert not np.allclose(fused.pose.joints3d_mm, alone.pose.joints3d_mm, atol=1.0)
    wide, wide_alone = estimator.refine(fused, 1.0), estimator.refine(alone, 1.0)
    assert wide.pose.fusion == "plain"
    np.testing.assert_allclose(
        wide.pose.joints3d_mm,
        fuse("plain", wide_alone.pose.joints3d_mm, mediapipe, alone.pose.confidence),
        atol=1e-6,
    )
    record = fused.to_dict()
    assert record["fusion"] == "plain" and np.array(record["mediapipe3d_mm"]).shape == (17, 3)
    assert estimator.lift(photo, fused.pose.joints2d_px, fusion="plain").pose.fusion == "none"  # no 3D to fuse
    with pytest.raises(ValueError, match="learned"):
        estimator.predict(photo, fusion="learned")  # these weights read no prior
    with pytest.raises(ValueError, match="one of"):
        Estimator(model=estimator.model, device="cpu", fusion="average")


@pytest.mark.slow
def test_fusion_learned_feeds_mediapipes_3d_to_a_prior_model(photo):
    """A model that reads a prior: "learned" by default, its pose changes with MediaPipe's 3D; lift() takes a
    Pose2D with a 3D pose of the user's own; "none" tells the model the prior is absent."""
    from dataclasses import replace

    torch.manual_seed(0)
    model = LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4, frame="ray", prior=True)).eval()
    for parameter in model.prior_embed.parameters():
        torch.nn.init.normal_(parameter, std=0.5)  # out of its zero start, so the prior shows
    estimator = Estimator(model=model, device="cpu")
    assert estimator.fusion == "learned"
    learned, alone = estimator.predict(photo), estimator.predict(photo, fusion="none")
    assert learned.pose.fusion == "learned" and alone.pose.fusion == "none"
    assert not np.allclose(learned.pose.joints3d_mm, alone.pose.joints3d_mm, atol=1e-2)  # an untrained model: mm
    person = estimator.detect(photo)[0]
    again = estimator.lift(photo, person)
    np.testing.assert_allclose(again.pose.joints3d_mm, learned.pose.joints3d_mm, atol=1e-3)
    other = estimator.lift(photo, replace(person, world=person.world * [[-1, 1, 1]]))  # another 3D pose
    assert not np.allclose(other.pose.joints3d_mm, learned.pose.joints3d_mm, atol=1e-2)


@pytest.mark.slow
def test_fusion_ensemble_averages_the_plain_blend_with_a_prior_lifter(estimator, photo):
    """With a prior lifter (a lifting-only model that reads MediaPipe's 3D) the estimator runs the ensemble by
    default: the plain blend averaged with that lifter's pose, which the estimate carries; refine keeps it."""
    from lbi.model import MartinezConfig, MartinezMLP
    from lbi.pipeline.fusion import fuse

    torch.manual_seed(0)
    partner = MartinezMLP(MartinezConfig(hidden=64, frame="ray", prior=True)).eval()
    ensemble = Estimator(model=estimator.model, device="cpu", prior_lifter=partner, detector=estimator.detector)
    assert ensemble.fusion == "ensemble"
    fused, alone = ensemble.predict(photo), estimator.predict(photo)
    pose = fused.pose
    assert pose.fusion == "ensemble" and pose.learned3d_mm.shape == (17, 3)
    expected = fuse("ensemble", alone.pose.joints3d_mm, pose.mediapipe3d_mm, pose.confidence, pose.learned3d_mm)
    np.testing.assert_allclose(pose.joints3d_mm, expected, atol=1e-6)
    plain = fuse("plain", alone.pose.joints3d_mm, pose.mediapipe3d_mm, pose.confidence)
    assert not np.allclose(pose.joints3d_mm, plain, atol=1.0)
    wide = ensemble.refine(fused, 1.0)
    np.testing.assert_allclose(wide.pose.learned3d_mm, pose.learned3d_mm)
    assert wide.pose.fusion == "ensemble"
    with pytest.raises(ValueError, match="prior lifter"):
        estimator.predict(photo, fusion="ensemble")
