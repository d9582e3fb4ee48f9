"""Cheap checks that generated narration is real text in the right language, not model noise.

A language model can return nothing, answer in another language, loop on one phrase or
ramble past its budget; none of that may reach the voice. These checks are deliberately
simple and explainable (character scripts, stop words, repetition, length), so a refusal
message can say exactly what was wrong. They accept normal news prose in English, Spanish
and Chinese and refuse most degenerate output; they are not a language identifier.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from workers.speech import parse_language


def _words(text: str) -> frozenset[str]:
    """A space-separated word list as a set (kept as prose so the lists stay readable)."""
    return frozenset(text.split())


# Frequent function words: present in any real sentence, absent from token soup. Each list
# avoids words the other language also writes ("a", "no"), so the two can be told apart.
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the of and to in is was for on that with it as at by from has have are be this will "
        "said its were which their an after who not but they"
    ),
    "es": _words(
        "el la los las de del y en que un una por con para es se al su sus lo como más fue ha "
        "este esta entre según pero sobre también"
    ),
}
# Frequent Chinese function characters (的 了 是 在 ...), the stop words of written Chinese.
CHINESE_FUNCTION_CHARS = frozenset("的了是在和有这为对也将与中一不上个到说年")

MIN_WORDS_FOR_STOP_CHECK = 6
MIN_STOP_WORD_RATIO = 0.08
MIN_HAN_RATIO = 0.6
MIN_LATIN_RATIO = 0.9
MIN_HAN_FOR_FUNCTION_CHECK = 20
MIN_FUNCTION_CHAR_RATIO = 0.03
MIN_UNITS_FOR_REPEAT_CHECK = 12
MIN_DISTINCT_RATIO = 0.3
MAX_PHRASE_REPEATS = 3
# A repeated phrase: three words, or six Han characters (Chinese writes no spaces).
PHRASE_WORDS = 3
PHRASE_HAN = 6

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


class ScriptRejected(ValueError):
    """The text failed a check; the message says which and why, in terms a user can act on."""


@dataclass(frozen=True)
class ScriptStats:
    """What the checks measured, for messages and tests."""

    letters: int
    han: int
    latin: int
    words: tuple[str, ...]


def measure(*, text: str) -> ScriptStats:
    """Count letters, Han characters, Latin letters and lower-case words of `text`."""
    letters = [c for c in text if c.isalpha()]
    han = sum(1 for c in letters if _is_han(c))
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    words = tuple(w.lower() for w in _WORD.findall(text))
    return ScriptStats(letters=len(letters), han=han, latin=latin, words=words)


def check_script_text(*, text: str, language: str) -> None:
    """Refuse text that is empty, in the wrong language or script, or degenerate.

    Args:
        text: generated narration, before numbers are spelled out.
        language: BCP 47 tag the text must be written in ("en", "es-MX", "zh-Hans").

    Raises:
        ScriptRejected: naming the failed check and the measured values.
        UnsupportedLanguageError: no checks for the language.
    """
    base = parse_language(tag=language).language
    stats = measure(text=text)
    if stats.letters == 0:
        raise ScriptRejected("it is empty (no letters at all)")
    if base == "zh":
        _check_chinese(stats, text)
        _check_repetition([c for c in text if _is_han(c)], PHRASE_HAN)
    else:
        _check_latin(stats, base)
        _check_repetition(list(stats.words), PHRASE_WORDS)


def _check_chinese(stats: ScriptStats, text: str) -> None:
    ratio = stats.han / stats.letters
    if ratio < MIN_HAN_RATIO:
        raise ScriptRejected(
            f"it is not Chinese: only {ratio:.0%} of its letters are Han characters "
            f"(at least {MIN_HAN_RATIO:.0%} expected)"
        )
    if stats.han < MIN_HAN_FOR_FUNCTION_CHECK:
        return
    function = sum(c in CHINESE_FUNCTION_CHARS for c in text) / stats.han
    if function < MIN_FUNCTION_CHAR_RATIO:
        raise ScriptRejected(
            f"it does not read as Chinese prose: {function:.1%} of its Han characters are "
            f"common function characters like 的 了 是 (at least {MIN_FUNCTION_CHAR_RATIO:.0%} "
            "expected)"
        )


def _check_latin(stats: ScriptStats, base: str) -> None:
    ratio = stats.latin / stats.letters
    if ratio < MIN_LATIN_RATIO:
        raise ScriptRejected(
            f"it is not written in the Latin script of {base!r}: only {ratio:.0%} of its "
            f"letters are Latin (at least {MIN_LATIN_RATIO:.0%} expected)"
        )
    if len(stats.words) < MIN_WORDS_FOR_STOP_CHECK:
        return
    counts = {lang: sum(w in stop for w in stats.words) for lang, stop in STOP_WORDS.items()}
    own = counts.get(base, 0) / len(stats.words)
    others = {lang: n for lang, n in counts.items() if lang != base and n > counts.get(base, 0)}
    if own < MIN_STOP_WORD_RATIO or others:
        found = ", ".join(f"{lang} {n}" for lang, n in counts.items())
        raise ScriptRejected(
            f"it does not read as {base!r} prose: {own:.0%} of its {len(stats.words)} words are "
            f"common {base!r} function words (at least {MIN_STOP_WORD_RATIO:.0%} expected; "
            f"function words found per language: {found})"
        )


def _check_repetition(units: list[str], phrase_len: int) -> None:
    """Refuse a loop: few distinct units, or one phrase of `phrase_len` units said too often."""
    if len(units) < MIN_UNITS_FOR_REPEAT_CHECK:
        return
    distinct = len(set(units)) / len(units)
    phrases = Counter(tuple(units[i : i + phrase_len]) for i in range(len(units) - phrase_len + 1))
    phrase, repeats = phrases.most_common(1)[0] if phrases else ((), 0)
    if distinct < MIN_DISTINCT_RATIO or repeats > MAX_PHRASE_REPEATS:
        joiner = "" if phrase_len == PHRASE_HAN else " "
        raise ScriptRejected(
            f"it repeats itself: {distinct:.0%} distinct words, and {joiner.join(phrase)!r} "
            f"occurs {repeats} times"
        )


def _is_han(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"
