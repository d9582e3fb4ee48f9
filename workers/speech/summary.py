"""Extractive summary: score sentences by term frequency, headline overlap, position and numbers.

Each sentence gets a score in [0, 1], a weighted sum of
- term weight: the mean document frequency of its content terms (what the article is about),
- headline overlap: the share of headline terms it contains (what the editor thought mattered),
- position: earlier is better (news is written in inverted-pyramid order),
- numbers: sentences with figures carry the facts viewers remember.
Terms are lower-case words minus stop words for English and Spanish, and Han character
bigrams for Chinese (no word segmenter needed). Ties go to the earlier sentence.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from workers.speech import parse_language


def _words(text: str) -> tuple[str, ...]:
    """Split a space-separated word list (kept as prose so long lists stay readable)."""
    return tuple(text.split())


_WEIGHT_TERMS = 0.35
_WEIGHT_HEADLINE = 0.30
_WEIGHT_POSITION = 0.20
_WEIGHT_NUMBERS = 0.15

_STOP_WORDS = {
    "en": frozenset(
        _words(
            "a an the and or but if of at by for with about against between into through during "
            "before after above below to from up down in out on off over under again further then "
            "once here there when where why how all any both each few more most other some such no "
            "nor not only own same so than too very can will just should now is are was were be "
            "been being have has had having do does did it its it's they them their theirs this "
            "that these those i me my we our you your he him his she her who whom which what as "
            "would could may might must shall said says say also while until"
        )
    ),
    "es": frozenset(
        _words(
            "el la los las un una unos unas y o u e de del al a en con por para sin sobre entre "
            "hasta desde que como más menos se su sus lo le les es son fue fueron ha han había "
            "ser estar está están este esta estos estas ese esa esos esas aquel muy ya no sí "
            "también pero porque cuando donde quien cual cuales según tras durante ante bajo "
            "mismo misma otro otra otros otras todo toda todos todas nos me mi mis tu tus"
        )
    ),
}
_CHINESE_STOP_CHARACTERS = frozenset("的了是在和与将也都而及其这那之于把被从对为")
_NUMBER_WORDS = {
    "en": frozenset(
        _words(
            "one two three four five six seven eight nine ten eleven twelve twenty thirty forty "
            "fifty hundred thousand million billion percent first second third"
        )
    ),
    "es": frozenset(
        _words(
            "uno una dos tres cuatro cinco seis siete ocho nueve diez once doce veinte treinta "
            "cuarenta cincuenta cien ciento mil millones millón ciento primero segundo"
        )
    ),
}
_CHINESE_NUMERALS = re.compile(r"[0-9零一二三四五六七八九十百千万亿两]")
_WORD = re.compile(r"[^\W\d_]+")
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")


def extract_terms(*, text: str, language: str) -> list[str]:
    """Content terms of a text: stemmed words for English/Spanish, Han bigrams for Chinese."""
    base = parse_language(tag=language).language
    if base == "zh":
        return [
            run[i : i + 2]
            for run in _HAN_RUN.findall(text)
            for i in range(len(run) - 1)
            if not _CHINESE_STOP_CHARACTERS.intersection(run[i : i + 2])
        ]
    stop_words = _STOP_WORDS[base]
    words = (w.lower() for w in _WORD.findall(text))
    return [_stem(w) for w in words if w not in stop_words and len(w) > 1]


def _stem(word: str) -> str:
    # Plural "s" only: enough to match "bridge"/"bridges", never merges unrelated words.
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _has_numbers(text: str, base: str) -> bool:
    if base == "zh":
        return bool(_CHINESE_NUMERALS.search(text))
    if re.search(r"[0-9]", text):
        return True
    return any(w.lower() in _NUMBER_WORDS[base] for w in _WORD.findall(text))


def score_sentences(*, sentences: Sequence[str], headline: str, language: str) -> list[float]:
    """Score each sentence for an extractive summary.

    Args:
        sentences: the article's sentences, in order.
        headline: the article's headline (its terms count as important).
        language: BCP 47 tag.

    Returns:
        One score in [0, 1] per sentence.
    """
    base = parse_language(tag=language).language
    sentence_terms = [extract_terms(text=s, language=language) for s in sentences]
    headline_terms = set(extract_terms(text=headline, language=language))
    frequency = Counter(t for terms in sentence_terms for t in terms)
    frequency.update(headline_terms)
    top_frequency = max(frequency.values(), default=1)
    count = len(sentences)
    scores = []
    for index, (sentence, terms) in enumerate(zip(sentences, sentence_terms, strict=True)):
        # sorted(): float sums must not depend on set order, which changes per process
        unique = sorted(set(terms))
        term_weight = sum(frequency[t] for t in unique) / (len(unique) or 1) / top_frequency
        overlap = len(headline_terms.intersection(unique)) / (len(headline_terms) or 1)
        position = 1.0 - index / count
        has_numbers = 1.0 if _has_numbers(sentence, base) else 0.0
        scores.append(
            _WEIGHT_TERMS * term_weight
            + _WEIGHT_HEADLINE * overlap
            + _WEIGHT_POSITION * position
            + _WEIGHT_NUMBERS * has_numbers
        )
    return scores


def select_sentences(
    *, scores: Sequence[float], costs: Sequence[int], budget: float, required: Sequence[int] = ()
) -> list[int]:
    """Pick the best-scoring sentences whose total cost fits the budget.

    Args:
        scores: one score per sentence.
        costs: spoken length of each sentence (words or characters).
        budget: the most total cost allowed.
        required: sentences kept whatever they cost (the lead).

    Returns:
        Indices of the kept sentences, in their original order.
    """
    chosen = set(required)
    used = sum(costs[i] for i in chosen)
    for index in sorted(range(len(scores)), key=lambda i: (-scores[i], i)):
        if index not in chosen and used + costs[index] <= budget:
            chosen.add(index)
            used += costs[index]
    return sorted(chosen)
