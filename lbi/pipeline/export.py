"""The lifter as one ONNX graph: ``python -m lbi export --onnx OUT.onnx [--retention R]``.

The graph is the whole model the estimator runs after MediaPipe and the crop: the image encoder, stage 1 and
stage 2 with the adaptive feature selection at one retention rate (one file per rate: the number of kept tokens
is fixed in the graph). Inputs: ``crops`` (B, 3, h, w) in [0, 1] as :class:`lbi.crop.codec.InputCodec` makes them,
``joints2d`` (B, 17, 2) crop-normalised and, for a model that reads a 3D prior (the learned fusion), ``prior``
(B, 17, 3): MediaPipe's 3D in the model's axes and metres, NaN where absent (:func:`lbi.pipeline.fusion.learned_prior`);
outputs: ``coarse`` and ``refined`` (B, 17, 3) in the model's frame and
units (metres; :meth:`lbi.crop.codec.InputCodec.decode_pose` turns them into camera axes), ``kept`` (B, k) the token
indices stage 2 kept, and ``attention`` (B, layers, 17, HW) every layer's keypoint-to-image attention on the full
token grid, head-averaged (stage 2's zero on pruned tokens), as ``LiftingOutput.attention()`` gives it.
The batch size is dynamic. The plain fusion and the ensemble with MediaPipe's 3D (:mod:`lbi.pipeline.fusion`) work on
the
graph's poses afterwards, in NumPy: the estimator's onnxruntime path runs them exactly as its PyTorch path does.
Needs ``pip install lbi[onnx]`` (onnx, onnxscript; onnxruntime to run it).
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import torch
from torch import nn

from ..io.files import atomic_path
from ..model import LiftingByImage

INPUTS = ("crops", "joints2d", "prior")
OUTPUTS = ("coarse", "refined", "kept", "attention")


class ExportedLifter(nn.Module):
    """A LiftingByImage at a fixed retention rate, returning plain tensors (what a graph can hold)."""

    def __init__(self, model: LiftingByImage, retention: float | None = None) -> None:
        super().__init__()
        self.model = model.eval()
        self.retention = model.config.retention if retention is None else retention

    def forward(
        self, crops: torch.Tensor, joints2d: torch.Tensor, prior: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        out = self.model(crops, joints2d, self.retention, prior=prior)
        assert out.kept_indices is not None  # an lbi model has a stage 2
        attention = torch.stack([a.mean(dim=1) for a in out.attention()], dim=1)
        return out.coarse, out.refined, out.kept_indices, attention


def export_onnx(model: LiftingByImage, path: str | Path, retention: float | None = None, opset: int = 18) -> Path:
    """Writes the model at ``retention`` (default: its own) as ONNX, atomically; returns the path. A copy of the
    model is exported: the caller's keeps its device, dtype and mode."""
    wrapper = ExportedLifter(copy.deepcopy(model).float().cpu(), retention).eval()  # the caller's model stays as it is
    h, w = model.config.crop_size[1], model.config.crop_size[0]
    example: tuple[torch.Tensor, ...] = (torch.rand(2, 3, h, w), torch.rand(2, 17, 2) * 2 - 1)
    names = list(INPUTS[:2])
    if model.config.prior:
        example, names = (*example, torch.randn(2, 17, 3) * 0.3), list(INPUTS)
    path = Path(path)
    batch = torch.export.Dim.DYNAMIC
    with atomic_path(path) as tmp, torch.inference_mode(), warnings.catch_warnings():
        # the positional-embedding cache fills during tracing (a constant of the graph), and torch 2.13's
        # exporter warns about its own pytree internals: neither concerns the graph written
        warnings.filterwarnings("ignore", message=".*was assigned during export", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
        program = torch.onnx.export(
            wrapper,
            example,
            input_names=names,
            output_names=list(OUTPUTS),
            dynamic_shapes={name: {0: batch} for name in names},
            opset_version=opset,
            dynamo=True,
            external_data=False,
        )
        assert program is not None
        program.save(str(tmp))
    return path
