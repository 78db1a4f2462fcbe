"""The prepared-dataset format shared by Human3.6M, MPI-INF-3DHP and LBI-Synth.

<root>/meta.json          name, format, crop size (w, h), splits {split: [subjects]}, 2D kinds
<root>/annotations.npz    one row per sample (T rows):
    subject, action, camera  (T,) str      frame (T,) int
    joints3d   (T, 17, 3) float32  camera coordinates, mm, H36M-17 order
    joints2d_<kind> (T, 17, 2) float32  image pixels (kind: gt, cpn, sh, ...)
    center, scale (T, 2) float32  the crop (HRNet convention: scale in units of 200 px)
    image_size (T, 2) int (w, h)    intrinsics (T, 4) float32 fx, fy, cx, cy (NaN if unknown)
<root>/crops/0000000.jpg  the RGB crop of sample i, crop-sized, cut out through the affine (unless meta
                          ``images`` is false: pose-only data, 2D/3D pairs with no picture)
<root>/silhouettes/0000000.png  optional (meta ``silhouettes``): the person's mask in the crop, 0/255
<root>/features/<name>.npy  optional cache of frozen-encoder features, float16 (T, C, H, W)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..crop.affine import Crop, get_affine_transform
from ..io.files import atomic_path, atomic_write_text

FORMAT_VERSION = 1
META, ANNOTATIONS, CROPS, SILHOUETTES = "meta.json", "annotations.npz", "crops", "silhouettes"
STRING_FIELDS = ("subject", "action", "camera")
INT_FIELDS = ("frame", "image_size", "variant", "cut_row", "source_index")
ARRAY_FIELDS = {
    "frame": (),
    "joints3d": (17, 3),
    "center": (2,),
    "scale": (2,),
    "image_size": (2,),
    "intrinsics": (4,),
    "joints2d_gt": (17, 2),
}


class DatasetError(ValueError):
    """A prepared dataset (or a source file) that is missing or not in the expected format."""


@dataclass
class DatasetMeta:
    name: str
    crop_size: tuple[int, int]  # (w, h)
    splits: dict[str, list[str]]  # split -> subjects
    inputs_2d: list[str] = field(default_factory=lambda: ["gt"])
    units: str = "mm"
    format: int = FORMAT_VERSION
    info: dict = field(default_factory=dict)
    #: every sample has a silhouette (synthetic data): <root>/silhouettes/<index>.png
    silhouettes: bool = False
    #: every sample has its crop; False for pose-only data (2D/3D pairs, no picture)
    images: bool = True


def crop_path(root: Path, index: int) -> Path:
    return root / CROPS / f"{index:07d}.jpg"


def silhouette_path(root: Path, index: int) -> Path:
    return root / SILHOUETTES / f"{index:07d}.png"


PROGRESS = ".progress.npz"


class DatasetWriter:
    """Writes a prepared dataset sample by sample; :meth:`close` writes the annotations atomically.

    :meth:`checkpoint` records the rows so far (and how far the producer got); a writer opened
    with ``resume=True`` continues from the last checkpoint (``progress``), so a long render that
    was stopped loses at most what came after it.
    """

    def __init__(self, root: str | Path, meta: DatasetMeta, jpeg_quality: int = 92, resume: bool = False) -> None:
        self.root = Path(root)
        self.meta = meta
        self.quality = jpeg_quality
        if meta.images:
            (self.root / CROPS).mkdir(parents=True, exist_ok=True)
        else:
            self.root.mkdir(parents=True, exist_ok=True)
        self.rows: dict[str, list] = {}
        self.progress = 0
        saved = self.root / PROGRESS
        if resume and saved.is_file():
            with np.load(saved, allow_pickle=False) as state:
                if str(state["meta"]) == json.dumps(asdict(meta)):
                    self.rows = {k[4:]: list(state[k]) for k in state.files if k.startswith("row:")}
                    self.progress = int(state["progress"])

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            k: np.asarray(v) if k in STRING_FIELDS else np.asarray(v, dtype=np.int32 if k in INT_FIELDS else np.float32)
            for k, v in self.rows.items()
        }

    def checkpoint(self, progress: int) -> None:
        """Saves the rows written so far and the producer's ``progress`` (e.g. jobs done), atomically."""
        self.progress = progress
        with atomic_path(self.root / PROGRESS) as tmp, open(tmp, "wb") as handle:
            np.savez(
                handle,
                meta=json.dumps(asdict(self.meta)),
                progress=progress,
                **{f"row:{k}": v for k, v in self._arrays().items()},
            )

    def __len__(self) -> int:
        return len(self.rows.get("frame", []))

    def add(self, crop_rgb: np.ndarray | bytes | None, silhouette: np.ndarray | bytes | None = None, **fields) -> int:
        """Adds one sample: its crop (uint8 RGB array, or already-encoded JPEG bytes; None for pose-only
        data), its silhouette (bool / uint8 mask or PNG bytes; required when ``meta.silhouettes``) and its fields."""
        index = len(self)
        if self.meta.images != (crop_rgb is not None):
            raise DatasetError(
                f"{self.root}: meta.images is {self.meta.images}, so every sample "
                f"{'needs a' if self.meta.images else 'takes no'} crop"
            )
        if self.meta.silhouettes != (silhouette is not None):
            raise DatasetError(
                f"{self.root}: meta.silhouettes is {self.meta.silhouettes}, so every sample "
                f"{'needs' if self.meta.silhouettes else 'takes no'} silhouette"
            )
        # plain writes: a dataset is valid only once close() has written annotations.npz last
        if crop_rgb is not None:
            data = crop_rgb if isinstance(crop_rgb, bytes) else encode_jpeg(crop_rgb, self.quality)
            crop_path(self.root, index).write_bytes(data)
        if silhouette is not None:
            silhouette_path(self.root, index).parent.mkdir(exist_ok=True)
            silhouette_path(self.root, index).write_bytes(
                silhouette if isinstance(silhouette, bytes) else encode_mask(silhouette)
            )
        for key, value in fields.items():
            self.rows.setdefault(key, []).append(value)
        return index

    def close(self) -> Path:
        missing = [k for k in (*STRING_FIELDS, *ARRAY_FIELDS) if k not in self.rows]
        if missing:
            raise DatasetError(f"cannot write {self.root}: samples lack {missing}")
        arrays = self._arrays()
        with atomic_path(self.root / ANNOTATIONS) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        atomic_write_text(self.root / META, json.dumps(asdict(self.meta), indent=2))
        (self.root / PROGRESS).unlink(missing_ok=True)
        return self.root


def encode_mask(mask: np.ndarray) -> bytes:
    """A (h, w) mask (bool, or uint8 where > 127 is inside) -> 1-bit-looking 0/255 PNG bytes."""
    mask = np.asarray(mask)
    inside = mask if mask.dtype == bool else mask > 127
    ok, buf = cv2.imencode(".png", inside.astype(np.uint8) * 255, [cv2.IMWRITE_PNG_BILEVEL, 1])
    if not ok:
        raise DatasetError("PNG encoding failed")
    return buf.tobytes()


def encode_jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise DatasetError("JPEG encoding failed")
    return buf.tobytes()


class PreparedData:
    """Read access to a prepared dataset: annotations in memory, crops decoded on demand."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(
                f"dataset folder not found: {self.root} (prepare it first; see the README's Training section)"
            )
        meta_path, ann_path = self.root / META, self.root / ANNOTATIONS
        for path in (meta_path, ann_path):
            if not path.is_file():
                raise DatasetError(f"{path} is missing: {self.root} is not a prepared lbi dataset")
        try:
            meta = json.loads(meta_path.read_text())
            self.meta = DatasetMeta(**{**meta, "crop_size": tuple(meta["crop_size"])})
        except (json.JSONDecodeError, TypeError, KeyError) as err:
            raise DatasetError(f"{meta_path}: not a valid lbi meta.json ({err})") from err
        if self.meta.format != FORMAT_VERSION:
            raise DatasetError(f"{meta_path}: format {self.meta.format}, this lbi reads format {FORMAT_VERSION}")
        try:
            with np.load(ann_path, allow_pickle=False) as data:
                self.ann = {k: data[k] for k in data.files}
        except (OSError, ValueError) as err:
            raise DatasetError(f"{ann_path}: not a readable annotations.npz ({err})") from err
        self._validate(ann_path)
        self._matrices: np.ndarray | None = None

    def _validate(self, path: Path) -> None:
        n = len(self.ann.get("frame", []))
        for key in (*STRING_FIELDS, *ARRAY_FIELDS, *(f"joints2d_{k}" for k in self.meta.inputs_2d)):
            if key not in self.ann:
                raise DatasetError(f"{path} lacks the array {key!r}")
            shape = ARRAY_FIELDS.get(key, (17, 2) if key.startswith("joints2d_") else ())
            if self.ann[key].shape != (n, *shape):
                raise DatasetError(f"{path}: {key!r} has shape {self.ann[key].shape}, expected {(n, *shape)}")

    def __len__(self) -> int:
        return len(self.ann["frame"])

    def indices(self, split: str) -> np.ndarray:
        """Sample indices of a split (its subjects, as listed in meta.json)."""
        if split not in self.meta.splits:
            raise DatasetError(f"{self.root}: no split {split!r}; it has {sorted(self.meta.splits)}")
        return np.flatnonzero(np.isin(self.ann["subject"], self.meta.splits[split]))

    def crop(self, index: int) -> Crop:
        return Crop(
            self.ann["center"][index].astype(np.float64),
            self.ann["scale"][index].astype(np.float64),
            self.meta.crop_size,
        )

    def to_crop_matrices(self) -> np.ndarray:
        """(T, 2, 3) image -> crop affine of every sample, computed once."""
        if self._matrices is None:
            self._matrices = np.stack(
                [
                    get_affine_transform(c, s, self.meta.crop_size)
                    for c, s in zip(self.ann["center"].astype(np.float64), self.ann["scale"].astype(np.float64))
                ]
            )
        return self._matrices

    def silhouette(self, index: int) -> np.ndarray:
        """The person's mask in the crop of sample ``index``: (h, w) bool."""
        if not self.meta.silhouettes:
            raise DatasetError(f"{self.root} has no silhouettes (only synthetic data sets do)")
        path = silhouette_path(self.root, index)
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path.is_file() else None
        if mask is None:
            raise DatasetError(f"{path}: missing or not a readable PNG")
        return mask > 127

    def image(self, index: int) -> np.ndarray:
        """The crop of sample ``index`` as uint8 RGB (h, w, 3)."""
        if not self.meta.images:
            raise DatasetError(f"{self.root} is pose-only data: it has no crops")
        path = crop_path(self.root, index)
        data = np.fromfile(path, np.uint8) if path.is_file() else np.empty(0, np.uint8)
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if bgr is None:
            raise DatasetError(f"{path}: missing or not a readable JPEG")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
