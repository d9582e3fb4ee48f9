"""Hypothesis strategies for hostile user input: items, batch bodies, JSONL, CSV, params, engines.

Values mix what a real client sends (template fields, supported languages, https photos, stage
and engine names) with what a hostile one sends (NUL, lone surrogates, BOMs, U+2028, huge
numbers, deep nesting, unknown names), so both the accept path and every refusal path run.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hypothesis import strategies as st

from schemas.catalog import STAGE_KINDS
from schemas.pipelines import builtin_templates
from schemas.stage_params import STAGE_PARAMS

TEMPLATES = builtin_templates()
TEMPLATE_NAMES = sorted(TEMPLATES)
STAGE_NAMES = sorted({node.name for t in TEMPLATES.values() for node in t.stages})
ENGINE_NAMES = sorted({engine for kind in STAGE_KINDS.values() for engine in kind.engines})
ITEM_FIELDS = sorted(
    {field for t in TEMPLATES.values() for group in t.required_fields for field in group}
    | {"custom_id", "sku", "features"}
)
UPLOAD_NAME = "photos/mug.jpg"  # the multipart asset the item strategies can name

nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", " ", "\x00", "a\x00b", "\ud800", "\ufeff", "a\u2028b", "a\x85b", "\r", "é" * 3, "🎬"]
    ),
)


def json_values_with(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """JSON values (no NaN: not JSON) whose strings and keys come from `text`."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        text,
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=10,
    )


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), nasty_text)
json_values = json_values_with(nasty_text)
clean_json_values = json_values_with(st.text(max_size=20))  # st.text() has no lone surrogates

languages = st.one_of(
    st.sampled_from(["en", "es", "zh", "en-US", "zh-Hans-CN", "ES", "fr", "", "-", "en-"]),
    nasty_text,
)
image_refs = st.sampled_from(
    [
        "https://example.com/mug.jpg",
        "http://example.com/mug.jpg",
        "asset:" + "0" * 64,
        "asset:not-a-digest",
        UPLOAD_NAME,
        "mug.jpg",
        "../../etc/passwd",
        "",
        ";",
    ]
)
images = st.one_of(
    image_refs,
    st.lists(image_refs, max_size=3).map(";".join),
    st.lists(st.one_of(image_refs, json_values), max_size=3),
    json_values,
)


def _field_value(field: str) -> st.SearchStrategy[Any]:
    if field == "language":
        return languages
    if field == "image":
        return images
    if field == "custom_id":
        return st.one_of(nasty_text, st.text(min_size=250, max_size=260), json_scalars)
    return st.one_of(nasty_text, json_values)


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    """An item: some template fields (often valid, sometimes not) plus unknown keys."""
    fields = draw(st.lists(st.sampled_from(ITEM_FIELDS), unique=True, max_size=len(ITEM_FIELDS)))
    item = {field: draw(_field_value(field)) for field in fields}
    if draw(st.booleans()):  # half the time well-formed, so the deeper checks run too
        item.setdefault("custom_id", draw(st.text(min_size=1, max_size=12)))
        item["language"] = draw(st.sampled_from(["en", "es", "zh"]))
        for field in ("headline", "body", "title", "price", "currency"):
            item.setdefault(field, draw(st.text(min_size=1, max_size=20)))
        item.setdefault("image", "https://example.com/mug.jpg")
    item.update(draw(st.dictionaries(nasty_text, json_values, max_size=2)))
    return item


params_overrides = st.dictionaries(
    st.one_of(st.sampled_from(STAGE_NAMES), nasty_text),
    st.dictionaries(nasty_text, json_values, max_size=3),
    max_size=3,
)
engine_overrides = st.dictionaries(
    st.one_of(st.sampled_from(STAGE_NAMES), nasty_text),
    st.one_of(st.sampled_from(ENGINE_NAMES), nasty_text),
    max_size=2,
)
template_names = st.one_of(st.sampled_from(TEMPLATE_NAMES), nasty_text)


@st.composite
def batch_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON batch body, with unique custom_ids half the time."""
    body: dict[str, Any] = {
        "template": draw(template_names),
        "items": draw(st.lists(items(), max_size=4)),
    }
    if draw(st.booleans()):
        for index, item in enumerate(body["items"]):
            item["custom_id"] = f"item-{index}"
    for key, strategy in (
        ("priority", st.integers(min_value=-1, max_value=10)),
        ("metadata", st.dictionaries(nasty_text, json_values, max_size=3)),
        ("params", params_overrides),
        ("engines", engine_overrides),
    ):
        if draw(st.booleans()):
            body[key] = draw(strategy)
    return body


words = st.text(min_size=1, max_size=20).filter(lambda s: bool(s.strip()) and "\x00" not in s)


@st.composite
def valid_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A batch body a template accepts (photos: https URLs, or the multipart upload's name)."""
    template = TEMPLATES[draw(st.sampled_from(TEMPLATE_NAMES))]
    fans_out = any(node.foreach for node in template.stages)
    body_items = []
    for index in range(draw(st.integers(min_value=1, max_value=3))):
        item = {field: draw(words) for field in draw(st.sampled_from(template.required_fields))}
        item["custom_id"] = f"item-{index}"
        item["language"] = draw(st.sampled_from(template.languages))
        if fans_out:
            photos = st.sampled_from(["https://example.com/a.jpg", UPLOAD_NAME])
            images = draw(st.lists(photos, min_size=1, max_size=2))
            item["image"] = ";".join(images) if draw(st.booleans()) else images
        body_items.append(item)
    stage_engines = [
        (node.name, engine) for node in template.stages for engine in STAGE_KINDS[node.kind].engines
    ]
    stage_names = [node.name for node in template.stages]
    return {
        "template": template.name,
        "items": body_items,
        "priority": draw(st.integers(min_value=0, max_value=9)),
        "metadata": draw(st.dictionaries(words, clean_json_values, max_size=2)),
        "params": {
            node.name: draw(declared_params(node.kind))
            for node in template.stages
            if node.name in draw(st.lists(st.sampled_from(stage_names), max_size=2))
        },
        "engines": dict(draw(st.lists(st.sampled_from(stage_engines), unique_by=lambda p: p[0]))),
    }


_JSON_TYPED: dict[str, st.SearchStrategy[Any]] = {
    "integer": st.integers(min_value=-(2**31), max_value=2**31),
    "number": st.floats(allow_nan=False, allow_infinity=False, width=32),
    "string": words,
    "boolean": st.booleans(),
    "object": st.dictionaries(words, st.integers(), max_size=2),
    "array": st.lists(st.integers(), max_size=4),
}


def declared_params(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """Params a stage kind declares, each of its JSON type (ranges are the worker's to check)."""
    declared = STAGE_PARAMS[kind]
    return st.fixed_dictionaries(
        {}, optional={name: _JSON_TYPED[json_type] for name, json_type in declared.items()}
    )


def as_jsonl(rows: list[Any]) -> str:
    return "\n".join(json.dumps(row) for row in rows)


def as_csv(rows: list[dict[str, Any]]) -> str:
    """A CSV of the rows' string cells (a CSV has no other type), header from the first row."""
    header = [key for key in (rows[0] if rows else {}) if isinstance(key, str)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(key)) for key in header])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)


fragments = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ['{"a": 1}', "[1]", "null", '"x"', "{", '{"a": NaN}', '{"a": 1e999}', '{"\\ud800": 1}']
    ),
    st.sampled_from(['"a""b"', '"open', ",,,", "\x00", "\ufeff", "\ud800", "a\u2028b", "\x85"]),
    # past the parsers' limits: recursion, int digits (4300), csv.field_size_limit() (131072)
    st.sampled_from(["[" * 2000, '{"a":' * 2000, "1" + "0" * 5000, "x" * 140_000]),
)
separators = st.sampled_from(["\n", "\r\n", "\r", ",", "", "\u2028", "\x0b"])
raw_texts = st.lists(st.tuples(fragments, separators), max_size=6).map(
    lambda parts: "".join(fragment + separator for fragment, separator in parts)
)
boms = st.sampled_from([b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf", b"\xff\xfe"])
# "surrogatepass" turns a lone surrogate into bytes that are not UTF-8
raw_files = st.one_of(
    st.tuples(boms, raw_texts).map(lambda p: p[0] + p[1].encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    st.lists(st.one_of(items(), json_values), max_size=3).map(
        lambda rows: as_jsonl(rows).encode("utf-8", "surrogatepass")
    ),
    st.lists(items(), max_size=3).map(lambda rows: as_csv(rows).encode("utf-8", "surrogatepass")),
)
