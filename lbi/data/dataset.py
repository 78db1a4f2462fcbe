"""PyTorch access to a prepared dataset, and the frozen-encoder feature cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ..camera import normalize_screen_coordinates
from ..crop import image_to_tensor
from ..encoders import ImageEncoder
from .format import DatasetError, PreparedData


class PoseDataset(Dataset):
    """One split of a prepared dataset as model inputs and targets.

    Each item: ``joints2d`` (17, 2) crop-normalised screen coordinates of the chosen 2D input,
    ``joints2d_px`` (17, 2) the same in crop pixels, ``target`` (17, 3) root-relative 3D joints in
    metres (camera axes), ``index`` the sample's row, and either ``image`` (3, h, w) in [0, 1] or,
    with a feature cache, ``features`` (C, H, W).
    """

    def __init__(self, data: PreparedData | str | Path, split: str, inputs_2d: str = "gt",
                 features: np.ndarray | None = None, load_images: bool = True) -> None:
        self.data = data if isinstance(data, PreparedData) else PreparedData(data)
        key = f"joints2d_{inputs_2d}"
        if key not in self.data.ann:
            raise DatasetError(f"{self.data.root} has no 2D input {inputs_2d!r}; it has {self.data.meta.inputs_2d}")
        self.rows = self.data.indices(split)
        if len(self.rows) == 0:
            raise DatasetError(f"{self.data.root}: split {split!r} is empty")
        self.split = split
        w, h = self.data.meta.crop_size
        m = self.data.to_crop_matrices()[self.rows]  # (n, 2, 3)
        px = np.einsum("nij,nkj->nki", m[:, :, :2], self.data.ann[key][self.rows].astype(np.float64)) + m[:, None, :, 2]
        self.joints2d_px = px.astype(np.float32)
        self.joints2d = normalize_screen_coordinates(px, w, h).astype(np.float32)
        joints3d = self.data.ann["joints3d"][self.rows].astype(np.float32)
        self.target = (joints3d - joints3d[:, :1]) / 1000.0
        self.features = features
        self.load_images = load_images

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        row = int(self.rows[k])
        item = {"joints2d": torch.from_numpy(self.joints2d[k]), "joints2d_px": torch.from_numpy(self.joints2d_px[k]),
                "target": torch.from_numpy(self.target[k]), "index": torch.tensor(row)}
        if self.features is not None:
            item["features"] = torch.from_numpy(np.asarray(self.features[row], dtype=np.float32))
        elif self.load_images:
            item["image"] = image_to_tensor(self.data.image(row))[0]
        return item


class _Images(Dataset):
    def __init__(self, data: PreparedData) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> torch.Tensor:
        return image_to_tensor(self.data.image(i))[0]


def weights_digest(module: nn.Module) -> str:
    """Short hash of a module's weights: names a feature cache after the exact encoder."""
    digest = hashlib.sha1()
    for key, value in sorted(module.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:10]


def cache_name(encoder_name: str, encoder: ImageEncoder) -> str:
    """``<encoder>-<weights digest>``: the feature cache of exactly these encoder weights."""
    return f"{encoder_name}-{weights_digest(encoder)}"


def feature_cache(data: PreparedData, encoder: ImageEncoder, name: str, batch_size: int = 64,
                  device: str | torch.device = "cpu", workers: int = 0, create: bool = True) -> np.ndarray | None:
    """float16 features of every crop, (T, C, H, W), computed once into <root>/features/<name>.npy.

    The file is built under a temporary name and renamed when complete, so an interrupted run
    never leaves a cache that looks finished. Only valid for an encoder that stays frozen.
    With ``create=False`` a missing (or stale) cache gives None instead of being computed.
    """
    path = Path(data.root) / "features" / f"{name}.npy"
    if path.is_file():
        cached = np.load(path, mmap_mode="r")
        if cached.shape[0] == len(data):
            return cached
        if create:
            path.unlink()  # stale: the dataset changed
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder = encoder.to(device).eval()
    w, h = data.meta.crop_size
    with torch.no_grad():
        probe = encoder(torch.zeros(1, 3, h, w, device=device))
    tmp = path.with_name(f".{path.name}.tmp")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(len(data), *probe.shape[1:]))
    loader = DataLoader(_Images(data), batch_size=batch_size, num_workers=workers)
    start = 0
    with torch.inference_mode():
        for images in tqdm(loader, desc=f"caching {name} features", unit="batch"):
            feats = encoder(images.to(device)).float().cpu().numpy()
            out[start:start + len(feats)] = feats.astype(np.float16)
            start += len(feats)
    out.flush()
    del out
    tmp.replace(path)
    return np.load(path, mmap_mode="r")
