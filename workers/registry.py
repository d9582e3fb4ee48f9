"""Stage kinds this worker can run, and one loaded engine per (kind, engine) per process."""

from __future__ import annotations

import threading

from schemas.catalog import STAGE_KINDS
from workers.engines.base import Engine
from workers.stages.anchor import AnimateAnchor
from workers.stages.base import Stage
from workers.stages.compose import Compose
from workers.stages.credentials import AttachCredentials
from workers.stages.fetch import FetchImage
from workers.stages.script import WriteScript
from workers.stages.showcase import ProductShowcase
from workers.stages.subtitles import MakeSubtitles
from workers.stages.tts import TextToSpeech
from workers.stages.upscale import Upscale

STAGES: dict[str, type[Stage]] = {
    stage.kind: stage
    for stage in (
        WriteScript,
        TextToSpeech,
        FetchImage,
        Upscale,
        AnimateAnchor,
        ProductShowcase,
        MakeSubtitles,
        Compose,
        AttachCredentials,
    )
}


class UnknownStageError(LookupError):
    pass


def check_registry() -> None:
    """Fail at worker start when the catalog names a stage or engine this worker lacks."""
    for kind, spec in STAGE_KINDS.items():
        stage = STAGES.get(kind)
        if stage is None:
            raise UnknownStageError(f"no stage implementation for kind {kind!r}")
        missing = set(spec.engines) - set(stage.engines)
        if missing:
            raise UnknownStageError(f"stage {kind!r} lacks engines {sorted(missing)}")


class EnginePool:
    """Engines are loaded on first use and kept for the life of the worker process."""

    def __init__(self) -> None:
        self._engines: dict[tuple[str, str], Engine] = {}
        self._lock = threading.Lock()

    def get(self, *, kind: str, engine: str) -> tuple[Stage, Engine]:
        stage_cls = STAGES.get(kind)
        if stage_cls is None or engine not in stage_cls.engines:
            raise UnknownStageError(f"this worker cannot run stage {kind!r} on engine {engine!r}")
        with self._lock:
            loaded = self._engines.get((kind, engine))
            if loaded is None:
                loaded = stage_cls.engines[engine]()
                loaded.load()
                self._engines[(kind, engine)] = loaded
        return stage_cls(), loaded

    def close(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.close()
            self._engines.clear()
