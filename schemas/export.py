"""Writes the JSON Schema of the public models to schemas/json/ (run: python -m schemas.export).

The files are committed; a test fails when they differ from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from schemas.api import (
    BatchAccepted,
    BatchPage,
    BatchSpec,
    BatchView,
    CancelResult,
    JobView,
    Problem,
    RetryResult,
)
from schemas.pipeline import PipelineTemplate
from schemas.provenance import ProvenanceRecord
from schemas.schedules import SchedulePage, ScheduleRunPage, ScheduleSpec, ScheduleView

PUBLIC_MODELS: tuple[type[BaseModel], ...] = (
    BatchSpec,
    BatchAccepted,
    BatchView,
    BatchPage,
    JobView,
    CancelResult,
    RetryResult,
    Problem,
    PipelineTemplate,
    ProvenanceRecord,
    ScheduleSpec,
    ScheduleView,
    SchedulePage,
    ScheduleRunPage,
)
JSON_DIR = Path(__file__).resolve().parent / "json"


def render() -> dict[str, str]:
    """File name -> JSON Schema text for every public model."""
    return {
        f"{model.__name__}.schema.json": json.dumps(model.model_json_schema(), indent=2) + "\n"
        for model in PUBLIC_MODELS
    }


def main() -> int:
    JSON_DIR.mkdir(exist_ok=True)
    for name, text in render().items():
        (JSON_DIR / name).write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {len(PUBLIC_MODELS)} schemas to {JSON_DIR}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
