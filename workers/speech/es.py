"""Spanish speech rewriting: numbers, money, percentages, units, times and dates as words.

Spain's conventions are the default: "," is the decimal mark and "." groups thousands
("1.240 metros", "38,5 millones"). Regions that write numbers the American way (es-MX,
es-US, ...) pass `decimal_mark="."`. Gender is handled simply: "uno" becomes "un" before a
masculine noun and "una" before a feminine one ("veintiún años", "una hora",
"doscientas personas"), guessed from the next word's ending.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation


def _words(text: str) -> tuple[str, ...]:
    """Split a space-separated word list (kept as prose so long lists stay readable)."""
    return tuple(text.split())


_BELOW_THIRTY = _words(
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
    "dieciséis diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés "
    "veinticuatro veinticinco veintiséis veintisiete veintiocho veintinueve"
)
_TENS = _words("_ _ _ treinta cuarenta cincuenta sesenta setenta ochenta noventa")
_HUNDREDS = _words(
    "_ ciento doscientos trescientos cuatrocientos quinientos seiscientos setecientos "
    "ochocientos novecientos"
)
# Past this a number is an identifier (a phone or serial number), not a quantity.
_MAX_CARDINAL = 10**18 - 1
_ORDINALS = _words(
    "_ primero segundo tercero cuarto quinto sexto séptimo octavo noveno décimo undécimo duodécimo"
)
_ORDINAL_TENS = _words(
    "_ décimo vigésimo trigésimo cuadragésimo quincuagésimo sexagésimo septuagésimo "
    "octogésimo nonagésimo"
)
_MONTHS = _words(
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
)

# Words after a number that are not the noun it counts: "1 de junio" stays "uno".
_NOT_NOUNS = frozenset(
    _words(
        "de del y e o u a al por en con para sin sobre entre hasta desde que como más menos se "
        "la el los las lo es son fue ha han no"
    )
)
# Nouns ending in -a that are masculine; everything else ending in -a/-as is taken as feminine.
_MASCULINE_IN_A = frozenset(
    _words(
        "día días mapa mapas problema problemas programa programas sistema sistemas tema temas "
        "idioma idiomas planeta planetas clima climas poema poemas dilema dilemas"
    )
)

# currency code -> (singular, plural, minor singular, minor plural, is_feminine)
_CURRENCIES: dict[str, tuple[str, str, str | None, str | None, bool]] = {
    "EUR": ("euro", "euros", "céntimo", "céntimos", False),
    "USD": ("dólar", "dólares", "centavo", "centavos", False),
    "MXN": ("peso", "pesos", "centavo", "centavos", False),
    "ARS": ("peso", "pesos", "centavo", "centavos", False),
    "COP": ("peso", "pesos", "centavo", "centavos", False),
    "CLP": ("peso", "pesos", "centavo", "centavos", False),
    "GBP": ("libra", "libras", "penique", "peniques", True),
    "CHF": ("franco suizo", "francos suizos", "céntimo", "céntimos", False),
    "JPY": ("yen", "yenes", None, None, False),
    "CNY": ("yuan", "yuanes", None, None, False),
}
_PESO_REGIONS = frozenset({"MX", "AR", "CO", "CL", "UY", "DO", "CU"})

# unit -> (singular, plural, is_feminine); matched case-sensitively, longest first
_UNITS: dict[str, tuple[str, str, bool]] = {
    "km/h": ("kilómetro por hora", "kilómetros por hora", False),
    "km²": ("kilómetro cuadrado", "kilómetros cuadrados", False),
    "m²": ("metro cuadrado", "metros cuadrados", False),
    "m³": ("metro cúbico", "metros cúbicos", False),
    "°C": ("grado Celsius", "grados Celsius", False),
    "°": ("grado", "grados", False),
    "km": ("kilómetro", "kilómetros", False),
    "cm": ("centímetro", "centímetros", False),
    "mm": ("milímetro", "milímetros", False),
    "kg": ("kilogramo", "kilogramos", False),
    "mg": ("miligramo", "miligramos", False),
    "g": ("gramo", "gramos", False),
    "ml": ("mililitro", "mililitros", False),
    "mL": ("mililitro", "mililitros", False),
    "cl": ("centilitro", "centilitros", False),
    "l": ("litro", "litros", False),
    "L": ("litro", "litros", False),
    "t": ("tonelada", "toneladas", True),
    "kWh": ("kilovatio hora", "kilovatios hora", False),
    "kW": ("kilovatio", "kilovatios", False),
    "W": ("vatio", "vatios", False),
    "V": ("voltio", "voltios", False),
    "GB": ("gigabyte", "gigabytes", False),
    "MB": ("megabyte", "megabytes", False),
    "min": ("minuto", "minutos", False),
    "h": ("hora", "horas", True),
    "s": ("segundo", "segundos", False),
    "m": ("metro", "metros", False),
}
_FRACTIONS = {"1/2": "un medio", "1/4": "un cuarto", "3/4": "tres cuartos"}

_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_AMPM = r"(?:[ap]\.\s?m\.|[AP]\.\s?M\.|[ap]m(?![A-Za-z])|[AP]M(?![A-Za-z]))"
_CODES = "|".join(_CURRENCIES)
_SCALE = r"(?:mil\s+millones|millones|millón|billones|billón|mil(?![a-záéíóú]))"
_UNIT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))


def say_digits(*, digits: str) -> str:
    """Read a digit string one digit at a time ("007" -> "cero cero siete")."""
    return " ".join(_BELOW_THIRTY[int(d)] for d in digits if d.isdigit())


def say_cardinal(*, number: int, gender: str = "m") -> str:
    """Spell an integer: 1240 -> "mil doscientos cuarenta".

    Args:
        number: the integer.
        gender: "m" ("veintiuno", said alone), "apocope" ("veintiún", before a masculine
            noun) or "f" ("veintiuna", "doscientas").
    """
    if number < 0:
        return "menos " + say_cardinal(number=-number, gender=gender)
    if number > _MAX_CARDINAL:
        return say_digits(digits=str(number))
    if number == 0:
        return "cero"
    trillions, rest = divmod(number, 10**12)
    millions, rest = divmod(rest, 10**6)
    words = [_say_big(trillions, "billón", "billones"), _say_big(millions, "millón", "millones")]
    words.append(_say_below_million(rest, gender) if rest else "")
    return " ".join(w for w in words if w)


def _say_big(count: int, singular: str, plural: str) -> str:
    if count == 0:
        return ""
    if count == 1:
        return f"un {singular}"
    return f"{_say_below_million(count, 'apocope')} {plural}"


def _say_below_million(number: int, gender: str) -> str:
    thousands, rest = divmod(number, 1000)
    words = []
    if thousands == 1:
        words.append("mil")
    elif thousands:
        words.append(_say_below_thousand(thousands, "f" if gender == "f" else "apocope") + " mil")
    if rest:
        words.append(_say_below_thousand(rest, gender))
    return " ".join(words)


def _say_below_thousand(number: int, gender: str) -> str:
    hundreds, rest = divmod(number, 100)
    words = []
    if hundreds == 1:
        words.append("cien" if rest == 0 else "ciento")
    elif hundreds:
        word = _HUNDREDS[hundreds]
        words.append(word[:-2] + "as" if gender == "f" else word)
    if rest >= 30:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f" y {_say_one(ones, gender)}" if ones else ""))
    elif rest:
        words.append(_say_one(rest, gender))
    return " ".join(words)


def _say_one(number: int, gender: str) -> str:
    """A number below thirty, with "uno" adjusted to the gender of the noun it counts."""
    word = _BELOW_THIRTY[number]
    if number not in (1, 21) or gender == "m":
        return word
    if gender == "f":
        return word[:-1] + "a"
    return "un" if number == 1 else "veintiún"


def say_ordinal(*, number: int, is_feminine: bool = False) -> str:
    """Spell an ordinal: 1 -> "primero", 18 -> "decimoctavo"; past 100 the cardinal."""
    if number <= 0 or number > 100:
        return say_cardinal(number=number)
    if number <= 12:
        word = _ORDINALS[number]
    elif number < 20:
        unit = _ORDINALS[number - 10]
        word = "decimoctavo" if unit == "octavo" else "decimo" + unit
    elif number == 100:
        word = "centésimo"
    else:
        tens, ones = divmod(number, 10)
        word = _ORDINAL_TENS[tens] + (f" {_ORDINALS[ones]}" if ones else "")
    return " ".join(w[:-1] + "a" for w in word.split()) if is_feminine else word


def say_number(*, text: str, decimal_mark: str = ",", gender: str = "m") -> str:
    """Spell a number as written ("1.240", "38,5"; with `decimal_mark="."`: "1,240", "38.5")."""
    group_mark = "." if decimal_mark == "," else ","
    whole, _, fraction = text.replace(group_mark, "").partition(decimal_mark)
    if len(whole) > 1 and whole.startswith("0"):
        words = say_digits(digits=whole)
    else:
        words = say_cardinal(number=int(whole or "0"), gender="m" if fraction else gender)
    if fraction:
        point = " coma " if decimal_mark == "," else " punto "
        # Spanish reads short decimals as a number ("coma cinco", "coma veinticinco")
        is_short = len(fraction) <= 2 and not fraction.startswith("0")
        tail = say_cardinal(number=int(fraction)) if is_short else say_digits(digits=fraction)
        words += point + tail
    return words


def say_money(*, amount: Decimal, currency: str, decimal_mark: str = ",") -> str:
    """Spell an amount of money: (Decimal("18.00"), "EUR") -> "dieciocho euros".

    Unknown currency codes are spelled letter by letter after the number.
    """
    if amount < 0:
        return "menos " + say_money(amount=-amount, currency=currency, decimal_mark=decimal_mark)
    code = currency.upper()
    number = say_number(text=_plain(amount, decimal_mark), decimal_mark=decimal_mark)
    if code not in _CURRENCIES:
        return f"{number} {' '.join(code)}"
    singular, plural, minor_singular, minor_plural, is_feminine = _CURRENCIES[code]
    gender = "f" if is_feminine else "apocope"
    cents = amount * 100
    if minor_singular is None or minor_plural is None or cents != cents.to_integral_value():
        return _counted(number, singular if amount == 1 else plural)
    whole, minor = divmod(int(cents), 100)
    cents_words = say_cardinal(number=minor, gender="apocope")
    cents_words += f" {minor_singular if minor == 1 else minor_plural}"
    if minor and not whole:
        return cents_words
    words = _counted(say_cardinal(number=whole, gender=gender), singular if whole == 1 else plural)
    return f"{words} con {cents_words}" if minor else words


def _counted(number: str, noun: str) -> str:
    """Join a number and its noun: "un millón de euros" takes "de", "doce euros" does not."""
    is_round_millions = number.endswith(("millón", "millones", "billón", "billones"))
    return f"{number} de {noun}" if is_round_millions else f"{number} {noun}"


def _plain(amount: Decimal, decimal_mark: str) -> str:
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", decimal_mark)


def _gender_of_next_word(rest: str) -> str:
    """Guess the gender of the noun a number counts from the word after it."""
    match = re.match(r"\s+([a-záéíóúüñ]+)", rest)
    if not match or match.group(1) in _NOT_NOUNS:
        return "m"
    word = match.group(1)
    is_feminine_ending = word.endswith(("a", "as", "ión", "iones", "dad", "dades"))
    return "f" if is_feminine_ending and word not in _MASCULINE_IN_A else "apocope"


def _say_clock(hour: int, minute: int, suffix: str | None) -> str:
    if suffix is not None:
        hour = hour % 12 or 12
        is_pm = suffix.lower().startswith("p")
    words = say_cardinal(number=hour, gender="f")  # "la una", "las veintiuna"
    if minute:
        words += " y " + say_cardinal(number=minute)
    elif suffix is None:
        words += " horas" if hour > 12 else " en punto"
    if suffix is not None:
        words += " " + _day_part(hour, is_pm)
    return words


def _day_part(hour: int, is_pm: bool) -> str:
    if not is_pm:
        return "de la madrugada" if hour < 6 or hour == 12 else "de la mañana"
    if hour == 12:
        return "del mediodía"
    return "de la tarde" if hour < 8 else "de la noche"


def _keeps_full_stop(m: re.Match[str]) -> bool:
    """Whether the dot of a sentence-final "p. m." also ended the sentence."""
    rest = m.string[m.end() :]
    return m.group(0).endswith(".") and (
        not rest.strip() or bool(re.match(r"\s+[A-ZÁÉÍÓÚÑ¿¡]", rest))
    )


class _Rules:
    """Regex rules for one decimal convention; built once per convention."""

    def __init__(self, *, decimal_mark: str, dollar_name: str) -> None:
        self.decimal_mark = decimal_mark
        self.dollar_code = dollar_name
        dec, group = (r",", r"\.") if decimal_mark == "," else (r"\.", ",")
        num = rf"(?:[0-9]{{1,3}}(?:{group}[0-9]{{3}})+(?![0-9])|[0-9]+)(?:{dec}[0-9]+)?"
        self.num = num
        self.rules: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
            (re.compile(r"(?<![\w.,])[-−](?=[0-9])"), lambda m: "menos "),
            (re.compile(rf"(?P<sym>US\$|[$€£¥])\s?(?P<num>{num})(?:\s(?P<scale>{_SCALE}))?"),
             self.money_after_symbol),
            (re.compile(rf"(?<![0-9])(?P<num>{num})(?:\s(?P<scale>{_SCALE}))?\s?(?P<sym>€|\$)"),
             self.money_after_symbol),
            (re.compile(rf"\b(?P<code>{_CODES})\s?(?P<num>{num})(?:\s(?P<scale>{_SCALE}))?"),
             self.money_with_code),
            (re.compile(rf"(?<![0-9])(?P<num>{num})(?:\s(?P<scale>{_SCALE}))?\s?(?P<code>{_CODES})\b"),
             self.money_with_code),
            (re.compile(rf"(?<![0-9])(?P<num>{num})\s?%"), self.percent),
            (re.compile(
                r"(?<![0-9:.,])(?P<hour>[01]?[0-9]|2[0-3])[.:](?P<minute>[0-5][0-9])\s?(?:h|horas)\b"
            ), self.time),
            (re.compile(
                rf"(?<![0-9:.,])(?P<hour>[01]?[0-9]|2[0-3]):(?P<minute>[0-5][0-9])(?![0-9]|:[0-9])"
                rf"(?:\s?(?P<ampm>{_AMPM}))?"
            ), self.time),
            (re.compile(rf"(?<![0-9:.,])(?P<hour>1[0-2]|0?[1-9])(?P<minute>)\s?(?P<ampm>{_AMPM})"),
             self.time),
            (re.compile(
                r"\b(?P<year>[12][0-9]{3})-(?P<month>0?[1-9]|1[0-2])-(?P<day>0?[1-9]|[12][0-9]|3[01])\b"
            ), self.date),
            (re.compile(
                r"\b(?P<day>0?[1-9]|[12][0-9]|3[01])/(?P<month>0?[1-9]|1[0-2])/(?P<year>[12][0-9]{3})\b"
            ), self.date),
            (re.compile(r"(?<![0-9])(?P<num>[0-9]+)\.?(?P<mark>[ºª]|er\b)"), self.ordinal),
            (re.compile(rf"(?<![0-9])(?P<num>{num})\s?(?P<unit>{_UNIT})(?![A-Za-z0-9])"),
             self.unit),
            (re.compile(r"(?<![0-9/])(?:1/2|1/4|3/4)(?![0-9/])"), lambda m: _FRACTIONS[m.group(0)]),
            (re.compile(r"(?<![0-9.,])(?P<first>[0-9]{1,4})[-–](?P<last>[0-9]{1,4})(?![0-9.,]?[0-9])"),
             self.range),
            (re.compile(r"#(?=[0-9])"), lambda m: "número "),
            (re.compile(rf"(?<![0-9])(?P<num>{num})"), self.plain_number),
            (re.compile(r"[0-9]+"), lambda m: say_digits(digits=m.group(0))),
        )  # fmt: skip

    def say(self, text: str, gender: str = "m") -> str:
        return say_number(text=text, decimal_mark=self.decimal_mark, gender=gender)

    def money(self, number: str, code: str, scale: str | None) -> str:
        if scale:
            plural = _CURRENCIES[code][1]
            joiner = " " if scale == "mil" else " de "
            return f"{self.say(number, 'apocope')} {scale}{joiner}{plural}"
        group_mark = "." if self.decimal_mark == "," else ","
        plain = number.replace(group_mark, "").replace(self.decimal_mark, ".")
        try:
            amount = Decimal(plain)
        except InvalidOperation:
            return self.say(number)
        return say_money(amount=amount, currency=code, decimal_mark=self.decimal_mark)

    def money_after_symbol(self, m: re.Match[str]) -> str:
        symbol = m["sym"]
        code = {"€": "EUR", "£": "GBP", "¥": "JPY", "US$": "USD"}.get(symbol, self.dollar_code)
        return self.money(m["num"], code, m["scale"])

    def money_with_code(self, m: re.Match[str]) -> str:
        return self.money(m["num"], m["code"], m["scale"])

    def percent(self, m: re.Match[str]) -> str:
        return f"{self.say(m['num'])} por ciento"

    def time(self, m: re.Match[str]) -> str:
        groups = m.groupdict()
        minute = int(m["minute"]) if m["minute"] else 0
        words = _say_clock(int(m["hour"]), minute, groups.get("ampm"))
        return words + ("." if groups.get("ampm") and _keeps_full_stop(m) else "")

    def date(self, m: re.Match[str]) -> str:
        day, month = say_cardinal(number=int(m["day"])), _MONTHS[int(m["month"]) - 1]
        return f"{day} de {month} de {say_cardinal(number=int(m['year']))}"

    def ordinal(self, m: re.Match[str]) -> str:
        number = int(m["num"])
        if m["mark"] == "er":
            return {1: "primer", 3: "tercer"}.get(number) or say_ordinal(number=number)
        return say_ordinal(number=number, is_feminine=m["mark"] == "ª")

    def unit(self, m: re.Match[str]) -> str:
        singular, plural, is_feminine = _UNITS[m["unit"]]
        words = self.say(m["num"], "f" if is_feminine else "apocope")
        return _counted(words, singular if m["num"] == "1" else plural)

    def range(self, m: re.Match[str]) -> str:
        return f"{self.say(m['first'])} a {self.say(m['last'])}"

    def plain_number(self, m: re.Match[str]) -> str:
        return self.say(m["num"], _gender_of_next_word(m.string[m.end() :]))


@functools.cache
def _rules_for(decimal_mark: str, dollar_code: str) -> _Rules:
    return _Rules(decimal_mark=decimal_mark, dollar_name=dollar_code)


def _padded(fn: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
    """Keep words apart from letters glued to the number ("A4" -> "A cuatro")."""

    def replace(m: re.Match[str]) -> str:
        words = fn(m)
        before = m.string[m.start() - 1] if m.start() else " "
        after = m.string[m.end()] if m.end() < len(m.string) else " "
        if words and words[0].isalpha() and before.isalnum():
            words = " " + words
        if words and words[-1].isalnum() and after.isalnum():
            words += " "
        return words

    return replace


def rewrite(*, text: str, decimal_mark: str = ",", region: str | None = None) -> str:
    """Rewrite every number-like token of a Spanish text as words for speech.

    Args:
        text: narration text, one or more sentences.
        decimal_mark: "," (Spain and most of South America) or "." (Mexico, the US, ...).
        region: the BCP 47 region; in peso countries ("MX", "AR", ...) "$" means pesos.

    Returns:
        The text with no ASCII digits left.
    """
    dollar_code = "MXN" if region in _PESO_REGIONS else "USD"
    rules = _rules_for(decimal_mark, dollar_code)
    text = text.translate(_FULLWIDTH_DIGITS)
    for pattern, fn in rules.rules:
        text = pattern.sub(_padded(fn), text)
    return text
