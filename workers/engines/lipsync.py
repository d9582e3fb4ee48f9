"""Wav2Lip-style anchor engine: the 2D anchor's frames with mouths generated from the audio.

The network is the user's (MEDIAQ_LIPSYNC_WEIGHTS: a Wav2Lip state dict or a torch.export
program, see workers.engines.wav2lip_net) and must implement the tensor contract of
workers.anchor.lipsync_contract, which load() checks on a fixed input. Everything around it is
mediaq's: mel windows, face crops, pasting (workers.anchor.lipsync_render).

The network runs through the shared runner (TensorRT on a GPU worker when its plan passes the
accuracy check, else torch) behind a dynamic batcher: the frames of every anchor stage running
in this process, from any job, are stacked into batches of up to `batch_max_size`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from workers.anchor.lipsync_contract import ContractError, check_frames, face_shape, mel_shape
from workers.anchor.lipsync_render import render_lipsync
from workers.anchor.render import AnchorRequest
from workers.engines.base import Engine, EngineError, PermanentEngineError
from workers.engines.neural.config import NeuralConfig, neural_config_from_settings
from workers.engines.neural.device import RuntimeInfo
from workers.engines.neural.weights import (
    LocalWeights,
    digest_path,
    library_versions,
    require_local_path,
)
from workers.media.ffmpeg import ffmpeg_version

SETTING = "MEDIAQ_LIPSYNC_WEIGHTS"
MAX_BATCH = 64  # largest batch a TensorRT plan accepts
OPT_BATCH = 8
_Request = tuple[np.ndarray, np.ndarray]  # one frame: (mel (1, 80, 16), face (6, 96, 96))


class LipSyncEngine(LocalWeights, Engine):
    """Renders lip-synced anchor videos with a user-supplied network; one per worker process.

    Args:
        config: device, backend, precision and batching; None reads the process Settings.
        weights_path: the network file; None reads Settings.lipsync_weights.
    """

    name: ClassVar[str] = "wav2lip"
    # Bump when the same network and request would render different pixels (cache key).
    version: ClassVar[str] = "1.0.0"
    device: ClassVar[str] = "gpu"  # runs on the CPU too, slowly

    def __init__(
        self, config: NeuralConfig | None = None, *, weights_path: Path | str | None = None
    ) -> None:
        self._config = config
        self._weights_path = weights_path
        self._path: Path | None = None
        self._digest: str | None = None
        self._runner: Any = None
        self._batcher: Any = None

    @property
    def runtime(self) -> RuntimeInfo:
        """Backend, precision and device that run the network (after load())."""
        if self._runner is None:
            raise EngineError("the wav2lip engine is not loaded")
        info: RuntimeInfo = self._runner.info
        return info

    def load(self) -> None:
        """Load the network, check it against the contract, open its runner and batcher.

        Raises:
            PermanentEngineError: no weights configured or found, an unreadable network, or
                one whose output breaks the contract.
        """
        from workers.engines.neural.batching import DynamicBatcher
        from workers.engines.wav2lip_net import ExportedNetwork, load_network

        config = self._config or neural_config_from_settings()
        path = require_local_path(config=config, path=self._configured_path(), setting=SETTING)
        digest = digest_path(path)
        network = load_network(path)
        spec = _model_spec(network, digest)
        _check_contract(network, spec.example_inputs, path)
        self._runner = _open(spec, config, is_exported=isinstance(network, ExportedNetwork))
        self._batcher = DynamicBatcher(
            run_batch=self._run_batch,
            max_batch_size=min(config.batch_max_size, MAX_BATCH),
            max_wait_ms=config.batch_max_wait_ms,
            name="wav2lip-batcher",
        )
        self._path, self._digest = path, digest

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
        if self._runner is not None:
            self._runner.close()
        self._batcher = self._runner = None

    def runtime_info(self) -> dict[str, str]:
        """Backend, precision and device of the network, for provenance (empty before load())."""
        return self.runtime.as_dict() if self._runner is not None else {}

    def library_versions(self) -> dict[str, str]:
        versions = library_versions("torch", "numpy", "opencv-python-headless")
        versions["ffmpeg"] = ffmpeg_version()
        return versions

    def _configured_path(self) -> Path | str | None:
        if self._weights_path is not None:
            return self._weights_path
        from producer.settings import get_settings

        return getattr(get_settings(), "lipsync_weights", None)

    def render(self, request: AnchorRequest, *, audio_path: Path, out_path: Path) -> int:
        """Render `request` with generated mouths to an MP4 (H.264, no audio).

        Returns:
            The number of frames: round(audio duration x fps).

        Raises:
            PermanentEngineError: a bad portrait or face box, or network output that breaks
                the contract.
            EngineError: ffmpeg failed.
        """
        if self._batcher is None:
            raise EngineError("the wav2lip engine is not loaded")
        try:
            return render_lipsync(
                request, audio_path=audio_path, out_path=out_path, infer=self.infer
            )
        except ContractError as error:
            raise PermanentEngineError(f"network {self.model_id!r}: {error}") from error

    def infer(self, mels: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """Run the network on a batch through the shared batcher (see the contract for shapes)."""
        requests = [(mels[i], faces[i]) for i in range(len(mels))]
        return np.stack(self._batcher.run_many(requests))

    def _run_batch(self, requests: list[_Request]) -> list[np.ndarray]:
        import torch

        mels = torch.from_numpy(np.stack([mel for mel, _ in requests]))
        faces = torch.from_numpy(np.stack([face for _, face in requests]))
        frames = self._runner.run({"mels": mels, "faces": faces})["frames"]
        return list(frames.float().cpu().numpy())


def _open(spec: Any, config: NeuralConfig, *, is_exported: bool) -> Any:
    """The network's runner.

    torch.export programs run in torch at FP32: the ONNX exporter TensorRT needs here traces
    modules, which an exported graph does not survive, and a reduced-precision copy of one
    is not reliable.
    """
    from workers.engines.neural.runtime import open_runner

    if not is_exported:
        return open_runner(spec=spec, config=config)
    runner = open_runner(spec=spec, config=replace(config, backend="torch", precision="fp32"))
    if config.backend == "tensorrt" or config.precision == "fp16":
        reason = "a torch.export (.pt2) network runs in torch FP32; use a Wav2Lip state dict"
        runner.info = replace(runner.info, fallback_reason=reason)
    return runner


def _model_spec(network: Any, digest: str) -> Any:
    """What the runner needs: seeded example inputs at the typical batch, a dynamic batch axis."""
    import torch

    from workers.engines.neural.plan_cache import ShapeRange
    from workers.engines.neural.spec import ModelSpec

    generator = torch.Generator().manual_seed(0)
    mels = torch.rand(mel_shape(OPT_BATCH), generator=generator) * 8 - 4
    faces = torch.rand(face_shape(OPT_BATCH), generator=generator)
    faces[:, :3, faces.shape[2] // 2 :] = 0
    batch = {0: "batch"}
    return ModelSpec(
        name="wav2lip",
        module=network,
        weights_digest=digest,
        example_inputs={"mels": mels, "faces": faces},
        output_names=("frames",),
        dynamic_axes={"mels": batch, "faces": batch, "frames": batch},
        profile={
            "mels": ShapeRange(mel_shape(1), mel_shape(OPT_BATCH), mel_shape(MAX_BATCH)),
            "faces": ShapeRange(face_shape(1), face_shape(OPT_BATCH), face_shape(MAX_BATCH)),
        },
    )


def _check_contract(network: Any, example: dict[str, Any], path: Path) -> None:
    """Run the network once on two example frames and check its output's shape and range."""
    import torch

    try:
        with torch.inference_mode():
            frames = network(example["mels"][:2], example["faces"][:2])
    except Exception as error:
        raise PermanentEngineError(
            f"the lip-sync network {path.name} failed on contract inputs "
            f"(mels 2x1x80x16, faces 2x6x96x96): {error}"
        ) from error
    if not isinstance(frames, torch.Tensor):
        raise PermanentEngineError(f"the lip-sync network {path.name} must return one tensor")
    try:
        check_frames(frames.float().numpy(), batch=2)
    except ContractError as error:
        raise PermanentEngineError(f"{path.name}: {error}") from error
