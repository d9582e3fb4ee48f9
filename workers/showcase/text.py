"""Card text in the bundled CJK font: sizes, line wrapping for Latin and Chinese, glyph coverage."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from PIL import ImageFont

from workers.media.fonts import cjk_font_path

# A token is a word with its trailing space, or one wide (CJK) character with any closing
# punctuation after it (a line never starts with "。" or "，").
_TOKEN = re.compile(
    r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef][\u3000-\u303f\uff01-\uff0f\uff1a-\uff1f]*|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+\s*|\s+"
)
_ELLIPSIS = "…"


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK at `size` pixels; basic layout so glyph placement is the same everywhere."""
    return ImageFont.truetype(str(cjk_font_path()), size, layout_engine=ImageFont.Layout.BASIC)


@dataclass(frozen=True)
class Block:
    """Text wrapped to a width: its lines, the font size and the line height, in pixels."""

    lines: tuple[str, ...]
    size: int
    line_h: int

    @property
    def height(self) -> int:
        return self.line_h * len(self.lines)


def fit_text(
    text: str, *, max_w: float, max_lines: int, size: int, min_size: int, leading: float = 1.18
) -> Block:
    """Wrap `text` into at most `max_lines` lines of `max_w` pixels, shrinking the font if needed.

    Returns:
        The largest size from `size` down to `min_size` that fits; at `min_size` a text
        still too long ends its last line with "…" (the card shows that it was cut).
    """
    current = size
    while True:
        lines = wrap(text, max_w=max_w, size=current)
        if len(lines) <= max_lines or current <= min_size:
            break
        current = max(min_size, int(current * 0.92))
    if len(lines) > max_lines:
        lines = [
            *lines[: max_lines - 1],
            _ellipsize(" ".join(lines[max_lines - 1 :]), max_w, current),
        ]
    else:
        lines = _balance(text, lines, max_w=max_w, size=current)
    return Block(tuple(lines), current, round(current * leading))


def _balance(text: str, lines: list[str], *, max_w: float, size: int) -> list[str]:
    """The narrowest wrap with the same line count: no last line holds a lone word or character."""
    if len(lines) < 2:
        return lines
    low, high, best = max_w / 2, max_w, lines
    for _ in range(8):
        middle = (low + high) / 2
        candidate = wrap(text, max_w=middle, size=size)
        if len(candidate) == len(lines):
            high, best = middle, candidate
        else:
            low = middle
    return best


def wrap(text: str, *, max_w: float, size: int) -> list[str]:
    """Greedy line breaking at spaces (Latin) or between characters (Chinese)."""
    face, lines, line = font(size), [], ""
    # Collapse only ASCII whitespace: thin spaces (letter-spaced brands) are deliberate.
    for token in _TOKEN.findall(re.sub(r"[ \t\r\n]+", " ", text.strip())):
        candidate = line + token
        if line and face.getlength(candidate.rstrip()) > max_w:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line = candidate
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _ellipsize(line: str, max_w: float, size: int) -> str:
    face = font(size)
    while line and face.getlength(line + _ELLIPSIS) > max_w:
        line = line[:-1]
    return line.rstrip() + _ELLIPSIS


def missing_glyphs(text: str) -> set[str]:
    """Characters of `text` the bundled font has no glyph for (they would show as boxes).

    A character counts as missing when it renders exactly like the font's ".notdef" box,
    which is what FreeType draws for a code point the font's cmap lacks.
    """
    notdef = _glyph_bitmap("\U0010fffd")
    return {
        char
        for char in set(text)
        if not char.isspace()
        and unicodedata.category(char)[0] != "C"
        and _glyph_bitmap(char) == notdef
    }


@cache
def _glyph_bitmap(char: str) -> bytes:
    mask = font(32).getmask(char)
    return bytes(mask) + repr(mask.size).encode()
