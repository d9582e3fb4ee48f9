"""Subtitle guidelines as data: line length, lines, durations, gap, reading speed, validated."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from workers.engines.base import PermanentEngineError

# Chinese is read per character and each one is as wide as two Latin letters, so lines are
# shorter (Netflix's Simplified Chinese guideline: 16 characters).
CJK_LANGUAGES = frozenset({"zh", "cmn", "yue"})
DEFAULT_MAX_CHARS_LATIN = 42
DEFAULT_MAX_CHARS_CJK = 16

# A gap shorter than this many frames between two cues reads as a flicker, so the earlier
# cue is held until the minimum gap before the next one (the "chaining" rule of broadcast
# style guides: gaps of 3 to 11 frames are closed to 2).
CLOSE_GAP_FRAMES = 12

# A cue that holds words on both sides of a longer silence shows text well before it is
# spoken; the segmentation avoids that (below the durations, above reading speed).
HELD_SILENCE_MS = 1000


@dataclass(frozen=True)
class CaptionRules:
    """The guidelines one subtitle track follows.

    Attributes:
        max_chars_per_line: characters per line, spaces and punctuation included.
        max_lines: lines per cue.
        min_duration_s, max_duration_s: how long a cue stays on screen.
        min_gap_frames: frames of blank screen between two cues.
        fps: the frame rate the gap is counted in.
        max_cps: reading speed, characters per second (the cue's text as one line,
            spaces included, over its duration).
    """

    max_chars_per_line: int = DEFAULT_MAX_CHARS_LATIN
    max_lines: int = 2
    min_duration_s: float = 5 / 6
    max_duration_s: float = 7.0
    min_gap_frames: int = 2
    fps: float = 25.0
    max_cps: float = 17.0

    # cached: the segmentation reads these for every candidate cue
    @cached_property
    def min_duration_ms(self) -> int:
        return math.ceil(self.min_duration_s * 1000 - 1e-6)

    @cached_property
    def max_duration_ms(self) -> int:
        return math.floor(self.max_duration_s * 1000 + 1e-6)

    @cached_property
    def min_gap_ms(self) -> int:
        return math.ceil(self.min_gap_frames * 1000 / self.fps - 1e-6)

    @cached_property
    def close_gap_ms(self) -> int:
        """Silences shorter than this after a cue are closed down to the minimum gap."""
        return math.ceil(CLOSE_GAP_FRAMES * 1000 / self.fps - 1e-6)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def is_cjk_language(language: str) -> bool:
    """Whether the BCP 47 tag names a Chinese language (16-character lines by default)."""
    return language.replace("_", "-").split("-", 1)[0].lower() in CJK_LANGUAGES


def rules_from_params(*, params: Mapping[str, Any], language: str) -> CaptionRules:
    """Validate the stage parameters into CaptionRules; defaults depend on the language.

    Args:
        params: any of the CaptionRules attribute names; others are refused.
        language: the script's BCP 47 tag; Chinese gets 16 characters per line by default.

    Raises:
        PermanentEngineError: naming an unknown or malformed parameter.
    """
    known = CaptionRules.__dataclass_fields__
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise PermanentEngineError(
            f"unknown subtitles parameter(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    default_chars = DEFAULT_MAX_CHARS_CJK if is_cjk_language(language) else DEFAULT_MAX_CHARS_LATIN
    rules = CaptionRules(
        max_chars_per_line=_integer(params, "max_chars_per_line", default_chars, minimum=1),
        max_lines=_integer(params, "max_lines", 2, minimum=1),
        min_duration_s=_number(params, "min_duration_s", 5 / 6, minimum=0.0),
        max_duration_s=_number(params, "max_duration_s", 7.0, minimum=0.001),
        min_gap_frames=_integer(params, "min_gap_frames", 2, minimum=0),
        fps=_number(params, "fps", 25.0, minimum=1.0),
        max_cps=_number(params, "max_cps", 17.0, minimum=0.1),
    )
    if rules.min_duration_ms > rules.max_duration_ms:
        raise PermanentEngineError(
            f"subtitles parameter min_duration_s ({rules.min_duration_s}) must not exceed "
            f"max_duration_s ({rules.max_duration_s})"
        )
    return rules


def _integer(params: Mapping[str, Any], name: str, default: int, *, minimum: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PermanentEngineError(
            f"subtitles parameter {name!r} must be an integer >= {minimum}, got {value!r}"
        )
    return value


def _number(params: Mapping[str, Any], name: str, default: float, *, minimum: float) -> float:
    value = params.get(name, default)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or value < minimum:
        raise PermanentEngineError(
            f"subtitles parameter {name!r} must be a number >= {minimum}, got {value!r}"
        )
    return float(value)
