"""The presenter's head without mouth and eyes: face, ears, shading, nose, brows and hair.

Design units of a 720-pixel-high frame: the sprite spans HEAD_SIZE units, the face centred
at x = 110; EYE_CENTERS and MOUTH_CENTER are where workers.anchor.features draws.
"""

from __future__ import annotations

from PIL import Image

from workers.anchor.canvas import Canvas, Curve, clip, mix, shade, subtract
from workers.anchor.options import PresenterLook

HEAD_SIZE = (220, 280)
MOUTH_CENTER = (110.0, 224.0)
EYE_CENTERS = ((82.0, 141.0), (138.0, 141.0))
_FACE: tuple[Curve, ...] = (
    ((110, 46), (154, 46), (184, 78), (184, 128)),
    ((184, 128), (185, 172), (180, 204), (166, 226)),
    ((166, 226), (150, 250), (132, 262), (110, 263)),
    ((110, 263), (88, 262), (70, 250), (54, 226)),
    ((54, 226), (40, 204), (35, 172), (36, 128)),
    ((36, 128), (36, 78), (66, 46), (110, 46)),
)


def draw_head_base(c: Canvas, look: PresenterLook) -> None:
    """Draw the head, less mouth and eyes, onto `c`."""
    hair_back = c.ellipse_mask(30, 14, 190, 168)
    c.fill(hair_back, look.hair)
    for x0 in (29, 176):
        ear = c.ellipse_mask(x0, 128, x0 + 15, 178)
        c.fill(ear, shade(look.skin, 0.88))
        c.fill(
            clip(c.blur(c.ellipse_mask(x0 + 4, 136, x0 + 11, 168), 2), ear),
            shade(look.skin, 0.7),
            opacity=0.5,
        )
    face = c.path_mask(_FACE)
    c.fill(face, look.skin)
    _shade_face(c, face, look)
    _draw_nose(c, face, look)
    _draw_brows(c, look)
    _draw_hair_front(c, face, look)


def _shade_face(c: Canvas, face: Image.Image, look: PresenterLook) -> None:
    right = c.blur(c.ellipse_mask(150, 60, 230, 280), 16)
    c.fill(clip(right, face), shade(look.skin, 0.78), opacity=0.55)
    left_light = c.blur(c.ellipse_mask(55, 80, 120, 200), 20)
    c.fill(clip(left_light, face), shade(look.skin, 1.12), opacity=0.5)
    for cheek_x in (72, 148):
        blush = c.blur(c.ellipse_mask(cheek_x - 18, 178, cheek_x + 18, 204), 8)
        c.fill(clip(blush, face), mix(look.skin, (200, 90, 90), 0.35), opacity=0.3)
    for cx, _ in EYE_CENTERS:
        socket = c.blur(c.ellipse_mask(cx - 20, 128, cx + 20, 150), 5)
        c.fill(clip(socket, face), shade(look.skin, 0.8), opacity=0.35)
    jaw = c.blur(subtract(face, c.blur(c.ellipse_mask(55, 40, 165, 250), 2)), 6)
    c.fill(clip(jaw, face), shade(look.skin, 0.8), opacity=0.5)
    chin = c.blur(c.ellipse_mask(92, 244, 128, 258), 4)
    c.fill(clip(chin, face), shade(look.skin, 1.1), opacity=0.45)
    under_lip = c.blur(c.ellipse_mask(96, 238, 124, 246), 3)
    c.fill(clip(under_lip, face), shade(look.skin, 0.8), opacity=0.45)


def _draw_nose(c: Canvas, face: Image.Image, look: PresenterLook) -> None:
    side = c.blur(c.polygon_mask([(115, 150), (119, 150), (126, 190), (118, 194)]), 4)
    c.fill(clip(side, face), shade(look.skin, 0.8), opacity=0.4)
    bridge = c.blur(c.polygon_mask([(107, 150), (110, 150), (111, 186), (106, 186)]), 2.5)
    c.fill(clip(bridge, face), shade(look.skin, 1.15), opacity=0.45)
    base = c.blur(c.ellipse_mask(97, 194, 123, 206), 3)
    c.fill(clip(base, face), shade(look.skin, 0.78), opacity=0.4)
    tip = c.blur(c.ellipse_mask(103, 185, 117, 197), 2.5)
    c.fill(clip(tip, face), shade(look.skin, 1.12), opacity=0.45)
    for x0, x1 in ((99, 106), (114, 121)):
        nostril = c.blur(c.ellipse_mask(x0, 199, x1, 203), 1)
        c.fill(nostril, shade(look.skin, 0.5), opacity=0.45)
    for x0, x1 in ((92, 100), (120, 128)):
        wing = c.blur(c.ellipse_mask(x0, 190, x1, 203), 1.5)
        c.fill(clip(wing, face), shade(look.skin, 0.8), opacity=0.35)


def _draw_brows(c: Canvas, look: PresenterLook) -> None:
    for sign in (-1, 1):

        def px(x: float, s: int = sign) -> float:
            return 110 + s * (x - 110)

        brow = c.path_mask(
            (
                ((px(96), 124), (px(86), 119), (px(72), 118), (px(60), 124)),
                ((px(60), 124), (px(72), 121), (px(86), 123), (px(97), 128)),
                ((px(97), 128), (px(97), 126), (px(97), 125), (px(96), 124)),
            )
        )
        c.fill(brow, shade(look.hair, 0.9))


def _draw_hair_front(c: Canvas, face: Image.Image, look: PresenterLook) -> None:
    fringe = c.path_mask(
        (
            ((34, 132), (30, 90), (44, 40), (96, 22)),
            ((96, 22), (140, 10), (186, 36), (188, 96)),
            ((188, 96), (189, 112), (187, 124), (184, 132)),
            ((184, 132), (180, 110), (176, 90), (166, 78)),
            ((166, 78), (146, 64), (110, 62), (82, 72)),
            ((82, 72), (62, 80), (48, 96), (42, 132)),
            ((42, 132), (40, 133), (36, 133), (34, 132)),
        )
    )
    shadow = c.blur(fringe, 5)
    c.fill(clip(subtract(shadow, fringe), face), shade(look.skin, 0.6), opacity=0.6)
    c.fill(fringe, look.hair)
    for points in (
        [(70, 40), (130, 26), (170, 46), (120, 36)],
        [(60, 60), (100, 44), (150, 46), (100, 52)],
    ):
        sheen = c.blur(c.polygon_mask(points), 4)
        c.fill(clip(sheen, fringe), shade(look.hair, 1.5), opacity=0.45)
    part = c.blur(c.polygon_mask([(84, 30), (88, 30), (84, 70), (82, 70)]), 1.5)
    c.fill(clip(part, fringe), shade(look.hair, 0.6), opacity=0.45)
