"""Read caption files back with third-party parsers (webvtt-py, srt), as players would."""

from __future__ import annotations

import html
from datetime import timedelta

import srt
import webvtt

from workers.captions.cue import Cue

_MILLISECOND = timedelta(milliseconds=1)


def read_vtt(text: str) -> list[Cue]:
    """Cues as webvtt-py reads them; character references decoded as a WebVTT renderer does."""
    return [
        Cue(
            start_ms=caption.start_time.in_milliseconds(),
            end_ms=caption.end_time.in_milliseconds(),
            lines=tuple(html.unescape(line) for line in caption.lines),
        )
        for caption in webvtt.from_string(text)
    ]


def read_srt(text: str) -> list[Cue]:
    """Cues as the `srt` package reads them."""
    return [
        Cue(
            start_ms=subtitle.start // _MILLISECOND,
            end_ms=subtitle.end // _MILLISECOND,
            lines=tuple(subtitle.content.split("\n")),
        )
        for subtitle in srt.parse(text)
    ]
