"""How good a place between two words is for a line or cue break, per subtitle style guides.

Preference, best first: after a sentence end, after a comma/semicolon/colon, before a
conjunction or preposition, anywhere else between words, after an article or preposition
(it would leave "the" hanging at a line end), and last inside a word (only words longer
than a line are ever split).
"""

from __future__ import annotations

import enum

_CLOSERS = "\"'”’»)]」』）】"
_SENTENCE_END = tuple(".!?…。！？")
_CLAUSE_END = tuple(",;:—–，、；：")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words a clause or phrase starts with: breaking before them keeps the phrase together.
_JOINING_WORDS: dict[str, frozenset[str]] = {
    "en": _word_set(
        "and but or nor so yet because although though while when where which who whose that "
        "if unless until after before since as than to of in on at for from with by about "
        "into over under between through during without within across against among around "
        "near outside"
    ),
    "es": _word_set(
        "y e o u ni pero sino porque aunque que cuando donde mientras si como de del a al en "
        "con por para sin sobre entre hasta desde tras hacia según durante contra"
    ),
    "fr": _word_set(
        "et ou mais donc car ni que qui quand si comme de du des à au aux en dans par pour sans "
        "sur sous avec entre vers chez depuis pendant"
    ),
    "de": _word_set(
        "und oder aber denn sondern dass weil wenn als ob während nachdem bevor von zu in an "
        "auf mit für über unter nach bei aus durch gegen ohne um zwischen"
    ),
    "zh": _word_set(
        "和 与 及 并 而 但 或 因为 所以 如果 虽然 但是 并且 以及 同时 在 对 从 向 将 把 被 比 于 "
        "为 以 由 据"
    ),
}
# Words that lean on the next one: a break right after them strands them.
_LEANING_WORDS: dict[str, frozenset[str]] = {
    "en": _word_set("a an the my your his her its our their this these those"),
    "es": _word_set("el la los las un una unos unas lo su sus mi mis este esta estos"),
    "fr": _word_set("le la les un une des du ce cette ces son sa ses mon ma mes"),
    "de": _word_set("der die das den dem des ein eine einen einem einer sein seine"),
    "zh": frozenset(),
}


class Break(enum.IntEnum):
    """Break quality, best first; the value is its cost in the segmentation score."""

    SENTENCE = 0
    CLAUSE = 1
    BEFORE_JOINING_WORD = 3
    BETWEEN_WORDS = 6
    AFTER_LEANING_WORD = 10
    INSIDE_WORD = 40


def classify_break(*, before: str, after: str, language: str, is_inside_word: bool) -> Break:
    """Classify the break between the text `before` it and the text `after` it.

    Args:
        before, after: the words (or word pieces) on either side.
        language: BCP 47 tag of the text.
        is_inside_word: both sides are pieces of one word.
    """
    if is_inside_word:
        return Break.INSIDE_WORD
    tail = before.rstrip(_CLOSERS)
    if tail.endswith(_SENTENCE_END):
        return Break.SENTENCE
    if tail.endswith(_CLAUSE_END):
        return Break.CLAUSE
    primary = language.replace("_", "-").split("-", 1)[0].lower()
    primary = "zh" if primary in ("cmn", "yue") else primary
    if _bare(after) in _JOINING_WORDS.get(primary, frozenset()):
        return Break.BEFORE_JOINING_WORD
    if _bare(before) in _LEANING_WORDS.get(primary, frozenset()) | _JOINING_WORDS.get(
        primary, frozenset()
    ):
        return Break.AFTER_LEANING_WORD
    return Break.BETWEEN_WORDS


def _bare(word: str) -> str:
    return word.strip("\"'“”‘’«»¿¡()[]「」『』（）【】").lower()
