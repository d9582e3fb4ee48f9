"""The sample articles as the subtitles stage sees them, and their caption tracks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.captions.cue import Cue
from workers.captions.rules import CaptionRules, rules_from_params
from workers.captions.segment import segment_cues
from workers.captions.words import Word, read_words

BATCH = Path(__file__).resolve().parents[3] / "examples" / "news" / "batch.jsonl"
SAMPLE_IDS = [json.loads(line)["custom_id"] for line in BATCH.read_text("utf-8").splitlines()]


@dataclass(frozen=True)
class Sample:
    """One sample article: its script.json and timings.json from the real stages."""

    custom_id: str
    script: dict[str, Any]
    timings: dict[str, Any]


@dataclass(frozen=True)
class Track:
    """A sample's caption track with what it was made from."""

    cues: list[Cue]
    words: list[Word]
    rules: CaptionRules
    audio_end_ms: int


def caption_sample(sample: Sample) -> Track:
    """Caption a sample with the default rules for its language."""
    language = sample.script["language"]
    rules = rules_from_params(params={}, language=language)
    words = read_words(timings=sample.timings, text=sample.script["text"])
    end_ms = round(sample.timings["duration_s"] * 1000)
    cues = segment_cues(words=words, rules=rules, language=language, audio_end_ms=end_ms)
    return Track(cues=cues, words=words, rules=rules, audio_end_ms=end_ms)
