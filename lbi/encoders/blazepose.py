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
#: the mediapipe release whose wheel holds the graphs lbi reads (the encoder's weights, the 2D detector)
MEDIAPIPE_VERSION = "0.10.21"
#: the landmark graph inside it, as the weights files record it (lbi.io.weights checks it on loading)
LANDMARK_MODEL = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
LANDMARK_MODEL_SHA256 = "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"
HEATMAP_TENSOR = "Identity_3"  # (1, 64, 64, 39) heatmaps of the 33 landmarks + 6 auxiliary points


class MediaPipeModelMissing(FileNotFoundError):
    """mediapipe is not installed, or its wheel lacks the landmark model."""


def check_mediapipe() -> None:
    """ImportError, saying what to install, unless the installed mediapipe is :data:`MEDIAPIPE_VERSION` (read from
    the package's metadata: nothing is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("mediapipe")
    except PackageNotFoundError:
        installed = None
    if installed != MEDIAPIPE_VERSION:
        raise ImportError(
            f"lbi needs mediapipe=={MEDIAPIPE_VERSION} "
            f"({'installed: ' + installed if installed else 'not installed'}): its BlazePose graphs are the 2D "
            f"detector and the image encoder's weights. pip install mediapipe=={MEDIAPIPE_VERSION}"
        )


def landmark_model_sha256() -> str:
    """SHA-256 of the installed landmark graph: the encoder's weights, as weights files record them."""
    import hashlib

    return hashlib.sha256(landmark_model_path().read_bytes()).hexdigest()


def landmark_model_path() -> Path:
    """Path of ``pose_landmark_full.tflite`` inside the installed mediapipe package."""
    try:
        import mediapipe
    except ImportError as err:  # pragma: no cover - mediapipe is a core dependency
        raise MediaPipeModelMissing(
            f"the BlazePose encoder needs the mediapipe package (pip install mediapipe=={MEDIAPIPE_VERSION})"
        ) from err
    path = Path(mediapipe.__file__).parent / "modules" / "pose_landmark" / "pose_landmark_full.tflite"
    if not path.is_file():
        raise MediaPipeModelMissing(
            f"{path} is missing: reinstall mediapipe=={MEDIAPIPE_VERSION}, whose wheel ships it"
        )
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
