"""Property test: random narrations with synthetic word timings, every subtitle rule checked.

The texts mix short and long words (up to 70 letters, longer than any line), punctuation,
numbers, symbols that need escaping, Chinese runs and merged synthesizer events ("that it"
as one event); the timings run from slow to far faster than anyone can read, with pauses
and the odd word held for longer than a cue may last. Where the input makes a rule
impossible the test asserts the exact fallback from workers.captions.segment:

- a word longer than a line is cut between letters (lines still fit);
- a cue shorter than min_duration_s ends exactly at the minimum gap before the next cue
  (or at the audio's end);
- a cue above max_cps ends as late as allowed: that same limit, or max_duration_s after
  its start when speech ends before that;
- a cue longer than max_duration_s holds a single word spoken for longer, and ends with it;
- a line holding one word alone only where no layout of the cue avoids it, and a word alone
  in a cue only where merging it into a neighbour would break a rule of higher precedence
  (both through `find_violations`, itself tested in test_check.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.workers.captions.readback import read_srt, read_vtt
from workers.captions.check import find_violations
from workers.captions.cue import Cue
from workers.captions.formats import format_srt, format_vtt
from workers.captions.rules import CaptionRules
from workers.captions.segment import segment_cues
from workers.captions.words import Word, read_words

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJáéíóúñüçÉ"
HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF)


@dataclass(frozen=True)
class Narration:
    """A synthetic tts result: script text, timings JSON, rules and language to caption with."""

    language: str
    text: str
    timings: dict[str, Any]
    rules: CaptionRules


def _latin_word() -> st.SearchStrategy[str]:
    plain = st.text(alphabet=LETTERS, min_size=1, max_size=12)
    long = st.text(alphabet=LETTERS, min_size=20, max_size=70)
    number = st.integers(min_value=0, max_value=10**7).map(lambda n: f"{n:,}")
    fixed = st.sampled_from(["and", "the", "of", "y", "de", "&", "<b>", "5>4", "-->", "A&B"])
    core = st.one_of(plain, plain, plain, long, number, fixed)
    prefix = st.sampled_from(["", "", "", "¿", '"', "("])
    suffix = st.sampled_from(["", "", "", "", ".", ",", ";", ":", "?", "!", "…", ")"])
    return st.tuples(prefix, core, suffix).map("".join)


def _chinese_word() -> st.SearchStrategy[str]:
    short = st.text(alphabet=HAN, min_size=1, max_size=4)
    run = st.one_of(short, short, short, st.text(alphabet=HAN, min_size=17, max_size=24))
    suffix = st.sampled_from(["", "", "", "，", "。", "、", "？"])
    return st.tuples(run, suffix).map("".join)


def _rules(language: str) -> st.SearchStrategy[CaptionRules]:
    default = CaptionRules(max_chars_per_line=16 if language == "zh" else 42)
    custom = st.builds(
        CaptionRules,
        max_chars_per_line=st.integers(min_value=8, max_value=50),
        max_lines=st.integers(min_value=1, max_value=3),
        max_cps=st.floats(min_value=10, max_value=25),
        fps=st.sampled_from([24.0, 25.0, 30.0]),
        min_gap_frames=st.integers(min_value=0, max_value=3),
    )
    return st.one_of(st.just(default), st.just(default), custom)


@st.composite
def narrations(draw: st.DrawFn) -> Narration:
    language = draw(st.sampled_from(["en", "zh"]))
    word = _chinese_word() if language == "zh" else _latin_word()
    tokens = draw(st.lists(st.one_of(word, word, word, _latin_word()), min_size=1, max_size=40))
    text, spans = _join(tokens, draw)
    timings = _timings(text, spans, draw)
    return Narration(language, text, timings, draw(_rules(language)))


def _join(tokens: list[str], draw: st.DrawFn) -> tuple[str, list[tuple[int, int]]]:
    """The script text and each token's span; Chinese runs touch, others take a space or not."""
    text, spans = "", []
    for token in tokens:
        if text:
            is_han = "\u4e00" <= text[-1] <= "\u9fff" and "\u4e00" <= token[0] <= "\u9fff"
            text += "" if is_han else draw(st.sampled_from([" ", " ", " ", ""]))
        spans.append((len(text), len(text) + len(token)))
        text += token
    return text, spans


def _timings(text: str, spans: list[tuple[int, int]], draw: st.DrawFn) -> dict[str, Any]:
    """tts-style timings: one event per token, or per two (espeak's merged "that it")."""
    ms_per_char = draw(st.integers(min_value=25, max_value=110))
    events, clock_ms, index = [], 0, 0
    while index < len(spans):
        is_merged = index + 1 < len(spans) and draw(st.integers(0, 5)) == 0
        start, end = spans[index][0], spans[index + int(is_merged)][1]
        index += 1 + int(is_merged)
        clock_ms += draw(st.sampled_from([0, 0, 0, 0, 0, 30, 200, 400, 1200, 2500]))
        length_ms = max(150, ms_per_char * (end - start) * draw(st.integers(70, 130)) // 100)
        if draw(st.integers(0, 40)) == 0:
            length_ms = draw(st.integers(min_value=7000, max_value=9000))
        events.append(
            {
                "text": text[start:end],
                "start_s": clock_ms / 1000,
                "end_s": (clock_ms + length_ms) / 1000,
                "char_start": start,
                "char_end": end,
            }
        )
        clock_ms += length_ms
    duration_ms = clock_ms + draw(st.integers(min_value=0, max_value=1500))
    return {"duration_s": duration_ms / 1000, "words": events}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(narration=narrations())
def test_every_subtitle_rule_holds_or_falls_back_exactly(narration):
    rules, text = narration.rules, narration.text
    words = read_words(timings=narration.timings, text=text)
    end_ms = round(narration.timings["duration_s"] * 1000)
    cues = segment_cues(words=words, rules=rules, language=narration.language, audio_end_ms=end_ms)

    # Words: all of them, once, in order (spacing is checked by find_violations).
    assert "".join("".join(cue.lines) for cue in cues).replace(" ", "") == "".join(text.split())
    for cue in cues:
        assert 1 <= len(cue.lines) <= rules.max_lines
        assert all(0 < len(line) <= rules.max_chars_per_line for line in cue.lines)
        assert all(line == line.strip() for line in cue.lines)
        assert cue.end_ms > cue.start_ms
    for cue, following in zip(cues, cues[1:], strict=False):
        assert following.start_ms - cue.end_ms >= rules.min_gap_ms
    for index in range(len(cues)):
        _assert_durations_or_exact_fallback(index, cues, words, rules, end_ms)

    assert find_violations(cues=cues, words=words, rules=rules, audio_end_ms=end_ms) == []
    assert read_vtt(format_vtt(cues)) == cues
    assert read_srt(format_srt(cues)) == cues


def _assert_durations_or_exact_fallback(
    index: int, cues: list[Cue], words: list[Word], rules: CaptionRules, audio_end_ms: int
) -> None:
    cue = cues[index]
    first, last, word_count = _speech(index, cues, words)
    assert cue.start_ms == first  # never before its first word, never after
    limit_ms = cues[index + 1].start_ms - rules.min_gap_ms if index + 1 < len(cues) else None
    if limit_ms is None:
        limit_ms = max(audio_end_ms, last)
    assert cue.end_ms >= min(last, limit_ms)  # up while spoken (the gap may take the tail)
    duration_ms = cue.end_ms - cue.start_ms
    if duration_ms < rules.min_duration_ms:
        assert cue.end_ms == limit_ms
    if duration_ms > rules.max_duration_ms:
        assert word_count == 1 and cue.end_ms <= last
    chars = sum(map(len, cue.lines)) + _spaces_at_line_breaks(index, cues, words)
    if chars * 1000 > duration_ms * rules.max_cps + 1e-6:
        assert cue.end_ms == min(limit_ms, max(cue.start_ms + rules.max_duration_ms, last))


def _speech(index: int, cues: list[Cue], words: list[Word]) -> tuple[int, int, int]:
    """(first letter's start, last letter's end, words touched) of cues[index]'s speech."""
    letters = [(w, k) for w, word in enumerate(words) for k in range(len(word.text))]
    done = sum(len("".join(cue.lines).replace(" ", "")) for cue in cues[:index])
    size = len("".join(cues[index].lines).replace(" ", ""))
    (first_word, first_k), (last_word, last_k) = letters[done], letters[done + size - 1]
    return (
        _letter_ms(words[first_word], first_k),
        _letter_ms(words[last_word], last_k + 1),
        last_word - first_word + 1,
    )


def _letter_ms(word: Word, offset: int) -> int:
    return word.start_ms + (word.end_ms - word.start_ms) * offset // len(word.text)


def _spaces_at_line_breaks(index: int, cues: list[Cue], words: list[Word]) -> int:
    """Spaces the script has where the cue's lines break (reading speed counts them)."""
    offsets = [sum(len(word.text) for word in words[:w]) for w in range(len(words))]
    starts = {offset for offset, word in zip(offsets, words, strict=True) if word.is_spaced}
    done = sum(len("".join(cue.lines).replace(" ", "")) for cue in cues[:index])
    count = 0
    for line in cues[index].lines[:-1]:
        done += len(line.replace(" ", ""))
        count += done in starts
    return count
