"""Chinese speech rewriting: Arabic numerals, money, percentages, units, times and dates.

Numbers become Chinese numerals in simplified characters: "1240米" -> "一千二百四十米",
"38.5亿" -> "三十八点五亿", "4%" -> "百分之四", years digit by digit ("2024年" ->
"二零二四年"), clock times with 点/分 ("18:00" -> "十八点"), "¥18" -> "十八元". A bare
"2" before a measure word is read "两" ("2个", "2点"), as is a leading 2 before 千/万/亿.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation


def _words(text: str) -> tuple[str, ...]:
    """Split a space-separated word list (kept as prose so long lists stay readable)."""
    return tuple(text.split())


_DIGITS = "零一二三四五六七八九"
_SECTION_UNITS = ("", "万", "亿", "万亿")
# Past this a number is an identifier (a phone or serial number), not a quantity.
_MAX_CARDINAL = 10**16 - 1
# Measure words after which a lone 2 is said 两 ("两个", "两点"), not 二 ("二月").
_MEASURE_WORDS = _words(
    "个 位 名 人 种 家 本 次 天 年 周 小时 分钟 岁 辆 条 张 件 台 所 座 架 倍 项 份 只 双 套 层 "
    "间 点 公里 千米 米 吨 公斤 千克 克 升 毫升 元 块 百 千 万 亿 处 场 届 轮 艘 部 篇 句 组"
)

# currency code -> spoken name; CNY is special-cased to 元/角/分
_CURRENCIES = {
    "CNY": "元", "RMB": "元", "USD": "美元", "EUR": "欧元", "GBP": "英镑", "JPY": "日元",
    "HKD": "港元", "TWD": "新台币", "CHF": "瑞士法郎", "CAD": "加元", "AUD": "澳元",
}  # fmt: skip
_SYMBOLS = {"US$": "USD", "$": "USD", "€": "EUR", "£": "GBP", "¥": "CNY", "￥": "CNY"}

_UNITS = {
    "km/h": "公里每小时", "km²": "平方公里", "m²": "平方米", "m³": "立方米", "°C": "摄氏度",
    "°": "度", "km": "公里", "cm": "厘米", "mm": "毫米", "kg": "公斤", "mg": "毫克", "g": "克",
    "ml": "毫升", "mL": "毫升", "l": "升", "L": "升", "t": "吨", "kWh": "千瓦时", "kW": "千瓦",
    "W": "瓦", "V": "伏", "min": "分钟", "h": "小时", "s": "秒", "m": "米",
}  # fmt: skip

_NORMALIZE = str.maketrans("０１２３４５６７８９％", "0123456789%")
_NUM = r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(?:\.[0-9]+)?"
_CODES = "|".join(_CURRENCIES)
_UNIT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_HAN = r"[\u3400-\u9fff]"


def say_digits(*, digits: str) -> str:
    """Read a digit string one digit at a time ("2024" -> "二零二四")."""
    return "".join(_DIGITS[int(d)] for d in digits if d.isdigit())


def say_cardinal(*, number: int) -> str:
    """Spell an integer: 1240 -> "一千二百四十", 100000 -> "十万", 2000 -> "两千"."""
    if number < 0:
        return "负" + say_cardinal(number=-number)
    if number > _MAX_CARDINAL:
        return say_digits(digits=str(number))
    if number == 0:
        return "零"
    words = _join_sections(number)
    if words.startswith("一十"):
        words = words[1:]  # "十二", "十万": the leading 一 is not said
    if words.startswith(("二千", "二万", "二亿")):
        words = "两" + words[1:]
    return words


def _join_sections(number: int) -> str:
    """Join four-digit sections (个, 万, 亿) with the 零 that marks a gap."""
    sections = []
    while number:
        number, section = divmod(number, 10000)
        sections.append(section)
    words = ""
    needs_zero = False
    for power in range(len(sections) - 1, -1, -1):
        section = sections[power]
        if section == 0:
            needs_zero = bool(words)
            continue
        if words and (needs_zero or section < 1000):
            words += "零"
        words += _say_section(section) + _SECTION_UNITS[power]
        needs_zero = False
    return words


def _say_section(number: int) -> str:
    words = ""
    needs_zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = number // value % 10
        if digit == 0:
            needs_zero = bool(words)
            continue
        words += ("零" if needs_zero else "") + _DIGITS[digit] + unit
        needs_zero = False
    return words


def say_number(*, text: str) -> str:
    """Spell a number as written ("1,240", "38.5", "007")."""
    whole, _, fraction = text.replace(",", "").partition(".")
    if len(whole) > 1 and whole.startswith("0"):
        words = say_digits(digits=whole)
    else:
        words = say_cardinal(number=int(whole or "0"))
    if fraction:
        words += "点" + say_digits(digits=fraction)
    return words


def say_money(*, amount: Decimal, currency: str) -> str:
    """Spell an amount of money: (Decimal("128.00"), "CNY") -> "一百二十八元".

    Renminbi is read in 元/角/分; other known currencies as a number and their name;
    unknown codes are kept as letters after the number.
    """
    if amount < 0:
        return "负" + say_money(amount=-amount, currency=currency)
    code = currency.upper()
    plain = _plain(amount)
    if code not in _CURRENCIES:
        return f"{say_number(text=plain)} {code}"
    cents = amount * 100
    if _CURRENCIES[code] != "元" or cents != cents.to_integral_value():
        return say_number(text=plain) + _CURRENCIES[code]
    yuan, rest = divmod(int(cents), 100)
    jiao, fen = divmod(rest, 10)
    words = say_cardinal(number=yuan) + "元" if yuan or not rest else ""
    if jiao:
        words += _DIGITS[jiao] + "角"
    if fen:
        words += ("零" if yuan and not jiao else "") + _DIGITS[fen] + "分"
    return words


def _plain(amount: Decimal) -> str:
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _is_before_measure_word(m: re.Match[str]) -> bool:
    return m.string[m.end() :].lstrip().startswith(tuple(_MEASURE_WORDS))


def _say_quantity(text: str, m: re.Match[str]) -> str:
    """A number that counts something: a lone 2 before a measure word is 两."""
    if text == "2" and _is_before_measure_word(m):
        return "两"
    return say_number(text=text)


def _money(number: str, code: str, scale: str | None) -> str:
    if scale:
        return say_number(text=number) + scale + _CURRENCIES[code]
    try:
        return say_money(amount=Decimal(number.replace(",", "")), currency=code)
    except InvalidOperation:
        return say_number(text=number) + _CURRENCIES[code]


def _money_after_symbol(m: re.Match[str]) -> str:
    return _money(m["num"], _SYMBOLS[m["sym"]], m["scale"])


def _money_with_code(m: re.Match[str]) -> str:
    return _money(m["num"], m["code"], m["scale"])


def _money_in_yuan(m: re.Match[str]) -> str:
    return _money(m["num"], "CNY", m["scale"])


def _percent(m: re.Match[str]) -> str:
    return ("千分之" if m["sign"] == "‰" else "百分之") + say_number(text=m["num"])


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m["hour"]), int(m["minute"])
    words = "两" if hour == 2 else say_cardinal(number=hour)
    words += "点"
    if minute:
        words += ("零" if minute < 10 else "") + say_cardinal(number=minute) + "分"
    return words


def _date(m: re.Match[str]) -> str:
    month, day = say_cardinal(number=int(m["month"])), say_cardinal(number=int(m["day"]))
    return f"{say_digits(digits=m['year'])}年{month}月{day}日"


def _year(m: re.Match[str]) -> str:
    return say_digits(digits=m["year"]) + "年"


def _unit(m: re.Match[str]) -> str:
    words = "两" if m["num"] == "2" else say_number(text=m["num"])
    return words + _UNITS[m["unit"]]


def _range(m: re.Match[str]) -> str:
    return f"{say_number(text=m['first'])}至{_say_quantity(m['last'], m)}"


def _plain_number(m: re.Match[str]) -> str:
    return _say_quantity(m["num"], m)


# Order matters: specific shapes (money, times, dates) must claim their digits before the
# generic number rule reads them as plain quantities.
_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"(?<![0-9A-Za-z.,])[-−](?=[0-9])"), lambda m: "负"),
    (re.compile(rf"(?P<sym>US\$|[$€£¥￥])\s?(?P<num>{_NUM})(?:\s?(?P<scale>万亿|万|亿))?"),
     _money_after_symbol),
    (re.compile(rf"(?<![A-Za-z])(?P<code>{_CODES})\s?(?P<num>{_NUM})(?:\s?(?P<scale>万亿|万|亿))?"),
     _money_with_code),
    (re.compile(
        rf"(?<![0-9])(?P<num>{_NUM})\s?(?P<scale>万亿|万|亿)?\s?(?P<code>{_CODES})(?![A-Za-z])"
    ), _money_with_code),
    (re.compile(rf"(?<![0-9])(?P<num>{_NUM})(?P<scale>万亿|万|亿)?元"), _money_in_yuan),
    (re.compile(rf"(?<![0-9])(?P<num>{_NUM})\s?(?P<sign>[%‰])"), _percent),
    (re.compile(
        r"(?<![0-9:.,])(?P<hour>[01]?[0-9]|2[0-3])[:：](?P<minute>[0-5][0-9])(?![0-9]|[:：][0-9])"
    ), _time),
    (re.compile(
        r"(?<![0-9])(?P<year>[12][0-9]{3})[-/.](?P<month>0?[1-9]|1[0-2])[-/.]"
        r"(?P<day>0?[1-9]|[12][0-9]|3[01])(?![0-9])"
    ), _date),
    (re.compile(r"(?<![0-9.,])(?P<year>[0-9]{4})\s?年"), _year),
    (re.compile(rf"(?<![0-9])(?P<num>{_NUM})\s?(?P<unit>{_UNIT})(?![A-Za-z0-9])"), _unit),
    (re.compile(r"(?<![0-9.,])(?P<first>[0-9]{1,4})\s?[-–~～]\s?(?P<last>[0-9]{1,4})(?![0-9.,]?[0-9])"),
     _range),
    (re.compile(rf"(?<![0-9])(?P<num>{_NUM})"), _plain_number),
    (re.compile(r"[0-9]+"), lambda m: say_digits(digits=m.group(0))),
)  # fmt: skip


def rewrite(*, text: str) -> str:
    """Rewrite every Arabic numeral of a Chinese text as Chinese numerals for speech.

    Args:
        text: narration text, one or more sentences.

    Returns:
        The text with no ASCII digits left; spaces that separated numbers from the
        Chinese around them are dropped ("马克杯 350 毫升" -> "马克杯三百五十毫升").
    """
    text = text.translate(_NORMALIZE)
    for pattern, fn in _RULES:
        text = pattern.sub(fn, text)
    return re.sub(rf"(?<={_HAN})\s+(?={_HAN})", "", text)
