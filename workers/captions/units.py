"""Layout units: the words cues are built from, with words longer than a line cut into letters.

A unit is a whole word, or one character of a word too long for any line. Cues and lines
break only between units, so a word that fits on a line is never split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workers.captions.breaks import Break, classify_break
from workers.captions.rules import HELD_SILENCE_MS
from workers.captions.words import Word


@dataclass(frozen=True)
class Unit:
    """A word, or one character of an over-long word.

    Attributes:
        text: the characters.
        start_ms, end_ms: speech times; a piece gets its share of the word's time by
            character position (floor of the linear interpolation).
        joiner: what separates it from the previous unit on the same line (" " or "").
        word_index: the index of the word it comes from.
        word: that word's whole text (what break points are judged by).
        is_piece: it is part of a word longer than a line.
    """

    text: str
    start_ms: int
    end_ms: int
    joiner: str
    word_index: int
    word: str
    is_piece: bool


class UnitText:
    """Units with prefix lengths and break costs, for O(1) line lengths during segmentation.

    Args:
        units: the units in reading order.
        language: BCP 47 tag, for the break classes.
    """

    def __init__(self, units: Sequence[Unit], *, language: str) -> None:
        self.units = tuple(units)
        # Flat lists, read in the segmentation's inner loops: ends[k] is where units[:k] end
        # on one line, starts[k] where units[k]'s text starts, so a line of units[a:b] is
        # ends[b] - starts[a] characters long.
        self.ends = [0]
        self.starts = []
        for unit in self.units:
            self.starts.append(self.ends[-1] + len(unit.joiner))
            self.ends.append(self.starts[-1] + len(unit.text))
        self.is_whole_word = [not unit.is_piece for unit in self.units]
        # held_silence[k]: silence held on screen by units[:k] over HELD_SILENCE_MS, summed.
        self._held_silence = [0]
        for before, after in zip(self.units, self.units[1:], strict=False):
            silence_ms = after.start_ms - before.end_ms
            self._held_silence.append(self._held_silence[-1] + max(0, silence_ms - HELD_SILENCE_MS))
        # breaks[k]: the break between units k-1 and k (breaks[0] is unused).
        self.breaks = [Break.SENTENCE] + [
            classify_break(
                before=before.word,
                after=after.word,
                language=language,
                is_inside_word=after.is_piece and before.word_index == after.word_index,
            )
            for before, after in zip(self.units, self.units[1:], strict=False)
        ]
        self.break_costs = [float(kind) for kind in self.breaks]

    def length(self, first: int, stop: int) -> int:
        """Characters of units[first:stop] on one line (the first unit's joiner dropped)."""
        return self.ends[stop] - self.starts[first]

    def held_silence_ms(self, first: int, stop: int) -> int:
        """Silence between units[first:stop] beyond HELD_SILENCE_MS per pause, summed."""
        return self._held_silence[stop - 1] - self._held_silence[first]

    def line(self, first: int, stop: int) -> str:
        parts = [unit.joiner + unit.text for unit in self.units[first:stop]]
        return parts[0].removeprefix(self.units[first].joiner) + "".join(parts[1:])

    def is_lone_word(self, first: int, stop: int) -> bool:
        """Whether units[first:stop] is one whole word alone."""
        return stop - first == 1 and self.is_whole_word[first]


def make_units(words: Sequence[Word], *, max_chars_per_line: int) -> list[Unit]:
    """Units for `words`: whole words, and single characters of words longer than a line."""
    units: list[Unit] = []
    for index, word in enumerate(words):
        joiner = " " if word.is_spaced else ""
        if len(word.text) <= max_chars_per_line:
            units.append(
                Unit(word.text, word.start_ms, word.end_ms, joiner, index, word.text, False)
            )
            continue
        for offset, char in enumerate(word.text):
            units.append(
                Unit(
                    text=char,
                    start_ms=piece_time_ms(word, offset),
                    end_ms=piece_time_ms(word, offset + 1),
                    joiner=joiner if offset == 0 else "",
                    word_index=index,
                    word=word.text,
                    is_piece=True,
                )
            )
    return units


def piece_time_ms(word: Word, offset: int) -> int:
    """When the character at `offset` of `word` is reached, sharing the time by characters."""
    return word.start_ms + (word.end_ms - word.start_ms) * offset // len(word.text)
