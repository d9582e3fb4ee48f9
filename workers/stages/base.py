"""Stage interface: one product step (script, tts, ...) as a pure function of local files."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from workers.engines.base import Engine


@dataclass(frozen=True)
class StageOutput:
    """One file a stage produced, under the output port `name` the template wires onward."""

    name: str
    path: Path
    media_type: str
    duration_s: float | None = None


class Stage(ABC):
    """A step of a pipeline. `run()` never touches the database, broker or object store.

    Attributes:
        kind: the stage kind used in templates ("script", "tts").
        engines: engine name -> Engine class this stage can run on; the first is the default.
        outputs: names of the output ports the stage always produces.
        uses_element: whether `run()` reads params["element"], the item's list element a
            fanned-out run works on; other stages get their params without it.
    """

    kind: ClassVar[str]
    engines: ClassVar[Mapping[str, type[Engine]]]
    outputs: ClassVar[tuple[str, ...]]
    uses_element: ClassVar[bool] = False

    @abstractmethod
    def run(
        self,
        *,
        item: Mapping[str, Any],
        inputs: Mapping[str, Path],
        params: Mapping[str, Any],
        engine: Engine,
        workdir: Path,
    ) -> list[StageOutput]:
        """Compute the outputs.

        Args:
            item: the job's input item as submitted (custom_id, language, headline, body, ...).
            inputs: input port name -> local file holding the upstream artifact.
            params: template parameters merged with per-item overrides.
            engine: a loaded engine of one of `engines`.
            workdir: an empty private folder; write outputs here.

        Returns:
            One StageOutput per produced file.

        Raises:
            PermanentEngineError: input the stage can never process.
            EngineError: a failure that a retry might fix.
        """
