"""Pure rules: a template and an item become stage runs; stage states make a job state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.catalog import STAGE_KINDS
from schemas.pipeline import PipelineTemplate, StageNode, topological_order, upstream_names
from schemas.states import JobState, StageState


@dataclass(frozen=True)
class StageRunPlan:
    """One stage run to create for a job.

    Attributes:
        name: unique within the job: the node name, with "[i]" for a fanned-out element.
        inputs: port -> {"from": [run names], "port": upstream output port, "is_list": fan-in}.
    """

    name: str
    node: StageNode
    params: dict[str, Any]
    inputs: dict[str, dict[str, Any]]
    depends_on: list[str] = field(default_factory=list)
    engine: str = ""
    queue: str = "cpu"


def plan_stage_runs(
    *,
    template: PipelineTemplate,
    item: Mapping[str, Any],
    overrides: Mapping[str, Any],
    order: list[str] | None = None,
    engines: Mapping[str, str] | None = None,
) -> list[StageRunPlan]:
    """Expand the template for one item, fanning out `foreach` nodes over the item's list.

    Args:
        template: a validated template.
        item: the submitted item; `foreach` fields must be lists (checked by validate_item).
        overrides: per-node parameter overrides {node: {param: value}}.
        order: the template's topological order, when the caller has it already.
        engines: per-node engine overrides {node: engine}, already validated.

    Returns:
        Plans in topological order.
    """
    runs_by_node: dict[str, list[str]] = {}
    plans: list[StageRunPlan] = []
    for node_name in order or topological_order(template):
        node = template.node(node_name)
        params = {**node.params, **overrides.get(node_name, {})}
        engine, queue = _engine_and_queue(node, (engines or {}).get(node_name))
        elements = foreach_elements(item.get(node.foreach)) if node.foreach else [None]
        names = []
        for index, element in enumerate(elements):
            name = f"{node.name}[{index}]" if node.foreach else node.name
            inputs = _wire_inputs(node=node, index=index, template=template, runs=runs_by_node)
            if isinstance(element, str) and element.startswith(ASSET_PREFIX):
                # an uploaded file: wired straight in by digest, no upstream stage
                digest = element.removeprefix(ASSET_PREFIX)
                inputs["source"] = {"from": [], "port": None, "digests": [digest], "is_list": False}
            run_params = {**params, "element": element} if node.foreach else params
            depends = sorted({src for spec in inputs.values() for src in spec["from"]})
            plans.append(StageRunPlan(name, node, run_params, inputs, depends, engine, queue))
            names.append(name)
        runs_by_node[node_name] = names
    return plans


def _engine_and_queue(node: StageNode, override: str | None) -> tuple[str, str]:
    engine = override or node.engine or STAGE_KINDS[node.kind].engines[0]
    queue = "gpu" if engine in STAGE_KINDS[node.kind].gpu_engines else node.queue
    return engine, queue


def engine_override_errors(
    *, template: PipelineTemplate, engines: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Problems with a batch's {stage: engine} overrides."""
    errors = []
    nodes = {node.name: node for node in template.stages}
    for name, engine in engines.items():
        node = nodes.get(name)
        if node is None:
            errors.append(_error(f"engines.{name}", "no such stage in the template"))
        elif engine not in STAGE_KINDS[node.kind].engines:
            known = ", ".join(STAGE_KINDS[node.kind].engines)
            errors.append(_error(f"engines.{name}", f"unknown engine {engine!r} (known: {known})"))
    return errors


ASSET_PREFIX = "asset:"


def foreach_elements(value: Any) -> list[Any]:
    """The elements a `foreach` node fans out over: a list, or a ';'-separated string."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return []


def _wire_inputs(
    *, node: StageNode, index: int, template: PipelineTemplate, runs: Mapping[str, list[str]]
) -> dict[str, dict[str, Any]]:
    inputs: dict[str, dict[str, Any]] = {}
    list_ports = STAGE_KINDS[node.kind].list_ports
    for port, ref in node.inputs.items():
        upstream, out_port = ref.split(".")
        upstream_node = template.node(upstream)
        sources = runs[upstream]
        is_pairwise = node.foreach is not None and upstream_node.foreach == node.foreach
        chosen = [sources[index]] if is_pairwise else list(sources)
        is_list = port in list_ports or (upstream_node.foreach is not None and not is_pairwise)
        inputs[port] = {"from": chosen, "port": out_port, "is_list": is_list}
    return inputs


def validate_item(
    *,
    template: PipelineTemplate,
    item: Mapping[str, Any],
    index: int,
    max_text_chars: int,
) -> list[dict[str, Any]]:
    """Check one item against the template; return RFC 9457 error entries (empty when valid)."""
    loc = f"items[{index}]"
    errors: list[dict[str, Any]] = []
    custom_id = item.get("custom_id")
    # no NUL: a PostgreSQL text column cannot hold one
    if (
        not isinstance(custom_id, str)
        or not custom_id.strip()
        or len(custom_id) > 256
        or "\x00" in custom_id
    ):
        errors.append(
            _error(f"{loc}.custom_id", "a non-empty string of at most 256 characters, without NUL")
        )
    if not any(all(_has(item, key) for key in group) for group in template.required_fields):
        wanted = " or ".join("(" + ", ".join(group) + ")" for group in template.required_fields)
        missing = _missing_fields(template, item)
        errors.append(_error(f"{loc}.{missing}", f"template {template.name!r} needs {wanted}"))
    errors.extend(_check_language(template=template, item=item, loc=loc))
    errors.extend(_check_text_lengths(item=item, loc=loc, max_text_chars=max_text_chars))
    for node in template.stages:
        if node.foreach and not foreach_elements(item.get(node.foreach)):
            errors.append(_error(f"{loc}.{node.foreach}", f"a non-empty list for {node.name!r}"))
    return errors


def _has(item: Mapping[str, Any], key: str) -> bool:
    value = item.get(key)
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _missing_fields(template: PipelineTemplate, item: Mapping[str, Any]) -> str:
    closest = min(template.required_fields, key=lambda g: sum(not _has(item, k) for k in g))
    return next(key for key in closest if not _has(item, key))


def _check_language(
    *, template: PipelineTemplate, item: Mapping[str, Any], loc: str
) -> list[dict[str, Any]]:
    language = item.get("language")
    if not isinstance(language, str) or not language:
        return []  # reported as a missing required field
    primary = language.split("-")[0].lower()
    if primary in template.languages:
        return []
    supported = ", ".join(template.languages)
    return [
        _error(f"{loc}.language", f"unsupported language {language!r} (supported: {supported})")
    ]


def _check_text_lengths(
    *, item: Mapping[str, Any], loc: str, max_text_chars: int
) -> list[dict[str, Any]]:
    return [
        _error(f"{loc}.{key}", f"text longer than {max_text_chars} characters")
        for key, value in item.items()
        if isinstance(value, str) and len(value) > max_text_chars
    ]


def _error(pointer: str, detail: str) -> dict[str, Any]:
    return {"field": pointer, "detail": detail}


def job_state(stage_states: Iterable[str], *, is_canceled: bool = False) -> JobState:
    """Derive a job's state from its stage runs' states (DESIGN.md "States")."""
    states = [StageState(s) for s in stage_states]
    if StageState.FAILED in states:
        return JobState.FAILED
    if is_canceled or StageState.CANCELED in states:
        return JobState.CANCELED
    if states and all(s is StageState.SUCCEEDED for s in states):
        return JobState.SUCCEEDED
    if any(s in (StageState.RUNNING, StageState.SUCCEEDED) for s in states):
        return JobState.RUNNING
    return JobState.QUEUED


def ready_stage_names(
    stage_states: Mapping[str, str], depends_on: Mapping[str, list[str]]
) -> list[str]:
    """Pending stages whose every dependency has succeeded."""
    return [
        name
        for name, state in stage_states.items()
        if state == StageState.PENDING
        and all(stage_states.get(dep) == StageState.SUCCEEDED for dep in depends_on[name])
    ]


def downstream_names(failed: str, depends_on: Mapping[str, list[str]]) -> set[str]:
    """Every stage that transitively depends on `failed`."""
    found: set[str] = set()
    frontier = {failed}
    while frontier:
        frontier = {n for n, deps in depends_on.items() if frontier & set(deps)} - found
        found |= frontier
    return found


__all__ = [
    "StageRunPlan",
    "downstream_names",
    "job_state",
    "plan_stage_runs",
    "ready_stage_names",
    "upstream_names",
    "validate_item",
]
