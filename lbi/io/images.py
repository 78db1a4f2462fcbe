"""Reading user images safely: any file or array in, (H, W, 3) uint8 RGB out, or a clear ImageError.

Handles what real photos bring: EXIF orientation, grayscale, RGBA (composited on white), 16-bit,
32-bit and float data, palettes, CMYK. Refuses non-images, truncated or corrupted files (whatever
the decoder trips over), images under 64 px and images over 8000 px on a side (before decoding
them, so a decompression bomb costs nothing). Large photos are decoded and analysed at a working
size of at most 2048 px on a side (JPEGs are decoded at reduced size directly), which bounds the
memory and time any accepted upload can cost.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MIN_SIDE = 64
MAX_SIDE = 8000
#: photos larger than this on their longer side are downscaled to it on reading
WORK_SIDE = 2048
DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
#: the EXIF tag of a photo's orientation
ORIENTATION = 0x0112


class ImageError(ValueError):
    """An input that is not a usable photo; the message says why and what would work."""


@dataclass
class Photo:
    """A decoded photo: its pixels at working size and the size of the file it came from."""

    rgb: np.ndarray  # (H, W, 3) uint8, upright
    original_size: tuple[int, int]  # (w, h) of the upright photo in the file, before any downscaling

    @property
    def note(self) -> str | None:
        """What the user should know about how the photo was read, if anything."""
        w, h = self.original_size
        if max(w, h) <= max(self.rgb.shape[:2]):
            return None
        return f"the {w}x{h} photo was analysed at {self.rgb.shape[1]}x{self.rgb.shape[0]}"


def _check_size(width: int, height: int, source: str) -> None:
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            f"{source} is {width}x{height} px: too small to find a person in (at least {MIN_SIDE} px on each side)"
        )
    if max(width, height) > MAX_SIDE:
        raise ImageError(
            f"{source} is {width}x{height} px: too large (at most {MAX_SIDE} px on a side); downscale it first"
        )


def read_photo(source: str | Path | bytes, name: str | None = None, max_side: int = WORK_SIDE) -> Photo:
    """A file path or the file's bytes -> Photo: upright per its EXIF orientation, at most
    ``max_side`` px on its longer side. ``name``: how messages call the file (default: its path)."""
    name = name or ("the image" if isinstance(source, (bytes, bytearray)) else str(source))
    if not isinstance(source, (bytes, bytearray)):
        if "\x00" in str(source):
            raise ImageError("the file name contains a NUL byte")
        if not Path(source).is_file():
            raise ImageError(f"no such file: {source}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # more pixels than MAX_SIDE^2: too large
            with Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source) as image:
                _check_size(*image.size, name)  # the header only: nothing decoded yet
                original = image.size
                orientation = image.getexif().get(ORIENTATION, 1)
                rgb = _decode(image, max_side, name)
    except ImageError:
        raise
    except Image.DecompressionBombWarning:
        raise ImageError(f"{name} is too large (at most {MAX_SIDE} px on a side); downscale it first") from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name} is not an image (or not a format Pillow reads: JPEG, PNG, WebP, BMP, TIFF, ...)"
        ) from None
    except Image.DecompressionBombError:
        raise ImageError(f"{name} claims more pixels than it may decode to (a decompression bomb?)") from None
    except Exception as err:  # noqa: BLE001 - whatever a decoder trips over in untrusted bytes is the file's fault
        reason = " ".join(str(err).split())[:160] or type(err).__name__
        raise ImageError(f"{name} could not be decoded: the file is truncated or corrupted ({reason})") from None
    if orientation != 1:  # upright as the camera held it: the decoded pixels, transposed as EXIF says
        decoded = Image.fromarray(rgb)
        decoded.getexif()[ORIENTATION] = orientation
        rgb = np.ascontiguousarray(np.asarray(ImageOps.exif_transpose(decoded)))
        if orientation in (5, 6, 7, 8):  # turned by 90 degrees
            original = original[::-1]
    return Photo(rgb, (int(original[0]), int(original[1])))


def read_image(source: str | Path | bytes, name: str | None = None, max_side: int = WORK_SIDE) -> np.ndarray:
    """:func:`read_photo`'s pixels: (H, W, 3) uint8 RGB."""
    return read_photo(source, name, max_side).rgb


def _decode(image: Image.Image, max_side: int, name: str) -> np.ndarray:
    """Decodes at most about ``max_side`` px on the longer side: JPEGs at a reduced DCT scale, other
    formats in full and then reduced at once; deep modes are brought to 8 bits before resizing."""
    scale = max_side / max(image.size)
    if image.mode in DEEP_MODES:
        step = max(1, int(1 / scale))  # decimate in Pillow before converting: no full-size array copies
        if step > 1:
            image = image.resize((max(1, image.width // step), max(1, image.height // step)), Image.Resampling.NEAREST)
        small = _to_rgb8(np.asarray(image))
        if scale < 1:
            reduced = Image.fromarray(small)
            reduced.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
            small = np.asarray(reduced)
        return np.ascontiguousarray(small)
    if scale < 1:
        # reducing_gap 1: JPEGs decode at the smallest DCT scale still >= max_side (a 7999 px photo at 1/2),
        # other formats are reduced by an integer factor first; both keep the full-size pixels out of memory
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=1.0)
    else:
        image.load()
    return pil_to_rgb(image, name)


def pil_to_rgb(image: Image.Image, source: str = "the image") -> np.ndarray:
    """Any Pillow image mode -> uint8 RGB (16-bit and float scaled by their range, alpha over white)."""
    if image.mode in DEEP_MODES:
        return as_rgb(np.asarray(image), source)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def as_rgb(array: np.ndarray, source: str = "the image") -> np.ndarray:
    """An image array (H, W), (H, W, 1|3|4) of any integer or float dtype -> (H, W, 3) uint8 RGB.

    16-bit and wider integers are scaled from 0-65535 (values outside are clipped, so negative
    32-bit pixels are black, not wrapped), floats from 0-1 (or 0-255 when larger), NaN is black.
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"{source} has shape {array.shape}: expected (H, W), (H, W, 3) or (H, W, 4)")
    _check_size(array.shape[1], array.shape[0], source)
    if not (array.dtype == bool or np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ImageError(f"{source} has pixel type {array.dtype}: expected integers or floats")
    return _to_rgb8(array)


def _to_rgb8(array: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 3|4) integers or floats -> (H, W, 3) uint8 (see :func:`as_rgb`)."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.dtype == np.uint8:
        out = array
    elif array.dtype == bool:
        out = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        finite = np.nan_to_num(array.astype(np.float32, copy=False), nan=0.0, posinf=255.0, neginf=0.0)
        scale = 255.0 if float(finite.max(initial=0)) <= 1.0 else 1.0
        out = np.clip(finite * scale, 0, 255).astype(np.uint8)
    else:  # integers
        wide = array.max(initial=0) > 255
        out = (
            (np.clip(array, 0, 65535).astype(np.uint16) >> 8).astype(np.uint8)
            if wide
            else np.clip(array, 0, 255).astype(np.uint8)
        )
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    elif out.shape[2] == 4:
        alpha = out[..., 3:].astype(np.float32) / 255.0
        out = (out[..., :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(out)
