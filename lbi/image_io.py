"""Reading user images safely: any file or array in, (H, W, 3) uint8 RGB out, or a clear ImageError.

Handles what real photos bring: EXIF orientation, grayscale, RGBA (composited on white), 16-bit
and float data, palettes, CMYK; refuses non-images, truncated files, images under 64 px and
images over 8000 px on a side (before decoding them, so a decompression bomb costs nothing).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

MIN_SIDE = 64
MAX_SIDE = 8000
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, not a grey half-image


class ImageError(ValueError):
    """An input that is not a usable photo; the message says why and what would work."""


def _check_size(width: int, height: int, source: str) -> None:
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"{source} is {width}x{height} px: too small to find a person in "
                         f"(at least {MIN_SIDE} px on each side)")
    if max(width, height) > MAX_SIDE:
        raise ImageError(f"{source} is {width}x{height} px: too large (at most {MAX_SIDE} px on a side); "
                         "downscale it first")


def read_image(source: str | Path | bytes, name: str | None = None) -> np.ndarray:
    """A file path or the file's bytes -> (H, W, 3) uint8 RGB, upright per its EXIF orientation.
    ``name``: how messages call the file (default: its path)."""
    name = name or ("the image" if isinstance(source, bytes) else str(source))
    if not isinstance(source, bytes) and not Path(source).is_file():
        raise ImageError(f"no such file: {source}")
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            _check_size(*image.size, name)  # the header only: nothing decoded yet
            image.load()
            image = ImageOps.exif_transpose(image)
            return pil_to_rgb(image, name)
    except UnidentifiedImageError as err:
        raise ImageError(f"{name} is not an image (or not a format Pillow reads: JPEG, PNG, WebP, BMP, TIFF, ...)") from err
    except (OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise ImageError(f"{name} could not be decoded: the file is truncated or corrupted ({err})") from err


def pil_to_rgb(image: Image.Image, source: str = "the image") -> np.ndarray:
    """Any Pillow image mode -> uint8 RGB (16-bit and float scaled by their range, alpha over white)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return as_rgb(np.asarray(image), source)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def as_rgb(array: np.ndarray, source: str = "the image") -> np.ndarray:
    """An image array (H, W), (H, W, 1|3|4) of any integer or float dtype -> (H, W, 3) uint8 RGB."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"{source} has shape {array.shape}: expected (H, W), (H, W, 3) or (H, W, 4)")
    _check_size(array.shape[1], array.shape[0], source)
    if array.dtype == np.uint8:
        out = array
    elif np.issubdtype(array.dtype, np.floating):
        scale = 255.0 if float(np.nanmax(array, initial=0)) <= 1.0 else 1.0
        out = np.clip(np.nan_to_num(array) * scale, 0, 255).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.integer):
        top = 65535 if array.max(initial=0) > 255 else 255
        out = (array.astype(np.float64) * (255.0 / top)).round().astype(np.uint8)
    else:
        raise ImageError(f"{source} has pixel type {array.dtype}: expected integers or floats")
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    elif out.shape[2] == 4:
        alpha = out[..., 3:].astype(np.float32) / 255.0
        out = (out[..., :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(out)
