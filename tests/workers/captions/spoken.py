"""Synthetic timed words for caption tests: a text spoken at a chosen pace."""

from __future__ import annotations

from collections.abc import Mapping

from workers.captions.words import Word


def speak(
    text: str, *, ms_per_char: int = 75, pauses_ms: Mapping[int, int] | None = None
) -> list[Word]:
    """The space-separated words of `text`, back to back, each lasting ms_per_char per letter.

    75 ms per letter reads at about 16 characters per second with the spaces: just readable.

    Args:
        pauses_ms: word index -> silence before that word.
    """
    words, clock_ms = [], 0
    for index, part in enumerate(text.split()):
        clock_ms += (pauses_ms or {}).get(index, 0)
        end_ms = clock_ms + ms_per_char * len(part)
        words.append(Word(part, clock_ms, end_ms, is_spaced=index > 0))
        clock_ms = end_ms
    return words
