"""upscale stage: stills x2/x4 (JPEG/PNG/WebP) and videos to a target height (720p -> 1080p)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from workers.engines.base import Engine, PermanentEngineError
from workers.engines.esrgan import EsrganEngine
from workers.engines.lanczos import DEFAULT_SHARPEN, MAX_SHARPEN, LanczosEngine
from workers.media.image_header import ImageHeader
from workers.media.probe import VideoStream, probe_media
from workers.stages.base import Stage, StageOutput

SCALES = (2, 4)
DEFAULT_SCALE = 4
DEFAULT_QUALITY = 92
DEFAULT_SHORT_SIDE = 1080
MAX_TARGET_HEIGHT = 3840
_FORMATS = {  # format param -> (file extension, media type)
    "jpeg": ("jpg", "image/jpeg"),
    "png": ("png", "image/png"),
    "webp": ("webp", "image/webp"),
}
# HEIF and AVIF stills share the MP4 container ("ftyp" box); their brands say so.
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}


class Upscale(Stage):
    """Make a still or a video bigger: lanczos resampling plus a mild unsharp mask, or (stills
    only, engine "esrgan") an ESRGAN network with user-supplied weights.

    Inputs: "media", a JPEG, PNG or WebP still, or an MP4 video; the file's bytes decide
    which, never its name.
    Params for stills: "scale" (2 or 4, default 4), "format" ("jpeg", "png" or "webp",
    default the input's), "quality" (1-100, jpeg and webp only, default 92), "sharpen"
    (unsharp amount 0-1.5, default 0.4).
    Params for videos: "target_height" (default: the height that makes the short side 1080,
    so 1280x720 -> 1920x1080 and 720x1280 -> 1080x1920) or "scale" (2 or 4), "sharpen"
    as for stills. A video already at the target is passed through unchanged; the output
    frame may hold at most 3840x2160 pixels.
    """

    kind: ClassVar[str] = "upscale"
    engines: ClassVar[Mapping[str, type[Engine]]] = {
        "lanczos": LanczosEngine,
        "esrgan": EsrganEngine,
    }
    outputs: ClassVar[tuple[str, ...]] = ("media",)

    def run(
        self,
        *,
        item: Mapping[str, Any],
        inputs: Mapping[str, Path],
        params: Mapping[str, Any],
        engine: Engine,
        workdir: Path,
    ) -> list[StageOutput]:
        """Upscale the "media" input.

        Returns:
            "media": the upscaled still (image/jpeg, image/png or image/webp) or video
            (video/mp4: H.264 High yuv420p, the input's audio copied).

        Raises:
            PermanentEngineError: not a JPEG/PNG/WebP/MP4, a decompression bomb, an output
                over the size limits, corrupt data, or a bad parameter.
            EngineError: ffmpeg failed.
        """
        source = inputs["media"]
        if isinstance(engine, EsrganEngine):
            if _is_mp4(source):
                raise PermanentEngineError(
                    "engine esrgan upscales stills only: use engine lanczos for videos"
                )
            header = engine.inspect_image(source)
            return [_upscale_image_neural(engine, source, header, params, workdir)]
        if not isinstance(engine, LanczosEngine):
            raise PermanentEngineError(f"upscale cannot run on engine {engine.name!r}")
        if _is_mp4(source):
            return [_upscale_video(engine, source, params, workdir)]
        header = engine.inspect_image(source)
        return [_upscale_image(engine, source, header, params, workdir)]


def _upscale_image(
    engine: LanczosEngine,
    source: Path,
    header: ImageHeader,
    params: Mapping[str, Any],
    workdir: Path,
) -> StageOutput:
    scale = _scale_param(params, default=DEFAULT_SCALE)
    output_format = _format_param(params, default=header.format)
    extension, media_type = _FORMATS[output_format]
    output_path = workdir / f"upscaled.{extension}"
    engine.upscale_image(
        source=source,
        header=header,
        output_path=output_path,
        scale=scale,
        output_format=output_format,
        quality=_quality_param(params, output_format),
        sharpen=_sharpen_param(params),
    )
    return StageOutput("media", output_path, media_type)


def _upscale_image_neural(
    engine: EsrganEngine,
    source: Path,
    header: ImageHeader,
    params: Mapping[str, Any],
    workdir: Path,
) -> StageOutput:
    if params.get("sharpen") is not None:
        raise PermanentEngineError("params.sharpen applies to engine lanczos, not esrgan")
    output_format = _format_param(params, default=header.format)
    extension, media_type = _FORMATS[output_format]
    output_path = workdir / f"upscaled.{extension}"
    engine.upscale_image(
        source=source,
        header=header,
        output_path=output_path,
        scale=_scale_param(params, default=DEFAULT_SCALE),
        output_format=output_format,
        quality=_quality_param(params, output_format),
    )
    return StageOutput("media", output_path, media_type)


def _upscale_video(
    engine: LanczosEngine, source: Path, params: Mapping[str, Any], workdir: Path
) -> StageOutput:
    for still_only in ("format", "quality"):
        if params.get(still_only) is not None:
            raise PermanentEngineError(
                f"params.{still_only} applies to stills; a video always becomes an H.264 MP4"
            )
    video = probe_media(source).video
    if video is None:
        raise PermanentEngineError("the MP4 has no video stream to upscale")
    output_path = workdir / "upscaled.mp4"
    duration_s = engine.upscale_video(
        source=source,
        output_path=output_path,
        target_height=_target_height(params, video),
        sharpen=_sharpen_param(params),
    )
    return StageOutput("media", output_path, "video/mp4", duration_s=duration_s)


def _is_mp4(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(12)
    if head[4:8] != b"ftyp":
        return False
    if head[8:12] in _IMAGE_BRANDS:
        raise PermanentEngineError("HEIF/AVIF stills are not supported: send JPEG, PNG or WebP")
    return True


def _target_height(params: Mapping[str, Any], video: VideoStream) -> int:
    height = params.get("target_height")
    if height is not None and params.get("scale") is not None:
        raise PermanentEngineError("give a video params.target_height or params.scale, not both")
    if params.get("scale") is not None:
        return video.height * _scale_param(params, default=DEFAULT_SCALE)
    if height is None:
        # "1080p" is the short side: 1280x720 -> 1920x1080, 720x1280 -> 1080x1920.
        short_side = min(video.width, video.height)
        return 2 * round(video.height * DEFAULT_SHORT_SIDE / short_side / 2)
    if not _is_int(height) or not 2 <= height <= MAX_TARGET_HEIGHT or height % 2:
        raise PermanentEngineError(
            f"params.target_height must be an even number of pixels up to {MAX_TARGET_HEIGHT}, "
            f"got {height!r}"
        )
    return int(height)


def _scale_param(params: Mapping[str, Any], *, default: int) -> int:
    scale = params.get("scale", default)
    if not _is_int(scale) or scale not in SCALES:
        raise PermanentEngineError(f"params.scale must be 2 or 4, got {scale!r}")
    return int(scale)


def _format_param(params: Mapping[str, Any], *, default: str) -> str:
    output_format = params.get("format", default)
    if output_format not in _FORMATS:
        raise PermanentEngineError(
            f"params.format must be one of {', '.join(_FORMATS)}, got {output_format!r}"
        )
    return str(output_format)


def _quality_param(params: Mapping[str, Any], output_format: str) -> int:
    quality = params.get("quality")
    if quality is None:
        return DEFAULT_QUALITY
    if output_format == "png":
        raise PermanentEngineError("params.quality applies to jpeg and webp; png is lossless")
    if not _is_int(quality) or not 1 <= quality <= 100:
        raise PermanentEngineError(f"params.quality must be an integer 1-100, got {quality!r}")
    return int(quality)


def _sharpen_param(params: Mapping[str, Any]) -> float:
    amount = params.get("sharpen")
    if amount is None:
        return DEFAULT_SHARPEN
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise PermanentEngineError(f"params.sharpen must be a number, got {amount!r}")
    if not 0 <= amount <= MAX_SHARPEN:
        raise PermanentEngineError(f"params.sharpen must be between 0 and {MAX_SHARPEN}")
    return float(amount)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
