"""Word and phoneme timings from per-character times, for synthesizers that read characters.

Character-level voices (VITS/MMS) predict how many frames each input token lasts. Once those
frames are tied to the characters of the script (`align_characters`), a written word lasts
from its first spoken character to its last (`word_timings`), and every spoken character is
one timed "phoneme" (`phoneme_timings`). Words are the script's whitespace-separated runs,
with each Han or kana character a word of its own and wide punctuation kept on the word
before it, the way the espeak timings cut Chinese.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PAUSE = "_"


@dataclass(frozen=True)
class CharTime:
    """A spoken character: where it is in the script and when it sounds.

    Attributes:
        char_index: position in the script text.
        char: the token the voice read (the lower-cased character).
        start_s, end_s: seconds from the start of the audio.
    """

    char_index: int
    char: str
    start_s: float
    end_s: float


def align_characters(*, text: str, spoken: str) -> list[int] | None:
    """Position in `text` of each character of `spoken`, the text as the tokenizer kept it.

    Tokenizers lower-case the text and drop what their vocabulary lacks (punctuation,
    digits), so `spoken` is usually a case-folded subsequence of `text`.

    Returns:
        One index per character of `spoken`, increasing; None when `spoken` is not such a
        subsequence (the tokenizer romanized or phonemized the text).
    """
    positions: list[int] = []
    cursor = 0
    lowered = [c.lower() for c in text]
    for char in spoken:
        while cursor < len(text) and lowered[cursor] != char and text[cursor] != char:
            cursor += 1
        if cursor == len(text):
            return None
        positions.append(cursor)
        cursor += 1
    return positions


def spread_characters(*, text: str, count: int) -> list[int]:
    """`count` positions spread evenly over `text`: the fallback when alignment is impossible."""
    if count == 0:
        return []
    return [min(len(text) - 1, i * len(text) // count) for i in range(count)]


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each written word: whitespace-separated, Han/kana one per character."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for index, char in enumerate(text):
        if char.isspace():
            if start is not None:
                spans.append((start, index))
            start = None
        elif start is None:
            start = index
        elif not _is_wide_punctuation(char) and (_is_wide(char) or _is_wide(text[index - 1])):
            spans.append((start, index))
            start = index
    if start is not None:
        spans.append((start, len(text)))
    return spans


def word_timings(*, text: str, chars: Sequence[CharTime]) -> list[dict[str, Any]]:
    """The timings JSON "words": text, start_s, end_s, char_start, char_end, in order.

    A word lasts from its first spoken character's start to its last one's end. A word with
    no spoken character (a symbol the voice skipped) gets no length, at the end of the word
    before it, so words never overlap and their times never go back.
    """
    ordered = sorted(chars, key=lambda c: c.char_index)
    words: list[dict[str, Any]] = []
    cursor = 0
    previous_end_s = 0.0
    for start, end in word_spans(text):
        while cursor < len(ordered) and ordered[cursor].char_index < start:
            cursor += 1
        inside = []
        while cursor < len(ordered) and ordered[cursor].char_index < end:
            inside.append(ordered[cursor])
            cursor += 1
        start_s = max(min((c.start_s for c in inside), default=previous_end_s), previous_end_s)
        end_s = max(max((c.end_s for c in inside), default=start_s), start_s)
        words.append(
            {
                "text": text[start:end],
                "start_s": start_s,
                "end_s": end_s,
                "char_start": start,
                "char_end": end,
            }
        )
        previous_end_s = end_s
    return words


def phoneme_timings(
    *, chars: Sequence[CharTime], pauses: Sequence[tuple[float, float]], duration_s: float
) -> list[dict[str, Any]]:
    """The timings JSON "phonemes": each spoken character, and "_" for pauses and gaps.

    Spaces are pauses. Any time not covered by a character (leading silence, the pauses
    between sentences) becomes a "_" entry, so the entries tile [0, duration_s].
    """
    spans = [(c.start_s, c.end_s, PAUSE if c.char.isspace() else c.char) for c in chars]
    spans += [(start, end, PAUSE) for start, end in pauses]
    spans.sort()
    phonemes: list[dict[str, Any]] = []
    time_s = 0.0
    for start_s, end_s, name in [*spans, (duration_s, duration_s, PAUSE)]:
        if start_s > time_s:
            _append(phonemes, PAUSE, time_s, start_s)
        if end_s > start_s:
            _append(phonemes, name, max(start_s, time_s), end_s)
        time_s = max(time_s, end_s)
    return phonemes


def _append(phonemes: list[dict[str, Any]], name: str, start_s: float, end_s: float) -> None:
    if end_s <= start_s:
        return
    if phonemes and name == PAUSE and phonemes[-1]["phoneme"] == PAUSE:
        phonemes[-1]["end_s"] = end_s
        return
    phonemes.append({"phoneme": name, "start_s": start_s, "end_s": end_s})


def _is_wide(char: str) -> bool:
    # Han, kana and full-width forms: scripts written without spaces between words.
    return unicodedata.east_asian_width(char) in ("W", "F")


def _is_wide_punctuation(char: str) -> bool:
    return _is_wide(char) and unicodedata.category(char).startswith("P")
