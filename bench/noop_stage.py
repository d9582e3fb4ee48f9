"""A trivial stage and engine for measuring queue overhead: each run writes a few bytes.

Bench only (STYLE.md: no stub engine a user could select). Registered into the worker's stage
registry by `bench.noop_worker`, never by mediaq itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from bench.noop_template import NOOP_ENGINE, NOOP_KIND, register_template
from workers.engines.base import Engine
from workers.stages.base import Stage, StageOutput


class NoopEngine(Engine):
    """Computes nothing; it exists so the runner has an engine to load and record."""

    name: ClassVar[str] = NOOP_ENGINE
    version: ClassVar[str] = "1"

    def load(self) -> None:
        return None


class NoopStage(Stage):
    """Writes `<custom_id> <stage>` to a file: the smallest real output the runner can store."""

    kind: ClassVar[str] = NOOP_KIND
    engines: ClassVar[Mapping[str, type[Engine]]] = {NOOP_ENGINE: NoopEngine}
    outputs: ClassVar[tuple[str, ...]] = ("out",)

    def run(
        self,
        *,
        item: Mapping[str, Any],
        inputs: Mapping[str, Path],
        params: Mapping[str, Any],
        engine: Engine,
        workdir: Path,
    ) -> list[StageOutput]:
        previous = inputs.get("previous")
        upstream = previous.read_bytes() if isinstance(previous, Path) else b""
        path = workdir / "out.txt"
        path.write_bytes(upstream + f"{item['custom_id']} {len(upstream)}\n".encode())
        return [StageOutput(name="out", path=path, media_type="text/plain")]


def register_stage() -> None:
    """Register the noop kind in the catalog, templates and the worker's stage registry.

    Must run before `workers.app` is imported: that module checks the registry at import.
    """
    from workers.registry import STAGES

    register_template()
    STAGES[NOOP_KIND] = NoopStage
