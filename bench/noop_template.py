"""The bench-only "noop" stage kind and the "noop_chain" template, registered at run time.

Nothing here is part of mediaq: the kind and the template exist only in processes started by the
bench (its API server and its workers), which call `register_template()` before building the app.
"""

from __future__ import annotations

from typing import Any

from schemas.catalog import STAGE_KINDS, StageKindSpec
from schemas.pipeline import PipelineTemplate
from schemas.pipelines import builtin_templates

NOOP_KIND = "noop"
NOOP_ENGINE = "noop"
NOOP_TEMPLATE = "noop_chain"
CHAIN_LENGTH = 3


def noop_chain_template() -> PipelineTemplate:
    """Three noop stages in a chain: a -> b -> c (each reads the previous one's output)."""
    names = ["a", "b", "c"][:CHAIN_LENGTH]
    stages: list[dict[str, Any]] = [{"name": names[0], "kind": NOOP_KIND}]
    for previous, name in zip(names, names[1:], strict=False):
        stages.append({"name": name, "kind": NOOP_KIND, "inputs": {"previous": f"{previous}.out"}})
    return PipelineTemplate.model_validate(
        {
            "name": NOOP_TEMPLATE,
            "description": "Bench only: three stages that each write a tiny file.",
            "languages": ["en"],
            "required_fields": [["custom_id"]],
            "stages": stages,
        }
    )


def register_template() -> None:
    """Add the noop kind to the catalog and noop_chain to the (cached) built-in templates."""
    STAGE_KINDS[NOOP_KIND] = StageKindSpec(
        engines=(NOOP_ENGINE,), input_ports=("previous",), output_ports=("out",)
    )
    builtin_templates()[NOOP_TEMPLATE] = noop_chain_template()
