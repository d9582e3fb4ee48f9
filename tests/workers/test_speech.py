"""Tests of the speech rules: numbers, money, units, times and dates spelled per language."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.speech import (
    UnsupportedLanguageError,
    parse_language,
    rewrite_for_speech,
    say_money,
)
from workers.speech.sentences import split_sentences
from workers.speech.summary import score_sentences, select_sentences
from workers.speech.timing import count_spoken_units

DIGIT = re.compile(r"[0-9]")


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("38.5 million dollars", "thirty-eight point five million dollars"),
        ("$38.5 million", "thirty-eight point five million dollars"),
        ("4%", "four percent"),
        ("4 percent", "four percent"),
        ("1,240 meters", "one thousand two hundred forty meters"),
        ("at 6 p.m.", "at six p m."),
        ("from 6pm", "from six p m"),
        ("at 18:00 sharp", "at six p m sharp"),
        ("from 7:45 until 8:20", "from seven forty-five until eight twenty"),
        ("at 7:05", "at seven oh five"),
        ("at 12:00", "at twelve o'clock"),
        ("from 4 p.m. Sunday until 2 a.m. Monday", "from four p m Sunday until two a m Monday"),
        ("22 minutes", "twenty-two minutes"),
        ("240 g", "two hundred forty grams"),
        ("8 mm", "eight millimeters"),
        ("1 mm", "one millimeter"),
        ("350 ml", "three hundred fifty milliliters"),
        ("20 l", "twenty liters"),
        ("1.8 m cable", "one point eight meters cable"),
        ("2700 K bulb", "two thousand seven hundred kelvin bulb"),
        ("24°C", "twenty-four degrees Celsius"),
        ("€18.00", "eighteen euros"),
        ("18.00 EUR", "eighteen euros"),
        ("$5.99", "five dollars and ninety-nine cents"),
        ("$1", "one dollar"),
        ("£0.50", "fifty pence"),
        ("in 2024", "in twenty twenty-four"),
        ("since 2021,", "since twenty twenty-one,"),
        ("in 2005", "in two thousand five"),
        ("in 1905", "in nineteen oh five"),
        ("in the 1990s", "in the nineteen nineties"),
        ("1st of June", "first of June"),
        ("June 1", "June first"),
        ("June 1, 2024", "June first, twenty twenty-four"),
        ("on 1 June", "on the first of June"),
        ("2024-06-01", "June first, twenty twenty-four"),
        ("18th-century", "eighteenth-century"),
        ("21st", "twenty-first"),
        ("48-hour strike", "forty-eight-hour strike"),
        ("lines 2, 5 and 9", "lines two, five and nine"),
        ("A4 size", "A four size"),
        ("-5 degrees", "minus five degrees"),
        ("pages 2-5", "pages two to five"),
        ("3,900 pupils", "three thousand nine hundred pupils"),
        ("1,000,000", "one million"),
        ("6.2 billion", "six point two billion"),
        ("007", "zero zero seven"),
        ("12345678901234567", "one two three four five six seven eight nine zero one two three "
         "four five six seven"),
    ],
)  # fmt: skip
def test_english_numbers_are_spelled_for_speech(text: str, spoken: str) -> None:
    assert rewrite_for_speech(text=text, language="en") == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("4 %", "cuatro por ciento"),
        ("4%", "cuatro por ciento"),
        ("38,5 millones de dólares", "treinta y ocho coma cinco millones de dólares"),
        ("$38,5 millones", "treinta y ocho coma cinco millones de dólares"),
        ("1.240 metros", "mil doscientos cuarenta metros"),
        ("18,00 EUR", "dieciocho euros"),
        ("18,50 €", "dieciocho euros con cincuenta céntimos"),
        ("€1", "un euro"),
        ("1.000.000 €", "un millón de euros"),
        ("750 ml", "setecientos cincuenta mililitros"),
        ("1 km", "un kilómetro"),
        ("24 horas", "veinticuatro horas"),
        ("1 hora", "una hora"),
        ("21 años", "veintiún años"),
        ("200 personas", "doscientas personas"),
        ("el 1 de junio", "el uno de junio"),
        ("el 1.º de mayo", "el primero de mayo"),
        ("la 2.ª planta", "la segunda planta"),
        ("en 2024", "en dos mil veinticuatro"),
        ("a las 18:00", "a las dieciocho horas"),
        ("a las 7:45", "a las siete y cuarenta y cinco"),
        ("a las 18.30 h", "a las dieciocho y treinta"),
        ("a las 6 p. m.", "a las seis de la tarde."),
        ("a las 8 a. m. y", "a las ocho de la mañana y"),
        ("3,14", "tres coma catorce"),
        ("-5 °C", "menos cinco grados Celsius"),
        ("01/06/2024", "uno de junio de dos mil veinticuatro"),
    ],
)
def test_spanish_numbers_are_spelled_for_speech(text: str, spoken: str) -> None:
    assert rewrite_for_speech(text=text, language="es") == spoken


def test_mexican_spanish_reads_the_dot_as_decimal_mark_and_dollar_sign_as_pesos() -> None:
    spoken = rewrite_for_speech(text="38.5 millones, 1,240 metros, $5", language="es-MX")

    assert (
        spoken == "treinta y ocho punto cinco millones, mil doscientos cuarenta metros, cinco pesos"
    )


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("1240米", "一千二百四十米"),
        ("38.5亿", "三十八点五亿"),
        ("4%", "百分之四"),
        ("4％", "百分之四"),
        ("2024年", "二零二四年"),
        ("6点", "六点"),
        ("2点", "两点"),
        ("2个人", "两个人"),
        ("2月", "二月"),
        ("18:00", "十八点"),
        ("7:45", "七点四十五分"),
        ("6:05", "六点零五分"),
        ("¥18", "十八元"),
        ("￥18.50", "十八元五角"),
        ("18元", "十八元"),
        ("128.00 CNY", "一百二十八元"),
        ("€18", "十八欧元"),
        ("马克杯 350 毫升", "马克杯三百五十毫升"),
        ("容量350毫升", "容量三百五十毫升"),
        ("350 ml", "三百五十毫升"),
        ("2024-06-01", "二零二四年六月一日"),
        ("6月1日", "六月一日"),
        ("10", "十"),
        ("15", "十五"),
        ("100000", "十万"),
        ("1005", "一千零五"),
        ("10010", "一万零一十"),
        ("2000", "两千"),
        ("1,240", "一千二百四十"),
        ("-5°C", "负五摄氏度"),
        ("2-5天", "二至五天"),
    ],
)
def test_chinese_numbers_become_chinese_numerals(text: str, spoken: str) -> None:
    assert rewrite_for_speech(text=text, language="zh") == spoken


@pytest.mark.parametrize(
    ("amount", "currency", "language", "spoken"),
    [
        ("18.00", "EUR", "en", "eighteen euros"),
        ("1.01", "USD", "en", "one dollar and one cent"),
        ("95", "SEK", "en", "ninety-five S E K"),
        ("29.00", "EUR", "es", "veintinueve euros"),
        ("1.50", "GBP", "es", "una libra con cincuenta peniques"),
        ("128.00", "CNY", "zh", "一百二十八元"),
        ("128.05", "CNY", "zh", "一百二十八元零五分"),
    ],
)
def test_prices_are_spelled_with_their_currency(
    amount: str, currency: str, language: str, spoken: str
) -> None:
    assert say_money(amount=Decimal(amount), currency=currency, language=language) == spoken


@pytest.mark.parametrize("tag", ["en", "en-GB", "EN_us", "es-MX", "es-419", "zh-CN", "zh-Hans"])
def test_regional_and_script_tags_of_supported_languages_are_accepted(tag: str) -> None:
    assert parse_language(tag=tag).language in ("en", "es", "zh")


@pytest.mark.parametrize("tag", ["fr", "de-DE", "eng", "", "pt-BR"])
def test_unsupported_languages_are_refused_with_the_supported_list(tag: str) -> None:
    with pytest.raises(UnsupportedLanguageError, match="en, es, zh"):
        rewrite_for_speech(text="1", language=tag)


def test_english_sentences_split_around_abbreviations_and_times() -> None:
    text = "Mr. Smith met Dr. J. Doe at 4 p.m. Sunday. It ended at 6 p.m. The crowd left! Did it?"

    assert split_sentences(text=text, language="en") == [
        "Mr. Smith met Dr. J. Doe at 4 p.m. Sunday.",
        "It ended at 6 p.m.",
        "The crowd left!",
        "Did it?",
    ]


def test_number_sign_abbreviation_splits_only_when_no_number_follows() -> None:
    assert split_sentences(text="He said no. See No. 5 now.", language="en") == [
        "He said no.",
        "See No. 5 now.",
    ]


def test_decimal_points_do_not_split_sentences() -> None:
    assert split_sentences(text="It cost 38.5 million. Then 4.2 more.", language="en") == [
        "It cost 38.5 million.",
        "Then 4.2 more.",
    ]


def test_spanish_sentences_split_before_inverted_marks() -> None:
    text = "¿Vienes? Sí. La Sra. López llegó a las 6 p. m. ¡Hola!"

    assert split_sentences(text=text, language="es") == [
        "¿Vienes?",
        "Sí.",
        "La Sra. López llegó a las 6 p. m.",
        "¡Hola!",
    ]


def test_chinese_sentences_split_after_full_width_marks() -> None:
    text = "大桥恢复通车。你知道吗？太好了！“引号。”结束"

    assert split_sentences(text=text, language="zh-CN") == [
        "大桥恢复通车。",
        "你知道吗？",
        "太好了！",
        "“引号。”",
        "结束",
    ]


def test_spoken_units_are_words_or_han_characters() -> None:
    assert count_spoken_units(text="thirty-eight point five", language="en") == 4
    assert count_spoken_units(text="三十八点五亿。", language="zh") == 6
    assert count_spoken_units(text="这里是mediaq news。", language="zh") == 3 + 2 * 2


def test_selection_keeps_the_required_lead_and_original_order() -> None:
    kept = select_sentences(
        scores=[0.1, 0.9, 0.8, 0.7], costs=[5, 5, 5, 5], budget=12, required=[0]
    )

    assert kept == [0, 1]


def test_sentences_that_share_headline_terms_score_higher() -> None:
    scores = score_sentences(
        sentences=["The bridge reopened.", "Cats sleep a lot.", "The bridge cost 4 million."],
        headline="Bridge reopens",
        language="en",
    )

    assert scores[2] > scores[1]


NUMBER_LANGUAGES = ("en", "es", "es-MX", "zh")
_SEPARATORS = {"en": ",", "es": ".", "es-MX": ",", "zh": ","}
_DECIMAL_MARKS = {"en": ".", "es": ",", "es-MX": ".", "zh": "."}


def _written(number: int, language: str, *, is_grouped: bool) -> str:
    text = f"{number:,}" if is_grouped else str(number)
    return text.replace(",", _SEPARATORS[language])


@settings(max_examples=300, deadline=None)
@given(
    number=st.integers(min_value=-(10**20), max_value=10**20),
    language=st.sampled_from(NUMBER_LANGUAGES),
    is_grouped=st.booleans(),
    context=st.sampled_from(["{}", "in {}", "{} %", "{} km", "${}", "{} EUR", "{}年", "{}th"]),
)
def test_spelling_random_integers_leaves_no_digits(
    number: int, language: str, is_grouped: bool, context: str
) -> None:
    text = context.format(_written(number, language, is_grouped=is_grouped))

    assert not DIGIT.search(rewrite_for_speech(text=text, language=language))


@settings(max_examples=300, deadline=None)
@given(
    value=st.decimals(min_value=-(10**12), max_value=10**12, places=3, allow_nan=False),
    language=st.sampled_from(NUMBER_LANGUAGES),
    context=st.sampled_from(["{}", "about {} million", "{}%", "{} ml", "€{}", "{}元", "{}:30"]),
)
def test_spelling_random_decimals_leaves_no_digits(
    value: Decimal, language: str, context: str
) -> None:
    text = context.format(str(value).replace(".", _DECIMAL_MARKS[language]))

    assert not DIGIT.search(rewrite_for_speech(text=text, language=language))


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="0123456789 .,:;-/%$€¥°#'ºªstndrhkmgLAPM年点元万亿", max_size=40),
    language=st.sampled_from(NUMBER_LANGUAGES),
)
def test_spelling_any_mix_of_digits_and_symbols_leaves_no_digits(text: str, language: str) -> None:
    assert not DIGIT.search(rewrite_for_speech(text=text, language=language))
