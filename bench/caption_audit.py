"""Subtitle rule violations of real caption tracks, counted by workers.captions.check.

A track is audited from what the pipeline stored: the subtitles stage's cues JSON (the times
and lines the WebVTT and SRT files carry, and the rules it used), the tts timings and the
script text the words come from.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers.captions.check import find_violations
from workers.captions.cue import Cue
from workers.captions.rules import CaptionRules
from workers.captions.words import read_words

CAPTIONS_TEMPLATE = "news_captions_bench"
_CAPTION_STAGES = ("script", "tts", "subtitles")


def register_captions_template() -> str:
    """news_anchor's script, tts and subtitles stages alone, same params: a bench-only template.

    It lives only in the bench process (whose thread serves the API); the worker needs no
    template, only the stage kinds, which are mediaq's own. Returns the template's name.
    """
    from schemas.pipeline import PipelineTemplate
    from schemas.pipelines import builtin_templates

    news = builtin_templates()["news_anchor"]
    stages = [node.model_dump() for node in news.stages if node.name in _CAPTION_STAGES]
    builtin_templates()[CAPTIONS_TEMPLATE] = PipelineTemplate.model_validate(
        {
            "name": CAPTIONS_TEMPLATE,
            "description": "Bench only: the caption track of news_anchor without the video.",
            "languages": news.languages,
            "required_fields": news.required_fields,
            "stages": stages,
        }
    )
    return CAPTIONS_TEMPLATE


@dataclass
class Audit:
    """Violations over several tracks, by rule, with the tracks that broke them."""

    tracks: int = 0
    cues: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    offenders: list[str] = field(default_factory=list)

    @property
    def violations(self) -> int:
        return sum(self.by_rule.values())

    def summary(self) -> str:
        if not self.by_rule:
            return "none"
        return ", ".join(f"{rule} {count}" for rule, count in self.by_rule.most_common())


def track_violations(
    *, cues_doc: Mapping[str, Any], timings: Mapping[str, Any], script: Mapping[str, Any]
) -> tuple[int, list[str]]:
    """(cue count, names of the rules broken, one entry per violation) of one stored track."""
    cues = [
        Cue(
            start_ms=round(cue["start_s"] * 1000),
            end_ms=round(cue["end_s"] * 1000),
            lines=tuple(cue["lines"]),
        )
        for cue in cues_doc["cues"]
    ]
    found = find_violations(
        cues=cues,
        words=read_words(timings=timings, text=script["text"]),
        rules=CaptionRules(**cues_doc["rules"]),
        audio_end_ms=round(timings["duration_s"] * 1000),  # as the subtitles stage sets it
    )
    return len(cues), [violation.rule for violation in found]


def audit_tracks(tracks: Iterable[tuple[str, Path, Path, Path]]) -> Audit:
    """Audit (name, cues JSON, timings JSON, script JSON) files."""
    audit = Audit()
    for name, cues_path, timings_path, script_path in tracks:
        cue_count, rules = track_violations(
            cues_doc=_read(cues_path), timings=_read(timings_path), script=_read(script_path)
        )
        audit.tracks += 1
        audit.cues += cue_count
        audit.by_rule.update(rules)
        if rules:
            audit.offenders.append(name)
    return audit


def demo_tracks(demo_dir: Path) -> list[tuple[str, Path, Path, Path]]:
    """The caption tracks `mediaq demo` saved: one folder per job under demo/<batch>/."""
    found = []
    for cues_path in sorted(demo_dir.glob("*/*/subtitles-cues.json")):
        folder = cues_path.parent
        found.append((folder.name, cues_path, folder / "timings.json", folder / "script.json"))
    return found


def _read(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text("utf-8")))
