import cv2
import numpy as np
import pytest
import torch

from lbi.crop.affine import Crop, box_to_center_scale, image_to_tensor, normalize_image, seen_centre
from lbi.geometry.camera import (
    Intrinsics,
    camera_to_world,
    image_coordinates,
    normalize_screen_coordinates,
    project_to_2d,
    world_to_camera,
)
from lbi.geometry.skeleton import (
    BONES,
    H36M_JOINTS,
    H36M_TO_MPI,
    LEFT,
    MEDIAPIPE_TO_H36M,
    MPI_INF_3DHP_JOINTS,
    MPI_TO_H36M,
    PARENTS,
    RIGHT,
    bone_lengths,
    flip_permutation,
    mediapipe_to_h36m,
)


# ------------------------------------------------------------------------------------ skeleton
def test_h36m_skeleton_definition():
    assert len(H36M_JOINTS) == len(PARENTS) == 17 and len(BONES) == 16
    assert all(p < j for j, p in enumerate(PARENTS) if p >= 0)  # parents come first
    for left, right in zip(LEFT, RIGHT):
        assert H36M_JOINTS[left].replace("left", "right") == H36M_JOINTS[right]
    perm = flip_permutation()
    assert [perm[p] for p in perm] == list(range(17))


def test_mpi_maps_are_inverse_and_name_the_same_joints():
    assert sorted(MPI_TO_H36M) == list(range(17))
    assert [MPI_TO_H36M[H36M_TO_MPI[j]] for j in range(17)] == list(range(17))
    same = {
        "pelvis": "pelvis",
        "spine": "spine",
        "thorax": "neck",
        "neck_nose": "head",
        "head": "head_top",
        "right_foot": "right_ankle",
        "left_foot": "left_ankle",
    }
    for j, name in enumerate(H36M_JOINTS):
        assert MPI_INF_3DHP_JOINTS[MPI_TO_H36M[j]] == same.get(name, name)


def test_mediapipe_map_on_a_known_landmark_set():
    assert np.allclose(MEDIAPIPE_TO_H36M.sum(axis=1), 1.0)  # affine: translations carry over
    lm = np.zeros((33, 3))
    lm[23], lm[24] = [1, 0, 0], [-1, 0, 0]  # left / right hip
    lm[11], lm[12] = [2, 4, 0], [-2, 4, 0]  # shoulders
    lm[7], lm[8] = [0.5, 5, 0], [-0.5, 5, 0]  # ears
    lm[0] = [0, 5, 1]  # nose
    lm[25], lm[27] = [1, -4, 0], [1, -8, 0]  # left knee, ankle
    lm[14], lm[16] = [-3, 2, 0], [-3, 0, 0]  # right elbow, wrist
    joints, _ = mediapipe_to_h36m(lm)
    by_name = dict(zip(H36M_JOINTS, joints))
    np.testing.assert_allclose(by_name["pelvis"], [0, 0, 0])
    np.testing.assert_allclose(by_name["thorax"], [0, 4, 0])
    np.testing.assert_allclose(by_name["spine"], [0, 2, 0])
    np.testing.assert_allclose(by_name["head"], [0, 5.5, 0])  # 1.5 * ears - 0.5 * thorax
    np.testing.assert_allclose(by_name["neck_nose"], [0, 5, 1])
    np.testing.assert_allclose(by_name["left_hip"], [1, 0, 0])
    np.testing.assert_allclose(by_name["right_hip"], [-1, 0, 0])
    np.testing.assert_allclose(by_name["left_foot"], [1, -8, 0])
    np.testing.assert_allclose(by_name["right_wrist"], [-3, 0, 0])
    # batched input and visibility: a synthesised joint is as sure as its least sure source
    vis = np.ones(33)
    vis[24] = 0.2
    joints_b, conf = mediapipe_to_h36m(np.stack([lm, lm + 1]), np.stack([vis, vis]))
    np.testing.assert_allclose(joints_b[1], joints + 1)
    assert conf.shape == (2, 17)
    assert conf[0, H36M_JOINTS.index("pelvis")] == pytest.approx(0.2)
    assert conf[0, H36M_JOINTS.index("spine")] == pytest.approx(0.2)
    assert conf[0, H36M_JOINTS.index("left_hip")] == 1.0


def test_bone_lengths():
    joints = np.zeros((17, 3))
    joints[1] = [3, 4, 0]
    assert bone_lengths(joints)[0] == pytest.approx(5.0)


# ------------------------------------------------------------------------------------ camera
def test_screen_normalisation_round_trip_and_values():
    pts = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0]])
    norm = normalize_screen_coordinates(pts, 1000, 1002)
    np.testing.assert_allclose(norm[0], [-1, -1.002])
    np.testing.assert_allclose(norm[2], [0, 0], atol=1e-12)
    np.testing.assert_allclose(image_coordinates(norm, 1000, 1002), pts)


def test_world_camera_round_trip_and_projection():
    rng = np.random.default_rng(0)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    t = np.array([1000.0, -2000.0, 1500.0])
    pts = rng.normal(0, 500, (5, 17, 3))
    np.testing.assert_allclose(camera_to_world(world_to_camera(pts, q, t), q, t), pts, atol=1e-9)
    # rigid: distances are kept
    cam = world_to_camera(pts, q, t)
    np.testing.assert_allclose(
        np.linalg.norm(cam[:, 1] - cam[:, 0], axis=-1), np.linalg.norm(pts[:, 1] - pts[:, 0], axis=-1)
    )
    k = Intrinsics(1145.0, 1144.0, 512.0, 515.0)
    np.testing.assert_allclose(project_to_2d(np.array([0.0, 0.0, 5000.0]), k), [512.0, 515.0])
    np.testing.assert_allclose(project_to_2d(np.array([1000.0, -500.0, 5000.0]), k), [512 + 229.0, 515 - 114.4])
    distorted = Intrinsics(1145.0, 1144.0, 512.0, 515.0, radial=(-0.2, 0.2, 0.0), tangential=(0.001, -0.001))
    off_axis = np.array([1000.0, -500.0, 5000.0])
    assert not np.allclose(project_to_2d(off_axis, distorted), project_to_2d(off_axis, k))
    np.testing.assert_allclose(project_to_2d(np.array([0.0, 0.0, 5000.0]), distorted), [512.0, 515.0])


# ------------------------------------------------------------------------------------ crop
def test_box_is_padded_to_the_crop_aspect():
    center, scale = box_to_center_scale((100, 50, 100, 100), aspect_ratio=192 / 256)
    np.testing.assert_allclose(center, [150, 100])
    assert scale[0] / scale[1] == pytest.approx(0.75)
    np.testing.assert_allclose(scale * 200, [100 * 1.25, 100 / 0.75 * 1.25])
    with pytest.raises(ValueError):
        box_to_center_scale((0, 0, 0, 10), 0.75)


def test_seen_centre_is_the_middle_of_the_box_inside_the_photo():
    """A box in the photo keeps its centre; one reaching past the bottom (a portrait's guessed legs) is cut."""
    np.testing.assert_allclose(seen_centre((100, 50, 100, 300), (400, 300)), [150, 200])
    np.testing.assert_allclose(seen_centre((100, 50, 100, 900), (400, 300, 3)), [150, 225])  # rows 50..400
    np.testing.assert_allclose(seen_centre((-60, -20, 100, 100), (400, 300)), [20, 40])
    np.testing.assert_allclose(seen_centre((500, 500, 10, 10), (400, 300)), [505, 505])  # none inside: its centre


@pytest.mark.parametrize("rotation", [0.0, 30.0])
def test_crop_maps_points_both_ways_and_warp_agrees(rotation):
    crop = Crop.from_box((300, 120, 160, 300), size=(192, 256))
    crop = Crop(crop.center, crop.scale, crop.size, rotation)
    np.testing.assert_allclose(crop.to_crop(crop.center), [96, 128], atol=1e-4)
    pts = np.array([[310.0, 150.0], [420.5, 390.25]])
    np.testing.assert_allclose(crop.to_image(crop.to_crop(pts)), pts, atol=1e-3)
    image = np.zeros((600, 800, 3), np.uint8)
    cv2.circle(image, (400, 300), 6, (255, 255, 255), -1)
    warped = crop.warp(image)
    assert warped.shape == (256, 192, 3)
    ys, xs = np.nonzero(warped[..., 0] > 128)
    np.testing.assert_allclose([xs.mean(), ys.mean()], crop.to_crop(np.array([400.0, 300.0])), atol=0.6)


def test_image_to_tensor_and_normalisation():
    img = np.full((4, 6, 3), 255, np.uint8)
    tensor = image_to_tensor(img)
    assert tensor.shape == (1, 3, 4, 6) and torch.all(tensor == 1.0)
    norm = normalize_image(tensor)
    torch.testing.assert_close(
        norm[0, :, 0, 0], torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225])
    )
    with pytest.raises(ValueError, match="uint8"):
        image_to_tensor(img.astype(np.float32))


# ------------------------------------------------------------------------------------ input codec
def test_codec_encodes_photos_and_datasets_alike():
    """The codec's one-image path and its batched dataset path give the same normalised 2D."""
    from lbi.crop.codec import InputCodec

    codec = InputCodec((96, 128))
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    joints = rng.uniform([120, 60], [220, 260], (17, 2))
    inputs = codec.encode(rgb, (120, 60, 100, 200), joints)
    assert inputs.image.shape == (3, 128, 96) and inputs.joints2d.dtype == torch.float32
    px, norm = codec.encode_joints(joints[None], inputs.crop.to_crop_matrix[None])
    np.testing.assert_allclose(norm[0], inputs.joints2d.numpy(), atol=1e-6)
    np.testing.assert_allclose(px[0], inputs.joints_crop_px, atol=1e-4)
    # the crop's centre is the origin of x; its top edge is y = -h / w
    np.testing.assert_allclose(codec.normalize(np.array([[48.0, 0.0]])), [[0.0, -128 / 96]], atol=1e-6)
    assert codec.pixels(48) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="holds 192x256 .* but the model reads 96x128"):
        codec.check_dataset((192, 256), "data/x")


def test_crop_size_travels_with_the_model(tmp_path):
    """A model trained on other crops says so in its weights header, and its codec reads it."""
    from lbi.crop.codec import InputCodec
    from lbi.io.weights import load_model, read_header, save_model
    from lbi.model import LiftingByImage, LiftingConfig, MartinezConfig, MartinezMLP

    model = LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4, crop_size=(96, 128)))
    path = save_model(model, tmp_path / "m.safetensors")
    assert read_header(path)["config"]["crop_size"] == [96, 128]
    assert InputCodec.for_model(load_model(path)).crop_size == (96, 128)
    assert InputCodec.for_model(MartinezMLP(MartinezConfig(hidden=32))).crop_size == (192, 256)
    with pytest.raises(ValueError, match="crop size must be positive"):
        LiftingConfig(crop_size=(0, 256))


def test_ray_frame_sees_an_off_centre_person_as_a_centred_one():
    """The virtual camera through the crop centre: the root lies on its z axis, lengths are kept,
    and decoding a prediction returns it to camera axes."""
    from lbi.crop.codec import InputCodec
    from lbi.geometry.camera import ray_rotation

    rng = np.random.default_rng(0)
    intrinsics = np.array([900.0, 900.0, 640.0, 360.0])
    joints = rng.normal(0, 300, (1, 17, 3)) + np.array([1800.0, -600.0, 4000.0])  # far right, up, mm
    root_px = project_to_2d(joints[0, 0], Intrinsics(*intrinsics))
    rotation = ray_rotation(root_px, intrinsics)
    np.testing.assert_allclose(rotation @ joints[0, 0], [0, 0, np.linalg.norm(joints[0, 0])], atol=1e-6)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    codec = InputCodec(frame="ray")
    target = codec.encode_pose(joints, root_px[None], intrinsics[None])
    np.testing.assert_allclose(
        np.linalg.norm(target, axis=-1), np.linalg.norm(joints - joints[:, :1], axis=-1) / 1000, rtol=1e-5
    )  # a rotation: joint distances from the root are kept
    back = codec.decode_pose(target[0] * 1000, root_px, intrinsics)
    np.testing.assert_allclose(back, joints[0] - joints[0, :1], atol=0.05)
    camera = InputCodec(frame="camera")
    np.testing.assert_allclose(
        camera.encode_pose(joints, root_px[None], intrinsics[None]), (joints - joints[:, :1]) / 1000, atol=1e-6
    )
    with pytest.raises(ValueError, match="frame must be one of"):
        InputCodec(frame="world")
