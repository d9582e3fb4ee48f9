"""English speech rewriting: numbers, money, percentages, units, times and dates as words.

The output is meant for espeak-ng and for captions built from the same words, so it uses
plain words only: "6 p.m." becomes "six p m" (espeak spells single letters, and a dot
inside a sentence would be read as a full stop), "$38.5 million" becomes "thirty-eight
point five million dollars", "in 2024" becomes "in twenty twenty-four". Cardinals follow
American usage without "and" ("one thousand two hundred forty").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation


def _words(text: str) -> tuple[str, ...]:
    """Split a space-separated word list (kept as prose so long lists stay readable)."""
    return tuple(text.split())


_ONES = _words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = _words("_ _ twenty thirty forty fifty sixty seventy eighty ninety")
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
# Past this a number is an identifier (a phone or serial number), not a quantity.
_MAX_CARDINAL = 10**15 - 1
_IRREGULAR_ORDINALS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth",
    "eight": "eighth", "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip

_MONTHS = _words(
    "January February March April May June July August September October November December"
)
_MONTH_ABBREVIATIONS = {m[:3]: m for m in _MONTHS} | {"Sept": "September"}
_WEEKDAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")

# currency code -> (singular, plural, minor singular, minor plural); None: no spoken minor unit
_CURRENCIES: dict[str, tuple[str, str, str | None, str | None]] = {
    "USD": ("dollar", "dollars", "cent", "cents"),
    "EUR": ("euro", "euros", "cent", "cents"),
    "GBP": ("pound", "pounds", "penny", "pence"),
    "CHF": ("Swiss franc", "Swiss francs", "centime", "centimes"),
    "CAD": ("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "AUD": ("Australian dollar", "Australian dollars", "cent", "cents"),
    "JPY": ("yen", "yen", None, None),
    "CNY": ("yuan", "yuan", None, None),
    "RMB": ("yuan", "yuan", None, None),
}
_SYMBOLS = {"US$": "USD", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "￥": "JPY"}
_MONEY_SCALES = {
    "thousand": "thousand", "k": "thousand", "million": "million", "m": "million",
    "mn": "million", "billion": "billion", "bn": "billion", "b": "billion",
    "trillion": "trillion", "tn": "trillion",
}  # fmt: skip

# unit -> (singular, plural); matched case-sensitively, longest first ("mm" before "m")
_UNITS: dict[str, tuple[str, str]] = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "km²": ("square kilometer", "square kilometers"),
    "m²": ("square meter", "square meters"),
    "m³": ("cubic meter", "cubic meters"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "cl": ("centiliter", "centiliters"),
    "l": ("liter", "liters"),
    "L": ("liter", "liters"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "kW": ("kilowatt", "kilowatts"),
    "W": ("watt", "watts"),
    "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "GB": ("gigabyte", "gigabytes"),
    "MB": ("megabyte", "megabytes"),
    "TB": ("terabyte", "terabytes"),
    "GHz": ("gigahertz", "gigahertz"),
    "MHz": ("megahertz", "megahertz"),
    "Hz": ("hertz", "hertz"),
    "min": ("minute", "minutes"),
    "hrs": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "h": ("hour", "hours"),
    "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"),
    "s": ("second", "seconds"),
    "m": ("meter", "meters"),
    "K": ("kelvin", "kelvin"),
}
_FRACTIONS = {"1/2": "one half", "1/4": "one quarter", "3/4": "three quarters", "1/3": "one third"}

_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_NUM = r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(?:\.[0-9]+)?"
_YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"
_AMPM = r"(?:[ap]\.\s?m\.|[AP]\.M\.|[ap]m(?![A-Za-z])|[AP]M(?![A-Za-z]))"
_MONTH = "|".join(sorted([*_MONTHS, *_MONTH_ABBREVIATIONS], key=len, reverse=True))
_CODES = "|".join(_CURRENCIES)
_SYMBOL = r"US\$|[$€£¥￥]"
_SCALE = r"(?i:thousand|million|billion|trillion|bn|mn|tn|[kmb])(?![A-Za-z])"
_UNIT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_YEAR_CUES = (
    r"in|since|of|from|until|till|by|before|after|between|to|through|during|around|circa|"
    r"year|early|late|summer|winter|spring|autumn|fall"
)


def say_digits(*, digits: str) -> str:
    """Read a digit string one digit at a time ("007" -> "zero zero seven")."""
    return " ".join(_ONES[int(d)] for d in digits if d.isdigit())


def say_cardinal(*, number: int) -> str:
    """Spell an integer: 1240 -> "one thousand two hundred forty"; huge ones digit by digit."""
    if number < 0:
        return "minus " + say_cardinal(number=-number)
    if number > _MAX_CARDINAL:
        return say_digits(digits=str(number))
    if number == 0:
        return "zero"
    words = []
    for scale, name in _SCALES:
        if number >= scale:
            words.append(f"{_say_below_thousand(number // scale)} {name}")
            number %= scale
    if number:
        words.append(_say_below_thousand(number))
    return " ".join(words)


def _say_below_thousand(number: int) -> str:
    hundreds, rest = divmod(number, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest:
        words.append(_ONES[rest])
    return " ".join(words)


def say_ordinal(*, number: int) -> str:
    """Spell an ordinal: 1 -> "first", 18 -> "eighteenth", 21 -> "twenty-first"."""
    words = say_cardinal(number=number)
    head, sep, last = words.rpartition(" ")
    prefix, hyphen, last = last.rpartition("-")
    if last in _IRREGULAR_ORDINALS:
        last = _IRREGULAR_ORDINALS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + prefix + hyphen + last


def say_year(*, year: int) -> str:
    """Read a year as people say it: 2024 -> "twenty twenty-four", 1905 -> "nineteen oh five"."""
    if not 1000 <= year <= 2099 or 2000 <= year <= 2009:
        return say_cardinal(number=year)
    century, rest = divmod(year, 100)
    if rest == 0:
        return f"{say_cardinal(number=century)} hundred"
    if rest < 10:
        return f"{say_cardinal(number=century)} oh {_ONES[rest]}"
    return f"{say_cardinal(number=century)} {say_cardinal(number=rest)}"


def say_number(*, text: str) -> str:
    """Spell a number as written in English ("1,240", "38.5", "007")."""
    whole, _, fraction = text.replace(",", "").partition(".")
    if len(whole) > 1 and whole.startswith("0"):
        words = say_digits(digits=whole)
    else:
        words = say_cardinal(number=int(whole or "0"))
    if fraction:
        words += " point " + say_digits(digits=fraction)
    return words


def say_money(*, amount: Decimal, currency: str) -> str:
    """Spell an amount of money: (Decimal("18.00"), "EUR") -> "eighteen euros".

    Unknown currency codes are spelled letter by letter after the number.
    """
    if amount < 0:
        return "minus " + say_money(amount=-amount, currency=currency)
    code = currency.upper()
    if code not in _CURRENCIES:
        return f"{say_number(text=_plain(amount))} {' '.join(code)}"
    singular, plural, minor_singular, minor_plural = _CURRENCIES[code]
    cents = amount * 100
    if minor_singular is None or minor_plural is None or cents != cents.to_integral_value():
        name = singular if amount == 1 else plural
        return f"{say_number(text=_plain(amount))} {name}"
    whole, minor = divmod(int(cents), 100)
    parts = []
    if whole or not minor:
        parts.append(f"{say_cardinal(number=whole)} {singular if whole == 1 else plural}")
    if minor:
        parts.append(
            f"{say_cardinal(number=minor)} {minor_singular if minor == 1 else minor_plural}"
        )
    return " and ".join(parts)


def _plain(amount: Decimal) -> str:
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _money_from_text(number: str, code: str, scale: str | None) -> str:
    if scale:
        plural = _CURRENCIES[code][1]
        return f"{say_number(text=number)} {_MONEY_SCALES[scale.lower()]} {plural}"
    try:
        return say_money(amount=Decimal(number.replace(",", "")), currency=code)
    except InvalidOperation:
        return say_number(text=number)


def _money_after_symbol(m: re.Match[str]) -> str:
    return _money_from_text(m["num"], _SYMBOLS[m["sym"]], m["scale"])


def _money_with_code(m: re.Match[str]) -> str:
    groups = m.groupdict()
    code = (groups.get("code") or groups["code2"]).upper()
    return _money_from_text(m["num"], code, m["scale"])


def _money_before_euro_sign(m: re.Match[str]) -> str:
    return _money_from_text(m["num"], "EUR", m["scale"])


def _percent(m: re.Match[str]) -> str:
    return f"{say_number(text=m['num'])} percent"


def _keeps_full_stop(m: re.Match[str]) -> bool:
    """Whether the dot of a sentence-final "p.m." also ended the sentence."""
    if not m.group(0).endswith("."):
        return False
    rest = m.string[m.end() :]
    if not rest.strip():
        return True
    following = re.match(r"\s+([A-Z][a-z]*)", rest)
    return following is not None and following.group(1) not in (*_WEEKDAYS, *_MONTHS)


def _say_clock(hour: int, minute: int, suffix: str | None) -> str:
    if suffix is None and (hour >= 13 or hour == 0):
        # 24-hour clock: say it the 12-hour way, which is how anchors read it
        suffix = "pm" if hour >= 12 else "am"
    if suffix is not None:
        hour = hour % 12 or 12
    words = say_cardinal(number=hour)
    if minute:
        words += (" oh " if minute < 10 else " ") + say_cardinal(number=minute)
    elif suffix is None:
        words += " o'clock"
    if suffix is not None:
        words += " a m" if suffix.lower().startswith("a") else " p m"
    return words


def _time(m: re.Match[str]) -> str:
    minute = int(m["minute"]) if m["minute"] else 0
    words = _say_clock(int(m["hour"]), minute, m["ampm"])
    return words + ("." if m["ampm"] and _keeps_full_stop(m) else "")


def _month_name(text: str) -> str:
    return _MONTH_ABBREVIATIONS.get(text, text)


def _month_day(m: re.Match[str]) -> str:
    day = int(m["day"])
    if not 1 <= day <= 31:
        return m.group(0)
    words = f"{_month_name(m['month'])} {say_ordinal(number=day)}"
    if m["year"]:
        words += f", {say_year(year=int(m['year']))}"
    return words


def _day_month(m: re.Match[str]) -> str:
    day = int(m["day"])
    if not 1 <= day <= 31:
        return m.group(0)
    words = f"{say_ordinal(number=day)} of {_month_name(m['month'])}"
    if not m["suffix"] and not m["of"] and not m.string[: m.start()].endswith(("the ", "The ")):
        words = "the " + words
    if m["year"]:
        words += f", {say_year(year=int(m['year']))}"
    return words


def _iso_date(m: re.Match[str]) -> str:
    month = _MONTHS[int(m["month"]) - 1]
    day = say_ordinal(number=int(m["day"]))
    return f"{month} {day}, {say_year(year=int(m['year']))}"


def _plural(words: str) -> str:
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _decade(m: re.Match[str]) -> str:
    if m["year"]:
        return _plural(say_year(year=int(m["year"])))
    return _plural(say_cardinal(number=int(m["tens"])))


def _ordinal(m: re.Match[str]) -> str:
    return say_ordinal(number=int(m["num"]))


def _unit(m: re.Match[str]) -> str:
    unit = m["unit"]
    if unit == "K" and int(m["num"].replace(",", "").partition(".")[0]) < 1000:
        # "5K run" is five K; only colour temperatures like "2700 K" are kelvin
        return f"{say_number(text=m['num'])} K"
    singular, plural = _UNITS[unit]
    return f"{say_number(text=m['num'])} {singular if m['num'] == '1' else plural}"


def _year(m: re.Match[str]) -> str:
    return m["cue"] + say_year(year=int(m["year"]))


def _range(m: re.Match[str]) -> str:
    first, last = m["first"], m["last"]
    if re.fullmatch(_YEAR, first) and re.fullmatch(_YEAR, last):
        return f"{say_year(year=int(first))} to {say_year(year=int(last))}"
    return f"{say_number(text=first)} to {say_number(text=last)}"


def _plain_number(m: re.Match[str]) -> str:
    if m["num"]:
        return say_number(text=m["num"])
    return "point " + say_digits(digits=m["frac"][1:])


def _digit(m: re.Match[str]) -> str:
    return say_digits(digits=m.group(0))


# Order matters: specific shapes (money, times, dates) must claim their digits before the
# generic number rule reads them as plain quantities.
_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str], ...] = (
    (re.compile(r"(?<![\w.,])[-−](?=[0-9])"), "minus "),
    (re.compile(rf"(?P<sym>{_SYMBOL})\s?(?P<num>{_NUM})(?:\s?(?P<scale>{_SCALE}))?"),
     _money_after_symbol),
    (re.compile(rf"(?<![0-9])(?P<num>{_NUM})(?:\s?(?P<scale>{_SCALE}))?\s?€"),
     _money_before_euro_sign),
    (re.compile(
        rf"(?:\b(?P<code2>{_CODES})\s?(?P<num>{_NUM})(?:\s?(?P<scale>{_SCALE}))?)"
    ), _money_with_code),
    (re.compile(
        rf"(?<![0-9])(?P<num>{_NUM})(?:\s?(?P<scale>{_SCALE}))?\s?(?P<code>{_CODES})\b"
    ), _money_with_code),
    (re.compile(rf"(?<![0-9])(?P<num>{_NUM})\s?%"), _percent),
    (re.compile(
        rf"(?<![0-9:.,])(?P<hour>[01]?[0-9]|2[0-3]):(?P<minute>[0-5][0-9])(?![0-9]|:[0-9])"
        rf"(?:\s?(?P<ampm>{_AMPM}))?"
    ), _time),
    (re.compile(rf"(?<![0-9:.,])(?P<hour>1[0-2]|0?[1-9])(?P<minute>)\s?(?P<ampm>{_AMPM})"),
     _time),
    (re.compile(
        rf"\b(?P<year>{_YEAR})-(?P<month>0[1-9]|1[0-2])-(?P<day>0[1-9]|[12][0-9]|3[01])\b"
    ), _iso_date),
    (re.compile(
        rf"\b(?P<month>{_MONTH})\.?\s(?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)?(?![0-9]|[,.][0-9])"
        rf"(?:,?\s(?P<year>{_YEAR})(?![0-9]))?"
    ), _month_day),
    (re.compile(
        rf"(?<![0-9.,])(?P<day>[0-9]{{1,2}})(?P<suffix>st|nd|rd|th)?\s(?P<of>of\s)?"
        rf"(?P<month>{_MONTH})\b(?:,?\s(?P<year>{_YEAR})(?![0-9]))?"
    ), _day_month),
    (re.compile(r"(?<![0-9])(?P<num>[0-9]+)(?i:st|nd|rd|th)(?![A-Za-z])"), _ordinal),
    (re.compile(r"(?<![0-9'’])(?P<year>1[0-9]{2}0|20[0-9]0)['’]?s(?![A-Za-z])"), _decade),
    (re.compile(r"(?<![0-9A-Za-z])['’]?(?P<tens>[2-9]0)['’]?s(?![A-Za-z])(?P<year>)"),
     _decade),
    (re.compile(rf"(?<![0-9])(?P<num>{_NUM})\s?(?P<unit>{_UNIT})(?![A-Za-z0-9])"), _unit),
    (re.compile(r"(?<![0-9/])(?:1/2|1/4|3/4|1/3)(?![0-9/])"), lambda m: _FRACTIONS[m.group(0)]),
    (re.compile(
        rf"(?P<cue>\b(?i:{_YEAR_CUES})\s|\b(?i:mid)-)(?P<year>{_YEAR})(?![0-9]|[,.][0-9])"
    ), _year),
    (re.compile(r"(?<![0-9.,])(?P<first>[0-9]{1,4})[-–](?P<last>[0-9]{1,4})(?![0-9.,]?[0-9])"),
     _range),
    (re.compile(r"#(?=[0-9])"), "number "),
    (re.compile(rf"(?<![0-9])(?:(?P<num>{_NUM})|(?P<frac>(?:(?<=\s)|^)\.[0-9]+))"),
     _plain_number),
    (re.compile(r"[0-9]+"), _digit),
)  # fmt: skip


def _padded(fn: Callable[[re.Match[str]], str] | str) -> Callable[[re.Match[str]], str]:
    """Keep words apart from letters glued to the number ("A4" -> "A four")."""

    def replace(m: re.Match[str]) -> str:
        words = fn if isinstance(fn, str) else fn(m)
        before = m.string[m.start() - 1] if m.start() else " "
        after = m.string[m.end()] if m.end() < len(m.string) else " "
        if words and words[0].isalpha() and before.isalnum():
            words = " " + words
        if words and words[-1].isalnum() and after.isalnum():
            words += " "
        return words

    return replace


def rewrite(*, text: str) -> str:
    """Rewrite every number-like token of an English text as words for speech.

    Args:
        text: narration text, one or more sentences.

    Returns:
        The text with no ASCII digits left: money, percentages, units, clock times,
        dates, years, ordinals and plain numbers spelled out.
    """
    text = text.translate(_FULLWIDTH_DIGITS)
    for pattern, fn in _RULES:
        text = pattern.sub(_padded(fn), text)
    return text
