"""Sentence splitting for English, Spanish and Chinese narration text.

English and Spanish split after ".", "!", "?" or "…" when the next word starts a sentence
(upper case, a digit, "¿", "¡", an opening quote), except after titles ("Mr.", "Dr.",
"Sra."), single-letter initials, and "a.m."/"p.m." followed by a weekday or month
("4 p.m. Sunday"). Chinese splits after 。！？. A line break always ends a sentence.
"""

from __future__ import annotations

import re

from workers.speech import parse_language


def _words(text: str) -> tuple[str, ...]:
    """Split a space-separated word list (kept as prose so long lists stay readable)."""
    return tuple(text.split())


_TITLES = frozenset(
    _words(
        "mr mrs ms dr prof sr sra srta dra st mt gen gov sen rep lt col capt sgt vs ud uds "
        "approx fig dept av avda pág tel jr"
    )
)
_NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "núm", "nº"})
# A time abbreviation followed by these names is not the end of a sentence ("4 p.m. Sunday").
_NAMES_AFTER_TIMES = frozenset(
    _words(
        "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April "
        "May June July August September October November December"
    )
)
_LATIN_BOUNDARY = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s+[\"'“‘«(\[¿¡]*[A-ZÁÉÍÓÚÑÜ0-9])|\s*\n\s*")
_CHINESE_BOUNDARY = re.compile(r"[。！？!?]+[”’」』）)]*|\s*\n\s*")


def split_sentences(*, text: str, language: str) -> list[str]:
    """Split narration text into sentences, keeping their punctuation.

    Args:
        text: one or more paragraphs.
        language: BCP 47 tag; picks the Chinese or the Latin-script rules.

    Returns:
        The non-empty sentences, stripped, in order.

    Raises:
        UnsupportedLanguageError: no rules for the language.
    """
    is_chinese = parse_language(tag=language).language == "zh"
    boundary = _CHINESE_BOUNDARY if is_chinese else _LATIN_BOUNDARY
    sentences = []
    start = 0
    for m in boundary.finditer(text):
        if is_chinese or _ends_sentence(m):
            sentences.append(text[start : m.end()].strip())
            start = m.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def _ends_sentence(m: re.Match[str]) -> bool:
    """Whether a full stop candidate really ends a sentence, judged by the word before it."""
    mark = m.group(0)
    if "\n" in mark or not mark.startswith(".") or mark.startswith(".."):
        return True
    before = m.string[: m.start()]
    word = re.search(r"[\"'“‘«(\[¿¡]*([^\s\"'“‘«(\[¿¡]*)$", before)
    token = word.group(1) if word else ""
    lowered = token.lower()
    if _ends_with_time_abbreviation(before):
        return _next_word(m) not in _NAMES_AFTER_TIMES
    if lowered in _TITLES:
        return False
    if lowered in _NUMBER_ABBREVIATIONS:
        # "No. 5" is a number sign, but "He said no." ends a sentence
        return not m.string[m.end() :].lstrip()[:1].isdigit()
    # Initials ("J. Smith") and the first half of a spaced abbreviation ("p. m.")
    return not re.fullmatch(r"[^\W\d_]", token)


def _ends_with_time_abbreviation(before: str) -> bool:
    tail = before[-4:].lower()
    return tail.endswith(("a.m", "p.m")) or tail in ("a. m", "p. m")


def _next_word(m: re.Match[str]) -> str:
    following = re.match(r"\s+[\"'“‘«(\[¿¡]*(\w+)", m.string[m.end() :])
    return following.group(1) if following else ""
