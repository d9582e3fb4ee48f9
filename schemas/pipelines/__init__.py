"""Built-in pipeline templates, one JSON file each, loaded and validated once."""

from __future__ import annotations

from functools import cache
from importlib import resources

from schemas.pipeline import PipelineTemplate


@cache
def builtin_templates() -> dict[str, PipelineTemplate]:
    """All built-in templates by name, validated."""
    templates: dict[str, PipelineTemplate] = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            template = PipelineTemplate.model_validate_json(entry.read_text(encoding="utf-8"))
            templates[template.name] = template
    return templates
