"""The lifter as ONNX: the graph agrees with PyTorch, runs any batch size, and the estimator uses it where nothing
is refined."""

import numpy as np
import pytest
import torch

from lbi.cli import main as cli
from lbi.export import ExportedLifter
from lbi.weights import default_weights, load_model

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
    from lbi.estimator import Estimator
    from lbi.image_io import read_image

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
    from lbi.estimator import Estimator

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("LBI_CACHE", str(tmp_path / "file"))
    with pytest.warns(UserWarning, match="onnxruntime not used"):
        estimator = Estimator(device="cpu", onnx=True)
    assert estimator.onnx is None
