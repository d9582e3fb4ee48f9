"""Caption files: WebVTT and SRT sidecars and the cues JSON, all UTF-8 with LF line ends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workers.captions.cue import Cue
from workers.captions.rules import CaptionRules


def format_vtt(cues: Sequence[Cue]) -> str:
    """A WebVTT file: the `WEBVTT` header, then numbered cues with HH:MM:SS.mmm times.

    Cue text escapes `&`, `<` and `>` as character references, as WebVTT requires (a bare
    `<` would open a tag, and `-->` inside text would read as a timing line).
    """
    blocks = ["WEBVTT\n"]
    for number, cue in enumerate(cues, start=1):
        timing = f"{_timestamp(cue.start_ms, '.')} --> {_timestamp(cue.end_ms, '.')}"
        text = "\n".join(_escape_vtt(line) for line in cue.lines)
        blocks.append(f"{number}\n{timing}\n{text}\n")
    return "\n".join(blocks)


def format_srt(cues: Sequence[Cue]) -> str:
    """A SubRip file: numbered cues with HH:MM:SS,mmm times, text as is.

    SRT has no escaping; players read `<i>`-style tags in it, so text is passed through.
    """
    blocks = []
    for number, cue in enumerate(cues, start=1):
        timing = f"{_timestamp(cue.start_ms, ',')} --> {_timestamp(cue.end_ms, ',')}"
        blocks.append(f"{number}\n{timing}\n" + "\n".join(cue.lines) + "\n")
    return "\n".join(blocks)


def cues_document(*, cues: Sequence[Cue], language: str, rules: CaptionRules) -> dict[str, Any]:
    """The cues JSON: language, fps, cues (index from 1, start_s, end_s, lines) and the rules.

    Times are whole milliseconds written as seconds with three decimals, the same values
    the WebVTT and SRT files carry.
    """
    return {
        "language": language,
        "fps": rules.fps,
        "cues": [
            {
                "index": number,
                "start_s": round(cue.start_ms / 1000, 3),
                "end_s": round(cue.end_ms / 1000, 3),
                "lines": list(cue.lines),
            }
            for number, cue in enumerate(cues, start=1)
        ],
        "rules": rules.to_json(),
    }


def _timestamp(total_ms: int, separator: str) -> str:
    seconds, milliseconds = divmod(total_ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{milliseconds:03d}"


def _escape_vtt(line: str) -> str:
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
