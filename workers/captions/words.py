"""Written words with speech times, from the tts timings and the exact script text it spoke."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workers.engines.base import PermanentEngineError


@dataclass(frozen=True)
class Word:
    """One written word: a run of non-space characters (a Chinese word token has no spaces).

    Attributes:
        text: the word with its attached punctuation ("news:", "好。").
        start_ms, end_ms: when it is spoken, milliseconds from the start of the audio.
        is_spaced: whether the script puts a space before it (False in Chinese).
    """

    text: str
    start_ms: int
    end_ms: int
    is_spaced: bool


def read_words(*, timings: Mapping[str, Any], text: str) -> list[Word]:
    """Split the synthesizer's word events into written words with times.

    espeak reports one event per spoken unit, and sometimes one event covers several
    written words ("that it", "was the"). An event owns the text from its char_start to the
    next event's char_start; that text is split at spaces and the event's time is shared
    among the words by character count. Text before the first event belongs to it, so the
    words cover every non-space character of `text` in order.

    Args:
        timings: the tts stage's timings JSON (uses "words": text, start_s, end_s,
            char_start, char_end).
        text: the script text that was synthesized.

    Raises:
        PermanentEngineError: malformed timings, or timings made from another text.
    """
    events = _read_events(timings, text)
    if not events and text.strip():
        raise PermanentEngineError("the timings have no words for a script that has text")
    words: list[Word] = []
    for index, (char_start, start_ms, end_ms) in enumerate(events):
        span_start = 0 if index == 0 else char_start
        span_end = events[index + 1][0] if index + 1 < len(events) else len(text)
        words.extend(_split_event(text, span_start, span_end, start_ms, end_ms))
    return words


def _read_events(timings: Mapping[str, Any], text: str) -> list[tuple[int, int, int]]:
    raw = timings.get("words")
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise PermanentEngineError("the timings JSON has no list 'words'")
    events: list[tuple[int, int, int]] = []
    for index, event in enumerate(raw):
        char_start, start_ms, end_ms = _read_event(event, index, text)
        if events and (char_start <= events[-1][0] or start_ms < events[-1][2]):
            raise PermanentEngineError(
                f"timings word {index} starts before word {index - 1} ends, in the text or "
                "in time: word events must be in order and must not overlap"
            )
        events.append((char_start, start_ms, end_ms))
    return events


def _read_event(event: Any, index: int, text: str) -> tuple[int, int, int]:
    try:
        char_start, char_end = int(event["char_start"]), int(event["char_end"])
        start_ms, end_ms = round(event["start_s"] * 1000), round(event["end_s"] * 1000)
        written = event["text"]
    except (TypeError, KeyError, ValueError) as error:
        raise PermanentEngineError(
            f"timings word {index} needs text, start_s, end_s, char_start, char_end: {error!r}"
        ) from error
    if not 0 <= char_start < char_end <= len(text) or text[char_start:char_end] != written:
        raise PermanentEngineError(
            f"timings word {index} ({written!r} at characters {char_start}-{char_end}) is not "
            "in the script text: the timings were made from a different script"
        )
    if not 0 <= start_ms <= end_ms:
        raise PermanentEngineError(f"timings word {index} ends before it starts")
    return char_start, start_ms, end_ms


def _split_event(text: str, start: int, end: int, start_ms: int, end_ms: int) -> list[Word]:
    parts = _spaced_parts(text, start, end)
    total_chars = sum(len(part) for _, part in parts)
    words: list[Word] = []
    done_chars = 0
    for char_start, part in parts:
        begin = start_ms + (end_ms - start_ms) * done_chars // total_chars
        done_chars += len(part)
        finish = start_ms + (end_ms - start_ms) * done_chars // total_chars
        is_spaced = char_start > 0 and text[char_start - 1].isspace()
        words.append(Word(text=part, start_ms=begin, end_ms=finish, is_spaced=is_spaced))
    return words


def _spaced_parts(text: str, start: int, end: int) -> list[tuple[int, str]]:
    """(offset, part) for each run of non-space characters in text[start:end]."""
    parts, position = [], start
    for part in text[start:end].split():
        position = text.index(part, position)
        parts.append((position, part))
        position += len(part)
    return parts
