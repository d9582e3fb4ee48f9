"""WebVTT and SRT files read back by third-party parsers (webvtt-py, srt) to the same cues."""

from __future__ import annotations

import pytest

from tests.workers.captions.readback import read_srt, read_vtt
from tests.workers.captions.sample_track import SAMPLE_IDS, caption_sample
from workers.captions.cue import Cue
from workers.captions.formats import cues_document, format_srt, format_vtt
from workers.captions.rules import CaptionRules

CUES = [
    Cue(0, 1500, ("Good morning.",)),
    Cue(1580, 3725999, ("Fish & chips <cost> more", "--> than ever, 5 > 4")),
]


def test_webvtt_has_the_header_millisecond_times_and_escaped_text():
    text = format_vtt(CUES)
    assert text.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nGood morning.\n")
    assert "01:02:05.999" in text
    assert "Fish &amp; chips &lt;cost&gt; more\n--&gt; than ever, 5 &gt; 4\n" in text
    assert read_vtt(text) == CUES


def test_srt_has_comma_millisecond_times_and_text_as_is():
    text = format_srt(CUES)
    assert text.startswith("1\n00:00:00,000 --> 00:00:01,500\nGood morning.\n\n2\n")
    assert read_srt(text) == CUES


def test_no_cues_make_valid_empty_files():
    assert read_vtt(format_vtt([])) == []
    assert read_srt(format_srt([])) == []


def test_cues_document_lists_cues_from_one_with_the_rules_used():
    document = cues_document(cues=CUES, language="en", rules=CaptionRules())
    assert document["language"] == "en"
    assert document["fps"] == 25
    assert document["cues"][1] == {
        "index": 2,
        "start_s": 1.58,
        "end_s": 3725.999,
        "lines": ["Fish & chips <cost> more", "--> than ever, 5 > 4"],
    }
    assert document["rules"]["max_cps"] == 17
    assert document["rules"]["max_chars_per_line"] == 42


@pytest.mark.parametrize("custom_id", SAMPLE_IDS)
def test_sample_captions_read_back_identically_with_webvtt_py_and_srt(samples, custom_id):
    cues = caption_sample(samples[custom_id]).cues
    assert read_vtt(format_vtt(cues)) == cues
    assert read_srt(format_srt(cues)) == cues
