"""Pure lifecycle rules: expanding templates into stage runs, and deriving job states."""

from __future__ import annotations

from producer.lifecycle import (
    downstream_names,
    job_state,
    plan_stage_runs,
    ready_stage_names,
    validate_item,
)
from schemas.pipeline import PipelineTemplate
from schemas.pipelines import builtin_templates
from schemas.states import JobState

FAN_TEMPLATE = PipelineTemplate.model_validate(
    {
        "name": "fan",
        "description": "one script, a voice per element, then per-element and gathering steps",
        "languages": ["en"],
        "required_fields": [["language"]],
        "stages": [
            {"name": "script", "kind": "script"},
            {
                "name": "voice",
                "kind": "tts",
                "foreach": "voices",
                "inputs": {"script": "script.script"},
            },
            {
                "name": "again",
                "kind": "tts",
                "foreach": "voices",
                "inputs": {"script": "voice.audio"},
            },
            {"name": "gather", "kind": "tts", "inputs": {"script": "again.audio"}},
        ],
    }
)


def test_voiceover_plans_script_ready_and_tts_waiting_on_it() -> None:
    plans = plan_stage_runs(
        template=builtin_templates()["voiceover"], item={"language": "en"}, overrides={}
    )
    assert [(p.name, p.depends_on) for p in plans] == [("script", []), ("tts", ["script"])]
    assert plans[1].inputs == {"script": {"from": ["script"], "port": "script", "is_list": False}}


def test_overrides_replace_template_params_for_their_stage_only() -> None:
    plans = plan_stage_runs(
        template=builtin_templates()["voiceover"],
        item={},
        overrides={"script": {"target_duration_s": 20}},
    )
    assert plans[0].params["target_duration_s"] == 20
    assert plans[1].params == {}


def test_foreach_fans_out_one_run_per_element_then_fans_in_as_a_list() -> None:
    plans = {
        p.name: p
        for p in plan_stage_runs(
            template=FAN_TEMPLATE, item={"voices": ["a", "b", "c"]}, overrides={}
        )
    }
    assert sorted(plans) == [
        "again[0]",
        "again[1]",
        "again[2]",
        "gather",
        "script",
        "voice[0]",
        "voice[1]",
        "voice[2]",
    ]
    assert plans["voice[1]"].params["element"] == "b"
    assert plans["voice[1]"].depends_on == ["script"]
    # same foreach field: element i feeds element i
    assert plans["again[2]"].inputs["script"]["from"] == ["voice[2]"]
    assert plans["gather"].inputs["script"] == {
        "from": ["again[0]", "again[1]", "again[2]"],
        "port": "audio",
        "is_list": True,
    }
    assert plans["gather"].depends_on == ["again[0]", "again[1]", "again[2]"]


def test_foreach_field_must_be_a_non_empty_list() -> None:
    errors = validate_item(
        template=FAN_TEMPLATE,
        item={"custom_id": "x", "language": "en", "voices": []},
        index=4,
        max_text_chars=100,
    )
    assert {"field": "items[4].voices", "detail": "a non-empty list for 'voice'"} in errors


def test_item_validation_names_the_missing_field_and_bad_language() -> None:
    voiceover = builtin_templates()["voiceover"]
    errors = validate_item(
        template=voiceover,
        item={"custom_id": "a", "language": "en", "headline": "h"},
        index=0,
        max_text_chars=100,
    )
    assert errors and errors[0]["field"] == "items[0].body"
    errors = validate_item(
        template=voiceover,
        item={"custom_id": "a", "language": "xx", "title": "t"},
        index=2,
        max_text_chars=100,
    )
    assert errors == [
        {
            "field": "items[2].language",
            "detail": "unsupported language 'xx' (supported: en, es, zh)",
        }
    ]


def test_text_longer_than_the_limit_is_reported() -> None:
    errors = validate_item(
        template=builtin_templates()["voiceover"],
        item={"custom_id": "a", "language": "en", "title": "x" * 101},
        index=0,
        max_text_chars=100,
    )
    assert errors == [{"field": "items[0].title", "detail": "text longer than 100 characters"}]


def test_job_state_follows_stage_states() -> None:
    assert job_state(["queued", "pending"]) is JobState.QUEUED
    assert job_state(["running", "pending"]) is JobState.RUNNING
    assert job_state(["succeeded", "queued"]) is JobState.RUNNING
    assert job_state(["succeeded", "succeeded"]) is JobState.SUCCEEDED
    assert job_state(["succeeded", "failed", "canceled"]) is JobState.FAILED
    assert job_state(["succeeded", "canceled"]) is JobState.CANCELED
    assert job_state(["queued"], is_canceled=True) is JobState.CANCELED


def test_only_stages_with_all_inputs_done_become_ready() -> None:
    depends = {"a": [], "b": ["a"], "c": ["a", "b"]}
    assert ready_stage_names({"a": "succeeded", "b": "pending", "c": "pending"}, depends) == ["b"]
    assert ready_stage_names({"a": "succeeded", "b": "running", "c": "pending"}, depends) == []


def test_downstream_of_a_failure_is_transitive() -> None:
    depends = {"a": [], "b": ["a"], "c": ["b"], "d": []}
    assert downstream_names("a", depends) == {"b", "c"}
