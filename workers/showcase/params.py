"""The showcase stage's parameters, validated: frame size, rate, colours, brand, encoder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workers.engines.base import PermanentEngineError
from workers.media.ffmpeg import H264Settings
from workers.showcase.palette import RGB, parse_colors

KNOWN_PARAMS = ("width", "height", "fps", "colors", "brand", "crf", "preset")
_X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)
_MIN_SIDE, _MAX_SIDE = 160, 3840
_MAX_BRAND_CHARS = 40


@dataclass(frozen=True)
class ShowcaseParams:
    """Validated parameters; defaults give 1280x720 at 25 fps with colours from the photo."""

    width: int = 1280
    height: int = 720
    fps: float = 25.0
    colors: Mapping[str, RGB] = field(default_factory=dict)
    brand: str = ""
    h264: H264Settings = H264Settings()


def parse_params(params: Mapping[str, Any]) -> ShowcaseParams:
    """Check the stage parameters.

    Raises:
        PermanentEngineError: naming an unknown parameter or the first invalid value.
    """
    unknown = sorted(set(params) - set(KNOWN_PARAMS))
    if unknown:
        raise PermanentEngineError(
            f"unknown showcase parameter(s) {', '.join(unknown)}; known: {', '.join(KNOWN_PARAMS)}"
        )
    defaults = ShowcaseParams()
    return ShowcaseParams(
        width=_side(params, "width", defaults.width),
        height=_side(params, "height", defaults.height),
        fps=_fps(params.get("fps", defaults.fps)),
        colors=parse_colors(params.get("colors", {})),
        brand=_brand(params.get("brand", "")),
        h264=H264Settings(
            crf=_integer(params, "crf", defaults.h264.crf, 0, 51),
            preset=_preset(params.get("preset", defaults.h264.preset)),
        ),
    )


def _integer(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PermanentEngineError(f"params.{name} must be an integer {low}..{high}, got {value!r}")
    return value


def _side(params: Mapping[str, Any], name: str, default: int) -> int:
    value = _integer(params, name, default, _MIN_SIDE, _MAX_SIDE)
    if value % 2:
        raise PermanentEngineError(f"params.{name} must be even (H.264 yuv420p), got {value}")
    return value


def _fps(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 60:
        raise PermanentEngineError(f"params.fps must be a number 1..60, got {value!r}")
    return float(value)


def _brand(value: Any) -> str:
    if not isinstance(value, str) or len(value) > _MAX_BRAND_CHARS:
        raise PermanentEngineError(
            f"params.brand must be text of at most {_MAX_BRAND_CHARS} characters, got {value!r}"
        )
    return value.strip()


def _preset(value: Any) -> str:
    if value not in _X264_PRESETS:
        raise PermanentEngineError(
            f"params.preset must be one of {', '.join(_X264_PRESETS)}, got {value!r}"
        )
    return str(value)
