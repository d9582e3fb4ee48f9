"""Rule-based caption engine: cues from speech word timings by subtitle guidelines; no model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from workers.captions.cue import Cue
from workers.captions.rules import CaptionRules
from workers.captions.segment import segment_cues
from workers.captions.words import Word
from workers.engines.base import Engine


class CaptionRulesEngine(Engine):
    """Segments timed words into cues with workers.captions.segment; CPU only, no weights."""

    name: ClassVar[str] = "rules"
    # Bump when the cues for the same words and rules would change (segmentation, scoring).
    version: ClassVar[str] = "1.0.0"

    def load(self) -> None:
        """Nothing to load: the rules are plain Python."""

    def make_cues(
        self, *, words: Sequence[Word], rules: CaptionRules, language: str, audio_end_ms: int
    ) -> list[Cue]:
        """Cut the words into cues that follow the rules.

        Args:
            words: spoken words in order, with non-overlapping times in milliseconds.
            rules: the subtitle guidelines.
            language: BCP 47 tag, for the preferred break points.
            audio_end_ms: length of the narration; the last cue may stay until then.

        Returns:
            Cues in order (none for no words).

        Raises:
            PermanentEngineError: words spoken too fast for any cue to keep the minimum gap.
        """
        return segment_cues(words=words, rules=rules, language=language, audio_end_ms=audio_end_ms)
