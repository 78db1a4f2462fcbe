"""Reading user images: every odd input gives RGB uint8 or an ImageError that says what is wrong."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from lbi.io.images import MAX_SIDE, ImageError, as_rgb, read_image

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(ASSETS / "grace_hopper.jpg").convert("RGB")


def test_exif_rotated_photo_comes_upright(tmp_path, photo):
    stored = photo.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    stored.save(tmp_path / "sideways.jpg", exif=exif, quality=95)
    rgb = read_image(tmp_path / "sideways.jpg")
    assert rgb.shape == (photo.height, photo.width, 3)
    assert np.abs(rgb.astype(int) - np.asarray(photo, dtype=int)).mean() < 6  # JPEG noise only


def test_modes_become_rgb_uint8(tmp_path, photo):
    grey = photo.convert("L")
    grey.save(tmp_path / "grey.png")
    rgba = photo.convert("RGBA")
    rgba.putalpha(0)  # fully transparent: composited on white
    rgba.save(tmp_path / "rgba.png")
    sixteen = np.asarray(grey, np.uint16) * 257  # 16-bit, full range
    Image.fromarray(sixteen).save(tmp_path / "deep.png")
    photo.convert("P").save(tmp_path / "palette.gif")
    photo.convert("CMYK").save(tmp_path / "cmyk.jpg")
    for name in ("grey.png", "rgba.png", "deep.png", "palette.gif", "cmyk.jpg"):
        rgb = read_image(tmp_path / name)
        assert rgb.dtype == np.uint8 and rgb.shape == (photo.height, photo.width, 3), name
    assert np.all(read_image(tmp_path / "rgba.png") == 255)
    deep = read_image(tmp_path / "deep.png")
    assert np.abs(deep[..., 0].astype(int) - np.asarray(grey, int)).max() <= 1  # scaled, not clipped


def test_arrays_of_any_dtype():
    ramp = np.linspace(0, 1, 100 * 80).reshape(100, 80)
    assert as_rgb(ramp).max() == 255 and as_rgb(ramp).shape == (100, 80, 3)
    assert as_rgb((ramp * 65535).astype(np.uint16))[..., 1].max() == 255
    assert as_rgb(np.zeros((100, 80, 4), np.uint8)).min() == 255  # transparent -> white
    with pytest.raises(ImageError, match="shape"):
        as_rgb(np.zeros((100, 80, 2)))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"name,value\n1,2\n", "not an image"),
        (b"", "not an image"),
    ],
)
def test_non_images_are_refused(tmp_path, content, message):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        read_image(path)


def test_truncated_file_is_refused(tmp_path, photo):
    photo.save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated or corrupted"):
        read_image(tmp_path / "cut.jpg")


def test_size_limits(tmp_path):
    Image.new("RGB", (40, 300)).save(tmp_path / "tiny.png")
    with pytest.raises(ImageError, match="too small"):
        read_image(tmp_path / "tiny.png")
    Image.new("L", (MAX_SIDE + 1, 64)).save(tmp_path / "huge.png")
    with pytest.raises(ImageError, match="too large"):
        read_image(tmp_path / "huge.png")
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "missing.png")


@pytest.mark.slow
def test_large_photos_are_read_at_working_size_and_say_so(tmp_path, photo):
    from lbi.io.images import WORK_SIDE, read_photo

    big = photo.resize((photo.width * 5, photo.height * 5))  # 2560 x 3000
    exif = Image.Exif()
    exif[0x0112] = 6
    big.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "big.jpg", exif=exif, quality=90)
    read = read_photo(tmp_path / "big.jpg")
    assert max(read.rgb.shape[:2]) == WORK_SIDE and read.rgb.shape[0] > read.rgb.shape[1]  # upright, downscaled
    assert read.original_size == (2560, 3000) and "2560x3000 photo was analysed at" in read.note  # upright sizes
    small = np.asarray(photo.resize((read.rgb.shape[1], read.rgb.shape[0])), dtype=int)
    assert np.abs(read.rgb.astype(int) - small).mean() < 8  # the same picture
    assert read_photo(ASSETS / "grace_hopper.jpg").note is None
    deep = np.asarray(big.convert("L"), np.uint16) * 257
    Image.fromarray(deep).save(tmp_path / "deep.png")
    assert max(read_image(tmp_path / "deep.png").shape) == WORK_SIDE
    # over twice the working size, a 16-bit image is decimated in Pillow first: the picture must survive it
    ramp = np.tile(np.linspace(0, 65535, 2 * WORK_SIDE + 500).astype(np.uint16), (64, 1))
    Image.fromarray(ramp).save(tmp_path / "ramp16.png")
    row = read_image(tmp_path / "ramp16.png")[0, :, 0].astype(int)
    assert row.shape == (WORK_SIDE,) and row[0] <= 1 and row[-1] >= 254 and (np.diff(row) >= 0).all()


def test_decoder_failures_and_odd_pixels_become_image_errors(tmp_path, photo):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "x" * (ImageFile.SAFEBLOCK + 1), zip=True)  # a text chunk past Pillow's limit
    photo.save(tmp_path / "textbomb.png", pnginfo=info)
    with pytest.raises(ImageError, match="could not be decoded"):
        read_image(tmp_path / "textbomb.png")
    with pytest.raises(ImageError, match="NUL byte"):
        read_image(str(tmp_path / "a\x00b.png"))
    negative = np.full((100, 120), -5000, np.int32)
    negative[:, 60:] = 70000
    Image.fromarray(negative).save(tmp_path / "signed.tif")
    rgb = read_image(tmp_path / "signed.tif")
    assert rgb[:, :60].max() == 0 and rgb[:, 60:].min() == 255  # clipped, not wrapped
    nan = np.full((100, 120), np.nan, np.float32)
    assert as_rgb(nan).max() == 0
    assert as_rgb(np.ones((100, 120), bool)).min() == 255


def test_reading_photos_leaves_pillow_as_it_was():
    """The pixel limits are lbi's own checks: importing it changes nothing for other code in the process."""
    import subprocess
    import sys

    script = "from PIL import Image; default = Image.MAX_IMAGE_PIXELS; import lbi.io.images; "
    script += "assert Image.MAX_IMAGE_PIXELS == default, Image.MAX_IMAGE_PIXELS"
    subprocess.run([sys.executable, "-c", script], check=True)
