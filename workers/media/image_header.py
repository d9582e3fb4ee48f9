"""Checking an input image before ffmpeg decodes it: real type, size, alpha, orientation, integrity.

The file's bytes decide what it is, never its name. The pixel count comes from the header
(workers.media.images.sniff_image), so a decompression bomb is refused before any pixel is
decoded; only then does Pillow decode it once, bounded, to prove the data is whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from workers.engines.base import PermanentEngineError
from workers.media.images import sniff_image

FORMAT_BY_MEDIA_TYPE = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp"}
# Pillow's name for each sniffed type; MPO is the multi-picture JPEG some cameras write
# (ffmpeg reads its first, main picture).
_PILLOW_FORMATS = {"jpeg": {"JPEG", "MPO"}, "png": {"PNG"}, "webp": {"WEBP"}}
_EXIF_ORIENTATION = 0x0112
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}  # displayed rotated by 90 degrees


@dataclass(frozen=True)
class ImageHeader:
    """A checked input image.

    Attributes:
        format: "jpeg", "png" or "webp", from the file's magic bytes.
        width, height: displayed size in pixels, after the EXIF orientation (which ffmpeg
            applies when it decodes).
        has_alpha: the image carries transparency.
    """

    format: str
    width: int
    height: int
    has_alpha: bool

    @property
    def pixels(self) -> int:
        return self.width * self.height


def inspect_image(*, path: Path, max_pixels: int) -> ImageHeader:
    """Sniff, bound and integrity-check an image.

    Args:
        path: the file to check; its name is ignored.
        max_pixels: refuse images with more pixels than this, before decoding them.

    Returns:
        What the header says, once the whole image decoded cleanly.

    Raises:
        PermanentEngineError: not a JPEG/PNG/WebP, too many pixels, animated, CMYK,
            truncated or corrupt; the message names the reason.
    """
    try:
        info = sniff_image(path, max_pixels=max_pixels)
    except Image.DecompressionBombWarning as error:  # raised when warnings are errors
        raise PermanentEngineError(f"image refused as a decompression bomb: {error}") from None
    try:
        header = _read_header(path, FORMAT_BY_MEDIA_TYPE[info.media_type])
        _decode_fully(path)
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as error:
        raise PermanentEngineError(f"the image data is truncated or corrupt: {error}") from None
    return header


def _read_header(path: Path, image_format: str) -> ImageHeader:
    with Image.open(path) as image:
        if image.format not in _PILLOW_FORMATS[image_format]:
            raise PermanentEngineError(
                f"the file starts like {image_format.upper()} but decodes as {image.format}"
            )
        if image.format != "MPO" and getattr(image, "n_frames", 1) > 1:
            raise PermanentEngineError("animated images are not supported: send a still")
        if image.mode == "CMYK":
            raise PermanentEngineError("CMYK JPEGs are not supported: convert the photo to RGB")
        width, height = image.size
        if image.getexif().get(_EXIF_ORIENTATION) in _TRANSPOSED_ORIENTATIONS:
            width, height = height, width
        return ImageHeader(image_format, width, height, image.has_transparency_data)


def _decode_fully(path: Path) -> None:
    with Image.open(path) as image:
        image.verify()  # structure and checksums (PNG CRCs)
    with Image.open(path) as image:
        image.load()  # every pixel: catches truncated and corrupt data
