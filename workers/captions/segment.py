"""Cue segmentation: the best cut of the words into cues, scored by the rules in precedence order.

Hard rules, never broken: every word appears once, in order; a line holds at most
max_chars_per_line characters and a cue at most max_lines lines (only a word longer than a
line is cut, between letters); a cue starts exactly when its first word starts; the blank
between two cues is at least min_gap_frames; a cue stays up while its words are spoken,
except that its last word may lose at most the minimum gap at the end, when the next cue's
first word follows straight on.

Soft rules, in precedence order (a rule gives way only to the rules before it):

1. max_duration_s: broken only by a single word spoken for longer than that.
2. min_duration_s: a cue is held into the following silence, up to the minimum gap before
   the next cue; it stays shorter only when its words are too short and too boxed in to
   join a neighbour.
3. no silence of more than a second inside a cue: its later words would show long before
   they are spoken, so pauses are where cues change.
4. max_cps: first remedy, hold the cue into the following silence; second, move the cue
   boundaries so the fast stretch shares a silence; when speech is faster than max_cps all
   the way, the cue ends as late as rules 1-3 and the hard rules allow and is still fast.
5. no word alone on a line (or alone in a cue), when the rules above allow.
6. style: break after sentences, then clauses, then before conjunctions and
   prepositions; balanced lines; fewer cues.

Scores are tuples compared in that order, and a dynamic programme over the cue boundaries
finds the lowest total, so a lower rule never buys its way past a higher one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from workers.captions.cue import Cue
from workers.captions.layout import best_layout
from workers.captions.rules import CaptionRules
from workers.captions.units import UnitText, make_units
from workers.captions.words import Word
from workers.engines.base import PermanentEngineError

# Style cost of each cue: fewer, fuller cues flicker less. A cue boundary's Break class
# counts double a line break's: the viewer sees the cue change, not just a new line.
CUE_COST = 2.0
CUE_BREAK_WEIGHT = 2.0

# max-duration excess ms, min-duration shortfall ms, held silence ms, reading-speed excess
# (characters), lone-word lines, style
Score = tuple[int, int, int, float, int, float]
_ZERO: Score = (0, 0, 0, 0.0, 0, 0.0)


@dataclass(frozen=True)
class _Candidate:
    score: Score
    end_ms: int
    stops: tuple[int, ...]


def segment_cues(
    *, words: Sequence[Word], rules: CaptionRules, language: str, audio_end_ms: int
) -> list[Cue]:
    """Cut timed words into cues that follow `rules` (see the module docstring).

    Args:
        words: the spoken words in order, with non-overlapping times.
        rules: the guidelines.
        language: BCP 47 tag, for the preferred break points.
        audio_end_ms: length of the audio; the last cue may be held until then.

    Returns:
        The cues in order; none when there are no words.

    Raises:
        PermanentEngineError: the words are spoken so fast that no cue can keep the
            minimum gap (every possible cue would last no time at all).
    """
    units = make_units(words, max_chars_per_line=rules.max_chars_per_line)
    text = UnitText(units, language=language)
    # totals[k]: the best score of units[:k]; choices[k]: where its last cue starts and how
    # it is laid out and timed.
    totals: list[Score | None] = [_ZERO] + [None] * len(units)
    choices: list[tuple[int, _Candidate] | None] = [None] * (len(units) + 1)
    for first in range(len(units)):
        total = totals[first]
        if total is None:
            continue
        for stop in range(first + 1, len(units) + 1):
            if text.length(first, stop) > rules.max_lines * (rules.max_chars_per_line + 1):
                break
            candidate = _score_cue(text, first, stop, rules, audio_end_ms)
            if candidate is None:
                continue
            new_total = _add(total, candidate.score)
            known = totals[stop]
            if known is None or new_total < known:
                totals[stop], choices[stop] = new_total, (first, candidate)
    if totals[-1] is None:
        raise PermanentEngineError(
            "the words are spoken too fast to caption: no cut into cues keeps the "
            f"{rules.min_gap_frames}-frame gap between cues"
        )
    return _collect(text, choices)


def _collect(text: UnitText, choices: list[tuple[int, _Candidate] | None]) -> list[Cue]:
    cues: list[Cue] = []
    stop = len(text.units)
    while stop > 0:
        choice = choices[stop]
        assert choice is not None
        first, candidate = choice
        starts = (first, *candidate.stops[:-1])
        lines = tuple(text.line(a, b) for a, b in zip(starts, candidate.stops, strict=True))
        cues.append(Cue(text.units[first].start_ms, candidate.end_ms, lines))
        stop = first
    return cues[::-1]


def _score_cue(
    text: UnitText, first: int, stop: int, rules: CaptionRules, audio_end_ms: int
) -> _Candidate | None:
    layout = best_layout(
        text, first=first, stop=stop, max_chars=rules.max_chars_per_line, max_lines=rules.max_lines
    )
    if layout is None:
        return None
    units = text.units
    start_ms, last_end_ms = units[first].start_ms, units[stop - 1].end_ms
    if stop < len(units):
        limit_ms = units[stop].start_ms - rules.min_gap_ms
    else:
        limit_ms = max(audio_end_ms, last_end_ms)
    if limit_ms <= start_ms:
        return None
    chars = text.length(first, stop)
    end_ms = cue_end_ms(
        start_ms=start_ms, last_end_ms=last_end_ms, limit_ms=limit_ms, chars=chars, rules=rules
    )
    duration_ms = end_ms - start_ms
    boundary = float(text.breaks[stop]) if stop < len(units) else 0.0
    score: Score = (
        max(0, duration_ms - rules.max_duration_ms),
        max(0, rules.min_duration_ms - duration_ms),
        text.held_silence_ms(first, stop),
        max(0.0, chars - duration_ms * rules.max_cps / 1000),
        layout.lone_lines,
        layout.style + CUE_COST + CUE_BREAK_WEIGHT * boundary,
    )
    return _Candidate(score=score, end_ms=end_ms, stops=layout.stops)


def cue_end_ms(
    *, start_ms: int, last_end_ms: int, limit_ms: int, chars: int, rules: CaptionRules
) -> int:
    """When a cue leaves the screen.

    It stays until its last word ends, the minimum duration and the reading time of its
    `chars` characters have passed, all capped at the maximum duration (which never cuts
    speech short). A silence of under 12 frames left before the next cue is closed. Nothing
    goes past `limit_ms`: the next cue's start less the minimum gap, or the audio's end.
    """
    reading_ms = math.ceil(chars * 1000 / rules.max_cps - 1e-9)
    needed_ms = max(last_end_ms, start_ms + rules.min_duration_ms, start_ms + reading_ms)
    cap_ms = max(start_ms + rules.max_duration_ms, last_end_ms)
    end_ms = min(needed_ms, cap_ms)
    if limit_ms - end_ms < rules.close_gap_ms - rules.min_gap_ms:
        end_ms = cap_ms
    return min(end_ms, limit_ms)


def _add(left: Score, right: Score) -> Score:
    return (
        left[0] + right[0],
        left[1] + right[1],
        left[2] + right[2],
        left[3] + right[3],
        left[4] + right[4],
        left[5] + right[5],
    )
