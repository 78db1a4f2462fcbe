"""Video clips to motion: clips the tests render themselves (LBI-Synth people walking), through ``lbi video`` to
JSON, CSV and BVH; identities across frames; everyone in a photo; broken clips."""

import csv
import json

import bvhio
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lbi.cli import main as cli
from lbi.data.synth.clip import render_clip
from lbi.geometry.metrics import mpjpe
from lbi.geometry.skeleton import H36M_JOINTS
from lbi.motion.bvh import TO_BVH, bvh_text, fit_motion
from lbi.motion.tracking import Tracker
from lbi.motion.video import PersonFrame, Smoother, Smoothing

BVH_NAMES = ["".join(part.capitalize() for part in name.split("_")) for name in H36M_JOINTS]


def bvh_positions_mm(path) -> np.ndarray:
    """Every joint of every frame of a BVH file, as an independent reader (bvhio) computes them: root-relative,
    camera axes, mm."""
    root = bvhio.readAsHierarchy(str(path))
    frames = []
    for k in range(len(root.Keyframes)):
        root.loadPose(k)
        world = {joint.Name: np.array(joint.PositionWorld) for joint, _, _ in root.layout()}
        points = np.array([world[name] for name in BVH_NAMES])
        frames.append((points - points[:1]) * 1000.0 @ TO_BVH.T)
    return np.array(frames)


def test_motion_of_a_rigid_skeleton_is_exact_and_bvh_gives_it_back(tmp_path):
    """One body turning about the vertical and bending an elbow keeps its bone lengths: the fitted skeleton
    reproduces it exactly, and the BVH re-read by bvhio gives the same joints."""
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, (17, 3)) * 40 + np.array([[0, 100.0 * j, 0] for j in range(17)]) * [1, -1, 1]
    poses = []
    for k in range(6):
        pose = base.copy()
        elbow, wrist = H36M_JOINTS.index("left_elbow"), H36M_JOINTS.index("left_wrist")
        pose[wrist] = pose[elbow] + Rotation.from_euler("x", 0.2 * k).apply(base[wrist] - base[elbow])
        poses.append(Rotation.from_euler("y", 0.4 * k).apply(pose - pose[0]))
    motion = fit_motion(np.array(poses))
    np.testing.assert_allclose(motion.positions_mm, np.array(poses), atol=1e-6)
    (tmp_path / "m.bvh").write_text(bvh_text(motion, fps=25.0))
    np.testing.assert_allclose(bvh_positions_mm(tmp_path / "m.bvh"), motion.positions_mm, atol=0.01)
    assert "Frame Time: 0.040000" in (tmp_path / "m.bvh").read_text()


def test_tracker_keeps_ids_of_people_apart_and_starts_new_ones():
    tracker = Tracker(patience=2)
    left, right = (100.0, 100.0, 80.0, 200.0), (400.0, 100.0, 80.0, 200.0)
    first = tracker.assign([left, right], 0)
    for k in range(1, 5):  # both walk right by 5 px a frame; the detector lists them in either order
        moved = [(x + 5 * k, y, w, h) for x, y, w, h in (right, left)]
        assert tracker.assign(moved, k) == [first[1], first[0]]
    third = tracker.assign([(700.0, 100.0, 80.0, 200.0)], 5)  # somebody new, elsewhere
    assert third[0] not in first
    assert tracker.assign([left], 9) != [first[0]]  # gone longer than the patience: a new track


def test_smoothing_calms_jitter_and_follows_motion():
    """The 1-euro filter on a joint that jitters by 20 mm: much steadier; on one that moves at 1 m/s it keeps up."""
    rng = np.random.default_rng(1)
    smoother = Smoother(fps=30.0, settings=Smoothing())
    raw, smooth = [], []
    for k in range(90):
        pose = np.zeros((17, 3)) + rng.normal(0, 20, (17, 3))
        pose[:, 0] += 1000.0 * k / 30.0  # moving right at 1 m/s
        raw.append(pose.copy())
        person = PersonFrame(0, pose, np.zeros((17, 2)), np.ones(17), (0, 0, 1, 1))
        smooth.append(smoother(person, k / 30.0).joints3d_mm)
    raw_jitter = np.abs(np.diff(np.array(raw)[30:], n=2, axis=0)).mean()
    smooth_jitter = np.abs(np.diff(np.array(smooth)[30:], n=2, axis=0)).mean()
    assert smooth_jitter < 0.3 * raw_jitter
    lag = np.abs(np.array(smooth)[60:, :, 0] - np.array(raw)[60:, :, 0].mean(axis=1, keepdims=True)).mean()
    assert lag < 60.0  # mm behind a 1 m/s motion


@pytest.fixture(scope="module")
def one_walker(tmp_path_factory):
    path = tmp_path_factory.mktemp("clips") / "walk.mp4"
    return path, render_clip(path, frames=12, fps=8.0, people=1)


@pytest.mark.slow
def test_video_to_json_csv_and_bvh(one_walker, tmp_path, capsys):
    path, truth = one_walker
    outs = [tmp_path / "poses.json", tmp_path / "poses.csv", tmp_path / "poses.bvh"]
    assert cli(["video", str(path), "--out", *map(str, outs)]) == 0
    clip = json.loads(outs[0].read_text())
    assert clip["fps"] == 8.0 and clip["frames_analysed"] == 12 and clip["error"] is None
    assert [p["id"] for p in clip["people"]] == [0] and all(len(f["people"]) == 1 for f in clip["frames"])
    poses = np.array([f["people"][0]["joints3d_mm"] for f in clip["frames"]])
    true = truth.joints3d_mm[:, 0] - truth.joints3d_mm[:, 0, :1]
    assert float(mpjpe(poses, true).mean()) < 150.0  # the lifter on renders: a pose, not noise
    np.testing.assert_allclose(bvh_positions_mm(outs[2]), poses, atol=1.0)  # the BVH gives back the JSON
    rows = list(csv.DictReader(outs[1].open()))
    assert len(rows) == 12 * 17 and rows[0]["joint"] == "pelvis"
    wrist = [r for r in rows if r["frame"] == "3" and r["joint"] == "left_wrist"][0]
    expected = clip["frames"][3]["people"][0]["joints3d_mm"][H36M_JOINTS.index("left_wrist")]
    assert [float(wrist[k]) for k in ("x_mm", "y_mm", "z_mm")] == pytest.approx(expected, abs=0.01)
    assert "12 frames" in capsys.readouterr().err


@pytest.mark.slow
def test_two_people_keep_their_ids_and_a_photo_of_them_gives_both(tmp_path):
    path = tmp_path / "two.mp4"
    truth = render_clip(path, frames=8, fps=8.0, people=2)
    assert cli(["video", str(path), "--out", str(tmp_path / "two.json"), "--people", "2"]) == 0
    clip = json.loads((tmp_path / "two.json").read_text())
    assert [p["id"] for p in clip["people"]] == [0, 1]
    sides = {}
    for frame in clip["frames"]:
        assert len(frame["people"]) == 2
        for person in frame["people"]:  # each id stays on its side of the frame
            sides.setdefault(person["id"], set()).add(person["joints2d_px"][0][0] < truth.size[0] / 2)
    assert all(len(s) == 1 for s in sides.values()) and sides[0] != sides[1]

    import cv2

    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read()
    assert ok
    cv2.imwrite(str(tmp_path / "two.png"), frame)
    assert cli(["predict", str(tmp_path / "two.png"), "--json", str(tmp_path / "photo.json")]) == 0
    (result,) = json.loads((tmp_path / "photo.json").read_text())["results"]
    people = result["people"]
    assert len(people) == 2 and people[0]["people_found"] == 2
    xs = sorted(np.array(p["joints2d_px"])[0, 0] for p in people)
    assert xs[0] < truth.size[0] / 2 < xs[1]  # one on each side
    assert not np.allclose(people[0]["joints3d_mm"], people[1]["joints3d_mm"], atol=5.0)


@pytest.mark.slow
def test_broken_clips_are_explained_and_what_was_done_is_kept(tmp_path, capsys):
    (tmp_path / "notes.mp4").write_text("not a video")
    assert cli(["video", str(tmp_path / "notes.mp4"), "--out", str(tmp_path / "a.json")]) == 2
    assert "not a video OpenCV can read" in capsys.readouterr().err and not (tmp_path / "a.json").exists()

    render_clip(tmp_path / "empty.mp4", frames=4, people=0)
    assert cli(["video", str(tmp_path / "empty.mp4"), "--out", str(tmp_path / "empty.json")]) == 1
    assert "no person found in any frame" in capsys.readouterr().err
    assert json.loads((tmp_path / "empty.json").read_text())["frames_analysed"] == 4

    render_clip(tmp_path / "long.avi", frames=12, fps=8.0, people=1)
    assert cli(["video", str(tmp_path / "long.avi"), "--out", str(tmp_path / "b.json"), "--max-seconds", "1"]) == 2
    assert "is 2 s long (12 frames at 8 fps); the limit is 1 s" in capsys.readouterr().err

    data = (tmp_path / "long.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])  # the header still declares 12 frames
    assert cli(["video", str(tmp_path / "cut.avi"), "--out", str(tmp_path / "cut.json"), "--people", "2"]) == 1
    assert "truncated" in capsys.readouterr().err
    cut = json.loads((tmp_path / "cut.json").read_text())
    assert 0 < cut["frames_analysed"] < 12 and "truncated" in cut["error"] and cut["people"]
