"""Spoken length of narration text: words (English, Spanish) or characters (Chinese)."""

from __future__ import annotations

import re

from workers.speech import parse_language

# Default narration rates: words per minute, or Han characters per minute for Chinese.
DEFAULT_RATE_PER_MINUTE = {"en": 150.0, "es": 160.0, "zh": 240.0}
# A Latin-script word inside Chinese text ("LED", a station name) takes about as long as two
# Han characters.
_HAN_PER_LATIN_WORD = 2
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")


def rate_unit(*, language: str) -> str:
    """ "characters" for Chinese, "words" otherwise: what a rate per minute counts."""
    return "characters" if parse_language(tag=language).language == "zh" else "words"


def count_spoken_units(*, text: str, language: str) -> int:
    """Count what the narration rate is measured in.

    Args:
        text: narration text.
        language: BCP 47 tag.

    Returns:
        For Chinese, Han characters plus two per Latin-script word; otherwise words, with
        hyphenated parts counted apart ("thirty-eight" is two words).
    """
    if parse_language(tag=language).language == "zh":
        return len(_HAN.findall(text)) + _HAN_PER_LATIN_WORD * len(_LATIN_WORD.findall(text))
    return len(_WORD.findall(text))


def estimate_duration_s(*, text: str, language: str, rate_per_minute: float) -> float:
    """Seconds the text takes to read at `rate_per_minute`, ignoring pauses."""
    return count_spoken_units(text=text, language=language) * 60.0 / rate_per_minute
