"""When the narration speaks each script sentence, and which part of the ad it is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from workers.engines.base import PermanentEngineError
from workers.speech import UnsupportedLanguageError, say_money


@dataclass(frozen=True)
class SpokenSentence:
    """One script sentence and the time the voice spends on it, in seconds from the start."""

    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class NarrationParts:
    """The product script split into its parts (see workers/engines/extractive.py).

    Attributes:
        features: (index into the item's features, spoken sentence) in script order.
        price: the sentence that says the price, or None if the script has none.
        outro: the sentences after the price ("Available now.").
    """

    intro: tuple[SpokenSentence, ...]
    features: tuple[tuple[int, SpokenSentence], ...]
    price: SpokenSentence | None
    outro: tuple[SpokenSentence, ...]


def time_sentences(
    *, script: Mapping[str, Any], words: Sequence[Mapping[str, Any]]
) -> list[SpokenSentence]:
    """Place every script sentence on the narration's clock.

    Args:
        script: script.json: "text" and "sentences" (each a substring of text, in order).
        words: timings.json "words": start_s, end_s and char_start into the script text.

    Returns:
        One SpokenSentence per script sentence: from its first word's start to its last
        word's end. A sentence no word event falls in (espeak merged it into a neighbour)
        gets the instant where the previous one ended.

    Raises:
        PermanentEngineError: a sentence is not found in the script text.
    """
    text, timed = script["text"], []
    position, clock_s = 0, 0.0
    for sentence in script["sentences"]:
        start = text.find(sentence, position)
        if start < 0:
            raise PermanentEngineError(f"script sentence {sentence!r} is not in the script text")
        position = start + len(sentence)
        inside = [w for w in words if start <= int(w["char_start"]) < position]
        if inside:
            clock_s = float(inside[-1]["end_s"])
            timed.append(SpokenSentence(sentence, float(inside[0]["start_s"]), clock_s))
        else:
            timed.append(SpokenSentence(sentence, clock_s, clock_s))
    return timed


def split_parts(
    *,
    sentences: Sequence[SpokenSentence],
    feature_indices: Sequence[int],
    amount: Decimal,
    currency: str,
    language: str,
) -> NarrationParts:
    """Split a product script into intro, features, price and outro.

    The script is intro + one sentence per kept feature + the price + the outro. The price
    sentence is the one that says the price the way the script stage spells it; the kept
    features are the sentences just before it.

    Raises:
        PermanentEngineError: the script has fewer sentences than its kept features.
    """
    count = len(feature_indices)
    price_at = _find_price(sentences, amount=amount, currency=currency, language=language)
    if price_at is None:
        # A script from another writer: assume the extractive order with a one-line intro.
        price_at = min(1 + count, len(sentences))
    if price_at < count:
        raise PermanentEngineError(
            f"the script has {len(sentences)} sentences, too few for {count} features"
        )
    spoken = sentences[price_at - count : price_at]
    return NarrationParts(
        intro=tuple(sentences[: price_at - count]),
        features=tuple(zip(feature_indices, spoken, strict=True)),
        price=sentences[price_at] if price_at < len(sentences) else None,
        outro=tuple(sentences[price_at + 1 :]),
    )


def _find_price(
    sentences: Sequence[SpokenSentence], *, amount: Decimal, currency: str, language: str
) -> int | None:
    try:
        words = say_money(amount=amount, currency=currency, language=language)
    except UnsupportedLanguageError:
        return None
    found = [i for i, s in enumerate(sentences) if words.casefold() in s.text.casefold()]
    return found[-1] if found else None
