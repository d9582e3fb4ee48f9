"""The drawn presenter's sprites: body, head, and the mouth and eye patches the loop pastes.

All drawing happens once per look, with Pillow at 4x and box-filtered down
(workers.anchor.body, .head, .features). Each mouth shape and eye state is drawn on a copy
of the finished head and cut out as a small patch, so the frame loop only pastes rectangles
that match the face around them pixel for pixel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np

from workers.anchor.body import draw_body
from workers.anchor.canvas import Canvas, Color
from workers.anchor.features import EYE_STATES, MOUTH_POSES, draw_eyes, draw_mouth
from workers.anchor.head import HEAD_SIZE, MOUTH_CENTER, draw_head_base
from workers.anchor.options import PresenterLook
from workers.anchor.visemes import Shape

K = TypeVar("K")

HEAD_OFFSET = (130, 0)  # where the head sprite sits in body-sprite design units


@dataclass(frozen=True, eq=False)  # compared by identity: the frame loop asks "same patch?"
class Patch:
    """A rectangle of the head that changes with the mouth or eyes, in head-sprite pixels."""

    x: int
    y: int
    pixels: np.ndarray  # (h, w, 3) uint8
    inside: np.ndarray  # (h, w, 1) bool: the pixels that belong to the face


@dataclass(frozen=True)
class PresenterSprites:
    """Sprites of one look at one scale.

    Attributes:
        body: RGBA (h, w, 4) of suit, shirt, tie and neck.
        head: RGBA of the head with the rest mouth and open eyes.
        head_offset: where the head sprite sits in body-sprite pixels.
        mouths: one patch per Shape, over the head sprite.
        eyes: one patch per EYE_STATES entry, over the head sprite.
        mouth_box: (x, y, w, h) of the lips at rest, head-sprite pixels.
    """

    body: np.ndarray
    head: np.ndarray
    head_offset: tuple[int, int]
    mouths: dict[Shape, Patch]
    eyes: dict[str, Patch]
    mouth_box: tuple[int, int, int, int]


def draw_presenter(*, look: PresenterLook, tie: Color, unit_px: float) -> PresenterSprites:
    """Draw every sprite of the presenter at `unit_px` pixels per design unit."""
    body = draw_body(look, tie, unit_px)
    base = _head_canvas(unit_px)
    draw_head_base(base, look)
    with_eyes = _copy(base, partial(draw_eyes, state="open", look=look))
    with_mouth = _copy(base, partial(draw_mouth, pose=MOUTH_POSES[Shape.X], look=look))
    mouths = {
        shape: _copy(with_eyes, partial(draw_mouth, pose=pose, look=look)).rgba()
        for shape, pose in MOUTH_POSES.items()
    }
    eyes = {
        state: _copy(with_mouth, partial(draw_eyes, state=state, look=look)).rgba()
        for state in EYE_STATES
    }
    head = mouths[Shape.X]
    cx, cy = MOUTH_CENTER
    mouth_box = tuple(round(v * unit_px) for v in (cx - 27, cy - 9, 54, 20))
    return PresenterSprites(
        body=body,
        head=head,
        head_offset=(round(HEAD_OFFSET[0] * unit_px), round(HEAD_OFFSET[1] * unit_px)),
        mouths=_patches(head, mouths),
        eyes=_patches(head, eyes),
        mouth_box=mouth_box,  # type: ignore[arg-type]
    )


def _head_canvas(unit_px: float) -> Canvas:
    w, h = HEAD_SIZE
    return Canvas(round(w * unit_px), round(h * unit_px), unit_px=unit_px)


def _copy(base: Canvas, draw: Callable[[Canvas], None]) -> Canvas:
    canvas = _head_canvas(base.k / base.supersample)
    canvas.image = base.image.copy()
    draw(canvas)
    return canvas


def _patches(rest: np.ndarray, variants: dict[K, np.ndarray]) -> dict[K, Patch]:
    """Cut every variant to the one rectangle where any of them differs from the rest head."""
    changed = np.zeros(rest.shape[:2], dtype=bool)
    for pixels in variants.values():
        changed |= np.any(pixels != rest, axis=2)
    if np.any(changed & (rest[..., 3] < 255)):
        raise AssertionError(
            "a face patch reaches past the face edge; it could not be pasted opaque"
        )
    ys, xs = np.nonzero(changed)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    # Only the face pixels of the rectangle are pasted: its corners may lie off the jaw.
    inside = (rest[y0:y1, x0:x1, 3] == 255)[..., None]
    return {
        key: Patch(int(x0), int(y0), pixels[y0:y1, x0:x1, :3].copy(), inside)
        for key, pixels in variants.items()
    }
