"""The presenter's body: neck, suit jacket with lapels and rim light, shirt, collar and tie.

Drawn once per look in design units of a 720-pixel-high frame: the sprite spans
BODY_SIZE units with the neck centred at x = 240.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from workers.anchor.canvas import Canvas, Color, clip, mix, shade, subtract
from workers.anchor.options import PresenterLook

BODY_SIZE = (480, 470)


def draw_body(look: PresenterLook, tie: Color, unit_px: float) -> np.ndarray:
    """The body sprite, RGBA (h, w, 4), at `unit_px` pixels per design unit."""
    w, h = BODY_SIZE
    c = Canvas(round(w * unit_px), round(h * unit_px), unit_px=unit_px)
    _draw_neck(c, look)
    jacket = c.path_mask(
        (
            ((198, 286), (150, 294), (100, 300), (62, 318)),
            ((62, 318), (28, 334), (14, 372), (10, 420)),
            ((10, 420), (8, 440), (7, 458), (6, 475)),
            ((6, 475), (160, 475), (320, 475), (474, 475)),
            ((474, 475), (473, 458), (472, 440), (470, 420)),
            ((470, 420), (466, 372), (452, 334), (418, 318)),
            ((418, 318), (380, 300), (330, 294), (282, 286)),
            ((282, 286), (260, 292), (220, 292), (198, 286)),
        )
    )
    c.fill(jacket, look.suit)
    _shade_jacket(c, jacket, look)
    _draw_shirt_and_tie(c, look, tie)
    _draw_lapels(c, look)
    return c.rgba()


def _draw_neck(c: Canvas, look: PresenterLook) -> None:
    neck = c.path_mask(
        (
            ((208, 200), (210, 250), (206, 280), (198, 300)),
            ((198, 300), (225, 312), (255, 312), (282, 300)),
            ((282, 300), (274, 280), (270, 250), (272, 200)),
            ((272, 200), (250, 196), (230, 196), (208, 200)),
        )
    )
    c.fill(neck, shade(look.skin, 0.93))
    under_jaw = c.blur(c.ellipse_mask(195, 225, 285, 285), 9)
    c.fill(clip(under_jaw, neck), shade(look.skin, 0.62), opacity=0.85)
    side = c.blur(c.polygon_mask([(258, 200), (280, 200), (284, 305), (262, 305)]), 6)
    c.fill(clip(side, neck), shade(look.skin, 0.7), opacity=0.5)


def _shade_jacket(c: Canvas, jacket: Image.Image, look: PresenterLook) -> None:
    for points in (
        [(40, 345), (74, 340), (84, 475), (44, 475)],
        [(440, 345), (406, 340), (396, 475), (436, 475)],
    ):
        seam = c.blur(c.polygon_mask(points), 9)
        c.fill(clip(seam, jacket), shade(look.suit, 0.55), opacity=0.7)
    top_light = c.blur(c.ellipse_mask(60, 300, 220, 360), 18)
    c.fill(clip(top_light, jacket), shade(look.suit, 1.25), opacity=0.45)
    # A cool rim light along the shoulders separates the dark suit from the dark set.
    rim = subtract(jacket, c.blur(_shifted(c, jacket, dy=7), 3))
    c.fill(clip(c.blur(rim, 2), jacket), mix(look.suit, (190, 210, 240), 0.55), opacity=0.8)
    low = c.blur(c.polygon_mask([(0, 440), (480, 440), (480, 480), (0, 480)]), 16)
    c.fill(clip(low, jacket), shade(look.suit, 0.6), opacity=0.6)
    square = c.polygon_mask(
        [(318, 404), (348, 404), (344, 398), (338, 391), (332, 398), (326, 393)]
    )
    c.fill(square, (240, 240, 235))
    pocket = c.polygon_mask([(314, 404), (352, 404), (352, 407), (314, 407)])
    c.fill(pocket, shade(look.suit, 0.6))


def _shifted(c: Canvas, mask: Image.Image, *, dy: float) -> Image.Image:
    moved = Image.new("L", mask.size, 0)
    moved.paste(mask, (0, round(dy * c.k)))
    return moved


def _draw_shirt_and_tie(c: Canvas, look: PresenterLook, tie: Color) -> None:
    shirt = c.polygon_mask([(198, 290), (282, 290), (262, 445), (240, 470), (218, 445)])
    c.fill(shirt, look.shirt)
    c.fill(
        clip(c.blur(c.polygon_mask([(198, 290), (282, 290), (276, 330), (204, 330)]), 8), shirt),
        shade(look.shirt, 0.75),
        opacity=0.6,
    )
    blade = c.polygon_mask([(232, 332), (248, 332), (259, 440), (240, 462), (221, 440)])
    c.fill(blade, tie)
    c.fill(
        clip(c.blur(c.polygon_mask([(240, 332), (248, 332), (259, 440), (240, 462)]), 4), blade),
        shade(tie, 0.7),
        opacity=0.6,
    )
    for y in range(350, 460, 16):
        stripe = c.polygon_mask([(215, y), (265, y - 12), (265, y - 8), (215, y + 4)])
        c.fill(clip(stripe, blade), shade(tie, 1.3), opacity=0.35)
    knot = c.path_mask(
        (
            ((228, 310), (236, 306), (244, 306), (252, 310)),
            ((252, 310), (251, 322), (249, 330), (247, 336)),
            ((247, 336), (242, 338), (238, 338), (233, 336)),
            ((233, 336), (231, 330), (229, 322), (228, 310)),
        )
    )
    c.fill(knot, shade(tie, 0.92))
    c.fill(clip(c.blur(c.ellipse_mask(234, 308, 248, 322), 2), knot), shade(tie, 1.3), opacity=0.5)
    for points in (
        [(202, 284), (233, 309), (227, 334), (212, 345), (196, 300)],
        [(278, 284), (247, 309), (253, 334), (268, 345), (284, 300)],
    ):
        collar = c.polygon_mask(points)
        c.fill(c.blur(collar, 3), (0, 0, 0), opacity=0.25)
        c.fill(collar, shade(look.shirt, 1.04))
        c.fill(
            clip(c.blur(c.polygon_mask(points[2:]), 4), collar),
            shade(look.shirt, 0.82),
            opacity=0.6,
        )


def _draw_lapels(c: Canvas, look: PresenterLook) -> None:
    for sign in (-1, 1):

        def px(x: float, s: int = sign) -> float:
            return 240 + s * (240 - x)

        lapel = c.polygon_mask(
            [
                (px(198), 288),
                (px(186), 292),
                (px(170), 334),
                (px(180), 344),
                (px(164), 354),
                (px(226), 446),
                (px(238), 464),
                (px(220), 440),
            ]  # fmt: skip
        )
        c.fill(c.blur(lapel, 4), (0, 0, 0), opacity=0.35)
        c.fill(lapel, shade(look.suit, 1.1))
        edge = c.polygon_mask(
            [
                (px(198), 288),
                (px(220), 440),
                (px(238), 464),
                (px(236), 464),
                (px(216), 440),
                (px(194), 289),
            ]
        )
        c.fill(edge, shade(look.suit, 0.55))
        notch = c.polygon_mask([(px(170), 334), (px(180), 344), (px(176), 346), (px(166), 337)])
        c.fill(notch, shade(look.suit, 0.5))
    button = c.ellipse_mask(235, 452, 245, 462)
    c.fill(button, shade(look.suit, 0.45))
