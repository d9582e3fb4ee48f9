"""ESRGAN upscaling of stills: an RRDBNet with user-supplied weights, tiled, batched across jobs.

Weights are the user's (BasicSR/Real-ESRGAN layout, .safetensors or .pth), from
MEDIAQ_UPSCALE_WEIGHTS_X4 and/or MEDIAQ_UPSCALE_WEIGHTS_X2; nothing is downloaded. A request for
x2 with only x4 weights runs the x4 network and reduces its output with Lanczos, as
Real-ESRGAN's own `--outscale` does; x4 with only x2 weights is refused. Transparency is not
fed to the network: the alpha channel is resized with Lanczos.

torch is imported in load(), not here: the stage registry imports this module on workers that
have no torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from PIL import Image, ImageOps

from workers.engines.base import Engine, PermanentEngineError
from workers.engines.neural.config import NeuralConfig, neural_config_from_settings
from workers.media.image_header import ImageHeader, inspect_image

if TYPE_CHECKING:
    from workers.engines.neural.batching import BatchStats
    from workers.engines.neural.upscaler import TiledUpscaler

log = logging.getLogger(__name__)

WEIGHTS_SETTINGS = {4: "MEDIAQ_UPSCALE_WEIGHTS_X4", 2: "MEDIAQ_UPSCALE_WEIGHTS_X2"}
MAX_INPUT_PIXELS = 40_000_000
MAX_OUTPUT_PIXELS = 160_000_000
_SAVE_MODES = {"png": ("RGB", "RGBA"), "jpeg": ("RGB", None), "webp": ("RGB", "RGBA")}


@dataclass(frozen=True)
class EsrganConfig:
    """Configuration of the esrgan engine.

    Attributes:
        neural: device, backend, precision, batching and TensorRT cache.
        weights: native scale (4 or 2) -> weights path (relative paths under models_dir).
        tile_px: tile size in input pixels (even; GPU memory grows with its square).
        tile_pad_px: context around each tile in input pixels (even).
        max_input_pixels: stills with more pixels are refused before decoding.
        max_output_pixels: an upscale that would make more pixels is refused.
    """

    neural: NeuralConfig = field(default_factory=NeuralConfig)
    weights: dict[int, Path] = field(default_factory=dict)
    tile_px: int = 192
    tile_pad_px: int = 16
    max_input_pixels: int = MAX_INPUT_PIXELS
    max_output_pixels: int = MAX_OUTPUT_PIXELS


def esrgan_config_from_settings(settings: Any = None) -> EsrganConfig:
    """EsrganConfig from the process Settings; fields Settings lacks keep their defaults."""
    if settings is None:
        from producer.settings import get_settings

        settings = get_settings()
    defaults = EsrganConfig()
    weights = {
        scale: Path(path)
        for scale, path in (
            (4, getattr(settings, "upscale_weights_x4", None)),
            (2, getattr(settings, "upscale_weights_x2", None)),
        )
        if path
    }
    return EsrganConfig(
        neural=neural_config_from_settings(settings),
        weights=weights,
        tile_px=getattr(settings, "upscale_tile_px", defaults.tile_px),
        tile_pad_px=getattr(settings, "upscale_tile_pad_px", defaults.tile_pad_px),
    )


@dataclass(frozen=True)
class _LoadedWeights:
    scale: int
    path: Path
    digest: str
    description: str


class EsrganEngine(Engine):
    """Upscales JPEG/PNG/WebP stills x2/x4 with an RRDBNet on torch (CPU/CUDA) or TensorRT.

    Args:
        config: None reads the process settings at construction.
    """

    name: ClassVar[str] = "esrgan"
    version: ClassVar[str] = "1"
    device: ClassVar[str] = "gpu"

    def __init__(self, *, config: EsrganConfig | None = None) -> None:
        self.config = config or esrgan_config_from_settings()
        self._upscalers: dict[int, TiledUpscaler] = {}
        self._weights: dict[int, _LoadedWeights] = {}

    def load(self) -> None:
        """Read every configured weights file and open it on the best backend.

        Raises:
            PermanentEngineError: no weights configured, a file missing or not an RRDBNet of
                the scale its setting names, or an impossible device/precision setting.
        """
        from workers.engines.neural.rrdb import build_rrdbnet
        from workers.engines.neural.upscaler import TiledUpscaler
        from workers.engines.neural.weights import load_state_dict, require_local_path

        if not self.config.weights:
            require_local_path(config=self.config.neural, path=None, setting=WEIGHTS_SETTINGS[4])
        for scale, configured in sorted(self.config.weights.items()):
            setting = WEIGHTS_SETTINGS.get(scale, f"weights for x{scale}")
            path = require_local_path(config=self.config.neural, path=configured, setting=setting)
            loaded = load_state_dict(path)
            model = build_rrdbnet(loaded.state_dict)
            if model.arch.scale != scale:
                raise PermanentEngineError(
                    f"{path} holds an x{model.arch.scale} RRDBNet but {setting} expects x{scale}"
                )
            self._upscalers[scale] = TiledUpscaler(
                model=model,
                weights_digest=loaded.digest,
                config=self.config.neural,
                tile_px=self.config.tile_px,
                pad_px=self.config.tile_pad_px,
            )
            arch = model.arch
            self._weights[scale] = _LoadedWeights(
                scale=scale,
                path=path,
                digest=loaded.digest,
                description=f"rrdbnet-x{scale}(feat={arch.num_feat},blocks={arch.num_block},"
                f"grow={arch.num_grow_ch})",
            )
            log.info("esrgan x%d loaded from %s: %s", scale, path, self._upscalers[scale].info)

    def close(self) -> None:
        for upscaler in self._upscalers.values():
            upscaler.close()
        self._upscalers.clear()

    @property
    def model_id(self) -> str | None:
        return "+".join(w.description for w in self._weights.values()) or None

    @property
    def model_digest(self) -> str | None:
        if not self._weights:
            return None
        if len(self._weights) == 1:
            return next(iter(self._weights.values())).digest
        joined = ";".join(f"x{s}={w.digest}" for s, w in sorted(self._weights.items()))
        return hashlib.sha256(joined.encode("utf-8")).hexdigest()

    def runtime_info(self) -> dict[str, str]:
        """Which backend, precision and device each loaded network runs on, for provenance."""
        facts: dict[str, str] = {}
        for scale, upscaler in sorted(self._upscalers.items()):
            facts.update({f"x{scale}.{k}": v for k, v in upscaler.info.as_dict().items()})
        return facts

    def library_versions(self) -> dict[str, str]:
        versions = {"torch": metadata.version("torch")}
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions["tensorrt"] = metadata.version("tensorrt")
        return versions

    def batch_stats(self) -> dict[int, BatchStats]:
        """Per native scale, how the dynamic batcher has grouped windows so far."""
        return {scale: upscaler.stats() for scale, upscaler in self._upscalers.items()}

    def inspect_image(self, path: Path) -> ImageHeader:
        """Check a still before upscaling it (see workers.media.image_header.inspect_image)."""
        return inspect_image(path=path, max_pixels=self.config.max_input_pixels)

    def upscale_image(
        self,
        *,
        source: Path,
        header: ImageHeader,
        output_path: Path,
        scale: int,
        output_format: str,
        quality: int,
    ) -> tuple[int, int]:
        """Upscale a checked still; metadata (EXIF, ICC) is not carried over.

        Args:
            source: the image `header` describes.
            header: from inspect_image().
            output_path: where to write the result.
            scale: 2 or 4.
            output_format: "jpeg", "png" or "webp".
            quality: 1-100 for jpeg and webp (ignored for png).

        Returns:
            (width, height) of the output in pixels.

        Raises:
            PermanentEngineError: too large, no weights for the scale, or JPEG asked for an
                image with transparency.
        """
        width, height = header.width * scale, header.height * scale
        if width * height > self.config.max_output_pixels:
            raise PermanentEngineError(
                f"x{scale} of {header.width}x{header.height} would be {width}x{height}, over the "
                f"{self.config.max_output_pixels:,}-pixel output limit: use a smaller scale"
            )
        opaque_mode, alpha_mode = _SAVE_MODES[output_format]
        if header.has_alpha and alpha_mode is None:
            raise PermanentEngineError(
                "the image has transparency, which JPEG cannot hold: ask for format png or webp"
            )
        with Image.open(source) as opened:
            image = ImageOps.exif_transpose(opened)
            rgb = np.array(image.convert("RGB"))
            alpha = image.convert("RGBA").getchannel("A") if header.has_alpha else None
        upscaled = Image.fromarray(self.upscale_array(rgb, scale=scale))
        if alpha is not None:
            upscaled.putalpha(alpha.resize(upscaled.size, Image.Resampling.LANCZOS))
        _save(upscaled, output_path, output_format=output_format, quality=quality)
        return upscaled.size

    def upscale_array(self, rgb: np.ndarray, *, scale: int) -> np.ndarray:
        """(H, W, 3) uint8 -> (H*scale, W*scale, 3) uint8. Thread-safe; batched with others.

        Raises:
            PermanentEngineError: no loaded weights can make this scale.
        """
        import torch

        native = self._native_scale_for(scale)
        image = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1).float() / 255
        output = self._upscalers[native].upscale(image)
        array = (output * 255).round_().to(torch.uint8).permute(1, 2, 0).numpy()
        if native == scale:
            return array
        height, width = rgb.shape[:2]
        reduced = Image.fromarray(array).resize(
            (width * scale, height * scale), Image.Resampling.LANCZOS
        )
        return np.asarray(reduced)

    def _native_scale_for(self, scale: int) -> int:
        if not self._upscalers:
            raise PermanentEngineError("the esrgan engine is not loaded")
        if scale in self._upscalers:
            return scale
        larger = [native for native in self._upscalers if native > scale]
        if not larger:
            have = ", ".join(f"x{native}" for native in sorted(self._upscalers))
            raise PermanentEngineError(
                f"esrgan has weights for {have} only and cannot upscale x{scale}: "
                f"set {WEIGHTS_SETTINGS.get(scale, 'weights')} or ask for a smaller scale"
            )
        return min(larger)


def _save(image: Image.Image, path: Path, *, output_format: str, quality: int) -> None:
    if output_format == "jpeg":
        # 4:4:4 like the lanczos engine's JPEGs: chroma subsampling would undo the detail.
        image.save(path, format="JPEG", quality=quality, subsampling=0)
    elif output_format == "webp":
        image.save(path, format="WEBP", quality=quality, lossless=False)
    else:
        image.save(path, format="PNG")
