"""The lifter run by onnxruntime: the graph of :mod:`lbi.pipeline.export` at the model's own retention rate, exported
once
per weights and kept in a cache folder (``$LBI_CACHE``, else ``~/.cache/lbi``). On a CPU it runs the encoder and
both stages several times faster than PyTorch eager (docs/results.md); it cannot re-run stage 2 at another rate,
so the estimator uses it only where nothing will be refined (video, live mode, the command line).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import torch

from ..model import LiftingByImage, LiftingOutput


def onnx_available() -> bool:
    """Whether onnxruntime (to run) and onnxscript (to export) are installed: ``pip install lbi[onnx]``."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnxscript", "onnx"))


def cache_folder() -> Path:
    return Path(os.environ.get("LBI_CACHE") or Path.home() / ".cache" / "lbi")


def model_digest(model: LiftingByImage) -> str:
    """A short hash of the model's weights and configuration: the name of its exported graph."""
    digest = hashlib.sha256(repr(model.config).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


class OnnxLifter:
    """``model`` as an onnxruntime session: crops, 2D (and the prior) in, a LiftingOutput (no stage-1 cache) out."""

    def __init__(self, model: LiftingByImage, threads: int | None = None, folder: Path | None = None) -> None:
        import onnxruntime as ort

        from .export import export_onnx

        self.retention = model.config.retention
        self.prior = model.config.prior
        self.stage1_layers = len(model.config.stage1)
        w, h = model.config.crop_size
        self.grid = (h // model.encoder.stride, w // model.encoder.stride)
        self.path = (folder or cache_folder()) / f"lbi-{model_digest(model)}.onnx"
        if not self.path.is_file():
            export_onnx(model, self.path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        # no busy-waiting between runs: the threads would spin on the cores that MediaPipe and PyTorch need next
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def __call__(self, crops: torch.Tensor, joints2d: torch.Tensor, prior: torch.Tensor | None = None) -> LiftingOutput:
        """As the model's forward; a model that reads a prior is told it is absent where ``prior`` is None."""
        inputs = {"crops": crops.float().cpu().numpy(), "joints2d": joints2d.float().cpu().numpy()}
        if self.prior:
            absent = np.full((len(crops), joints2d.shape[1], 3), np.nan, np.float32)
            inputs["prior"] = absent if prior is None else prior.float().cpu().numpy()
        coarse, refined, kept, attention = (torch.from_numpy(np.asarray(a)) for a in self.session.run(None, inputs))
        maps = [attention[:, k : k + 1] for k in range(attention.shape[1])]  # (B, 1, N, HW): heads averaged
        return LiftingOutput(
            coarse=coarse,
            refined=refined,
            stage1_attention=maps,  # every layer, on the full grid (as LiftingOutput.attention() gives them)
            kept_indices=kept,
            grid=self.grid,
            retention=self.retention,
        )
