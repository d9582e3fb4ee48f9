"""The parameters each stage kind accepts, with their JSON types, checked at submission.

The workers validate ranges and choices when they parse their params; this table lets the API
refuse an unknown parameter or one of the wrong JSON type with a 422 that names it, before any
job is created. tests/workers/test_stage_params.py keeps it equal to what the stages accept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# JSON type names, as in JSON Schema
INTEGER, NUMBER, STRING, BOOLEAN, OBJECT, ARRAY = (
    "integer",
    "number",
    "string",
    "boolean",
    "object",
    "array",
)

STAGE_PARAMS: dict[str, dict[str, str]] = {
    "script": {
        "target_duration_s": NUMBER,
        "words_per_minute": NUMBER,
        "intro": STRING,
        "signoff": STRING,
        "station": STRING,
    },
    "tts": {
        "rate_wpm": INTEGER,
        "voice": STRING,
        "speaking_rate": NUMBER,
        "speaker": INTEGER,
        "seed": INTEGER,
    },
    "fetch": {},
    "anchor": {
        "width": INTEGER,
        "height": INTEGER,
        "fps": INTEGER,
        "mode": STRING,
        "station": STRING,
        "colors": OBJECT,
        "presenter": OBJECT,
        "mouth_box": ARRAY,
        "eye_boxes": ARRAY,
        "crf": INTEGER,
        "preset": STRING,
    },
    "subtitles": {
        "max_chars_per_line": INTEGER,
        "max_lines": INTEGER,
        "min_duration_s": NUMBER,
        "max_duration_s": NUMBER,
        "min_gap_frames": INTEGER,
        "fps": NUMBER,
        "max_cps": NUMBER,
    },
    "upscale": {
        "scale": INTEGER,
        "format": STRING,
        "quality": INTEGER,
        "sharpen": NUMBER,
        "target_height": INTEGER,
    },
    "compose": {
        "width": INTEGER,
        "height": INTEGER,
        "aspect": STRING,
        "loudness_lufs": NUMBER,
        "true_peak": NUMBER,
        "crf": INTEGER,
        "preset": STRING,
        "poster_at_s": NUMBER,
        "burn_subtitles": BOOLEAN,
    },
    "showcase": {
        "width": INTEGER,
        "height": INTEGER,
        "fps": NUMBER,
        "colors": OBJECT,
        "brand": STRING,
        "crf": INTEGER,
        "preset": STRING,
    },
    "credentials": {
        "title": STRING,
        "producer": STRING,
        "digital_source_type": STRING,
    },
}


def is_json_type(value: Any, json_type: str) -> bool:
    """Whether `value` (parsed JSON) is of the JSON Schema type `json_type`."""
    if json_type == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    expected = {STRING: str, BOOLEAN: bool, OBJECT: dict, ARRAY: list}[json_type]
    return isinstance(value, expected)


def param_errors(*, stage: str, kind: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Problem entries for unknown params and params of the wrong JSON type; null is allowed.

    Args:
        stage: the template node name, used in the field path `params.<stage>.<param>`.
        kind: the node's stage kind, a key of STAGE_PARAMS.
        params: the override values sent for that node.
    """
    declared = STAGE_PARAMS.get(kind, {})
    errors = []
    for name, value in params.items():
        field = f"params.{stage}.{name}"
        if name not in declared:
            known = ", ".join(declared) or "none"
            errors.append({"field": field, "detail": f"unknown parameter (known: {known})"})
        elif value is not None and not is_json_type(value, declared[name]):
            errors.append(
                {"field": field, "detail": f"must be {declared[name]}, got {type(value).__name__}"}
            )
    return errors
