"""The rule audit finds each kind of broken rule (so a clean audit elsewhere means something)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.workers.captions.spoken import speak
from workers.captions.check import find_violations
from workers.captions.cue import Cue
from workers.captions.rules import CaptionRules
from workers.captions.segment import segment_cues

RULES = CaptionRules()
TEXT = (
    "The river cleanup drew four hundred volunteers on Saturday. They collected nine tonnes "
    "of waste along the northern shore, more than twice last year's total."
)


@pytest.fixture
def track():
    words = speak(TEXT, pauses_ms={9: 400})
    end_ms = words[-1].end_ms + 500
    cues = segment_cues(words=words, rules=RULES, language="en", audio_end_ms=end_ms)
    assert len(cues) >= 3
    assert find_violations(cues=cues, words=words, rules=RULES, audio_end_ms=end_ms) == []
    return cues, words, end_ms


def rules_broken(cues, words, end_ms, rules=RULES):
    found = find_violations(cues=cues, words=words, rules=rules, audio_end_ms=end_ms)
    return {violation.rule for violation in found}


def test_a_dropped_word_is_found(track):
    cues, words, end_ms = track
    first = cues[0]
    cues[0] = replace(first, lines=(first.lines[0].split(" ", 1)[1], *first.lines[1:]))
    assert rules_broken(cues, words, end_ms) == {"words"}


def test_a_repeated_word_is_found(track):
    cues, words, end_ms = track
    cues[1] = replace(cues[1], lines=(cues[0].lines[-1].split()[-1], *cues[1].lines))
    assert "words" in rules_broken(cues, words, end_ms)


def test_a_cut_short_word_and_missing_spaces_are_found(track):
    cues, words, end_ms = track
    line = cues[0].lines[0]
    cues[0] = replace(cues[0], lines=(line[:3], line[3:], *cues[0].lines[1:]))
    assert rules_broken(cues, words, end_ms) == {"words"}
    cues[0] = replace(cues[0], lines=(line.replace(" ", "", 1), *cues[0].lines[2:]))
    assert rules_broken(cues, words, end_ms) == {"words"}


def test_long_and_too_many_lines_are_found(track):
    cues, words, end_ms = track
    narrow = replace(RULES, max_chars_per_line=20)
    assert "line_length" in rules_broken(cues, words, end_ms, narrow)
    parts = " ".join(cues[0].lines).split()
    three = (" ".join(parts[:2]), " ".join(parts[2:4]), " ".join(parts[4:]))
    cues[0] = replace(cues[0], lines=three)
    assert "lines" in rules_broken(cues, words, end_ms)


def test_timing_against_speech_is_checked(track):
    cues, words, end_ms = track
    early = [replace(cues[0], start_ms=cues[0].start_ms - 1), *cues[1:]]
    assert rules_broken(early, words, end_ms) == {"start"}
    late_end = [replace(cues[0], end_ms=cues[1].start_ms - 79), *cues[1:]]
    assert rules_broken(late_end, words, end_ms) == {"gap"}
    saturday = next(word for word in words if word.text == "Saturday.")
    assert cues[0].lines[-1].endswith("Saturday.")
    cut = replace(cues[0], end_ms=saturday.end_ms - 100)  # while "Saturday." is spoken
    assert "speech" in rules_broken([cut, *cues[1:]], words, end_ms)


def test_a_cue_ended_early_for_no_reason_breaks_min_duration_and_reading_speed(track):
    cues, words, end_ms = track
    last = cues[-1]
    shortened = replace(last, end_ms=last.start_ms + 500)
    broken = rules_broken([*cues[:-1], shortened], words, end_ms)
    assert {"min_duration", "max_cps"} <= broken


def test_a_lone_word_line_is_found_when_a_better_layout_exists(track):
    cues, words, end_ms = track
    one_line = next(cue for cue in cues if len(cue.lines) == 1 and cue.lines[0].count(" ") > 1)
    *head, tail = one_line.lines[0].split()
    cues[cues.index(one_line)] = replace(one_line, lines=(" ".join(head), tail))
    assert rules_broken(cues, words, end_ms) == {"lone_word"}


def test_a_word_split_off_into_its_own_cue_is_found_as_avoidable():
    words = speak("Crews finished the repairs early.")
    end_ms = words[-1].end_ms + 2000
    split_at = words[-1].start_ms
    cues = [
        Cue(0, split_at - RULES.min_gap_ms, ("Crews finished the repairs",)),
        Cue(split_at, end_ms, ("early.",)),
    ]
    found = find_violations(cues=cues, words=words, rules=RULES, audio_end_ms=end_ms)
    assert [(v.rule, v.cue_index) for v in found] == [("lone_word", 0)]
    assert found[0].detail.startswith("avoidable")
