"""Model files: safetensors tensors + the JSON config in the file's metadata.

One ``.safetensors`` file holds everything needed to rebuild a model: ``metadata["lbi"]`` is a JSON
object ``{"format": 1, "arch": ..., "config": {...}, "encoder_weights": "included" | "package"}``.
With ``encoder_weights = "package"`` the encoder's weights are not in the file: they are read
from where they ship (the BlazePose trunk from the mediapipe wheel), which keeps derived
weights out of the file and the file small. Files are written atomically and read without
unpickling anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from ..encoders import build_encoder
from ..encoders.blazepose import LANDMARK_MODEL, LANDMARK_MODEL_SHA256, MEDIAPIPE_VERSION, landmark_model_sha256
from ..model import Lifter, LiftingByImage, build_model
from .files import atomic_path

FORMAT_VERSION = 1
ENCODER_PREFIX = "encoder."
#: the weights that ship with the package (the checkout's weights/, linked as lbi/bundled_weights)
BUNDLED_DIR = Path(__file__).resolve().parents[1] / "bundled_weights"
#: the bundled default weights (LBI-Synth, BlazePose trunk); see weights/MODEL_CARD.md
BUNDLED_WEIGHTS = BUNDLED_DIR / "lbi_synth.safetensors"
#: their ensemble's second lifter: a lifting-only MLP that reads MediaPipe's 3D (lbi.pipeline.fusion, "ensemble")
BUNDLED_PRIOR_LIFTER = BUNDLED_DIR / "prior_mlp.safetensors"


def default_weights() -> Path:
    """$LBI_WEIGHTS when set, else the bundled weights file."""
    return Path(os.environ.get("LBI_WEIGHTS") or BUNDLED_WEIGHTS)


class WeightsError(ValueError):
    """A weights file that is missing, unreadable or does not fit the model it describes."""


def encoder_is_shipped(model: Lifter) -> bool:
    """True when the model's encoder still has exactly the weights its package ships (BlazePose)."""
    if not isinstance(model, LiftingByImage) or not model.config.encoder.startswith("blazepose"):
        return False
    name = model.config.encoder
    shipped = build_encoder(name).state_dict()
    return all(torch.equal(v.cpu(), shipped[k]) for k, v in model.encoder.state_dict().items())


def encoder_source(model: Lifter) -> dict | None:
    """Where a BlazePose encoder's weights come from (the graph in the mediapipe wheel, its SHA-256 and the release
    that ships it); None for other models."""
    if not isinstance(model, LiftingByImage) or not model.config.encoder.startswith("blazepose"):
        return None
    return {"file": LANDMARK_MODEL, "sha256": landmark_model_sha256(), "mediapipe": MEDIAPIPE_VERSION}


def check_encoder_source(header: dict, source: str) -> None:
    """WeightsError, naming the mediapipe release to install, when a file's BlazePose encoder is to be read from the
    installed wheel and that wheel's graph is not the one the file was trained with. Files from before the record
    were trained with :data:`MEDIAPIPE_VERSION`'s graph."""
    if header.get("encoder_weights") != "package" or not header["config"].get("encoder", "").startswith("blazepose"):
        return
    recorded = header.get("encoder_source") or {"sha256": LANDMARK_MODEL_SHA256, "mediapipe": MEDIAPIPE_VERSION}
    installed = landmark_model_sha256()
    if installed != recorded["sha256"]:
        raise WeightsError(
            f"{source} reads its image encoder's weights from mediapipe's {LANDMARK_MODEL}, but the installed file is "
            f"not the one it was trained with (sha256 {installed[:12]}..., expected {recorded['sha256'][:12]}...): "
            f"pip install mediapipe=={recorded['mediapipe']}"
        )


def save_model(model: Lifter, path: str | Path, include_encoder: bool | None = None, extra: dict | None = None) -> Path:
    """Writes ``model`` (LiftingByImage or a baseline) to ``path``; returns the path.

    ``include_encoder``: None (default) leaves the encoder out exactly when its weights are the
    ones its package ships (a frozen BlazePose), so nothing derived from them is written and the
    file stays small; True/False force it. ``extra`` is stored beside the config (e.g. metrics).
    """
    if include_encoder is None:
        include_encoder = not encoder_is_shipped(model)
    elif (
        not include_encoder
        and hasattr(model, "encoder")
        and not getattr(model.config, "encoder", "").startswith("blazepose")
    ):
        raise ValueError("only a BlazePose encoder can be left out: its weights are re-read from mediapipe")
    state = {
        k: v.detach().cpu().contiguous()
        for k, v in model.state_dict().items()
        if include_encoder or not k.startswith(ENCODER_PREFIX)
    }
    has_encoder = any(k.startswith(ENCODER_PREFIX) for k in model.state_dict())
    header = {
        "format": FORMAT_VERSION,
        "arch": model.arch,
        "config": model.config.to_dict(),
        "encoder_weights": "included" if include_encoder or not has_encoder else "package",
        "encoder_source": encoder_source(model),
        "extra": extra or {},
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"lbi": json.dumps(header)})
        tmp.chmod(0o644)  # safetensors creates the file private
    return path


def read_header(path: str | Path) -> dict:
    """The JSON header of a model file (arch, config, ...), without loading tensors."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"{path} is not a readable safetensors file ({err})") from err
    if "lbi" not in metadata:
        raise WeightsError(f"{path} has no 'lbi' metadata: it was not written by lbi.io.weights.save_model")
    try:
        header = json.loads(metadata["lbi"])
    except json.JSONDecodeError as err:
        raise WeightsError(f"{path}: its 'lbi' metadata is not valid JSON ({err})") from err
    if header.get("format") != FORMAT_VERSION:
        raise WeightsError(f"{path}: format {header.get('format')!r}, this lbi reads format {FORMAT_VERSION}")
    return header


def tensors_sha256(path: str | Path) -> str:
    """SHA-256 of a weights file's tensors (names, dtypes, shapes and bytes, by name): what a model computes with,
    unchanged when only the file's header (its config, notes, the encoder's source) is rewritten."""
    digest = hashlib.sha256()
    for name, tensor in sorted(load_file(str(path)).items()):
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> Lifter:
    """Rebuilds the model described by ``path`` and loads its weights strictly."""
    header = read_header(path)
    check_encoder_source(header, str(path))
    try:
        model = build_model(header["arch"], header["config"])
    except (TypeError, ValueError) as err:
        raise WeightsError(f"{path}: cannot build the model it describes ({err})") from err
    load_weights(model, path, header)
    return model.to(map_location).eval()


def load_weights(
    model: nn.Module, path: str | Path, header: dict | None = None, prefixes: tuple[str, ...] = ()
) -> None:
    """Loads a model file into an existing model, strictly. With ``prefixes``, only the parameters
    under those module names are loaded (e.g. stage 1 of a LiftingByImage) and all of them must
    be in the file."""
    header = header or read_header(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise WeightsError(f"{path} is not a readable safetensors file ({err})") from err
    encoder_in_file = header["encoder_weights"] == "included"
    if prefixes:  # the model keeps its own values for everything outside ``prefixes``
        wanted = tuple(p + "." for p in prefixes)
        own = {
            k: v
            for k, v in model.state_dict().items()
            if not k.startswith(wanted) or (not encoder_in_file and k.startswith(ENCODER_PREFIX))
        }
        state = {**own, **{k: v for k, v in state.items() if k.startswith(wanted)}}
        encoder_in_file = True
    load_state(model, state, source=str(path), encoder_in_file=encoder_in_file)


def load_state(model: nn.Module, state: dict[str, torch.Tensor], source: str, encoder_in_file: bool = True) -> None:
    """Strict load with a message that names every missing, unexpected or wrongly shaped tensor."""
    own = model.state_dict()
    expected = {k for k in own if encoder_in_file or not k.startswith(ENCODER_PREFIX)}
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(
        f"{k} (file {tuple(state[k].shape)}, model {tuple(own[k].shape)})"
        for k in set(state) & set(own)
        if state[k].shape != own[k].shape
    )
    problems = [
        f"missing {missing[:5]}" if missing else "",
        f"unexpected {unexpected[:5]}" if unexpected else "",
        f"wrong shape: {', '.join(wrong[:5])}" if wrong else "",
    ]
    problems = [p for p in problems if p]
    if problems:
        raise WeightsError(f"{source} does not fit {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(state, strict=False)
