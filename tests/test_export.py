"""The lifter as ONNX: the graph agrees with PyTorch, runs any batch size, and the estimator uses it where nothing
is refined."""

import numpy as np
import pytest
import torch

from lbi.cli import main as cli
from lbi.io.weights import default_weights, load_model
from lbi.pipeline.export import ExportedLifter

ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "lbi_r05.onnx"
    assert cli(["export", "--onnx", str(path), "--retention", "0.5"]) == 0
    return path


def test_onnx_agrees_with_pytorch(exported):
    model = load_model(default_weights()).float().eval()
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    torch.manual_seed(0)
    for batch in (1, 3):  # the batch size is free
        crops, joints = torch.rand(batch, 3, 256, 192), torch.rand(batch, 17, 2) * 2 - 1
        with torch.inference_mode():
            expected = [t.numpy() for t in ExportedLifter(model, 0.5)(crops, joints)]
        got = session.run(None, {"crops": crops.numpy(), "joints2d": joints.numpy()})
        for name, a, b in zip(("coarse", "refined", "kept", "attention"), expected, got):
            assert a.shape == b.shape, name
            np.testing.assert_allclose(b, a, atol=1e-4, err_msg=name)
        assert got[2].shape[1] == int(np.ceil(0.5 * 768))  # the rate the file was exported at


def test_estimator_lifts_with_onnxruntime_where_nothing_is_refined(tmp_path, monkeypatch):
    from lbi.io.images import read_image
    from lbi.pipeline.estimator import Estimator

    monkeypatch.setenv("LBI_CACHE", str(tmp_path))
    fast = Estimator(device="cpu", onnx=True)
    assert fast.onnx is not None and fast.onnx.path.parent == tmp_path and fast.onnx.path.is_file()
    photo = read_image(default_weights().parents[1] / "example_assets" / "lbi_synth_lab.jpg")
    quick = fast.predict(photo, refinable=False)
    usual = fast.predict(photo)  # refinable: PyTorch, with the stage-1 cache
    assert "lifter (onnxruntime)" in quick.diagnostics.timings_ms and "encoder" in usual.diagnostics.timings_ms
    np.testing.assert_allclose(quick.pose.joints3d_mm, usual.pose.joints3d_mm, atol=0.05)
    np.testing.assert_allclose(quick.diagnostics.attention, usual.diagnostics.attention, atol=1e-4)
    np.testing.assert_array_equal(quick.diagnostics.kept_mask, usual.diagnostics.kept_mask)
    with pytest.raises(ValueError, match="refinable=True"):
        fast.refine(quick, 1.0)
    assert Estimator(device="cpu", onnx=True).onnx.path == fast.onnx.path  # exported once, then reused


def test_an_unwritable_cache_falls_back_to_pytorch(tmp_path, monkeypatch):
    from lbi.pipeline.estimator import Estimator

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("LBI_CACHE", str(tmp_path / "file"))
    with pytest.warns(UserWarning, match="onnxruntime not used"):
        estimator = Estimator(device="cpu", onnx=True)
    assert estimator.onnx is None


def test_onnx_of_a_model_that_reads_a_prior(tmp_path):
    """The learned fusion's graph takes MediaPipe's 3D as a third input, NaN where absent (a whole person or a
    joint), and agrees with PyTorch; the estimator's onnxruntime path feeds it."""
    from lbi.model import LiftingByImage, LiftingConfig
    from lbi.pipeline.export import export_onnx
    from lbi.pipeline.onnx_lifter import OnnxLifter

    bundled = load_model(default_weights())
    model = LiftingByImage(LiftingConfig(**{**bundled.config.to_dict(), "prior": True}))
    model.load_state_dict(bundled.state_dict(), strict=False)
    torch.manual_seed(0)
    for parameter in model.prior_embed.parameters():
        torch.nn.init.normal_(parameter, std=0.3)  # out of the zero start, so the prior shows in the output
    model.eval()
    path = export_onnx(model, tmp_path / "fused.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["crops", "joints2d", "prior"]
    crops, joints = torch.rand(3, 3, 256, 192), torch.rand(3, 17, 2) * 2 - 1
    prior = torch.randn(3, 17, 3) * 0.3
    prior[1] = float("nan")  # absent
    prior[2, [3, 6]] = float("nan")  # both feet withheld
    with torch.inference_mode():
        expected = [t.numpy() for t in ExportedLifter(model)(crops, joints, prior)]
        alone = ExportedLifter(model)(crops, joints, torch.full_like(prior, float("nan")))[1].numpy()
    got = session.run(None, {"crops": crops.numpy(), "joints2d": joints.numpy(), "prior": prior.numpy()})
    for name, a, b in zip(("coarse", "refined", "kept", "attention"), expected, got):
        np.testing.assert_allclose(b, a, atol=1e-4, err_msg=name)
    assert np.abs(got[1][0] - alone[0]).max() > 1e-3 and np.allclose(got[1][1], alone[1], atol=1e-4)
    lifted = OnnxLifter(model, folder=tmp_path)(crops, joints, prior)
    np.testing.assert_allclose(lifted.refined.numpy(), expected[1], atol=1e-4)


def test_export_leaves_the_callers_model_as_it_was(tmp_path):
    from lbi.model import LiftingByImage, LiftingConfig
    from lbi.pipeline.export import export_onnx

    model = LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4)).to(torch.bfloat16).train()
    export_onnx(model, tmp_path / "small.onnx")
    assert model.training and next(model.parameters()).dtype == torch.bfloat16
    assert (tmp_path / "small.onnx").stat().st_size > 0
