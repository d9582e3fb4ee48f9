"""A supersampled Pillow canvas for sprites: draw shapes as coverage masks, downsample once.

Pillow's polygons and ellipses have hard edges, so everything is drawn at `supersample`
times the final size and box-filtered down, which gives anti-aliased edges. Shapes are
drawn as "L" coverage masks first so they can be blurred (soft shadows, glows) or clipped
to another shape (shading that stays inside the face) before they are filled with a colour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

Point = tuple[float, float]
Color = tuple[int, int, int]
# A cubic Bezier segment: start, control 1, control 2, end.
Curve = tuple[Point, Point, Point, Point]


class Canvas:
    """An RGBA drawing surface measured in design units (`unit_px` pixels each).

    Args:
        width, height: final size in pixels.
        unit_px: pixels per design unit (workers.anchor.studio.frame_unit for the scene).
        supersample: drawing resolution multiple (4 gives smooth edges on small sprites).
    """

    def __init__(self, width: int, height: int, *, unit_px: float, supersample: int = 4) -> None:
        self.width, self.height, self.supersample = width, height, supersample
        self.k = unit_px * supersample
        self.size = (width * supersample, height * supersample)
        self.image = Image.new("RGBA", self.size, (0, 0, 0, 0))

    def xy(self, points: Sequence[Point]) -> list[Point]:
        return [(x * self.k, y * self.k) for x, y in points]

    def box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return x0 * self.k, y0 * self.k, x1 * self.k, y1 * self.k

    def mask(self, draw: Callable[[ImageDraw.ImageDraw], None]) -> Image.Image:
        """A coverage mask ("L", supersampled) with whatever `draw` paints in 255."""
        image = Image.new("L", self.size, 0)
        draw(ImageDraw.Draw(image))
        return image

    def polygon_mask(self, points: Sequence[Point]) -> Image.Image:
        return self.mask(lambda d: d.polygon(self.xy(points), fill=255))

    def ellipse_mask(self, x0: float, y0: float, x1: float, y1: float) -> Image.Image:
        return self.mask(lambda d: d.ellipse(self.box(x0, y0, x1, y1), fill=255))

    def arc_mask(
        self, box: tuple[float, float, float, float], *, start: float, end: float, width: float
    ) -> Image.Image:
        """A stroked arc of the ellipse in `box` (design units), `width` units thick."""
        scaled = self.box(*box)
        stroke = max(1, round(width * self.k))
        return self.mask(lambda d: d.arc(scaled, start, end, fill=255, width=stroke))

    def path_mask(self, curves: Sequence[Curve]) -> Image.Image:
        return self.polygon_mask(bezier_points(curves))

    def blur(self, mask: Image.Image, radius: float) -> Image.Image:
        """`mask` blurred by a Gaussian of `radius` design units (only around what it covers)."""
        box = mask.getbbox()
        if box is None:
            return mask
        pad = round(3 * radius * self.k) + 1
        x0, y0 = max(box[0] - pad, 0), max(box[1] - pad, 0)
        x1, y1 = min(box[2] + pad, self.size[0]), min(box[3] + pad, self.size[1])
        blurred = Image.new("L", self.size, 0)
        region = mask.crop((x0, y0, x1, y1)).filter(ImageFilter.GaussianBlur(radius * self.k))
        blurred.paste(region, (x0, y0))
        return blurred

    def fill(self, mask: Image.Image, color: Color, *, opacity: float = 1.0) -> None:
        """Paint `color` over the canvas where `mask` covers it, at `opacity`."""
        box = mask.getbbox()
        if box is None:
            return
        # Painting only the covered rectangle: most shapes are small and the canvas large.
        part = mask.crop(box)
        if opacity < 1.0:
            part = part.point(lambda v: round(v * opacity))
        self.image.paste((*color, 255), box, part)

    def rgba(self) -> np.ndarray:
        """The final-size sprite, (height, width, 4) uint8 with straight alpha."""
        # Resample premultiplied, or transparent pixels bleed their black into the edges.
        small = self.image.convert("RGBa").resize((self.width, self.height), Image.Resampling.BOX)
        return np.asarray(small.convert("RGBA")).copy()


def clip(mask: Image.Image, to: Image.Image) -> Image.Image:
    """The part of `mask` inside `to` (both "L" masks of one size)."""
    return ImageChops.multiply(mask, to)


def subtract(mask: Image.Image, cut: Image.Image) -> Image.Image:
    return ImageChops.subtract(mask, cut)


def bezier_points(curves: Sequence[Curve], *, steps: int = 24) -> list[Point]:
    """Sample a chain of cubic Bezier segments into polygon points."""
    t = np.linspace(0.0, 1.0, steps, endpoint=False)[:, None]
    points: list[Point] = []
    for p0, c1, c2, p1 in curves:
        a, b, c, d = (np.asarray(p, dtype=float) for p in (p0, c1, c2, p1))
        sampled = (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t**2 * c + t**3 * d
        points.extend((float(x), float(y)) for x, y in sampled)
    points.append(curves[-1][3])
    return points


def shade(color: Color, factor: float) -> Color:
    """`color` darkened (factor < 1) or lightened towards white (factor > 1)."""
    if factor <= 1.0:
        return tuple(round(c * factor) for c in color)  # type: ignore[return-value]
    t = min(factor - 1.0, 1.0)
    return tuple(round(c + (255 - c) * t) for c in color)  # type: ignore[return-value]


def mix(first: Color, second: Color, t: float) -> Color:
    return tuple(round(a + (b - a) * t) for a, b in zip(first, second, strict=True))  # type: ignore[return-value]


def over(base: np.ndarray, sprite: np.ndarray, *, x: int, y: int) -> None:
    """Alpha-composite an RGBA sprite onto an RGB array in place, clipped to the array."""
    height, width = base.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + sprite.shape[1], width), min(y + sprite.shape[0], height)
    if x0 >= x1 or y0 >= y1:
        return
    part = sprite[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32)
    alpha = part[..., 3:4] / 255.0
    target = base[y0:y1, x0:x1].astype(np.float32)
    base[y0:y1, x0:x1] = np.rint(part[..., :3] * alpha + target * (1.0 - alpha)).astype(np.uint8)
