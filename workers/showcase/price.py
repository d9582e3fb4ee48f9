"""Prices written the way shoppers read them: "€18.00" in English, "18,00 €" in Spanish."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from workers.speech import parse_language

# ISO 4217 code -> symbol; codes not listed are written as the code itself ("CHF 18.00").
_SYMBOLS = {
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "¥",
    "RMB": "¥",
    "CAD": "CA$",
    "AUD": "A$",
}
_NO_MINOR_UNITS = frozenset({"JPY", "KRW"})
# Spanish-speaking regions that write "1,240.50" (the rest write "1.240,50").
_DOT_DECIMAL_SPANISH_REGIONS = frozenset({"MX", "US", "PR", "DO", "GT", "HN", "NI", "PA", "SV"})
_SPANISH_SYMBOLS = {"USD": "US$"}


def format_price(*, amount: Decimal, currency: str, language: str) -> str:
    """Write a catalog price for a price card.

    Args:
        amount: price in major units (euros, not cents), as the catalog gives it.
        currency: ISO 4217 code ("EUR", "CNY").
        language: BCP 47 tag of the item ("en", "es-MX", "zh").

    Returns:
        English and Chinese put the symbol first ("€18.00", "¥128.00"); Spanish puts it
        after the amount with a space ("18,00 €"); a code without a known symbol goes
        before the amount ("CHF 18.00"), or after it in Spanish.
    """
    code = currency.strip().upper()
    places = 0 if code in _NO_MINOR_UNITS else 2
    quantized = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    tag = parse_language(tag=language)
    if tag.language == "es":
        is_comma = tag.region not in _DOT_DECIMAL_SPANISH_REGIONS
        number = _group(
            quantized, places, thousands="." if is_comma else ",", decimal="," if is_comma else "."
        )
        return f"{number}\u00a0{_SPANISH_SYMBOLS.get(code, _SYMBOLS.get(code, code))}"
    number = _group(quantized, places, thousands=",", decimal=".")
    symbol = _SYMBOLS.get(code)
    return f"{symbol}{number}" if symbol else f"{code}\u00a0{number}"


def _group(amount: Decimal, places: int, *, thousands: str, decimal: str) -> str:
    whole, _, fraction = f"{amount:.{places}f}".partition(".")
    # Spanish style guides leave four-digit amounts ungrouped ("1240"); English groups them.
    is_short = len(whole) <= 4 and thousands == "."
    grouped = whole if is_short else f"{int(whole):,}".replace(",", thousands)
    return f"{grouped}{decimal}{fraction}" if places else grouped
