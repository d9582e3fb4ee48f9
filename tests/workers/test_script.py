"""Tests of the script stage on the extractive engine, over the sample articles and catalog."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from workers.engines.base import PermanentEngineError
from workers.engines.extractive import ExtractiveEngine
from workers.speech import rewrite_for_speech
from workers.speech.sentences import split_sentences
from workers.stages.script import WriteScript

REPO = Path(__file__).resolve().parents[2]
NEWS = [json.loads(line) for line in (REPO / "examples/news/batch.jsonl").read_text().splitlines()]
with (REPO / "examples/products/catalog.csv").open(newline="", encoding="utf-8") as catalog:
    PRODUCTS = list(csv.DictReader(catalog))
DIGIT = re.compile(r"[0-9]")
HAN = re.compile(r"[\u3400-\u9fff]")
LATIN_LETTER = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def engine() -> ExtractiveEngine:
    loaded = ExtractiveEngine()
    loaded.load()
    return loaded


def write_script(
    engine: ExtractiveEngine,
    workdir: Path,
    item: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    outputs = WriteScript().run(
        item=item, inputs={}, params=params or {}, engine=engine, workdir=workdir
    )
    assert [o.name for o in outputs] == ["script"]
    assert outputs[0].media_type == "application/json"
    document: dict[str, Any] = json.loads(outputs[0].path.read_text(encoding="utf-8"))
    return document


def item_id(item: Mapping[str, Any]) -> str:
    return str(item.get("custom_id") or item.get("sku"))


def test_script_stage_declares_kind_default_engine_and_output() -> None:
    assert WriteScript.kind == "script"
    assert list(WriteScript.engines) == ["extractive", "causal_lm"]  # the first is the default
    assert WriteScript.engines["extractive"] is ExtractiveEngine
    assert WriteScript.outputs == ("script",)
    assert ExtractiveEngine.name == "extractive"
    assert ExtractiveEngine.version


@pytest.mark.parametrize("item", NEWS, ids=item_id)
def test_sample_article_script_fits_the_target_duration_within_twenty_percent(
    engine: ExtractiveEngine, tmp_path: Path, item: dict[str, Any]
) -> None:
    script = write_script(engine, tmp_path, item)

    assert script["target_duration_s"] == 45
    assert 0.8 * 45 <= script["estimated_duration_s"] <= 1.2 * 45


@pytest.mark.parametrize("item", NEWS, ids=item_id)
def test_sample_article_script_keeps_the_lead_sentence(
    engine: ExtractiveEngine, tmp_path: Path, item: dict[str, Any]
) -> None:
    script = write_script(engine, tmp_path, item)
    lead = split_sentences(text=item["body"], language=item["language"])[0]
    spoken_lead = rewrite_for_speech(text=lead, language=item["language"])

    assert script["source_sentence_indices"][0] == 0
    assert spoken_lead in script["sentences"]
    assert script["sentences"].index(spoken_lead) < len(script["sentences"]) - 1


@pytest.mark.parametrize("item", NEWS + PRODUCTS, ids=item_id)
def test_sample_script_has_no_digits_left(
    engine: ExtractiveEngine, tmp_path: Path, item: dict[str, Any]
) -> None:
    script = write_script(engine, tmp_path, item)

    assert not DIGIT.search(script["text"])
    assert not any(DIGIT.search(s) for s in script["sentences"])


@pytest.mark.parametrize("item", NEWS + PRODUCTS, ids=item_id)
def test_sample_script_is_in_the_item_language(
    engine: ExtractiveEngine, tmp_path: Path, item: dict[str, Any]
) -> None:
    script = write_script(engine, tmp_path, item)
    text = script["text"]

    assert script["language"] == item["language"]
    if item["language"] == "zh":
        # only the station name and the like stay in Latin letters
        assert len(HAN.findall(text)) > 5 * len(LATIN_LETTER.findall(text))
    elif item["language"] == "es":
        assert "Buenos días" in text or "Les presentamos" in text
        assert "Good morning" not in text and "Introducing" not in text
    else:
        assert "Good morning" in text or "Introducing" in text
        assert "Buenos" not in text


@pytest.mark.parametrize("item", NEWS, ids=item_id)
def test_sample_script_keeps_kept_sentences_in_their_original_order(
    engine: ExtractiveEngine, tmp_path: Path, item: dict[str, Any]
) -> None:
    script = write_script(engine, tmp_path, item)
    kept = script["source_sentence_indices"]

    assert kept == sorted(set(kept))
    assert script["text"].startswith(script["sentences"][0])


@pytest.mark.parametrize("item", [NEWS[0], NEWS[8], NEWS[10], PRODUCTS[0]], ids=item_id)
def test_same_item_gives_the_same_script_bytes(
    engine: ExtractiveEngine, tmp_path: Path, item: dict[str, Any]
) -> None:
    first = WriteScript().run(item=item, inputs={}, params={}, engine=engine, workdir=tmp_path)
    first_bytes = first[0].path.read_bytes()
    second_dir = tmp_path / "again"
    second_dir.mkdir()
    second = WriteScript().run(item=item, inputs={}, params={}, engine=engine, workdir=second_dir)

    assert second[0].path.read_bytes() == first_bytes


def test_script_does_not_depend_on_the_string_hash_seed() -> None:
    # Given: a program that prints the script of every sample article
    program = (
        "import json, sys\n"
        "from workers.engines.extractive import ExtractiveEngine\n"
        "from workers.stages.script import build_request\n"
        "items = [json.loads(l) for l in open('examples/news/batch.jsonl')]\n"
        "engine = ExtractiveEngine()\n"
        "for item in items:\n"
        "    script = engine.write_script(request=build_request(item=item, params={}))\n"
        "    print(json.dumps(script.to_json(), ensure_ascii=False))\n"
    )
    outputs = []
    # When: it runs under two different hash seeds
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", program], cwd=REPO, env=env, capture_output=True, check=True
        )
        outputs.append(done.stdout)
    # Then: the scripts are identical
    assert outputs[0] == outputs[1]


def test_script_json_has_the_documented_fields(engine: ExtractiveEngine, tmp_path: Path) -> None:
    script = write_script(engine, tmp_path, NEWS[0])

    assert set(script) == {
        "language",
        "item_kind",
        "headline",
        "text",
        "sentences",
        "source_sentence_indices",
        "target_duration_s",
        "estimated_duration_s",
        "words_per_minute",
        "rate_unit",
    }
    assert script["item_kind"] == "news"
    assert script["headline"] == NEWS[0]["headline"]
    assert script["words_per_minute"] == 150
    assert script["rate_unit"] == "words"
    assert script["text"] == " ".join(script["sentences"])
    assert script["sentences"][0] == "Good morning."


def test_chinese_script_uses_characters_per_minute_and_joins_without_spaces(
    engine: ExtractiveEngine, tmp_path: Path
) -> None:
    script = write_script(engine, tmp_path, NEWS[8])

    assert script["words_per_minute"] == 240
    assert script["rate_unit"] == "characters"
    assert script["text"] == "".join(script["sentences"])
    assert script["sentences"][0] == "早上好。"


def test_spanish_script_uses_the_spanish_rate_and_anchor_lines(
    engine: ExtractiveEngine, tmp_path: Path
) -> None:
    script = write_script(engine, tmp_path, NEWS[10])

    assert script["words_per_minute"] == 160
    assert script["sentences"][:1] == ["Buenos días."]
    assert script["sentences"][-1] == "Gracias por su atención."


def test_product_script_reads_title_features_and_price(
    engine: ExtractiveEngine, tmp_path: Path
) -> None:
    script = write_script(engine, tmp_path, PRODUCTS[2])

    assert script["item_kind"] == "product"
    assert script["headline"] == "Lightweight road running shoe"
    assert script["sentences"] == [
        "Introducing: Lightweight road running shoe.",
        "Breathable knit upper.",
        "Eight millimeters heel drop.",
        "Recycled foam midsole.",
        "Weighs two hundred forty grams in size forty-two.",
        "It costs ninety-five euros.",
        "Available now.",
    ]


def test_chinese_product_features_split_on_full_width_semicolons(
    engine: ExtractiveEngine, tmp_path: Path
) -> None:
    script = write_script(engine, tmp_path, PRODUCTS[8])

    assert script["sentences"] == [
        "为您推荐：陶土色粗陶马克杯三百五十毫升。",
        "手工上釉粗陶。",
        "可用洗碗机和微波炉。",
        "容量三百五十毫升。",
        "售价一百二十八元。",
        "现已有售。",
    ]


def test_spanish_product_reads_the_price_in_spanish(
    engine: ExtractiveEngine, tmp_path: Path
) -> None:
    script = write_script(engine, tmp_path, PRODUCTS[9])

    assert "Cuesta veintinueve euros." in script["sentences"]
    assert "Mantiene las bebidas frías veinticuatro horas y calientes doce." in script["sentences"]


def test_product_features_may_be_a_list(engine: ExtractiveEngine, tmp_path: Path) -> None:
    item = {**PRODUCTS[0], "features": ["Hand-glazed stoneware", "holds 350 ml"]}

    script = write_script(engine, tmp_path, item)

    assert "Holds three hundred fifty milliliters." in script["sentences"]


def test_short_target_keeps_only_the_lead(engine: ExtractiveEngine, tmp_path: Path) -> None:
    script = write_script(engine, tmp_path, NEWS[0], {"target_duration_s": 10})

    assert script["source_sentence_indices"] == [0]


def test_longer_target_keeps_more_sentences(engine: ExtractiveEngine, tmp_path: Path) -> None:
    short = write_script(engine, tmp_path, NEWS[0], {"target_duration_s": 30})
    long = write_script(engine, tmp_path, NEWS[0], {"target_duration_s": 90})

    assert len(long["source_sentence_indices"]) > len(short["source_sentence_indices"])
    assert long["estimated_duration_s"] <= 90


def test_faster_rate_lowers_the_estimate(engine: ExtractiveEngine, tmp_path: Path) -> None:
    script = write_script(
        engine, tmp_path, NEWS[0], {"target_duration_s": 600, "words_per_minute": 300}
    )
    slow = write_script(
        engine, tmp_path, NEWS[0], {"target_duration_s": 600, "words_per_minute": 150}
    )

    assert script["words_per_minute"] == 300
    assert script["estimated_duration_s"] == pytest.approx(slow["estimated_duration_s"] / 2)


def test_intro_and_signoff_can_be_replaced_or_left_out(
    engine: ExtractiveEngine, tmp_path: Path
) -> None:
    params = {"intro": "From {station}: {headline}", "signoff": "", "station": "City Desk"}

    script = write_script(engine, tmp_path, NEWS[0], params)

    assert script["sentences"][0] == (
        "From City Desk: Harbor bridge reopens two weeks ahead of schedule."
    )
    assert script["sentences"][-1].startswith("The ")


@pytest.mark.parametrize("field", ["headline", "body", "language"])
def test_news_item_without_a_text_field_fails_permanently_naming_it(
    engine: ExtractiveEngine, tmp_path: Path, field: str
) -> None:
    item = {k: v for k, v in NEWS[0].items() if k != field}

    with pytest.raises(PermanentEngineError, match=f"'{field}'"):
        write_script(engine, tmp_path, item)


@pytest.mark.parametrize("field", ["title", "features", "price", "currency"])
def test_product_row_without_a_field_fails_permanently_naming_it(
    engine: ExtractiveEngine, tmp_path: Path, field: str
) -> None:
    item = {**PRODUCTS[0], field: ""}

    with pytest.raises(PermanentEngineError, match=f"'{field}'"):
        write_script(engine, tmp_path, item)


def test_body_of_only_whitespace_counts_as_missing(
    engine: ExtractiveEngine, tmp_path: Path
) -> None:
    with pytest.raises(PermanentEngineError, match="'body' is missing or empty"):
        write_script(engine, tmp_path, {**NEWS[0], "body": "   "})


def test_malformed_price_fails_permanently(engine: ExtractiveEngine, tmp_path: Path) -> None:
    with pytest.raises(PermanentEngineError, match="'price'"):
        write_script(engine, tmp_path, {**PRODUCTS[0], "price": "18,00"})


@pytest.mark.parametrize("language", ["fr", "de-DE", "pt-BR"])
def test_unsupported_language_fails_permanently_listing_supported_ones(
    engine: ExtractiveEngine, tmp_path: Path, language: str
) -> None:
    with pytest.raises(PermanentEngineError, match="en, es, zh") as raised:
        write_script(engine, tmp_path, {**NEWS[0], "language": language})

    assert raised.value.is_permanent


@pytest.mark.parametrize(
    ("language", "item"),
    [("en-GB", NEWS[0]), ("es-MX", NEWS[10]), ("zh-CN", NEWS[8]), ("zh-Hans", NEWS[9])],
)
def test_regional_language_tags_are_supported(
    engine: ExtractiveEngine, tmp_path: Path, language: str, item: dict[str, Any]
) -> None:
    script = write_script(engine, tmp_path, {**item, "language": language})

    assert script["language"] == language
    assert not DIGIT.search(script["text"])


@pytest.mark.parametrize(
    "params",
    [{"target_duration_s": 0}, {"target_duration_s": "45"}, {"words_per_minute": -1},
     {"target_duration_s": True}, {"station": 5}, {"duration": 45}],
)  # fmt: skip
def test_bad_parameters_fail_permanently_naming_them(
    engine: ExtractiveEngine, tmp_path: Path, params: dict[str, Any]
) -> None:
    with pytest.raises(PermanentEngineError, match=next(iter(params))):
        write_script(engine, tmp_path, NEWS[0], params)
