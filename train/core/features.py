"""Frozen-encoder feature caches, and the one function that builds the dataset a model needs.

A frozen encoder gives the same features for a crop every epoch, so they are computed once into
``<root>/features/<encoder>-<weights digest>.npy`` (float16, (T, C, H, W)) and training reads
them instead of the crops. The digest names exactly the encoder weights, so another encoder
(or the same one fine-tuned) never picks up a stale cache. ``...-mirrored.npy`` holds the features
of the crops flipped left to right (flip augmentation and the flip test, :mod:`lbi.model.flip`).

    dataset = model_dataset(model, "data/lbi-synth/lab", "train", cache="build")
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from lbi.crop.affine import image_to_tensor
from lbi.crop.codec import InputCodec
from lbi.data.dataset import PoseDataset
from lbi.data.format import PreparedData
from lbi.io.files import atomic_write_text
from lbi.model import LiftingByImage


class _Crops(Dataset):
    def __init__(self, data: PreparedData, mirrored: bool = False) -> None:
        self.data, self.mirrored = data, mirrored

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> torch.Tensor:
        image = image_to_tensor(self.data.image(i))[0]
        return image.flip(-1) if self.mirrored else image


def weights_digest(module: nn.Module) -> str:
    """Short hash of a module's weights: names a feature cache after the exact encoder."""
    digest = hashlib.sha1()
    for key, value in sorted(module.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:10]


def cache_name(model: LiftingByImage, mirrored: bool = False) -> str:
    """``<encoder>-<weights digest>``: the feature cache of exactly this model's encoder weights
    (``-mirrored``: of the crops flipped left to right)."""
    return f"{model.config.encoder}-{weights_digest(model.encoder)}" + ("-mirrored" if mirrored else "")


def cache_path(data: PreparedData, name: str) -> Path:
    return Path(data.root) / "features" / f"{name}.npy"


def feature_cache(
    data: PreparedData,
    encoder: nn.Module,
    name: str,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    workers: int = 0,
    create: bool = True,
    mirrored: bool = False,
) -> np.ndarray | None:
    """float16 features of every crop (``mirrored``: flipped left to right), (T, C, H, W),
    memory-mapped from <root>/features/<name>.npy (and how long computing them took in <name>.json).

    Computed once when missing (or stale: the dataset changed size); with ``create=False`` a
    missing or stale cache gives None instead. The file is built under a temporary name and
    renamed when complete, so an interrupted run never leaves a cache that looks finished.
    """
    path = cache_path(data, name)
    if path.is_file():
        cached = np.load(path, mmap_mode="r")
        if cached.shape[0] == len(data):
            return cached
        if create:
            path.unlink()
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    start_time = time.perf_counter()
    encoder = encoder.to(device).eval()
    w, h = data.meta.crop_size
    with torch.no_grad():
        probe = encoder(torch.zeros(1, 3, h, w, device=device))
    tmp = path.with_name(f".{path.name}.tmp")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(len(data), *probe.shape[1:]))
    loader = DataLoader(_Crops(data, mirrored), batch_size=batch_size, num_workers=workers)
    start = 0
    with torch.inference_mode():
        for images in tqdm(loader, desc=f"caching {name} features", unit="batch"):
            feats = encoder(images.to(device)).float().cpu().numpy()
            out[start : start + len(feats)] = feats.astype(np.float16)
            start += len(feats)
    out.flush()
    del out
    tmp.replace(path)
    atomic_write_text(
        path.with_suffix(".json"),
        json.dumps(
            {
                "samples": len(data),
                "seconds": round(time.perf_counter() - start_time, 1),
                "batch_size": batch_size,
                "device": str(device),
            }
        ),
    )
    return np.load(path, mmap_mode="r")


CACHE_POLICIES = ("off", "use", "build")


def model_dataset(
    model: nn.Module,
    data: PreparedData | str | Path,
    split: str,
    inputs_2d: str = "gt",
    cache: str = "use",
    silhouettes: bool = False,
    missing: str = "drop",
    mirrored: bool = False,
    prior: bool | None = None,
) -> PoseDataset:
    """A split as ``model`` reads it, encoded by the model's input codec: the 2D pose alone for a
    model without an image encoder; otherwise cached encoder features when ``cache`` is "use" (and
    ``<root>/features`` holds them for exactly these weights) or "build" (computed when missing),
    the crops when it is "off" (an encoder that is being trained) or no cache exists; pose-only data
    (``meta.images`` false) gives the 2D pose alone, and an image model then runs with the image absent. ``silhouettes``
    adds the person masks where the data has them (for the attention metrics of evaluation);
    ``missing`` is what happens to samples without the 2D input (see PoseDataset). ``mirrored`` adds
    each crop's features flipped left to right (cached like the others; from the crops when "off"). ``prior``: the
    items carry MediaPipe's 3D (None: when the model reads a prior)."""
    if cache not in CACHE_POLICIES:
        raise ValueError(f"cache must be one of {CACHE_POLICIES}, got {cache!r}")
    data = data if isinstance(data, PreparedData) else PreparedData(data)
    has_encoder = hasattr(model, "encoder") and data.meta.images  # pose-only data: the image is absent
    features = features_mirrored = None
    if has_encoder and cache != "off":
        assert isinstance(model, LiftingByImage)  # the lifter with an image encoder
        features = feature_cache(data, model.encoder, cache_name(model), create=cache == "build")
        if mirrored and features is not None:
            features_mirrored = feature_cache(
                data, model.encoder, cache_name(model, True), create=cache == "build", mirrored=True
            )
            features = features if features_mirrored is not None else None  # both cached, or the crops
    return PoseDataset(
        data,
        split,
        InputCodec.for_model(model),
        inputs_2d,
        features=features,
        features_mirrored=features_mirrored,
        load_images=has_encoder and features is None,
        load_silhouettes=silhouettes and has_encoder and data.meta.silhouettes,
        missing=missing,
        prior=getattr(model.config, "prior", False) if prior is None else prior,
    )


def main(argv: list[str] | None = None) -> int:
    """Builds the feature caches (plain and mirrored) of a model's encoder for prepared data sets."""
    import argparse
    import sys

    from lbi.data.format import DatasetError
    from lbi.io.weights import WeightsError, load_model

    parser = argparse.ArgumentParser(description="python -m train.core.features --weights W --data ROOT [ROOT ...]")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", nargs="+", required=True, help="prepared data roots")
    parser.add_argument("--no-mirrored", action="store_true", help="only the features of the crops as they are")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.weights)
        if not isinstance(model, LiftingByImage):  # the lifter with an image encoder
            parser.error(f"{args.weights} has no image encoder: there are no features to cache")
        for root in args.data:
            data = PreparedData(root)
            for mirrored in (False,) if args.no_mirrored else (False, True):
                feature_cache(data, model.encoder, cache_name(model, mirrored), mirrored=mirrored)
    except (DatasetError, WeightsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
