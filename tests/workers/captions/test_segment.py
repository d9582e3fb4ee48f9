"""Tests of cue segmentation: the sample articles, and each rule and its fallback in isolation."""

from __future__ import annotations

import pytest

from tests.workers.captions.sample_track import SAMPLE_IDS, caption_sample
from tests.workers.captions.spoken import speak
from workers.captions.check import find_violations
from workers.captions.cue import Cue
from workers.captions.rules import CaptionRules
from workers.captions.segment import segment_cues
from workers.captions.words import Word
from workers.engines.base import PermanentEngineError

RULES = CaptionRules()


def cues_for(
    words: list[Word], *, rules: CaptionRules = RULES, end_ms: int | None = None
) -> list[Cue]:
    audio_end_ms = words[-1].end_ms if end_ms is None else end_ms
    return segment_cues(words=words, rules=rules, language="en", audio_end_ms=audio_end_ms)


@pytest.mark.parametrize("custom_id", SAMPLE_IDS)
def test_sample_article_captions_break_no_rule(samples, custom_id):
    track = caption_sample(samples[custom_id])
    cues, rules = track.cues, track.rules
    found = find_violations(
        cues=cues, words=track.words, rules=rules, audio_end_ms=track.audio_end_ms
    )
    assert found == []
    # The plain rules, restated: no fallback was needed on real narration.
    for cue, following in zip(cues, cues[1:], strict=False):
        assert following.start_ms - cue.end_ms >= rules.min_gap_ms
    for cue in cues:
        chars = len(" ".join(cue.lines))
        assert 1 <= len(cue.lines) <= 2
        assert all(len(line) <= rules.max_chars_per_line for line in cue.lines)
        assert rules.min_duration_ms <= cue.end_ms - cue.start_ms <= rules.max_duration_ms
        assert chars * 1000 <= (cue.end_ms - cue.start_ms) * rules.max_cps


def test_english_sample_cues_hold_the_script_word_for_word(samples):
    sample = samples["chip-plant-0415"]
    track = caption_sample(sample)
    cues, words = track.cues, track.words
    assert " ".join(" ".join(cue.lines) for cue in cues) == " ".join(sample.script["text"].split())
    assert cues[0].start_ms == words[0].start_ms == 0


def test_chinese_sample_lines_have_no_added_spaces_and_at_most_16_characters(samples):
    sample = samples["bridge-zh-0420"]
    cues = caption_sample(sample).cues
    lines = [line for cue in cues for line in cue.lines]
    assert max(map(len, lines)) <= 16
    assert "".join(lines) == sample.script["text"]  # no space added, none lost
    assert sum(" " in line for line in lines) == 2  # only the Latin "mediaq news", twice
    assert lines[0] == "早上好。"


def test_spanish_sample_breaks_at_sentence_ends_where_cues_can(samples):
    cues = caption_sample(samples["market-es-0422"]).cues
    assert cues[0].lines == ("Buenos días.",)
    ends = [cue.lines[-1][-1] for cue in cues]
    assert sum(end in ".,:;" for end in ends) >= len(cues) - 3


def test_a_cue_ends_at_a_sentence_end_rather_than_mid_phrase():
    words = speak(
        "The bridge reopened to traffic on Tuesday morning. Crews replaced the corroded "
        "steel deck and installed new drains that will stop the salt damage.",
        pauses_ms={8: 400},
    )
    cues = cues_for(words)
    assert cues[0].lines[-1].endswith("morning.")


def test_no_line_holds_one_word_alone_when_another_split_exists():
    # Greedy filling would leave "shore." alone on the second line.
    words = speak("The volunteers collected nine tonnes of waste along the northern shore.")
    cues = cues_for(words)
    assert len(cues) == 1
    assert all(len(line.split()) > 1 for line in cues[0].lines)


def test_a_word_longer_than_a_line_is_cut_between_letters_and_only_then():
    long_word = "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichen"  # 58 letters
    words = speak(f"Er trug das {long_word} stolz.", ms_per_char=70)
    cues = cues_for(words)
    lines = [line for cue in cues for line in cue.lines]
    assert all(len(line) <= 42 for line in lines)
    assert "".join(lines).replace(" ", "") == f"Ertrugdas{long_word}stolz."
    assert find_violations(cues=cues, words=words, rules=RULES, audio_end_ms=words[-1].end_ms) == []


def test_a_short_cue_is_held_into_the_following_silence_for_the_minimum_duration():
    words = speak("Yes. The council approved the budget on Monday evening.", pauses_ms={1: 3000})
    cues = cues_for(words)
    assert cues[0].lines == ("Yes.",)
    assert cues[0].end_ms - cues[0].start_ms == 834  # held well past the 240 ms of speech


def test_min_duration_gives_way_to_the_gap_when_a_word_is_boxed_in():
    # Each line-filling word has to be its own cue; the 3-letter one lasts 180 ms and the
    # next cue starts right after it, so the cue ends at the gap before that, not later.
    rules = CaptionRules(max_chars_per_line=10, max_lines=1)
    words = speak("abcdefghij Hey abcdefghij", ms_per_char=60)
    cues = cues_for(words, rules=rules)
    assert [cue.lines for cue in cues] == [("abcdefghij",), ("Hey",), ("abcdefghij",)]
    assert cues[1].end_ms == cues[2].start_ms - rules.min_gap_ms
    assert cues[1].end_ms - cues[1].start_ms < rules.min_duration_ms
    assert find_violations(cues=cues, words=words, rules=rules, audio_end_ms=words[-1].end_ms) == []


def test_fast_speech_is_held_into_silence_to_stay_readable():
    # 28 characters per second while speaking, then a pause long enough to catch up.
    text = "Markets rallied after the announcement. Next."
    words = speak(text, ms_per_char=40, pauses_ms={5: 2000})
    cues = cues_for(words, end_ms=words[-1].end_ms + 1000)
    first = cues[0]
    assert first.lines == ("Markets rallied after the announcement.",)
    speech_ms = words[4].end_ms - words[0].start_ms
    assert len(first.lines[0]) * 1000 > speech_ms * 17
    assert len(first.lines[0]) * 1000 <= (first.end_ms - first.start_ms) * 17


def test_speech_faster_than_the_reading_speed_all_the_way_ends_cues_as_late_as_allowed():
    words = speak("a " * 5 + "Quick talkers outpace every caption rule here.", ms_per_char=20)
    cues = cues_for(words)
    assert find_violations(cues=cues, words=words, rules=RULES, audio_end_ms=words[-1].end_ms) == []
    last = cues[-1]
    assert last.end_ms == words[-1].end_ms  # nothing left to extend into
    assert len(" ".join(last.lines)) * 1000 > (last.end_ms - last.start_ms) * 17


def test_a_single_word_spoken_longer_than_the_maximum_keeps_its_cue_until_it_ends():
    words = [Word("Goooal!", 0, 9000, is_spaced=False), Word("Again.", 9500, 10000, is_spaced=True)]
    cues = cues_for(words)
    assert (cues[0].lines, cues[0].start_ms, cues[0].end_ms) == (("Goooal!",), 0, 9000)
    assert find_violations(cues=cues, words=words, rules=RULES, audio_end_ms=10000) == []


def test_continuous_speech_is_cut_with_exactly_the_minimum_gap():
    words = speak(" ".join(["word"] * 40), ms_per_char=70)
    cues = cues_for(words)
    assert len(cues) > 1
    for cue, following in zip(cues, cues[1:], strict=False):
        assert following.start_ms - cue.end_ms == 80


def test_words_too_fast_for_any_gap_are_refused():
    words = [Word(f"w{i}", i, i + 1, is_spaced=i > 0) for i in range(0, 200, 1)]
    rules = CaptionRules(max_chars_per_line=4, max_lines=1)
    with pytest.raises(PermanentEngineError, match="too fast"):
        cues_for(words, rules=rules)


def test_no_words_give_no_cues():
    assert segment_cues(words=[], rules=RULES, language="en", audio_end_ms=1000) == []
