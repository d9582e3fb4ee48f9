"""fetch stage: bring an input photo into the pipeline, from an uploaded asset or an https URL."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from workers.engines.base import Engine, PermanentEngineError
from workers.engines.https_fetch import HttpsFetchEngine
from workers.media.images import sniff_image
from workers.stages.base import Stage, StageOutput

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class FetchImage(Stage):
    """One photo, checked: real JPEG/PNG/WebP, within the pixel limit.

    Inputs: "source", the uploaded asset when the item named one (wired by the planner).
    Params: "element", the item's value: "asset:<sha256>" or an https URL.
    """

    kind: ClassVar[str] = "fetch"
    engines: ClassVar[Mapping[str, type[Engine]]] = {"https": HttpsFetchEngine}
    outputs: ClassVar[tuple[str, ...]] = ("image",)
    uses_element: ClassVar[bool] = True

    def run(
        self,
        *,
        item: Mapping[str, Any],
        inputs: Mapping[str, Path],
        params: Mapping[str, Any],
        engine: Engine,
        workdir: Path,
    ) -> list[StageOutput]:
        assert isinstance(engine, HttpsFetchEngine)
        element = params.get("element")
        download = workdir / "download"
        if "source" in inputs:
            shutil.copyfile(inputs["source"], download)
        elif isinstance(element, str) and element.startswith("https://"):
            engine.fetch(element, path=download)
        else:
            raise PermanentEngineError(f"not an uploaded asset or an https URL: {element!r}")
        info = sniff_image(download)
        path = workdir / f"image.{_EXTENSIONS[info.media_type]}"
        download.rename(path)
        return [StageOutput("image", path, info.media_type)]
