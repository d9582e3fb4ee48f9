"""Hot read endpoints answer with their model serialised once.

A path operation that returns a model has FastAPI validate it again against `response_model`
before serialising: for a batch page of 100 jobs that is a second full pass over the data on
every status poll. The models are built from the database by producer/queries.py, already
typed; `response_model` stays on the route for the OpenAPI document.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def json_body(model: BaseModel) -> bytes:
    return model.model_dump_json(by_alias=True).encode()


def json_response(model: BaseModel | bytes) -> Response:
    """The model serialised, or JSON bytes serialised before (a cached answer)."""
    body = model if isinstance(model, bytes) else json_body(model)
    return Response(body, media_type="application/json")
