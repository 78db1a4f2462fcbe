"""Everyone in a photo (lbi.pose2d.people): MediaPipe's detector and landmark network as native graphs
(lbi.pose2d.graphs), the regions they look at (lbi.pose2d.regions), and the tests for a second find."""

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from lbi.io.images import read_image
from lbi.pose2d.people import (
    BODY,
    MIRROR_LANDMARKS,
    PeopleDetector,
    on_body,
    same_person,
    same_silhouette,
)
from lbi.pose2d.regions import Region, detector_views, person_region, same_region

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture(scope="module")
def detector() -> PeopleDetector:
    return PeopleDetector()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return read_image(ASSETS / "astronaut.jpg")


# ------------------------------------------------------------------ the regions
def test_region_rotation_and_size_from_two_keypoints():
    hip = np.array([100.0, 200.0])
    upright = person_region(hip, np.array([100.0, 100.0]))  # the size point straight above the hips
    assert upright.centre == (100.0, 200.0)
    assert upright.size == pytest.approx(2 * 100 * 1.25)
    assert upright.rotation == pytest.approx(0.0)
    lying = person_region(hip, np.array([160.0, 200.0]))  # to the right: the body lies, head to the right
    assert lying.size == pytest.approx(2 * 60 * 1.25)
    assert lying.rotation == pytest.approx(math.pi / 2)
    upside_down = person_region(hip, np.array([100.0, 240.0]))
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


def test_alike_regions():
    a = Region((100.0, 100.0), 200.0, 0.0)
    assert same_region(a, Region((110.0, 95.0), 190.0, 0.1))
    assert not same_region(a, Region((150.0, 100.0), 200.0, 0.0))  # a quarter of a side apart
    assert not same_region(a, Region((100.0, 100.0), 120.0, 0.0))  # much smaller
    assert not same_region(a, Region((100.0, 100.0), 200.0, math.radians(40)))  # turned


# ------------------------------------------------------------------ second finds
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


def test_same_silhouette_and_the_mirror_map():
    a = np.zeros((50, 50), np.float32)
    a[10:40, 10:30] = 1.0
    shifted = np.roll(a, 2, axis=1)
    beside = np.roll(a, 15, axis=1)
    assert same_silhouette(a, shifted) and not same_silhouette(a, beside)
    assert not same_silhouette(a, None) and not same_silhouette(np.zeros_like(a), np.zeros_like(a))
    swap = np.array(MIRROR_LANDMARKS)
    assert sorted(swap) == list(range(33)) and (swap[swap] == np.arange(33)).all()  # a permutation, its own inverse
    assert swap[11] == 12 and swap[23] == 24 and swap[0] == 0  # shoulders and hips swap, the nose stays


# ------------------------------------------------------------------ the networks
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
    assert person.mask is not None


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
    (person,) = PeopleDetector()(astronaut)
    assert person.mask is not None and person.mask.shape == astronaut.shape[:2] and person.mask.dtype == np.float32
    assert person.mask.min() >= 0.0 and person.mask.max() <= 1.0
    nose = np.round(person.landmarks[0]).astype(int)
    assert person.mask[nose[1], nose[0]] > 0.5  # the face is the person
    assert person.mask[5, 500] < 0.5  # the top-right corner is not


def test_a_person_is_seen_alike_in_the_mirror_image(detector, astronaut):
    (person,) = detector.people(astronaut)
    assert person.view == 0  # the whole photo's detection: MediaPipe's own
    assert detector.mirror_disagreement(astronaut, [person])[0] < 0.03
    assert person.next_region.size > 0 and same_region(person.next_region, person.region, (0.3, 0.6, 0.5))


def test_following_a_person_and_leaving_out_those_known(detector, astronaut):
    (person,) = detector.people(astronaut)
    (followed,) = detector.follow(astronaut, [person.next_region])
    assert followed is not None and followed.view == -1
    a, b = followed.found, person.found
    seen = (a.visibility > 0.5) & (b.visibility > 0.5)
    assert np.median(np.linalg.norm(a.xy[seen] - b.xy[seen], axis=1)) < 5.0  # px: the same body where it shows
    assert detector.people(astronaut, known=[followed]) == []  # nobody else in the photo
    (nobody,) = detector.follow(np.zeros_like(astronaut), [person.next_region])
    assert nobody is None
