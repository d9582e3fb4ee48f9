"""/v1/templates: the pipeline templates a batch can name."""

from __future__ import annotations

from fastapi import APIRouter

from producer.api.batches import PROBLEMS
from producer.api.deps import ReadTenant
from producer.api.problems import not_found
from schemas.pipeline import PipelineTemplate
from schemas.pipelines import builtin_templates

router = APIRouter(prefix="/v1/templates", tags=["templates"])


@router.get("", response_model=list[PipelineTemplate], responses=PROBLEMS)
def list_templates(tenant: ReadTenant) -> list[PipelineTemplate]:
    return list(builtin_templates().values())


@router.get("/{name}", response_model=PipelineTemplate, responses=PROBLEMS)
def get_template(name: str, tenant: ReadTenant) -> PipelineTemplate:
    template = builtin_templates().get(name)
    if template is None:
        raise not_found("template", name)
    return template
