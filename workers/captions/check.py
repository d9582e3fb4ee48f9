"""An audit of caption cues against the subtitle rules, written apart from the segmenter.

It reads only the cues (times and lines), the timed words and the rules, so tests and
benchmarks can count violations of any caption track. What a rule may give way to, and
the exact fallback then expected, is the precedence documented in `segment`:

- words: the lines hold every word once, in order, spaced as in the script; only a word
  longer than a line is cut. Never broken.
- lines, line_length: at most max_lines non-empty lines of max_chars_per_line. Never broken.
- start: a cue starts when its first word (or, for a cut word, its first letter) starts.
- speech: a cue lasts until its last word ends, or until the minimum gap before the next
  cue when that comes sooner (at most the gap is lost). gap: at least min_gap_frames
  between cues, and every cue lasts longer than 0 ms.
- max_duration: broken only by a cue holding one word (or part of one) that is spoken for
  longer, and then the cue ends no later than the word.
- min_duration and max_cps: when broken, the cue lasts as long as it may: up to the
  minimum gap before the next cue (or the audio's end), and, for reading speed, up to the
  maximum duration unless speech runs longer.
- lone_word: a line holding one whole word alone only when no other layout of the cue has
  fewer such lines.
- avoidable (min_duration, held_silence, max_cps, lone_word): merging two neighbouring
  cues would follow the rules strictly better, compared in precedence order, where
  held_silence (below the durations, above max_cps) is the silence over HELD_SILENCE_MS
  between words of one cue.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from workers.captions.cue import Cue
from workers.captions.rules import HELD_SILENCE_MS, CaptionRules
from workers.captions.words import Word


@dataclass(frozen=True)
class Violation:
    """One broken rule: its name (see the module docstring), the cue, and what is wrong."""

    rule: str
    cue_index: int
    detail: str


@dataclass(frozen=True)
class _Atom:
    """A word that fits a line, or one letter of a longer word: what lines are cut between."""

    text: str
    is_spaced: bool  # the script has a space before it
    is_whole_word: bool


@dataclass(frozen=True)
class _Span:
    """What a cue holds: its atoms per line and the speech times of its first and last."""

    lines: tuple[tuple[_Atom, ...], ...]
    speech_start_ms: int
    speech_end_ms: int
    word_count: int
    held_silence_ms: int


def find_violations(
    *, cues: Sequence[Cue], words: Sequence[Word], rules: CaptionRules, audio_end_ms: int
) -> list[Violation]:
    """Every rule each cue breaks beyond what the precedence allows (empty: all rules hold).

    Args:
        cues: the track in order.
        words: the timed words the track was made from.
        rules: the guidelines.
        audio_end_ms: the audio's length; the last cue may stay until then.
    """
    spans, problem = _align(cues, words, rules.max_chars_per_line)
    if problem is not None:
        return [problem]
    found = []
    for index, cue in enumerate(cues):
        found += _check_lines(index, cue, spans[index], rules)
        found += _check_timing(index, cues, spans, rules, audio_end_ms)
    for index in range(len(cues) - 1):
        found += _check_merge(index, cues, spans, rules, audio_end_ms)
    return found


def _align(
    cues: Sequence[Cue], words: Sequence[Word], max_chars: int
) -> tuple[list[_Span], Violation | None]:
    """Map every line character back to its word; a mismatch is a `words` violation."""
    owners = [(i, k) for i, word in enumerate(words) for k in range(len(word.text))]
    spans, position = [], 0
    for index, cue in enumerate(cues):
        lines = []
        first = position
        for line in cue.lines:
            atoms, position, problem = _line_atoms(line, words, owners, position, max_chars)
            if problem:
                return [], Violation("words", index, problem)
            lines.append(atoms)
        if position == first:
            return [], Violation("words", index, "the cue holds no words")
        spans.append(_span(tuple(lines), words, owners[first], owners[position - 1]))
    if position != len(owners):
        return [], Violation("words", len(cues) - 1, f"words after {owners[position]} are missing")
    return spans, None


def _line_atoms(
    line: str, words: Sequence[Word], owners: list[tuple[int, int]], position: int, max_chars: int
) -> tuple[tuple[_Atom, ...], int, str | None]:
    atoms: list[_Atom] = []
    expected = ""
    if not line.replace(" ", ""):
        return (), position, "a line is empty"
    for char in line.replace(" ", ""):
        if position >= len(owners):
            return (), position, f"line {line!r} has text after the last word"
        word_index, offset = owners[position]
        word = words[word_index]
        if word.text[offset] != char:
            return (), position, f"line {line!r} has {char!r} where the script has {word.text!r}"
        is_spaced = word.is_spaced and offset == 0
        joiner = " " if is_spaced and expected else ""
        if len(word.text) > max_chars:
            atoms.append(_Atom(char, is_spaced, is_whole_word=False))
        elif offset == 0:
            atoms.append(_Atom(word.text, is_spaced, is_whole_word=True))
        elif not expected:
            return (), position, f"line {line!r} starts inside the word {word.text!r}"
        expected += joiner + char
        position += 1
    last_word, last_offset = owners[position - 1]
    if len(words[last_word].text) <= max_chars and last_offset + 1 < len(words[last_word].text):
        return (), position, f"line {line!r} cuts the word {words[last_word].text!r}"
    if line != expected:
        return (), position, f"line {line!r} should read {expected!r} (spacing of the script)"
    return tuple(atoms), position, None


def _span(
    lines: tuple[tuple[_Atom, ...], ...],
    words: Sequence[Word],
    first: tuple[int, int],
    last: tuple[int, int],
) -> _Span:
    return _Span(
        lines=lines,
        speech_start_ms=_letter_time_ms(words[first[0]], first[1]),
        speech_end_ms=_letter_time_ms(words[last[0]], last[1] + 1),
        word_count=last[0] - first[0] + 1,
        held_silence_ms=sum(
            _held_silence_ms(words[index - 1], words[index])
            for index in range(first[0] + 1, last[0] + 1)
        ),
    )


def _held_silence_ms(before: Word, after: Word) -> int:
    return max(0, after.start_ms - before.end_ms - HELD_SILENCE_MS)


def _letter_time_ms(word: Word, offset: int) -> int:
    """When speech reaches character `offset` of `word`: its time shared by characters."""
    return word.start_ms + (word.end_ms - word.start_ms) * offset // len(word.text)


def _check_lines(index: int, cue: Cue, span: _Span, rules: CaptionRules) -> list[Violation]:
    found = []
    if not 1 <= len(cue.lines) <= rules.max_lines:
        found.append(Violation("lines", index, f"{len(cue.lines)} lines"))
    for line in cue.lines:
        if line != line.strip():
            found.append(Violation("lines", index, f"line {line!r} has spaces at an end"))
        if len(line) > rules.max_chars_per_line:
            found.append(Violation("line_length", index, f"{len(line)} characters: {line!r}"))
    lone = sum(_is_lone(atoms) for atoms in span.lines)
    fewest = _fewest_lone_lines(_flatten(span), rules)
    if fewest is not None and lone > fewest:
        found.append(
            Violation("lone_word", index, f"{lone} lone-word lines where {fewest} would do")
        )
    return found


def _check_timing(
    index: int, cues: Sequence[Cue], spans: Sequence[_Span], rules: CaptionRules, audio_end_ms: int
) -> list[Violation]:
    cue, span = cues[index], spans[index]
    limit_ms = _limit_ms(index, cues, spans, rules, audio_end_ms)
    found = []
    if cue.start_ms != span.speech_start_ms:
        detail = f"starts at {cue.start_ms} ms, its speech at {span.speech_start_ms} ms"
        found.append(Violation("start", index, detail))
    if cue.end_ms < min(span.speech_end_ms, limit_ms):
        detail = f"ends at {cue.end_ms} ms, its speech at {span.speech_end_ms} ms"
        found.append(Violation("speech", index, detail))
    if index + 1 < len(cues) and cues[index + 1].start_ms - cue.end_ms < rules.min_gap_ms:
        found.append(Violation("gap", index, f"{cues[index + 1].start_ms - cue.end_ms} ms gap"))
    if cue.end_ms <= cue.start_ms:
        found.append(Violation("gap", index, f"lasts {cue.end_ms - cue.start_ms} ms"))
    return found + _check_durations(index, cue, span, limit_ms, rules)


def _check_durations(
    index: int, cue: Cue, span: _Span, limit_ms: int, rules: CaptionRules
) -> list[Violation]:
    duration_ms = cue.end_ms - cue.start_ms
    found = []
    is_one_word = span.word_count == 1 and cue.end_ms <= span.speech_end_ms
    if duration_ms > rules.max_duration_ms and not is_one_word:
        found.append(Violation("max_duration", index, f"{duration_ms} ms"))
    if duration_ms < rules.min_duration_ms and cue.end_ms != limit_ms:
        detail = f"{duration_ms} ms, though it could last until {limit_ms} ms"
        found.append(Violation("min_duration", index, detail))
    longest_ms = min(limit_ms, max(cue.start_ms + rules.max_duration_ms, span.speech_end_ms))
    if _cps_excess(_chars(span), duration_ms, rules) > 0 and cue.end_ms != longest_ms:
        detail = f"{_chars(span)} characters in {duration_ms} ms, could last until {longest_ms}"
        found.append(Violation("max_cps", index, detail))
    return found


def _limit_ms(
    index: int, cues: Sequence[Cue], spans: Sequence[_Span], rules: CaptionRules, audio_end_ms: int
) -> int:
    """The latest a cue may end: the minimum gap before the next cue, or the audio's end."""
    if index + 1 < len(cues):
        return cues[index + 1].start_ms - rules.min_gap_ms
    return max(audio_end_ms, spans[index].speech_end_ms)


def _check_merge(
    index: int, cues: Sequence[Cue], spans: Sequence[_Span], rules: CaptionRules, audio_end_ms: int
) -> list[Violation]:
    """Would one cue holding both cues[index] and cues[index + 1] follow the rules better?"""
    first, second = spans[index], spans[index + 1]
    atoms = _flatten(first) + _flatten(second)
    fewest = _fewest_lone_lines(atoms, rules)
    limit_ms = _limit_ms(index + 1, cues, spans, rules, audio_end_ms)
    start_ms = cues[index].start_ms
    if fewest is None or limit_ms <= start_ms:
        return []
    chars = _length(atoms)
    end_ms = _expected_end_ms(start_ms, second.speech_end_ms, limit_ms, chars, rules)
    silence_ms = first.held_silence_ms + second.held_silence_ms + _silence_between(first, second)
    merged = _score(end_ms - start_ms, chars, silence_ms, fewest, rules)
    apart = [
        _score(
            cue.end_ms - cue.start_ms,
            _chars(span),
            span.held_silence_ms,
            sum(map(_is_lone, span.lines)),
            rules,
        )
        for cue, span in ((cues[index], first), (cues[index + 1], second))
    ]
    current = tuple(a + b for a, b in zip(*apart, strict=True))
    for name, better, now in zip(_SCORE_RULES, merged, current, strict=True):
        if better < now - 1e-6:
            detail = f"merging with cue {index + 1} scores {merged} instead of {current}"
            return [Violation(name, index, "avoidable: " + detail)]
        if better > now + 1e-6:
            return []
    return []


_SCORE_RULES = ("max_duration", "min_duration", "held_silence", "max_cps", "lone_word")


def _score(
    duration_ms: int, chars: int, silence_ms: int, lone: int, rules: CaptionRules
) -> tuple[float, ...]:
    return (
        max(0, duration_ms - rules.max_duration_ms),
        max(0, rules.min_duration_ms - duration_ms),
        silence_ms,
        _cps_excess(chars, duration_ms, rules),
        lone,
    )


def _silence_between(first: _Span, second: _Span) -> int:
    """Held silence between the last word of `first` and the first word of `second`."""
    return max(0, second.speech_start_ms - first.speech_end_ms - HELD_SILENCE_MS)


def _expected_end_ms(
    start_ms: int, speech_end_ms: int, limit_ms: int, chars: int, rules: CaptionRules
) -> int:
    """The timing rule: hold for the speech, the minimum duration and the reading time, not
    past the maximum duration (unless speech runs longer); close a silence under 12 frames."""
    reading_ms = math.ceil(chars * 1000 / rules.max_cps - 1e-9)
    wanted_ms = max(speech_end_ms, start_ms + max(rules.min_duration_ms, reading_ms))
    longest_ms = max(start_ms + rules.max_duration_ms, speech_end_ms)
    end_ms = min(wanted_ms, longest_ms)
    if limit_ms + rules.min_gap_ms - end_ms < rules.close_gap_ms:
        end_ms = longest_ms
    return min(end_ms, limit_ms)


def _cps_excess(chars: int, duration_ms: int, rules: CaptionRules) -> float:
    """Characters beyond what max_cps allows in the duration (0 when readable)."""
    excess = chars - max(duration_ms, 0) * rules.max_cps / 1000
    return excess if excess > 1e-9 else 0.0


def _chars(span: _Span) -> int:
    """Length of the cue's text on one line, spaced as in the script."""
    return _length(_flatten(span))


def _length(atoms: Sequence[_Atom]) -> int:
    """Length of `atoms` on one line, spaced as in the script."""
    return sum(len(atom.text) for atom in atoms) + sum(atom.is_spaced for atom in atoms[1:])


def _flatten(span: _Span) -> tuple[_Atom, ...]:
    return tuple(atom for line in span.lines for atom in line)


def _is_lone(atoms: Sequence[_Atom]) -> bool:
    return len(atoms) == 1 and atoms[0].is_whole_word


def _fewest_lone_lines(atoms: Sequence[_Atom], rules: CaptionRules) -> int | None:
    """The fewest lone-word lines of any layout of `atoms` (None: no layout fits)."""
    return _fewest(tuple(atoms), rules.max_chars_per_line, rules.max_lines)


def _fewest(atoms: tuple[_Atom, ...], max_chars: int, lines_left: int) -> int | None:
    if _length(atoms) <= max_chars:
        return int(_is_lone(atoms))
    best = None
    for cut in range(1, len(atoms) if lines_left > 1 else 0):
        if _length(atoms[:cut]) > max_chars:
            break
        rest = _fewest(atoms[cut:], max_chars, lines_left - 1)
        if rest is not None:
            total = int(_is_lone(atoms[:cut])) + rest
            best = total if best is None else min(best, total)
    return best
