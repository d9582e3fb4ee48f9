"""Mouth shapes and eye states drawn onto the head: one variant per viseme and per blink phase.

MOUTH_POSES gives each Rhubarb-style shape (workers.anchor.visemes) its lip geometry:
how wide, how open, how much teeth and tongue show.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from workers.anchor.canvas import Canvas, Color, clip, mix, shade
from workers.anchor.head import EYE_CENTERS, MOUTH_CENTER
from workers.anchor.options import PresenterLook
from workers.anchor.visemes import Shape

EYE_STATES = ("open", "half", "closed")


@dataclass(frozen=True)
class MouthPose:
    """Lip geometry of one shape, in design units.

    Attributes:
        half_width: corner to centre.
        open: gap between the lips at the centre.
        upper, lower: lip thickness at the centre.
        teeth_top, teeth_bottom: how much upper and lower teeth show.
        tongue: 0 none, 1 low, 2 raised to the teeth (l).
        smile: how far the corners rise.
    """

    half_width: float
    open: float
    upper: float = 6.0
    lower: float = 8.0
    teeth_top: float = 0.0
    teeth_bottom: float = 0.0
    tongue: int = 0
    smile: float = 1.0


MOUTH_POSES: dict[Shape, MouthPose] = {
    Shape.X: MouthPose(24, 0, smile=1.5),
    Shape.A: MouthPose(23, 0, upper=4.5, lower=6.0, smile=0.5),
    Shape.B: MouthPose(25, 4.5, teeth_top=2.5, teeth_bottom=2.0),
    Shape.C: MouthPose(24, 11, teeth_top=4.0, tongue=1),
    Shape.D: MouthPose(25, 17, teeth_top=4.5, tongue=1, smile=0.5),
    Shape.E: MouthPose(19, 11, upper=7.0, lower=9.0, teeth_top=3.0, tongue=1, smile=0),
    Shape.F: MouthPose(13, 6, upper=8.0, lower=10.0, smile=-0.5),
    Shape.G: MouthPose(24, 2.5, lower=7.0, teeth_top=4.0, smile=0.5),
    Shape.H: MouthPose(24, 12, teeth_top=4.0, tongue=2),
}


def draw_eyes(c: Canvas, state: str, look: PresenterLook) -> None:
    """Draw both eyes in `state` ("open", "half", "closed") onto the head canvas."""
    lid = shade(look.skin, 0.9)
    line = shade(look.hair, 0.55)
    for cx, cy in EYE_CENTERS:
        eye = c.path_mask(
            (
                ((cx - 15, cy + 1), (cx - 8, cy - 8), (cx + 8, cy - 8), (cx + 15, cy - 1)),
                ((cx + 15, cy - 1), (cx + 8, cy + 6), (cx - 8, cy + 6), (cx - 15, cy + 1)),
            )
        )
        if state == "closed":
            c.fill(eye, lid)
            c.fill(
                c.arc_mask((cx - 15, cy - 7, cx + 15, cy + 5), start=10, end=170, width=2.2),
                line,
            )
            continue
        c.fill(eye, (236, 232, 226))
        iris = c.ellipse_mask(cx - 6.5, cy - 6.5, cx + 6.5, cy + 6.5)
        c.fill(clip(iris, eye), (86, 62, 46))
        c.fill(clip(c.ellipse_mask(cx - 3, cy - 3, cx + 3, cy + 3), eye), (18, 12, 10))
        c.fill(
            clip(c.ellipse_mask(cx - 3.5, cy - 4.5, cx - 1, cy - 2), eye),
            (255, 255, 255),
            opacity=0.9,
        )
        top = cy - 8 if state == "open" else cy - 1.5
        if state == "half":
            cover = c.polygon_mask(
                [(cx - 16, cy - 10), (cx + 16, cy - 10), (cx + 16, top + 1), (cx - 16, top + 1)]
            )
            c.fill(clip(cover, eye), lid)
        c.fill(
            clip(
                c.blur(
                    c.polygon_mask(
                        [
                            (cx - 16, top - 2),
                            (cx + 16, top - 2),
                            (cx + 16, top + 4),
                            (cx - 16, top + 4),
                        ]
                    ),
                    1.5,
                ),
                eye,
            ),
            (0, 0, 0),
            opacity=0.25,
        )
        arc_top = top if state == "open" else cy - 4
        c.fill(
            c.arc_mask((cx - 15, arc_top, cx + 15, arc_top + 16), start=192, end=348, width=2.4),
            line,
        )
        crease = c.arc_mask((cx - 14, cy - 12, cx + 14, cy + 4), start=200, end=340, width=1.0)
        c.fill(crease, shade(look.skin, 0.7), opacity=0.6)


def draw_mouth(c: Canvas, pose: MouthPose, look: PresenterLook) -> None:
    """Draw the lips, and teeth and tongue where open, in `pose` onto the head canvas."""
    cx, cy = MOUTH_CENTER
    lip = mix(look.skin, (176, 72, 76), 0.5)
    hw, gap = pose.half_width, pose.open
    corner_y = cy - pose.smile
    top_in, bottom_in = cy - gap * 0.3, cy + gap * 0.7
    shadow = c.blur(c.ellipse_mask(cx - hw - 3, cy - 5, cx + hw + 3, bottom_in + pose.lower + 3), 3)
    c.fill(shadow, shade(look.skin, 0.8), opacity=0.35)
    if gap > 0:
        inner = c.path_mask(
            (
                (
                    (cx - hw, corner_y),
                    (cx - hw * 0.5, top_in),
                    (cx + hw * 0.5, top_in),
                    (cx + hw, corner_y),
                ),
                (
                    (cx + hw, corner_y),
                    (cx + hw * 0.6, bottom_in),
                    (cx - hw * 0.6, bottom_in),
                    (cx - hw, corner_y),
                ),
            )
        )
        c.fill(inner, (58, 18, 24))
        _draw_teeth_and_tongue(c, inner, pose, top_in=top_in, bottom_in=bottom_in)
    _draw_lips(c, pose, lip, corner_y=corner_y, top_in=top_in, bottom_in=bottom_in)


def _draw_teeth_and_tongue(
    c: Canvas, inner: Image.Image, pose: MouthPose, *, top_in: float, bottom_in: float
) -> None:
    cx = MOUTH_CENTER[0]
    hw = pose.half_width
    if pose.tongue:
        ty = bottom_in - (pose.open * 0.45 if pose.tongue == 1 else pose.open * 0.9)
        tongue = c.ellipse_mask(cx - hw * 0.55, ty, cx + hw * 0.55, bottom_in + pose.open * 0.5)
        c.fill(clip(tongue, inner), (188, 86, 92))
    teeth = (236, 233, 226)
    if pose.teeth_top:
        band = c.ellipse_mask(cx - hw * 0.8, top_in - 6, cx + hw * 0.8, top_in + pose.teeth_top)
        c.fill(clip(band, inner), teeth)
    if pose.teeth_bottom:
        band = c.ellipse_mask(
            cx - hw * 0.7, bottom_in - pose.teeth_bottom, cx + hw * 0.7, bottom_in + 6
        )
        c.fill(clip(band, inner), shade(teeth, 0.92))


def _draw_lips(
    c: Canvas, pose: MouthPose, lip: Color, *, corner_y: float, top_in: float, bottom_in: float
) -> None:
    cx = MOUTH_CENTER[0]
    hw = pose.half_width
    up = top_in - pose.upper
    upper = c.path_mask(
        (
            ((cx - hw - 1, corner_y), (cx - hw * 0.6, up + 1), (cx - 9, up - 1), (cx - 4, up)),
            ((cx - 4, up), (cx - 2, up + 1), (cx + 2, up + 1), (cx + 4, up)),
            ((cx + 4, up), (cx + 9, up - 1), (cx + hw * 0.6, up + 1), (cx + hw + 1, corner_y)),
            (
                (cx + hw + 1, corner_y),
                (cx + hw * 0.5, top_in + 1),
                (cx - hw * 0.5, top_in + 1),
                (cx - hw - 1, corner_y),
            ),
        )
    )
    down = bottom_in + pose.lower
    lower = c.path_mask(
        (
            (
                (cx - hw - 1, corner_y),
                (cx - hw * 0.6, bottom_in),
                (cx + hw * 0.6, bottom_in),
                (cx + hw + 1, corner_y),
            ),
            (
                (cx + hw + 1, corner_y),
                (cx + hw * 0.7, down),
                (cx - hw * 0.7, down),
                (cx - hw - 1, corner_y),
            ),
        )
    )
    c.fill(lower, lip)
    c.fill(
        clip(
            c.blur(c.ellipse_mask(cx - hw * 0.45, bottom_in + 1, cx + hw * 0.35, down - 2), 2),
            lower,
        ),
        shade(lip, 1.3),
        opacity=0.6,
    )
    c.fill(upper, shade(lip, 0.86))
    if pose.open <= 0:
        seam = c.mask(
            lambda d: d.line(
                c.xy(
                    [
                        (cx - hw, corner_y),
                        (cx - hw * 0.4, _seam_y(pose)),
                        (cx + hw * 0.4, _seam_y(pose)),
                        (cx + hw, corner_y),
                    ]
                ),
                fill=255,
                width=max(1, round(1.6 * c.k)),
                joint="curve",
            )
        )
        c.fill(seam, shade(lip, 0.45), opacity=0.9 if pose.upper < 5 else 0.75)
    for sign in (-1, 1):
        corner = c.blur(
            c.ellipse_mask(
                cx + sign * hw - 2.5, corner_y - 2.5, cx + sign * hw + 2.5, corner_y + 2.5
            ),
            1.2,
        )
        c.fill(corner, shade(lip, 0.5), opacity=0.6)


def _seam_y(pose: MouthPose) -> float:
    return MOUTH_CENTER[1] + 0.5 - pose.smile * 0.2
