import pickle

import numpy as np
import pytest
import torch

from lbi.encoders import (
    BlazePoseEncoder,
    CheckpointError,
    HRNetEncoder,
    SmallCNNEncoder,
    build_encoder,
    load_hrnet_checkpoint,
)
from lbi.encoders.blazepose import FEATURE_TENSORS, HEATMAP_TENSOR, landmark_model_path
from lbi.encoders.tflite_graph import TFLiteGraph


# ------------------------------------------------------------------------------------ BlazePose
@pytest.fixture(scope="module")
def tflite_reference():
    """The TFLite interpreter's tensors for one random input (intermediates preserved)."""
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = litert.Interpreter(
        model_path=str(landmark_model_path()),
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=True,
    )
    interpreter.allocate_tensors()
    image = np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    index = {d["name"]: d["index"] for d in interpreter.get_tensor_details()}
    names = [FEATURE_TENSORS[4], FEATURE_TENSORS[8], HEATMAP_TENSOR]
    return image, {name: interpreter.get_tensor(index[name]) for name in names}


@pytest.mark.slow
def test_blazepose_in_torch_matches_the_tflite_interpreter(tflite_reference):
    image, reference = tflite_reference
    x = torch.from_numpy(image).permute(0, 3, 1, 2)
    with torch.no_grad():
        for stride in (4, 8):
            ours = BlazePoseEncoder(stride)(x)[0].permute(1, 2, 0).numpy()
            ref = reference[FEATURE_TENSORS[stride]][0]
            assert ours.shape == ref.shape == (256 // stride, 256 // stride, 48)
            np.testing.assert_allclose(ours, ref, atol=1e-3 * np.abs(ref).max(), rtol=0)
        # the whole heatmap head too: every operator kind on the way is exercised
        heat = TFLiteGraph(landmark_model_path(), outputs=[HEATMAP_TENSOR])(x)[0][0].permute(1, 2, 0).numpy()
    ref = reference[HEATMAP_TENSOR][0]
    np.testing.assert_allclose(heat, ref, atol=1e-3 * np.abs(ref).max(), rtol=0)
    assert np.argmax(heat[..., 0]) == np.argmax(ref[..., 0])


@pytest.mark.slow
def test_blazepose_runs_at_the_papers_crop_size_and_is_trainable():
    enc = BlazePoseEncoder(stride=8)
    assert 1.0e6 < sum(p.numel() for p in enc.parameters()) < 3.3e6
    out = enc(torch.rand(2, 3, 256, 192))
    assert out.shape == (2, 48, 32, 24)
    out.mean().backward()
    assert all(p.grad is not None for p in enc.parameters())
    with pytest.raises(ValueError, match="stride"):
        BlazePoseEncoder(stride=16)
    with pytest.raises(KeyError, match="no tensor"):
        TFLiteGraph(landmark_model_path(), outputs=["not_a_tensor"])


# ------------------------------------------------------------------------------------ HRNet
@pytest.fixture(scope="module")
def hrnet_state():
    torch.manual_seed(0)
    state = HRNetEncoder().state_dict()
    head = {"final_layer.weight": torch.randn(17, 32, 1, 1), "final_layer.bias": torch.randn(17)}
    return state, head


@pytest.mark.slow
def test_hrnet_w32_size_and_output():
    enc = HRNetEncoder().eval()
    n_params = sum(p.numel() for p in enc.parameters()) + 32 * 17 + 17  # + the dropped heatmap head
    assert n_params == pytest.approx(28.5e6, rel=0.01)
    with torch.no_grad():
        assert enc(torch.rand(1, 3, 256, 192)).shape == (1, 32, 64, 48)
    with pytest.raises(ValueError, match="multiples of 32"):
        enc(torch.rand(1, 3, 250, 192))


@pytest.mark.slow
@pytest.mark.parametrize("form", ["bare", "state_dict", "module", "mmpose"])
def test_hrnet_checkpoint_forms(tmp_path, hrnet_state, form):
    state, head = hrnet_state
    full = {**state, **head}
    if form == "bare":  # the official pose_hrnet_w32_256x192.pth
        ckpt = full
    elif form == "state_dict":
        ckpt = {"epoch": 210, "state_dict": full}
    elif form == "module":  # saved from DataParallel
        ckpt = {"state_dict": {f"module.{k}": v for k, v in full.items()}}
    else:  # mmpose-style: backbone + keypoint_head
        ckpt = {
            "meta": {"mmpose_version": "0.x"},
            "state_dict": {
                **{f"backbone.{k}": v for k, v in state.items()},
                **{f"keypoint_head.{k}": v for k, v in head.items()},
            },
        }
    path = tmp_path / f"{form}.pth"
    torch.save(ckpt, path)
    enc = HRNetEncoder()
    dropped = load_hrnet_checkpoint(enc, path)
    assert dropped and all("final_layer" in k for k in dropped)
    loaded = enc.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_hrnet_checkpoint_errors_are_specific(tmp_path, hrnet_state):
    state, _ = hrnet_state
    wrong = dict(state)
    wrong["conv1.weight"] = torch.zeros(48, 3, 3, 3)  # e.g. an HRNet-w48 stem
    del wrong["layer1.0.conv1.weight"]
    wrong["stage5.weight"] = torch.zeros(1)
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(CheckpointError) as err:
        load_hrnet_checkpoint(HRNetEncoder(), tmp_path / "wrong.pth")
    message = str(err.value)
    assert "conv1.weight: checkpoint (48, 3, 3, 3) vs model (64, 3, 3, 3)" in message
    assert "layer1.0.conv1.weight" in message and "stage5.weight" in message

    # a pickle that is not just tensors is refused, not executed
    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"state_dict": {"x": Exploit()}}))
    with pytest.raises(CheckpointError, match="not a readable"):
        load_hrnet_checkpoint(HRNetEncoder(), tmp_path / "evil.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        load_hrnet_checkpoint(HRNetEncoder(), tmp_path / "junk.pth")
    with pytest.raises(FileNotFoundError):
        load_hrnet_checkpoint(HRNetEncoder(), tmp_path / "missing.pth")


class Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


# ------------------------------------------------------------------------------------ others
def test_small_cnn_and_registry():
    enc = build_encoder("small_cnn")
    assert isinstance(enc, SmallCNNEncoder) and enc.stride == 4
    assert enc(torch.rand(2, 3, 64, 48)).shape == (2, 32, 16, 12)
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder("vgg")
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        enc(torch.rand(2, 1, 64, 48))
