"""Broadcast graphics over the picture: the lower third with the headline and the station bug.

Text is set with the bundled Noto Sans CJK font, so Latin, Spanish and Chinese headlines
render alike. Headlines wrap at spaces (Latin) or between characters (Chinese) onto at most
two lines; what still does not fit is cut at a word and ends with an ellipsis.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from workers.anchor.options import Palette
from workers.anchor.studio import frame_unit
from workers.media.fonts import cjk_font_path

MAX_LINES = 2
ELLIPSIS = "…"

# The label over the headline bar, per primary language subtag and item kind.
_LABELS: dict[str, dict[str, str]] = {
    "news": {"en": "NEWS", "es": "NOTICIAS", "zh": "新闻"},
    "product": {"en": "PRODUCT", "es": "PRODUCTO", "zh": "产品"},
}
# A visible disclosure that the presenter is synthetic.
_DISCLOSURE = {
    "en": "AI-generated presenter",
    "es": "Presentador generado con IA",
    "zh": "AI 生成主播",
}


@cache
def font(size_px: int) -> ImageFont.FreeTypeFont:
    """The bundled CJK font at `size_px` pixels."""
    return ImageFont.truetype(str(cjk_font_path()), size_px)


def primary_language(language: str) -> str:
    return language.replace("_", "-").split("-", 1)[0].lower()


def label_for(*, language: str, kind: str) -> str:
    labels = _LABELS.get(kind, _LABELS["news"])
    return labels.get(primary_language(language), labels["en"])


def disclosure_for(*, language: str) -> str:
    return _DISCLOSURE.get(primary_language(language), _DISCLOSURE["en"])


def _is_wide_char(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def split_tokens(text: str) -> list[str]:
    """Break points for wrapping: words with their trailing space, single CJK characters.

    Closing punctuation stays with the token before it, so no line starts with "，" or "。".
    """
    tokens: list[str] = []
    for char in " ".join(text.split()):
        is_closing = unicodedata.category(char) in ("Po", "Pe", "Pf") and char not in "¿¡"
        if tokens and (
            is_closing
            or (
                not _is_wide_char(char)
                and not tokens[-1].endswith(" ")
                and not _is_wide_char(tokens[-1][-1])
            )
        ):
            tokens[-1] += char
        else:
            tokens.append(char)
    return tokens


def wrap_text(
    text: str, *, face: ImageFont.FreeTypeFont, max_width_px: float, max_lines: int = MAX_LINES
) -> list[str]:
    """Greedy wrap into at most `max_lines` lines; the last one ends in "…" if text is left over."""
    lines: list[str] = []
    current = ""
    tokens = split_tokens(text)
    for token in tokens:
        candidate = current + token
        if current and face.getlength(candidate.rstrip()) > max_width_px:
            lines.append(current.rstrip())
            if len(lines) == max_lines:
                return [
                    _fit(line, face, max_width_px)
                    for line in _with_ellipsis(lines, face, max_width_px)
                ]
            current = token
        else:
            current = candidate
    if current.strip():
        lines.append(current.rstrip())
    # A single word wider than the bar (a long URL) is cut too, rather than overflow it.
    return [_fit(line, face, max_width_px) for line in lines]


def _fit(line: str, face: ImageFont.FreeTypeFont, max_width_px: float) -> str:
    if face.getlength(line) <= max_width_px:
        return line
    while line and face.getlength(line + ELLIPSIS) > max_width_px:
        line = line[:-1]
    return line + ELLIPSIS


def _with_ellipsis(
    lines: list[str], face: ImageFont.FreeTypeFont, max_width_px: float
) -> list[str]:
    last = lines[-1]
    while last and face.getlength(last + ELLIPSIS) > max_width_px:
        tokens = split_tokens(last)
        last = "".join(tokens[:-1]).rstrip() if len(tokens) > 1 else last[:-1]
    lines[-1] = last.rstrip(" ,;:，、；：") + ELLIPSIS
    return lines


def lower_third(
    *, width: int, height: int, headline: str, label: str, palette: Palette
) -> tuple[np.ndarray, tuple[int, int]]:
    """The lower third: a label tab, an accent rule and a bar with the headline.

    Returns:
        (RGBA sprite, (x, y) of its top-left corner in the frame).
    """
    unit = frame_unit(width=width, height=height)
    bar_x, bar_w = round(width * 0.05), round(width * 0.9)
    size = round(32 * unit)
    face = font(size)
    lines = wrap_text(headline, face=face, max_width_px=bar_w - 48 * unit) or [""]
    if (
        len(lines) > 1
        and face.getlength(lines[-1]) < bar_w * 0.2
        and face.getlength(" ".join(lines)) < bar_w * 1.05
    ):
        face = font(
            round(size * 0.85)
        )  # a short orphan second line: fit one line at a smaller size
        lines = wrap_text(headline, face=face, max_width_px=bar_w - 48 * unit)
    line_h = round(face.size * 1.32)
    tab_h = round(34 * unit)
    bar_h = round(22 * unit) + line_h * len(lines)
    sprite = Image.new(
        "RGBA", (bar_w + round(12 * unit), tab_h + bar_h + round(12 * unit)), (0, 0, 0, 0)
    )
    _draw_shadow(sprite, (0, tab_h, bar_w, tab_h + bar_h), unit)
    draw = ImageDraw.Draw(sprite)
    draw.rectangle((0, tab_h, bar_w, tab_h + bar_h), fill=(*_bar_color(palette), 236))
    draw.rectangle((0, tab_h, bar_w, tab_h + round(4 * unit)), fill=(*palette.accent, 255))
    _draw_tab(draw, label, tab_h=tab_h, unit=unit, palette=palette)
    y = tab_h + round(13 * unit)
    for line in lines:
        draw.text((round(24 * unit), y), line, font=face, fill=(*palette.text, 255))
        y += line_h
    top = height - round(32 * unit) - sprite.height
    return np.asarray(sprite).copy(), (bar_x, top)


def _bar_color(palette: Palette) -> tuple[int, int, int]:
    r, g, b = palette.background
    return round(r * 0.8), round(g * 0.8), round(b * 0.8)


def _draw_tab(
    draw: ImageDraw.ImageDraw, label: str, *, tab_h: int, unit: float, palette: Palette
) -> None:
    face = font(round(21 * unit))
    tab_w = round(face.getlength(label) + 36 * unit)
    draw.rectangle((0, 0, tab_w, tab_h), fill=(*palette.primary, 255))
    draw.text(
        (round(18 * unit), tab_h / 2),
        label,
        font=face,
        fill=(*palette.text, 255),
        anchor="lm",
        stroke_width=max(1, round(0.6 * unit)),
        stroke_fill=(*palette.text, 255),
    )


def _draw_shadow(sprite: Image.Image, box: tuple[int, int, int, int], unit: float) -> None:
    mask = Image.new("L", sprite.size, 0)
    x0, y0, x1, y1 = box
    ImageDraw.Draw(mask).rectangle(
        (x0 + 4 * unit, y0 + 6 * unit, x1 + 4 * unit, y1 + 6 * unit), fill=110
    )
    mask = mask.filter(ImageFilter.GaussianBlur(5 * unit))
    sprite.paste((0, 0, 0, 255), (0, 0), mask)


def station_bug(
    *, width: int, height: int, station: str, disclosure: str, palette: Palette
) -> tuple[np.ndarray, tuple[int, int]]:
    """The station logo in the top-right corner, with the AI-presenter disclosure under it.

    Returns:
        (RGBA sprite, (x, y) of its top-left corner in the frame).
    """
    unit = frame_unit(width=width, height=height)
    name_face, small = font(round(22 * unit)), font(round(13 * unit))
    name = station.upper()
    pad, mark = round(12 * unit), round(30 * unit)
    box_w = round(pad * 3 + mark + name_face.getlength(name))
    box_h = round(46 * unit)
    total_w = max(box_w, round(small.getlength(disclosure) + pad))
    sprite = Image.new("RGBA", (total_w, box_h + round(22 * unit)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(sprite)
    left = total_w - box_w
    draw.rounded_rectangle(
        (left, 0, total_w - 1, box_h), radius=round(6 * unit), fill=(*palette.primary, 215)
    )
    _draw_mark(draw, (left + pad, (box_h - mark) // 2), mark, station, palette)
    draw.text(
        (left + pad * 2 + mark, box_h / 2),
        name,
        font=name_face,
        fill=(*palette.text, 255),
        anchor="lm",
    )
    draw.text(
        (total_w - 1, box_h + round(4 * unit)),
        disclosure,
        font=small,
        fill=(*palette.text, 190),
        anchor="ra",
    )
    margin = round(28 * unit)
    return np.asarray(sprite).copy(), (width - margin - total_w, margin)


def _draw_mark(
    draw: ImageDraw.ImageDraw, origin: tuple[int, int], size: int, station: str, palette: Palette
) -> None:
    x, y = origin
    draw.ellipse((x, y, x + size, y + size), fill=(*palette.text, 255))
    inset = max(2, size // 7)
    draw.ellipse(
        (x + inset, y + inset, x + size - inset, y + size - inset), fill=(*palette.accent, 255)
    )
    initial = next((c for c in station if not c.isspace()), "m").upper()
    draw.text(
        (x + size / 2, y + size / 2),
        initial,
        font=font(round(size * 0.6)),
        fill=(*palette.primary, 255),
        anchor="mm",
    )
