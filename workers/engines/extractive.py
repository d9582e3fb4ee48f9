"""Extractive script engine: an anchor script from the source's own sentences, sized to a duration.

No model: it scores the article's sentences (workers.speech.summary), keeps the lead and the
best ones that fit the target duration, wraps them in an anchor intro and sign-off, and
spells numbers, money, units and dates for speech (workers.speech). Products get their
title, features and price instead of a summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from workers.engines.base import Engine, PermanentEngineError
from workers.speech import UnsupportedLanguageError, parse_language, rewrite_for_speech, say_money
from workers.speech.sentences import split_sentences
from workers.speech.summary import score_sentences, select_sentences
from workers.speech.timing import (
    DEFAULT_RATE_PER_MINUTE,
    count_spoken_units,
    estimate_duration_s,
    rate_unit,
)

# Anchor lines per language. Placeholders: {headline} (the title for products), {station}.
_NEWS_INTRO = {
    "en": "Good morning. Here is the latest from {station}: {headline}",
    "es": "Buenos días. Esto es lo último de {station}: {headline}",
    "zh": "早上好。这里是{station}，为您带来最新消息：{headline}",
}
_NEWS_SIGNOFF = {
    "en": "That was the latest from {station}. Thank you for watching.",
    "es": "Esto ha sido {station}. Gracias por su atención.",
    "zh": "以上是{station}为您带来的报道，感谢收看。",
}
_PRODUCT_INTRO = {
    "en": "Introducing: {headline}",
    "es": "Les presentamos: {headline}",
    "zh": "为您推荐：{headline}",
}
_PRODUCT_SIGNOFF = {"en": "Available now.", "es": "Ya disponible.", "zh": "现已有售。"}
_PRICE_SENTENCE = {"en": "It costs {price}.", "es": "Cuesta {price}.", "zh": "售价{price}。"}
_SENTENCE_ENDINGS = (".", "!", "?", "…", "。", "！", "？")


@dataclass(frozen=True)
class NewsSource:
    """A news article: the headline and the body text to summarise."""

    headline: str
    body: str


@dataclass(frozen=True)
class ProductSource:
    """A catalog row: the title, its features (one sentence each) and the price."""

    title: str
    features: tuple[str, ...]
    price: Decimal
    currency: str


@dataclass(frozen=True)
class ScriptRequest:
    """What to write. `None` for rate, intro or sign-off means the language's default."""

    language: str
    source: NewsSource | ProductSource
    target_duration_s: float
    rate_per_minute: float | None = None
    station: str = "mediaq news"
    intro: str | None = None
    signoff: str | None = None


@dataclass(frozen=True)
class Script:
    """A narration script, every number spelled for speech."""

    language: str
    item_kind: str
    headline: str
    text: str
    sentences: tuple[str, ...]
    source_sentence_indices: tuple[int, ...]
    target_duration_s: float
    estimated_duration_s: float
    rate_per_minute: float
    rate_unit: str

    def to_json(self) -> dict[str, Any]:
        """The `script.json` document (see workers/stages/script.py)."""
        return {
            "language": self.language,
            "item_kind": self.item_kind,
            "headline": self.headline,
            "text": self.text,
            "sentences": list(self.sentences),
            "source_sentence_indices": list(self.source_sentence_indices),
            "target_duration_s": self.target_duration_s,
            "estimated_duration_s": self.estimated_duration_s,
            "words_per_minute": self.rate_per_minute,
            "rate_unit": self.rate_unit,
        }


class ExtractiveEngine(Engine):
    """Writes anchor and product scripts by extraction and rules; CPU only, no weights."""

    name: ClassVar[str] = "extractive"
    version: ClassVar[str] = "1.0.0"

    def load(self) -> None:
        """Nothing to load: the rules are plain Python."""

    def write_script(self, *, request: ScriptRequest) -> Script:
        """Write a narration script that fits the request's target duration.

        Args:
            request: the source item, language, duration and anchor lines.

        Returns:
            The script; news keeps the lead sentence even when it alone overruns the target.

        Raises:
            PermanentEngineError: unsupported language or a source with no sentences.
        """
        try:
            base = parse_language(tag=request.language).language
        except UnsupportedLanguageError as error:
            raise PermanentEngineError(str(error)) from error
        rate = request.rate_per_minute or DEFAULT_RATE_PER_MINUTE[base]
        if isinstance(request.source, NewsSource):
            return _write_news(request, request.source, base, rate)
        return _write_product(request, request.source, base, rate)


def framing_sentences(*, request: ScriptRequest) -> tuple[list[str], list[str]]:
    """The anchor's own lines around a body written elsewhere (by the causal_lm engine).

    Args:
        request: the item and the intro/sign-off overrides, as for write_script.

    Returns:
        (opening, closing): the intro sentences, and the closing ones (a product's price
        sentence, then the sign-off), spelled for speech exactly as write_script spells them.

    Raises:
        PermanentEngineError: unsupported language.
    """
    try:
        base = parse_language(tag=request.language).language
    except UnsupportedLanguageError as error:
        raise PermanentEngineError(str(error)) from error
    source = request.source
    if isinstance(source, NewsSource):
        intro = _anchor_lines(request.intro, _NEWS_INTRO[base], request, source.headline, base)
        end = _anchor_lines(request.signoff, _NEWS_SIGNOFF[base], request, source.headline, base)
        return intro, end
    intro = _anchor_lines(request.intro, _PRODUCT_INTRO[base], request, source.title, base)
    end = _anchor_lines(request.signoff, _PRODUCT_SIGNOFF[base], request, source.title, base)
    price_words = say_money(
        amount=source.price, currency=source.currency, language=request.language
    )
    return intro, [_PRICE_SENTENCE[base].format(price=price_words), *end]


def _write_news(request: ScriptRequest, source: NewsSource, base: str, rate: float) -> Script:
    language = request.language
    source_sentences = split_sentences(text=source.body, language=language)
    if not source_sentences:
        raise PermanentEngineError("body has no sentences to narrate")
    intro = _anchor_lines(request.intro, _NEWS_INTRO[base], request, source.headline, base)
    signoff = _anchor_lines(request.signoff, _NEWS_SIGNOFF[base], request, source.headline, base)
    spoken = [_speak(s, language, base) for s in source_sentences]
    scores = score_sentences(
        sentences=source_sentences, headline=source.headline, language=language
    )
    kept = select_sentences(
        scores=scores,
        costs=[count_spoken_units(text=s, language=language) for s in spoken],
        budget=_budget(request, rate, [*intro, *signoff]),
        required=[0],  # the lead says what happened; a script without it makes no sense
    )
    body = [spoken[i] for i in kept]
    return _finish(request, "news", source.headline, (*intro, *body, *signoff), kept, rate)


def _write_product(request: ScriptRequest, source: ProductSource, base: str, rate: float) -> Script:
    language = request.language
    features = [_as_sentence(f, base) for f in source.features if f.strip()]
    if not features:
        raise PermanentEngineError("features has no feature to narrate")
    intro = _anchor_lines(request.intro, _PRODUCT_INTRO[base], request, source.title, base)
    signoff = _anchor_lines(request.signoff, _PRODUCT_SIGNOFF[base], request, source.title, base)
    price_words = say_money(amount=source.price, currency=source.currency, language=language)
    price = [_PRICE_SENTENCE[base].format(price=price_words)]
    spoken = [_speak(f, language, base) for f in features]
    kept = select_sentences(
        # Catalog features are ordered by the merchant: earlier ones matter more.
        scores=[-float(i) for i in range(len(spoken))],
        costs=[count_spoken_units(text=s, language=language) for s in spoken],
        budget=_budget(request, rate, [*intro, *price, *signoff]),
        required=[0],
    )
    body = [spoken[i] for i in kept]
    sentences = (*intro, *body, *price, *signoff)
    return _finish(request, "product", source.title, sentences, kept, rate)


def _anchor_lines(
    override: str | None, default: str, request: ScriptRequest, headline: str, base: str
) -> list[str]:
    """Fill an anchor template and return its spoken sentences ("" means no line at all)."""
    template = default if override is None else override
    if not template.strip():
        return []
    text = template.replace("{station}", request.station).replace("{headline}", headline)
    text = _speak(_as_sentence(text, base), request.language, base)
    return split_sentences(text=text, language=request.language)


def _speak(text: str, language: str, base: str) -> str:
    """Spell numbers for speech and capitalise the first word ("8 mm drop" -> "Eight ...")."""
    spoken = rewrite_for_speech(text=text, language=language)
    first_word = spoken.split(" ", 1)[0]
    # Leave brand-style words alone: "iPhone" must not become "IPhone".
    if base != "zh" and first_word[:1].islower() and first_word[1:] == first_word[1:].lower():
        spoken = spoken[0].upper() + spoken[1:]
    return spoken


def _as_sentence(text: str, base: str) -> str:
    """Trim and end with a full stop, for features and headlines."""
    text = text.strip()
    if not text.endswith(_SENTENCE_ENDINGS):
        text += "。" if base == "zh" else "."
    return text


def _budget(request: ScriptRequest, rate: float, fixed_lines: list[str]) -> float:
    """Spoken units left for the body once the fixed lines are paid for."""
    total = request.target_duration_s * rate / 60.0
    fixed = sum(count_spoken_units(text=line, language=request.language) for line in fixed_lines)
    return total - fixed


def _finish(
    request: ScriptRequest,
    kind: str,
    headline: str,
    sentences: tuple[str, ...],
    kept: list[int],
    rate: float,
) -> Script:
    language = request.language
    # Chinese writes no space between sentences
    joiner = "" if parse_language(tag=language).language == "zh" else " "
    text = joiner.join(sentences)
    duration_s = estimate_duration_s(text=text, language=language, rate_per_minute=rate)
    return Script(
        language=language,
        item_kind=kind,
        headline=headline,
        text=text,
        sentences=sentences,
        source_sentence_indices=tuple(kept),
        target_duration_s=request.target_duration_s,
        estimated_duration_s=round(duration_s, 2),
        rate_per_minute=rate,
        rate_unit=rate_unit(language=language),
    )
