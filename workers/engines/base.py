"""Engine interface: the thing that actually computes (espeak-ng, ffmpeg, torch, TensorRT)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar


class EngineError(Exception):
    """An engine failed. `is_permanent` says whether a retry could help."""

    is_permanent: bool = False


class PermanentEngineError(EngineError):
    """Bad input or an unsupported request (e.g. no voice for a language): retrying cannot help."""

    is_permanent = True


class Engine(ABC):
    """A loaded computing backend. One instance per worker process, reused across stages.

    Subclasses set `name` and `version`; `version` goes into the cache key, so bump it
    whenever the engine's output for the same input would change.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    device: ClassVar[str] = "cpu"

    @property
    def model_id(self) -> str | None:
        """Identifier of the model the engine runs, or None for engines without weights."""
        return None

    @property
    def model_digest(self) -> str | None:
        """sha256 of the weights, or None for engines without weights."""
        return None

    @abstractmethod
    def load(self) -> None:
        """Acquire heavy resources (libraries, models). Called once per worker process."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what load() acquired."""

    def library_versions(self) -> dict[str, str]:
        """Versions of the native libraries the engine uses, for provenance."""
        return {}

    def runtime_info(self) -> dict[str, str]:
        """What actually ran, for provenance: backend (torch-cpu, torch-cuda, tensorrt),
        precision, device, and why a faster backend was refused. Empty for CPU tools."""
        return {}
