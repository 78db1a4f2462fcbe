"""Data pipelines on files fabricated in the exact on-disk formats: Human3.6M, 3DHP, LBI-Synth."""

import hashlib
import json
import zipfile

import cv2
import h5py
import numpy as np
import pytest

from lbi.data.dataset import PoseDataset
from lbi.data.format import DatasetError, PreparedData
from lbi.data.h36m import CAMERA_IDS, KEEP_32_TO_17, prepare_h36m, sh_to_h36m
from lbi.data.mpi_inf_3dhp import prepare_3dhp
from lbi.data.safe_npz import load_npz
from lbi.data.synth.body import FAMILIES, BodyShape, pose_body, sample_angles
from lbi.data.synth.generate import LAB_TEST, LAB_TRAIN, SIZES, WILD_TEST, Job, render_job
from lbi.geometry.camera import Intrinsics, project_to_2d, world_to_camera
from lbi.geometry.skeleton import H36M_TO_MPI, bone_lengths
from train import CONFIGS


# ------------------------------------------------------------------------------------ LBI-Synth
def test_synth_dataset_layout(synth_root):
    lab, wild = PreparedData(synth_root / "lab"), PreparedData(synth_root / "wild")
    counts = SIZES["tiny"]
    assert len(lab) == counts["lab_train"] + counts["lab_test"] and len(wild) == counts["wild_test"]
    assert set(lab.ann["subject"][lab.indices("train")]) <= set(LAB_TRAIN)
    assert set(lab.ann["subject"][lab.indices("test")]) <= set(LAB_TEST)
    assert set(lab.ann["camera"]) <= {"cam_a", "cam_b", "cam_c", "cam_d"} and set(wild.ann["camera"]) == {"wild"}
    assert set(lab.ann["action"]) <= set(FAMILIES)


def test_synth_annotations_are_consistent(synth_root):
    data = PreparedData(synth_root / "lab")
    ds = PoseDataset(data, "train")
    for k in range(0, len(ds), 7):
        row = ds.rows[k]
        fx, fy, cx, cy = data.ann["intrinsics"][row]
        projected = project_to_2d(data.ann["joints3d"][row], Intrinsics(fx, fy, cx, cy))
        np.testing.assert_allclose(projected, data.ann["joints2d_gt"][row], atol=1e-2)
        crop_px = ds[k]["joints2d_px"].numpy()
        assert np.all(crop_px >= 0) and np.all(crop_px[:, 0] < 192) and np.all(crop_px[:, 1] < 256)
        image = data.image(row)
        assert image.shape == (256, 192, 3) and image.std() > 10
        # human proportions: bone lengths within H36M-like ranges (mm)
        bones = bone_lengths(data.ann["joints3d"][row])
        assert 300 < bones[1] < 560 and 300 < bones[2] < 560  # right thigh, shin


@pytest.mark.parametrize(
    ("part", "subjects", "digest"),
    [
        ("lab_train", LAB_TRAIN, "6ec3358560cfe2abdbe088b25de50618515b2c69"),
        ("wild_test", WILD_TEST, "e176e3e17bb4ad3996af70dee4ee7728ea3bc36f"),
    ],
)
def test_first_benchmark_poses_stay_as_published(part, subjects, digest):
    """lab / wild are a published benchmark: their 3D joints (to 0.1 um) do not move when the kinematic core
    they share with the randomised domains changes."""
    joints = np.stack([render_job(Job(0, part, i, subjects[i]))[2]["joints3d"] for i in range(3)])
    assert hashlib.sha1(np.round(joints, 4).tobytes()).hexdigest() == digest


def test_synth_rendering_is_deterministic_and_bodies_stand_on_the_floor():
    job = Job(seed=3, part="lab_train", index=5, subject="L01")
    assert render_job(job)[0] == render_job(job)[0]
    assert render_job(job)[0] != render_job(Job(3, "lab_train", 6, "L01"))[0]
    rng = np.random.default_rng(0)
    for family in FAMILIES:
        _, angles = sample_angles(rng, family)
        posed = pose_body(BodyShape.sample(rng), angles)
        foot_capsules = [c for c in posed.capsules if c[2] == 0.042]  # ankle -> toe, one per side
        assert len(foot_capsules) == 2
        feet = np.array([p for a, b, r, _ in foot_capsules for p in (a[1] - r, b[1] - r)])
        assert feet.min() == pytest.approx(0.0, abs=1e-9)
        assert posed.joints[:, 1].max() > 0.5  # the head is above the floor


def test_synth_person_is_drawn_where_the_joints_are(synth_root):
    data = PreparedData(synth_root / "wild")
    ds = PoseDataset(data, "test")
    hits = 0
    for k in range(len(ds)):
        image = data.image(int(ds.rows[k])).astype(float)
        x, y = ds.joints2d_px[k][8].round().astype(int)  # thorax: inside the shirt
        patch = image[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].reshape(-1, 3)
        corner = image[:5, :5].reshape(-1, 3).mean(0)  # clothing colours are random: compare to the background
        hits += np.abs(patch.mean(0) - corner).sum() > 20
    assert hits >= 0.8 * len(ds)


# ------------------------------------------------------------------------------------ Human3.6M
def _standing_pose(rng, frames: int) -> np.ndarray:
    """(frames, 32, 3) metres: a random but plausible 17-joint person placed at the H36M indices."""
    base = np.array(
        [
            [0, 0, 0],
            [-0.13, 0, 0],
            [-0.13, -0.45, 0],
            [-0.13, -0.9, 0],
            [0.13, 0, 0],
            [0.13, -0.45, 0],
            [0.13, -0.9, 0],
            [0, 0.23, 0],
            [0, 0.48, 0],
            [0, 0.6, 0.05],
            [0, 0.72, 0],
            [0.15, 0.46, 0],
            [0.15, 0.2, 0],
            [0.15, -0.05, 0],
            [-0.15, 0.46, 0],
            [-0.15, 0.2, 0],
            [-0.15, -0.05, 0],
        ]
    )
    out = rng.normal(0, 0.05, (frames, 32, 3))
    out[:, list(KEEP_32_TO_17)] = base + rng.normal(0, 0.01, (frames, 17, 3))
    return out


@pytest.fixture(scope="module")
def h36m_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("h36m_src")
    rng = np.random.default_rng(0)
    actions = {"S1": ["Walking 1", "Eating"], "S9": ["Walking"], "S11": ["Directions", "Sitting 1"]}
    positions = {s: {a: _standing_pose(rng, 25) for a in acts} for s, acts in actions.items()}
    np.savez(root / "data_3d_h36m.npz", positions_3d=positions)
    cameras = {"intrinsics": {}, "extrinsics": {}}
    for k, cam in enumerate(CAMERA_IDS):
        cameras["intrinsics"][cam] = {
            "res_w": 160,
            "res_h": 160,
            "center": [80 + k, 80 - k],
            "focal_length": [200, 200],
            "radial_distortion": [0, 0, 0],
            "tangential_distortion": [0, 0],
        }
    for subject in actions:
        cameras["extrinsics"][subject] = {
            cam: {"orientation": [1, 0, 0, 0], "translation": [0, -200, -4000 - 100 * k]}
            for k, cam in enumerate(CAMERA_IDS)
        }
    (root / "cameras.json").write_text(json.dumps(cameras))
    cpn, sh = {}, {}
    for subject, acts in positions.items():
        cpn[subject], sh[subject] = {}, {}
        for action in acts:
            cpn[subject][action] = [rng.uniform(40, 120, (25, 17, 2)) for _ in CAMERA_IDS]
            sh[subject][action] = [rng.uniform(40, 120, (24, 16, 2)) for _ in CAMERA_IDS]  # one frame short
            for cam in CAMERA_IDS:
                folder = root / "videos" / subject / "Videos"
                folder.mkdir(parents=True, exist_ok=True)
                writer = cv2.VideoWriter(
                    str(folder / f"{action}.{cam}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 50, (160, 160)
                )
                for f in range(23):  # shorter than the mocap: the sequence must be trimmed
                    frame = np.full((160, 160, 3), 40, np.uint8)
                    cv2.putText(frame, str(f), (60, 90), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
                    writer.write(frame)
                writer.release()
    np.savez(root / "data_2d_h36m_cpn_ft_h36m_dbb.npz", positions_2d=cpn, metadata={"layout_name": "h36m"})
    np.savez(root / "data_2d_h36m_sh_pt_mpii.npz", positions_2d=sh, metadata={"layout_name": "mpii"})
    return root


@pytest.fixture(scope="module")
def h36m_prepared(h36m_source, tmp_path_factory):
    out = tmp_path_factory.mktemp("h36m_prepared")
    counts = prepare_h36m(
        h36m_source / "videos",
        h36m_source / "data_3d_h36m.npz",
        h36m_source / "cameras.json",
        out,
        {"cpn": h36m_source / "data_2d_h36m_cpn_ft_h36m_dbb.npz", "sh": h36m_source / "data_2d_h36m_sh_pt_mpii.npz"},
        subjects=("S1", "S9", "S11"),
    )
    return out, counts


def test_h36m_prepare_produces_the_format(h36m_source, h36m_prepared):
    out, counts = h36m_prepared
    data = PreparedData(out)
    # 4 videos each for S1 x2, S9 x1, S11 x1 (Directions skipped); frames 0, 10, 20 of 23
    assert counts == {"samples": 16 * 3, "videos": 16, "missing_videos": 0}
    assert "Directions" not in set(data.ann["action"][data.ann["subject"] == "S11"])
    assert sorted(set(data.ann["frame"])) == [0, 10, 20]
    assert data.meta.splits == {"train": ["S1"], "test": ["S9", "S11"]}
    assert set(data.meta.inputs_2d) == {"gt", "cpn", "sh"}
    positions = load_npz(h36m_source / "data_3d_h36m.npz")["positions_3d"]
    cams = json.loads((h36m_source / "cameras.json").read_text())
    row = int(
        np.flatnonzero(
            (data.ann["subject"] == "S1")
            & (data.ann["action"] == "Eating")
            & (data.ann["camera"] == CAMERA_IDS[2])
            & (data.ann["frame"] == 10)
        )[0]
    )
    ext = cams["extrinsics"]["S1"][CAMERA_IDS[2]]
    expected = world_to_camera(
        positions["S1"]["Eating"][10][list(KEEP_32_TO_17)] * 1000, ext["orientation"], ext["translation"]
    )
    np.testing.assert_allclose(data.ann["joints3d"][row], expected, rtol=1e-5)
    sh = load_npz(h36m_source / "data_2d_h36m_sh_pt_mpii.npz")["positions_2d"]["S1"]["Eating"][2][10]
    np.testing.assert_allclose(data.ann["joints2d_sh"][row], sh_to_h36m(sh), rtol=1e-5)
    # the crop holds the frame content: the frame number drawn in white is visible
    assert data.image(row).max() > 200
    ds = PoseDataset(data, "test", inputs_2d="cpn")
    assert len(ds) == 8 * 3 and ds[0]["target"][0].abs().sum() == 0  # root-relative


def test_h36m_bad_inputs_are_named(h36m_source, tmp_path):
    src = h36m_source
    with pytest.raises(DatasetError, match="video folder not found"):
        prepare_h36m(tmp_path / "nope", src / "data_3d_h36m.npz", src / "cameras.json", tmp_path / "out")
    (tmp_path / "cams.json").write_text(json.dumps({"intrinsics": {}}))
    with pytest.raises(DatasetError, match="cams.json: expected"):
        prepare_h36m(src / "videos", src / "data_3d_h36m.npz", tmp_path / "cams.json", tmp_path / "out")
    np.savez(tmp_path / "wrong.npz", poses=np.zeros(3))
    with pytest.raises(DatasetError, match="positions_3d"):
        prepare_h36m(src / "videos", tmp_path / "wrong.npz", src / "cameras.json", tmp_path / "out")


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pose_files_are_read_without_unpickling_code(tmp_path):
    np.savez(tmp_path / "ok.npz", positions_3d={"S1": {"Walking": np.ones((2, 32, 3))}}, plain=np.arange(3))
    data = load_npz(tmp_path / "ok.npz")
    assert data["positions_3d"]["S1"]["Walking"].shape == (2, 32, 3) and list(data["plain"]) == [0, 1, 2]
    np.save(tmp_path / "evil.npy", np.array([_Evil()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(tmp_path / "evil.npz", "w") as z:
        z.write(tmp_path / "evil.npy", "positions_3d.npy")
    with pytest.raises(DatasetError, match="refusing to unpickle builtins.print"):
        load_npz(tmp_path / "evil.npz")


def test_sh_has_sixteen_joints_and_gains_a_neck():
    sh = np.arange(32, dtype=float).reshape(16, 2)
    out = sh_to_h36m(sh)
    assert out.shape == (17, 2)
    np.testing.assert_allclose(out[0], sh[6])  # pelvis
    np.testing.assert_allclose(out[9], (sh[8] + sh[9]) / 2)  # neck/nose between upper neck and head top
    np.testing.assert_allclose(out[10], sh[9])  # head top


# ------------------------------------------------------------------------------------ MPI-INF-3DHP
def _write_mat(path, n, valid, rng):
    """A MATLAB v7.3 file: HDF5 with a 512-byte user block holding the MATLAB header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    annot3 = rng.normal(0, 400, (n, 1, 17, 3))
    annot2 = rng.uniform(60, 140, (n, 1, 17, 2))
    with h5py.File(path, "w", userblock_size=512) as f:
        f["annot2"], f["annot3"], f["univ_annot3"] = annot2, annot3 * 1.1, annot3
        f["valid_frame"] = valid.reshape(n, 1).astype(float)
        f["activity_annotation"] = rng.integers(1, 8, (n, 1)).astype(float)
        f["bb_crop"] = np.zeros((n, 1, 4))
    with open(path, "r+b") as handle:
        handle.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 .")
    return annot2.reshape(n, 17, 2), annot3.reshape(n, 17, 3)


def test_3dhp_prepare_keeps_valid_frames_and_reorders_joints(tmp_path):
    rng = np.random.default_rng(0)
    truth = {}
    for seq, size in (("TS1", (200, 200)), ("TS5", (240, 180))):
        valid = np.array([1, 0, 1, 1, 0, 1], bool)
        truth[seq] = _write_mat(tmp_path / "src" / seq / "annot_data.mat", 6, valid, rng) + (valid,)
        for i in range(6):
            folder = tmp_path / "src" / seq / "imageSequence"
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"img_{i + 1:06d}.jpg"), np.full((size[1], size[0], 3), 30 * i, np.uint8))
    counts = prepare_3dhp(tmp_path / "src", tmp_path / "out", sequences=("TS1", "TS5"))
    assert counts == {"TS1": 4, "TS5": 4}
    data = PreparedData(tmp_path / "out")
    assert (
        data.meta.splits["GS"] == ["TS1"] and data.meta.splits["Outdoor"] == ["TS5"] and data.meta.splits["noGS"] == []
    )
    row = int(np.flatnonzero((data.ann["subject"] == "TS5") & (data.ann["frame"] == 3))[0])
    annot2, annot3, _ = truth["TS5"]
    np.testing.assert_allclose(data.ann["joints3d"][row][list(H36M_TO_MPI)], annot3[3], rtol=1e-5)
    np.testing.assert_allclose(data.ann["joints2d_gt"][row][0], annot2[3][14], rtol=1e-5)  # pelvis
    assert list(data.ann["image_size"][row]) == [240, 180]
    assert set(data.ann["frame"][data.ann["subject"] == "TS1"]) == {0, 2, 3, 5}
    with pytest.raises(DatasetError, match="TS2/annot_data.mat is missing"):
        prepare_3dhp(tmp_path / "src", tmp_path / "out2", sequences=("TS2",))


def test_missing_or_malformed_prepared_data_is_explained(tmp_path, synth_root):
    with pytest.raises(DatasetError, match="dataset folder not found"):
        PreparedData(tmp_path / "nothing")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "meta.json").write_text("{}")
    with pytest.raises(DatasetError, match="annotations.npz is missing"):
        PreparedData(tmp_path / "half")
    with pytest.raises(DatasetError, match="no split 'val'"):
        PoseDataset(synth_root / "lab", "val")
    with pytest.raises(DatasetError, match="no 2D input 'cpn'"):
        PoseDataset(synth_root / "lab", "train", inputs_2d="cpn")


def test_prepared_h36m_trains_one_step_and_evaluates_per_action(h36m_prepared, tmp_path):
    from train.core.config import load_config
    from train.core.engine import fit

    out, _ = h36m_prepared
    cfg = load_config(
        str(CONFIGS / "synth/lbi_end_to_end.yaml"),
        [
            f"data.train={out}:train",
            f"data.eval={{h36m-test: {out}:test}}",
            "data.inputs_2d=cpn",
            "model.encoder=small_cnn",
            "model.dim=32",
            "model.heads=4",
            "training.epochs=1",
            "training.batch_size=24",
            f"training.out={tmp_path}/run",
        ],
    )
    result = fit(cfg)["h36m-test"]
    assert result.samples == 24
    assert set(result.per_action) == {"Walking", "Sitting", "average"}
    assert result.per_action["average"] == pytest.approx(
        (result.per_action["Walking"] + result.per_action["Sitting"]) / 2
    )
