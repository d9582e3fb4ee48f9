"""The anchor stage's parameters: validated once into frozen, hashable options."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workers.engines.base import PermanentEngineError

Color = tuple[int, int, int]
Box = tuple[int, int, int, int]

X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow",
)  # fmt: skip
MODES = ("drawn", "photo")
MAX_SIDE_PX = 3840
MIN_SIDE_PX = 320


@dataclass(frozen=True)
class Palette:
    """Branding colours: primary (label, desk, bug), accent (rules), background (studio), text."""

    primary: Color = (0xB3, 0x13, 0x2B)
    accent: Color = (0xF2, 0xA9, 0x00)
    background: Color = (0x0B, 0x1A, 0x2E)
    text: Color = (0xFF, 0xFF, 0xFF)


@dataclass(frozen=True)
class PresenterLook:
    """Colours of the drawn presenter."""

    skin: Color = (0xD9, 0xA5, 0x82)
    hair: Color = (0x3A, 0x2A, 0x22)
    suit: Color = (0x23, 0x2D, 0x45)
    shirt: Color = (0xF1, 0xF3, 0xF6)


@dataclass(frozen=True)
class AnchorOptions:
    """Everything that changes the rendered video, besides the item and the inputs."""

    width: int = 1280
    height: int = 720
    fps: int = 25
    mode: str = "drawn"
    station: str = "mediaq news"
    colors: Palette = field(default_factory=Palette)
    presenter: PresenterLook = field(default_factory=PresenterLook)
    mouth_box: Box | None = None
    eye_boxes: tuple[Box, Box] | None = None
    crf: int = 20
    preset: str = "veryfast"


_PARAMS = (
    "width", "height", "fps", "mode", "station", "colors", "presenter",
    "mouth_box", "eye_boxes", "crf", "preset",
)  # fmt: skip
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def parse_options(params: Mapping[str, Any]) -> AnchorOptions:
    """Validate the stage params.

    Raises:
        PermanentEngineError: an unknown param, or a value of the wrong type or range; the
            message names the param.
    """
    unknown = sorted(set(params) - set(_PARAMS))
    if unknown:
        raise PermanentEngineError(f"unknown anchor params {unknown}; known: {', '.join(_PARAMS)}")
    defaults = AnchorOptions()
    width = _int(params, "width", defaults.width, MIN_SIDE_PX, MAX_SIDE_PX)
    height = _int(params, "height", defaults.height, MIN_SIDE_PX, MAX_SIDE_PX)
    if width % 2 or height % 2:
        raise PermanentEngineError(f"params.width and height must be even, got {width}x{height}")
    return AnchorOptions(
        width=width,
        height=height,
        fps=_int(params, "fps", defaults.fps, 10, 60),
        mode=_choice(params, "mode", defaults.mode, MODES),
        station=_station(params, defaults.station),
        colors=Palette(**_colors(params, "colors", Palette())),
        presenter=PresenterLook(**_colors(params, "presenter", PresenterLook())),
        mouth_box=_box(params.get("mouth_box"), "mouth_box"),
        eye_boxes=_eye_boxes(params.get("eye_boxes")),
        crf=_int(params, "crf", defaults.crf, 0, 51),
        preset=_choice(params, "preset", defaults.preset, X264_PRESETS),
    )


def _int(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PermanentEngineError(f"params.{name} must be an integer {low}..{high}, got {value!r}")
    return value


def _choice(params: Mapping[str, Any], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = params.get(name, default)
    if value not in choices:
        raise PermanentEngineError(f"params.{name} must be one of {list(choices)}, got {value!r}")
    return str(value)


def _station(params: Mapping[str, Any], default: str) -> str:
    value = params.get("station", default)
    if not isinstance(value, str) or not value.strip() or len(value) > 40:
        raise PermanentEngineError(f"params.station must be 1..40 characters, got {value!r}")
    return value.strip()


def _colors(params: Mapping[str, Any], name: str, defaults: object) -> dict[str, Color]:
    value = params.get(name) or {}
    known = tuple(defaults.__dataclass_fields__)  # type: ignore[attr-defined]
    if not isinstance(value, Mapping):
        raise PermanentEngineError(f"params.{name} must be an object with keys {list(known)}")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise PermanentEngineError(f"unknown params.{name} keys {unknown}; known: {list(known)}")
    return {key: parse_color(color, f"{name}.{key}") for key, color in value.items()}


def parse_color(value: object, name: str) -> Color:
    """ "#rrggbb" (or "rrggbb") to an (r, g, b) tuple.

    Raises:
        PermanentEngineError: not a 6-digit hex colour.
    """
    match = _HEX.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise PermanentEngineError(
            f"params.{name} must be a hex colour like '#1a2b3c', got {value!r}"
        )
    digits = match.group(1)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _box(value: object, name: str) -> Box | None:
    if value is None:
        return None
    numbers = list(value) if isinstance(value, list | tuple) else []
    is_valid = (
        len(numbers) == 4
        and all(isinstance(v, int) and not isinstance(v, bool) for v in numbers)
        and min(numbers[:2]) >= 0
        and min(numbers[2:]) >= 4
    )
    if not is_valid:
        raise PermanentEngineError(
            f"params.{name} must be [x, y, width, height] in portrait pixels (width, height >= 4),"
            f" got {value!r}"
        )
    x, y, w, h = (int(v) for v in numbers)
    return x, y, w, h


def _eye_boxes(value: object) -> tuple[Box, Box] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise PermanentEngineError(
            f"params.eye_boxes must be two boxes [[x, y, w, h], [x, y, w, h]], got {value!r}"
        )
    first, second = (_box(box, "eye_boxes[]") for box in value)
    assert first is not None and second is not None
    return first, second
