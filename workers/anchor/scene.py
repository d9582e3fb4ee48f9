"""A scene ready for the frame loop: a static frame plus the few sprites that change per frame.

The static frame holds the studio, the presenter at rest and the graphics. What moves is
the presenter: for each body offset the loop restores one precomputed tile (studio, body,
desk and graphics already composited), pastes the head at its offset (opaque pixels copied,
only the anti-aliased rim blended), then the mouth and eye patches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from workers.anchor.canvas import over
from workers.anchor.options import AnchorOptions, Palette, PresenterLook
from workers.anchor.overlay import lower_third, station_bug
from workers.anchor.presenter import Patch, PresenterSprites, draw_presenter
from workers.anchor.studio import StudioLayout, desk_layer, studio_background, studio_layout
from workers.anchor.visemes import Shape

# The largest head and body offsets the motion plan may ask for, in design units.
MAX_HEAD_SHIFT = 6
MAX_BODY_SHIFT = 3


@dataclass(frozen=True)
class HeadSprite:
    """A head ready to paste: opaque pixels are copied, rim pixels blended.

    Attributes:
        rgb: (h, w, 3) colours.
        opaque: (h, w, 1) bool, alpha == 255.
        rim_y, rim_x: coordinates of the partly transparent pixels.
        rim_color: their colours premultiplied by alpha, (n, 3) float32.
        rim_keep: 1 - alpha for them, (n, 1) float32.
    """

    rgb: np.ndarray
    opaque: np.ndarray
    rim_y: np.ndarray
    rim_x: np.ndarray
    rim_color: np.ndarray
    rim_keep: np.ndarray

    @classmethod
    def from_rgba(cls, rgba: np.ndarray) -> HeadSprite:
        alpha = rgba[..., 3]
        rim_y, rim_x = np.nonzero((alpha > 0) & (alpha < 255))
        a = alpha[rim_y, rim_x].astype(np.float32)[:, None] / 255.0
        return cls(
            rgb=np.ascontiguousarray(rgba[..., :3]),
            opaque=(alpha == 255)[..., None],
            rim_y=rim_y,
            rim_x=rim_x,
            rim_color=rgba[rim_y, rim_x, :3].astype(np.float32) * a,
            rim_keep=1.0 - a,
        )

    def paste(self, frame: np.ndarray, *, x: int, y: int) -> None:
        h, w = self.rgb.shape[:2]
        view = frame[y : y + h, x : x + w]
        np.copyto(view, self.rgb, where=self.opaque)
        under = view[self.rim_y, self.rim_x].astype(np.float32)
        view[self.rim_y, self.rim_x] = (under * self.rim_keep + self.rim_color + 0.5).astype(
            np.uint8
        )


@dataclass
class Rig:
    """The moving presenter of a drawn scene.

    Attributes:
        head: the head sprite; head_xy in Scene is its rest position.
        body: the body sprite (RGBA) and body_xy its rest position, frame pixels.
        background, foreground: the layers behind and in front of the presenter.
        region: (x0, y0, x1, y1), the frame area a body tile covers (all reachable poses).
        is_head_under_foreground: the graphics overlap where the head can go, so they are
            composited again after the head (never for the built-in 16:9 layout).
    """

    head: HeadSprite
    body: np.ndarray
    body_xy: tuple[int, int]
    background: np.ndarray
    foreground: np.ndarray
    region: tuple[int, int, int, int]
    is_head_under_foreground: bool
    tiles: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    def body_tile(self, dx: int, dy: int) -> np.ndarray:
        """Studio, body at (dx, dy) and foreground over `region`, built on first use."""
        tile = self.tiles.get((dx, dy))
        if tile is None:
            x0, y0, x1, y1 = self.region
            tile = self.background[y0:y1, x0:x1].copy()
            over(tile, self.body, x=self.body_xy[0] + dx - x0, y=self.body_xy[1] + dy - y0)
            over(tile, self.foreground[y0:y1, x0:x1], x=0, y=0)
            self.tiles[(dx, dy)] = tile
        return tile


@dataclass
class Scene:
    """What the frame loop needs.

    Attributes:
        base: the static frame, (height, width, 3) uint8.
        mouths, eyes: patches over the head; their x, y are relative to `head_xy`.
        head_xy: the head's rest position, frame pixels ((0, 0) for a still scene, whose
            patches are then in frame pixels).
        mouth_box: (x, y, w, h) of the lips at rest, frame pixels (for tests and probes).
        rig: the moving presenter, or None for a still scene (photo mode).
    """

    base: np.ndarray
    mouths: dict[Shape, Patch]
    eyes: dict[str, Patch]
    head_xy: tuple[int, int]
    mouth_box: tuple[int, int, int, int]
    rig: Rig | None = None


def foreground_layer(
    *, options: AnchorOptions, headline: str, label: str, disclosure: str, with_desk: bool
) -> np.ndarray:
    """Desk (drawn mode), lower third and station bug as one (height, width, 4) RGBA layer."""
    width, height = options.width, options.height
    layer = np.zeros((height, width, 4), dtype=np.uint8)
    if with_desk:
        layer[:] = desk_layer(studio_layout(width=width, height=height), options.colors)
    third, third_xy = lower_third(
        width=width, height=height, headline=headline, label=label, palette=options.colors
    )
    bug, bug_xy = station_bug(
        width=width,
        height=height,
        station=options.station,
        disclosure=disclosure,
        palette=options.colors,
    )
    for sprite, (x, y) in ((third, third_xy), (bug, bug_xy)):
        _over_rgba(layer, sprite, x=x, y=y)
    return layer


def _over_rgba(base: np.ndarray, sprite: np.ndarray, *, x: int, y: int) -> None:
    """Porter-Duff "over" of an RGBA sprite onto an RGBA layer, in place."""
    h, w = sprite.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, base.shape[1]), min(y + h, base.shape[0])
    src = sprite[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32) / 255.0
    dst = base[y0:y1, x0:x1].astype(np.float32) / 255.0
    sa, da = src[..., 3:4], dst[..., 3:4]
    out_a = sa + da * (1.0 - sa)
    out_rgb = (src[..., :3] * sa + dst[..., :3] * da * (1.0 - sa)) / np.maximum(out_a, 1e-6)
    base[y0:y1, x0:x1, :3] = np.rint(out_rgb * 255.0).astype(np.uint8)
    base[y0:y1, x0:x1, 3:] = np.rint(out_a * 255.0).astype(np.uint8)


@lru_cache(maxsize=4)
def studio_parts(
    width: int, height: int, palette: Palette, look: PresenterLook
) -> tuple[StudioLayout, np.ndarray, PresenterSprites]:
    """Background and presenter sprites for one look and size (cached: the slow part)."""
    layout = studio_layout(width=width, height=height)
    background = studio_background(layout, palette)
    sprites = draw_presenter(look=look, tie=palette.primary, unit_px=layout.unit_px)
    background.setflags(write=False)
    return layout, background, sprites


def drawn_scene(*, options: AnchorOptions, headline: str, label: str, disclosure: str) -> Scene:
    """The studio scene with the drawn presenter."""
    layout, background, sprites = studio_parts(
        options.width, options.height, options.colors, options.presenter
    )
    foreground = foreground_layer(
        options=options, headline=headline, label=label, disclosure=disclosure, with_desk=True
    )
    unit = layout.unit_px
    body_h, body_w = sprites.body.shape[:2]
    body_xy = (layout.presenter_x - body_w // 2, layout.desk_top_y - round(440 * unit))
    head_xy = (body_xy[0] + sprites.head_offset[0], body_xy[1] + sprites.head_offset[1])
    head = HeadSprite.from_rgba(sprites.head)
    margin = round(MAX_HEAD_SHIFT * unit) + 1
    head_h, head_w = sprites.head.shape[:2]
    region = _clip_box(
        (
            min(body_xy[0], head_xy[0]) - margin,
            min(body_xy[1], head_xy[1]) - margin,
            max(body_xy[0] + body_w, head_xy[0] + head_w) + margin,
            min(max(body_xy[1] + body_h, head_xy[1] + head_h) + margin, layout.height),
        ),
        width=options.width,
        height=options.height,
    )
    base = background.copy()
    over(base, sprites.body, x=body_xy[0], y=body_xy[1])
    head.paste(base, x=head_xy[0], y=head_xy[1])
    over(base, foreground, x=0, y=0)
    hx0, hy0 = head_xy[0] - margin, head_xy[1] - margin
    reach = foreground[
        max(hy0, 0) : hy0 + head_h + 2 * margin, max(hx0, 0) : hx0 + head_w + 2 * margin
    ]
    rig = Rig(
        head=head,
        body=sprites.body,
        body_xy=body_xy,
        background=background,
        foreground=foreground,
        region=region,
        is_head_under_foreground=bool(np.any(reach[..., 3])),
    )
    mx, my, mw, mh = sprites.mouth_box
    return Scene(
        base=base,
        mouths=sprites.mouths,
        eyes=sprites.eyes,
        head_xy=head_xy,
        mouth_box=(head_xy[0] + mx, head_xy[1] + my, mw, mh),
        rig=rig,
    )


def _clip_box(
    box: tuple[int, int, int, int], *, width: int, height: int
) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
