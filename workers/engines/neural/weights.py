"""Local weights: find them under the configured path, digest them, load them; never download.

Weights are user-supplied files on the worker's disk. A missing file is a permanent error that
names the path and the setting, so an operator can fix it without reading code. Model folders
for transformers are opened with local_files_only=True, so no hub request is ever made.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from producer.objectstore.base import hash_file
from workers.engines.base import PermanentEngineError
from workers.engines.neural.config import NeuralConfig

if TYPE_CHECKING:
    import torch

SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
# Checkpoint wrappers used by BasicSR/Real-ESRGAN ("params_ema" is the EMA of the weights,
# the one their inference uses) and by generic training loops.
_WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")


@dataclass(frozen=True)
class LoadedWeights:
    """A state dict read from disk, with where it came from.

    Attributes:
        path: the file read.
        digest: sha256 of the file's bytes (the model digest in cache keys and provenance).
        state_dict: parameter name -> CPU tensor.
    """

    path: Path
    digest: str
    state_dict: dict[str, torch.Tensor]


def pretrained_kwargs() -> dict[str, Any]:
    """Keyword arguments for transformers' from_pretrained(): local files only, no hub."""
    return {"local_files_only": True}


def require_local_path(*, config: NeuralConfig, path: Path | str | None, setting: str) -> Path:
    """Resolve a configured weights path and check it exists.

    Args:
        config: gives models_dir for relative paths.
        path: the configured path, or None when nothing was configured.
        setting: the environment variable that configures it, named in errors.

    Raises:
        PermanentEngineError: nothing configured, or nothing at the path.
    """
    if path is None or str(path) == "":
        raise PermanentEngineError(
            f"no weights configured: set {setting} to a local file or folder "
            "(mediaq never downloads weights)"
        )
    resolved = config.resolve_path(Path(path))
    if not resolved.exists():
        raise PermanentEngineError(
            f"weights not found at {resolved} (from {setting}): "
            "put the file there or point the setting at it"
        )
    return resolved


def digest_path(path: Path) -> str:
    """sha256 of a file, or of a folder: every file's relative path and digest, sorted."""
    if path.is_file():
        return hash_file(path)[0]
    lines = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        lines.append(f"{file.relative_to(path).as_posix()}\0{hash_file(file)[0]}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def load_state_dict(path: Path) -> LoadedWeights:
    """Read a safetensors file or a torch checkpoint into CPU tensors.

    Torch checkpoints are read with weights_only=True (no pickled code runs), and a BasicSR
    wrapper ({"params_ema": ...} or {"params": ...}) is unwrapped.

    Raises:
        PermanentEngineError: missing file, unknown suffix, or unreadable content.
    """
    if not path.is_file():
        raise PermanentEngineError(f"weights file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in SAFETENSORS_SUFFIXES:
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        elif suffix in TORCH_SUFFIXES:
            import torch

            state = _unwrap(torch.load(path, map_location="cpu", weights_only=True))
        else:
            raise PermanentEngineError(
                f"unknown weights format {path.name!r}: use .safetensors or a torch "
                f"checkpoint ({', '.join(TORCH_SUFFIXES)})"
            )
    except PermanentEngineError:
        raise
    except Exception as error:
        raise PermanentEngineError(f"cannot read weights {path}: {error}") from error
    return LoadedWeights(path=path, digest=hash_file(path)[0], state_dict=state)


def _unwrap(checkpoint: Any) -> dict[str, torch.Tensor]:
    if not isinstance(checkpoint, Mapping):
        raise PermanentEngineError("the checkpoint is not a state dict (a mapping of tensors)")
    for key in _WRAPPER_KEYS:
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping):
            return dict(inner)
    return dict(checkpoint)


class LocalWeights:
    """model_id and model_digest of an engine whose weights sit at one local path.

    Mixed in before Engine; the engine's load() sets `_path` and `_digest`.
    """

    _path: Path | None = None
    _digest: str | None = None

    @property
    def model_id(self) -> str | None:
        return self._path.name if self._path else None

    @property
    def model_digest(self) -> str | None:
        return self._digest


def library_versions(*required: str) -> dict[str, str]:
    """Installed versions of `required`, plus tensorrt when it is installed."""
    versions = {lib: metadata.version(lib) for lib in required}
    with contextlib.suppress(metadata.PackageNotFoundError):
        versions["tensorrt"] = metadata.version("tensorrt")
    return versions
