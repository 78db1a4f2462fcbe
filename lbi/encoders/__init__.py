"""Image encoders behind one interface: RGB crop in [0, 1] -> (B, C, H/stride, W/stride).

``build_encoder(name)`` knows:

- ``blazepose_s4`` / ``blazepose_s8``: the BlazePose landmark network shipped in mediapipe,
  truncated at stride 4 or 8 (48 channels). Real-image, 2D-pose-pretrained; the app's default.
- ``hrnet_w32``: the paper's encoder (32 channels, stride 4); random unless a COCO checkpoint is
  loaded with :func:`load_hrnet_checkpoint`.
- ``small_cnn``: a tiny untrained CNN (32 channels, stride 4) for tests.
"""

from __future__ import annotations

from .base import ImageEncoder
from .blazepose import BlazePoseEncoder
from .hrnet import CheckpointError, HRNetEncoder, load_hrnet_checkpoint
from .small_cnn import SmallCNNEncoder

ENCODERS = ("blazepose_s4", "blazepose_s8", "hrnet_w32", "small_cnn")


def build_encoder(name: str) -> ImageEncoder:
    """Builds an encoder by name (see module docstring)."""
    if name == "blazepose_s4":
        return BlazePoseEncoder(stride=4)
    if name == "blazepose_s8":
        return BlazePoseEncoder(stride=8)
    if name == "hrnet_w32":
        return HRNetEncoder()
    if name == "small_cnn":
        return SmallCNNEncoder()
    raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")


__all__ = [
    "ENCODERS",
    "BlazePoseEncoder",
    "CheckpointError",
    "HRNetEncoder",
    "ImageEncoder",
    "SmallCNNEncoder",
    "build_encoder",
    "load_hrnet_checkpoint",
]
