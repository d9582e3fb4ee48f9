"""A premultiplied RGBA drawing surface for cards: Pillow draws coverage masks, numpy composites."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from workers.showcase.palette import RGB
from workers.showcase.text import Block, font

# Where the first baseline sits below a block's top, and the descender room under the last,
# as shares of the font size: Noto CJK's ascender leaves a tall gap above Latin capitals.
BASELINE_SHARE = 0.84
_DESCENT_SHARE = 0.22


@dataclass(frozen=True)
class Sprite:
    """A drawn layer ready to blend: premultiplied colour and alpha, cropped to what it covers.

    Attributes:
        x, y: top-left corner in the coordinates of the canvas it came from.
        premultiplied: uint8 (h, w, 3), colour times alpha.
        alpha: uint8 (h, w, 3), coverage repeated per channel for cv2's per-element ops.
        inverse_alpha: 255 - alpha.
    """

    x: int
    y: int
    premultiplied: np.ndarray
    alpha: np.ndarray
    inverse_alpha: np.ndarray


class Canvas:
    """Draws text and shapes by coverage, composited "over" in premultiplied float."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._color = np.zeros((height, width, 3), np.float32)
        self._alpha = np.zeros((height, width), np.float32)

    def block(
        self,
        block: Block,
        *,
        x: float,
        y: float,
        color: RGB,
        opacity: float = 1.0,
        bold: bool = False,
    ) -> float:
        """Draw wrapped lines with their top at `y`; return the y just below them."""
        mask, draw = self._mask()
        face = font(block.size)
        stroke = max(1, round(block.size / 36)) if bold else 0
        for i, line in enumerate(block.lines):
            baseline = y + BASELINE_SHARE * block.size + i * block.line_h
            draw.text(
                (x, baseline),
                line,
                font=face,
                fill=255,
                anchor="ls",
                stroke_width=stroke,
                stroke_fill=255,
            )
        self._composite(mask, color, opacity)
        return y + block_height(block)

    def tracked_line(
        self,
        text: str,
        *,
        x: float,
        y: float,
        size: int,
        tracking: float,
        color: RGB,
        opacity: float = 1.0,
    ) -> float:
        """Draw one line letter-spaced by `tracking` pixels, top at `y`; return its width.

        Drawn glyph by glyph: the font has no thin-space glyphs to space letters with.
        """
        mask, draw = self._mask()
        face, baseline, left = font(size), y + BASELINE_SHARE * size, x
        for char in text:
            draw.text((left, baseline), char, font=face, fill=255, anchor="ls")
            left += face.getlength(char) + tracking
        self._composite(mask, color, opacity)
        return left - tracking - x

    def text_width(self, text: str, *, size: int, bold: bool = False) -> float:
        stroke = max(1, round(size / 36)) if bold else 0
        return font(size).getlength(text) + 2 * stroke

    def rounded_rect(
        self,
        box: tuple[float, float, float, float],
        *,
        radius: float,
        color: RGB,
        opacity: float = 1.0,
    ) -> None:
        mask, draw = self._mask()
        draw.rounded_rectangle(box, radius=radius, fill=255)
        self._composite(mask, color, opacity)

    def vertical_ramp(self, *, top: int, solid_from: int, color: RGB, opacity: float) -> None:
        """Fill from `top` down with `color`, transparent at `top` and opaque from `solid_from`."""
        rows = np.arange(self.height, dtype=np.float32)
        ramp = np.clip((rows - top) / max(solid_from - top, 1), 0, 1)
        ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep: no visible edge where the ramp starts
        coverage = np.repeat((ramp * opacity)[:, None], self.width, axis=1)
        self._over(coverage, color)

    def sprite(self) -> Sprite:
        """The drawing so far, cropped to its covered pixels, as uint8 arrays."""
        rows = np.flatnonzero(self._alpha.max(axis=1) > 0)
        cols = np.flatnonzero(self._alpha.max(axis=0) > 0)
        if rows.size == 0:
            rows = cols = np.array([0])
        top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        color = self._color[top:bottom, left:right]
        alpha = np.repeat(self._alpha[top:bottom, left:right, None], 3, axis=2)
        alpha8 = np.rint(alpha * 255).astype(np.uint8)
        return Sprite(
            x=int(left),
            y=int(top),
            premultiplied=np.ascontiguousarray(np.rint(color).clip(0, 255).astype(np.uint8)),
            alpha=alpha8,
            inverse_alpha=255 - alpha8,
        )

    def _mask(self) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        mask = Image.new("L", (self.width, self.height), 0)
        return mask, ImageDraw.Draw(mask)

    def _composite(self, mask: Image.Image, color: RGB, opacity: float) -> None:
        box = mask.getbbox()
        if box is None:
            return
        left, top, right, bottom = box
        coverage = np.asarray(mask.crop(box), np.float32) * (opacity / 255)
        self._over(coverage, color, rows=slice(top, bottom), cols=slice(left, right))

    def _over(
        self,
        coverage: np.ndarray,
        color: RGB,
        *,
        rows: slice = slice(None),
        cols: slice = slice(None),
    ) -> None:
        # Only the element's bounding box is touched: cards are drawn from a dozen elements.
        keep = 1 - coverage
        region = self._color[rows, cols]
        region *= keep[:, :, None]
        region += coverage[:, :, None] * np.asarray(color, np.float32)
        self._alpha[rows, cols] = self._alpha[rows, cols] * keep + coverage


def block_height(block: Block) -> float:
    """Visual height of a text block: first-line cap top to last-line descender."""
    return (BASELINE_SHARE + _DESCENT_SHARE) * block.size + (len(block.lines) - 1) * block.line_h
