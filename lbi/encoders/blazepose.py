"""The BlazePose landmark network that ships inside the mediapipe wheel, as a PyTorch encoder.

``pose_landmark_full.tflite`` is a 2D-pose network trained on real photos: the only
pose-pretrained image encoder available offline. Its weights are read from the installed
mediapipe package every time the encoder is built; nothing derived from them is stored in this
repository. The graph is truncated at a feature map of its heatmap decoder:

=======  ====================  ====================  ========
stride   tensor                at 256x256 input      at 256x192
=======  ====================  ====================  ========
4        ``add_11`` (48 ch)    64 x 64               64 x 48
8        ``add_10`` (48 ch)    32 x 32               32 x 24
=======  ====================  ====================  ========

Both maps sum a decoder path (from the 8x8 bottleneck) with a skip connection, so each token
sees the whole crop and still has fine spatial detail. The trunk is fully convolutional, so it
runs at the paper's 256x192 crop directly (sides must be multiples of 32).
"""

from __future__ import annotations

from pathlib import Path

import torch

from .base import ImageEncoder
from .tflite_graph import TFLiteGraph

FEATURE_TENSORS = {4: "model_1/model/add_11/add", 8: "model_1/model/add_10/add"}
HEATMAP_TENSOR = "Identity_3"  # (1, 64, 64, 39) heatmaps of the 33 landmarks + 6 auxiliary points


class MediaPipeModelMissing(FileNotFoundError):
    """mediapipe is not installed, or its wheel lacks the landmark model."""


def landmark_model_path() -> Path:
    """Path of ``pose_landmark_full.tflite`` inside the installed mediapipe package."""
    try:
        import mediapipe
    except ImportError as err:  # pragma: no cover - mediapipe is a core dependency
        raise MediaPipeModelMissing(
            "the BlazePose encoder needs the mediapipe package (pip install mediapipe==0.10.21)"
        ) from err
    path = Path(mediapipe.__file__).parent / "modules" / "pose_landmark" / "pose_landmark_full.tflite"
    if not path.is_file():
        raise MediaPipeModelMissing(f"{path} is missing: reinstall mediapipe==0.10.21, whose wheel ships it")
    return path


class BlazePoseEncoder(ImageEncoder):
    """BlazePose-full trunk + decoder up to a stride-4 or stride-8 feature map (48 channels)."""

    out_channels = 48
    size_multiple = 32

    def __init__(self, stride: int = 4, model_path: str | Path | None = None) -> None:
        super().__init__()
        if stride not in FEATURE_TENSORS:
            raise ValueError(f"BlazePose features exist at stride 4 or 8, not {stride}")
        self.stride = stride
        self.graph = TFLiteGraph(model_path or landmark_model_path(), outputs=[FEATURE_TENSORS[stride]])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(x)[0]
