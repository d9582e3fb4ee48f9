"""Turning a request body (JSON, JSONL or CSV) into a validated BatchSpec, or problems."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from typing import Any

from pydantic import ValidationError

from producer.api.problems import ProblemError, validation_errors
from producer.deadlines import deadline_errors, parse_item_deadline
from producer.finite import non_finite_fields
from producer.ids import utcnow
from producer.lifecycle import engine_override_errors, validate_item
from producer.settings import Settings
from schemas.api import BatchSpec
from schemas.pipeline import PipelineTemplate
from schemas.stage_params import param_errors

JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
CSV_TYPES = ("text/csv", "application/csv")
_LINE_END = re.compile(r"\r\n|\r|\n")


def invalid(detail: str, errors: list[dict[str, Any]] | None = None) -> ProblemError:
    return ProblemError(422, "validation-error", "Invalid request", detail, errors=errors)


def parse_json_spec(body: bytes) -> BatchSpec:
    try:
        spec = BatchSpec.model_validate_json(body)
    except ValidationError as error:
        errors = validation_errors(error.errors(include_url=False))
        raise invalid(
            "; ".join(f"{e['field']}: {e['detail']}" for e in errors[:5]), errors
        ) from None
    # JSON has no NaN or Infinity, but Python's and pydantic's parsers take them. Only their
    # literal tokens parse to such floats, so a body without the words needs no walk (which
    # would cost 30% of accepting 10,000 items)
    if b"NaN" not in body and b"Infinity" not in body:
        return spec
    fields = non_finite_fields(
        {"items": spec.items, "metadata": spec.metadata, "params": spec.params}
    )
    if fields:
        raise invalid(
            f"{fields[0]}: NaN and Infinity are not JSON numbers",
            [
                {"field": field, "detail": "NaN or Infinity is not a JSON number"}
                for field in fields
            ],
        )
    return spec


def parse_items(*, data: bytes, kind: str) -> list[dict[str, Any]]:
    """Items from an uploaded file; `kind` is "jsonl" or "csv".

    A CSV row's cells stay strings. A `sku` column stands in for a missing `custom_id`, so a
    product catalog can be uploaded as it is.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise invalid(f"the file is not UTF-8 text (byte {error.start})") from None
    items = _parse_jsonl(text) if kind == "jsonl" else _parse_csv(text)
    if not items:
        raise invalid("the file holds no items", [{"field": "items", "detail": "empty"}])
    for item in items:
        if "custom_id" not in item and isinstance(item.get("sku"), str):
            item["custom_id"] = item["sku"]
    return items


def _parse_jsonl(text: str) -> list[dict[str, Any]]:
    items = []
    # not splitlines(): U+2028, U+0085 and friends are legal inside JSON strings
    for number, line in enumerate(_LINE_END.split(text), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise invalid(
                f"line {number} is not JSON: {error.msg}",
                [{"field": f"line {number}", "detail": error.msg}],
            ) from None
        except (RecursionError, ValueError):
            # nested deeper than the parser's recursion, or an integer of over 4300 digits
            detail = "nested too deeply, or a number with too many digits"
            raise invalid(
                f"line {number} is not usable JSON: {detail}",
                [{"field": f"line {number}", "detail": detail}],
            ) from None
        if not isinstance(item, dict):
            raise invalid(f"line {number} is not a JSON object")
        items.append(item)
    return items


def _parse_csv(text: str) -> list[dict[str, Any]]:
    # newline="": the csv module splits rows itself, so a bare \r or a quoted line break parses
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames:
            raise invalid("the CSV file has no header row")
        _check_unique_headers(list(reader.fieldnames))
        items = []
        for row in reader:
            if None in row:
                raise invalid(f"CSV line {reader.line_num} has more cells than the header")
            items.append({key: value for key, value in row.items() if value not in (None, "")})
    except csv.Error as error:  # e.g. a cell over csv.field_size_limit() (131,072 characters)
        line = reader.reader.line_num  # the DictReader's own count lags behind a failed row
        raise invalid(
            f"CSV line {line}: {error}", [{"field": f"line {line}", "detail": str(error)}]
        ) from None
    return items


def _check_unique_headers(headers: list[str]) -> None:
    """A repeated column name would silently keep only its last cell: refuse it by name."""
    seen: set[str] = set()
    for header in headers:
        if header in seen:
            raise invalid(
                f"the CSV header names column {header[:80]!r} twice",
                [{"field": f"header.{header[:80]}", "detail": "duplicate column name"}],
            )
        seen.add(header)


def file_kind(*, content_type: str, filename: str | None) -> str | None:
    """ "jsonl", "csv" or None from a content type or, failing that, a file name."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype in JSONL_TYPES:
        return "jsonl"
    if ctype in CSV_TYPES:
        return "csv"
    name = (filename or "").lower()
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    return None


def check_spec(*, spec: BatchSpec, template: PipelineTemplate, settings: Settings) -> None:
    """Limits and per-item rules; raises a problem naming every bad field (the first 100)."""
    if len(spec.items) > settings.max_items:
        raise ProblemError(
            413,
            "too-many-items",
            "Too many items",
            f"{len(spec.items)} items; a batch holds at most {settings.max_items} "
            "(MEDIAQ_MAX_ITEMS)",
        )
    if len(json.dumps(spec.metadata)) > settings.max_metadata_bytes:
        raise invalid(f"metadata is larger than {settings.max_metadata_bytes} bytes")
    unknown = sorted(set(spec.params) - {node.name for node in template.stages})
    if unknown:
        raise invalid(
            f"params name unknown stages: {', '.join(unknown)}",
            [{"field": f"params.{name}", "detail": "no such stage"} for name in unknown],
        )
    engine_errors = engine_override_errors(template=template, engines=spec.engines)
    if engine_errors:
        raise invalid(f"bad engine override: {engine_errors[0]['detail']}", engine_errors)
    _check_params_and_deadline(spec=spec, template=template)
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(spec.items):
        errors.extend(
            validate_item(
                template=template, item=item, index=index, max_text_chars=settings.max_text_chars
            )
        )
        errors.extend(_item_deadline_errors(item=item, index=index))
        custom_id = item.get("custom_id")
        if isinstance(custom_id, str):
            if custom_id in seen:
                errors.append(
                    {
                        "field": f"items[{index}].custom_id",
                        "detail": f"duplicate of items[{seen[custom_id]}]",
                    }
                )
            seen.setdefault(custom_id, index)
        if len(errors) >= 100:
            break
    if errors:
        raise invalid(f"{len(errors)} invalid item field(s); first: {errors[0]['field']}", errors)


def _check_params_and_deadline(*, spec: BatchSpec, template: PipelineTemplate) -> None:
    kinds = {node.name: node.kind for node in template.stages}
    errors = deadline_errors(deadline=spec.deadline, field="deadline", now=utcnow())
    for stage, params in spec.params.items():
        errors.extend(param_errors(stage=stage, kind=kinds[stage], params=params))
    if errors:
        raise invalid(f"{errors[0]['field']}: {errors[0]['detail']}", errors)


def _item_deadline_errors(*, item: dict[str, Any], index: int) -> list[dict[str, Any]]:
    if item.get("deadline") is None:
        return []
    field = f"items[{index}].deadline"
    try:
        deadline = parse_item_deadline(item["deadline"])
    except ValueError as error:
        return [{"field": field, "detail": str(error)}]
    return deadline_errors(deadline=deadline, field=field, now=utcnow())


def spec_digest(spec: BatchSpec) -> str:
    """Digest of the parsed request, so a retried upload with a new multipart boundary matches."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
