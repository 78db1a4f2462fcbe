import json

import pytest
import torch
from safetensors.torch import save_file

from lbi.io.weights import WeightsError, load_model, read_header, save_model
from lbi.model import LiftingByImage, LiftingConfig, MartinezMLP


def test_round_trip_reproduces_outputs_exactly(tmp_path, small_model):
    images, joints2d = torch.rand(2, 3, 64, 48), torch.randn(2, 17, 2)
    path = save_model(small_model, tmp_path / "model.safetensors", extra={"note": "test"})
    loaded = load_model(path)
    assert loaded.config == small_model.config
    assert read_header(path)["extra"] == {"note": "test"}
    with torch.no_grad():
        a, b = small_model(images, joints2d, retention=0.5), loaded(images, joints2d, retention=0.5)
    assert torch.equal(a.refined, b.refined) and torch.equal(a.coarse, b.coarse)
    assert torch.equal(a.kept_indices, b.kept_indices)


def test_baseline_round_trip(tmp_path):
    model = MartinezMLP().eval()
    loaded = load_model(save_model(model, tmp_path / "mlp.safetensors"))
    x = torch.randn(3, 17, 2)
    assert isinstance(loaded, MartinezMLP)
    assert torch.equal(model(None, x).refined, loaded(None, x).refined)


@pytest.mark.slow
def test_frozen_blazepose_encoder_is_read_from_the_package_not_the_file(tmp_path):
    model = LiftingByImage(LiftingConfig(encoder="blazepose_s8", dim=32, heads=4)).eval()
    full = save_model(model, tmp_path / "full.safetensors", include_encoder=True)
    slim = save_model(model, tmp_path / "slim.safetensors")  # auto: the encoder is as shipped
    assert slim.stat().st_size < full.stat().st_size / 10
    assert read_header(slim)["encoder_weights"] == "package"
    images, joints2d = torch.rand(1, 3, 256, 192), torch.randn(1, 17, 2)
    with torch.no_grad():
        assert torch.equal(model(images, joints2d).refined, load_model(slim)(images, joints2d).refined)
        next(model.encoder.parameters()).add_(0.01)  # a fine-tuned encoder must be saved
    tuned = save_model(model, tmp_path / "tuned.safetensors")
    assert read_header(tuned)["encoder_weights"] == "included"
    with torch.no_grad():
        assert torch.equal(model(images, joints2d).refined, load_model(tuned)(images, joints2d).refined)
    with pytest.raises(ValueError, match="only a BlazePose encoder"):
        save_model(
            LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4)),
            tmp_path / "x.safetensors",
            include_encoder=False,
        )


def test_wrong_shape_file_gets_a_message_naming_the_tensor(tmp_path, small_model):
    path = save_model(small_model, tmp_path / "model.safetensors")
    bigger = LiftingByImage(LiftingConfig(encoder="small_cnn", dim=128, heads=4, mlp_ratio=2.0))
    header = read_header(path)
    state = {k: v.contiguous() for k, v in bigger.state_dict().items()}
    save_file(state, str(tmp_path / "lying.safetensors"), metadata={"lbi": json.dumps(header)})
    with pytest.raises(WeightsError, match=r"wrong shape: .*\(file \(.*128.*\), model \(.*64.*\)\)"):
        load_model(tmp_path / "lying.safetensors")


def test_unreadable_files_are_reported(tmp_path, small_model):
    with pytest.raises(WeightsError, match="not found"):
        load_model(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        load_model(tmp_path / "junk.safetensors")
    path = save_model(small_model, tmp_path / "model.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeightsError):
        load_model(truncated)
    save_file({"x": torch.zeros(1)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(WeightsError, match="no 'lbi' metadata"):
        load_model(tmp_path / "foreign.safetensors")


def test_failed_save_keeps_the_previous_file(tmp_path, small_model, monkeypatch):
    path = save_model(small_model, tmp_path / "model.safetensors")
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("lbi.io.weights.save_file", explode)
    with pytest.raises(OSError, match="disk full"):
        save_model(MartinezMLP(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary left behind


@pytest.mark.slow
def test_files_record_and_check_the_encoders_source(tmp_path, monkeypatch):
    """A BlazePose model file records the SHA-256 of the graph its encoder reads from the mediapipe wheel; loading
    it beside another graph says which mediapipe to install."""
    import lbi.io.weights as weights
    from lbi.encoders.blazepose import LANDMARK_MODEL_SHA256, MEDIAPIPE_VERSION

    model = LiftingByImage(LiftingConfig(encoder="blazepose_s8", dim=32, heads=4))
    path = save_model(model, tmp_path / "blazepose.safetensors")
    header = read_header(path)
    assert header["encoder_weights"] == "package"
    assert header["encoder_source"]["sha256"] == LANDMARK_MODEL_SHA256
    assert header["encoder_source"]["mediapipe"] == MEDIAPIPE_VERSION
    load_model(path)  # the installed graph is the recorded one
    monkeypatch.setattr(weights, "landmark_model_sha256", lambda: "0" * 64)
    with pytest.raises(WeightsError, match=f"pip install mediapipe=={MEDIAPIPE_VERSION}"):
        load_model(path)
    assert read_header(save_model(MartinezMLP(), tmp_path / "mlp.safetensors"))["encoder_source"] is None
    load_model(tmp_path / "mlp.safetensors")  # no encoder, nothing to check


def test_another_mediapipe_is_refused_with_what_to_install(monkeypatch):
    import importlib.metadata

    from lbi.encoders.blazepose import MEDIAPIPE_VERSION, check_mediapipe

    check_mediapipe()  # the installed one
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.10.35")
    with pytest.raises(ImportError, match=rf"mediapipe=={MEDIAPIPE_VERSION} \(installed: 0\.10\.35\)"):
        check_mediapipe()
