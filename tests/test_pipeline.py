"""The photo -> 3D pipeline on the bundled weights and the shipped example images, and its CLI."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from lbi.cli import main as cli
from lbi.geometry.metrics import mpjpe
from lbi.geometry.skeleton import BONES, H36M_JOINTS, LEFT, RIGHT, bone_lengths
from lbi.io.images import read_image
from lbi.io.weights import BUNDLED_WEIGHTS, read_header
from lbi.pipeline.estimator import Estimator, NoPersonFound

ASSETS = Path(__file__).resolve().parents[1] / "assets"
PHOTOS = sorted(p.name for p in ASSETS.glob("*.jpg"))
RENDERS = ("lbi_synth_lab.jpg", "lbi_synth_wild.jpg")
J = H36M_JOINTS.index


@pytest.fixture(scope="module")
def estimator() -> Estimator:
    return Estimator(device="cpu")


@pytest.fixture(scope="module")
def estimates(estimator) -> dict:
    return {name: estimator.predict(read_image(ASSETS / name)) for name in PHOTOS}


def test_bundled_weights_are_small_safetensors():
    header = read_header(BUNDLED_WEIGHTS)
    assert BUNDLED_WEIGHTS.stat().st_size <= 50 * 2**20
    assert header["arch"] == "lbi" and header["config"]["encoder"].startswith("blazepose")
    assert header["encoder_weights"] == "package"  # the frozen trunk is re-read from the mediapipe wheel


PORTRAITS = ("astronaut.jpg", "grace_hopper.jpg")


@pytest.mark.slow
@pytest.mark.parametrize("name", PHOTOS)
def test_person_found_with_a_human_skeleton(estimates, name):
    """Human proportions everywhere, portraits included (their forearms were 115-160 mm before the
    upper split); a standing height only where the photo shows the feet."""
    est = estimates[name]
    for pose in (est.pose.joints3d_mm, est.pose.coarse3d_mm):
        bones = dict(zip([c for c, _ in BONES], bone_lengths(pose)))
        for left, right in zip(LEFT, RIGHT):  # left and right limbs about equally long; the ~110 mm
            # pelvis-hip bones within 60 mm of each other (what a ~25 mm error of one hip joint gives)
            ratio, difference = bones[left] / bones[right], abs(bones[left] - bones[right])
            assert 0.6 < ratio < 1.67 or difference < 60, (name, H36M_JOINTS[left])
        thigh, shin = bones[J("left_knee")] + bones[J("right_knee")], bones[J("left_foot")] + bones[J("right_foot")]
        upper_arm, forearm = (
            bones[J("left_elbow")] + bones[J("right_elbow")],
            bones[J("left_wrist")] + bones[J("right_wrist")],
        )
        assert 0.6 < thigh / shin < 1.67 and 0.6 < upper_arm / forearm < 1.67
        height = pose[J("head"), 1] - (pose[J("left_foot"), 1] + pose[J("right_foot"), 1]) / 2  # y points down
        if not any(
            "foot" in note for note in est.diagnostics.notes
        ):  # a portrait's legs are a guess: standing or seated
            assert -2100 < height < -1100, name


@pytest.mark.parametrize("name", PORTRAITS)
def test_portraits_have_a_human_upper_body(estimates, name):
    """What MediaPipe sees in a portrait (shoulders, elbows, head) keeps human proportions."""
    est = estimates[name]
    for pose in (est.pose.joints3d_mm, est.pose.coarse3d_mm):
        bones = dict(zip([c for c, _ in BONES], bone_lengths(pose)))
        shoulders = bones[J("left_shoulder")] + bones[J("right_shoulder")]
        assert 0.6 < bones[J("left_shoulder")] / bones[J("right_shoulder")] < 1.67, name
        assert 0.6 < bones[J("left_elbow")] / bones[J("right_elbow")] < 1.67, name
        assert 180 < shoulders < 450 and 180 < bones[J("left_elbow")] < 380, name  # adult shoulders, upper arms
        assert 150 < bones[J("thorax")] + bones[J("spine")] < 650, name


@pytest.mark.parametrize("name", PHOTOS)
def test_upright_people_come_out_upright(estimates, name):
    """Everyone in the examples stands or sits upright before a level camera: the spine (pelvis -> thorax) is
    within 25 degrees of the image's up direction. A portrait's crop centre lies below the photo; turning the
    pose back from the ray through it (47 degrees down on Grace Hopper) had her spine leaning back 33 degrees."""
    est = estimates[name]
    spine = est.pose.joints3d_mm[J("thorax")] - est.pose.joints3d_mm[J("pelvis")]
    assert np.degrees(np.arccos(-spine[1] / np.linalg.norm(spine))) < 25, name
    h, w = read_image(ASSETS / name).shape[:2]
    x, y = est.pose.ray_through_px
    assert 0 <= x <= w and 0 <= y <= h
    if name in RENDERS:  # the whole person in the photo: the ray through the crop centre
        np.testing.assert_allclose(est.pose.ray_through_px, est.pose.crop.center)


def test_joints_outside_the_photo_are_noted(estimates):
    """Grace Hopper's portrait ends at the chest: her legs are MediaPipe's guess, and the note says so."""
    est = estimates["grace_hopper.jpg"]
    note = next(n for n in est.diagnostics.notes if n.startswith("outside the photo"))
    h, w = read_image(ASSETS / "grace_hopper.jpg").shape[:2]
    for joint in ("left_knee", "right_foot"):
        x, y = est.pose.joints2d_px[J(joint)]
        assert not (0 <= x < w and 0 <= y < h) and joint.replace("_", " ") in note
    assert "head" not in note.split(": ")[1].split(", ")
    assert not any(n.startswith("outside the photo") for n in estimates["lbi_synth_wild.jpg"].diagnostics.notes)


@pytest.mark.parametrize("name", PHOTOS)
def test_left_and_right_agree_with_the_2d_pose(estimates, name):
    """Where the 2D pose separates a left/right pair clearly, the 3D pose orders it the same way
    along the camera's x axis (the same axis as image x)."""
    est = estimates[name]
    torso = np.linalg.norm(est.pose.joints2d_px[J("thorax")] - est.pose.joints2d_px[J("pelvis")])
    checked = 0
    for left, right in (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")):
        dx_2d = est.pose.joints2d_px[J(left), 0] - est.pose.joints2d_px[J(right), 0]
        if abs(dx_2d) < 0.25 * torso or min(est.pose.confidence[J(left)], est.pose.confidence[J(right)]) < 0.5:
            continue
        checked += 1
        assert np.sign(est.pose.joints3d_mm[J(left), 0] - est.pose.joints3d_mm[J(right), 0]) == np.sign(dx_2d), (
            name,
            left,
        )
    assert checked, f"{name}: no clearly separated left/right pair to check"


@pytest.mark.parametrize("name", RENDERS)
def test_renders_close_to_their_ground_truth(estimates, name):
    truth = json.loads((ASSETS / "lbi_synth_examples.json").read_text())[name.removesuffix(".jpg")]
    gt = np.array(truth["joints3d_mm"])
    gt -= gt[:1]
    error = float(mpjpe(estimates[name].pose.joints3d_mm[None], gt[None])[0])
    assert error < 150.0, f"{name}: MPJPE {error:.1f} mm"


def test_several_people_pick_the_largest(estimator):
    small = cv2.resize(read_image(ASSETS / "lbi_synth_lab.jpg"), None, fx=0.85, fy=0.85)
    big = read_image(ASSETS / "lbi_synth_wild.jpg")
    canvas = np.full((big.shape[0], small.shape[1] + big.shape[1], 3), 255, np.uint8)
    canvas[-small.shape[0] :, : small.shape[1]] = small
    canvas[:, small.shape[1] :] = big
    est = estimator.predict(canvas)
    assert est.diagnostics.people_found == 2 and "2 people found" in est.diagnostics.notes[0]
    assert est.pose.joints2d_px[J("head"), 0] > small.shape[1]  # the larger person, on the right


def test_no_person(estimator):
    with pytest.raises(NoPersonFound, match="no person"):
        estimator.predict(np.full((480, 640, 3), 128, np.uint8))


@pytest.mark.slow
def test_cli_predict_writes_json(tmp_path, capsys):
    (tmp_path / "notes.jpg").write_text("not a photo")
    out = tmp_path / "out.json"
    code = cli(
        [
            "predict",
            str(ASSETS / "astronaut.jpg"),
            str(tmp_path / "notes.jpg"),
            "--json",
            str(out),
            "--retention",
            "0.5",
        ]
    )
    assert code == 1  # one of the two files failed
    results = json.loads(out.read_text())["results"]
    ok, bad = results[0]["people"][0], results[1]
    assert ok["joint_names"] == list(H36M_JOINTS) and np.array(ok["joints3d_mm"]).shape == (17, 3)
    assert np.array(ok["coarse3d_mm"]).shape == (17, 3) and np.array(ok["joints2d_px"]).shape == (17, 2)
    assert ok["retention"] == 0.5 and ok["kept_tokens"] == int(np.ceil(0.5 * ok["total_tokens"]))
    assert 0 <= ok["background_attention"] <= 1 and {"detector", "encoder", "stage1", "stage2"} <= set(ok["timings_ms"])
    assert "not an image" in bad["error"] and "not an image" in capsys.readouterr().err
    assert ok["flip_test"] is True  # on by default
    assert (
        cli(["predict", str(ASSETS / "astronaut.jpg"), "--json", str(out), "--retention", "0.5", "--no-flip-test"]) == 0
    )
    alone = json.loads(out.read_text())["results"][0]["people"][0]
    assert alone["flip_test"] is False and not np.allclose(alone["joints3d_mm"], ok["joints3d_mm"], atol=1.0)


@pytest.mark.slow
def test_cli_fusion_flag(tmp_path, capsys):
    """--fusion picks how MediaPipe's 3D joins; the JSON says which produced the poses; one the weights cannot run
    gets a one-line error."""
    photo, out = str(ASSETS / "astronaut.jpg"), tmp_path / "out.json"
    poses = {}
    for fusion in ("ensemble", "plain", "none"):
        assert cli(["predict", photo, "--json", str(out), "--fusion", fusion, "--no-onnx"]) == 0
        payload = json.loads(out.read_text())
        (person,) = payload["results"][0]["people"]
        assert payload["fusion"] == person["fusion"] == fusion
        poses[fusion] = np.array(person["joints3d_mm"])
    assert not np.allclose(poses["ensemble"], poses["plain"], atol=1.0)
    assert not np.allclose(poses["plain"], poses["none"], atol=1.0)
    assert cli(["predict", photo, "--json", str(out), "--fusion", "learned"]) == 2
    assert "needs weights that read MediaPipe's 3D" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_predict_with_bad_weights(tmp_path, capsys):
    (tmp_path / "w.safetensors").write_bytes(b"\x00" * 64)
    code = cli(
        [
            "predict",
            str(ASSETS / "astronaut.jpg"),
            "--json",
            str(tmp_path / "o.json"),
            "--weights",
            str(tmp_path / "w.safetensors"),
        ]
    )
    assert code == 2 and "not a readable safetensors file" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()
    code = cli(
        ["predict", str(ASSETS / "astronaut.jpg"), "--json", "-", "--weights", str(tmp_path / "none.safetensors")]
    )
    assert code == 2 and "weights file not found" in capsys.readouterr().err
    # a real model file whose config does not match its tensors (e.g. edited or from another version)
    from safetensors.torch import load_file, save_file

    header = read_header(BUNDLED_WEIGHTS)
    header["config"]["dim"] = 96
    save_file(
        load_file(str(BUNDLED_WEIGHTS)), str(tmp_path / "other.safetensors"), metadata={"lbi": json.dumps(header)}
    )
    code = cli(
        ["predict", str(ASSETS / "astronaut.jpg"), "--json", "-", "--weights", str(tmp_path / "other.safetensors")]
    )
    assert code == 2 and "wrong shape" in capsys.readouterr().err
