"""Run (part of) a TFLite graph as a PyTorch module.

The graph is read with the pure-Python ``tflite`` flatbuffer schema, never with an interpreter.
Every constant becomes a parameter or buffer, every operator a step in :meth:`TFLiteGraph.forward`,
so the result is an ordinary, trainable ``nn.Module`` that runs on any device and dtype.
Only the operators needed for the requested output tensors are kept.

Supported operators (all that the BlazePose landmark network uses): CONV_2D, DEPTHWISE_CONV_2D,
ADD, PAD, RESIZE_BILINEAR, MAX_POOL_2D, LOGISTIC, RESHAPE and DEQUANTIZE (folded into constants).
Activations are NCHW inside; the module converts nothing at its borders except the layout of
the weights, so inputs are (B, C, H, W) and outputs (B, C, H, W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_NUMPY_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 4: np.int64}


class UnsupportedGraphError(ValueError):
    """The TFLite graph uses something this executor does not implement."""


@dataclass
class _Op:
    kind: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)


def _enum_names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_")}


def _same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding: (before, after) along one axis; the extra pixel goes after."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _activation(x: torch.Tensor, code: int) -> torch.Tensor:
    if code == 0:
        return x
    if code == 1:
        return F.relu(x)
    if code == 3:
        return F.relu6(x)
    if code == 2:
        return x.clamp(-1.0, 1.0)
    if code == 4:
        return torch.tanh(x)
    raise UnsupportedGraphError(f"fused activation {code} is not supported")


class TFLiteGraph(nn.Module):
    """A TFLite subgraph, truncated at ``outputs`` (tensor names), as a PyTorch module.

    Spatial sizes are not baked in: PAD takes its constant paddings, convolutions recompute SAME
    padding per call and RESIZE_BILINEAR doubles (or scales by its original factor) whatever size
    it receives, so a fully convolutional trunk accepts any input whose sides divide its stride.
    """

    def __init__(self, model_path: str | Path, outputs: list[str] | None = None) -> None:
        super().__init__()
        import tflite  # local import: only needed while building

        buf = Path(model_path).read_bytes()
        model = tflite.Model.GetRootAsModel(buf, 0)
        graph = model.Subgraphs(0)
        op_names = _enum_names(tflite.BuiltinOperator)

        self.tensor_names = [graph.Tensors(i).Name().decode() for i in range(graph.TensorsLength())]
        shapes = [
            tuple(graph.Tensors(i).ShapeAsNumpy()) if graph.Tensors(i).ShapeLength() else ()
            for i in range(graph.TensorsLength())
        ]
        self._input_index = int(graph.InputsAsNumpy()[0])

        def constant(index: int) -> np.ndarray | None:
            tensor = graph.Tensors(index)
            data = model.Buffers(tensor.Buffer()).DataAsNumpy()
            if isinstance(data, int) or data.size == 0:
                return None
            dtype = _NUMPY_TYPES.get(tensor.Type())
            if dtype is None:
                raise UnsupportedGraphError(f"tensor {self.tensor_names[index]!r} has type {tensor.Type()}")
            return np.frombuffer(data.tobytes(), dtype=dtype).reshape(shapes[index])

        constants: dict[int, np.ndarray] = {}
        ops: list[_Op] = []
        for k in range(graph.OperatorsLength()):
            op = graph.Operators(k)
            code = model.OperatorCodes(op.OpcodeIndex())
            kind = op_names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
            ins = [int(i) for i in op.InputsAsNumpy()]
            outs = [int(i) for i in op.OutputsAsNumpy()]
            for i in ins:
                if i >= 0 and i not in constants:
                    value = constant(i)
                    if value is not None:
                        constants[i] = value
            if kind == "DEQUANTIZE":  # fp16 weights -> fp32 constant, folded at load time
                constants[outs[0]] = constants[ins[0]].astype(np.float32)
                continue
            ops.append(_Op(kind, ins, outs, self._read_options(tflite, kind, op, shapes, ins, outs)))

        wanted = [self._index(name) for name in outputs] if outputs else [int(i) for i in graph.OutputsAsNumpy()]
        self._output_indices = wanted
        self._ops = self._prune(ops, wanted)
        self._register_constants(constants)

    # ---------------------------------------------------------------- building
    def _index(self, name: str) -> int:
        try:
            return self.tensor_names.index(name)
        except ValueError:
            raise KeyError(f"no tensor named {name!r} in the TFLite graph") from None

    @staticmethod
    def _read_options(tflite, kind: str, op, shapes, ins, outs) -> dict:
        raw = op.BuiltinOptions()
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            opt = tflite.Conv2DOptions() if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions()
            opt.Init(raw.Bytes, raw.Pos)
            return dict(
                same=opt.Padding() == 0,
                stride=(opt.StrideH(), opt.StrideW()),
                dilation=(opt.DilationHFactor(), opt.DilationWFactor()),
                act=opt.FusedActivationFunction(),
            )
        if kind == "ADD":
            opt = tflite.AddOptions()
            opt.Init(raw.Bytes, raw.Pos)
            return dict(act=opt.FusedActivationFunction())
        if kind == "MAX_POOL_2D":
            opt = tflite.Pool2DOptions()
            opt.Init(raw.Bytes, raw.Pos)
            return dict(
                same=opt.Padding() == 0,
                stride=(opt.StrideH(), opt.StrideW()),
                kernel=(opt.FilterHeight(), opt.FilterWidth()),
                act=opt.FusedActivationFunction(),
            )
        if kind == "RESIZE_BILINEAR":
            opt = tflite.ResizeBilinearOptions()
            opt.Init(raw.Bytes, raw.Pos)
            if opt.AlignCorners() or not opt.HalfPixelCenters():
                raise UnsupportedGraphError("only half-pixel-centre bilinear resizing is supported")
            (_, h_in, w_in, _), (_, h_out, w_out, _) = shapes[ins[0]], shapes[outs[0]]
            return dict(scale=(h_out / h_in, w_out / w_in))
        if kind == "RESHAPE":
            return dict(shape=shapes[outs[0]])
        if kind in ("PAD", "LOGISTIC"):
            return {}
        raise UnsupportedGraphError(f"operator {kind} is not supported")

    @staticmethod
    def _prune(ops: list[_Op], wanted: list[int]) -> list[_Op]:
        needed, kept = set(wanted), []
        for op in reversed(ops):
            if any(o in needed for o in op.outputs):
                kept.append(op)
                needed.update(i for i in op.inputs if i >= 0)
        return kept[::-1]

    def _register_constants(self, constants: dict[int, np.ndarray]) -> None:
        """Weights become parameters in PyTorch layout; other constants (paddings) plain values."""
        self.weights = nn.ParameterDict()
        self._paddings: dict[int, list[int]] = {}
        for op in self._ops:
            if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                w = torch.from_numpy(constants[op.inputs[1]].copy())
                # TFLite: CONV_2D [O, kh, kw, I]; DEPTHWISE_CONV_2D [1, kh, kw, C]. PyTorch: [O, I, kh, kw].
                w = w.permute(0, 3, 1, 2) if op.kind == "CONV_2D" else w.permute(3, 0, 1, 2)
                self.weights[f"w{op.outputs[0]}"] = nn.Parameter(w.contiguous())
                if len(op.inputs) > 2 and op.inputs[2] >= 0:
                    self.weights[f"b{op.outputs[0]}"] = nn.Parameter(torch.from_numpy(constants[op.inputs[2]].copy()))
            elif op.kind == "PAD":
                pads = constants[op.inputs[1]].astype(int)  # NHWC rows of (before, after)
                if pads[0].any() or pads[3].any():
                    raise UnsupportedGraphError("PAD over batch or channels is not supported")
                self._paddings[op.outputs[0]] = [int(pads[2, 0]), int(pads[2, 1]), int(pads[1, 0]), int(pads[1, 1])]
            elif op.kind == "ADD":
                for i in op.inputs:
                    if i in constants:
                        raise UnsupportedGraphError("ADD with a constant operand is not supported")

    # ---------------------------------------------------------------- running
    @property
    def output_names(self) -> list[str]:
        return [self.tensor_names[i] for i in self._output_indices]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (B, C, H, W) -> the requested tensors, each (B, C', H', W') (or (B, D) after RESHAPE)."""
        values: dict[int, torch.Tensor] = {self._input_index: x}
        for op in self._ops:
            values[op.outputs[0]] = self._run(op, values)
        return [values[i] for i in self._output_indices]

    def _run(self, op: _Op, values: dict[int, torch.Tensor]) -> torch.Tensor:
        x = values[op.inputs[0]]
        o = op.options
        key = op.outputs[0]
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w, b = self.weights[f"w{key}"], self.weights.get(f"b{key}")
            if o["same"]:
                ph = _same_padding(x.shape[2], w.shape[2], o["stride"][0], o["dilation"][0])
                pw = _same_padding(x.shape[3], w.shape[3], o["stride"][1], o["dilation"][1])
                x = F.pad(x, (*pw, *ph))
            groups = x.shape[1] if op.kind == "DEPTHWISE_CONV_2D" else 1
            y = F.conv2d(x, w.to(x.dtype), None if b is None else b.to(x.dtype), o["stride"], 0, o["dilation"], groups)
            return _activation(y, o["act"])
        if op.kind == "ADD":
            return _activation(x + values[op.inputs[1]], o["act"])
        if op.kind == "PAD":
            return F.pad(x, self._paddings[key])
        if op.kind == "RESIZE_BILINEAR":
            size = (round(x.shape[2] * o["scale"][0]), round(x.shape[3] * o["scale"][1]))
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        if op.kind == "MAX_POOL_2D":
            if o["same"]:
                ph = _same_padding(x.shape[2], o["kernel"][0], o["stride"][0])
                pw = _same_padding(x.shape[3], o["kernel"][1], o["stride"][1])
                x = F.pad(x, (*pw, *ph), value=float("-inf"))
            return _activation(F.max_pool2d(x, o["kernel"], o["stride"]), o["act"])
        if op.kind == "LOGISTIC":
            return torch.sigmoid(x)
        if op.kind == "RESHAPE":
            # TFLite reshapes NHWC memory; go back to that order before flattening.
            return x.permute(0, 2, 3, 1).reshape(x.shape[0], *o["shape"][1:])
        raise UnsupportedGraphError(op.kind)
