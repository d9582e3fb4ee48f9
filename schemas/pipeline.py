"""Pipeline templates as data: a small DAG of stages with fan-out over item lists and fan-in.

A node's `inputs` map an input port to "<node>.<output port>". A node with `foreach: "<field>"`
runs once per element of the item's list field (fan-out); a downstream node wired to it receives
the list of all element outputs in order (fan-in).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.catalog import STAGE_KINDS

NODE_NAME = r"^[a-z][a-z0-9_]{0,31}$"
_REF = re.compile(r"^([a-z][a-z0-9_]{0,31})\.([a-z][a-z0-9_]{0,31})$")


class TemplateError(ValueError):
    """A template that cannot run: a cycle, an unknown kind, engine, node or port."""


class StageNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NODE_NAME, description="Unique node name within the template.")
    kind: str = Field(description="Stage kind, e.g. 'script' or 'tts'.")
    engine: str | None = Field(default=None, description="Engine; the kind's default if unset.")
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(
        default_factory=dict, description="Input port -> '<node>.<output port>'."
    )
    foreach: str | None = Field(
        default=None, description="Item list field to fan out over; one run per element."
    )
    queue: Literal["cpu", "gpu"] = "cpu"
    max_attempts: int = Field(default=3, ge=1, le=20)

    @model_validator(mode="after")
    def _check_kind_engine_ports(self) -> StageNode:
        spec = STAGE_KINDS.get(self.kind)
        if spec is None:
            known = ", ".join(sorted(STAGE_KINDS))
            raise TemplateError(f"stage {self.name!r}: unknown kind {self.kind!r} (known: {known})")
        if self.engine is None:
            self.engine = spec.engines[0]
        elif self.engine not in spec.engines:
            raise TemplateError(
                f"stage {self.name!r}: kind {self.kind!r} has no engine {self.engine!r} "
                f"(engines: {', '.join(spec.engines)})"
            )
        for port, ref in self.inputs.items():
            if port not in spec.input_ports:
                raise TemplateError(
                    f"stage {self.name!r}: kind {self.kind!r} has no input port {port!r}"
                )
            if not _REF.match(ref):
                raise TemplateError(
                    f"stage {self.name!r}: input {port!r} must look like '<node>.<port>', "
                    f"got {ref!r}"
                )
        return self


class PipelineTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    description: str
    version: int = 1
    languages: list[str] = Field(description="Primary language subtags items may use.")
    required_fields: list[list[str]] = Field(
        description="Each item must carry every field of at least one of these lists."
    )
    stages: list[StageNode] = Field(min_length=1)

    @field_validator("stages")
    @classmethod
    def _unique_names(cls, stages: list[StageNode]) -> list[StageNode]:
        seen: set[str] = set()
        for node in stages:
            if node.name in seen:
                raise TemplateError(f"duplicate stage name {node.name!r}")
            seen.add(node.name)
        return stages

    @model_validator(mode="after")
    def _check_graph(self) -> PipelineTemplate:
        nodes = {node.name: node for node in self.stages}
        for node in self.stages:
            for port, ref in node.inputs.items():
                upstream, out_port = ref.split(".")
                if upstream not in nodes:
                    raise TemplateError(
                        f"stage {node.name!r}: input {port!r} refers to unknown stage {upstream!r}"
                    )
                if out_port not in STAGE_KINDS[nodes[upstream].kind].output_ports:
                    raise TemplateError(
                        f"stage {node.name!r}: stage {upstream!r} has no output {out_port!r}"
                    )
        topological_order(self)
        return self

    def node(self, name: str) -> StageNode:
        for node in self.stages:
            if node.name == name:
                return node
        raise KeyError(name)


def upstream_names(node: StageNode) -> list[str]:
    """Names of the nodes this node reads from, in port order, without repeats."""
    return list(dict.fromkeys(ref.split(".")[0] for ref in node.inputs.values()))


def topological_order(template: PipelineTemplate) -> list[str]:
    """Node names in an order where every node follows its inputs.

    Raises:
        TemplateError: when the graph has a cycle, naming the nodes on it.
    """
    pending = {node.name: set(upstream_names(node)) for node in template.stages}
    order: list[str] = []
    while pending:
        ready = sorted(name for name, deps in pending.items() if not deps)
        if not ready:
            raise TemplateError(f"stages form a cycle: {', '.join(sorted(pending))}")
        for name in ready:
            order.append(name)
            del pending[name]
        for deps in pending.values():
            deps.difference_update(ready)
    return order
