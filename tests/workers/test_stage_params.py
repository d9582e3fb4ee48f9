"""The submission-time param table (schemas/stage_params.py) matches what the stages accept."""

from __future__ import annotations

from schemas.catalog import STAGE_KINDS
from schemas.stage_params import STAGE_PARAMS
from workers.anchor.options import _PARAMS as ANCHOR_PARAMS
from workers.captions.rules import CaptionRules
from workers.showcase.params import KNOWN_PARAMS as SHOWCASE_PARAMS
from workers.stages.credentials import _PARAMS as CREDENTIALS_PARAMS
from workers.stages.script import _PARAMS as SCRIPT_PARAMS


def test_every_stage_kind_declares_its_params() -> None:
    assert set(STAGE_PARAMS) == set(STAGE_KINDS)


def test_declared_params_are_the_ones_the_stages_accept() -> None:
    assert set(STAGE_PARAMS["script"]) == set(SCRIPT_PARAMS)
    assert set(STAGE_PARAMS["anchor"]) == set(ANCHOR_PARAMS)
    assert set(STAGE_PARAMS["subtitles"]) == set(CaptionRules.__dataclass_fields__)
    assert set(STAGE_PARAMS["showcase"]) == set(SHOWCASE_PARAMS)
    assert set(STAGE_PARAMS["credentials"]) == set(CREDENTIALS_PARAMS)


def test_builtin_template_defaults_pass_the_declared_types() -> None:
    from schemas.pipelines import builtin_templates
    from schemas.stage_params import param_errors

    for template in builtin_templates().values():
        for node in template.stages:
            assert param_errors(stage=node.name, kind=node.kind, params=node.params) == []
