"""Card colours: the template's, or ones picked from the product photo so every ad matches."""

from __future__ import annotations

import colorsys
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from workers.engines.base import PermanentEngineError

RGB = tuple[int, int, int]
COLOR_NAMES = ("background", "accent", "text")
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
_FALLBACK_ACCENT: RGB = (242, 177, 52)
_TEXT: RGB = (248, 246, 242)
# Below this share of saturated pixels the product is grey or black: a hue from it would be noise.
_MIN_COLORFUL_SHARE = 0.03


@dataclass(frozen=True)
class Palette:
    """The three colours of the cards, as RGB triples."""

    background: RGB
    accent: RGB
    text: RGB


def parse_colors(value: object) -> dict[str, RGB]:
    """Validate the `colors` parameter: {"background"|"accent"|"text": "#rrggbb"}.

    Raises:
        PermanentEngineError: not an object, an unknown key, or a value that is not #rrggbb.
    """
    if not isinstance(value, Mapping):
        raise PermanentEngineError(f"params.colors must be an object, got {value!r}")
    colors: dict[str, RGB] = {}
    for name, text in value.items():
        if name not in COLOR_NAMES:
            raise PermanentEngineError(
                f"unknown colour params.colors.{name}; known: {', '.join(COLOR_NAMES)}"
            )
        if not isinstance(text, str) or not _HEX.fullmatch(text):
            raise PermanentEngineError(f"params.colors.{name} must be '#rrggbb', got {text!r}")
        colors[name] = (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))
    return colors


def pick_palette(*, photo: np.ndarray, overrides: Mapping[str, RGB]) -> Palette:
    """Colours for the cards; those not given are derived from the photo.

    Args:
        photo: the first still, RGB uint8 (H, W, 3), any size.
        overrides: colours the template set (see parse_colors).

    Returns:
        Background: a deep tone of the photo's backdrop hue. Accent: the product's own
        colour made bright, or warm gold for grey and black products. Text: off-white.
    """
    small = _thumbnail(photo)
    return Palette(
        background=overrides.get("background") or _backdrop_tone(small),
        accent=overrides.get("accent") or _product_accent(small),
        text=overrides.get("text") or _TEXT,
    )


def _thumbnail(photo: np.ndarray, side: int = 48) -> np.ndarray:
    rows = np.linspace(0, photo.shape[0] - 1, side).astype(int)
    cols = np.linspace(0, photo.shape[1] - 1, side).astype(int)
    small: np.ndarray = photo[rows][:, cols].astype(np.float32) / 255
    return small


def _backdrop_tone(small: np.ndarray) -> RGB:
    ring = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]])
    hue, saturation, _ = colorsys.rgb_to_hsv(*ring.mean(axis=0))
    return _hsv(hue, min(saturation * 2, 0.35), 0.14)


def _product_accent(small: np.ndarray) -> RGB:
    maxima, minima = small.max(axis=2), small.min(axis=2)
    saturation = (maxima - minima) / np.maximum(maxima, 1e-6)
    colorful = (saturation > 0.35) & (maxima > 0.2)
    if colorful.mean() < _MIN_COLORFUL_SHARE:
        return _FALLBACK_ACCENT
    hues = np.array([colorsys.rgb_to_hsv(*pixel)[0] for pixel in small[colorful]])
    counts, edges = np.histogram(hues, bins=24, range=(0.0, 1.0))
    peak = int(counts.argmax())
    hue = float(np.median(hues[(hues >= edges[peak]) & (hues <= edges[peak + 1])]))
    return _hsv(hue, 0.62, 0.96)


def _hsv(hue: float, saturation: float, value: float) -> RGB:
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)
