"""Tests of reading timed written words from tts timings and the script text."""

from __future__ import annotations

from typing import Any

import pytest

from workers.captions.words import Word, read_words
from workers.engines.base import PermanentEngineError


def event(
    text: str, script: str, start_s: float, end_s: float, *, after: int = 0
) -> dict[str, Any]:
    char_start = script.index(text, after)
    return {
        "text": text,
        "start_s": start_s,
        "end_s": end_s,
        "char_start": char_start,
        "char_end": char_start + len(text),
    }


def test_an_event_covering_two_written_words_is_split_by_character_count():
    script = "confirmed that it will"
    events = [
        event("confirmed", script, 0.0, 0.5),
        event("that it", script, 0.5, 1.1),
        event("will", script, 1.1, 1.3),
    ]
    words = read_words(timings={"words": events}, text=script)
    assert words == [
        Word("confirmed", 0, 500, is_spaced=False),
        Word("that", 500, 900, is_spaced=True),  # 4 of the 6 letters: 400 of 600 ms
        Word("it", 900, 1100, is_spaced=True),
        Word("will", 1100, 1300, is_spaced=True),
    ]


def test_chinese_words_keep_their_characters_together_and_have_no_spaces():
    script = "早上好。这里是mediaq news，为您"
    texts = ["早上", "好。", "这里", "是", "mediaq", "news，", "为", "您"]
    events, after = [], 0
    for number, text in enumerate(texts):
        events.append(event(text, script, number * 0.3, number * 0.3 + 0.3, after=after))
        after = events[-1]["char_end"]
    words = read_words(timings={"words": events}, text=script)
    assert [word.text for word in words] == texts
    assert [word.is_spaced for word in words] == [False] * 5 + [True, False, False]


def test_text_between_events_belongs_to_the_event_before_it():
    # espeak gave no event for "(AP)"; it is shown with the word it follows, not dropped.
    script = "«Hola» dijo (AP) ayer"
    events = [event("«Hola»", script, 0.0, 0.4), event("dijo", script, 0.4, 0.7)]
    events.append(event("ayer", script, 0.9, 1.2))
    words = read_words(timings={"words": events}, text=script)
    assert [word.text for word in words] == ["«Hola»", "dijo", "(AP)", "ayer"]
    assert (words[1].start_ms, words[2].end_ms) == (400, 700)


def test_timings_from_another_script_are_refused():
    hello = {"text": "Hello", "start_s": 0, "end_s": 1, "char_start": 0, "char_end": 5}
    timings = {"words": [hello]}
    with pytest.raises(PermanentEngineError, match="different script"):
        read_words(timings=timings, text="Goodbye")


def test_overlapping_word_times_are_refused_not_corrected():
    script = "one two"
    events = [event("one", script, 0.0, 0.6), event("two", script, 0.5, 0.9)]
    with pytest.raises(PermanentEngineError, match="must not overlap"):
        read_words(timings={"words": events}, text=script)


def test_timings_without_a_word_list_are_refused():
    with pytest.raises(PermanentEngineError, match="'words'"):
        read_words(timings={"phonemes": []}, text="text")


def test_timings_with_no_words_for_a_script_with_text_are_refused():
    with pytest.raises(PermanentEngineError, match="no words"):
        read_words(timings={"words": []}, text="Some text")
    assert read_words(timings={"words": []}, text=" ") == []
