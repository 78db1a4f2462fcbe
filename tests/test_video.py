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
from lbi.motion.tracking import PeopleTracker
from lbi.motion.video import FrameResult, PersonFrame, Smoother, Smoothing, VideoInfo, VideoResult

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


def _walker(pid: int, k: int, x0: float) -> PersonFrame:
    """A fabricated person: a pose that moves right by 10 mm and 5 px a frame from ``x0``."""
    pose = np.array([[0.0, -100.0 * j, 0.0] for j in range(17)]) + [10.0 * k, 0, 0]
    pose[1:] += np.random.default_rng(pid).normal(0, 30, (16, 3))  # a body, not a line
    joints2d = np.stack([np.full(17, x0 + 5.0 * k), np.arange(17) * 10.0], axis=1)
    return PersonFrame(pid, pose - pose[:1], joints2d, np.full(17, 0.9), (x0 + 5.0 * k, 0.0, 50.0, 170.0))


def _clip_with_gaps() -> VideoResult:
    """Five frames: person 0 in frames 0, 3, 4 (a gap of two); person 1 in frames 1, 2 (held before and after)."""
    seen = {0: [0, 3, 4], 1: [1, 2]}
    frames = [
        FrameResult(k, k / 5.0, [_walker(pid, k, 100.0 + 300 * pid) for pid in (0, 1) if k in seen[pid]])
        for k in range(5)
    ]
    return VideoResult(VideoInfo("/tmp/some/where/clip.mp4", 5.0, (640, 480), 5), frames).fit_motions()


def test_a_person_missing_from_frames_keeps_the_clips_time(tmp_path):
    clip = _clip_with_gaps()
    assert clip.timelines[0].source == ["seen", "interpolated", "interpolated", "seen", "seen"]
    assert clip.timelines[1].source == ["held", "seen", "seen", "held", "held"]
    # interpolated linearly between frames 0 and 3; held from the nearest seen frame
    box = clip.timelines[0].box
    np.testing.assert_allclose(box[1], box[0] + (box[3] - box[0]) / 3)
    np.testing.assert_allclose(clip.timelines[1].joints2d_px[0], clip.timelines[1].joints2d_px[1])
    np.testing.assert_allclose(clip.timelines[1].joints2d_px[4], clip.timelines[1].joints2d_px[2])
    assert (clip.timelines[0].confidence[1:3] == 0).all() and (clip.timelines[0].confidence[[0, 3, 4]] > 0).all()

    written = clip.write(tmp_path / "m.bvh") + clip.write(tmp_path / "m.json") + clip.write(tmp_path / "m.csv")
    assert [p.name for p in written] == ["m_person0.bvh", "m_person1.bvh", "m.json", "m.csv"]
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["video"] == "clip.mp4"  # the file's name, not where the server kept it
    assert [len(f["people"]) for f in data["frames"]] == [2] * 5
    assert [p["frames_seen"] for p in data["people"]] == [3, 2]
    for pid in (0, 1):
        poses = np.array([f["people"][pid]["joints3d_mm"] for f in data["frames"]])
        assert [f["people"][pid]["source"] for f in data["frames"]] == clip.timelines[pid].source
        np.testing.assert_allclose(bvh_positions_mm(tmp_path / f"m_person{pid}.bvh"), poses, atol=1.0)
    rows = list(csv.DictReader((tmp_path / "m.csv").open()))
    assert len(rows) == 5 * 2 * 17
    assert [r["frame"] for r in rows[:: 2 * 17]] == ["0", "1", "2", "3", "4"]  # every frame, in order
    assert {r["source"] for r in rows if r["person"] == "1" and r["frame"] in ("0", "4")} == {"held"}


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

    render_clip(tmp_path / "whole.mp4", frames=4, people=0)
    data = (tmp_path / "whole.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])  # an interrupted download: OpenCV cannot open it
    assert cli(["video", str(tmp_path / "cut.mp4"), "--out", str(tmp_path / "a.json")]) == 2
    assert "truncated or damaged" in capsys.readouterr().err

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


@pytest.mark.slow
def test_people_crossing_keep_their_ids(tmp_path):
    """Two people change places, one passing 0.8 m in front of the other. While they overlap one is hidden and
    ids may be wrong for a few frames; before and after, each id stays on its own person (measured: see
    docs/results.md)."""
    import cv2

    from lbi.pose2d.people import PeopleDetector

    truth = render_clip(tmp_path / "cross.avi", frames=40, fps=10.0, people=2, cross=True)
    capture = cv2.VideoCapture(str(tmp_path / "cross.avi"))
    tracker = PeopleTracker(PeopleDetector(), max_people=4)
    on = []  # per frame: (id, the true person nearest their pelvis)
    for k in range(40):
        ok, bgr = capture.read()
        assert ok
        followed = tracker(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        pelvis = truth.joints2d_px[k, :, 0]
        on.append([(pid, int(np.argmin(np.linalg.norm(pelvis - pose.joints[0], axis=1)))) for pid, pose in followed])
    assert on[0] == [(0, 0), (1, 1)] or on[0] == [(0, 1), (1, 0)]
    assert sorted(on[-1]) == sorted(on[0])  # the same ids on the same people after crossing
    right = sum(pair in on[0] for frame in on for pair in frame)
    assert right >= 0.7 * 2 * 40


@pytest.mark.slow
def test_photo_video_and_live_find_the_same_people(tmp_path):
    """One frame of two people: the photo's search, the first frame of a clip and a live frame give the same
    people (their 2D joints within a pixel)."""
    import cv2

    from lbi.motion.video import analyse_video
    from lbi.pipeline.estimator import Estimator
    from lbi.views.live import live_frame

    render_clip(tmp_path / "two.avi", frames=1, people=2)
    capture = cv2.VideoCapture(str(tmp_path / "two.avi"))
    ok, bgr = capture.read()
    capture.release()
    assert ok
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    estimator = Estimator(flip_test=False)

    def by_x(joints: list[np.ndarray]) -> np.ndarray:
        return np.array(sorted(joints, key=lambda j: float(j[0, 0])))

    photo = by_x([e.pose.joints2d_px for e in estimator.predict_people(rgb)])
    clip = analyse_video(tmp_path / "two.avi", estimator, max_people=4, smoothing=None)
    video = by_x([p.joints2d_px for p in clip.frames[0].people])
    _, state = live_frame(estimator, rgb, None)
    live = by_x([e.pose.joints2d_px for _, e in state.people])
    state.close()
    assert len(photo) == 2
    np.testing.assert_allclose(video, photo, atol=1.0)
    np.testing.assert_allclose(live, photo, atol=1.0)
