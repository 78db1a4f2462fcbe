"""Real-photo evaluation (train.core.evaluate_photos): the folder format, known answers, the CLI."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from lbi.pose2d.landmarks import Pose2D
from train.core.evaluate_photos import PhotoSet, PhotoSetError, errors, evaluate_photos, main

ASSETS = Path(__file__).resolve().parents[1] / "assets"
K = np.array([[1000.0, 0, 320], [0, 1000.0, 240], [0, 0, 1]])


def random_pose(seed: int) -> np.ndarray:
    """A person-sized 17-joint pose 4 m in front of the camera, mm."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 250, (17, 3)) + [0, 0, 4000]


def photo_folder(root: Path, poses: list[np.ndarray], images: list[np.ndarray] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    names = [f"frame_{k}.png" for k in range(len(poses))]
    for k, name in enumerate(names):
        image = images[k] if images is not None else np.full((480, 640, 3), 128, np.uint8)
        cv2.imwrite(str(root / name), image)
    np.savez(root / "gt.npz", imgname=np.array(names), joints3d_mm=np.stack(poses), K=np.stack([K] * len(poses)))
    return root


class _Detector:
    """MediaPipe's stand-in: the projected ground truth for every frame but the ones listed as missed."""

    def __init__(self, photos: PhotoSet, missed: set[int]) -> None:
        self.photos, self.missed, self.calls = photos, missed, 0

    def __call__(self, rgb):
        k, self.calls = self.calls, self.calls + 1
        return [] if k in self.missed else [Pose2D.from_joints(self.photos.joints2d_px(k))]


def test_known_answers_per_row_and_frame(tmp_path):
    photos = PhotoSet.load(photo_folder(tmp_path / "set", [random_pose(0), random_pose(1), random_pose(2)]))
    assert photos.joints2d_px(0) == pytest.approx((photos.joints3d_mm[0] @ K.T)[:, :2] / photos.joints3d_mm[0][:, 2:])

    class Oracle:
        def pose_mm(self, rgb, pose, intrinsics, flip):
            # the true pose of the frame whose 2D input this is (MediaPipe's stand-in gives the projection)
            for k in range(3):
                if np.allclose(pose.joints, photos.joints2d_px(k)):
                    return photos.joints3d_mm[k] + 500.0
            raise AssertionError("unexpected 2D input")

    angle = np.pi / 2

    class Turned(Oracle):
        def pose_mm(self, rgb, pose, intrinsics, flip):
            true = super().pose_mm(rgb, pose, intrinsics, flip) - 500.0
            c, s = np.cos(angle), np.sin(angle)
            return (true - true[:1]) @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T

    class NeedsWorld:  # a fusion: no row where MediaPipe gave no 3D (the stand-in never does)
        def pose_mm(self, rgb, pose, intrinsics, flip):
            return None if pose.world is None else pose.world

    lifters = {"oracle": Oracle(), "turned": Turned(), "fused": NeedsWorld()}
    report = evaluate_photos([photos], lifters, _Detector(photos, missed={1}))
    means = report.means()
    assert report.missed == ["set/frame_1.png"]
    assert means["oracle, MediaPipe 2D"]["n"] == 2 and means["oracle, ground-truth 2D"]["n"] == 3
    assert all(v == pytest.approx(0, abs=1e-6) for k, v in means["oracle, ground-truth 2D"].items() if k != "n")
    # a pose turned 90 degrees: the MPJPE of the turn, and nothing after Procrustes
    expected = []
    for k in range(3):
        rel = photos.joints3d_mm[k] - photos.joints3d_mm[k][:1]
        turned = rel @ np.array([[0, 0, 1.0], [0, 1, 0], [-1, 0, 0]]).T
        expected.append(errors(turned, rel))
        assert expected[-1]["mpjpe17"] == pytest.approx(np.linalg.norm(turned - rel, axis=1).mean())
    row = means["turned, ground-truth 2D"]
    assert row["mpjpe17"] == pytest.approx(np.mean([e["mpjpe17"] for e in expected]), abs=0.01)
    assert row["mpjpe14"] == pytest.approx(np.mean([e["mpjpe14"] for e in expected]), abs=0.01)
    assert row["pa14"] == pytest.approx(0, abs=0.01) and row["pa17"] == pytest.approx(0, abs=0.01)
    assert row["mpjpe17"] > 100
    assert "MediaPipe world landmarks" not in means  # the stand-in has no 3D
    text = report.markdown()
    assert "| turned, ground-truth 2D | 3 |" in text and "missed: set/frame_1.png" in text
    assert json.loads(report.to_json())["frames"][1]["rows"].keys() == {
        "oracle, ground-truth 2D",
        "turned, ground-truth 2D",
    }


def test_metrics_use_the_14_joints_both_data_sets_annotate():
    true = random_pose(3)
    pred = true.copy()
    pred[7] += [100.0, 0, 0]  # the spine: not one of the 14
    e = errors(pred, true)
    assert e["mpjpe14"] == pytest.approx(0) and e["mpjpe17"] == pytest.approx(100 / 17)


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("no_gt", "no gt.npz"),
        ("no_key", "lacks ['K']"),
        ("shape", "should be"),
        ("image", "missing"),
        ("behind", "in front of the camera"),
        ("not_npz", "not a readable .npz"),
        ("path", "not paths"),
    ],
)
def test_a_folder_in_another_format_is_refused_with_a_reason(tmp_path, breakage, message):
    root = photo_folder(tmp_path / "set", [random_pose(0), random_pose(1)])
    data = dict(np.load(root / "gt.npz"))
    if breakage == "no_gt":
        (root / "gt.npz").unlink()
    elif breakage == "no_key":
        np.savez(root / "gt.npz", imgname=data["imgname"], joints3d_mm=data["joints3d_mm"])
    elif breakage == "shape":
        np.savez(root / "gt.npz", **{**data, "joints3d_mm": data["joints3d_mm"][:, :14]})
    elif breakage == "image":
        (root / "frame_1.png").unlink()
    elif breakage == "path":
        np.savez(root / "gt.npz", **{**data, "imgname": np.array(["../frame_0.png", "frame_1.png"])})
    elif breakage == "behind":
        np.savez(root / "gt.npz", **{**data, "joints3d_mm": data["joints3d_mm"] * [1, 1, -1]})
    else:
        (root / "gt.npz").write_bytes(b"not a zip")
    with pytest.raises(PhotoSetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        PhotoSet.load(root)


def _fitted_intrinsics(joints3d: np.ndarray, joints2d: np.ndarray) -> np.ndarray:
    """K from a render's 3D joints and their projections (least squares on u = fx X / Z + cx, v likewise)."""
    x, y = joints3d[:, 0] / joints3d[:, 2], joints3d[:, 1] / joints3d[:, 2]
    ones = np.ones_like(x)
    fx, cx = np.linalg.lstsq(np.stack([x, ones], 1), joints2d[:, 0], rcond=None)[0]
    fy, cy = np.linalg.lstsq(np.stack([y, ones], 1), joints2d[:, 1], rcond=None)[0]
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])


@pytest.mark.slow
def test_cli_on_rendered_people_with_known_poses(tmp_path, capsys):
    """The two LBI-Synth example renders as a folder of annotated photos: their poses, K fitted to their
    projections, and the pictures; the bundled weights lift them close to the truth."""
    examples = json.loads((ASSETS / "lbi_synth_examples.json").read_text())
    root = tmp_path / "renders"
    root.mkdir()
    names, poses, cameras = [], [], []
    for name, truth in examples.items():
        joints3d, joints2d = np.array(truth["joints3d_mm"]), np.array(truth["joints2d_px"])
        (root / f"{name}.jpg").write_bytes((ASSETS / f"{name}.jpg").read_bytes())
        names.append(f"{name}.jpg")
        poses.append(joints3d)
        cameras.append(_fitted_intrinsics(joints3d, joints2d))
    np.savez(root / "gt.npz", imgname=np.array(names), joints3d_mm=np.stack(poses), K=np.stack(cameras))
    photos = PhotoSet.load(root)
    for k, truth in enumerate(examples.values()):  # the fabricated K reproduces the renders' 2D joints
        assert np.abs(photos.joints2d_px(k) - np.array(truth["joints2d_px"])).max() < 1.0

    assert main([str(root), "--twin", "none", "--image-absent", "--out", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    means = report["means"]
    assert report["missed"] == [] and means["lbi, MediaPipe 2D"]["n"] == 2 and means["lbi, ground-truth 2D"]["n"] == 2
    assert means["lbi, ground-truth 2D"]["mpjpe14"] < 150 and means["lbi, ground-truth 2D"]["pa14"] < 100
    assert means["MediaPipe world landmarks"]["n"] == 2
    assert "lbi, image absent, ground-truth 2D" in means
    assert "python -m train.core.evaluate_photos" in (tmp_path / "report.md").read_text()
    assert main([str(root), "--twin", "none", "--coarse", "--out", str(tmp_path / "coarse")]) == 0
    coarse = json.loads((tmp_path / "coarse.json").read_text())["means"]["lbi, ground-truth 2D"]
    assert coarse["pa14"] < 100 and coarse["mpjpe14"] != means["lbi, ground-truth 2D"]["mpjpe14"]  # stage 1's pose
    assert main([str(tmp_path / "nowhere")]) == 2
    assert "no gt.npz" in capsys.readouterr().err
