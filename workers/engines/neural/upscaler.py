"""TiledUpscaler: one loaded super-resolution network behind a dynamic batcher, applied by tiles."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the universal spelling

from workers.engines.neural.batching import BatchStats, DynamicBatcher
from workers.engines.neural.config import NeuralConfig
from workers.engines.neural.device import RuntimeInfo
from workers.engines.neural.plan_cache import ShapeRange
from workers.engines.neural.rrdb import RRDBNet
from workers.engines.neural.runtime import open_runner
from workers.engines.neural.spec import ModelRunner, ModelSpec
from workers.engines.neural.tiling import run_tiled

INPUT_NAME = "image"
OUTPUT_NAME = "upscaled"
_EXAMPLE_SEED = 20240601


def example_image(*, batch: int, size_px: int, seed: int = _EXAMPLE_SEED) -> torch.Tensor:
    """A fixed photo-like batch in [0, 1]: smooth gradients plus grain (for checks and traces)."""
    generator = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0, 1, size_px)
    base = torch.stack(
        [
            ramp[None, :].expand(size_px, -1),
            ramp[:, None].expand(-1, size_px),
            1 - ramp[None, :].expand(size_px, -1),
        ]
    )
    grain = torch.rand((batch, 3, size_px, size_px), generator=generator)
    return (0.7 * base + 0.3 * grain).clamp(0, 1)


def rrdb_spec(
    *, model: RRDBNet, weights_digest: str, max_batch_size: int, window_px: int
) -> ModelSpec:
    """The ModelSpec of an RRDBNet for windows up to `window_px` square, batches up to
    `max_batch_size`."""
    multiple = model.input_multiple
    return ModelSpec(
        name=f"esrgan-x{model.arch.scale}",
        module=model,
        weights_digest=weights_digest,
        example_inputs={INPUT_NAME: example_image(batch=max_batch_size, size_px=window_px)},
        output_names=(OUTPUT_NAME,),
        dynamic_axes={
            INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
            OUTPUT_NAME: {0: "batch", 2: "out_height", 3: "out_width"},
        },
        profile={
            INPUT_NAME: ShapeRange(
                min=(1, 3, multiple, multiple),
                opt=(max_batch_size, 3, window_px, window_px),
                max=(max_batch_size, 3, window_px, window_px),
            )
        },
    )


class TiledUpscaler:
    """Upscales (3, H, W) images in [0, 1] with one network, batching windows across callers.

    Args:
        model: the FP32 network (CPU, eval).
        weights_digest: sha256 of its weights.
        config: device, backend, precision and batching knobs.
        tile_px: tile size in input pixels; a multiple of the model's input multiple.
        pad_px: context around each tile in input pixels; likewise.

    Raises:
        ValueError: tile or pad not aligned to the model's input multiple.
        PermanentEngineError: the configured device or precision cannot exist here.
    """

    def __init__(
        self,
        *,
        model: RRDBNet,
        weights_digest: str,
        config: NeuralConfig,
        tile_px: int,
        pad_px: int,
    ) -> None:
        self.scale = model.arch.scale
        self.multiple = model.input_multiple
        if tile_px % self.multiple or pad_px % self.multiple or tile_px <= 0 or pad_px < 0:
            raise ValueError(
                f"x{self.scale} tiles need tile and pad sizes that are multiples of "
                f"{self.multiple}, got tile {tile_px}, pad {pad_px}"
            )
        self.tile_px, self.pad_px = tile_px, pad_px
        spec = rrdb_spec(
            model=model,
            weights_digest=weights_digest,
            max_batch_size=config.batch_max_size,
            window_px=tile_px + 2 * pad_px,
        )
        self.runner: ModelRunner = open_runner(spec=spec, config=config)
        self.batcher: DynamicBatcher[torch.Tensor, torch.Tensor] = DynamicBatcher(
            run_batch=self._run_batch,
            max_batch_size=config.batch_max_size,
            max_wait_ms=config.batch_max_wait_ms,
            group_key=lambda window: tuple(window.shape),
            name=f"{spec.name}-batcher",
        )

    @property
    def info(self) -> RuntimeInfo:
        return self.runner.info

    def stats(self) -> BatchStats:
        return self.batcher.stats()

    def upscale(self, image: torch.Tensor) -> torch.Tensor:
        """(3, H, W) in [0, 1] -> (3, H*scale, W*scale), clamped to [0, 1]. Thread-safe."""
        _, height, width = image.shape
        padded = _pad_to_multiple(image, self.multiple)
        output = run_tiled(
            padded,
            scale=self.scale,
            tile_px=self.tile_px,
            pad_px=self.pad_px,
            run_windows=self.batcher.run_many,
        )
        return output[:, : height * self.scale, : width * self.scale].clamp_(0, 1)

    def close(self) -> None:
        self.batcher.close()
        self.runner.close()

    def _run_batch(self, windows: list[torch.Tensor]) -> list[torch.Tensor]:
        batch = torch.stack(windows)
        upscaled = self.runner.run({INPUT_NAME: batch})[OUTPUT_NAME].cpu()
        return list(upscaled.unbind(0))


def _pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    # Pixel-unshuffle needs sides divisible by its block; replicate the last row/column
    # (as Real-ESRGAN pads) and crop the extra output away afterwards.
    _, height, width = image.shape
    pad_bottom, pad_right = -height % multiple, -width % multiple
    if not pad_bottom and not pad_right:
        return image
    return F.pad(image[None], (0, pad_right, 0, pad_bottom), mode="replicate")[0]
