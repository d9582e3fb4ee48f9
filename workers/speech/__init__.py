"""Speech text rules: numbers, money and units spelled out for a TTS voice, per language.

Pure functions, no I/O. One module per language (`en`, `es`, `zh`); this module picks the
right one from a BCP 47 tag ("en-GB", "es-MX", "zh-Hans-CN").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from workers.speech import en, es, zh

SUPPORTED_LANGUAGES = ("en", "es", "zh")
# Regions that write "1,240.5" rather than Spain's "1.240,5".
_DOT_DECIMAL_SPANISH_REGIONS = frozenset({"MX", "US", "PR", "DO", "GT", "HN", "NI", "PA", "SV"})


class UnsupportedLanguageError(ValueError):
    """The language tag names a language that has no speech rules here."""


@dataclass(frozen=True)
class LanguageTag:
    """The parts of a BCP 47 tag that change how numbers are written and read."""

    language: str
    region: str | None


def parse_language(*, tag: str) -> LanguageTag:
    """Split a BCP 47 tag into the base language and region.

    Args:
        tag: e.g. "en", "en-GB", "es_MX", "zh-Hans-CN".

    Returns:
        The base language ("en", "es" or "zh") and the region, upper case, if any.

    Raises:
        UnsupportedLanguageError: the base language is not one of SUPPORTED_LANGUAGES.
    """
    parts = tag.strip().replace("_", "-").split("-")
    language = parts[0].lower()
    if language not in SUPPORTED_LANGUAGES:
        raise UnsupportedLanguageError(
            f"language {tag!r} is not supported; use one of {', '.join(SUPPORTED_LANGUAGES)} "
            "(with any region or script, e.g. en-GB, es-MX, zh-Hans)"
        )
    # A region subtag is two letters or three digits; script subtags (Hans) are four letters.
    regions = [p.upper() for p in parts[1:] if len(p) == 2 or (len(p) == 3 and p.isdigit())]
    return LanguageTag(language=language, region=regions[0] if regions else None)


def _spanish_decimal_mark(region: str | None) -> str:
    return "." if region in _DOT_DECIMAL_SPANISH_REGIONS else ","


def rewrite_for_speech(*, text: str, language: str) -> str:
    """Spell every number-like token of `text` as words in its language.

    Args:
        text: narration text in `language`.
        language: BCP 47 tag of the text.

    Returns:
        The text with no ASCII digits left.

    Raises:
        UnsupportedLanguageError: no rules for the language.
    """
    tag = parse_language(tag=language)
    if tag.language == "en":
        return en.rewrite(text=text)
    if tag.language == "es":
        return es.rewrite(
            text=text, decimal_mark=_spanish_decimal_mark(tag.region), region=tag.region
        )
    return zh.rewrite(text=text)


def say_money(*, amount: Decimal, currency: str, language: str) -> str:
    """Spell a price: (Decimal("18.00"), "EUR", "en") -> "eighteen euros".

    Args:
        amount: the amount in major units (euros, not cents).
        currency: ISO 4217 code; unknown codes are spelled letter by letter.
        language: BCP 47 tag.

    Raises:
        UnsupportedLanguageError: no rules for the language.
    """
    tag = parse_language(tag=language)
    if tag.language == "en":
        return en.say_money(amount=amount, currency=currency)
    if tag.language == "es":
        mark = _spanish_decimal_mark(tag.region)
        return es.say_money(amount=amount, currency=currency, decimal_mark=mark)
    return zh.say_money(amount=amount, currency=currency)
