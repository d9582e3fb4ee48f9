"""Caption cards (title, features, price) and the static panel, drawn once per video."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from workers.showcase.canvas import BASELINE_SHARE, Canvas, Sprite, block_height
from workers.showcase.layout import Layout
from workers.showcase.palette import RGB, Palette
from workers.showcase.text import Block, fit_text


@dataclass(frozen=True)
class CardText:
    """What the cards say, as the catalog wrote it (features and title unspelled)."""

    title: str
    features: tuple[str, ...]
    price: str
    call_to_action: str
    brand: str


@dataclass(frozen=True)
class CardSet:
    """Everything drawn once: the frame's static background, the cards, fixed overlays.

    Attributes:
        background: uint8 (H, W, 3) frame without photo or card (panel colour, brand).
        cards: ("title" | "feature" | "price", number) -> sprite in frame coordinates.
        overlays: sprites blended over the photo every frame (scrim, brand chip), in order.
        slide_px: how far a card rises while it fades in.
    """

    background: np.ndarray
    cards: dict[tuple[str, int], Sprite]
    overlays: tuple[Sprite, ...]
    slide_px: int


@dataclass(frozen=True)
class _Metrics:
    margin: int
    text_w: int
    top: int
    bottom: int
    content_top: int
    content_bottom: int
    unit: float
    is_centered: bool


def draw_cards(*, layout: Layout, palette: Palette, text: CardText) -> CardSet:
    """Pre-render the panel and every card for one video."""
    metrics = _metrics(layout, has_brand=bool(text.brand))
    cards = {("title", 0): _title_card(layout, metrics, palette, text)}
    for number, feature in enumerate(text.features, start=1):
        cards[("feature", number)] = _feature_card(
            layout, metrics, palette, feature, number, len(text.features)
        )
    cards[("price", 0)] = _price_card(layout, metrics, palette, text)
    background, overlays = _backdrop(layout, metrics, palette, text.brand)
    return CardSet(background, cards, overlays, slide_px=round(18 * metrics.unit))


def _metrics(layout: Layout, *, has_brand: bool) -> _Metrics:
    panel, unit = layout.panel, layout.scale
    share = {"landscape": 0.1, "portrait": 0.075, "square": 0.07}[layout.orientation]
    margin = round(panel.w * share)
    vertical = round(56 * unit)
    # The brand line sits at the top of a landscape column and the foot of a portrait panel.
    brand_band = round(52 * unit) if has_brand and not layout.is_overlay else 0
    is_landscape = layout.orientation == "landscape"
    return _Metrics(
        margin=margin,
        text_w=panel.w - 2 * margin,
        top=vertical,
        bottom=panel.h - vertical,
        content_top=vertical + (brand_band if is_landscape else 0),
        content_bottom=panel.h - vertical - (0 if is_landscape else brand_band),
        unit=unit,
        is_centered=not layout.is_overlay,
    )


def _place(canvas_h: float, content_h: float, metrics: _Metrics) -> float:
    """Top of a card's content: centred in a panel of its own (clear of the brand line),
    bottom-aligned over the photo."""
    if not metrics.is_centered:
        return metrics.content_bottom - content_h
    centred = (canvas_h - content_h) / 2
    return max(metrics.content_top, min(centred, metrics.content_bottom - content_h))


def _title_card(layout: Layout, m: _Metrics, palette: Palette, text: CardText) -> Sprite:
    canvas, u = Canvas(layout.panel.w, layout.panel.h), m.unit
    title = fit_text(
        text.title, max_w=m.text_w, max_lines=3, size=round(54 * u), min_size=round(28 * u)
    )
    bar_h, gap = round(6 * u), round(26 * u)
    y = _place(layout.panel.h, bar_h + gap + block_height(title), m)
    canvas.rounded_rect(
        (m.margin, y, m.margin + round(64 * u), y + bar_h), radius=bar_h / 2, color=palette.accent
    )
    canvas.block(title, x=m.margin, y=y + bar_h + gap, color=palette.text, bold=True)
    return _in_frame(canvas, layout)


def _feature_card(
    layout: Layout, m: _Metrics, palette: Palette, feature: str, number: int, total: int
) -> Sprite:
    canvas, u = Canvas(layout.panel.w, layout.panel.h), m.unit
    numeral = Block((f"{number:02d}",), round(72 * u), round(72 * u))
    of_total = Block((f"/ {total:02d}",), round(26 * u), round(26 * u))
    body = fit_text(
        feature, max_w=m.text_w, max_lines=4, size=round(46 * u), min_size=round(26 * u)
    )
    rule_h, gap = round(4 * u), round(24 * u)
    content_h = block_height(numeral) + gap + rule_h + gap + block_height(body)
    y = _place(layout.panel.h, content_h, m)
    canvas.block(numeral, x=m.margin, y=y, color=palette.accent, bold=True)
    numeral_w = canvas.text_width(numeral.lines[0], size=numeral.size, bold=True)
    # The "/ 04" sits on the numeral's baseline.
    baseline_shift = BASELINE_SHARE * (numeral.size - of_total.size)
    canvas.block(
        of_total,
        x=m.margin + numeral_w + 12 * u,
        y=y + baseline_shift,
        color=palette.text,
        opacity=0.55,
    )
    y += block_height(numeral) + gap
    canvas.rounded_rect(
        (m.margin, y, m.margin + round(44 * u), y + rule_h),
        radius=rule_h / 2,
        color=palette.accent,
        opacity=0.9,
    )
    canvas.block(body, x=m.margin, y=y + rule_h + gap, color=palette.text)
    return _in_frame(canvas, layout)


def _price_card(layout: Layout, m: _Metrics, palette: Palette, text: CardText) -> Sprite:
    canvas, u = Canvas(layout.panel.w, layout.panel.h), m.unit
    title = fit_text(
        text.title, max_w=m.text_w, max_lines=2, size=round(28 * u), min_size=round(18 * u)
    )
    price = fit_text(
        text.price, max_w=m.text_w, max_lines=1, size=round(104 * u), min_size=round(40 * u)
    )
    pill = _Pill.fit(text.call_to_action, max_w=m.text_w, unit=u)
    gap = round(18 * u)
    content_h = block_height(title) + gap + block_height(price) + (2 * gap + pill.h if pill else 0)
    y = _place(layout.panel.h, content_h, m)
    y = canvas.block(title, x=m.margin, y=y, color=palette.text, opacity=0.8) + gap
    y = canvas.block(price, x=m.margin, y=y, color=palette.accent, bold=True) + 2 * gap
    if pill:
        pill.draw(canvas, x=m.margin, y=y, fill=palette.accent, ink=palette.background)
    return _in_frame(canvas, layout)


@dataclass(frozen=True)
class _Pill:
    """A call-to-action button: one line of text on a fully rounded accent shape."""

    label: Block
    pad_x: float
    pad_y: float

    @classmethod
    def fit(cls, text: str, *, max_w: float, unit: float) -> _Pill | None:
        if not text:
            return None
        pad_x, pad_y = 26 * unit, 14 * unit
        label = fit_text(
            text,
            max_w=max_w - 2 * pad_x,
            max_lines=1,
            size=round(28 * unit),
            min_size=round(18 * unit),
        )
        return cls(label, pad_x, pad_y)

    @property
    def h(self) -> float:
        return block_height(self.label) + 2 * self.pad_y

    def draw(self, canvas: Canvas, *, x: float, y: float, fill: RGB, ink: RGB) -> None:
        width = canvas.text_width(self.label.lines[0], size=self.label.size) + 2 * self.pad_x
        canvas.rounded_rect((x, y, x + width, y + self.h), radius=self.h / 2, color=fill)
        canvas.block(self.label, x=x + self.pad_x, y=y + self.pad_y, color=ink)


def _backdrop(
    layout: Layout, m: _Metrics, palette: Palette, brand: str
) -> tuple[np.ndarray, tuple[Sprite, ...]]:
    """The static frame background, and the overlays that must go over a moving photo."""
    background = np.empty((layout.height, layout.width, 3), np.uint8)
    background[:] = palette.background
    if layout.is_overlay:
        scrim = Canvas(layout.panel.w, layout.panel.h)
        scrim.vertical_ramp(
            top=0, solid_from=round(layout.panel.h * 0.4), color=palette.background, opacity=0.92
        )
        overlays = [_in_frame(scrim, layout)]
        if brand:
            overlays.append(_brand_chip(layout, m, palette, brand))
        return background, tuple(overlays)
    _draw_seam(background, layout, palette.accent)
    if brand:
        sprite = _brand_line(layout, m, palette, brand)
        _stamp(background, sprite)
    return background, ()


def _draw_seam(background: np.ndarray, layout: Layout, accent: RGB) -> None:
    """A thin accent line along the photo's edge.

    The panel itself stays flat: H.264 at the default CRF bands a dark gradient, and the
    bands shift visibly where a card's macroblocks are re-encoded.
    """
    panel, seam = layout.panel, max(2, round(4 * layout.scale))
    if layout.orientation == "landscape":
        background[:, panel.x : panel.x + seam] = accent
    else:
        background[panel.y : panel.y + seam, :] = accent


def _brand_line(layout: Layout, m: _Metrics, palette: Palette, brand: str) -> Sprite:
    canvas, u = Canvas(layout.panel.w, layout.panel.h), m.unit
    size = round(18 * u)
    # Landscape: top of the column; portrait: the panel's foot, away from the photo seam.
    y = m.top if layout.orientation == "landscape" else m.bottom - size
    dot = 5 * u
    mid = y + 0.55 * size
    canvas.rounded_rect(
        (m.margin, mid - dot, m.margin + 2 * dot, mid + dot), radius=dot, color=palette.accent
    )
    canvas.tracked_line(
        _logotype(brand),
        x=m.margin + 2 * dot + 10 * u,
        y=y,
        size=size,
        tracking=_tracking(brand, size),
        color=palette.text,
        opacity=0.75,
    )
    return _in_frame(canvas, layout)


def _brand_chip(layout: Layout, m: _Metrics, palette: Palette, brand: str) -> Sprite:
    u, size = m.unit, round(18 * m.unit)
    measure = Canvas(1, 1)
    label_w = measure.tracked_line(
        _logotype(brand), x=0, y=0, size=size, tracking=_tracking(brand, size), color=palette.text
    )
    pad_x, pad_y = 16 * u, 9 * u
    width, height = label_w + 2 * pad_x, 1.06 * size + 2 * pad_y
    x, y = m.margin, round(m.margin * 0.7)
    canvas = Canvas(round(x + width + 2), round(y + height + 2))
    canvas.rounded_rect(
        (x, y, x + width, y + height), radius=height / 2, color=palette.background, opacity=0.78
    )
    canvas.tracked_line(
        _logotype(brand),
        x=x + pad_x,
        y=y + pad_y,
        size=size,
        tracking=_tracking(brand, size),
        color=palette.text,
    )
    return canvas.sprite()


def _logotype(brand: str) -> str:
    # Letter-spaced capitals read as a logotype; Chinese brands stay as written.
    return brand.upper() if brand.isascii() else brand


def _tracking(brand: str, size: int) -> float:
    return 0.18 * size if brand.isascii() else 0.05 * size


def _in_frame(canvas: Canvas, layout: Layout) -> Sprite:
    sprite = canvas.sprite()
    return dataclasses.replace(sprite, x=sprite.x + layout.panel.x, y=sprite.y + layout.panel.y)


def _stamp(background: np.ndarray, sprite: Sprite) -> None:
    h, w = sprite.alpha.shape[:2]
    region = background[sprite.y : sprite.y + h, sprite.x : sprite.x + w]
    blended = region.astype(np.uint16) * sprite.inverse_alpha // 255 + sprite.premultiplied
    region[:] = np.minimum(blended, 255).astype(np.uint8)
