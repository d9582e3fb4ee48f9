"""subtitles stage: WebVTT, SRT and a cues JSON from the tts word timings and the script."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from workers.captions.cue import Cue
from workers.captions.formats import cues_document, format_srt, format_vtt
from workers.captions.rules import CaptionRules, rules_from_params
from workers.captions.words import read_words
from workers.engines.base import Engine, PermanentEngineError
from workers.engines.caption_rules import CaptionRulesEngine
from workers.stages.base import Stage, StageOutput


class MakeSubtitles(Stage):
    """Caption the narration: cues timed to the spoken words, cut by subtitle guidelines.

    Inputs: "timings" (the tts stage's timings JSON: words with times and character spans)
    and "script" (script.json: "language" and the exact "text" that was spoken).

    Params (all optional; see workers.captions.rules.CaptionRules): max_chars_per_line
    (42, or 16 for Chinese), max_lines (2), min_duration_s (5/6), max_duration_s (7),
    min_gap_frames (2), fps (25), max_cps (17).
    """

    kind: ClassVar[str] = "subtitles"
    engines: ClassVar[Mapping[str, type[Engine]]] = {"rules": CaptionRulesEngine}
    outputs: ClassVar[tuple[str, ...]] = ("vtt", "srt", "cues")

    def run(
        self,
        *,
        item: Mapping[str, Any],
        inputs: Mapping[str, Path],
        params: Mapping[str, Any],
        engine: Engine,
        workdir: Path,
    ) -> list[StageOutput]:
        """Write subtitles.vtt, subtitles.srt and cues.json into workdir.

        Returns:
            "vtt" (text/vtt), "srt" (application/x-subrip), "cues" (application/json:
            language, fps, cues with index, start_s, end_s, lines, and the rules used).

        Raises:
            PermanentEngineError: an unknown or malformed parameter, unreadable inputs,
                timings that do not match the script, or an engine this stage cannot drive.
        """
        if not isinstance(engine, CaptionRulesEngine):
            raise PermanentEngineError(
                f"subtitles stage cannot run on engine {engine.name!r}; use one of "
                f"{', '.join(self.engines)}"
            )
        script = _read_json(inputs, "script")
        timings = _read_json(inputs, "timings")
        language, text = _language_and_text(script, item)
        rules = rules_from_params(params=params, language=language)
        words = read_words(timings=timings, text=text)
        cues = engine.make_cues(
            words=words, rules=rules, language=language, audio_end_ms=_audio_end_ms(timings)
        )
        return _write_outputs(workdir, cues=cues, language=language, rules=rules)


def _write_outputs(
    workdir: Path, *, cues: list[Cue], language: str, rules: CaptionRules
) -> list[StageOutput]:
    # LF line ends on every platform: the files are hashed into the cache key downstream.
    vtt, srt, document = workdir / "subtitles.vtt", workdir / "subtitles.srt", workdir / "cues.json"
    vtt.write_text(format_vtt(cues), encoding="utf-8", newline="\n")
    srt.write_text(format_srt(cues), encoding="utf-8", newline="\n")
    body = cues_document(cues=cues, language=language, rules=rules)
    document.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", "utf-8")
    return [
        StageOutput(name="vtt", path=vtt, media_type="text/vtt"),
        StageOutput(name="srt", path=srt, media_type="application/x-subrip"),
        StageOutput(name="cues", path=document, media_type="application/json"),
    ]


def _read_json(inputs: Mapping[str, Path], port: str) -> dict[str, Any]:
    path = inputs.get(port)
    if path is None:
        raise PermanentEngineError(f"subtitles stage needs the input port {port!r}")
    try:
        value = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PermanentEngineError(f"input {port!r} is not UTF-8 JSON: {error}") from error
    if not isinstance(value, dict):
        raise PermanentEngineError(f"input {port!r} must be a JSON object")
    return value


def _language_and_text(script: Mapping[str, Any], item: Mapping[str, Any]) -> tuple[str, str]:
    language = script.get("language") or item.get("language")
    text = script.get("text")
    if not isinstance(language, str) or not language:
        raise PermanentEngineError("the script has no language and neither has the item")
    if not isinstance(text, str):
        raise PermanentEngineError("the script JSON has no string field 'text'")
    return language, text


def _audio_end_ms(timings: Mapping[str, Any]) -> int:
    duration_s = timings.get("duration_s")
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float) or duration_s < 0:
        raise PermanentEngineError(f"timings duration_s must be seconds, got {duration_s!r}")
    return round(duration_s * 1000)
