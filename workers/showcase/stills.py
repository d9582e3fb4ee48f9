"""Product stills: refused unless a real, bounded image; decoded once at the size the shots need."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from workers.engines.base import PermanentEngineError
from workers.media.images import sniff_image
from workers.showcase.motion import MAX_ZOOM


def load_still(*, path: Path, area_w: int, area_h: int) -> np.ndarray:
    """Decode a still for pan-and-zoom over a area_w x area_h photo area.

    The header is checked first (type, pixel count), so a decompression bomb or a
    non-image is refused before any pixel is decoded. The still is then reduced once to
    what the deepest zoom samples, so per-frame warps read no more pixels than they show.

    Args:
        path: a JPEG, PNG or WebP file (any name: upstream artifacts have no extension).
        area_w, area_h: size of the photo area the still will cover, in pixels.

    Returns:
        RGB uint8 (H, W, 3), C-contiguous; transparency is flattened onto white.

    Raises:
        PermanentEngineError: not an image, over the pixel limit, or undecodable.
    """
    info = sniff_image(path)
    factor = max(area_w / info.width, area_h / info.height) * MAX_ZOOM
    target = (math.ceil(info.width * factor), math.ceil(info.height * factor))
    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                image.draft("RGB", target)  # decode at 1/2, 1/4, 1/8 when that is enough
            pixels = _flatten(ImageOps.exif_transpose(image))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise PermanentEngineError(f"cannot decode still {path.name}: {error}") from None
    if factor < 1 and pixels.shape[1] > target[0]:
        pixels = cv2.resize(pixels, target, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(pixels)


def _flatten(image: Image.Image) -> np.ndarray:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))
