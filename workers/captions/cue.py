"""A caption cue: the lines shown between two times, in whole milliseconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cue:
    """One subtitle on screen.

    Attributes:
        start_ms, end_ms: display interval, milliseconds from the start of the audio.
            Times are whole milliseconds so that WebVTT and SRT carry them exactly.
        lines: the text, one entry per line, never empty.
    """

    start_ms: int
    end_ms: int
    lines: tuple[str, ...]

    @property
    def start_s(self) -> float:
        return self.start_ms / 1000

    @property
    def end_s(self) -> float:
        return self.end_ms / 1000
