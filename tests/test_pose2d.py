from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest

from lbi.geometry.skeleton import H36M_JOINTS
from lbi.pose2d.landmarks import PoseDetector

GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def detector():
    with PoseDetector() as det:
        yield det


def test_a_photo_of_a_person_gives_h36m_joints(detector):
    rgb = cv2.cvtColor(cv2.imread(str(GRACE_HOPPER)), cv2.COLOR_BGR2RGB)
    pose = detector(rgb)
    assert pose is not None and pose.joints.shape == (17, 2) and pose.confidence.shape == (17,)
    j = dict(zip(H36M_JOINTS, pose.joints))
    h, w = rgb.shape[:2]
    assert 0 < j["neck_nose"][0] < w and 0 < j["neck_nose"][1] < h
    assert j["head"][1] < j["neck_nose"][1] < j["thorax"][1]  # head above nose above thorax (image y down)
    # the subject faces the camera: her left shoulder appears on the image's right
    assert j["left_shoulder"][0] > j["right_shoulder"][0]
    x, y, bw, bh = pose.box
    assert np.all(pose.joints >= [x, y]) and np.all(pose.joints <= [x + bw, y + bh])


def test_an_empty_image_gives_none(detector):
    assert detector(np.full((480, 640, 3), 127, np.uint8)) is None
