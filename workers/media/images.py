"""Sniffing and bounding images before anything decodes them (bombs, non-images)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workers.engines.base import PermanentEngineError

MAX_INPUT_PIXELS = 40_000_000

_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"RIFF", "image/webp"),  # confirmed by the WEBP tag below
)


@dataclass(frozen=True)
class ImageInfo:
    media_type: str
    width: int
    height: int


def sniff_image(path: Path, *, max_pixels: int = MAX_INPUT_PIXELS) -> ImageInfo:
    """The image's real type and size, read from its header only.

    Raises:
        PermanentEngineError: not a JPEG/PNG/WebP, unreadable, or more than `max_pixels`.
    """
    head = _head(path)
    media_type = next((t for magic, t in _MAGIC if head.startswith(magic)), None)
    if media_type == "image/webp" and head[8:12] != b"WEBP":
        media_type = None
    if media_type is None:
        raise PermanentEngineError("not an image: only JPEG, PNG and WebP are accepted")
    width, height = _header_size(path)
    if width * height > max_pixels:
        raise PermanentEngineError(
            f"image of {width}x{height} exceeds the {max_pixels:,}-pixel limit "
            "(decompression bomb?)"
        )
    return ImageInfo(media_type, width, height)


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(16)


def _header_size(path: Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:  # reads the header only; no pixel is decoded
            return image.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise PermanentEngineError(f"unreadable image: {error}") from None
