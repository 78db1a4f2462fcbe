"""Re-exports for code written against ``lbi.image_io`` before it moved to :mod:`lbi.io.images` (the README's API);
new code imports from there."""

from .io.images import ImageError, Photo, read_image, read_photo

__all__ = ["ImageError", "Photo", "read_image", "read_photo"]
