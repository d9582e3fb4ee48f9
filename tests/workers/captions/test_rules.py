"""Tests of the subtitle rule parameters."""

from __future__ import annotations

import pytest

from workers.captions.rules import CaptionRules, rules_from_params
from workers.engines.base import PermanentEngineError


def test_latin_scripts_default_to_42_characters_and_chinese_to_16():
    assert rules_from_params(params={}, language="en").max_chars_per_line == 42
    assert rules_from_params(params={}, language="es-419").max_chars_per_line == 42
    assert rules_from_params(params={}, language="zh").max_chars_per_line == 16
    assert rules_from_params(params={}, language="zh-Hant").max_chars_per_line == 16


def test_defaults_follow_the_broadcast_guidelines():
    rules = rules_from_params(params={}, language="en")
    assert rules == CaptionRules()
    assert (rules.min_duration_ms, rules.max_duration_ms) == (834, 7000)
    assert rules.min_gap_ms == 80  # 2 frames at 25 fps
    assert rules.max_cps == 17


def test_parameters_override_the_defaults():
    params = {"max_chars_per_line": 37, "max_lines": 1, "fps": 30, "max_cps": 20}
    rules = rules_from_params(params=params, language="zh")
    assert (rules.max_chars_per_line, rules.max_lines, rules.max_cps) == (37, 1, 20.0)
    assert rules.min_gap_ms == 67


def test_an_unknown_parameter_is_named_in_the_error():
    with pytest.raises(PermanentEngineError, match="max_char_per_line"):
        rules_from_params(params={"max_char_per_line": 30}, language="en")


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_lines", 0), ("max_lines", 1.5), ("max_cps", -1), ("fps", True), ("min_gap_frames", "2")],
)
def test_a_malformed_parameter_is_named_in_the_error(name, value):
    with pytest.raises(PermanentEngineError, match=name):
        rules_from_params(params={name: value}, language="en")


def test_a_minimum_duration_above_the_maximum_is_refused():
    with pytest.raises(PermanentEngineError, match="min_duration_s"):
        rules_from_params(params={"min_duration_s": 8}, language="en")
