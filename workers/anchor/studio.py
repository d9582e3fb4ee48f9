"""The studio set, drawn once per look: back wall, light strips, a skyline video wall, the desk.

Everything here is static, so it is drawn once at 2x with Pillow, downsampled, and reused
for every frame: `studio_background` is what stands behind the presenter, `desk_layer` the
foreground that hides the presenter's lower body.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from workers.anchor.canvas import Canvas, mix, shade
from workers.anchor.options import Palette

# The skyline's buildings and windows are the same for every video: a fixed set, not a
# per-item seed, so the background can be cached and shared.
_SKYLINE_SEED = 20240412


@dataclass(frozen=True)
class StudioLayout:
    """Where the set pieces stand, in pixels of the output frame.

    Attributes:
        width, height: frame size.
        unit_px: pixels per design unit (see frame_unit).
        presenter_x: centre line of the presenter.
        screen: (x0, y0, x1, y1) of the video wall, or None when the frame is too narrow.
        desk_top_y: top edge of the desk surface.
    """

    width: int
    height: int
    unit_px: float
    presenter_x: int
    screen: tuple[int, int, int, int] | None
    desk_top_y: int


def frame_unit(*, width: int, height: int) -> float:
    """Pixels per design unit: the scene is designed for 1280x720, and a narrow (portrait or
    square) frame scales by its width so the presenter still fits."""
    return (height if width / height >= 1.2 else min(width, height)) / 720


def studio_layout(*, width: int, height: int) -> StudioLayout:
    """Place the set for a frame size: wide frames put the presenter left of a video wall,
    tall ones put the wall above the presenter when there is room."""
    unit = frame_unit(width=width, height=height)
    desk_top = round(height - 180 * unit)
    screen: tuple[int, int, int, int] | None = None
    if width / height >= 1.2:
        screen = (
            round(width * 0.585),
            round(90 * unit),
            round(width * 0.955),
            desk_top - round(110 * unit),
        )
    elif desk_top - 470 * unit - 100 * unit >= 200 * unit:
        screen = (
            round(width * 0.07),
            round(100 * unit),
            round(width * 0.93),
            desk_top - round(470 * unit),
        )
    return StudioLayout(
        width=width,
        height=height,
        unit_px=unit,
        presenter_x=round(width * (0.34 if width / height >= 1.2 else 0.5)),
        screen=screen,
        desk_top_y=desk_top,
    )


def studio_background(layout: StudioLayout, palette: Palette) -> np.ndarray:
    """The set behind the presenter, (height, width, 3) uint8."""
    image = Image.fromarray(_wall_gradient(layout, palette.background))
    _draw_panels(image, layout, palette)
    _draw_glow(image, layout, palette)
    if layout.screen is not None:
        _draw_screen(image, layout, palette)
    return np.asarray(image.convert("RGB")).copy()


def _wall_gradient(layout: StudioLayout, color: tuple[int, int, int]) -> np.ndarray:
    y = np.linspace(0.0, 1.0, layout.height, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, layout.width, dtype=np.float32)[None, :]
    # Brighter in the middle band, darker towards the ceiling, floor and sides: a lit set.
    light = 0.55 + 0.75 * np.exp(-(((y - 0.45) / 0.38) ** 2)) - 0.18 * x**2
    base = np.asarray(color, dtype=np.float32)[None, None, :] * light[..., None]
    wall: np.ndarray = np.clip(base + 6.0, 0, 255).astype(np.uint8)
    return wall


def _draw_panels(image: Image.Image, layout: StudioLayout, palette: Palette) -> None:
    unit, width = layout.unit_px, layout.width
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    panel = max(1, round(width / 9))
    for i, x in enumerate(range(0, width, panel)):
        tone = shade(palette.background, 1.12 if i % 2 else 0.9)
        draw.rectangle(
            (x, round(60 * unit), x + panel - 3, layout.desk_top_y + round(60 * unit)),
            fill=(*tone, 70),
        )
    strips = Image.new("RGBA", image.size, (0, 0, 0, 0))
    strip_draw = ImageDraw.Draw(strips)
    is_wide = width / layout.height >= 1.2
    for fraction in (0.06, 0.52, 0.985) if is_wide else (0.04, 0.96):
        x = round(width * fraction)
        strip_draw.rectangle(
            (x - 2, round(70 * unit), x + 2, layout.desk_top_y + round(50 * unit)),
            fill=(*palette.primary, 255),
        )
    strip_draw.rectangle(
        (0, round(58 * unit), width, round(61 * unit)), fill=(*palette.accent, 200)
    )
    glow = strips.filter(ImageFilter.GaussianBlur(9 * unit))
    image.paste(Image.alpha_composite(image.convert("RGBA"), overlay))
    image.paste(Image.alpha_composite(image.convert("RGBA"), glow))
    image.paste(Image.alpha_composite(image.convert("RGBA"), strips))
    _draw_ceiling_lights(image, layout)


def _draw_ceiling_lights(image: Image.Image, layout: StudioLayout) -> None:
    unit, width = layout.unit_px, layout.width
    glow = Image.new("L", image.size, 0)
    cores = Image.new("L", image.size, 0)
    glow_draw, core_draw = ImageDraw.Draw(glow), ImageDraw.Draw(cores)
    for x in range(round(width * 0.04), width, max(1, round(width / 12))):
        glow_draw.ellipse((x - 30 * unit, 4 * unit, x + 30 * unit, 46 * unit), fill=150)
        core_draw.ellipse((x - 9 * unit, 20 * unit, x + 9 * unit, 28 * unit), fill=255)
    image.paste((255, 236, 200), (0, 0), glow.filter(ImageFilter.GaussianBlur(12 * unit)))
    image.paste((255, 250, 240), (0, 0), cores.filter(ImageFilter.GaussianBlur(1.2 * unit)))


def _draw_glow(image: Image.Image, layout: StudioLayout, palette: Palette) -> None:
    """A soft pool of light behind the presenter's head, to lift them off the wall."""
    unit = layout.unit_px
    mask = Image.new("L", image.size, 0)
    cx, cy = layout.presenter_x, layout.desk_top_y - 280 * unit
    ImageDraw.Draw(mask).ellipse(
        (cx - 260 * unit, cy - 200 * unit, cx + 260 * unit, cy + 260 * unit), fill=120
    )
    mask = mask.filter(ImageFilter.GaussianBlur(90 * unit))
    light = mix(palette.background, (205, 220, 240), 0.45)
    image.paste(light, (0, 0), mask)


def _draw_screen(image: Image.Image, layout: StudioLayout, palette: Palette) -> None:
    assert layout.screen is not None
    x0, y0, x1, y1 = layout.screen
    unit = layout.unit_px
    frame = ImageDraw.Draw(image)
    bezel = round(7 * unit)
    frame.rounded_rectangle(
        (x0 - bezel, y0 - bezel, x1 + bezel, y1 + bezel), radius=round(10 * unit), fill=(14, 16, 22)
    )
    screen = _skyline(x1 - x0, y1 - y0, unit=unit, palette=palette)
    image.paste(Image.fromarray(screen), (x0, y0))


def _skyline(width: int, height: int, *, unit: float, palette: Palette) -> np.ndarray:
    """A city skyline at dusk, drawn at 2x and downsampled."""
    scale = 2
    canvas = Canvas(width, height, unit_px=1.0, supersample=scale)
    sky = _sky_gradient(width * scale, height * scale, palette)
    canvas.image = Image.fromarray(sky).convert("RGBA")
    rng = random.Random(_SKYLINE_SEED)
    horizon = height * 0.78
    for depth, (tone, lit) in enumerate((((40, 48, 78), 0.12), ((22, 26, 44), 0.3))):
        _draw_buildings(
            canvas, rng, width=width, horizon=horizon, depth=depth, tone=tone, lit=lit, unit=unit
        )
    water = canvas.polygon_mask([(0, horizon), (width, horizon), (width, height), (0, height)])
    canvas.fill(water, (16, 22, 40))
    glare = canvas.polygon_mask(
        [(width * 0.55, 0), (width * 0.75, 0), (width * 0.45, height), (width * 0.25, height)]
    )
    canvas.fill(canvas.blur(glare, 30 * unit), (255, 255, 255), opacity=0.06)
    return canvas.rgba()[..., :3].copy()


def _sky_gradient(width: int, height: int, palette: Palette) -> np.ndarray:
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top = np.asarray(mix(palette.background, (20, 40, 90), 0.5), dtype=np.float32)
    low = np.asarray((236, 132, 76), dtype=np.float32)
    sky = top + (low - top) * np.clip((t - 0.2) / 0.6, 0, 1) ** 1.6
    return np.broadcast_to(sky, (height, width, 3)).astype(np.uint8)


def _draw_buildings(
    canvas: Canvas,
    rng: random.Random,
    *,
    width: int,
    horizon: float,
    depth: int,
    tone: tuple[int, int, int],
    lit: float,
    unit: float,
) -> None:
    draw = ImageDraw.Draw(canvas.image)
    k = canvas.k
    x = -rng.uniform(0, 30) * unit
    while x < width:
        w = rng.uniform(28, 70) * unit * (1.0 if depth else 0.8)
        h = rng.uniform(0.25, 0.62 if depth else 0.5) * horizon
        top = horizon - h
        draw.rectangle((x * k, top * k, (x + w) * k, horizon * k), fill=tone)
        _draw_windows(draw, rng, box=(x, top, x + w, horizon), k=k, lit=lit, unit=unit)
        x += w + rng.uniform(2, 14) * unit


def _draw_windows(
    draw: ImageDraw.ImageDraw,
    rng: random.Random,
    *,
    box: tuple[float, float, float, float],
    k: float,
    lit: float,
    unit: float,
) -> None:
    x0, y0, x1, y1 = box
    step = 9 * unit
    y = y0 + step
    while y < y1 - step:
        x = x0 + step * 0.6
        while x < x1 - step * 0.6:
            if rng.random() < lit:
                warm = (255, 214, 140) if rng.random() < 0.8 else (200, 225, 255)
                draw.rectangle((x * k, y * k, (x + 4 * unit) * k, (y + 5 * unit) * k), fill=warm)
            x += step * 0.8
        y += step


def desk_layer(layout: StudioLayout, palette: Palette) -> np.ndarray:
    """The anchor desk in front of the presenter, (height, width, 4) uint8 RGBA."""
    unit, width, height = layout.unit_px, layout.width, layout.height
    canvas = Canvas(width, height, unit_px=1.0, supersample=2)
    top = layout.desk_top_y
    is_wide = width / height >= 1.2
    left, right = -20 * unit, width * (0.72 if is_wide else 1.0) + 20 * unit
    surface = [
        (left, top + 14 * unit),
        (left + 40 * unit, top),
        (right - 40 * unit, top),
        (right, top + 14 * unit),
    ]
    canvas.fill(canvas.polygon_mask(surface), (206, 212, 222))
    sheen = canvas.polygon_mask(
        [
            (left + 60 * unit, top + 3 * unit),
            (right - 60 * unit, top + 3 * unit),
            (right - 80 * unit, top + 6 * unit),
            (left + 80 * unit, top + 6 * unit),
        ]
    )
    canvas.fill(canvas.blur(sheen, 3 * unit), (255, 255, 255), opacity=0.7)
    front = [(left, top + 14 * unit), (right, top + 14 * unit), (right, height), (left, height)]
    canvas.fill(canvas.polygon_mask(front), shade(palette.background, 0.75))
    stripe_y = top + 18 * unit
    stripe = [
        (left, stripe_y),
        (right, stripe_y),
        (right, stripe_y + 3 * unit),
        (left, stripe_y + 3 * unit),
    ]
    canvas.fill(canvas.blur(canvas.polygon_mask(stripe), 5 * unit), palette.primary, opacity=0.7)
    canvas.fill(canvas.polygon_mask(stripe), mix(palette.primary, (255, 255, 255), 0.2))
    lip = [
        (left, top + 14 * unit),
        (right, top + 14 * unit),
        (right, top + 18 * unit),
        (left, top + 18 * unit),
    ]
    canvas.fill(canvas.polygon_mask(lip), (120, 128, 140))
    return canvas.rgba()
