"""Left-right mirroring: the geometry, flip augmentation in training and the flip test."""

import numpy as np
import pytest
import torch

from lbi.crop.codec import InputCodec
from lbi.data.dataset import Batch
from lbi.geometry.skeleton import LEFT, RIGHT, flip_permutation
from lbi.model.flip import flip_test, mirror_joints, mirror_joints2d
from train import CONFIGS
from train.core.augment import mirror_batch


def test_mirroring_swaps_sides_negates_x_and_undoes_itself():
    joints = torch.randn(4, 17, 3)
    before = joints.clone()
    mirrored = mirror_joints(joints)
    for left, right in zip(LEFT, RIGHT):
        assert torch.equal(mirrored[:, left, 0], -joints[:, right, 0])
        assert torch.equal(mirrored[:, left, 1:], joints[:, right, 1:])
    assert torch.equal(mirrored[:, 0, 0], -joints[:, 0, 0])  # the pelvis stays itself
    assert torch.equal(mirror_joints(mirrored), joints)
    assert torch.equal(joints, before)  # the input is not changed in place


def test_mirrored_2d_joints_are_where_the_flipped_crop_shows_them(synth_root):
    """Draw each joint as a dot in a crop, flip the crop with NumPy: the dots are where
    mirror_joints2d puts the (side-swapped) joints."""
    from lbi.data.format import PreparedData

    codec = InputCodec()
    data = PreparedData(synth_root / "rand")
    w, h = codec.crop_size
    to_crop = data.to_crop_matrices()[:3]
    px, normalised = codec.encode_joints(data.ann["joints2d_gt"][:3], to_crop)
    mirrored = mirror_joints2d(torch.from_numpy(normalised), codec).numpy()
    perm = flip_permutation()
    for sample in range(3):
        inside = [j for j in range(17) if 0 <= round(px[sample, j, 0]) < w and 0 <= round(px[sample, j, 1]) < h]
        assert inside
        image = np.zeros((h, w), dtype=np.int64)
        for j in inside:
            image[round(px[sample, j, 1]), round(px[sample, j, 0])] = j + 1
        flipped = image[:, ::-1]
        for j in inside:
            u = (mirrored[sample, perm[j], 0] + 1) * w / 2  # back to crop pixels
            v = (mirrored[sample, perm[j], 1] + h / w) * w / 2
            assert flipped[round(v), round(u)] == j + 1


def _batch(**fields) -> Batch:
    joints = torch.randn(4, 17, 2)
    return Batch(
        joints2d=joints,
        joints2d_px=joints,
        joints2d_gt_px=joints,
        target=torch.randn(4, 17, 3),
        index=torch.arange(4),
        detected=torch.ones(4, dtype=torch.bool),
        **fields,
    )


def test_flip_augmentation_mirrors_the_chosen_samples_only():
    batch = _batch(features=torch.randn(4, 8, 4, 3), features_mirrored=torch.randn(4, 8, 4, 3))
    which = torch.tensor([True, False, True, False])
    out = mirror_batch(batch, which, InputCodec())
    for k in range(4):
        if which[k]:
            assert torch.allclose(out.target[k], mirror_joints(batch.target[k]))
            assert torch.allclose(out.joints2d[k], mirror_joints2d(batch.joints2d[k], InputCodec()))
            assert torch.equal(out.features[k], batch.features_mirrored[k])
        else:
            for key in ("joints2d", "target", "features"):
                assert torch.equal(getattr(out, key)[k], getattr(batch, key)[k])
    images = _batch(image=torch.rand(4, 3, 8, 6))
    flipped = mirror_batch(images, which, InputCodec((6, 8))).image
    assert torch.equal(flipped[0], images.image[0].flip(-1)) and torch.equal(flipped[1], images.image[1])
    pose_only = mirror_batch(_batch(), which, InputCodec())  # the image absent: joints and target only
    assert pose_only.image is None and pose_only.features is None and pose_only.joints2d.shape == (4, 17, 2)
    with pytest.raises(ValueError, match="mirrored"):
        mirror_batch(_batch(features=batch.features), which, InputCodec())


@pytest.mark.slow
def test_flip_test_averages_the_pose_with_the_mirrored_pass(small_model):
    images, joints2d = torch.rand(2, 3, 256, 192), torch.rand(2, 17, 2) - 0.5
    with torch.no_grad():
        plain = small_model(images, joints2d)
        mirrored = small_model(images.flip(-1), mirror_joints2d(joints2d, InputCodec()))
        out = flip_test(small_model, images, joints2d)
        features = small_model.encoder(images)
        cached = flip_test(small_model, None, joints2d, features, small_model.encoder(images.flip(-1)))
    expected = (plain.refined + mirror_joints(mirrored.refined)) / 2
    assert torch.allclose(out.refined, expected, atol=1e-5)
    assert torch.allclose(out.coarse, (plain.coarse + mirror_joints(mirrored.coarse)) / 2, atol=1e-5)
    assert torch.allclose(cached.refined, out.refined, atol=1e-4)
    assert torch.equal(out.kept_indices, plain.kept_indices)  # the shown attention is the unflipped pass's
    assert not torch.allclose(out.refined, plain.refined)
    with pytest.raises(ValueError, match="mirrored"):
        flip_test(small_model, None, joints2d, features)


def test_training_with_flip_augmentation_on_cached_features(synth_root, tmp_path):
    """training.flip builds and reads the mirrored crops' feature cache; evaluation can flip-test."""
    import shutil

    from train.core.config import load_config
    from train.core.engine import build_datasets, build_experiment_model, fit
    from train.core.evaluate import evaluate
    from train.core.features import model_dataset

    root = tmp_path / "lab"
    shutil.copytree(synth_root / "lab", root, ignore=shutil.ignore_patterns("features"))
    cfg = load_config(
        str(CONFIGS / "synth/lbi_stage1.yaml"),
        [
            f"data.train={root}:train",
            f"data.eval={{lab-test: {root}:test}}",
            "training.epochs=1",
            "training.batch_size=8",
            f"training.out={tmp_path / 'run'}",
            "training.flip=0.5",
            "model.encoder=small_cnn",
            "model.dim=32",
            "model.heads=4",
        ],
    )
    train_set, _ = build_datasets(cfg, build_experiment_model(cfg), rank=0)
    assert "features_mirrored" in train_set[0]
    assert len(list((root / "features").glob("*-mirrored.npy"))) == 1
    results = fit(cfg)
    assert np.isfinite(results["lab-test"].mpjpe)
    from lbi.io.weights import load_model

    model = load_model(tmp_path / "run" / "model.safetensors")
    plain = model_dataset(model, root, "test", cache="build")
    both = model_dataset(model, root, "test", cache="build", mirrored=True)
    a, b = evaluate(model, plain), evaluate(model, both, flip=True)
    assert a.samples == b.samples and a.mpjpe != b.mpjpe
    with pytest.raises(Exception, match="training.flip"):
        load_config(str(CONFIGS / "synth/lbi_stage1.yaml"), ["training.flip=1.5"])
