"""Where the photo and the cards go in a frame, per orientation (16:9, 9:16, 1:1)."""

from __future__ import annotations

from dataclasses import dataclass

# Wider than this is landscape (photo left, cards right); narrower than 1/this is portrait
# (photo on top, cards below); in between the cards lie over the lower part of the photo.
_SPLIT_ASPECT = 1.25
_LANDSCAPE_PHOTO_SHARE = 0.58
_PORTRAIT_PHOTO_SHARE = 0.6
_OVERLAY_PANEL_SHARE = 0.5
_PORTRAIT_TEXT_BOOST = 1.15
_SQUARE_TEXT_SHRINK = 0.85


@dataclass(frozen=True)
class Rect:
    """An axis-aligned box in pixels; `x`, `y` is the top-left corner."""

    x: int
    y: int
    w: int
    h: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of a (height, width, ...) array."""
        return slice(self.y, self.y + self.h), slice(self.x, self.x + self.w)


@dataclass(frozen=True)
class Layout:
    """The frame split into the moving photo and the card panel.

    Attributes:
        width, height: frame size in pixels.
        orientation: "landscape", "portrait" or "square".
        photo: where the pan-and-zoom shots play.
        panel: where cards are drawn; inside `photo` when `is_overlay`.
        is_overlay: the panel lies over the photo, so cards carry their own scrim and are
            blended every frame instead of only when they change.
        scale: text and spacing scale, 1.0 for a 720-pixel short side.
    """

    width: int
    height: int
    orientation: str
    photo: Rect
    panel: Rect
    is_overlay: bool
    scale: float


def plan_layout(*, width: int, height: int) -> Layout:
    """Split a width x height frame into photo and card panel.

    Returns:
        Landscape: a photo column on the left (square up to the frame height), cards on the
        right. Portrait: a photo band on top, cards below. Square-ish: a full-frame photo
        with cards over its lower part.
    """
    aspect = width / height
    scale = min(width, height) / 720
    if aspect >= _SPLIT_ASPECT:
        photo_w = _even(min(height, _LANDSCAPE_PHOTO_SHARE * width))
        photo = Rect(0, 0, photo_w, height)
        panel = Rect(photo_w, 0, width - photo_w, height)
        return Layout(width, height, "landscape", photo, panel, False, scale)
    if aspect <= 1 / _SPLIT_ASPECT:
        photo_h = _even(min(width, _PORTRAIT_PHOTO_SHARE * height))
        photo = Rect(0, 0, width, photo_h)
        panel = Rect(0, photo_h, width, height - photo_h)
        # Portrait ads are watched on phones, held close: larger type reads better there.
        return Layout(width, height, "portrait", photo, panel, False, scale * _PORTRAIT_TEXT_BOOST)
    panel_h = _even(_OVERLAY_PANEL_SHARE * height)
    photo = Rect(0, 0, width, height)
    panel = Rect(0, height - panel_h, width, panel_h)
    # Cards share the square with the product: smaller type keeps the product in view.
    return Layout(width, height, "square", photo, panel, True, scale * _SQUARE_TEXT_SHRINK)


def _even(value: float) -> int:
    return int(round(value / 2)) * 2
