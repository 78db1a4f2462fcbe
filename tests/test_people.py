"""The one-pass multi-person 2D pose (lbi.pose2d.people): MediaPipe's detector and landmark network as PyTorch
modules."""

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lbi.encoders.tflite_graph import TFLiteGraph
from lbi.io.images import read_image
from lbi.pose2d.people import (
    BODY,
    DETECTION_SCALE,
    NUM_ANCHORS,
    Detections,
    PeopleDetector,
    Region,
    decode_detections,
    detection_region,
    detector_model_path,
    detector_views,
    hard_nms,
    letterbox,
    on_body,
    refine_from_heatmaps,
    same_person,
    ssd_anchors,
    view_to_image,
    weighted_nms,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture(scope="module")
def detector() -> PeopleDetector:
    return PeopleDetector()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return read_image(ASSETS / "astronaut.jpg")


# ------------------------------------------------------------------ anchors, decoding, suppression
def test_anchors_count_and_layout():
    anchors = ssd_anchors()
    assert anchors.shape == (NUM_ANCHORS, 2) == (28 * 28 * 2 + 14 * 14 * 2 + 7 * 7 * 6, 2)
    # stride 8: 28 x 28 cells row by row, 2 anchors per cell (aspect ratio 1 and the interpolated one)
    np.testing.assert_allclose(anchors[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[2 * 28], [0.5 / 28, 1.5 / 28])
    # stride 16: 14 x 14 x 2; then the three stride-32 layers share a 7 x 7 map, 6 anchors per cell
    np.testing.assert_allclose(anchors[1568], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(anchors[1960:1966], [[0.5 / 7, 0.5 / 7]] * 6)
    np.testing.assert_allclose(anchors[1966], [1.5 / 7, 0.5 / 7])
    np.testing.assert_allclose(anchors[-1], [6.5 / 7, 6.5 / 7])


def test_decoding_a_hand_made_anchor_output():
    anchors = np.array([[0.25, 0.5], [0.75, 0.5], [0.5, 0.5]])
    raw = np.zeros((3, 12))
    # anchor 1: box centre moved by (+22.4, -11.2) px of 224 and 44.8 px wide, 67.2 tall; keypoints relative to it
    raw[1, :4] = [22.4, -11.2, 44.8, 67.2]
    raw[1, 4:] = [0.0, 44.8, 0.0, -44.8, 11.2, 0.0, -11.2, 0.0]
    logits = np.array([-3.0, 2.0, 1000.0])  # sigmoid 0.05 (dropped), 0.88, and a logit clipped to 100
    found = decode_detections(raw, logits, anchors, min_score=0.5)
    assert len(found) == 2
    np.testing.assert_allclose(found.scores, [1 / (1 + math.exp(-2.0)), 1.0])
    scale = DETECTION_SCALE
    centre = np.array([0.75 + 22.4 / scale, 0.5 - 11.2 / scale])
    size = np.array([44.8, 67.2]) / scale
    np.testing.assert_allclose(found.boxes[0], [*(centre - size / 2), *size])
    np.testing.assert_allclose(found.keypoints[0, 0], [0.75, 0.5 + 0.2])
    np.testing.assert_allclose(found.keypoints[0, 1], [0.75, 0.5 - 0.2])
    np.testing.assert_allclose(found.keypoints[0, 2], [0.75 + 0.05, 0.5])
    np.testing.assert_allclose(found.boxes[1], [0.5, 0.5, 0.0, 0.0])  # the clipped one: a point on its anchor
    # a view maps them into the photo: the whole photo's letterbox, and a window
    photo = letterbox((100, 200))  # 200 x 100: the square is 200 px, 50 px above and below the photo
    assert photo.centre == (100.0, 50.0) and photo.size == 200.0
    in_photo = view_to_image(found, photo)
    np.testing.assert_allclose(in_photo.keypoints[0, 0], [0.75 * 200, 0.7 * 200 - 50])
    window = Region((150.0, 50.0), 100.0, 0.0)
    np.testing.assert_allclose(view_to_image(found, window).keypoints[0, 0], [100 + 75, 0 + 70])


def test_nms_keeps_one_of_two_overlapping_detections():
    boxes = np.array([[0.1, 0.1, 0.2, 0.2], [0.12, 0.1, 0.2, 0.2], [0.6, 0.6, 0.2, 0.2]])
    keypoints = np.zeros((3, 4, 2))
    keypoints[:, 0] = [[0.2, 0.5], [0.3, 0.5], [0.7, 0.9]]
    found = Detections(boxes, keypoints, np.array([0.6, 0.9, 0.7]))
    weighted = weighted_nms(found)
    assert len(weighted) == 2
    np.testing.assert_allclose(weighted.scores, [0.9, 0.7])  # the best keeps its score ...
    np.testing.assert_allclose(weighted.keypoints[0, 0], [(0.6 * 0.2 + 0.9 * 0.3) / 1.5, 0.5])  # ... and averages
    np.testing.assert_allclose(weighted.boxes[0, 0], (0.6 * 0.1 + 0.9 * 0.12) / 1.5)
    np.testing.assert_allclose(weighted.keypoints[1], keypoints[2])  # the far one stays as it was
    hard = hard_nms(found)
    assert len(hard) == 2
    np.testing.assert_allclose(hard.keypoints[:, 0], [[0.3, 0.5], [0.7, 0.9]])
    assert len(weighted_nms(found.take(slice(0, 0)))) == 0


# ------------------------------------------------------------------ the region of interest
def test_region_rotation_and_size_from_two_keypoints():
    hip = np.array([100.0, 200.0])
    upright = detection_region(hip, np.array([100.0, 100.0]))  # the size point straight above the hips
    assert upright.centre == (100.0, 200.0)
    assert upright.size == pytest.approx(2 * 100 * 1.25)
    assert upright.rotation == pytest.approx(0.0)
    lying = detection_region(hip, np.array([160.0, 200.0]))  # to the right: the body lies, head to the right
    assert lying.size == pytest.approx(2 * 60 * 1.25)
    assert lying.rotation == pytest.approx(math.pi / 2)
    upside_down = detection_region(hip, np.array([100.0, 240.0]))
    assert abs(upside_down.rotation) == pytest.approx(math.pi)
    assert -math.pi <= upside_down.rotation < math.pi
    for region in (upright, lying, upside_down):
        # the crop's top centre lies towards the size point, half a side from the hips; the crop is the square
        head = hip + (region.size / 2) * np.array([math.sin(region.rotation), -math.cos(region.rotation)])
        np.testing.assert_allclose(region.to_image(np.array([128.0, 0.0]), 256), head, atol=1e-9)
        np.testing.assert_allclose(region.to_image(np.array([128.0, 128.0]), 256), hip, atol=1e-9)
        affine = region.affine(256)
        corners = np.array([[0.0, 0.0], [256.0, 0.0], [0.0, 256.0], [37.0, 201.0]])
        back = region.to_image(corners, 256)
        np.testing.assert_allclose(back @ affine[:, :2].T + affine[:, 2], corners, atol=1e-9)


def test_views_the_whole_photo_first_then_windows():
    whole, *rest = detector_views((425, 640))
    assert (whole.centre, whole.size) == ((320.0, 212.5), 640.0)
    assert len(rest) == 3 + 6  # squares of the shorter side along the photo, then a 3 x 2 grid of half squares
    assert detector_views((425, 640), with_windows=False) == [whole]
    assert len(detector_views((512, 512))) == 1 + 9  # square: no shorter-side squares
    for view in rest:
        assert view.rotation == 0.0
        x0, y0 = view.centre[0] - view.size / 2, view.centre[1] - view.size / 2
        assert x0 >= -1e-9 and x0 + view.size <= 640 + 1e-9
        assert y0 >= -1e-9 and y0 + view.size <= 425 + 1e-9


def test_heatmap_refinement_moves_a_landmark_to_the_heatmap_peak():
    heat = np.full((1, 2, 64, 64), -20.0)
    heat[0, 0, 30, 40] = 10.0  # a confident peak at column 40, row 30
    heat[0, 1, 30, 40] = -1.0  # not confident enough (sigmoid < 0.5): stays
    xy = np.array([[[41.5 / 64, 31.5 / 64], [41.5 / 64, 31.5 / 64]]])
    refined = refine_from_heatmaps(xy, heat)
    np.testing.assert_allclose(refined[0, 0], [40 / 64, 30 / 64], atol=1e-6)
    np.testing.assert_allclose(refined[0, 1], xy[0, 1])
    outside = refine_from_heatmaps(np.array([[[1.5, 0.5], [-0.2, 0.5]]]), heat)
    np.testing.assert_allclose(outside, [[[1.5, 0.5], [-0.2, 0.5]]])


def test_same_person_and_on_body():
    rng = np.random.default_rng(0)
    body = rng.uniform(0, 200, (33, 2))
    seen = np.ones(33)
    assert same_person(body, body + 5.0, seen, seen)
    assert not same_person(body, body + 80.0, seen, seen)
    assert on_body(body, seen, body, seen) == 1.0
    assert on_body(body + 1000.0, seen, body, seen) == 0.0
    # guessed landmarks do not count: only those both see
    guessed = body.copy()
    guessed[list(BODY)[12:]] += 300.0
    half_seen = np.ones(33)
    half_seen[list(BODY)[12:]] = 0.1
    assert same_person(body, guessed, seen, half_seen)
    assert on_body(body, np.zeros(33), body, seen) == 0.0


# ------------------------------------------------------------------ the networks
def test_detector_graph_matches_the_tflite_interpreter():
    """The executor's DENSIFY, DEPTH_TO_SPACE and CONCATENATION against TFLite itself."""
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = litert.Interpreter(
        model_path=str(detector_model_path()),
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    image = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    reference = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
    graph = TFLiteGraph(detector_model_path(), outputs=["Identity", "Identity_1"])
    with torch.no_grad():
        boxes, scores = (t.numpy() for t in graph(torch.from_numpy(image).permute(0, 3, 1, 2)))
    assert boxes.shape == (1, NUM_ANCHORS, 12) and scores.shape == (1, NUM_ANCHORS, 1)
    for ours, ref in ((boxes, reference["Identity"]), (scores, reference["Identity_1"])):
        np.testing.assert_allclose(ours, ref, atol=1e-4 * np.abs(ref).max(), rtol=0)


def test_one_person_as_mediapipe_finds_them(detector, astronaut):
    from lbi.pose2d.landmarks import PoseDetector

    people = detector(astronaut)
    assert len(people) == 1
    with PoseDetector() as legacy:
        reference = legacy(astronaut)
    assert reference is not None
    (person,) = people
    assert person.landmarks.shape == (33, 2) and person.visibility.shape == (33,)
    assert person.joints.shape == (17, 2) and person.world is not None and person.world.shape == (17, 3)
    assert np.median(np.linalg.norm(person.landmarks - reference.landmarks, axis=1)) < 2.0  # px
    assert np.abs(person.world - reference.world).max() < 10.0  # mm
    np.testing.assert_allclose(person.visibility, reference.visibility, atol=0.02)
    assert person.mask is None


def test_two_photos_side_by_side_give_both_people(detector, astronaut):
    hopper = read_image(ASSETS / "grace_hopper.jpg")
    height = astronaut.shape[0]
    hopper = cv2.resize(
        hopper, (round(hopper.shape[1] * height / hopper.shape[0]), height), interpolation=cv2.INTER_AREA
    )
    pair = np.ascontiguousarray(np.concatenate([hopper, astronaut], axis=1))
    people = detector(pair)
    assert len(people) == 2
    centres = sorted(float(np.median(p.landmarks[[0, 11, 12], 0])) for p in people)  # nose and shoulders
    assert centres[0] < hopper.shape[1] < centres[1]
    assert detector(pair, max_people=1) and len(detector(pair, max_people=1)) == 1
    assert detector(pair, max_people=0) == []


def test_nobody_in_a_blank_image(detector):
    assert detector(np.zeros((240, 320, 3), np.uint8)) == []
    assert detector(np.full((300, 300, 3), 200, np.uint8)) == []
    with pytest.raises(ValueError, match="uint8"):
        detector(np.zeros((32, 32, 3), np.float32))


def test_segmentation_mask_in_the_photo(astronaut):
    (person,) = PeopleDetector(segmentation=True)(astronaut)
    assert person.mask is not None and person.mask.shape == astronaut.shape[:2] and person.mask.dtype == np.float32
    assert person.mask.min() >= 0.0 and person.mask.max() <= 1.0
    nose = np.round(person.landmarks[0]).astype(int)
    assert person.mask[nose[1], nose[0]] > 0.5  # the face is the person
    assert person.mask[5, 500] < 0.5  # the top-right corner is not
