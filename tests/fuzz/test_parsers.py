"""Property tests for every parser of user input: each answers with data or a 413/422 problem.

Nothing a client sends may raise anything else: an unexpected exception is a 500 at the API.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Any
from unittest.mock import ANY

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from producer.api.batches import _form_json, _spec
from producer.api.pagination import parse_cursor
from producer.api.problems import ProblemError
from producer.assets import resolve_references
from producer.intake import check_spec, parse_items, parse_json_spec, spec_digest
from producer.lifecycle import (
    engine_override_errors,
    foreach_elements,
    plan_stage_runs,
    validate_item,
)
from producer.queries import decode_cursor, encode_cursor
from producer.settings import Settings
from schemas.api import BatchSpec
from schemas.catalog import STAGE_KINDS
from schemas.pipeline import PipelineTemplate
from schemas.stage_params import param_errors
from tests.fuzz.strategies import (
    TEMPLATE_NAMES,
    TEMPLATES,
    UPLOAD_NAME,
    batch_bodies,
    engine_overrides,
    items,
    json_values,
    nasty_text,
    params_overrides,
    raw_files,
    raw_texts,
)

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# small limits, so the 413 and the length checks are reached with small inputs
LIMITS = Settings(max_items=3, max_text_chars=40, max_metadata_bytes=200)
FIELD = re.compile(r"(items\[\d+\]\.|params\.|engines\.).*", re.DOTALL)  # a key may be ""
DIGESTS = ["0" * 64, "a" * 64, "f" * 64]
templates = st.sampled_from(TEMPLATE_NAMES).map(TEMPLATES.__getitem__)


def assert_problem(problem: ProblemError, *statuses: int) -> None:
    assert problem.status in statuses, (problem.status, problem.detail)
    assert isinstance(problem.detail, str) and problem.detail
    for error in problem.errors or []:
        assert set(error) == {"field", "detail"}, error
        assert isinstance(error["field"], str) and isinstance(error["detail"], str)


# --- Uploaded files: JSONL and CSV ---------------------------------------------------------------


@FUZZ
@given(data=raw_files, kind=st.sampled_from(["jsonl", "csv"]))
def test_any_uploaded_file_parses_to_items_or_a_422(data: bytes, kind: str) -> None:
    try:
        parsed = parse_items(data=data, kind=kind)
    except ProblemError as problem:
        assert_problem(problem, 422)
        return
    assert parsed
    for item in parsed:
        assert isinstance(item, dict) and all(isinstance(key, str) for key in item)
        if kind == "csv":
            assert all(isinstance(value, str) and value for value in item.values())
        if "sku" in item and isinstance(item["sku"], str):
            assert "custom_id" in item


def _without_surrogates(text: str) -> bool:
    return not any("\ud800" <= char <= "\udfff" for char in text)


@FUZZ
@given(
    rows=st.lists(
        st.one_of(items(), st.dictionaries(nasty_text, json_values)), min_size=1, max_size=4
    )
)
def test_jsonl_rows_come_back_as_sent(rows: list[dict[str, Any]]) -> None:
    # raw non-ASCII on purpose: U+2028 and U+0085 inside a string must not split its line
    text = "\r\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
    assume(_without_surrogates(text))
    parsed = parse_items(data=("\ufeff" + text).encode("utf-8"), kind="jsonl")
    assert parsed == [_with_sku_as_custom_id(row) for row in rows]


cell_text = st.text(max_size=12).filter(_without_surrogates)


@FUZZ
@given(
    header=st.lists(cell_text, min_size=1, max_size=4, unique=True).filter(
        lambda names: not names[0].startswith("\ufeff")  # a leading BOM is the file's, not a name
    ),
    data=st.data(),
)
def test_csv_rows_come_back_as_sent(header: list[str], data: st.DataObject) -> None:
    row_values = st.lists(cell_text, min_size=len(header), max_size=len(header))
    rows = data.draw(st.lists(row_values, max_size=4))
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # quotes cells with commas, quotes, CR or LF
    writer.writerow(header)
    writer.writerows(rows)
    try:
        parsed = parse_items(data=buffer.getvalue().encode("utf-8"), kind="csv")
    except ProblemError as problem:
        assert_problem(problem, 422)
        assert not rows, problem.detail
        return
    expected = [
        _with_sku_as_custom_id({k: v for k, v in zip(header, values, strict=True) if v})
        for values in rows
    ]
    assert parsed == expected


def _with_sku_as_custom_id(item: dict[str, Any]) -> dict[str, Any]:
    if "custom_id" not in item and isinstance(item.get("sku"), str):
        return {**item, "custom_id": item["sku"]}
    return item


# --- JSON bodies ---------------------------------------------------------------------------------


def _raw_utf8_json(value: Any) -> bytes:
    """JSON with raw non-ASCII; a lone surrogate becomes bytes that are not UTF-8."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@FUZZ
@given(
    body=st.one_of(
        json_values.map(json.dumps).map(str.encode),
        batch_bodies().map(json.dumps).map(str.encode),
        batch_bodies().map(_raw_utf8_json),
        st.binary(max_size=100),
        st.just(b'{"template": "voiceover", "items": [' + b"[" * 5000 + b"]}"),
    )
)
def test_any_json_body_parses_to_a_spec_or_a_422(body: bytes) -> None:
    try:
        spec = parse_json_spec(body)
    except ProblemError as problem:
        assert_problem(problem, 422)
        assert problem.errors, "a pydantic refusal names its fields"
        return
    assert isinstance(spec, BatchSpec) and spec.items
    assert all(isinstance(item, dict) for item in spec.items)


@FUZZ
@given(
    value=st.one_of(st.none(), raw_texts, json_values.map(json.dumps)),
    field=st.sampled_from(["metadata", "params", "engines"]),
)
def test_any_multipart_json_field_parses_or_is_a_422(value: str | None, field: str) -> None:
    try:
        _form_json(value, field=field)
    except ProblemError as problem:
        assert_problem(problem, 422)
        assert problem.errors == [{"field": field, "detail": "not JSON"}]


@pytest.mark.parametrize("depth", [10, 900, 980, 5000])
def test_an_uploaded_value_nested_to_any_depth_is_a_spec_or_a_422(depth: int) -> None:
    # json.loads of a JSONL line or form field takes up to ~990 levels; re-encoding may not
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    item = {"custom_id": "a", "x": value}
    try:
        _spec(template="voiceover", items=[item], priority=5, metadata={}, params={}, engines={})
    except ProblemError as problem:
        assert_problem(problem, 422)


# --- Specs against the templates: items, params, engines -----------------------------------------


def _as_spec(body: dict[str, Any]) -> BatchSpec:
    """The spec as the API builds it (through JSON, so no lone surrogate gets in)."""
    try:
        return parse_json_spec(json.dumps(body).encode("utf-8"))
    except ProblemError:
        assume(False)
        raise


@FUZZ
@given(body=batch_bodies(), name=st.sampled_from(TEMPLATE_NAMES))
def test_any_spec_is_accepted_or_refused_naming_the_field(body: dict[str, Any], name: str) -> None:
    body["template"] = name
    body["priority"] = 5
    spec = _as_spec(body)
    template = TEMPLATES[name]
    try:
        check_spec(spec=spec, template=template, settings=LIMITS)
    except ProblemError as problem:
        assert_problem(problem, 413, 422)
        if problem.status == 413:
            assert len(spec.items) > LIMITS.max_items
        for error in problem.errors or []:
            assert FIELD.fullmatch(error["field"]), error
        return
    # accepted: every item plans its stage runs with the overrides and engines applied
    assert spec_digest(spec)
    for item in spec.items:
        plans = plan_stage_runs(
            template=template, item=item, overrides=spec.params, engines=spec.engines
        )
        for plan in plans:
            for key, value in spec.params.get(plan.node.name, {}).items():
                if not (plan.node.foreach and key == "element"):
                    assert plan.params[key] == value
            if plan.node.name in spec.engines:
                engine = spec.engines[plan.node.name]
                assert plan.engine == engine
                assert (plan.queue == "gpu") is (
                    engine in STAGE_KINDS[plan.node.kind].gpu_engines or plan.node.queue == "gpu"
                )


@FUZZ
@given(
    item=st.one_of(items(), st.dictionaries(nasty_text, json_values)),
    index=st.integers(min_value=0, max_value=10**6),
    template=templates,
)
def test_any_item_gets_errors_that_name_its_fields(
    item: dict[str, Any], index: int, template: PipelineTemplate
) -> None:
    errors = validate_item(template=template, item=item, index=index, max_text_chars=40)
    for error in errors:
        assert error["field"].startswith(f"items[{index}]."), error
        assert isinstance(error["detail"], str) and error["detail"]
    if not errors:
        custom_id = item["custom_id"]
        assert isinstance(custom_id, str) and custom_id.strip() and "\x00" not in custom_id


@FUZZ
@given(template=templates, data=st.data())
def test_a_well_formed_item_has_no_errors(template: PipelineTemplate, data: st.DataObject) -> None:
    words = st.text(min_size=1, max_size=20).filter(lambda s: s.strip() and "\x00" not in s)
    group = data.draw(st.sampled_from(template.required_fields))
    item: dict[str, Any] = {field: data.draw(words) for field in group}
    item["custom_id"] = data.draw(words)
    item["language"] = data.draw(st.sampled_from(template.languages)) + data.draw(
        st.sampled_from(["", "-US", "-419"])
    )
    item["image"] = data.draw(st.lists(st.just("https://example.com/a.jpg"), min_size=1))
    assert validate_item(template=template, item=item, index=0, max_text_chars=40) == []


@FUZZ
@given(engines=engine_overrides, template=templates)
def test_engine_overrides_are_refused_exactly_when_unknown(
    engines: dict[str, str], template: PipelineTemplate
) -> None:
    errors = engine_override_errors(template=template, engines=engines)
    nodes = {node.name: node for node in template.stages}
    bad = {
        name
        for name, engine in engines.items()
        if name not in nodes or engine not in STAGE_KINDS[nodes[name].kind].engines
    }
    assert {error["field"] for error in errors} == {f"engines.{name}" for name in bad}


@FUZZ
@given(params=params_overrides, name=st.sampled_from(TEMPLATE_NAMES))
def test_params_for_unknown_stages_or_of_the_wrong_type_are_a_422_naming_them(
    params: dict[str, Any], name: str
) -> None:
    template = TEMPLATES[name]
    item = {"custom_id": "a", "language": "en", "headline": "h", "body": "b", "title": "t"}
    item.update(price="1", currency="EUR", image="https://example.com/a.jpg")
    spec = BatchSpec(template=name, items=[item], params=params)
    kinds = {node.name: node.kind for node in template.stages}
    unknown = set(params) - set(kinds)
    # known stages: each unknown or mistyped param is named (checked once the stages are known)
    mistyped = {
        error["field"]
        for stage, values in params.items()
        if stage in kinds
        for error in param_errors(stage=stage, kind=kinds[stage], params=values)
    }
    expected = {f"params.{n}" for n in unknown} if unknown else mistyped
    try:
        check_spec(spec=spec, template=template, settings=LIMITS)
    except ProblemError as problem:
        assert_problem(problem, 422)
        assert {e["field"] for e in problem.errors or []} == expected
        return
    assert not expected


# --- References to input files -------------------------------------------------------------------


@FUZZ
@given(
    item_list=st.lists(items(), min_size=1, max_size=3),
    template=templates,
    uploaded=st.dictionaries(
        st.one_of(st.sampled_from([UPLOAD_NAME, "mug.jpg", "other/mug.jpg"]), nasty_text),
        st.sampled_from(DIGESTS),
        max_size=3,
    ),
    known=st.sets(st.sampled_from(DIGESTS)),
)
def test_every_unusable_file_reference_is_reported(
    item_list: list[dict[str, Any]],
    template: PipelineTemplate,
    uploaded: dict[str, str],
    known: set[str],
) -> None:
    spec = BatchSpec.model_construct(template=template.name, items=item_list)
    before = json.loads(json.dumps(item_list))
    fields = sorted({node.foreach for node in template.stages if node.foreach})
    errors = resolve_references(
        spec=spec, template=template, uploaded=uploaded, is_known_asset=known.__contains__
    )
    names = set(uploaded) | {PurePosixPath(name).name for name in uploaded}
    for index, item in enumerate(before):
        for field in fields:
            reported = [e for e in errors if e["field"] == f"items[{index}].{field}"]
            unusable = [
                element
                for element in map(str, foreach_elements(item.get(field)))
                if not element.startswith("https://")
                and (
                    element.removeprefix("asset:") not in known
                    if element.startswith("asset:")
                    else element not in names and PurePosixPath(element).name not in names
                )
            ]
            assert len(reported) >= len(unusable), (item.get(field), reported)
            if not reported and field in item:
                for ref in spec.items[index][field]:
                    assert ref.startswith("https://") or (
                        ref.startswith("asset:") and ref.removeprefix("asset:") in DIGESTS
                    )


# --- Page cursors --------------------------------------------------------------------------------

offsets = st.integers(min_value=-1439, max_value=1439).map(lambda m: timezone(timedelta(minutes=m)))
cursor_parts = st.tuples(
    st.one_of(st.datetimes(timezones=offsets).map(str), nasty_text), nasty_text
)
cursors = st.one_of(
    st.text(),
    st.binary().map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    cursor_parts.map(
        lambda parts: base64.urlsafe_b64encode(
            f"{parts[0]}|{parts[1]}".encode("utf-8", "surrogatepass")
        ).decode()
    ),
)


@FUZZ
@given(raw=cursors)
def test_any_cursor_decodes_or_raises_value_error(raw: str) -> None:
    try:
        created, batch_id = decode_cursor(raw)
    except ValueError:  # UnicodeDecodeError and binascii.Error are ValueErrors
        return
    assert isinstance(created, datetime) and "\x00" not in batch_id


@FUZZ
@given(raw=cursors)
def test_the_batch_list_answers_any_bad_cursor_with_a_422(raw: str) -> None:
    try:
        parse_cursor(raw)
    except ProblemError as problem:
        assert_problem(problem, 422)
        assert problem.errors == [{"field": "cursor", "detail": "malformed"}]


@FUZZ
@given(
    created=st.datetimes(timezones=offsets),
    batch_id=st.text().filter(lambda s: "\x00" not in s and _without_surrogates(s)),
)
def test_a_cursor_made_here_decodes_to_what_made_it(created: datetime, batch_id: str) -> None:
    assert decode_cursor(encode_cursor(created, batch_id)) == (created, batch_id)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("csv", b"custom_id,body\na," + b"x" * 140_000 + b"\n"),  # past csv.field_size_limit()
        ("jsonl", b'{"a": ' + b"[" * 3000 + b"]" * 3000 + b"}"),  # past the recursion limit
        ("jsonl", b'{"a": 1' + b"0" * 5000 + b"}"),  # past int's 4300 digits
    ],
)
def test_input_past_a_parser_limit_is_a_422(kind: str, data: bytes) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_items(data=data, kind=kind)
    assert_problem(caught.value, 422)
    assert caught.value.errors == [
        {"field": "line 2" if kind == "csv" else "line 1", "detail": ANY}
    ]


def test_a_bare_cr_ends_a_csv_row_and_u2028_stays_inside_a_jsonl_string() -> None:
    csv_items = parse_items(data=b"custom_id,body\r\na,1\rb,2\n", kind="csv")
    assert csv_items == [{"custom_id": "a", "body": "1"}, {"custom_id": "b", "body": "2"}]
    jsonl_items = parse_items(data='{"custom_id": "a\u2028b\x85c"}'.encode(), kind="jsonl")
    assert jsonl_items == [{"custom_id": "a\u2028b\x85c"}]
