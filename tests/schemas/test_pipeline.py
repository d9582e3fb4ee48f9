"""Template validation: cycles, unknown kinds, engines, nodes and ports are refused clearly."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas.catalog import STAGE_KINDS
from schemas.pipeline import PipelineTemplate, topological_order
from schemas.pipelines import builtin_templates


def template(stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "t",
        "description": "test",
        "languages": ["en"],
        "required_fields": [["language"]],
        "stages": stages,
    }


def test_voiceover_template_is_script_then_tts() -> None:
    voiceover = builtin_templates()["voiceover"]
    assert topological_order(voiceover) == ["script", "tts"]
    assert voiceover.node("tts").inputs == {"script": "script.script"}


def test_unset_engine_becomes_the_kinds_default() -> None:
    parsed = PipelineTemplate.model_validate(template([{"name": "s", "kind": "script"}]))
    assert parsed.node("s").engine == STAGE_KINDS["script"].engines[0]


def test_cycle_is_rejected_naming_its_stages() -> None:
    stages = [
        {"name": "s", "kind": "script"},
        {"name": "a", "kind": "tts", "inputs": {"script": "b.audio"}},
        {"name": "b", "kind": "tts", "inputs": {"script": "a.audio"}},
    ]
    with pytest.raises(ValidationError, match="stages form a cycle: a, b"):
        PipelineTemplate.model_validate(template(stages))


def test_self_reference_is_a_cycle() -> None:
    stages = [{"name": "a", "kind": "tts", "inputs": {"script": "a.audio"}}]
    with pytest.raises(ValidationError, match="cycle"):
        PipelineTemplate.model_validate(template(stages))


def test_unknown_stage_kind_is_rejected_with_the_known_ones() -> None:
    with pytest.raises(
        ValidationError,
        match=r"unknown kind .dance. \(known: anchor, compose, [a-z, ]*script, [a-z, ]*tts, "
        r"upscale\)",
    ):
        PipelineTemplate.model_validate(template([{"name": "a", "kind": "dance"}]))


def test_unknown_engine_is_rejected_with_the_kinds_engines() -> None:
    with pytest.raises(ValidationError, match="has no engine 'festival'.*espeak"):
        PipelineTemplate.model_validate(
            template([{"name": "a", "kind": "tts", "engine": "festival"}])
        )


def test_output_port_the_upstream_lacks_is_rejected() -> None:
    stages = [
        {"name": "s", "kind": "script"},
        {"name": "a", "kind": "tts", "inputs": {"script": "s.audio"}},
    ]
    with pytest.raises(ValidationError, match="stage 's' has no output 'audio'"):
        PipelineTemplate.model_validate(template(stages))


def test_input_from_unknown_stage_is_rejected() -> None:
    stages = [{"name": "a", "kind": "tts", "inputs": {"script": "nowhere.script"}}]
    with pytest.raises(ValidationError, match="unknown stage 'nowhere'"):
        PipelineTemplate.model_validate(template(stages))


def test_unknown_input_port_is_rejected() -> None:
    stages = [
        {"name": "s", "kind": "script"},
        {"name": "a", "kind": "tts", "inputs": {"text": "s.script"}},
    ]
    with pytest.raises(ValidationError, match="no input port 'text'"):
        PipelineTemplate.model_validate(template(stages))


def test_duplicate_stage_names_are_rejected() -> None:
    stages = [{"name": "s", "kind": "script"}, {"name": "s", "kind": "script"}]
    with pytest.raises(ValidationError, match="duplicate stage name 's'"):
        PipelineTemplate.model_validate(template(stages))
