"""Cache keys are stable and change with every input that can change a stage's output."""

from __future__ import annotations

from typing import Any

import pytest

from workers.cache_key import compute_cache_key

BASE: dict[str, Any] = {
    "kind": "tts",
    "engine": "espeak",
    "engine_version": "1",
    "model_digest": None,
    "params": {"rate_wpm": 150, "voice": "en-us"},
    "input_digests": {"script": ["a" * 64]},
    "item": {"custom_id": "x", "language": "en", "body": "text"},
    "tenant_id": "newsroom",
}


def test_same_inputs_give_the_same_key_whatever_the_dict_order() -> None:
    reordered = {**BASE, "params": {"voice": "en-us", "rate_wpm": 150}}
    assert compute_cache_key(**BASE) == compute_cache_key(**reordered)
    assert len(compute_cache_key(**BASE)) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "script"},
        {"engine": "vits"},
        {"engine_version": "2"},
        {"model_digest": "b" * 64},
        {"params": {"rate_wpm": 151, "voice": "en-us"}},
        {"input_digests": {"script": ["c" * 64]}},
        {"input_digests": {"text": ["a" * 64]}},
        {"item": {"custom_id": "x", "language": "en", "body": "other text"}},
        {"item": None},
        {"tenant_id": "shop"},
    ],
)
def test_any_change_of_input_changes_the_key(change: dict[str, Any]) -> None:
    assert compute_cache_key(**BASE) != compute_cache_key(**{**BASE, **change})


def test_custom_id_alone_does_not_change_the_key() -> None:
    renamed = {**BASE, "item": {**BASE["item"], "custom_id": "y"}}
    assert compute_cache_key(**BASE) == compute_cache_key(**renamed)


def test_fan_in_order_matters() -> None:
    one = {**BASE, "input_digests": {"stills": ["a" * 64, "b" * 64]}}
    two = {**BASE, "input_digests": {"stills": ["b" * 64, "a" * 64]}}
    assert compute_cache_key(**one) != compute_cache_key(**two)
