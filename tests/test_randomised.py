"""The domain-randomised LBI-Synth split, the measured 2D noise model, the peer row and the
attention metrics, each checked against a case whose answer is known."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lbi.crop.codec import InputCodec
from lbi.data.dataset import PoseDataset
from lbi.data.format import PreparedData
from lbi.data.synth.generate import RAND_SIZES, RAND_TEST, RAND_TRAIN, RandJob, render_rand_job
from lbi.data.synth.randomised import PHOTO_CAMERAS
from lbi.geometry.metrics import (
    attention_share,
    circle_background,
    peak_near_joint,
    peak_on_person,
    silhouette_background,
)
from lbi.geometry.skeleton import H36M_JOINTS
from tests.conftest import annotation_row


# ----------------------------------------------------------------------------- rendering
def test_rand_split_layout_and_silhouettes(synth_root):
    data = PreparedData(synth_root / "rand")
    counts = RAND_SIZES["tiny"]
    assert len(data) == 2 * counts["train"] + counts["test"]  # two backgrounds per training pose, one per test pose
    assert set(data.ann["subject"][data.indices("train")]) <= set(RAND_TRAIN)
    assert set(data.ann["subject"][data.indices("test")]) <= set(RAND_TEST)
    assert data.meta.silhouettes
    ds = PoseDataset(data, "train", load_silhouettes=True)
    inside = []
    for k in range(len(ds)):
        item = ds[k]
        mask = item["silhouette"].numpy().astype(bool)
        assert mask.shape == (256, 192) and 0.03 < mask.mean() < 0.7
        px = item["joints2d_gt_px"].numpy().round().astype(int)
        on = [mask[min(max(y, 0), 255), min(max(x, 0), 191)] for x, y in px]
        # torso joints project onto the person: the mask belongs to these joints
        inside.append(np.mean([on[H36M_JOINTS.index(j)] for j in ("pelvis", "spine", "thorax")]))
    assert np.mean(inside) > 0.9


def test_a_pose_on_two_backgrounds_shares_everything_but_the_background(synth_root):
    data = PreparedData(synth_root / "rand")
    rows = data.indices("train")[:2]  # the two variants of training pose 0
    assert list(data.ann["variant"][rows]) == [0, 1] and data.ann["frame"][rows[0]] == data.ann["frame"][rows[1]]
    np.testing.assert_array_equal(data.ann["joints3d"][rows[0]], data.ann["joints3d"][rows[1]])
    a, b = data.image(int(rows[0])).astype(int), data.image(int(rows[1])).astype(int)
    mask = data.silhouette(int(rows[0]))
    np.testing.assert_array_equal(mask, data.silhouette(int(rows[1])))
    assert np.abs(a - b)[~mask].mean() > 10  # another background


def test_upper_crops_are_rand_crops_cut_below_the_shoulders(synth_root, tmp_path):
    """Each upper crop is its rand crop, black (and not the person) from a row between the lower
    shoulder and the knees down, with the same ground truth; test crops come from test subjects."""
    from lbi.crop.affine import affine_points
    from lbi.data.synth.upper import generate_upper

    upper, rand = PreparedData(synth_root / "upper"), PreparedData(synth_root / "rand")
    assert len(upper.indices("train")) > 0 and len(upper.indices("test")) > 0
    assert set(upper.ann["subject"][upper.indices("test")]) <= set(RAND_TEST)
    for i in range(len(upper)):
        src, row = int(upper.ann["source_index"][i]), int(upper.ann["cut_row"][i])
        np.testing.assert_array_equal(upper.ann["joints3d"][i], rand.ann["joints3d"][src])
        np.testing.assert_array_equal(upper.ann["joints2d_gt"][i], rand.ann["joints2d_gt"][src])
        joints = affine_points(rand.ann["joints2d_gt"][src], rand.to_crop_matrices()[src])
        shoulder = joints[[H36M_JOINTS.index("left_shoulder"), H36M_JOINTS.index("right_shoulder")], 1].max()
        knees = joints[[H36M_JOINTS.index("left_knee"), H36M_JOINTS.index("right_knee")], 1].mean()
        assert shoulder < row <= knees + 1
        image, mask = upper.image(i).astype(int), upper.silhouette(i)
        assert image[row + 2 :].mean() < 3 and not mask[row:].any()  # black beyond the photo (JPEG ringing aside)
        np.testing.assert_array_equal(mask[:row], rand.silhouette(src)[:row])
        assert np.abs(image[: row - 2] - rand.image(src)[: row - 2]).mean() < 4  # the same picture above it
    (tmp_path / "rand").symlink_to(synth_root / "rand")
    generate_upper(tmp_path, "tiny", seed=0)
    again = PreparedData(tmp_path / "upper")
    np.testing.assert_array_equal(again.ann["source_index"], upper.ann["source_index"])
    np.testing.assert_array_equal(again.ann["cut_row"], upper.ann["cut_row"])


def test_photo_domain_draws_everyday_cameras_and_its_own_people():
    """The photo domain renders other samples than rand's at the same index, under PHOTO_CAMERAS' lenses."""
    rand = render_rand_job(RandJob(seed=0, split="train", index=5, subject="R005"))
    photo = render_rand_job(RandJob(seed=0, split="train", index=5, subject="R005", domain="photo"))
    assert photo[0][2]["camera"] == "photo" and rand[0][2]["camera"] == "rand"
    assert not np.allclose(photo[0][2]["joints3d"], rand[0][2]["joints3d"])
    for k in range(6):
        (row,) = render_rand_job(RandJob(seed=0, split="test", index=k, subject="T000", domain="photo"))[:1]
        fx, width = row[2]["intrinsics"][0], row[2]["image_size"][0]
        fov = np.degrees(2 * np.arctan(width / 2 / fx))
        assert PHOTO_CAMERAS.fov_deg[0] - 1e-6 <= fov <= PHOTO_CAMERAS.fov_deg[1] + 1e-6


def test_rand_rendering_is_deterministic_by_seed():
    job = RandJob(seed=1, split="train", index=3, subject="R003")
    first, again = render_rand_job(job), render_rand_job(job)
    assert [s[0] for s in first] == [s[0] for s in again] and [s[1] for s in first] == [s[1] for s in again]
    other = render_rand_job(RandJob(seed=2, split="train", index=3, subject="R003"))
    assert first[0][0] != other[0][0]
    assert first[0][2]["action"].split()[0] in (
        "stand",
        "walk",
        "run",
        "sit_chair",
        "sit_floor",
        "crouch",
        "kneel",
        "bend",
        "reach",
        "lean",
        "exercise",
    )


def test_poses_cover_the_families_and_gestures():
    from lbi.data.synth.people import Person
    from lbi.data.synth.poses import FAMILIES, GESTURES, sample_pose

    rng = np.random.default_rng(0)
    seen, gestures = set(), set()
    for _ in range(400):
        spec = sample_pose(rng)
        seen.add(spec.family)
        gestures.add(spec.gesture)
        sk = Person.sample(rng).skeleton(spec)
        assert sk.joints[:, 1].min() > -0.05 and np.isfinite(sk.joints).all()  # on or above the floor
        bones = np.linalg.norm(sk.joints[[2, 3, 5, 6]] - sk.joints[[1, 2, 4, 5]], axis=1)  # thighs and shins
        assert np.all((bones > 0.3) & (bones < 0.6))
    assert seen == set(FAMILIES) and set(GESTURES) <= gestures


def test_two_bone_ik_reaches_the_target_and_bends_towards_the_pole():
    from lbi.data.synth.poses import two_bone_ik

    start, target = np.zeros(3), np.array([0.3, -0.2, 0.1])
    elbow, wrist = two_bone_ik(start, target, 0.28, 0.25, pole=np.array([0.0, 0.0, -1.0]))
    np.testing.assert_allclose(wrist, target, atol=1e-9)
    assert np.linalg.norm(elbow - start) == pytest.approx(0.28) and np.linalg.norm(wrist - elbow) == pytest.approx(0.25)
    assert elbow[2] < 0  # towards the pole
    far = two_bone_ik(start, np.array([2.0, 0, 0]), 0.28, 0.25, np.array([0, 1.0, 0]))[1]
    assert np.linalg.norm(far) == pytest.approx(0.53 - 1e-3)  # out of reach: as far as the arm goes


def test_dataset_writer_resumes_from_its_checkpoint(tmp_path):
    from lbi.data.format import DatasetMeta, DatasetWriter

    meta = DatasetMeta("t", (192, 256), {"train": ["S"]})
    row = annotation_row()
    writer = DatasetWriter(tmp_path / "d", meta)
    for i in range(3):
        writer.add(np.zeros((256, 192, 3), np.uint8), **{**row, "frame": i})
    writer.checkpoint(progress=3)
    writer.add(np.zeros((256, 192, 3), np.uint8), **{**row, "frame": 99})  # after the checkpoint: lost
    resumed = DatasetWriter(tmp_path / "d", meta, resume=True)
    assert resumed.progress == 3 and len(resumed) == 3
    resumed.add(np.zeros((256, 192, 3), np.uint8), **{**row, "frame": 3})
    resumed.close()
    assert list(PreparedData(tmp_path / "d").ann["frame"]) == [0, 1, 2, 3]
    assert not (tmp_path / "d" / ".progress.npz").exists()
    other = DatasetWriter(tmp_path / "e", DatasetMeta("other", (192, 256), {"train": ["S"]}), resume=True)
    assert other.progress == 0


# ----------------------------------------------------------------------------- noise model
def _fake_detections(n: int, rng):
    gt = rng.uniform(20, 170, (n, 17, 2))
    det = gt + rng.normal(0, 3.0, gt.shape)
    from train.core.noise_2d import FLIP, PAIRS

    flip = np.arange(n) < n // 10  # 10 % whole-body flips
    det[flip] = det[flip][:, FLIP]
    wrists = (np.arange(n) >= n // 10) & (np.arange(n) < n // 10 + n // 5)  # then 20 % of the rest: a wrist swap
    left, right = PAIRS[-1]
    det[wrists, left], det[wrists, right] = det[wrists, right], det[wrists, left].copy()
    far = rng.random(n) < 0.05  # 5 % of knees wildly off
    det[far, 2] += 80
    return gt, det


def test_noise_model_recovers_the_errors_it_is_measured_on():
    from train.core.noise_2d import NoiseModel2D

    rng = np.random.default_rng(0)
    gt, det = _fake_detections(4000, rng)
    det[:40] = np.nan  # missed detections
    model = NoiseModel2D.measure(gt, det)
    assert model.detected == pytest.approx(0.99)
    assert model.flip_rate == pytest.approx(0.09, abs=0.01)  # 400 flips, 40 of them missed
    assert model.swap_rates[-1] == pytest.approx(800 / 3600, abs=0.02) and max(model.swap_rates[:-1]) < 0.01
    assert model.gross_rates[2] == pytest.approx(0.05, abs=0.012) and max(np.delete(model.gross_rates, 2)) < 0.01
    assert np.sqrt(np.trace(model.cov[0]) / 2) == pytest.approx(3.0, rel=0.1)


def test_noise_model_applies_what_it_measured():
    from train.core.noise_2d import FLIP, NoiseModel2D

    rng = np.random.default_rng(1)
    gt, det = _fake_detections(4000, rng)
    model = NoiseModel2D.measure(gt, det)
    clean = rng.uniform(20, 170, (20000, 17, 2))
    noisy = model.sample(clean, np.random.default_rng(2))
    error = np.linalg.norm(noisy - clean, axis=-1)
    flipped = np.linalg.norm(noisy - clean[:, FLIP], axis=-1).mean(1) < error.mean(1) / 3
    assert flipped.mean() == pytest.approx(model.flip_rate, abs=0.01)
    assert (error[~flipped, 2] > 40).mean() == pytest.approx(model.gross_rates[2], abs=0.01)
    assert np.median(error[~flipped][:, [0, 7, 8]]) == pytest.approx(
        3.0 * np.sqrt(np.log(4)), rel=0.15
    )  # Rayleigh median


def test_training_augmentation_uses_the_configured_share(tmp_path):
    from train.core.augment import Augment2D
    from train.core.config import TrainingConfig
    from train.core.noise_2d import NoiseModel2D

    rng = np.random.default_rng(0)
    gt, det = _fake_detections(2000, rng)
    NoiseModel2D.measure(gt, det).save(tmp_path / "noise.json")
    codec = InputCodec()
    clean = rng.uniform(20, 170, (400, 17, 2))
    detected = torch.ones(len(clean), dtype=torch.bool)
    batch = SimpleNamespace(
        joints2d=torch.from_numpy(codec.normalize(clean)),
        joints2d_gt_px=torch.from_numpy(clean.astype(np.float32)),
        detected=detected,
    )
    for share in (0.0, 0.3, 1.0):
        augment = Augment2D(TrainingConfig(noise_model=str(tmp_path / "noise.json"), noise_model_share=share), codec)
        out = augment(batch, np.random.default_rng(3))
        changed = (out - batch.joints2d).abs().amax(dim=(1, 2)) > 1e-6
        assert changed.float().mean().item() == pytest.approx(share, abs=0.07)
    missed = SimpleNamespace(**{**vars(batch), "detected": torch.arange(len(clean)) < 100})  # nobody found in 300 crops
    augment = Augment2D(TrainingConfig(noise_model=str(tmp_path / "noise.json"), noise_model_share=0.0), codec)
    changed = (augment(missed, np.random.default_rng(3)) - batch.joints2d).abs().amax(dim=(1, 2)) > 1e-6
    assert changed[100:].all() and not changed[:100].any()  # share 0, yet every missed crop gets the noise model
    plain = Augment2D(TrainingConfig(), codec)(batch, np.random.default_rng(3))
    assert torch.equal(plain, batch.joints2d)


# ----------------------------------------------------------------------------- evaluation
def test_attention_metrics_on_hand_made_maps():
    """A 4 x 3 token grid of stride 8 (a 32 x 24 crop), one keypoint, answers worked out by hand."""
    stride, grid = 8, (4, 3)
    attention = np.zeros((1, 1, 4, 3))
    attention[0, 0, 1, 1] = 0.75  # most on token (1, 1), whose centre is pixel (11.5, 11.5)
    attention[0, 0, 3, 0] = 0.25
    mask = np.zeros((1, 32, 24))
    mask[0, 8:16, 8:16] = 1  # the person covers token (1, 1) exactly
    mask[0, 24:32, 0:4] = 1  # and half of token (3, 0)
    background = silhouette_background(mask, stride)
    assert background[0, 1, 1] == 0 and background[0, 3, 0] == 0.5 and background[0, 0, 0] == 1
    assert attention_share(attention, background)[0] == pytest.approx(0.25 * 0.5)
    assert background.mean() == pytest.approx(1 - 1.5 / 12)  # what uniform attention would score
    joint = np.array([[[11.5, 11.5]]])
    assert peak_near_joint(attention, joint, stride, radius_px=1.0)[0] == 1.0
    assert peak_near_joint(attention, joint + 5, stride, radius_px=1.0)[0] == 0.0
    assert peak_on_person(attention, background)[0] == 1.0
    circles = circle_background(joint, grid, stride, radius_px=100)
    assert circles.max() == 0  # every pixel within 100 px of the joint: no background at all


def test_missing_detections_are_dropped_for_evaluation_and_kept_for_training(synth_root, tmp_path):
    import shutil

    from lbi.data.format import ANNOTATIONS

    root = tmp_path / "rand"
    shutil.copytree(synth_root / "rand", root)
    data = PreparedData(root)
    detections = data.ann["joints2d_gt"] + 2.0
    train_rows = data.indices("train")
    detections[train_rows[:5]] = np.nan
    np.savez(root / ANNOTATIONS, **{**data.ann, "joints2d_mediapipe": detections.astype(np.float32)})
    evaluation = PoseDataset(root, "train", inputs_2d="mediapipe")
    training = PoseDataset(root, "train", inputs_2d="mediapipe", missing="ground_truth")
    assert len(evaluation) == len(train_rows) - 5 and evaluation.missing_2d == 5 and evaluation.detected.all()
    assert len(training) == len(train_rows) and (~training.detected).sum() == 5
    item = training[0]  # a missed one: the ground truth stands in, flagged
    assert not item["detected"] and torch.allclose(item["joints2d_px"], item["joints2d_gt_px"], atol=1e-3)
    assert training[5]["detected"] and not torch.allclose(
        training[5]["joints2d_px"], training[5]["joints2d_gt_px"], atol=1.0
    )


def test_peer_row_scores_mediapipe_world_landmarks(synth_root, tmp_path):
    import shutil

    from lbi.data.format import ANNOTATIONS
    from train.core.evaluate import PEER, mediapipe_peer, spread, with_peer

    root = tmp_path / "rand"
    shutil.copytree(synth_root / "rand", root)
    data = PreparedData(root)
    ray = InputCodec(frame="ray")  # MediaPipe's 3D is read in the axes of the ray through the person
    truth = 1000.0 * ray.encode_pose(data.ann["joints3d"], data.ann["center"], data.ann["intrinsics"])
    world = 1.2 * truth  # the same pose 20 % larger, root at the origin
    world[0] = np.nan  # one crop where MediaPipe found nobody
    np.savez(root / ANNOTATIONS, **{**data.ann, "joints3d_mediapipe": world.astype(np.float32)})
    ds = PoseDataset(root, "test", ray)
    peer = mediapipe_peer(ds)
    expected = 0.2 * np.linalg.norm(truth[ds.rows], axis=-1).mean()
    assert peer.samples == len(ds) - (0 in ds.rows) and peer.mpjpe == pytest.approx(expected, abs=1e-2)
    assert peer.p_mpjpe == pytest.approx(0.0, abs=1e-3)  # a scaled copy aligns perfectly
    assert set(with_peer({"run": {"t": peer}}, {"t": ds})) == {"run", PEER}

    # --limit: the peer row on the same evenly spread samples as the model's rows (row k: its joints but the root
    # k mm off, so k * 16 / 17 mm MPJPE)
    offsets = np.arange(len(truth))[:, None, None] * np.array([1.0, 0.0, 0.0]) * (np.arange(17) > 0)[:, None]
    np.savez(root / ANNOTATIONS, **{**data.ann, "joints3d_mediapipe": (truth + offsets).astype(np.float32)})
    ds = PoseDataset(root, "test", ray)
    limited, picked = mediapipe_peer(ds, limit=3), ds.rows[spread(len(ds), 3)]
    assert limited.samples == 3 and limited.mpjpe == pytest.approx(picked.mean() * 16 / 17, abs=1e-3)
    assert mediapipe_peer(ds).mpjpe == pytest.approx(ds.rows.mean() * 16 / 17, abs=1e-3)


def test_spread_picks_evenly_and_all_when_unlimited():
    from train.core.evaluate import spread

    assert spread(10, 4).tolist() == [0, 3, 6, 9]
    assert spread(10, 0).tolist() == list(range(10)) and spread(3, 5).tolist() == [0, 1, 2]
    assert len(set(spread(1000, 999))) == 999  # no sample twice


def test_coverage_report_counts_the_rendered_poses(synth_root, tmp_path):
    from train.reports.synth_coverage import main as coverage_main

    coverage_main(["--size", "tiny", "--data", str(synth_root / "rand"), "--out", str(tmp_path / "cov")])
    import json

    report = json.loads((tmp_path / "cov.json").read_text())["coverage"]
    data = PreparedData(synth_root / "rand")
    from collections import Counter

    for split in ("train", "test"):
        rows = data.indices(split)
        first_variant = rows[data.ann["variant"][rows] == 0]
        rendered = Counter(a.split()[0] for a in data.ann["action"][first_variant])
        assert report[split]["families"] == dict(rendered)  # recomputed from the seeds: exactly what was rendered
        assert sum(report[split]["camera_height_m"].values()) == RAND_SIZES["tiny"][split]
    assert "| pose family |" in (tmp_path / "cov.md").read_text()


# ------------------------------------------------------------------- pose-only pairs, cameras
def test_photo_cameras_stay_inside_their_distribution():
    from lbi.data.synth.poses import body_lengths, build_skeleton, sample_pose
    from lbi.data.synth.randomised import PHOTO_CAMERAS, RAND_CAMERAS, camera_pitch_deg, random_camera

    rng = np.random.default_rng(0)
    fovs, heights, pitches = {}, {}, {}
    for name, cameras in (("photo", PHOTO_CAMERAS), ("rand", RAND_CAMERAS)):
        fovs[name], heights[name], pitches[name] = [], [], []
        for _ in range(200):
            joints = build_skeleton(sample_pose(rng), *body_lengths(rng)).joints
            camera = random_camera(rng, joints, cameras=cameras)
            fovs[name].append(np.degrees(2 * np.arctan(camera.size[0] / 2 / camera.K[0, 0])))
            heights[name].append(camera.position[1])
            pitches[name].append(camera_pitch_deg(camera))
    assert min(fovs["photo"]) >= 40 and max(fovs["photo"]) <= 75
    assert PHOTO_CAMERAS.bands[0][0] <= min(heights["photo"]) and max(heights["photo"]) <= PHOTO_CAMERAS.bands[-1][1]
    assert min(fovs["rand"]) < 40 or max(fovs["rand"]) > 75  # rand's lenses reach past the photo range
    # everyday photos look down steeply less often than rand's cameras
    assert np.mean(np.abs(pitches["photo"]) > 30) < np.mean(np.abs(pitches["rand"]) > 30)


def test_pose_only_pairs_are_consistent_rows_without_images(synth_root):
    from lbi.data.synth.generate import PAIR_SIZES, PAIR_SPLITS

    data = PreparedData(synth_root / "pairs")
    assert not data.meta.images and not (synth_root / "pairs" / "crops").exists()
    assert (
        len(data.indices("train")) == PAIR_SIZES["tiny"]["train"]
        and len(data.indices("test")) == PAIR_SIZES["tiny"]["test"]
    )
    assert set(data.indices("mix")) < set(data.indices("train"))
    assert set(data.meta.splits) == set(PAIR_SPLITS)
    ann = data.ann
    fx, fy, cx, cy = ann["intrinsics"].T
    projected = (
        ann["joints3d"][..., :2] / ann["joints3d"][..., 2:] * np.stack([fx, fy], -1)[:, None]
        + np.stack([cx, cy], -1)[:, None]
    )
    assert np.abs(projected - ann["joints2d_gt"]).max() < 0.05  # the 2D joints are the 3D joints' projections
    w, h = ann["image_size"].T
    assert (ann["joints2d_gt"] >= 0).all() and (ann["joints2d_gt"][..., 0] < w[:, None]).all()
    assert (ann["joints2d_gt"][..., 1] < h[:, None]).all()
    ds = PoseDataset(data, "train", InputCodec(frame="ray"), load_images=False)
    item = ds[0]
    assert "image" not in item and "features" not in item and bool(item["detected"])
    assert np.abs(item["joints2d"].numpy()).max() < 1.6  # inside the crop (with its margin)
    with pytest.raises(Exception, match="pose-only"):
        data.image(0)


def test_a_writer_of_pose_only_data_refuses_crops_and_the_other_way_round(tmp_path):
    from lbi.data.format import DatasetError, DatasetMeta, DatasetWriter

    row = annotation_row(subject="P000", camera="photo")
    pose_only = DatasetWriter(tmp_path / "pairs", DatasetMeta("p", (192, 256), {"train": ["P000"]}, images=False))
    pose_only.add(None, **row)
    with pytest.raises(DatasetError, match="takes no crop"):
        pose_only.add(np.zeros((256, 192, 3), np.uint8), **row)
    with_images = DatasetWriter(tmp_path / "crops", DatasetMeta("c", (192, 256), {"train": ["P000"]}))
    with pytest.raises(DatasetError, match="needs a crop"):
        with_images.add(None, **row)
    assert PreparedData(pose_only.close()).meta.images is False
